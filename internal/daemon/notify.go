package daemon

import (
	"context"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"github.com/sirupsen/logrus"
)

// notify sends one sd_notify state; without NOTIFY_SOCKET (not under systemd Type=notify) it does nothing.
func notify(log logrus.FieldLogger, state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		log.WithError(err).Warn("systemd notify failed")
	}
}

// watchdog pings systemd at half the WatchdogSec interval until ctx ends. The pings come from a goroutine
// that only lives while Run does: a wedged process (not a down database, which keeps the daemon up and
// not-ready) stops them, and systemd restarts it.
func watchdog(ctx context.Context, log logrus.FieldLogger) {
	every, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		log.WithError(err).Warn("systemd watchdog settings unreadable; not pinging")
		return
	}
	if every <= 0 {
		return
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			notify(log, sd.SdNotifyWatchdog)
		}
	}
}

// reloading is RELOADING=1 with the monotonic timestamp systemd (≥ 253, Type=notify-reload) wants beside it.
func reloading() string { return sd.SdNotifyReloading + "\n" + sd.SdNotifyMonotonicUsec() }
