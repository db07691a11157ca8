package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonObj is one JSON object being read field by field, so that every complaint carries the JSON path of the
// field it is about. The CTRF and coverage readers are built on it: encoding/json's own type errors lose
// array indexes, and a lenient reader needs "a string or an array" and "a number or a string" anyway.
type jsonObj struct {
	path string
	m    map[string]json.RawMessage
}

// maxInt32 bounds counts: they are stored as PostgreSQL integer.
const maxInt32 = math.MaxInt32

func readObject(path string, raw json.RawMessage) (jsonObj, *InputError) {
	if isNull(raw) {
		return jsonObj{}, inputErr(path, "missing")
	}
	if kindOf(raw) != "an object" {
		return jsonObj{}, inputErr(path, "is %s, want an object", kindOf(raw))
	}
	// Key by key rather than json.Unmarshal into a map, which keeps the last of a key given twice silently.
	m := map[string]json.RawMessage{}
	s := newJSONStream(bytes.NewReader(raw), false)
	err := s.object(path, "", func(key string) error { return s.value(jsonObj{m: m}, key) })
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return jsonObj{}, ie
		}
		return jsonObj{}, inputErr(path, "%v", err)
	}
	return jsonObj{path: path, m: m}, nil
}

func (o jsonObj) at(key string) string { return joinPath(o.path, key) }

// has says whether key is present and not null.
func (o jsonObj) has(key string) bool { return !isNull(o.m[key]) }

// first returns the first of keys that is present (spelling variants: filePath / filepath).
func (o jsonObj) first(keys ...string) string {
	for _, k := range keys {
		if o.has(k) {
			return k
		}
	}
	return keys[0]
}

func (o jsonObj) object(key string) (jsonObj, *InputError) { return readObject(o.at(key), o.m[key]) }

func (o jsonObj) array(key string) ([]json.RawMessage, *InputError) {
	raw := o.m[key]
	if isNull(raw) {
		return nil, inputErr(o.at(key), "missing")
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, inputErr(o.at(key), "is %s, want an array", kindOf(raw))
	}
	return a, nil
}

// str reads an optional string ("" when absent). NUL characters are dropped: PostgreSQL text cannot hold them.
func (o jsonObj) str(key string) (string, *InputError) {
	raw := o.m[key]
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", inputErr(o.at(key), "is %s, want a string", kindOf(raw))
	}
	if !utf8.Valid(raw) { // encoding/json would turn the bad bytes into U+FFFD silently
		return "", inputErr(o.at(key), "is not valid UTF-8")
	}
	return strings.ReplaceAll(s, "\x00", ""), nil
}

// name reads a name: cleaned (cleanName), at most limit bytes, and when required present and not empty.
func (o jsonObj) name(key string, required bool, limit int) (string, *InputError) {
	if required && !o.has(key) {
		return "", inputErr(o.at(key), "missing")
	}
	s, err := o.str(key)
	if err != nil {
		return "", err
	}
	s = cleanName(s)
	if required && s == "" {
		return "", inputErr(o.at(key), "empty")
	}
	return s, checkName(o.at(key), s, limit)
}

// requiredStr reads a string that must be present and not blank.
func (o jsonObj) requiredStr(key string) (string, *InputError) {
	if !o.has(key) {
		return "", inputErr(o.at(key), "missing")
	}
	s, err := o.str(key)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", inputErr(o.at(key), "empty")
	}
	return s, nil
}

// label reads a string or a number as text (buildNumber is a number in the CTRF schema and a string in the
// Go and Playwright reporters).
func (o jsonObj) label(key string) (string, *InputError) {
	raw := o.m[key]
	if isNull(raw) {
		return "", nil
	}
	if n, ok := number(raw); ok {
		return strconv.FormatFloat(n, 'f', -1, 64), nil
	}
	return o.str(key)
}

// strs reads an optional array of strings.
func (o jsonObj) strs(key string) ([]string, *InputError) {
	if !o.has(key) {
		return nil, nil
	}
	items, err := o.array(key)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for i, raw := range items {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, inputErr(o.at(key)+"["+strconv.Itoa(i)+"]", "is %s, want a string", kindOf(raw))
		}
		if !utf8.Valid(raw) {
			return nil, inputErr(o.at(key)+"["+strconv.Itoa(i)+"]", "is not valid UTF-8")
		}
		out = append(out, strings.ReplaceAll(s, "\x00", ""))
	}
	return out, nil
}

// num reads an optional non-negative number; ok is false when absent.
func (o jsonObj) num(key string) (v float64, ok bool, ierr *InputError) {
	raw := o.m[key]
	if isNull(raw) {
		return 0, false, nil
	}
	n, isNum := number(raw)
	if !isNum {
		if kindOf(raw) == "a number" {
			return 0, false, inputErr(o.at(key), "%s is out of range", raw)
		}
		return 0, false, inputErr(o.at(key), "is %s, want a number", kindOf(raw))
	}
	if n < 0 {
		return 0, false, inputErr(o.at(key), "%s is negative", raw)
	}
	return n, true, nil
}

// count reads a non-negative whole number; required says whether absence is an error.
func (o jsonObj) count(key string, required bool) (int, *InputError) {
	n, ok, err := o.num(key)
	if err != nil {
		return 0, err
	}
	if !ok {
		if required {
			return 0, inputErr(o.at(key), "missing")
		}
		return 0, nil
	}
	if n != math.Trunc(n) {
		return 0, inputErr(o.at(key), "%s is not a whole number", o.m[key])
	}
	if n > maxInt32 {
		return 0, inputErr(o.at(key), "%s is too large", o.m[key])
	}
	return int(n), nil
}

// boolean reads an optional boolean.
func (o jsonObj) boolean(key string) (bool, *InputError) {
	raw := o.m[key]
	if isNull(raw) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, inputErr(o.at(key), "is %s, want true or false", kindOf(raw))
	}
	return b, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func number(raw json.RawMessage) (float64, bool) {
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, false
	}
	return n, true
}

// kindOf names the JSON type of raw for error messages.
func kindOf(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "missing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// readRoot parses data as one JSON object; what names the expected file kind in the complaint.
func readRoot(data []byte, what string) (jsonObj, error) {
	root := jsonObj{m: map[string]json.RawMessage{}}
	s := newJSONStream(bytes.NewReader(data), true)
	if err := s.object("", what, func(key string) error { return s.value(root, key) }); err != nil {
		return jsonObj{}, err
	}
	if err := s.end("the " + strings.TrimPrefix(what, "a ")); err != nil {
		return jsonObj{}, err
	}
	return root, nil
}
