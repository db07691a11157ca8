package simkit

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// NewJSONRequest builds a request for a simulator's own tests: body (nil: none) marshalled as JSON, with
// Content-Type application/json.
func NewJSONRequest(t testing.TB, method, url string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// DoJSON sends req with http.DefaultClient and returns the response (its body read and closed) and the body
// decoded as a JSON object (nil when it is not one).
func DoJSON(t testing.TB, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}
