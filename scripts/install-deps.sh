#!/usr/bin/env bash
# Installs the Debian 12 packages labhouse needs to build, run and test. Idempotent: when every
# package is already installed it does nothing (no apt-get update, no network).
# Usage: scripts/install-deps.sh [run|test]
set -euo pipefail
mode="${1:-run}"

# Build and run.
packages=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates
  libcpp-httplib-dev nlohmann-json3-dev libsqlite3-dev sqlite3 libspdlog-dev libcli11-dev
  libcurl4-openssl-dev libssl-dev zlib1g-dev libwebp-dev
  libopencv-dev
  libtorch-dev libopenblas0-openmp
  libdlib-dev libdlib-data
  libpqxx-dev libhiredis-dev
  curl
)
# Tests, benchmarks and the services the tests start on loopback.
if [ "$mode" = "test" ]; then
  packages+=(
    libgtest-dev libgmock-dev libbenchmark-dev python3
    wrk nginx-light redis-server postgresql
    facedetect python3-skimage chromium
    clang libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes (scripts/fuzz.sh)
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# Services are started by the tests themselves: keep the packages from starting system-wide ones.
if [ -z "$SUDO" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
