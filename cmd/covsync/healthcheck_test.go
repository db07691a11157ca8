package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthcheckExitCodes(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer ok.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, tt := range []struct {
		name string
		url  string
		want int
	}{
		{"a live endpoint is healthy", ok.URL + "/healthz", exitOK},
		{"a 503 is unhealthy", ok.URL + "/readyz", exitDependency},
		{"nothing listening is unhealthy", dead.URL + "/healthz", exitDependency},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(context.Background(), []string{"healthcheck", "--url", tt.url}); got != tt.want {
				t.Errorf("exit %d, want %d", got, tt.want)
			}
		})
	}
}
