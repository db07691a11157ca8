// Package pacebench measures how covsync paces itself to a site: full resyncs against the Jira simulator at
// several latencies, and several replicas sharing one site (docs/benchmarks.md, "Pace to the site"). It
// holds only tests and benchmarks.
package pacebench
