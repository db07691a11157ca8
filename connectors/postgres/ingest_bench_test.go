package postgres

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/covsync/covsync/internal/rss"
)

// writeBigReport writes a CTRF report of n tests (about 92 bytes each, a message on every tenth) to a file.
func writeBigReport(tb testing.TB, n int) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "big.json")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, `{"reportFormat":"CTRF","results":{"tool":{"name":"bench"},"summary":{"tests":%d,"passed":%d,"failed":0,"skipped":0,"pending":0,"other":0,"start":1763625600000},"environment":{"buildNumber":"1"},"tests":[`, n, n)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteString(",\n")
		}
		msg := ""
		if i%10 == 0 {
			msg = `,"message":"expected 1, got 2 at cart_test.go:42"`
		}
		fmt.Fprintf(w, `{"name":"SHOP-%d adds item %d","status":"passed","duration":%d,"suite":"cart"%s}`, i%5000+1, i, i%100, msg)
	}
	w.WriteString("]}}\n")
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkIngestMillionTests ingests a generated report of 1,000,000 tests (about 92 MB) from its file, as
// `covsync ingest ctrf` does, and reports the process's peak RSS during the ingest (docs/benchmarks.md).
//
//	go test -run '^$' -bench IngestMillionTests -benchtime 1x ./connectors/postgres/
func BenchmarkIngestMillionTests(b *testing.B) {
	s := newSource(b)
	path := writeBigReport(b, 1_000_000)
	st, _ := os.Stat(path)
	b.ReportMetric(float64(st.Size())/(1<<20), "report-MB")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := s.pool.Exec(context.Background(), `TRUNCATE "Source Data".runs, "Source Data".projects CASCADE`); err != nil {
			b.Fatal(err)
		}
		rss.ResetPeak()
		b.StartTimer()
		res, err := ingestReportFile(s.in, path)
		if err != nil {
			b.Fatal(err)
		}
		if res.Tests != 1_000_000 {
			b.Fatalf("stored %d tests", res.Tests)
		}
	}
	b.ReportMetric(rss.PeakMB(), "peak-RSS-MB")
}

func ingestReportFile(in *Ingester, path string) (*RunIngest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return in.IngestCTRFReader(context.Background(), LimitReport(f, MaxReportBytes), CTRFOptions{Project: "shop", File: path})
}

// BenchmarkDecodeCTRF is the parse alone, per test.
func BenchmarkDecodeCTRF(b *testing.B) {
	path := writeBigReport(b, 20_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeCTRF(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
