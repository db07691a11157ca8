package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDecodedBodyStopsAtTheLimitBeforeAndAfterDecompression(t *testing.T) {
	zip := func(b []byte) []byte {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return out.Bytes()
	}
	const max = 1000
	for _, tc := range []struct {
		name     string
		body     []byte
		encoding string
		tooLarge bool
	}{
		{"exactly the limit", bytes.Repeat([]byte("a"), max), "", false},
		{"one byte past the limit", bytes.Repeat([]byte("a"), max+1), "", true},
		{"gzip of exactly the limit", zip(bytes.Repeat([]byte("a"), max)), "gzip", false},
		{"gzip of one byte past the limit", zip(bytes.Repeat([]byte("a"), max+1)), "gzip", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/", bytes.NewReader(tc.body))
			req.ContentLength = -1 // as a chunked upload: the reader, not the header, must stop it
			req.Header.Set("Content-Encoding", tc.encoding)
			body, err := decodedBody(httptest.NewRecorder(), req, max)
			var n int64
			if err == nil {
				n, err = io.Copy(io.Discard, body)
			}
			var mbe *http.MaxBytesError
			tooLarge := errors.Is(err, errTooLarge) || errors.As(err, &mbe)
			if tooLarge != tc.tooLarge || (err != nil && !tooLarge) {
				t.Fatalf("read %d bytes, err %v; want too large: %v", n, err, tc.tooLarge)
			}
			if !tooLarge && n != max {
				t.Errorf("read %d bytes, want %d", n, max)
			}
		})
	}
}
