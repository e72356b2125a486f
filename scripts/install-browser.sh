#!/usr/bin/env bash
# The browser tests drive Debian's chromium through chromedriver. Installs both when
# missing (needs root, as on CI); elsewhere says what to install and goes on, and the
# browser tests then skip (they fail under CI=true).
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "install-browser: install chromium and chromedriver (Debian: chromium chromium-driver)" >&2
fi
