#!/usr/bin/env bash
# Installs the system programs wfkit's tests use, from Debian's packages,
# when they are missing and we may install (root, or passwordless sudo).
# Otherwise it prints how to install them and carries on: tests that need
# a missing program say so.
set -u
need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
# the browser test drives Debian's Chromium (Playwright's own download does not work here)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
if [ "$sudo" != none ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${need[*]} from Debian's packages"
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  if DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null; then
    exit 0
  fi
fi
echo "system-deps: missing ${need[*]}; install with: sudo apt-get install ${need[*]} (Debian/Ubuntu), brew install ${need[*]} (macOS)" >&2
exit 0
