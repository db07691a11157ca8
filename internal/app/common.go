package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/covsync/covsync/config"
	"github.com/covsync/covsync/internal/logging"
	"github.com/covsync/covsync/templates"
)

// loadConfig loads --config (or $COVSYNC_CONFIG). A bad config is a usage error (exit 2) whose message
// names every problem (a *config.Problems: "file:line: key: message" per problem).
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	p, err := configPath(cmd)
	if err != nil {
		return nil, err
	}
	c, err := config.Load(p)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return c, nil
}

// newLogger builds the logger the config asks for, writing to stderr. Every line it writes is redacted:
// the config's secrets, Authorization headers and DSN passwords never reach the log.
func newLogger(c *config.Config) *logrus.Logger {
	return newLoggerTo(os.Stderr, c)
}

// newLoggerTo is newLogger writing to w.
func newLoggerTo(w io.Writer, c *config.Config) *logrus.Logger {
	return logging.New(w, c.Log, c.Secrets()...)
}

// newDeps gathers what target builders need.
func newDeps(c *config.Config, l *logrus.Logger) deps {
	v, _ := buildInfo()
	d := deps{cfg: c, log: l, templates: templates.Set{Dir: c.Templates.Dir}, userAgent: "covsync/" + v}
	d.clients = newClients()
	return d
}

// Database deadlines. Without them a database that stops answering (a dropped route, a firewall that
// black-holes packets) hangs a command or a cycle for as long as TCP keeps trying.
const (
	// defaultConnectTimeout bounds each connection attempt when the URL sets no connect_timeout.
	defaultConnectTimeout = 10 * time.Second
	// dbReadTimeout bounds one report read (every query of it); the largest projects read in seconds.
	dbReadTimeout = 2 * time.Minute
)

// openPool connects to the configured database. An unreachable database is exit 3.
func openPool(ctx context.Context, c *config.Config) (*pgxpool.Pool, error) {
	pc, err := poolConfig(c)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, withCode(exitDependency, fmt.Errorf("database: %w", err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, withCode(exitDependency, fmt.Errorf("database %s:%d unreachable: %w", pc.ConnConfig.Host, pc.ConnConfig.Port, err))
	}
	return pool, nil
}

// poolConfig is the pool configuration of the configured database: the URL's, with at most
// database.max_conns connections and a connect timeout of defaultConnectTimeout unless the URL (or
// PGCONNECT_TIMEOUT) sets one.
func poolConfig(c *config.Config) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.Database.URL.Reveal())
	if err != nil {
		// pgx's parse errors can echo the connection string: never pass them through.
		return nil, withCode(exitUsage, fmt.Errorf("database.url: not a valid PostgreSQL connection string"))
	}
	if c.Database.MaxConns > 0 {
		pc.MaxConns = c.Database.MaxConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	return pc, nil
}
