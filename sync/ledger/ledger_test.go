package ledger_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/ledger"
	"github.com/covsync/covsync/sync/ledger/ledgertest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const tgt = "jira:acme/SHOP"

func h(s string) [32]byte { return sha256.Sum256([]byte(s)) }

type row struct {
	hash     []byte
	attempts int
	lastErr  *string
	note     *string
	pushed   bool
	summary  string
}

func readRow(t *testing.T, db ledger.DB, key string) row {
	t.Helper()
	var r row
	err := db.QueryRow(context.Background(), `SELECT hash, attempts, last_error, note, pushed_at IS NOT NULL, summary
		FROM covsync.ledger WHERE target = $1 AND item_key = $2`, tgt, key).
		Scan(&r.hash, &r.attempts, &r.lastErr, &r.note, &r.pushed, &r.summary)
	if err != nil {
		t.Fatalf("read ledger row %s: %v", key, err)
	}
	return r
}

func TestOutcomesChangeTheLedgerAsDocumented(t *testing.T) {
	type step func(ctx context.Context, l *ledger.Ledger) error
	pushed := func(hash, note string) step {
		return func(ctx context.Context, l *ledger.Ledger) error {
			return l.RecordPushed(ctx, tgt, "SHOP-7", h(hash), "coverage "+hash, note)
		}
	}
	failed := func(msg string) step {
		return func(ctx context.Context, l *ledger.Ledger) error { return l.RecordFailed(ctx, tgt, "SHOP-7", msg) }
	}
	skipped := func(note string) step {
		return func(ctx context.Context, l *ledger.Ledger) error { return l.RecordSkipped(ctx, tgt, "SHOP-7", note) }
	}
	for _, tc := range []struct {
		name      string
		steps     []step
		wantState ledger.State
		attempts  int
		lastErr   string // "" → NULL
		note      string // "" → NULL
	}{
		{"a push stores the acknowledged hash", []step{pushed("a", "")},
			ledger.State{Hash: h("a"), Acked: true}, 0, "", ""},
		{"a failure of a never-pushed item is failing and not acknowledged", []step{failed("400 bad field")},
			ledger.State{Failing: true}, 1, "400 bad field", ""},
		{"failures count up and keep the newest error", []step{failed("one"), failed("two"), failed("three")},
			ledger.State{Failing: true}, 3, "three", ""},
		{"a failure after a push keeps the pushed hash", []step{pushed("a", ""), failed("503")},
			ledger.State{Hash: h("a"), Acked: true, Failing: true}, 1, "503", ""},
		{"a success after failures resets attempts and clears the error", []step{failed("x"), failed("y"), pushed("b", "pruned 2 runs")},
			ledger.State{Hash: h("b"), Acked: true}, 0, "", "pruned 2 runs"},
		{"a skip keeps the hash and clears a failure", []step{pushed("a", ""), failed("409"), skipped("manual edit: skipped")},
			ledger.State{Hash: h("a"), Acked: true}, 0, "", "manual edit: skipped"},
		{"a skip of a never-pushed item is not acknowledged", []step{skipped("manual edit")},
			ledger.State{}, 0, "", "manual edit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pool := ledgertest.Pool(t)
			l := ledger.New(pool, "")
			for i, s := range tc.steps {
				if err := s(ctx, l); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			m, err := l.Load(ctx, tgt)
			if err != nil {
				t.Fatal(err)
			}
			if got := m["SHOP-7"]; got != tc.wantState {
				t.Errorf("state = %+v, want %+v", got, tc.wantState)
			}
			r := readRow(t, pool, "SHOP-7")
			if r.attempts != tc.attempts {
				t.Errorf("attempts = %d, want %d", r.attempts, tc.attempts)
			}
			if got := deref(r.lastErr); got != tc.lastErr {
				t.Errorf("last_error = %q, want %q", got, tc.lastErr)
			}
			if got := deref(r.note); got != tc.note {
				t.Errorf("note = %q, want %q", got, tc.note)
			}
			if r.pushed != tc.wantState.Acked {
				t.Errorf("pushed_at set = %v, want %v", r.pushed, tc.wantState.Acked)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestLoadReadsOnlyTheGivenTarget(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(ledgertest.Pool(t), "")
	must(t, l.RecordPushed(ctx, tgt, "SHOP-1", h("1"), "", ""))
	must(t, l.RecordPushed(ctx, tgt, "SHOP-2", h("2"), "", ""))
	must(t, l.RecordPushed(ctx, "ado:acme/Shop", "SHOP-1", h("other"), "", ""))
	m, err := l.Load(ctx, tgt)
	must(t, err)
	if len(m) != 2 || m["SHOP-1"].Hash != h("1") || m["SHOP-2"].Hash != h("2") {
		t.Fatalf("Load(%s) = %v, want SHOP-1 and SHOP-2 with their own hashes", tgt, m)
	}
}

func TestStoredErrorsAreCappedAndStorable(t *testing.T) {
	ctx := context.Background()
	pool := ledgertest.Pool(t)
	l := ledger.New(pool, "")
	long := "bad\x00byte \xff " + strings.Repeat("é", 5000)
	must(t, l.RecordFailed(ctx, tgt, "SHOP-7", long))
	got := deref(readRow(t, pool, "SHOP-7").lastErr)
	if len(got) > ledger.MaxTextLen {
		t.Errorf("stored error is %d bytes, want at most %d", len(got), ledger.MaxTextLen)
	}
	if !utf8.ValidString(got) || strings.ContainsRune(got, 0) {
		t.Errorf("stored error is not clean UTF-8: %q", got[:40])
	}
	if !strings.HasPrefix(got, "badbyte \uFFFD é") || !strings.HasSuffix(got, "…") {
		t.Errorf("stored error = %q…%q, want the start kept and an ellipsis at the cut", got[:20], got[len(got)-10:])
	}
}

func TestCyclesAndStatus(t *testing.T) {
	ctx := context.Background()
	l := ledger.New(ledgertest.Pool(t), "")

	id1, err := l.StartCycle(ctx, tgt, "jira", "shop", ledger.TriggerSchedule, false)
	must(t, err)
	must(t, l.FinishCycle(ctx, id1, ledger.Counts{Planned: 3, Pushed: 3}, ""))
	id2, err := l.StartCycle(ctx, tgt, "jira", "shop", ledger.TriggerResync, false)
	must(t, err)
	must(t, l.FinishCycle(ctx, id2, ledger.Counts{Planned: 3, Pushed: 1, Failed: 1, Unchanged: 1}, "jira: 401 Unauthorized"))
	idOther, err := l.StartCycle(ctx, "ado:acme/Shop", "ado", "shop", "", false)
	must(t, err)
	must(t, l.RecordFailed(ctx, tgt, "SHOP-9", "400 field not on screen"))

	cs, err := l.Cycles(ctx, tgt, 0)
	must(t, err)
	if len(cs) != 2 || cs[0].ID != id2 || cs[1].ID != id1 {
		t.Fatalf("Cycles = %+v, want the two cycles newest first", cs)
	}
	if c := cs[0]; c.Trigger != "resync" || c.Pushed != 1 || c.Failed != 1 || c.Unchanged != 1 || c.Planned != 3 ||
		c.Error != "jira: 401 Unauthorized" || c.FinishedAt == nil {
		t.Errorf("newest cycle = %+v, want the counts and error it was finished with", c)
	}

	st, err := l.Status(ctx)
	must(t, err)
	if len(st) != 2 {
		t.Fatalf("Status has %d targets, want 2: %+v", len(st), st)
	}
	ado, jira := st[0], st[1]
	if ado.Last.ID != idOther || ado.Last.FinishedAt != nil || ado.Last.Trigger != "schedule" || ado.LastOK != nil {
		t.Errorf("ado status = %+v, want its unfinished cycle and no success yet", ado)
	}
	if jira.Last.ID != id2 || jira.LastOK == nil || !jira.LastOK.Equal(*cs[1].FinishedAt) || jira.FailingItems != 1 {
		t.Errorf("jira status = %+v, want the newest cycle, the first cycle's finish as last success, 1 failing item", jira)
	}

	fs, err := l.Failing(ctx, 0)
	must(t, err)
	if len(fs) != 1 || fs[0].Item != "SHOP-9" || fs[0].Attempts != 1 || fs[0].Error != "400 field not on screen" || fs[0].PushedAt != nil {
		t.Errorf("Failing = %+v, want SHOP-9 with its error", fs)
	}
}

func TestAnUnmigratedDatabaseSaysToMigrate(t *testing.T) {
	l := ledger.New(pgtest.Pool(t), "")
	_, err := l.Status(context.Background())
	if !errors.Is(err, ledger.ErrNotMigrated) {
		t.Fatalf("Status on an empty database: %v, want ErrNotMigrated", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// RecordPushedMany writes what RecordPushed writes, for more items than one of its statements takes: a
// failed item's attempts and error are cleared, a summary too long is capped, other targets are untouched.
func TestRecordPushedManyIsRecordPushedInBatches(t *testing.T) {
	ctx := context.Background()
	pool := ledgertest.Pool(t)
	l := ledger.New(pool, "")
	const n = 2500 // three statements
	must(t, l.RecordFailed(ctx, tgt, "SHOP-7", "HTTP 500"))
	must(t, l.RecordPushed(ctx, "ado:acme/Shop", "SHOP-7", h("other"), "", ""))
	items := make([]ledger.Pushed, n)
	for i := range items {
		items[i] = ledger.Pushed{Key: fmt.Sprintf("SHOP-%d", i), Hash: h(fmt.Sprint(i)), Summary: fmt.Sprintf("coverage %d", i)}
	}
	items[8].Summary = strings.Repeat("é", ledger.MaxTextLen)
	must(t, l.RecordPushedMany(ctx, tgt, items, "reconcile: the target already held it"))
	must(t, l.RecordPushed(ctx, tgt, "SHOP-single", h("7"), "coverage 7", "reconcile: the target already held it"))
	want := readRow(t, pool, "SHOP-single")
	for _, i := range []int{0, 7, 999, 1000, 2499} {
		got := readRow(t, pool, items[i].Key)
		if string(got.hash) != string(items[i].Hash[:]) || got.summary != items[i].Summary || got.attempts != 0 ||
			got.lastErr != nil || !got.pushed || deref(got.note) != deref(want.note) {
			t.Errorf("%s: %+v, want %+v with its own hash and summary", items[i].Key, got, want)
		}
	}
	if got := readRow(t, pool, "SHOP-8"); len(got.summary) > ledger.MaxTextLen {
		t.Errorf("a summary of %d bytes stored, want at most %d", len(got.summary), ledger.MaxTextLen)
	}
	m, err := l.Load(ctx, tgt)
	must(t, err)
	if len(m) != n+1 {
		t.Errorf("%d rows for %s, want %d", len(m), tgt, n+1)
	}
	other, err := l.Load(ctx, "ado:acme/Shop")
	must(t, err)
	if len(other) != 1 || other["SHOP-7"].Hash != h("other") {
		t.Errorf("the other target's rows changed: %v", other)
	}
}

// BenchmarkAdopt5000 records 5,000 items as a first reconcile adopts them: one at a time (as before) and in
// batches (docs/benchmarks.md, "Reconcile").
//
//	go test -run '^$' -bench Adopt5000 ./sync/ledger/
func BenchmarkAdopt5000(b *testing.B) {
	ctx := context.Background()
	pool := ledgertest.Pool(b)
	l := ledger.New(pool, "")
	items := make([]ledger.Pushed, 5000)
	for i := range items {
		items[i] = ledger.Pushed{Key: fmt.Sprintf("SHOP-%d", i), Hash: h(fmt.Sprint(i)), Summary: "coverage 78.5%, passed"}
	}
	b.Run("one-at-a-time", func(b *testing.B) {
		for b.Loop() {
			for _, it := range items {
				if err := l.RecordPushed(ctx, tgt, it.Key, it.Hash, it.Summary, "reconcile: the target already held it"); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("batched", func(b *testing.B) {
		for b.Loop() {
			if err := l.RecordPushedMany(ctx, tgt, items, "reconcile: the target already held it"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
