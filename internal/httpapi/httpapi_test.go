package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/sync/schedule"
)

func hashOf(k string) string { s := sha256.Sum256([]byte(k)); return hex.EncodeToString(s[:]) }

func newServer(t *testing.T, ready error) (*httptest.Server, *[]ResyncRequest) {
	t.Helper()
	keys, err := ParseKeyHashes([]string{hashOf("old-key"), hashOf("s3cret-key")})
	if err != nil {
		t.Fatal(err)
	}
	var got []ResyncRequest
	s := &Server{
		Ready: func(context.Context) error { return ready },
		Keys:  func() [][32]byte { return keys },
		Resync: func(_ context.Context, r ResyncRequest) ([]schedule.Enqueued, error) {
			got = append(got, r)
			if len(r.Projects) > 0 && r.Projects[0] == "nope" {
				return nil, fmt.Errorf("%w: project %q is not configured", ErrBadRequest, "nope")
			}
			return []schedule.Enqueued{{JobID: 7, Project: "shop", Kind: "jira"}}, nil
		},
		Log: logrus.New(),
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestResyncAPIKeys(t *testing.T) {
	tests := []struct {
		name     string
		header   map[string]string
		body     string
		wantCode int
		wantBody string
		enqueued bool
	}{
		{name: "no key is refused", wantCode: 401, wantBody: `"unauthorized"`},
		{name: "a wrong key is refused the same way", header: map[string]string{"X-API-KEY": "s3cret-kez"}, wantCode: 401, wantBody: `"unauthorized"`},
		{name: "the hash itself is not a key", header: map[string]string{"X-API-KEY": hashOf("s3cret-key")}, wantCode: 401},
		{name: "an empty key is refused", header: map[string]string{"X-API-KEY": ""}, wantCode: 401},
		{name: "a good key enqueues and returns the job ids", header: map[string]string{"X-API-KEY": "s3cret-key"},
			body: `{"projects":["shop"],"targets":["jira"],"force":true}`, wantCode: 202, wantBody: `{"jobs":[{"id":7,"project":"shop","target":"jira"}]}`, enqueued: true},
		{name: "any listed key works (rotation)", header: map[string]string{"X-API-KEY": "old-key"}, wantCode: 202, enqueued: true},
		{name: "an unknown body key is a 400", header: map[string]string{"X-API-KEY": "s3cret-key"}, body: `{"project":"shop"}`, wantCode: 400, wantBody: `unknown field`},
		{name: "trailing data after the JSON object is a 400, nothing enqueued", header: map[string]string{"X-API-KEY": "s3cret-key"},
			body: `{"projects":["shop"]} {"projects":["bank"]}`, wantCode: 400, wantBody: `trailing data`},
		{name: "trailing garbage after the JSON object is a 400", header: map[string]string{"X-API-KEY": "s3cret-key"},
			body: `{"projects":["shop"]}]`, wantCode: 400, wantBody: `request body`},
		{name: "trailing white space is fine", header: map[string]string{"X-API-KEY": "s3cret-key"},
			body: "{\"force\":true}\n\n", wantCode: 202, enqueued: true},
		{name: "an unknown project is a 400 naming it", header: map[string]string{"X-API-KEY": "s3cret-key"}, body: `{"projects":["nope"]}`, wantCode: 400, wantBody: `project \"nope\"`, enqueued: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := newServer(t, nil)
			req, _ := http.NewRequest("POST", srv.URL+"/v1/resync", strings.NewReader(tt.body))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode || !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("got %d %s, want %d containing %s", resp.StatusCode, b, tt.wantCode, tt.wantBody)
			}
			if (len(*got) > 0) != tt.enqueued {
				t.Errorf("enqueued %v, want %v", *got, tt.enqueued)
			}
			if tt.enqueued && tt.wantCode == 202 && tt.body != "" && !(*got)[0].Force {
				t.Errorf("force not passed on: %+v", *got)
			}
		})
	}
}

func TestResyncAPIDisabledWithoutKeys(t *testing.T) {
	s := &Server{Ready: func(context.Context) error { return nil }, Keys: func() [][32]byte { return nil }, Log: logrus.New()}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/resync", nil))
	if rec.Code != 404 {
		t.Errorf("without keys: %d, want 404", rec.Code)
	}
}

func TestReadyzSaysWhy(t *testing.T) {
	srv, _ := newServer(t, errors.New("database 127.0.0.1:5432 unreachable"))
	resp, err := srv.Client().Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "unreachable") {
		t.Errorf("readyz: %d %s", resp.StatusCode, b)
	}
	resp, err = srv.Client().Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz while not ready: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestParseKeyHashesNamesTheBadEntry(t *testing.T) {
	_, err := ParseKeyHashes([]string{hashOf("a"), "abc"})
	if err == nil || !strings.Contains(err.Error(), "http.resync_api_key_sha256[1]") {
		t.Fatalf("err = %v", err)
	}
}
