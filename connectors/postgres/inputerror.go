package postgres

import (
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
