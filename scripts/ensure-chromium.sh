#!/usr/bin/env bash
# Makes sure Debian's Chromium is at /usr/bin/chromium, which the rules editor's browser test
# (packages/local-runtime/tests/editor.browser.test.ts) drives with playwright-core. Playwright's own
# browser download is not used: it needs a network the CI machines do not have.
# Installs it with apt-get when missing (through sudo unless run as root); exits non-zero if it cannot.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "ensure-chromium: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM") is installed"
  exit 0
fi

fail() {
  echo "ensure-chromium: $1" >&2
  echo "ensure-chromium: the rules editor's browser test needs Debian's chromium at $CHROMIUM; install it with: sudo apt-get install chromium" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available on this machine (not Debian or Ubuntu)"

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  fail "$CHROMIUM is missing and this user can neither install packages nor sudo without a password"
fi

echo "ensure-chromium: $CHROMIUM is missing; installing Debian's chromium (apt-get update && apt-get install -y chromium)"
export DEBIAN_FRONTEND=noninteractive
${as_root[@]+"${as_root[@]}"} apt-get update || fail "apt-get update failed"
${as_root[@]+"${as_root[@]}"} apt-get install -y chromium || fail "apt-get install chromium failed"

[ -x "$CHROMIUM" ] || fail "apt-get installed chromium but $CHROMIUM is still missing"
echo "ensure-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
