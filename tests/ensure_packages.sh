#!/bin/sh
# Installs what the tests need from Debian's packages, once: headless Chromium and a font that
# carries Persian (the browser tests), nginx (the proxy configuration's check). Does nothing
# when all are already there.
set -eu
PACKAGES=""
[ -x /usr/bin/chromium ] || PACKAGES="chromium"
fc-list 2>/dev/null | grep -q "Noto Sans Arabic UI" || PACKAGES="$PACKAGES fonts-noto-ui-core"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || PACKAGES="$PACKAGES nginx-light"
[ -n "$PACKAGES" ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "the tests need:$PACKAGES — run as root: apt-get install -y$PACKAGES" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $PACKAGES
