package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// InputError is a file covsync refuses to ingest. It names the file and the JSON path of the first problem
// (results.tests[3].status), or the line and column of a JSON syntax error. The CLI exits 2 on it; nothing of
// the file was stored.
type InputError struct {
	File string // as the user named it; empty when parsing bytes with no file
	Path string // JSON path of the problem, e.g. results.tests[3].status; empty for syntax errors
	Line int    // 1-based line of a syntax error, 0 otherwise
	Col  int    // 1-based column of a syntax error
	Msg  string
}

func (e *InputError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Col)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// inputErr is an InputError at path.
func inputErr(path, format string, args ...any) *InputError {
	return &InputError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// withFile sets the file name on an InputError, passing any other error through.
func withFile(err error, file string) error {
	var ie *InputError
	if errors.As(err, &ie) {
		ie.File = file
	}
	return err
}

// jsonError turns an encoding/json error into an InputError: a syntax error gets its line and column (what
// an editor can jump to), a type error the path below prefix that the decoder reports.
func jsonError(data []byte, prefix string, err error) *InputError {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := lineCol(data, se.Offset)
		return &InputError{Line: line, Col: col, Msg: "invalid JSON: " + se.Error()}
	case errors.As(err, &te):
		return inputErr(joinPath(prefix, te.Field), "is %s, want %s", te.Value, te.Type.String())
	default:
		if strings.Contains(err.Error(), "unexpected end of JSON input") {
			line, col := lineCol(data, int64(len(data)))
			return &InputError{Line: line, Col: col, Msg: "invalid JSON: unexpected end of input"}
		}
		return inputErr(prefix, "%v", err)
	}
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	default:
		return prefix + "." + field
	}
}
