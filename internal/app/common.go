package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/logging"
	"github.com/covsync/covsync/sync/push"
	"github.com/covsync/covsync/templates"
)

// NewLogger builds the logger the config asks for, writing to w. Every line it writes is redacted: the
// config's secrets, Authorization headers and DSN passwords never reach the log.
func NewLogger(w io.Writer, c *config.Config) *logrus.Logger {
	return logging.New(w, c.Log, c.Secrets()...)
}

// newDeps gathers what target builders need.
func newDeps(c *config.Config, l *logrus.Logger, version string) deps {
	if version == "" {
		version = "dev"
	}
	return deps{cfg: c, log: l, templates: templates.Set{Dir: c.Templates.Dir}, userAgent: "covsync/" + version, clients: newClients()}
}

// Database deadlines. Without them a database that stops answering (a dropped route, a firewall that
// black-holes packets) hangs a command or a cycle for as long as TCP keeps trying.
const (
	// DefaultConnectTimeout bounds each connection attempt when the URL sets no connect_timeout.
	DefaultConnectTimeout = 10 * time.Second
	// DBReadTimeout bounds one report read (every query of it); the largest projects read in seconds.
	DBReadTimeout = 2 * time.Minute
)

// OpenPool connects to the configured database and pings it. A URL that does not parse is a
// push.KindConfig error; a database that does not answer is push.KindUnreachable.
func OpenPool(ctx context.Context, c *config.Config) (*pgxpool.Pool, error) {
	pc, err := PoolConfig(c)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, push.Unreachable(fmt.Errorf("database: %w", err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, push.Unreachable(fmt.Errorf("database %s:%d unreachable: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err))
	}
	return pool, nil
}

// PoolConfig is the pool configuration of the configured database, the one every command and the daemon
// use: the URL's, with at most database.max_conns connections and a connect timeout of
// DefaultConnectTimeout unless the URL (or PGCONNECT_TIMEOUT) sets one. pgxpool connects lazily, so the
// daemon builds its pool from this without waiting for the database.
func PoolConfig(c *config.Config) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.Database.URL.Reveal())
	if err != nil {
		// pgx's parse errors can echo the connection string: never pass them through.
		return nil, push.Configf("database.url: not a valid PostgreSQL connection string")
	}
	if c.Database.MaxConns > 0 {
		pc.MaxConns = c.Database.MaxConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	return pc, nil
}
