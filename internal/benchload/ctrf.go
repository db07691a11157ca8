package benchload

import (
	"bufio"
	"fmt"
	"io"
)

// WriteCTRF writes a CTRF report of n tests to w, as a CI reporter would post it: test i links to story
// PREFIX-(i%stories+1) by its name; every 50th test fails and every 20th is skipped. id makes the report
// distinct (its reportId and build number), so two reports with different ids are two runs.
func WriteCTRF(w io.Writer, prefix string, stories, n int, id string) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	passed, failed, skipped := 0, 0, 0
	status := func(i int) string {
		switch {
		case i%50 == 49:
			return "failed"
		case i%20 == 19:
			return "skipped"
		}
		return "passed"
	}
	for i := range n {
		switch status(i) {
		case "failed":
			failed++
		case "skipped":
			skipped++
		default:
			passed++
		}
	}
	start := epoch.UnixMilli()
	fmt.Fprintf(bw, `{"reportId":%q,"results":{"tool":{"name":"jest"},"summary":{"tests":%d,"passed":%d,"failed":%d,"skipped":%d,"pending":0,"other":0,"start":%d,"stop":%d},"environment":{"buildName":"ci","buildNumber":%q},"tests":[`,
		"bench-"+id, n, passed, failed, skipped, start, start+60_000, id)
	for i := range n {
		if i > 0 {
			bw.WriteByte(',')
		}
		fmt.Fprintf(bw, `{"name":"%s-%d checkout step %d","status":%q,"duration":%d,"suite":"cart","filePath":"test/cart_%d.test.js"}`,
			prefix, i%stories+1, i, status(i), 5+i%40, i%100)
	}
	bw.WriteString("]}}")
	return bw.Flush()
}
