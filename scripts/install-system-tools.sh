#!/usr/bin/env bash
# Installs the system tools the tests use (promtool, amtool) from Debian's packages
# when they are missing. Needs root (apt-get); a no-op when both are present.
set -euo pipefail
if command -v promtool >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-tools: promtool/amtool missing and not root; run: sudo $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-system-tools: installing Debian packages prometheus, prometheus-alertmanager" >&2
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends prometheus prometheus-alertmanager >/dev/null
# The packages start services on install where an init system runs; the tests start their own.
(systemctl stop prometheus prometheus-alertmanager 2>/dev/null || true)
command -v promtool >/dev/null && command -v amtool >/dev/null
