// Package schedule turns covsync's cron specs into River periodic jobs and runs every (project, target kind)
// cycle as a River job (github.com/riverqueue/river) in covsync's own schema.
//
// A cycle job is unique by (project, kind) while it is pending, scheduled, available or running, so any
// replica may run a cycle but two never run the same one at once, and a resync (`covsync resync`,
// `POST /v1/resync`) goes through the same unique job. Only River's elected leader enqueues periodic jobs.
//
// The package knows no connector: the job worker calls a Runner that cmd/covsync wires to the engine.
package schedule
