package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// refused asserts that err is an *InputError whose text names path and says msg.
func refused(t *testing.T, err error, path, msg string) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want an *InputError at %s", err, path)
	}
	if ie.Path != path {
		t.Errorf("error %q is at %q, want %q", err, ie.Path, path)
	}
	if !strings.Contains(ie.Msg, msg) {
		t.Errorf("error %q does not say %q", err, msg)
	}
}

// withEnv is validCTRF with results.environment set to env (a JSON object).
func withEnv(env string) string {
	return strings.Replace(validCTRF, `"tests":[`, `"environment":`+env+`,"tests":[`, 1)
}

// Every URL that comes from a report must be http(s): a javascript: or data: URL in environment.buildUrl
// would otherwise reach the linked-test-runs property, Azure DevOps fields and Confluence pages.
func TestReportURLsMustBeHTTP(t *testing.T) {
	for _, bad := range []string{"javascript:alert(1)//", " JavaScript:alert(1)", "data:text/html,<b>x</b>",
		"//evil.example/x", "http://", "ftp://ci.example/1", "vbscript:x", "https://ci.example/a b\x01"} {
		_, err := ParseCTRF([]byte(withEnv(`{"buildUrl":` + jsonString(bad) + `}`)))
		refused(t, err, "results.environment.buildUrl", "want an http(s) URL")
	}
	rep, err := ParseCTRF([]byte(withEnv(`{"buildUrl":"https://ci.example/job/7"}`)))
	if err != nil || rep.Env.BuildURL != "https://ci.example/job/7" {
		t.Fatalf("an https URL: %v, %+v", err, rep)
	}
	if err := CheckRunURL("javascript:alert(1)"); err == nil {
		t.Error("CheckRunURL accepts javascript:")
	}
}

// Times outside [2000-01-01, ingest time + 1 day] are refused with the field that holds them: a run dated in
// 9999 would stay the newest run for ever.
func TestTimesOutsideTheWindowAreRefused(t *testing.T) {
	now := time.Date(2025, 11, 20, 12, 0, 0, 0, time.UTC) // validCTRF starts at 2025-11-20T08:00Z
	for _, c := range []struct{ name, old, new, path string }{
		{"a start in 9999", `"start":1763625600000`, `"start":253402300799000`, "results.summary.start"},
		{"a start two days ahead", `"start":1763625600000`, `"start":1763798400000`, "results.summary.start"},
		{"a start before 2000", `"start":1763625600000`, `"start":631152000000`, "results.summary.start"},
		{"seconds mistaken for milliseconds", `"start":1763625600000`, `"start":176362560000`, "results.summary.start"},
		{"a stop in 2100", `"stop":1763625601000`, `"stop":4102444800000`, "results.summary.stop"},
		{"a test start in 9999", `"duration":2}`, `"duration":2,"start":253402300799000}`, "results.tests[1].start"},
		{"a timestamp in 9999 used for a missing start", `"start":1763625600000,`, ``, "timestamp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(validCTRF, c.old, c.new, 1)
			if c.path == "timestamp" {
				in = strings.Replace(in, `{"results"`, `{"timestamp":"9999-01-01T00:00:00Z","results"`, 1)
			}
			if in == validCTRF {
				t.Fatal("case changes nothing")
			}
			_, err := decodeCTRF(strings.NewReader(in), now, nil)
			refused(t, err, c.path, "outside")
		})
	}
	if _, err := decodeCTRF(strings.NewReader(validCTRF), now, nil); err != nil {
		t.Fatalf("the valid report: %v", err)
	}
}

// Duplicate keys are refused wherever they are: with two results objects the first was never checked.
func TestDuplicateKeysAreRefused(t *testing.T) {
	_, err := ParseCTRF([]byte(`{"results":{"tool":{"name":"x"}},` + validCTRF[1:]))
	refused(t, err, "results", "given twice")
	_, err = ParseCTRF([]byte(strings.Replace(validCTRF, `{"name":"b",`, `{"name":"b","name":"c",`, 1)))
	refused(t, err, "results.tests[1].name", "given twice")
	_, err = ParseCTRF([]byte(strings.Replace(validCTRF, `"tool":{"name":"jest"}`, `"tool":{"name":"jest","name":"x"}`, 1)))
	refused(t, err, "results.tool.name", "given twice")
	_, err = ParseCoverage([]byte(`{"project":"a","project":"b","measuredAt":"2026-11-20T09:00:00Z","stories":[]}`))
	refused(t, err, "project", "given twice")
}

