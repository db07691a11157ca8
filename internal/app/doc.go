// Package app is covsync's application: what `covsync resync`, `serve`, `demo` and `bench` run. It opens
// the database pool (one configuration, one set of timeouts, for every command and the daemon), wires the
// configured targets and the one HTTP client of each site, runs the cycles of a project through the
// engine, and runs them as River jobs.
//
// Its errors carry a push.Kind: KindConfig when the config must change, KindUnreachable when the database
// or a target did not answer, KindPermanent when some items failed. Only cmd/covsync turns kinds into exit
// codes, and a River job's outcome follows the kind (a configuration error cancels the job, anything else
// is retried). See docs/architecture.md, Packages.
package app
