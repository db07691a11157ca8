package daemon

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/covsync/covsync/connectors/postgres"
	"github.com/covsync/covsync/internal/apikey"
	"github.com/covsync/covsync/internal/pgtest"
	"github.com/covsync/covsync/sync/schedule"
)

func TestARolledBackIngestEnqueuesNothing(t *testing.T) {
	dbURL, pool := migratedDB(t)
	ctx := context.Background()
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(ctx, c.Conn(), postgres.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Release()
	_ = dbURL
	sched, err := schedule.New(pool, nil, schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := postgres.NewIngester(pool, "covsync_source")
	jobs := func() int { return countRows(t, pool, "SELECT count(*) FROM covsync.river_job") }
	enqueue := func(ctx context.Context, tx pgx.Tx) error {
		_, err := sched.EnqueueAfterIngestTx(ctx, tx, "shop", []string{"jira", "confluence"}, time.Hour)
		return err
	}

	boom := errors.New("boom after the enqueue")
	_, err = in.IngestCTRF(ctx, report(t, 5, "a"), postgres.CTRFOptions{Project: "shop",
		BeforeCommit: func(ctx context.Context, tx pgx.Tx) error { return errors.Join(enqueue(ctx, tx), boom) }})
	if !errors.Is(err, boom) {
		t.Fatalf("ingest: %v, want the hook's error", err)
	}
	if n := jobs(); n != 0 {
		t.Errorf("%d jobs after a rolled-back ingest, want 0", n)
	}
	if n := countRows(t, pool, "SELECT count(*) FROM covsync_source.runs"); n != 0 {
		t.Errorf("%d runs after a rolled-back ingest, want 0", n)
	}
	// The control: the same ingest committed enqueues one cycle per kind, and a second report joins them.
	for _, id := range []string{"a", "b"} {
		if _, err := in.IngestCTRF(ctx, report(t, 5, id), postgres.CTRFOptions{Project: "shop", BeforeCommit: enqueue}); err != nil {
			t.Fatal(err)
		}
	}
	if n := jobs(); n != 2 {
		t.Errorf("%d jobs after two committed ingests, want 2 (one per kind, coalesced)", n)
	}
}

// TestTheKeyIsInNoLogLineAndNowhereInTheDatabase posts with a key every way the endpoint answers, at debug
// level, then looks for the key's secret part in every log entry and every row of every table.
func TestTheKeyIsInNoLogLineAndNowhereInTheDatabase(t *testing.T) {
	log := newCycleLog(t)
	s, pool := ingestServing(t, "  key_burst: 4\n  key_requests_per_second: 0.01\n  max_body_bytes: 100000", "  sync_delay: 100ms", log)
	key, other := mustKey(t, pool, "shop"), mustKey(t, pool, "bank")
	secret := key[apikey.PrefixLen:]
	revoked := mustKey(t, pool, "shop")
	for _, p := range []post{
		{path: "/v1/projects/shop/runs", key: key, body: report(t, 5, "a")},
		{path: "/v1/projects/shop/runs", key: key, body: report(t, 5, "a")},
		{path: "/v1/projects/shop/runs", key: key, body: []byte(`{"results":`)},
		{path: "/v1/projects/shop/runs", key: key, body: bytes.Repeat([]byte("x"), 200000)},
		{path: "/v1/projects/shop/runs", key: key, body: report(t, 5, "c")}, // 429
		{path: "/v1/projects/bank/runs", key: key, body: report(t, 5, "d")},
		{path: "/v1/projects/shop/runs", key: other, body: report(t, 5, "e")},
		{path: "/v1/projects/shop/runs", key: key + "x", body: report(t, 5, "f")},
		{path: "/v1/resync", key: key},
	} {
		s.post(t, p)
	}
	if _, err := apikey.NewStore(pool).Revoke(context.Background(), apikey.DisplayPrefix(revoked)); err != nil {
		t.Fatal(err)
	}
	s.post(t, post{path: "/v1/projects/shop/runs", key: revoked, body: report(t, 5, "g")})
	waitFor(t, 10*time.Second, "the ingest cycles", func() bool { return log.count("shop/jira ingest") == 1 })
	s.stop(t, 30*time.Second)

	entries := s.logs.AllEntries()
	if len(entries) < 5 {
		t.Fatalf("only %d log entries: the test would prove nothing", len(entries))
	}
	for _, e := range entries {
		line, err := e.String()
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{key, other, revoked} {
			if strings.Contains(line, k[apikey.PrefixLen:]) {
				t.Errorf("a log line holds a key: %s", line)
			}
		}
	}
	rows, err := pool.Query(context.Background(), `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var sch, name string
		err := r.Scan(&sch, &name)
		return pgx.Identifier{sch, name}.Sanitize(), err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tbl := range tables {
		if n := countRows(t, pool, "SELECT count(*) FROM "+tbl+" t WHERE strpos(t::text, $1) > 0", secret); n != 0 {
			t.Errorf("table %s holds the key in %d rows", tbl, n)
		}
	}
	if n := countRows(t, pool, "SELECT count(*) FROM covsync.api_keys WHERE hash = sha256($1::bytea)", []byte(key)); n != 1 {
		t.Errorf("the key's hash is stored %d times, want 1 (the test looked at the right database)", n)
	}
}

// TestAReportInFlightWhenTheDaemonStopsIsStoredWholeOrNotAtAll stops the daemon while reports are being
// posted, one of them with a body that never ends: every run stored has all its tests, and the unfinished
// one is not stored.
func TestAReportInFlightWhenTheDaemonStopsIsStoredWholeOrNotAtAll(t *testing.T) {
	log := newCycleLog(t)
	s, pool := ingestServing(t, "  key_burst: 1000\n  request_timeout: 3s", "", log)
	key := mustKey(t, pool, "shop")

	pr, pw := io.Pipe()
	full := report(t, 2000, "slow")
	go func() {
		_, _ = pw.Write(full[:len(full)/2]) // half the report, then nothing more
	}()
	slowDone := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/projects/shop/runs", pr)
		req.Header.Set("X-API-KEY", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slowDone <- 0
			return
		}
		resp.Body.Close()
		slowDone <- resp.StatusCode
	}()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", "http://"+s.addr+"/v1/projects/shop/runs", bytes.NewReader(report(t, 3000, fmt.Sprint(i))))
			req.Header.Set("X-API-KEY", key)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		time.Sleep(20 * time.Millisecond)
	}
	s.stop(t, 60*time.Second)
	wg.Wait()
	_ = pw.CloseWithError(errors.New("client gave up"))
	if code := <-slowDone; code == 201 {
		t.Errorf("the unfinished report was answered 201")
	}
	if n := countRows(t, pool, "SELECT count(*) FROM covsync_source.runs WHERE report_id = 'bench-slow'"); n != 0 {
		t.Errorf("the unfinished report was stored")
	}
	if n := countRows(t, pool, `SELECT count(*) FROM covsync_source.runs r
		WHERE r.tests <> (SELECT count(*) FROM covsync_source.test_results x WHERE x.run_id = r.id)`); n != 0 {
		t.Errorf("%d runs stored without all their tests", n)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key (mode 0600) into dir; it returns their paths
// and a pool trusting the certificate.
func selfSigned(t *testing.T, dir string, serial int64) (string, string, *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "covsync test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(c)
	return cert, key, roots
}

func TestTLSServesTheCertificateAndSIGHUPRotatesIt(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, roots1 := selfSigned(t, dir, 1)
	dbURL := pgtest.URL(t)
	cfg := writeIngestConfig(t, dbURL, fmt.Sprintf("  tls: {cert_file: %s, key_file: %s}", certFile, keyFile), "")
	s := serve(t, cfg, newCycleLog(t).newRunner)
	serial := func(roots *x509.CertPool) (int64, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		resp, err := c.Get("https://" + s.addr + "/healthz")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	if n, err := serial(roots1); err != nil || n != 1 {
		t.Fatalf("https with the first certificate: serial %d, %v", n, err)
	}
	resp, err := http.Get("http://" + s.addr + "/healthz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain http answered 200 on a TLS endpoint")
		}
	}
	_, _, roots2 := selfSigned(t, dir, 2)
	s.hup <- syscall.SIGHUP
	waitFor(t, 10*time.Second, "the rotated certificate", func() bool { n, err := serial(roots2); return err == nil && n == 2 })
}

func TestServerTimeoutsCloseIdleAndSlowConnections(t *testing.T) {
	log := newCycleLog(t)
	s, pool := ingestServing(t, "  idle_timeout: 1s\n  request_timeout: 2s", "", log)
	key := mustKey(t, pool, "shop")

	// An idle keep-alive connection is closed after idle_timeout.
	conn, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	if _, err := conn.Read(buf); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("idle connection: %v, want closed by the server", err)
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("idle connection closed after %v, want about idle_timeout (1s)", d)
	}

	// A valid key with a body that trickles in is cut off after request_timeout.
	slow, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /v1/projects/shop/runs HTTP/1.1\r\nHost: x\r\nX-API-KEY: %s\r\nContent-Length: 100000\r\n\r\n{", key)
	began = time.Now()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, err := slow.Write([]byte(" ")); err != nil {
					return
				}
			}
		}
	}()
	defer close(stop)
	_ = slow.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.Copy(io.Discard, slow)
	if d := time.Since(began); d > 8*time.Second {
		t.Errorf("a trickling body held its connection %v, want cut off near request_timeout (2s)", d)
	}
	if n := countRows(t, pool, "SELECT count(*) FROM covsync_source.runs"); n != 0 {
		t.Errorf("%d runs stored from a body cut off", n)
	}
}

// TestReadyzSaysWhyWithoutConnectionDetails points the daemon at a database that does not exist, under a
// user and a name that must not be shown to whoever asks /readyz.
func TestReadyzSaysWhyWithoutConnectionDetails(t *testing.T) {
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User("readyz_secret_user")
	u.Path = "/readyz_secret_db"
	cfg := filepath.Join(t.TempDir(), "covsync.yaml")
	writeConfig(t, cfg, u.String(), `  jira: "@every 1h"`, "")
	s := serve(t, cfg, newCycleLog(t).newRunner)
	leaks := []string{"readyz_secret_user", "readyz_secret_db", "user=", "database=", u.Host}
	if h := u.Query().Get("host"); h != "" {
		leaks = append(leaks, h)
	}
	var body string
	waitFor(t, 10*time.Second, "readyz saying the database is unreachable", func() bool {
		var code int
		code, body = get(t, s, "/readyz")
		return code == 503 && strings.Contains(body, "database")
	})
	time.Sleep(500 * time.Millisecond) // the first connection attempt has failed by now, whatever it said
	_, body = get(t, s, "/readyz")
	for _, leak := range leaks {
		if leak != "" && strings.Contains(body, leak) {
			t.Errorf("/readyz shows %q: %s", leak, body)
		}
	}
	if !strings.Contains(body, `"not ready"`) {
		t.Errorf("/readyz: %s, want status not ready", body)
	}
}

// A report that joins a cycle already waiting must not wait longer than sync_delay with it: a failed cycle
// waits out its retry's backoff (minutes) in state scheduled, and the report's cycle is brought forward.
func TestAReportDoesNotWaitOutAWaitingCyclesBackoff(t *testing.T) {
	_, pool := migratedDB(t)
	ctx := context.Background()
	sched, err := schedule.New(pool, nil, schedule.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enqueue := func(delay time.Duration) schedule.Enqueued {
		t.Helper()
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		jobs, err := sched.EnqueueAfterIngestTx(ctx, tx, "shop", []string{"jira"}, delay)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("enqueue: %v %+v", err, jobs)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		return jobs[0]
	}
	// A cycle scheduled ten minutes out, as a retry's backoff leaves one.
	first := enqueue(10 * time.Minute)
	second := enqueue(5 * time.Second)
	if !second.Duplicate || second.JobID != first.JobID {
		t.Fatalf("the second report made %+v, want it to join the waiting cycle %d", second, first.JobID)
	}
	var wait time.Duration
	if err := pool.QueryRow(ctx, `SELECT extract(epoch FROM scheduled_at - now()) * interval '1 second' FROM covsync.river_job WHERE id = $1`,
		first.JobID).Scan(&wait); err != nil {
		t.Fatal(err)
	}
	if wait > 5*time.Second {
		t.Errorf("the joined cycle still runs in %v, want within sync_delay (5s)", wait)
	}
}

// Each report posted is streamed into its own transaction as its body arrives, so it holds a database
// connection until it ends. Slow uploads must not take every connection: with database.max_conns 4, one
// report is stored at a time (ingestSlotsFor), the others wait unread, and /readyz still reaches the
// database. Without the bound, four of five trickling bodies took all four connections and /readyz answered
// 503, "database unreachable or failing".
func TestSlowReportsLeaveConnectionsForTheDaemon(t *testing.T) {
	pool := pgtest.Pool(t)
	dbURL := pool.Config().ConnString()
	path := writeIngestConfig(t, dbURL, "  request_timeout: 30s\n  key_burst: 100", "  sync_delay: 1h")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(b), "  auto_migrate: true\n", "  auto_migrate: true\n  max_conns: 4\n", 1)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	s := serve(t, path, newCycleLog(t).newRunner)
	waitFor(t, 30*time.Second, "ready", func() bool { c, _ := get(t, s, "/readyz"); return c == 200 })
	key := mustKey(t, pool, "shop")
	if got := ingestSlotsFor(4); got != 1 {
		t.Fatalf("ingestSlotsFor(4) = %d, want 1", got)
	}

	head := `{"results":{"tool":{"name":"slow"},"tests":[{"name":"SHOP-1 a","status":"passed","duration":1}`
	for range 5 {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/projects/shop/runs HTTP/1.1\r\nHost: x\r\nX-API-KEY: %s\r\nContent-Length: 100000\r\n\r\n%s", key, head)
	}
	copying := func() int {
		return countRows(t, pool, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query ILIKE 'copy %test_results%' AND state <> 'idle'`)
	}
	waitFor(t, 20*time.Second, "a report being copied", func() bool { return copying() > 0 })
	time.Sleep(time.Second) // time for the other two to begin, were they let in
	if n := copying(); n != 1 {
		t.Errorf("%d reports copied at once with max_conns 4, want 1", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("/readyz while reports trickle in: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz while reports trickle in: %d %s, want 200", resp.StatusCode, body)
	}
}
