// Package engine runs one sync cycle for a (project, target): plan → diff against the ledger → push what
// changed through a bounded worker pool → record each outcome. It owns the Target interface and knows no
// connector, no HTTP and no YAML.
//
// The rules a cycle keeps:
//   - An item is pushed when the ledger has no acknowledged hash for it, when its hash differs, when its last
//     attempt failed (a failed write may have half-happened), or when Options.Force says so. Otherwise it is
//     unchanged and costs no request.
//   - Nothing is recorded as pushed unless Target.Push returned nil. A skipped item keeps its old hash.
//   - Each outcome is recorded as soon as it is known, on a context detached from the cycle's: a cycle that is
//     cancelled or dies half-way leaves the ledger true for every item it recorded, and the next cycle pushes
//     exactly the rest.
//   - A permanent or retryable error fails its item (recorded, retried next cycle) and the cycle goes on. A
//     fatal error, or a ledger that cannot be written, stops dispatching: in-flight pushes finish, untouched
//     items stay untouched, and the cycle row carries the error.
//   - Items the plan no longer has are counted as stale and left alone, at the target and in the ledger.
//   - A dry run plans and diffs and writes nothing anywhere, not even the cycle row.
package engine
