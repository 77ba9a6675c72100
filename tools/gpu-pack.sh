#!/usr/bin/env bash
# Builds the GPU pack: a self-contained folder (≤ 60 MiB) that runs the GPU report on a machine
# with a GPU driver and nothing else (no Node, no network):
#   tools/gpu-pack.sh DIR        then, there: DIR/run.sh [--quick]   (tools/gpu-pack/run.sh)
# It holds this machine's node binary and Dawn's dawn.node (xz), the CLI bundled to one ES
# module (tools/gpu-pack/bundle.mjs), the PyTorch comparison script, the tiny fixtures and the
# Vulkan loader's .deb. Environment: GPU_PACK_FIXTURES (default ../shared/fixtures/tiny).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$1
FIXTURES=${GPU_PACK_FIXTURES:-$ROOT/../shared/fixtures/tiny}
DAWN=$ROOT/node_modules/webgpu/dist/linux-x64/dawn.node
LIMIT=$((60 * 1024 * 1024))
# xz level 0 on all cores, since CI builds the pack: node (99 MB) becomes 30.4 MB for 11 s of
# CPU; level 3 gives 27.1 MB for about 3× the CPU, level 6 24.2 MB for about 7×. The pack stays
# near 50 MiB either way.
XZ=(xz -T0 -0 -c)

[ -f "$FIXTURES/golden/manifest.json" ] || { echo "gpu-pack: $FIXTURES is not the tiny fixtures folder (no golden/manifest.json); set GPU_PACK_FIXTURES" >&2; exit 1; }
[ -f "$DAWN" ] || { echo "gpu-pack: $DAWN is missing (npm install)" >&2; exit 1; }
# The pack carries this machine's node binary; the GPU machine is x86-64 Linux.
[ "$(uname -sm)" = "Linux x86_64" ] || { echo "gpu-pack: build on x86-64 Linux (this is $(uname -sm))" >&2; exit 1; }
NODE=$(command -v node)

# Replace an earlier pack, never anything else.
if [ -e "$DIR" ] && [ ! -f "$DIR/pack-info.json" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  echo "gpu-pack: $DIR exists and is not an earlier pack; give a new or empty folder" >&2
  exit 1
fi
rm -rf "$DIR"
mkdir -p "$DIR/debs" "$DIR/fixtures"
"${XZ[@]}" "$NODE" >"$DIR/node.xz" &
xz_node=$!
"${XZ[@]}" "$DAWN" >"$DIR/dawn.node.xz"
node "$ROOT/tools/gpu-pack/bundle.mjs" "$DIR/cli.mjs"
cp "$ROOT/tools/gpu-pack/run.sh" "$ROOT/tools/gpu-pack/torch_ref.py" "$DIR/"
chmod +x "$DIR/run.sh"
cp -r "$FIXTURES" "$DIR/fixtures/tiny"

# The Vulkan loader (and libglvnd's dispatcher, which the NVIDIA Vulkan driver library links)
# from this machine's package lists; the apt cache where the download fails (no network).
debs=$(mktemp -d)
trap 'rm -rf "$debs"' EXIT
for pkg in libvulkan1 libglvnd0; do
  if ! (cd "$debs" && apt-get download "$pkg" >/dev/null 2>&1); then
    [ -d /var/lib/apt/lists ] && [ -n "$(ls /var/lib/apt/lists 2>/dev/null)" ] || apt-get update >/dev/null 2>&1 || true
    (cd "$debs" && apt-get download "$pkg" >/dev/null 2>&1) || cp /var/cache/apt/archives/"$pkg"_*_amd64.deb "$debs/" 2>/dev/null ||
      { echo "gpu-pack: cannot get the $pkg .deb (apt-get download failed, none in the apt cache)" >&2; exit 1; }
  fi
done
cp "$debs"/*.deb "$DIR/debs/"
wait "$xz_node"

size() { du -sb "$@" | awk '{s += $1} END {print s}'; }
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ] && commit="$commit+changes"
cat >"$DIR/pack-info.json" <<EOF
{
  "built": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "commit": "$commit",
  "node": "$("$NODE" --version)",
  "webgpu": "$(node -p "require('$ROOT/node_modules/webgpu/package.json').version")",
  "bytes": {
    "node.xz": $(size "$DIR/node.xz"),
    "dawn.node.xz": $(size "$DIR/dawn.node.xz"),
    "cli.mjs": $(size "$DIR/cli.mjs"),
    "fixtures": $(size "$DIR/fixtures"),
    "debs": $(size "$DIR/debs"),
    "scripts": $(size "$DIR/run.sh" "$DIR/torch_ref.py")
  }
}
EOF
total=$(size "$DIR")
echo "gpu-pack: $DIR, $((total / 1024 / 1024)) MiB ($total bytes)"
[ "$total" -le "$LIMIT" ] || { echo "gpu-pack: $DIR is $total bytes, over the 60 MiB limit" >&2; exit 1; }
