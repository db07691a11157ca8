package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/covsync/covsync/internal/testwait"
)

// streamedTests is n tests of a report, comma-separated, the i-th named after ticket SHOP-(i%7+1).
func streamedTests(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		if i > from {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"SHOP-%d case %d","status":"passed","duration":%d,"message":"at cart_test.go:%d"}`, i%7+1, i, i%50, i)
	}
	return b.String()
}

// stalledBody is a body that sends first, then holds back rest until release is called. release is also
// called when the test ends, failed or not, so an ingest still reading it always ends.
func stalledBody(t *testing.T, first, rest string) (body io.Reader, release func()) {
	pr, pw := io.Pipe()
	held := make(chan struct{})
	release = sync.OnceFunc(func() { close(held) })
	t.Cleanup(release)
	go func() {
		if _, err := io.WriteString(pw, first); err != nil {
			return
		}
		<-held
		io.WriteString(pw, rest)
		pw.Close()
	}()
	return pr, release
}

// copying is how many rows a COPY into test_results still under way has taken so far (0 when none runs).
func (s testSource) copying(t *testing.T) int64 {
	t.Helper()
	var n int64
	err := s.pool.QueryRow(context.Background(), `SELECT coalesce(max(tuples_processed), 0)
		FROM pg_stat_progress_copy WHERE relid = $1::regclass`, `"Source Data".test_results`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const streamHead = `{"reportFormat":"CTRF","results":{"tool":{"name":"stream"},"tests":[`

// streamTail is what follows the tests: the summary and environment come after them, as some writers order
// them, so the run's row can only be completed at the end.
func streamTail(n int, env string) string {
	return fmt.Sprintf(`],"summary":{"tests":%d,"passed":%d,"failed":0,"skipped":0,"pending":0,"other":0,"start":1763625600000},"environment":%s}`, n, n, env)
}

// The tests of a report reach the database while its body is still being read: ingest holds a few tests at
// a time, not the report (docs/reliability.md, Security). Before, nothing was written until the body had ended.
func TestTestsAreCopiedWhileTheBodyIsStillBeingRead(t *testing.T) {
	s := newSource(t)
	const first, rest = 5000, 5000
	pr, release := stalledBody(t, streamHead+streamedTests(0, first),
		","+streamedTests(first, rest)+streamTail(first+rest, `{"buildNumber":"9"}`)+`}`)
	type outcome struct {
		res *RunIngest
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := s.in.IngestCTRFReader(context.Background(), pr, CTRFOptions{Project: "shop", File: "stream.json"})
		done <- outcome{res, err}
	}()
	var copied int64
	testwait.Until(t, 60*time.Second, "tests copied into test_results while the body is open", func() bool {
		copied = s.copying(t)
		return copied > 0
	})
	if copied > first {
		t.Fatalf("%d tests copied before the body's second half was sent, of %d sent", copied, first)
	}
	if n := s.rowCounts(t)["runs"]; n != 0 {
		t.Errorf("%d runs visible before the ingest committed", n)
	}
	release()
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res.Tests != first+rest || o.res.Counts.Passed != first+rest || o.res.Links != first+rest || o.res.Tickets != 7 {
		t.Errorf("stored %+v; want %d passed tests linked to 7 tickets", o.res, first+rest)
	}
	if o.res.RunName != "build 9" || o.res.Disagree {
		t.Errorf("run %q (summary disagrees: %v); want build 9 from the environment after the tests", o.res.RunName, o.res.Disagree)
	}
	var name, tool string
	var tests int
	if err := s.pool.QueryRow(context.Background(), `SELECT name, tool, tests FROM "Source Data".runs`).Scan(&name, &tool, &tests); err != nil {
		t.Fatal(err)
	}
	if name != "build 9" || tool != "stream" || tests != first+rest {
		t.Errorf("stored run %q of %q with %d tests", name, tool, tests)
	}
}

// What only the end of a report tells can still refuse it, or find it stored already, after its tests were
// copied: nothing of it is kept.
func TestALateRefusalOrDuplicateStoresNothing(t *testing.T) {
	s := newSource(t)
	ctx := context.Background()
	report := func(from int, env, tail string) []byte {
		return []byte(streamHead + streamedTests(from, 300) + streamTail(300, env) + tail + `}`)
	}

	t.Run("a bad buildUrl after the tests", func(t *testing.T) {
		_, err := s.in.IngestCTRF(ctx, report(0, `{"buildUrl":"javascript:alert(1)//"}`, ""), CTRFOptions{Project: "shop", File: "late.json"})
		refused(t, err, "results.environment.buildUrl", "want an http(s) URL")
		if got := s.rowCounts(t); got["projects"]+got["runs"]+got["test_results"] != 0 {
			t.Errorf("rows %v after a refused report", got)
		}
	})

	first := s.ingest(t, report(0, `{}`, `,"reportId":"4f1c2b9e-run-1"`), CTRFOptions{})
	before := s.rowCounts(t)

	t.Run("a reportId stored already, after the tests", func(t *testing.T) {
		res := s.ingest(t, report(1000, `{}`, `,"reportId":"4f1c2b9e-run-1"`), CTRFOptions{Release: "2.0"})
		if !res.AlreadyIngested || res.RunID != first.RunID || res.Tests != 0 || res.ProjectCreated {
			t.Errorf("got %+v; want the stored run %d, nothing written", res, first.RunID)
		}
	})
	t.Run("a body cut short after some tests", func(t *testing.T) {
		body := report(2000, `{}`, "")
		cut := io.MultiReader(strings.NewReader(string(body[:len(body)/2])), errReader{errors.New("connection reset by peer")})
		_, err := s.in.IngestCTRFFrom(ctx, cut, CTRFOptions{Project: "shop", File: "cut.json"})
		var re *ReadError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), "connection reset") {
			t.Errorf("got %v; want the read error", err)
		}
	})
	t.Run("a syntax error after some tests", func(t *testing.T) {
		body := report(3000, `{}`, "")
		_, err := s.in.IngestCTRF(ctx, append(body[:len(body)-40:len(body)-40], '}'), CTRFOptions{Project: "shop", File: "syntax.json"})
		var ie *InputError
		if !errors.As(err, &ie) || !strings.HasPrefix(err.Error(), "syntax.json") {
			t.Errorf("got %v; want an input error naming syntax.json", err)
		}
	})
	if after := s.rowCounts(t); !equalCounts(before, after) {
		t.Errorf("rows before %v, after %v", before, after)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// A report sent again whose reportId comes before its tests (where reporters write it) is read and checked
// but not copied: a CI retry of a stored report costs a read, not every test written and rolled back. One
// whose reportId follows its tests is copied, then found stored: nothing is kept either way.
func TestAStoredReportSentAgainIsNotCopied(t *testing.T) {
	s := newSource(t)
	early := func(from int) []byte {
		return []byte(`{"reportId":"r-early",` + streamHead[1:] + streamedTests(from, 300) + streamTail(300, `{}`) + `}`)
	}
	first := s.ingest(t, early(0), CTRFOptions{})
	before := s.rowCounts(t)
	again := s.ingest(t, early(1000), CTRFOptions{})
	if !again.AlreadyIngested || again.RunID != first.RunID || !again.skipped || again.Counts.Tests != 0 {
		t.Errorf("sent again: %+v (skipped %v); want the stored run, no test copied", again, again.skipped)
	}
	late := s.ingest(t, []byte(streamHead+streamedTests(2000, 300)+streamTail(300, `{}`)+`,"reportId":"r-early"}`), CTRFOptions{})
	if !late.AlreadyIngested || late.RunID != first.RunID || late.skipped || late.Counts.Tests != 300 {
		t.Errorf("reportId after the tests: %+v (skipped %v); want the stored run, its tests copied then dropped", late, late.skipped)
	}
	// A report sent again must still be a valid report: its tests are checked even when not copied.
	bad := []byte(`{"reportId":"r-early",` + streamHead[1:] + `{"name":"x","status":"exploded","duration":1}` + streamTail(1, `{}`) + `}`)
	_, err := s.in.IngestCTRF(context.Background(), bad, CTRFOptions{Project: "shop", File: "bad.json"})
	refused(t, err, "results.tests[0].status", "is not one of")
	if after := s.rowCounts(t); !equalCounts(before, after) {
		t.Errorf("rows before %v, after %v", before, after)
	}
}

// A source schema from before migration 003 (the result → run reference checked at once) cannot take a
// streamed report: ingest says to migrate, and stores nothing.
func TestAnOlderSourceSchemaSaysToMigrate(t *testing.T) {
	s := newSource(t)
	if _, err := s.pool.Exec(context.Background(), `ALTER TABLE "Source Data".test_results
		ALTER CONSTRAINT test_results_run_id_fkey NOT DEFERRABLE`); err != nil {
		t.Fatal(err)
	}
	_, err := s.in.IngestCTRF(context.Background(), []byte(validCTRF), CTRFOptions{Project: "shop", File: "r.json"})
	if !errors.Is(err, ErrSchemaMissing) || !strings.Contains(err.Error(), "covsync migrate") {
		t.Errorf("got %v, want ErrSchemaMissing saying to run covsync migrate", err)
	}
	if got := s.rowCounts(t); got["runs"]+got["test_results"]+got["projects"] != 0 {
		t.Errorf("rows %v", got)
	}
}

// A report to a new project and release, still arriving, does not hold back another report to them: the
// project and release rows are written after the body, moments before the commit. Before, the first report
// held both rows for its whole upload, and parallel CI jobs of one new release queued behind it.
func TestAReportStillArrivingHoldsBackNoOther(t *testing.T) {
	s := newSource(t)
	pr, release := stalledBody(t, streamHead+streamedTests(0, 2000), streamTail(2000, `{}`)+`}`)
	slow := make(chan error, 1)
	go func() {
		_, err := s.in.IngestCTRFReader(context.Background(), pr, CTRFOptions{Project: "new", Release: "9.9", File: "slow.json"})
		slow <- err
	}()
	testwait.Until(t, 60*time.Second, "the slow report being copied", func() bool { return s.copying(t) > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	quick := []byte(streamHead + streamedTests(5000, 10) + streamTail(10, `{}`) + `}`)
	res, err := s.in.IngestCTRF(ctx, quick, CTRFOptions{Project: "new", Release: "9.9", File: "quick.json"})
	if err != nil {
		t.Fatalf("a second report to the new project and release while the first arrives: %v", err)
	}
	if !res.ProjectCreated || res.Tests != 10 {
		t.Errorf("second report: %+v, want the project created by it and its 10 tests", res)
	}
	select {
	case err := <-slow:
		t.Fatalf("the slow report ended before its body: %v", err)
	default:
	}
	release()
	if err := <-slow; err != nil {
		t.Errorf("the slow report, once whole: %v", err)
	}
}
