package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/sync/schedule"
)

// ResyncRequest is the body of POST /v1/resync. Empty lists mean every configured project and every kind.
type ResyncRequest struct {
	Projects []string `json:"projects"`
	Targets  []string `json:"targets"`
	Force    bool     `json:"force"`
	// Reconcile asks for reconcile cycles: read back what the targets hold and push what drifted.
	Reconcile bool `json:"reconcile"`
}

// ErrBadRequest wraps a resync request the daemon refuses (unknown project or kind): the caller gets a 400
// with the message.
var ErrBadRequest = errors.New("bad request")

// Server serves the endpoint. Every function field is called per request, so a SIGHUP that swaps what they
// return takes effect at once.
type Server struct {
	// Ready returns nil when the daemon can do its work (database reachable, migrations current), else why not.
	Ready func(ctx context.Context) error
	// Metrics serves /metrics.
	Metrics http.Handler
	// Keys returns the SHA-256 hashes of the accepted X-API-KEY values; none disables POST /v1/resync.
	Keys func() [][32]byte
	// Resync enqueues the cycles the request asks for and returns their jobs.
	Resync func(ctx context.Context, r ResyncRequest) ([]schedule.Enqueued, error)
	// Ingest takes reports from CI; nil leaves its routes out.
	Ingest *Ingest
	Log    logrus.FieldLogger
}

// ReadyTimeout bounds one readiness check, so a hung database makes /readyz answer 503, not hang.
const ReadyTimeout = 3 * time.Second

// Handler routes the endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.HandleFunc("POST /v1/resync", s.resync)
	if s.Ingest != nil {
		s.Ingest.routes(mux, s.Log)
	}
	return mux
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
	defer cancel()
	if err := s.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// maxBody bounds a resync request body; a real one is a few hundred bytes.
const maxBody = 64 << 10

func (s *Server) resync(w http.ResponseWriter, r *http.Request) {
	keys := s.Keys()
	if len(keys) == 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "resync API disabled: http.resync_api_key_sha256 is empty"})
		return
	}
	if !KeyMatches(keys, r.Header.Get("X-API-KEY")) {
		// One answer for a missing and a wrong key, so a caller learns nothing about which it was.
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	var req ResyncRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "request body unreadable or over 64 KiB"})
		return
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		err := dec.Decode(&req)
		if err == nil {
			// One JSON value and nothing after it: a body with more is not what the client meant to send.
			if _, terr := dec.Token(); terr != io.EOF {
				err = errors.New("trailing data after the JSON object")
			}
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "request body: " + err.Error()})
			return
		}
	}
	jobs, err := s.Resync(r.Context(), req)
	if errors.Is(err, ErrBadRequest) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if err != nil {
		s.Log.WithError(err).Error("resync API: enqueue failed")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "could not enqueue: " + err.Error()})
		return
	}
	s.Log.WithField("jobs", len(jobs)).Info("resync API: cycles enqueued")
	writeJSON(w, http.StatusAccepted, map[string]any{"jobs": jobs})
}

// KeyMatches reports whether key's SHA-256 is one of hashes. It compares every hash in constant time and never
// stops early, so the answer's timing says nothing about how close a wrong key came or which hash matched.
func KeyMatches(hashes [][32]byte, key string) bool {
	sum := sha256.Sum256([]byte(key))
	match := 0
	for i := range hashes {
		match |= subtle.ConstantTimeCompare(sum[:], hashes[i][:])
	}
	return match == 1 && key != ""
}

// ParseKeyHashes decodes the config's hex SHA-256 hashes; an error names the entry.
func ParseKeyHashes(hexes []string) ([][32]byte, error) {
	out := make([][32]byte, 0, len(hexes))
	for i, h := range hexes {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("http.resync_api_key_sha256[%d]: not a hex SHA-256 (64 hex digits)", i)
		}
		out = append(out, [32]byte(b))
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
