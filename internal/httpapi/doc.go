// Package httpapi is the daemon's HTTP endpoint: /healthz, /readyz, /metrics and POST /v1/resync
// (docs/architecture.md, Contracts). It holds no state of its own: the daemon hands it functions to call.
package httpapi
