#!/usr/bin/env bash
# The test suite, on a fresh Debian or Ubuntu machine by itself: installs the
# software Vulkan driver that the wgpu tests run on (Mesa's lavapipe) when it is
# missing, then builds ndarray, flex and wgpu into one test binary and runs
# every test. Extra arguments go to `cargo test` (e.g. `./test.sh --test cli`).
set -euo pipefail
cd "$(dirname "$0")"

if command -v dpkg >/dev/null 2>&1 && ! { dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 && dpkg -s libvulkan1 >/dev/null 2>&1; }; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  echo "installing Mesa's software Vulkan driver (mesa-vulkan-drivers, libvulkan1) for the wgpu tests"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers libvulkan1 >/dev/null
fi

exec cargo test --release --workspace --features "wgpu flex" "$@"
