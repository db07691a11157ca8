package ledger_test

import (
	"context"
	"testing"

	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/ledger/ledgertest"
)

// TestBindKeysRowsByDestination: rows written before destinations were recorded are adopted by the first
// bind; a name moved to another destination sees none of the old rows (a dry run says so and writes nothing);
// moved back, it finds them again.
func TestBindKeysRowsByDestination(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(ledgertest.Pool(t), "")
	const name, siteA, siteB = "jira:acme/SHOP", "jira:https://a.example:443/SHOP", "jira:https://b.example:443/SHOP"
	if err := l.RecordPushed(ctx, name, "SHOP-1", [32]byte{1}, "", ""); err != nil {
		t.Fatal(err)
	}
	load := func() map[string]ledger.State {
		t.Helper()
		m, err := l.Load(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	bind := func(dest string, dry bool) bool {
		t.Helper()
		moved, err := l.Bind(ctx, name, dest, dry)
		if err != nil {
			t.Fatal(err)
		}
		return moved
	}
	if bind(siteA, false) || !load()["SHOP-1"].Acked {
		t.Fatal("the first bind did not adopt the rows already under the name")
	}
	if !bind(siteB, true) || !load()["SHOP-1"].Acked {
		t.Fatal("a dry run must report the move and leave the rows where they are")
	}
	if !bind(siteB, false) || len(load()) != 0 {
		t.Fatalf("moved to another site, the name still holds %v", load())
	}
	if err := l.RecordPushed(ctx, name, "SHOP-2", [32]byte{2}, "", ""); err != nil {
		t.Fatal(err)
	}
	if bind(siteB, false) {
		t.Fatal("binding the same destination again reported a move")
	}
	if !bind(siteA, false) {
		t.Fatal("moving back was not reported")
	}
	if m := load(); len(m) != 1 || m["SHOP-1"].Hash != ([32]byte{1}) {
		t.Fatalf("back on the first site: %v, want its SHOP-1 only", m)
	}
	bind(siteB, false)
	if m := load(); len(m) != 1 || m["SHOP-2"].Hash != ([32]byte{2}) {
		t.Fatalf("back on the second site: %v, want its SHOP-2 only", m)
	}
}

// A failure recorded at a site the target no longer writes to is history: `covsync status` lists what fails
// now, so a parked row is not among the failing items, and comes back with its error when the name does.
func TestParkedFailuresAreNotFailingNow(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(ledgertest.Pool(t), "")
	const name, siteA, siteB = "jira:acme/SHOP", "jira:https://a.example:443/SHOP", "jira:https://b.example:443/SHOP"
	if _, err := l.Bind(ctx, name, siteA, false); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordFailed(ctx, name, "SHOP-1", "400: field cannot be set"); err != nil {
		t.Fatal(err)
	}
	failing := func() int {
		t.Helper()
		f, err := l.Failing(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(f)
	}
	if n := failing(); n != 1 {
		t.Fatalf("%d failing before the move, want 1", n)
	}
	if _, err := l.Bind(ctx, name, siteB, false); err != nil {
		t.Fatal(err)
	}
	if n := failing(); n != 0 {
		t.Errorf("%d failing after the target moved to another site, want 0 (the parked row is history)", n)
	}
	if _, err := l.Bind(ctx, name, siteA, false); err != nil {
		t.Fatal(err)
	}
	if n := failing(); n != 1 {
		t.Errorf("%d failing once back on the first site, want its 1 again", n)
	}
}
