package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"
	"golang.org/x/time/rate"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/apikey"
	"github.com/covsync/covsync/internal/httpapi"
	"github.com/covsync/covsync/sync/schedule"
)

// ReadHeaderTimeout bounds the reading of a request's headers.
const ReadHeaderTimeout = 10 * time.Second

// writeMargin is the time a response may take to write after http.request_timeout has run out for its
// handling.
const writeMargin = 10 * time.Second

func (d *daemon) ingestAPI() *httpapi.Ingest {
	return &httpapi.Ingest{
		Authenticate:  apikey.NewStore(d.pool).Authenticate,
		StoreRun:      d.storeRun,
		StoreCoverage: d.storeCoverage,
		Limits: func() httpapi.Limits {
			h := d.cfg.Load().HTTP
			return httpapi.Limits{MaxBodyBytes: h.MaxBodyBytes, RequestTimeout: h.RequestTimeout,
				KeyRate: rate.Limit(h.KeyRequestsPerSecond), KeyBurst: h.KeyBurst}
		},
	}
}

// enqueueAfter returns the hook that enqueues project's cycles inside the ingest's transaction, or
// ErrNotReady when the scheduler has not started (the report would wait for the next tick unseen). Once the
// transaction has committed, the caller calls promote, which makes the new cycles available when
// sync_delay is up.
func (d *daemon) enqueueAfter(cfg *config.Config, project string) (hook func(context.Context, pgx.Tx) error, promote func(), err error) {
	d.mu.Lock()
	sched := d.sched
	d.mu.Unlock()
	if sched == nil {
		return nil, nil, httpapi.ErrNotReady
	}
	var kinds []string
	for _, p := range cfg.Projects {
		if p.ID == project {
			kinds = schedule.ProjectKinds(cfg, p)
		}
	}
	var fresh []int64
	hook = func(ctx context.Context, tx pgx.Tx) error {
		if len(kinds) == 0 {
			return nil // a project no target maps: stored, nothing to sync
		}
		jobs, err := sched.EnqueueAfterIngestTx(ctx, tx, project, kinds, cfg.Ingest.SyncDelay)
		for _, j := range jobs {
			fresh = append(fresh, j.JobID) // a waiting cycle it joined is due by then too; Promote leaves others be
		}
		return err
	}
	promote = func() {
		if len(fresh) == 0 {
			return
		}
		time.AfterFunc(cfg.Ingest.SyncDelay, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := sched.Promote(ctx, fresh); err != nil {
				d.log.WithError(err).Debug("ingest: cycles left to River's scheduler")
			}
		})
	}
	return hook, promote, nil
}

// ingestSlotsFor is how many reports may be stored at once over HTTPS with a pool of maxConns connections:
// half of what River's LISTEN connection leaves, at least one. A report is streamed into its transaction as
// its body arrives, so each holds a connection from its first byte to its commit, and slow or many uploads
// must not take the connections the cycles, the ledger and /readyz need. Reports beyond it wait for a slot
// (their bodies unread) within http.request_timeout.
func ingestSlotsFor(maxConns int32) int { return max(1, int(maxConns-1)/2) }

func (d *daemon) storeRun(ctx context.Context, project string, body io.Reader, q httpapi.RunQuery) (*postgres.RunIngest, error) {
	cfg := d.cfg.Load()
	hook, promote, err := d.enqueueAfter(cfg, project)
	if err != nil {
		return nil, err
	}
	select {
	case d.ingestSlots <- struct{}{}:
		defer func() { <-d.ingestSlots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for one of the %d reports stored at once (half of database.max_conns): %w",
			cap(d.ingestSlots), ctx.Err())
	}
	res, err := postgres.NewIngester(d.pool, cfg.Database.SourceSchema).IngestCTRFFrom(ctx, body, postgres.CTRFOptions{
		Project: project, Release: q.Release, RunURL: q.RunURL, BeforeCommit: hook})
	if err == nil {
		promote()
	}
	return res, err
}

func (d *daemon) storeCoverage(ctx context.Context, project string, body io.Reader) (*postgres.CoverageIngest, error) {
	cfg := d.cfg.Load()
	hook, promote, err := d.enqueueAfter(cfg, project)
	if err != nil {
		return nil, err
	}
	res, err := postgres.NewIngester(d.pool, cfg.Database.SourceSchema).IngestCoverageFrom(ctx, body, postgres.CoverageOptions{
		Project: project, BeforeCommit: hook})
	if err == nil {
		promote()
	}
	return res, err
}

// loadCert reads the endpoint's certificate pair; nil without http.tls.
func loadCert(cfg *config.Config) (*tls.Certificate, error) {
	t := cfg.HTTP.TLS
	if !t.Enabled() {
		return nil, nil
	}
	c, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls.cert_file: cannot load the certificate and key: %w", err)
	}
	return &c, nil
}

func (d *daemon) loadCert(cfg *config.Config) error {
	c, err := loadCert(cfg)
	if err != nil || c == nil {
		return err
	}
	d.cert.Store(c)
	return nil
}

// serverErrorLog sends net/http's own complaints (TLS handshake failures, timeouts) to the logger at debug.
func serverErrorLog(l *logrus.Logger) *log.Logger {
	return log.New(debugWriter{l}, "", 0)
}

type debugWriter struct{ l *logrus.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.l.Debug("http server: " + strings.TrimSpace(string(p)))
	return len(p), nil
}
