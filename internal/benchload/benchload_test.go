package benchload_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/benchload"
	"github.com/covsync/covsync/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func migrated(t *testing.T, schema string) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.Pool(t)
	conn, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := postgres.Migrate(context.Background(), conn.Conn(), postgres.MigrateOptions{SourceSchema: schema}); err != nil {
		t.Fatal(err)
	}
	return pool
}

func TestTheReaderSeesEveryGeneratedStoryReleaseAndRun(t *testing.T) {
	const schema = "Bench Source" // a name that needs quoting
	pool := migrated(t, schema)
	ctx := context.Background()
	w := benchload.Workload{Project: "bench", Prefix: "BENCH", Sizes: benchload.Sizes{Stories: 40, Releases: 3, Runs: 12, Results: 600}}
	if err := benchload.Generate(ctx, pool, schema, w); err != nil {
		t.Fatal(err)
	}
	var results, links int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM "Bench Source".test_results), (SELECT count(*) FROM "Bench Source".test_tickets)`).Scan(&results, &links); err != nil {
		t.Fatal(err)
	}
	if results != 600 || links != 600 {
		t.Errorf("%d results and %d links, want 600 each", results, links)
	}

	rd := postgres.NewReader(pool, schema)
	p, err := rd.ReadProject(ctx, "bench")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Stories) != 40 || len(p.Releases) != 3 || p.RunCount != 12 {
		t.Fatalf("read %d stories, %d releases, %d runs; want 40, 3, 12", len(p.Stories), len(p.Releases), p.RunCount)
	}
	for _, st := range p.Stories {
		if st.CoveragePercent == nil || st.LastRun == nil || st.Tests.Passed+st.Tests.Failed+st.Tests.Skipped == 0 {
			t.Fatalf("story %s lacks coverage, tests or a last run: %+v", st.Key, st)
		}
	}
	for _, r := range p.Releases {
		if len(r.Runs) != 4 {
			t.Errorf("release %s has %d runs, want 4", r.Name, len(r.Runs))
		}
	}

	if err := benchload.ChangeStory(ctx, pool, schema, w, 7); err != nil {
		t.Fatal(err)
	}
	q, err := rd.ReadProject(ctx, "bench")
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for i := range p.Stories {
		a, b := p.Stories[i], q.Stories[i]
		if a.Key != b.Key {
			t.Fatalf("story order changed: %s then %s", a.Key, b.Key)
		}
		if *a.CoveragePercent != *b.CoveragePercent || *a.CoveredMethods != *b.CoveredMethods {
			changed = append(changed, a.Key)
		}
	}
	if len(changed) != 1 || changed[0] != w.Key(7) {
		t.Errorf("ChangeStory(7) changed %v, want [%s]", changed, w.Key(7))
	}
}

func TestSizesThatCannotMakeAWorkloadAreRefusedByName(t *testing.T) {
	tests := []struct {
		name  string
		sizes benchload.Sizes
		want  string
	}{
		{"no stories", benchload.Sizes{Releases: 1, Runs: 1, Results: 1}, "stories: 0, want at least 1"},
		{"fewer results than runs", benchload.Sizes{Stories: 1, Releases: 1, Runs: 5, Results: 4}, "results: 4, want at least one per run (5)"},
		{"the reference", benchload.Reference(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.sizes.Validate()
			if got := ""; err != nil {
				got = err.Error()
				if got != tt.want {
					t.Errorf("err %q, want %q", got, tt.want)
				}
			} else if tt.want != "" {
				t.Errorf("no error, want %q", tt.want)
			}
		})
	}
}
