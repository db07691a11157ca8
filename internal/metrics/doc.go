// Package metrics holds covsync's Prometheus metrics (client_golang) in a registry of its own, with methods
// named for what the engine observes, so the engine's Observer can forward to them without knowing
// Prometheus.
package metrics
