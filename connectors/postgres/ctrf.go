package postgres

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CTRFReport is one CTRF report (https://ctrf.io) as covsync stores it: read leniently, values normalised.
type CTRFReport struct {
	ReportID string // CTRF reportId, "" when absent
	Tool     string
	Summary  CTRFSummary // the summary's own counts, as the report states them
	Start    time.Time   // the run's start: summary.start, or what StartFrom names
	// StartFrom says where Start came from when summary.start was zero or missing (which the CTRF schema
	// allows; the Go reporter and junit-to-ctrf write 0): StartTimestamp, StartStop or StartIngest; "" when
	// it is summary.start.
	StartFrom string
	Stop      time.Time // the run's stop; zero when absent
	Env       CTRFEnvironment
	Tests     []CTRFTest
}

// CTRFSummary is the report's own summary counts.
type CTRFSummary struct {
	Tests, Passed, Failed, Skipped, Pending, Other int
}

// Where a run's start came from when summary.start was zero or missing.
const (
	StartTimestamp = "timestamp"    // the report's root timestamp
	StartStop      = "summary.stop" // the run's stop
	StartIngest    = "ingest time"  // nothing in the report: the time it was ingested
)

// TestCounts are the counts of the report's tests by status: the run's counts as stored.
func (rep *CTRFReport) TestCounts() CTRFSummary {
	var c CTRFSummary
	for _, t := range rep.Tests {
		c.add(t.Status)
	}
	return c
}

// add counts one test of status.
func (c *CTRFSummary) add(status string) {
	c.Tests++
	switch status {
	case "passed":
		c.Passed++
	case "failed":
		c.Failed++
	case "skipped":
		c.Skipped++
	case "pending":
		c.Pending++
	default:
		c.Other++
	}
}

// CTRFEnvironment is the part of results.environment covsync keeps.
type CTRFEnvironment struct {
	ReportName  string
	BuildName   string
	BuildNumber string // a number in the schema, a string in some reporters: kept as text
	BuildID     string
	BuildURL    string
	Branch      string // branchName
	Commit      string
	Environment string // testEnvironment
}

// CTRFTest is one test of a report.
type CTRFTest struct {
	Name       string
	Status     string // passed | failed | skipped | pending | other
	DurationMS float64
	Start      time.Time // zero when absent
	Suite      string    // a suite array is joined with " > ", the separator reporters use in strings
	File       string
	Message    string // ANSI escapes stripped
	Flaky      bool
	Retries    int
	Tags       []string
	// Tickets are the ticket keys found in Tags and Name, each once, in order of appearance.
	Tickets []string
}

// Statuses a CTRF test may have (the schema's enum).
var ctrfStatuses = []string{"passed", "failed", "skipped", "pending", "other"}

var (
	// Ticket keys: a Jira issue key, or an Azure Boards mention of a work item, not preceded by
	// a letter or digit. Not \b: Go subtest names turn spaces into underscores ("TestCart/SHOP-12_adds"), and
	// the greedy digits already stop a key from ending inside a number.
	ticketRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9])([A-Z][A-Z0-9]+-[0-9]+|AB#[0-9]+)`)
	// ansiRE matches ANSI CSI sequences (colours, cursor moves) and OSC sequences (hyperlinks), which test
	// runners write into messages for terminals and which mean nothing in Jira or Confluence.
	ansiRE = regexp.MustCompile("\x1b\\[[0-9;?]*[ -/]*[@-~]|\x1b\\][^\x07\x1b]*(?:\x07|\x1b\\\\)")
	// wholeTicketRE is a string that is exactly one ticket key.
	wholeTicketRE = regexp.MustCompile(`^(?:[A-Z][A-Z0-9]+-[0-9]+|AB#[0-9]+)$`)
)

// Times before this many units since the epoch are taken as seconds, later ones as milliseconds: some
// reporters (Playwright's) write per-test start/stop in seconds while the summary is in milliseconds.
// 1e11 seconds is the year 5138; 1e11 milliseconds is 1973.
const secondsBelow = 1e11

// maxMillis is 9999-12-31T23:59:59.999Z: later instants are not times a test ran (and overflow timestamptz).
const maxMillis = 253402300799999

// ParseCTRF reads a CTRF report held in memory; see DecodeCTRF.
func ParseCTRF(data []byte) (*CTRFReport, error) { return DecodeCTRF(bytes.NewReader(data)) }

