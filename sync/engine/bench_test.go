package engine_test

import (
	"context"
	"testing"

	"github.com/covsync/covsync/sync/engine"
	"github.com/covsync/covsync/sync/engine/enginetest"
)

// BenchmarkUnchangedCycle5000 measures a cycle in which nothing changed: plan 5,000 items (hashing each
// story), load the target's ledger in one query, diff, write the cycle row. It must push nothing.
//
//	go test -run '^$' -bench UnchangedCycle -benchmem ./sync/engine/
func BenchmarkUnchangedCycle5000(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts engine.Options
	}{
		{"cycle", engine.Options{}},
		{"dry-run", engine.Options{DryRun: true}}, // plan + diff only, no cycle row
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b)
			ctx := context.Background()
			p := enginetest.Project(5000)
			if s := mustRun(b, f, ctx, p, engine.Options{Workers: 8}); s.Pushed != 5000 {
				b.Fatalf("first cycle pushed %d, want 5000", s.Pushed)
			}
			f.takePushes()
			b.ResetTimer()
			for b.Loop() {
				s := mustRun(b, f, ctx, p, bc.opts)
				if s.Unchanged != 5000 {
					b.Fatalf("unchanged cycle: %+v", s)
				}
			}
			b.StopTimer()
			if got := f.takePushes(); len(got) != 0 {
				b.Fatalf("unchanged cycles pushed %d items", len(got))
			}
		})
	}
}

// BenchmarkForcedCycle5000 measures the engine's own cost of a cycle that pushes everything: 5,000 pushes to
// an in-memory target, each recorded in the ledger as it completes (one upsert per item). It is the overhead
// a full resync adds on top of the targets' rate limits.
//
//	go test -run '^$' -bench ForcedCycle -benchmem ./sync/engine/
func BenchmarkForcedCycle5000(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	p := enginetest.Project(5000)
	b.ResetTimer()
	for b.Loop() {
		if s := mustRun(b, f, ctx, p, engine.Options{Force: true, Workers: 4}); s.Pushed != 5000 {
			b.Fatalf("forced cycle: %+v", s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*5000), "µs/item")
}
