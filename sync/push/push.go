// Package push holds the vocabulary shared by the engine and the connectors: the item a target plans, the
// result of pushing one, and the error kinds the engine acts on.
//
// It exists because connectors may import neither sync/engine nor each other (docs/architecture.md,
// Packages); both sides of the Target interface need these types, so they live in a leaf package that
// imports nothing of the project.
package push

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
)

// Target kinds: the one vocabulary of the kinds of target, as connectors' Kind methods return them, the
// --target flag and the resync API take them, and the schedules and River queues are named.
const (
	TargetJira       = "jira"
	TargetLinkedRuns = "linked-runs"
	TargetADO        = "ado"
	TargetConfluence = "confluence"
)

// TargetKinds lists every target kind, in the order commands list them.
func TargetKinds() []string {
	return []string{TargetJira, TargetLinkedRuns, TargetADO, TargetConfluence}
}

// Item is one unit of desired state at a target: one issue's fields, one property, one document, one page.
type Item struct {
	// Key identifies the item within its target and is the ledger key: "SHOP-7", "property:SHOP", "page:shop".
	Key string
	// Hash is the content hash of what would be written. Equal hash → nothing to push.
	Hash [32]byte
	// Payload is what Push needs; only the target that planned it knows its type.
	Payload any
	// Summary is a short human description for logs, dry-run listings and the ledger ("coverage 78.5%").
	Summary string
}

// HashJSON is the usual way to fill Item.Hash: the SHA-256 of the JSON encoding of v (map keys are sorted by
// encoding/json, so equal values hash equally).
func HashJSON(v any) ([32]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// Result says what a successful Push did beyond writing.
type Result struct {
	// Pruned counts entries removed to stay within a target limit (the 32 KB Jira property).
	Pruned int
	// Skipped is true when the target deliberately did not write (a page a person edited, on_manual_edit:
	// skip). The engine does not record a skipped item as pushed, so it is looked at again next cycle.
	Skipped bool
	// NoChange is true when the target found its current state already equal to the desired one and wrote
	// nothing (the item is recorded as pushed: the target acknowledges the state).
	NoChange bool
	// Note is a human-readable remark for the log and the ledger ("manual edit by j.doe at version 7: skipped").
	Note string
}

// Kind classifies a push error.
type Kind int

const (
	// KindPermanent: this item failed and retrying it now will not help (a 400, a 404). The cycle goes on.
	KindPermanent Kind = iota
	// KindRetryable: a transient failure (429, 5xx, timeout, conflict) that outlived the client's own
	// retries. The item is recorded as failed and retried next cycle; the cycle goes on.
	KindRetryable
	// KindFatal: the target as a whole cannot be used (401, 403, unreachable): the cycle for this target
	// stops; items not attempted are left untouched in the ledger.
	KindFatal
	// KindConfig: the target cannot be used because its configuration does not fit what the target holds
	// (a Jira field name matching no field, an unmapped ADO match_field, two pages rendering one title). The
	// engine treats it as KindFatal; commands report it as a configuration error (exit 2), not an outage,
	// because retrying will not help until someone changes the config.
	KindConfig
	// KindUnreachable: a dependency the whole run needs (the database, a target's host) did not answer or
	// could not be used. The engine treats it as KindFatal; commands report it as an outage (exit 3), and
	// the next cycle tries again.
	KindUnreachable
)

func (k Kind) String() string {
	switch k {
	case KindRetryable:
		return "retryable"
	case KindFatal:
		return "fatal"
	case KindConfig:
		return "config"
	case KindUnreachable:
		return "unreachable"
	default:
		return "permanent"
	}
}

// Error is an error with a Kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as failing only this item, for good.
func Permanent(err error) error { return wrap(KindPermanent, err) }

// Retryable marks err as transient.
func Retryable(err error) error { return wrap(KindRetryable, err) }

// Fatal marks err as disabling the whole target for this cycle.
func Fatal(err error) error { return wrap(KindFatal, err) }

// Config marks err as a configuration error: fatal for the target, and the config must change.
func Config(err error) error { return wrap(KindConfig, err) }

// Unreachable marks err as a dependency that did not answer: fatal for the run, retried next cycle.
func Unreachable(err error) error { return wrap(KindUnreachable, err) }

// Unreachablef is fmt.Errorf followed by Unreachable.
func Unreachablef(format string, args ...any) error { return Unreachable(fmt.Errorf(format, args...)) }

// WithKind marks err with kind k.
func WithKind(k Kind, err error) error { return wrap(k, err) }

// Configf is fmt.Errorf followed by Config.
func Configf(format string, args ...any) error { return Config(fmt.Errorf(format, args...)) }

// Fatalf is fmt.Errorf followed by Fatal.
func Fatalf(format string, args ...any) error { return Fatal(fmt.Errorf(format, args...)) }

// Retryablef is fmt.Errorf followed by Retryable.
func Retryablef(format string, args ...any) error { return Retryable(fmt.Errorf(format, args...)) }

// Permanentf is fmt.Errorf followed by Permanent.
func Permanentf(format string, args ...any) error { return Permanent(fmt.Errorf(format, args...)) }

// WithKindOf returns wrapped (an error that adds context to err) with err's kind, so a connector can name
// the item in an error without changing what the engine does with it.
func WithKindOf(err, wrapped error) error { return wrap(KindOf(err), wrapped) }

func wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// KindOf returns the kind of err: the outermost *Error's kind, or KindRetryable for an unclassified error
// (an unexpected failure is assumed transient, so it is retried next cycle rather than forgotten).
//
// An error joined from several (errors.Join) has the kind of the first classified one.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindRetryable
}

// IsFatal reports whether err stops the whole target: KindFatal, KindConfig or KindUnreachable.
func IsFatal(err error) bool {
	k := KindOf(err)
	return k == KindFatal || k == KindConfig || k == KindUnreachable
}
