// Package ledger is covsync's memory of what it pushed: per (target, item) the hash of the payload a target
// last acknowledged, when, how many attempts have failed since and why; and one row of history per cycle.
//
// The engine reads a target's hashes once per cycle (one query) to diff the plan, and writes one row per item
// outcome as it completes, so a cycle that dies half-way leaves the ledger true for every item it recorded.
// A hash is written only on success: a failure or a skip never makes an item look pushed.
//
// The tables live in covsync's own schema (connectors/postgres/migrations/covsync).
package ledger
