// Package engine runs one sync cycle for a (project, target): plan → diff against the ledger → push what
// changed through a bounded worker pool → record each outcome. It owns the Target interface and knows no
// connector, no HTTP and no YAML.
package engine
