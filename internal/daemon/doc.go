// Package daemon is `covsync serve`: it keeps the HTTP endpoint up from the first second, waits (with backoff)
// for PostgreSQL and current migrations, runs the River scheduler, reloads config and credentials on SIGHUP,
// stops gracefully on cancellation, and speaks systemd's notify protocol. cmd/covsync hands it the cycle
// Runner, so this package knows no connector.
package daemon
