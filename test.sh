#!/usr/bin/env bash
# The test suite, on a fresh Debian or Ubuntu machine by itself: installs the
# software Vulkan driver that the wgpu tests run on (Mesa's lavapipe) and
# Chromium (the web page's test) when they are missing, then builds ndarray,
# flex and wgpu into one test binary and runs every test. Extra arguments go
# to `cargo test` (e.g. `./test.sh --test cli`).
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests need: Mesa's software Vulkan driver for the wgpu
# tests, Chromium for the web page's browser test (tests/serve.rs).
packages="mesa-vulkan-drivers libvulkan1 chromium"
if command -v dpkg >/dev/null 2>&1; then
  missing=""
  for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    echo "installing the Debian packages the tests need:$missing"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null \
      || echo "warning: could not install$missing; without Chromium the browser test fails (ATTEND_SKIP_BROWSER=1 skips it)" >&2
  fi
fi

# Without a browser (no package manager, or the install failed) the browser test
# is skipped, loudly, instead of failing the suite for want of a program.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && ! command -v google-chrome >/dev/null 2>&1; then
  echo "warning: no Chromium on this machine: the web page's browser test is skipped (ATTEND_SKIP_BROWSER=1)" >&2
  export ATTEND_SKIP_BROWSER=1
fi

exec cargo test --release --workspace --features "wgpu flex" "$@"
