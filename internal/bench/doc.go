// Package bench is `covsync bench`: a throwaway PostgreSQL holding a generated workload, the three
// simulators with latency and a rate limit, and full, unchanged and one-story resyncs measured through
// internal/app, beside a naive baseline. Its reliability tests inject faults into the same environment.
// The figures are in docs/benchmarks.md.
package bench
