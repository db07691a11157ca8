package confluence_test

import (
	"context"
	"testing"

	"github.com/covsync/covsync/connectors/confluence"
	"github.com/covsync/covsync/connectors/confluence/confluencesim"
)

// BenchmarkRender5000Stories renders a 5,000-story project page with the default 500-row cap.
func BenchmarkRender5000Stories(b *testing.B) {
	tmpl, err := confluence.ParseTemplate(pageTemplate(b))
	if err != nil {
		b.Fatal(err)
	}
	in := confluence.PageInput{Project: bigProject(5000), JiraBaseURL: "https://acme.atlassian.net"}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		body, err := confluence.Render(tmpl, in)
		if err != nil {
			b.Fatal(err)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size), "body-bytes")
}

// BenchmarkUnchangedSync pushes an unchanged page (the ledger-lost case) and reports the requests and
// writes it costs: the lookup only, and no write.
func BenchmarkUnchangedSync(b *testing.B) {
	e := newEnv(b, confluencesim.Options{})
	tg := e.target(b)
	p := bigProject(500)
	items, err := tg.Plan(context.Background(), p)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tg.Push(context.Background(), items[0]); err != nil {
		b.Fatal(err)
	}
	e.sim.ResetRequests()
	n := 0
	for b.Loop() {
		if _, err := tg.Push(context.Background(), items[0]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(len(e.sim.Requests()))/float64(n), "requests/item")
	b.ReportMetric(float64(len(e.sim.Writes()))/float64(n), "writes/item")
}
