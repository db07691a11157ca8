#!/usr/bin/env bash
# Checks deploy/systemd/covsync.service with `systemd-analyze verify` (CI calls this). Installs systemd with
# apt only when systemd-analyze is missing. verify also checks that ExecStart's binary exists, so the unit is
# verified from a temp copy whose ExecStart points at a covsync built here.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "== installing systemd (systemd-analyze not found)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends systemd
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

CGO_ENABLED=0 go build -o "$tmp/covsync" ./cmd/covsync
sed "s|/usr/local/bin/covsync|$tmp/covsync|" deploy/systemd/covsync.service >"$tmp/covsync.service"

echo "== systemd-analyze verify covsync.service"
# verify prints problems and exits non-zero on errors; warnings about the host's own units are not ours.
out=$(systemd-analyze verify --man=no "$tmp/covsync.service" 2>&1) || {
  echo "$out"
  exit 1
}
# Unknown keys and unparsable values are only warnings to systemd (exit 0), but they are mistakes here.
if printf '%s\n' "$out" | grep -F "covsync.service" >/dev/null; then
  echo "$out"
  echo "systemd-analyze reported problems in covsync.service"
  exit 1
fi
echo "ok"

if command -v shellcheck >/dev/null 2>&1; then
  echo "== shellcheck deploy/verify.sh"
  shellcheck deploy/verify.sh
fi
