#!/usr/bin/env bash
# Installs the system tools the tests use from Debian's packages when they are
# missing: promtool, amtool (Prometheus, Alertmanager) and a headless Chromium
# with its driver (dashboard previews, notebooks in the browser). Needs root
# (apt-get); a no-op when all are present. Nothing downloads a browser elsewhere.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
if have promtool && have amtool && have chromium && have chromedriver; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-tools: promtool/amtool/chromium missing and not root; run: sudo $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-system-tools: installing Debian packages prometheus, prometheus-alertmanager, chromium, chromium-driver" >&2
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends \
  prometheus prometheus-alertmanager chromium chromium-driver >/dev/null
# The packages start services on install where an init system runs; the tests start their own.
(systemctl stop prometheus prometheus-alertmanager 2>/dev/null || true)
have promtool && have amtool && have chromium && have chromedriver
