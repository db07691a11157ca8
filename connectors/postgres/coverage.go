package postgres

import (
	"encoding/json"
	"strconv"
	"time"
)

// Coverage is one story-coverage file (docs/architecture.md, Contracts):
//
//	{"project":"shop","measuredAt":"RFC3339","stories":[{"ticket":"SHOP-1","coveredMethods":12,"totalMethods":20}]}
type Coverage struct {
	Project    string
	MeasuredAt time.Time
	Stories    []StoryCoverage
}

// StoryCoverage is the covered and total methods of one ticket.
type StoryCoverage struct {
	Ticket         string
	CoveredMethods int
	TotalMethods   int
}

// ParseCoverage reads a coverage file. It refuses, with an *InputError naming the JSON path, invalid JSON, a
// missing project, a measuredAt that is not RFC 3339, a ticket that is not a ticket key (SHOP-1, AB#123) or
// appears twice, and method counts that are missing, negative, fractional, or covered above total.
func ParseCoverage(data []byte) (*Coverage, error) {
	root, err := readRoot(data, "a coverage file")
	if err != nil {
		return nil, err
	}
	c := &Coverage{}
	var ierr *InputError
	if c.Project, ierr = root.requiredStr("project"); ierr != nil {
		return nil, ierr
	}
	ts, ierr := root.requiredStr("measuredAt")
	if ierr != nil {
		return nil, ierr
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return nil, inputErr("measuredAt", "%q is not an RFC 3339 time such as 2026-11-20T08:00:00Z", ts)
	}
	c.MeasuredAt = t.UTC()
	stories, ierr := root.array("stories")
	if ierr != nil {
		return nil, ierr
	}
	seen := make(map[string]int, len(stories))
	c.Stories = make([]StoryCoverage, 0, len(stories))
	for i, raw := range stories {
		path := "stories[" + strconv.Itoa(i) + "]"
		s, ierr := readStoryCoverage(path, raw)
		if ierr != nil {
			return nil, ierr
		}
		if j, dup := seen[s.Ticket]; dup {
			return nil, inputErr(path+".ticket", "%s is already given in stories[%d]", s.Ticket, j)
		}
		seen[s.Ticket] = i
		c.Stories = append(c.Stories, s)
	}
	return c, nil
}

func readStoryCoverage(path string, raw json.RawMessage) (StoryCoverage, *InputError) {
	o, ierr := readObject(path, raw)
	if ierr != nil {
		return StoryCoverage{}, ierr
	}
	var s StoryCoverage
	if s.Ticket, ierr = o.requiredStr("ticket"); ierr != nil {
		return s, ierr
	}
	// Only keys a test can link to become stories a target can find; anything else is a typo.
	if !wholeTicketRE.MatchString(s.Ticket) {
		return s, inputErr(o.at("ticket"), "%q is not a ticket key such as SHOP-12 or AB#123", s.Ticket)
	}
	if s.CoveredMethods, ierr = o.count("coveredMethods", true); ierr != nil {
		return s, ierr
	}
	if s.TotalMethods, ierr = o.count("totalMethods", true); ierr != nil {
		return s, ierr
	}
	if s.CoveredMethods > s.TotalMethods {
		return s, inputErr(o.at("coveredMethods"), "%d is more than totalMethods %d", s.CoveredMethods, s.TotalMethods)
	}
	return s, nil
}
