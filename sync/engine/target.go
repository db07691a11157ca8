package engine

import (
	"context"

	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/sync/report"
)

// Target is an outside system as the engine sees it. Connectors implement it; the engine never knows which.
type Target interface {
	// Name identifies the target instance and is the ledger's namespace: "jira:acme/SHOP",
	// "linked-runs:acme/SHOP", "ado:acme-ado/Shop", "confluence:acme-wiki/QA/shop".
	Name() string
	// Kind is the target kind: "jira", "linked-runs", "ado" or "confluence" (the --target flag's words).
	Kind() string
	// Plan returns the desired items for the project, deterministically: the same report gives the same items
	// with the same hashes. Plan may read from the target (field ids, versions) but never writes. An error
	// fails the whole cycle for this target.
	Plan(ctx context.Context, p *report.Project) ([]push.Item, error)
	// Push makes the target hold it. It must be idempotent. Errors are classified with push.Permanent,
	// push.Retryable and push.Fatal.
	Push(ctx context.Context, it push.Item) (push.Result, error)
}

// Destined is a Target that knows its destination: the canonical URL of its site and the project (or space,
// page) there, e.g. "jira:https://acme.atlassian.net:443/SHOP". The ledger keys the target's rows by it, not by
// the configured name: a name pointed at another site pushes everything there. A Target without it is its
// own destination (its Name).
type Destined interface {
	Destination() string
}

// Binder is a Ledger that keys rows by destination (*ledger.Ledger is one): Bind makes the rows under a
// target's name those of its destination before the cycle loads them (ledger.Ledger.Bind).
type Binder interface {
	Bind(ctx context.Context, target, destination string, dryRun bool) (moved bool, err error)
}

// Reader is a Target that can read back what it holds, for reconcile cycles (Options.Reconcile). It is
// optional: the engine asks for it only when reconciling.
type Reader interface {
	// Drift reads what the target holds now for items (all of one cycle's plan) and compares it, by meaning,
	// with what each item would write: a number 95.0 equals 95, an empty field equals a cleared one. It reads
	// in batches, never one request per item, and writes nothing. An item the target does not hold at all
	// (deleted by a person) is drift too. An error fails the cycle: nothing is pushed on a partial reading.
	Drift(ctx context.Context, items []push.Item) (push.Drift, error)
}
