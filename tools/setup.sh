#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: npm dependencies, and a WebGPU adapter
# (Mesa's lavapipe from bookworm-backports) when none exists; with --browser also Debian's
# Chromium for the browser tests. Quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

# npm dependencies: reinstall only when package-lock.json changed since the last install.
stamp=node_modules/.diception-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

have_adapter() {
  node --input-type=module -e "
    import { create, globals } from 'webgpu';
    Object.assign(globalThis, globals);
    const g = create([]);
    const a = await g.requestAdapter();
    process.exit(a ? 0 : 1);" >/dev/null 2>&1
}

if ! have_adapter; then
  echo "setup: no WebGPU adapter; installing Mesa lavapipe (Vulkan on the CPU) from bookworm-backports" >&2
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  if [ ! -f "$src" ]; then
    mirror=$(grep -m1 -h '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}')
    mirror=${mirror:-http://deb.debian.org/debian}
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" | sudo_ tee "$src" >/dev/null
  fi
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get update -qq
  sudo_ apt-get install -y -qq libvulkan1 >/dev/null
  sudo_ apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers >/dev/null
  have_adapter || { echo "setup: still no WebGPU adapter after installing lavapipe" >&2; exit 1; }
fi

if [ "${1:-}" = "--browser" ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "setup: installing Debian's chromium for the browser tests" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_ apt-get update -qq
  sudo_ apt-get install -y -qq chromium >/dev/null
fi

# The package's bundles (dist/): the `diception` bin runs dist/cli.js.
npx tsx tools/build.ts --no-types
