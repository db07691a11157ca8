package engine_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/engine/enginetest"
)

// plainTarget hides enginetest.Target's Drift (a method of another signature shadows it): a target that
// cannot read back.
type plainTarget struct{ *enginetest.Target }

func (p plainTarget) Drift() {}

func TestReconcilePushesExactlyWhatDriftedAndRecordsIt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(10)
	if _, err := f.e.Run(ctx, f.t, p, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	f.takePushes()
	f.t.Tamper("SHOP-3")
	f.t.Forget("SHOP-7")

	// A normal cycle trusts the ledger: it sees nothing to do.
	s, err := f.e.Run(ctx, f.t, p, engine.Options{})
	if err != nil || s.Pushed != 0 {
		t.Fatalf("normal cycle after out-of-band edits: pushed %d, err %v; want 0 (the ledger cannot know)", s.Pushed, err)
	}

	dry, err := f.e.Run(ctx, f.t, p, engine.Options{Reconcile: true, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Drifted != 2 || len(dry.WouldPush) != 2 || len(f.takePushes()) != 0 {
		t.Fatalf("dry run: drifted %d, would push %+v; want 2 listed and nothing written", dry.Drifted, dry.WouldPush)
	}
	for _, c := range dry.WouldPush {
		if c.Reason != "drifted" || len(c.Drift) == 0 {
			t.Errorf("dry run lists %+v: want reason drifted with the differing field", c)
		}
	}
	if got := f.t.Stored()["SHOP-7"]; got != ([32]byte{}) {
		t.Fatal("dry run wrote SHOP-7")
	}

	s, err = f.e.Run(ctx, f.t, p, engine.Options{Reconcile: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.takePushes(); !reflect.DeepEqual(got, []string{"SHOP-3", "SHOP-7"}) || s.Drifted != 2 || s.Pushed != 2 || s.Unchanged != 8 {
		t.Fatalf("reconcile pushed %v (summary %+v); want exactly SHOP-3 and SHOP-7, drifted 2", got, s)
	}
	for _, step := range []engine.Options{{Reconcile: true}, {}} {
		s, err = f.e.Run(ctx, f.t, p, step)
		if err != nil || s.Pushed != 0 || s.Drifted != 0 || len(f.takePushes()) != 0 {
			t.Fatalf("cycle %+v after the reconcile: %+v, err %v; want nothing pushed", step, s, err)
		}
	}
	var drifted int
	if err := f.pool.QueryRow(ctx, `SELECT drifted FROM covsync.cycles WHERE reconcile ORDER BY id LIMIT 1`).Scan(&drifted); err != nil || drifted != 2 {
		t.Fatalf("cycle row of the first reconcile: drifted %d, err %v; want 2", drifted, err)
	}
	st, err := f.l.Status(ctx)
	if err != nil || len(st) != 1 || st[0].LastReconcile == nil || st[0].LastReconcile.Drifted != 0 || st[0].Last.Reconcile {
		t.Fatalf("status %+v, err %v: want the last reconcile (drift 0) beside a newer normal cycle", st, err)
	}
}

func TestReconcileAdoptsWhatTheTargetAlreadyHolds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p := enginetest.Project(5)
	if _, err := f.e.Run(ctx, f.t, p, engine.Options{}); err != nil {
		t.Fatal(err)
	}
	f.takePushes()
	if _, err := f.pool.Exec(ctx, `DELETE FROM covsync.ledger`); err != nil { // the ledger was lost
		t.Fatal(err)
	}
	s, err := f.e.Run(ctx, f.t, p, engine.Options{Reconcile: true})
	if err != nil || s.Pushed != 0 || s.Unchanged != 5 || len(f.takePushes()) != 0 {
		t.Fatalf("reconcile with a lost ledger: %+v, err %v; want nothing written, 5 unchanged", s, err)
	}
	if n := len(f.acked(t)); n != 5 {
		t.Fatalf("ledger holds %d acknowledged items after the reconcile, want 5", n)
	}
	if s, err = f.e.Run(ctx, f.t, p, engine.Options{}); err != nil || s.Pushed != 0 {
		t.Fatalf("normal cycle after the reconcile pushed %d (err %v), want 0", s.Pushed, err)
	}
}

func TestReconcileOfATargetThatCannotReadBackFails(t *testing.T) {
	f := newFixture(t)
	_, err := f.e.Run(context.Background(), plainTarget{f.t}, enginetest.Project(2), engine.Options{Reconcile: true})
	if err == nil {
		t.Fatal("reconcile of a target without Drift succeeded")
	}
	if len(f.takePushes()) != 0 {
		t.Fatal("a failed reconcile pushed")
	}
}
