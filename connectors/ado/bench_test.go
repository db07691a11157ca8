package ado_test

import (
	"fmt"
	"testing"

	"github.com/covsync/covsync/connectors/ado"
	"github.com/covsync/covsync/connectors/ado/adosim"
	"github.com/covsync/covsync/sync/report"
)

// BenchmarkSyncRequestsPerItem measures what one target cycle costs the service: every request of a first
// sync of 300 stories (discovery, the batched work-item reads, the document reads and writes, the field
// patches) per item, and the writes of a second, unchanged sync pushed anyway (must be 0).
//
//	go test -run '^$' -bench SyncRequestsPerItem ./connectors/ado/
func BenchmarkSyncRequestsPerItem(b *testing.B) {
	const n = 300
	for _, withFields := range []bool{false, true} {
		b.Run(fmt.Sprintf("fields=%v", withFields), func(b *testing.B) {
			var perItem, unchangedWrites float64
			for i := 0; i < b.N; i++ {
				f := newFixture(b, adosim.Options{})
				stories := make([]report.Story, 0, n)
				for j := 0; j < n; j++ {
					stories = append(stories, story(fmt.Sprint(f.sim.AddWorkItem("Shop", nil)), j%10, 10, 1, j%3))
				}
				tg := f.target(b, func(o *ado.Options) {
					if withFields {
						o.Fields = map[string]string{ado.FieldCoveragePercent: "Custom.TestCoverage", ado.FieldTestStatus: "Custom.TestStatus"}
					}
				})
				p := project(stories...)
				pushAll(b, tg, plan(b, tg, p))
				perItem = float64(len(f.sim.Requests())) / n
				f.sim.ResetRequests()
				pushAll(b, tg, plan(b, tg, p))
				docs, wis := f.writes()
				unchangedWrites = float64(docs + wis)
			}
			b.ReportMetric(perItem, "requests/item")
			b.ReportMetric(unchangedWrites, "unchanged-writes")
		})
	}
}
