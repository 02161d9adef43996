#!/bin/sh
# Installs what the browser tests need from Debian's packages, once: headless Chromium and a
# font that carries Persian. Does nothing when both are already there.
set -eu
PACKAGES=""
[ -x /usr/bin/chromium ] || PACKAGES="chromium"
fc-list 2>/dev/null | grep -q "Noto Sans Arabic UI" || PACKAGES="$PACKAGES fonts-noto-ui-core"
[ -n "$PACKAGES" ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "the browser tests need:$PACKAGES — run as root: apt-get install -y$PACKAGES" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $PACKAGES