// Names are valid UTF-8, free of control characters, trimmed and of bounded length.
func TestNamesAreValidatedAtIngest(t *testing.T) {
	t.Run("invalid UTF-8", func(t *testing.T) {
		in := strings.Replace(validCTRF, `"name":"b"`, "\"name\":\"b\xff\xfe\"", 1)
		_, err := ParseCTRF([]byte(in))
		refused(t, err, "results.tests[1].name", "not valid UTF-8")
	})
	t.Run("control characters are stripped", func(t *testing.T) {
		in := withEnv(`{"buildName":"  nightly\u001b[2J\u001b]0;owned\u0007 \u0000run\u0085 "}`)
		in = strings.Replace(in, `"name":"b"`, `"name":"b\u001b[31m red\u0007\u009b"`, 1)
		rep, err := ParseCTRF([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.RunName(); got != "nightly run" {
			t.Errorf("run name %q, want %q", got, "nightly run")
		}
		if got := rep.Tests[1].Name; got != "b red" {
			t.Errorf("test name %q, want %q", got, "b red")
		}
	})
	t.Run("a 40 KB run name", func(t *testing.T) {
		_, err := ParseCTRF([]byte(withEnv(`{"buildName":"` + strings.Repeat("n", 40<<10) + `"}`)))
		refused(t, err, "results.environment.buildName", "at most")
	})
	t.Run("a 10 KB test name", func(t *testing.T) {
		_, err := ParseCTRF([]byte(strings.Replace(validCTRF, `"name":"b"`, `"name":"`+strings.Repeat("b", 10<<10)+`"`, 1)))
		refused(t, err, "results.tests[1].name", "at most")
	})
	t.Run("a whitespace-only test name", func(t *testing.T) {
		_, err := ParseCTRF([]byte(strings.Replace(validCTRF, `"name":"b"`, `"name":" \t\u00a0 "`, 1)))
		refused(t, err, "results.tests[1].name", "empty")
	})
}

// A message beyond MaxMessageBytes is kept truncated with a marker, not whole and not refused.
func TestLongMessagesAreTruncatedWithAMarker(t *testing.T) {
	long := strings.Repeat("é", MaxMessageBytes) // two bytes each: twice the limit
	rep, err := ParseCTRF([]byte(strings.Replace(validCTRF, `"name":"b",`, `"name":"b","message":"`+long+`",`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Tests[1].Message
	if len(m) > MaxMessageBytes || !strings.HasSuffix(m, "[truncated by covsync: 131072 bytes in all]") {
		t.Errorf("message of %d bytes ending %q", len(m), m[max(0, len(m)-60):])
	}
	if !strings.HasPrefix(m, "éé") || !utf8Valid(m) {
		t.Error("the truncated message is not a valid prefix")
	}
}

// Trailing data after the report is refused, as encoding/json refuses it.
func TestTrailingDataIsRefused(t *testing.T) {
	_, err := ParseCTRF([]byte(validCTRF + ` {"results":{}}`))
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(ie.Msg, "after the report") {
		t.Fatalf("got %v", err)
	}
}

// Release names from the command line: trimmed, not empty, bounded, valid UTF-8; refused as input (exit 2),
// never as a database error.
func TestReleaseNamesAreValidatedAtIngest(t *testing.T) {
	s := newSource(t)
	ctx := context.Background()
	data := []byte(validCTRF)
	for _, c := range []struct{ release, msg string }{
		{" \t ", "empty"},
		{strings.Repeat("r", 2600), "at most"},
		{"1.0\xff", "not valid UTF-8"},
		{"1.0\x1b[2J", "control character"},
	} {
		_, err := s.in.IngestCTRF(ctx, data, CTRFOptions{Project: "shop", Release: c.release, File: "r.json"})
		var ie *InputError
		if !errors.As(err, &ie) || ie.Path != "--release" || !strings.Contains(ie.Msg, c.msg) {
			t.Errorf("release %.20q: %v, want an input error at --release saying %q", c.release, err, c.msg)
		}
	}
	_, err := s.in.IngestCTRF(ctx, data, CTRFOptions{Project: "shop", RunURL: "javascript:alert(1)", File: "r.json"})
	refused(t, err, "--run-url", "want an http(s) URL")
	if got := s.rowCounts(t); got["runs"] != 0 || got["releases"] != 0 {
		t.Errorf("refused ingests stored %v", got)
	}
	// " 1.0" is the release "1.0": one release, not two pages with one title.
	s.ingest(t, data, CTRFOptions{Release: " 1.0"})
	s.ingest(t, []byte(strings.Replace(validCTRF, `"name":"a"`, `"name":"a2"`, 1)), CTRFOptions{Release: "1.0"})
	var names []string
	rows, _ := s.pool.Query(ctx, `SELECT name FROM "Source Data".releases ORDER BY name`)
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		names = append(names, n)
	}
	if strings.Join(names, "|") != "1.0" {
		t.Errorf("releases %q, want one release 1.0", names)
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

// A syntax error deep in a streamed report is placed at its line and column, in a pretty report and in a
// minified one, whatever the decoder's buffering.
func TestSyntaxErrorsDeepInAStreamAreLocated(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"results":{"tool":{"name":"x"},"summary":{"tests":0,"passed":0,"failed":0,"skipped":0,"pending":0,"other":0,"start":1763625600000},"tests":[` + "\n")
	for i := 0; i < 20000; i++ {
		b.WriteString(`{"name":"test number ` + strconv.Itoa(i) + `","status":"passed","duration":1},` + "\n")
	}
	pretty := b.String() + `{"name":"x","status":"passed","duration":1,,}]}}`
	_, err := ParseCTRF([]byte(pretty))
	var ie *InputError
	if !errors.As(err, &ie) || ie.Line != 20002 || ie.Col != 45 {
		// Column in the convention of TestRefusedReportsNameThePath (json.Unmarshal's offset).
		t.Errorf("pretty: got %v, want line 20002, column 45", err)
	}
	minified := strings.ReplaceAll(pretty, "\n", "")
	_, err = ParseCTRF([]byte(minified))
	if !errors.As(err, &ie) || ie.Line != 1 || ie.Col != strings.Index(minified, ",,")+3 {
		t.Errorf("minified: got %v, want line 1, column %d", err, strings.Index(minified, ",,")+3)
	}
}
