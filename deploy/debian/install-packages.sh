#!/bin/sh
# Installs the Debian packages the deployment checks and operators use:
#   prometheus               promtool (tests/deploy check the alerting rules with it)
#   prometheus-alertmanager  amtool (check deploy/compose/alertmanager.yml)
#   kcat                     read and write topics by hand (alerts.raw, impacts, ...)
#
# Idempotent: packages already installed are skipped, and nothing runs when all are.
# Non-interactive. Runs as root, or through sudo when not root (sudo -n without a terminal).
# Exits non-zero, saying why, when apt-get is missing or the install fails.
#
#   deploy/debian/install-packages.sh            # the three packages
#   deploy/debian/install-packages.sh kcat       # only those named
set -eu

PACKAGES="${*:-prometheus prometheus-alertmanager kcat}"

say() { printf 'install-packages: %s\n' "$*" >&2; }

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    say "apt-get/dpkg-query not found: this script needs a Debian or Ubuntu system."
    say "Install these packages with your system's package manager instead: $PACKAGES"
    exit 2
fi

missing=""
for package in $PACKAGES; do
    status=$(dpkg-query -W --showformat='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [ "$status" = "installed" ]; then
        say "$package: already installed, skipped"
    else
        missing="$missing $package"
    fi
done

if [ -z "$missing" ]; then
    say "nothing to do"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    # Without a terminal (CI, a test run) sudo must not wait for a password: -n fails instead.
    if [ -t 0 ]; then as_root="sudo"; else as_root="sudo -n"; fi
else
    say "not root and sudo not found: run as root to install:$missing"
    exit 3
fi

export DEBIAN_FRONTEND=noninteractive
say "installing:$missing"
# The package lists are refreshed once; an outdated list is the usual cause of "404 Not Found".
# shellcheck disable=SC2086  # $missing is a space-separated list of package names
if ! $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
    || ! $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends $missing; then
    say "apt-get failed installing:$missing (see the output above)"
    exit 4
fi
say "installed:$missing"