// DecodeCTRF reads a CTRF report from r. It accepts what real reporters write: suite as a string or an array,
// missing reportFormat and specVersion, per-test start/stop in seconds, the Go reporter's filepath / retry /
// flake spellings, float durations and ANSI escapes in messages (stripped). It refuses, with an *InputError
// naming the JSON path of the first problem, invalid JSON, a key given twice, a missing required field
// (results, tool name, summary counts and start, tests, a test's name, status and duration), a status outside
// the enum, negative counts or durations, strings that are not valid UTF-8, names beyond their limits, URLs
// that are not http(s) and times outside the accepted window (limits.go).
//
// It streams: results.tests is read one test at a time, so what it holds is the parsed tests (with their
// messages capped) and never the body or a parse tree of the whole report. Ingest goes further and holds
// no test at all (EachCTRFTest).
func DecodeCTRF(r io.Reader) (*CTRFReport, error) {
	rep, err := decodeCTRF(r, time.Now(), nil)
	if rep != nil && rep.Tests == nil {
		rep.Tests = []CTRFTest{}
	}
	return rep, err
}

// EachCTRFTest reads a CTRF report from r as DecodeCTRF does, but hands each test to each as soon as it is
// read and keeps none: the report it returns has no Tests. An error from each stops the read and is returned
// as is. A test handed over is not yet known to be part of a valid report: the report is refused, with its
// error returned here, when what follows the test is wrong.
//
// seen, when not nil, is called once as results.tests begins, with the reportId read so far ("" when the
// report gives none before its tests). When it says the report is stored already, the tests are still read
// and checked but not handed to each.
func EachCTRFTest(r io.Reader, seen func(reportID string) bool, each func(CTRFTest) error) (*CTRFReport, error) {
	return decodeCTRF(r, time.Now(), &testSink{seen: seen, each: each})
}

// testSink is where decodeCTRF hands the tests; nil keeps them in the report's Tests.
type testSink struct {
	seen func(reportID string) bool
	each func(CTRFTest) error
}

