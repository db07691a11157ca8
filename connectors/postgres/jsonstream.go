package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonStream reads one JSON document token by token (encoding/json's Decoder), so that a large array is
// read one element at a time. It keeps the last tailSize bytes read to give syntax errors a line and column
// without holding the document.
type jsonStream struct {
	dec *json.Decoder
	src *tailReader
}

// newJSONStream reads r; located says whether syntax errors get a line and column (which costs a ring of
// tailSize bytes: not for the small objects of a document already read).
func newJSONStream(r io.Reader, located bool) *jsonStream {
	src := &tailReader{r: r}
	if located {
		src.ring = make([]byte, tailSize)
	}
	return &jsonStream{dec: json.NewDecoder(src), src: src}
}

// object reads an object at path, calling fn with each key; fn must consume the key's value. A key given
// twice is refused. what, when not empty, names the expected document ("a CTRF report") for a top level
// that is not an object.
func (s *jsonStream) object(path, what string, fn func(key string) error) error {
	tok, err := s.dec.Token()
	if err != nil {
		return s.fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		ierr := inputErr(path, "is %s, want an object", tokenKind(tok))
		if tok == nil {
			ierr = inputErr(path, "missing")
		}
		if what != "" {
			ierr.Msg = "not " + what + ": " + ierr.Msg
		}
		return ierr
	}
	seen := map[string]bool{}
	for s.dec.More() {
		tok, err := s.dec.Token()
		if err != nil {
			return s.fail(err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return inputErr(joinPath(path, key), "given twice")
		}
		seen[key] = true
		if err := fn(key); err != nil {
			return err
		}
	}
	if _, err := s.dec.Token(); err != nil { // the closing brace
		return s.fail(err)
	}
	return nil
}

// value reads the next value into o.m[key].
func (s *jsonStream) value(o jsonObj, key string) error {
	var raw json.RawMessage
	if err := s.dec.Decode(&raw); err != nil {
		return s.fail(err)
	}
	o.m[key] = raw
	return nil
}

// array reads an array at path one element at a time. null is left for the caller to call missing; another
// kind is refused.
func (s *jsonStream) array(path string, fn func(i int, raw json.RawMessage) error) error {
	tok, err := s.dec.Token()
	if err != nil {
		return s.fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		if tok == nil {
			return inputErr(path, "missing")
		}
		return inputErr(path, "is %s, want an array", tokenKind(tok))
	}
	for i := 0; s.dec.More(); i++ {
		var raw json.RawMessage
		if err := s.dec.Decode(&raw); err != nil {
			return s.fail(err)
		}
		if err := fn(i, raw); err != nil {
			return err
		}
	}
	if _, err := s.dec.Token(); err != nil {
		return s.fail(err)
	}
	return nil
}

// end refuses anything but white space after the document.
func (s *jsonStream) end(what string) error {
	_, err := s.dec.Token()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return s.fail(err)
	}
	return s.src.at(s.dec.InputOffset(), "invalid JSON: data after "+what)
}

// fail turns a reader or decoder error into an *InputError (a syntax error with its line and column).
func (s *jsonStream) fail(err error) error {
	var ie *InputError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &ie):
		return ie
	case errors.As(err, &se):
		return s.src.at(s.syntaxOffset(se), "invalid JSON: "+se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return s.src.at(s.src.n, "invalid JSON: unexpected end of input")
	default:
		return err // a failing reader: not the input's fault
	}
}

// syntaxOffset is where se happened in the stream. The Decoder's own offsets are not that: its scanner counts
// only the bytes of values it decoded whole, not those Token stepped over. The value it failed on still starts
// at InputOffset and is in its buffer up to the error, so a fresh scan of it places the error exactly (in the
// convention of json.Unmarshal: the bad byte included).
func (s *jsonStream) syntaxOffset(se *json.SyntaxError) int64 {
	base := s.dec.InputOffset()
	var raw json.RawMessage
	var again *json.SyntaxError
	if err := json.NewDecoder(s.dec.Buffered()).Decode(&raw); errors.As(err, &again) {
		return base + again.Offset
	}
	return se.Offset
}

func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	}
	return fmt.Sprintf("%T", tok)
}

// tailSize is how many of the last bytes read a tailReader keeps.
const tailSize = 64 << 10

// tailReader counts the bytes and lines read through it and keeps the last tailSize bytes in a ring, which
// is enough to place an error the decoder reports at an offset it has just read.
type tailReader struct {
	r     io.Reader
	n     int64  // bytes read
	lines int64  // newlines among them
	ring  []byte // nil: not kept
}

func (t *tailReader) Read(p []byte) (int, error) {
	k, err := t.r.Read(p)
	b := p[:k]
	t.lines += int64(bytes.Count(b, []byte{'\n'}))
	if t.ring == nil {
		t.n += int64(k)
		return k, err
	}
	for len(b) > 0 {
		c := copy(t.ring[t.n%tailSize:], b)
		t.n += int64(c)
		b = b[c:]
	}
	return k, err
}

// byteAt is the byte at offset off, which must be within the ring.
func (t *tailReader) byteAt(off int64) byte { return t.ring[off%tailSize] }

// at is an InputError saying msg at byte offset off: with its line and column when the ring still holds what
// lies between off and the last line break before it (always, for a document whose lines are short), else
// with the offset.
func (t *tailReader) at(off int64, msg string) *InputError {
	off = min(off, t.n)
	lo := max(0, t.n-tailSize)
	if t.ring != nil && off >= lo {
		line := t.lines + 1
		for i := off; i < t.n; i++ {
			if t.byteAt(i) == '\n' {
				line--
			}
		}
		for i := off - 1; i >= lo; i-- {
			if t.byteAt(i) == '\n' {
				return &InputError{Line: int(line), Col: int(off - i), Msg: msg}
			}
		}
		if line == 1 {
			return &InputError{Line: 1, Col: int(off + 1), Msg: msg}
		}
	}
	return &InputError{Msg: fmt.Sprintf("%s (at byte %d)", msg, off)}
}
