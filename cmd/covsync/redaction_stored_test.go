package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/covsync/covsync/internal/benchload"
)

// TestAnEchoedBasicCredentialIsStoredNowhere: a server that echoes the credential it was sent (the base64 of
// email:token, the one spelling of the token that is on the wire) in its error must not get it into the
// cycle history, River's job row, stdout or the log.
func TestAnEchoedBasicCredentialIsStoredNowhere(t *testing.T) {
	const token = "tok-Echo-9f8e7d6c5b4a"
	w := benchload.Workload{Project: "shop", Prefix: "SHOP", Sizes: benchload.Sizes{Stories: 2, Releases: 1, Runs: 1, Results: 4}}
	db := migratedWith(t, w)
	site := newSimSite("acme", w, token)
	srv := site.sim.Start()
	t.Cleanup(srv.Close)
	site.url = srv.URL
	cfg := jiraOnlyConfig(t, db, []*simSite{site}, []string{token}, nil)
	basic := base64.StdEncoding.EncodeToString([]byte(simEmail + ":" + token))
	site.sim.FailNextWith(1, 400, "application/json", `{"errorMessages":["refused Authorization: Basic `+basic+` (`+basic+`)"],"errors":{}}`)

	var code int
	var out, errOut string
	logs := captureStderr(t, func() {
		code, out, errOut = execute(t, "resync", "--config", cfg, "--target", "jira", "--output", "json")
	})
	if code == exitOK {
		t.Fatalf("the refused cycle exited 0: %s", out)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var cycles, jobs string
	if err := pool.QueryRow(ctx, `SELECT coalesce(string_agg(coalesce(error, ''), ' '), '') FROM covsync.cycles`).Scan(&cycles); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT coalesce(string_agg(metadata::text || array_to_string(errors, ' '), ' '), '') FROM covsync.river_job`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cycles, "refused") {
		t.Fatalf("the cycle history does not hold the server's error, the test proves nothing: %q", cycles)
	}
	for where, text := range map[string]string{"cycle history": cycles, "River job": jobs, "stdout": out, "log": logs + errOut} {
		for _, secret := range []string{basic, basic[8 : len(basic)-8], token} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %q:\n%s", where, secret, text)
			}
		}
	}
}