// decodeCTRF reads the report, handing its tests to sink, or keeping them in Tests when sink is nil.
func decodeCTRF(r io.Reader, now time.Time, sink *testSink) (*CTRFReport, error) {
	s := newJSONStream(r, true)
	rep := &CTRFReport{}
	root := jsonObj{m: map[string]json.RawMessage{}}
	results := jsonObj{path: "results", m: map[string]json.RawMessage{}}
	err := s.object("", "a CTRF report", func(key string) error {
		if key != "results" {
			return s.value(root, key)
		}
		root.m[key] = json.RawMessage("{}") // present; its fields are in results
		return s.object("results", "", func(key string) error {
			if key != "tests" {
				return s.value(results, key)
			}
			results.m[key] = json.RawMessage("[]") // present: tests of an empty array are read as such
			stored := false
			if sink != nil && sink.seen != nil {
				id, _ := root.label("reportId") // a bad one is refused by readHeader, at the end
				stored = sink.seen(cleanName(id))
			}
			return s.array("results.tests", func(i int, raw json.RawMessage) error {
				t, ierr := readTest("results.tests["+strconv.Itoa(i)+"]", raw, now)
				switch {
				case ierr != nil:
					return ierr
				case sink == nil:
					rep.Tests = append(rep.Tests, t)
				case !stored:
					return sink.each(t)
				}
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	if err := s.end("the report"); err != nil {
		return nil, err
	}
	if err := rep.readHeader(root); err != nil {
		return nil, err
	}
	if _, ok := root.m["results"]; !ok {
		return nil, inputErr("results", "missing")
	}
	if err := rep.readToolAndSummary(root, results); err != nil {
		return nil, err
	}
	if err := rep.checkTimes(root, results, now); err != nil {
		return nil, err
	}
	if err := rep.readEnvironment(results); err != nil {
		return nil, err
	}
	if _, ierr := results.array("tests"); ierr != nil {
		return nil, ierr
	}
	return rep, nil
}

// checkTimes refuses any time the report gives, and the start it was given, outside the accepted window.
func (rep *CTRFReport) checkTimes(root, results jsonObj, now time.Time) *InputError {
	sum, ierr := results.object("summary")
	if ierr != nil {
		return ierr
	}
	for _, key := range []string{"start", "stop"} {
		t, ok, ierr := instant(sum, key)
		if ierr != nil {
			return ierr
		}
		if ok && t.Unix() != 0 {
			if ierr := inWindow(sum.at(key), t, now); ierr != nil {
				return ierr
			}
		}
	}
	if ts, _ := root.str("timestamp"); ts != "" {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			if ierr := inWindow("timestamp", t, now); ierr != nil {
				return ierr
			}
		}
	}
	return inWindow(sum.at("start"), rep.Start, now)
}

func (rep *CTRFReport) readHeader(root jsonObj) *InputError {
	if root.has("reportFormat") {
		f, err := root.str("reportFormat")
		if err != nil {
			return err
		}
		if f != "CTRF" {
			return inputErr("reportFormat", "is %q, want \"CTRF\"", f)
		}
	}
	id, err := root.label("reportId")
	if err != nil {
		return err
	}
	rep.ReportID = cleanName(id)
	if err := checkName("reportId", rep.ReportID, MaxLabelBytes); err != nil {
		return err
	}
	return nil
}

func (rep *CTRFReport) readToolAndSummary(root, results jsonObj) *InputError {
	tool, ierr := results.object("tool")
	if ierr != nil {
		return ierr
	}
	if rep.Tool, ierr = tool.name("name", true, MaxLabelBytes); ierr != nil {
		return ierr
	}
	sum, ierr := results.object("summary")
	if ierr != nil {
		return ierr
	}
	for _, c := range []struct {
		key string
		dst *int
	}{
		{"tests", &rep.Summary.Tests}, {"passed", &rep.Summary.Passed}, {"failed", &rep.Summary.Failed},
		{"skipped", &rep.Summary.Skipped}, {"pending", &rep.Summary.Pending}, {"other", &rep.Summary.Other},
	} {
		if *c.dst, ierr = sum.count(c.key, true); ierr != nil {
			return ierr
		}
	}
	start, ok, ierr := instant(sum, "start")
	if ierr != nil {
		return ierr
	}
	if rep.Stop, _, ierr = instant(sum, "stop"); ierr != nil {
		return ierr
	}
	rep.Start = start
	if !ok || start.Unix() == 0 {
		// The schema allows a zero start (the Go reporter and junit-to-ctrf write 0): the report's root
		// timestamp says when it was generated, else the stop, else the time it is read (and ingested).
		ts, err := root.str("timestamp")
		if err != nil {
			return err
		}
		if ts != "" {
			t, perr := time.Parse(time.RFC3339Nano, ts)
			if perr != nil {
				return inputErr(root.at("timestamp"), "%q is not an RFC 3339 time", ts)
			}
			rep.Start, rep.StartFrom = t.UTC(), StartTimestamp
		} else if !rep.Stop.IsZero() && rep.Stop.Unix() != 0 {
			rep.Start, rep.StartFrom = rep.Stop, StartStop
		} else {
			rep.Start, rep.StartFrom = time.Now().UTC().Truncate(time.Millisecond), StartIngest
		}
	}
	if rep.Stop.Unix() == 0 {
		rep.Stop = time.Time{} // 0 means "not recorded", as for start
	}
	return nil
}

func (rep *CTRFReport) readEnvironment(results jsonObj) *InputError {
	if !results.has("environment") {
		return nil
	}
	env, ierr := results.object("environment")
	if ierr != nil {
		return ierr
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"reportName", &rep.Env.ReportName}, {"buildName", &rep.Env.BuildName},
		{"buildNumber", &rep.Env.BuildNumber}, {"buildId", &rep.Env.BuildID}, {"buildUrl", &rep.Env.BuildURL},
		{"branchName", &rep.Env.Branch}, {"commit", &rep.Env.Commit}, {"testEnvironment", &rep.Env.Environment},
	} {
		v, err := env.label(f.key)
		if err != nil {
			return err
		}
		if v = strings.TrimSpace(v); f.key == "buildUrl" && v != "" {
			// Checked before cleaning: a URL with control characters in it is refused, not repaired.
			if err := CheckRunURL(v); err != nil {
				return inputErr(env.at(f.key), "%v", err)
			}
		}
		*f.dst = cleanName(v)
		if err := checkName(env.at(f.key), *f.dst, MaxLabelBytes); err != nil {
			return err
		}
	}
	return nil
}

func readTest(path string, raw json.RawMessage, now time.Time) (CTRFTest, *InputError) {
	o, ierr := readObject(path, raw)
	if ierr != nil {
		return CTRFTest{}, ierr
	}
	var t CTRFTest
	if t.Name, ierr = o.name("name", true, MaxNameBytes); ierr != nil {
		return t, ierr
	}
	if !o.has("status") {
		return t, inputErr(o.at("status"), "missing")
	}
	if t.Status, ierr = o.str("status"); ierr != nil {
		return t, ierr
	}
	if !slices.Contains(ctrfStatuses, t.Status) {
		return t, inputErr(o.at("status"), "%q is not one of %s", t.Status, strings.Join(ctrfStatuses, ", "))
	}
	d, ok, ierr := o.num("duration")
	if ierr != nil {
		return t, ierr
	}
	if !ok {
		return t, inputErr(o.at("duration"), "missing")
	}
	t.DurationMS = d
	if t.Start, _, ierr = instant(o, "start"); ierr != nil {
		return t, ierr
	}
	switch {
	case t.Start.IsZero():
	case t.Start.Unix() == 0: // reporters write 0 for "not measured"
		t.Start = time.Time{}
	default:
		if ierr := inWindow(o.at("start"), t.Start, now); ierr != nil {
			return t, ierr
		}
	}
	if t.Suite, ierr = suite(o); ierr != nil {
		return t, ierr
	}
	// The Go reporter (ctrf-io/go-ctrf-json-reporter) spells these filepath, retry and flake.
	if t.Suite = cleanName(t.Suite); len(t.Suite) > MaxNameBytes {
		return t, checkName(o.at("suite"), t.Suite, MaxNameBytes)
	}
	if t.File, ierr = o.name(o.first("filePath", "filepath"), false, MaxNameBytes); ierr != nil {
		return t, ierr
	}
	if t.Retries, ierr = o.count(o.first("retries", "retry"), false); ierr != nil {
		return t, ierr
	}
	if t.Flaky, ierr = o.boolean(o.first("flaky", "flake")); ierr != nil {
		return t, ierr
	}
	msg, ierr := o.str("message")
	if ierr != nil {
		return t, ierr
	}
	t.Message = cleanMessage(msg)
	if t.Tags, ierr = o.strs("tags"); ierr != nil {
		return t, ierr
	}
	for i, tag := range t.Tags {
		t.Tags[i] = cleanName(tag)
		if ierr := checkName(o.at("tags")+"["+strconv.Itoa(i)+"]", t.Tags[i], MaxLabelBytes); ierr != nil {
			return t, ierr
		}
	}
	t.Tickets = tickets(t.Tags, t.Name)
	return t, nil
}

// suite reads a suite given as a string or as an array of strings (top-level first).
func suite(o jsonObj) (string, *InputError) {
	raw := o.m["suite"]
	if isNull(raw) {
		return "", nil
	}
	if kindOf(raw) == "an array" {
		parts, err := o.strs("suite")
		return strings.Join(parts, " > "), err
	}
	return o.str("suite")
}

// instant reads a time given in milliseconds (or, below secondsBelow, seconds) since the epoch.
func instant(o jsonObj, key string) (time.Time, bool, *InputError) {
	n, ok, ierr := o.num(key)
	if ierr != nil || !ok {
		return time.Time{}, false, ierr
	}
	ms := n
	if n < secondsBelow {
		ms = n * 1000
	}
	if ms > maxMillis {
		return time.Time{}, false, inputErr(o.at(key), "%s is not a time in milliseconds since 1970", o.m[key])
	}
	return time.UnixMilli(int64(math.Round(ms))).UTC(), true, nil
}

// tickets returns the ticket keys in tags and name, each once. A tag links when it is a key or holds one
// ("@SHOP-12", "covers:AB#7").
func tickets(tags []string, name string) []string {
	var out []string
	add := func(s string) {
		for _, m := range ticketRE.FindAllStringSubmatch(s, -1) {
			if k := m[1]; !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	for _, t := range tags {
		add(t)
	}
	add(name)
	return out
}

// RunName is the name a run gets (as in "build 482"): "build N" from environment.buildNumber,
// else environment.buildName, else environment.reportName, else the tool and the start time in UTC
// ("vitest 2026-03-19 11:14").
func (rep *CTRFReport) RunName() string {
	switch {
	case rep.Env.BuildNumber != "":
		return "build " + rep.Env.BuildNumber
	case rep.Env.BuildName != "":
		return rep.Env.BuildName
	case rep.Env.ReportName != "":
		return rep.Env.ReportName
	default:
		return fmt.Sprintf("%s %s", rep.Tool, rep.Start.UTC().Format("2006-01-02 15:04"))
	}
}

// Build is the build the run belongs to: buildNumber, else buildId, else buildName.
func (rep *CTRFReport) Build() string {
	for _, b := range []string{rep.Env.BuildNumber, rep.Env.BuildID, rep.Env.BuildName} {
		if b != "" {
			return b
		}
	}
	return ""
}
