#!/usr/bin/env bash
# The GPU pack's entry (copied into the pack by tools/gpu-pack.sh): unpacks node, dawn.node
# and the Vulkan loader, then runs the report's sections one process each, each
# under its own time limit and all within one budget, writing gpu-report.json as it goes
# (under $OUT if set, else beside this script).
#   ./run.sh [--quick]      --quick: small shapes, for CPU adapters (lavapipe) and CI
# Environment: GPU_PACK_BUDGET_S (default 540, --quick 900), GPU_PACK_WORK (unpack folder,
# default a temporary one, removed at the end, so the pack itself stays small enough to send
# again), GPU_PACK_SECTIONS (space-separated subset, for debugging).
set -uo pipefail
PACK=$(cd "$(dirname "$0")" && pwd)
QUICK=
[ "${1:-}" = --quick ] && QUICK=--quick
[ $# -gt 0 ] && [ -z "$QUICK" ] && { echo "usage: $0 [--quick]" >&2; exit 2; }
DEST=${OUT:-$PACK}
REPORT=$DEST/gpu-report.json
if [ -n "${GPU_PACK_WORK:-}" ]; then WORK=$GPU_PACK_WORK; else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
BUDGET=${GPU_PACK_BUDGET_S:-$([ -n "$QUICK" ] && echo 900 || echo 540)}
T0=$SECONDS
mkdir -p "$DEST" "$WORK/dist/linux-x64"
exec > >(tee -a "$DEST/gpu-run.log") 2>&1 # the whole log comes back beside the report
say() { echo "[run.sh $((SECONDS - T0))s] $*"; }

unxz_to() { # file.xz -> file, with xz or else Python's lzma
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}

undeb() { # package.deb -> folder, with dpkg-deb or else Python (ar archive holding data.tar.*)
  if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$1" "$2"; return; fi
  python3 - "$1" "$2" <<'EOF'
import io, sys, tarfile
data = open(sys.argv[1], 'rb').read()
if data[:8] != b'!<arch>\n':
    sys.exit(f'{sys.argv[1]}: not a .deb (ar) archive')
i = 8
while i + 60 <= len(data):
    name, size = data[i:i + 16].decode().strip().rstrip('/'), int(data[i + 48:i + 58])
    if name.startswith('data.tar'):
        tar = tarfile.open(fileobj=io.BytesIO(data[i + 60:i + 60 + size]))
        tar.extractall(sys.argv[2], **({'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}))
        sys.exit(0)
    i += 60 + size + (size & 1)
sys.exit(f'{sys.argv[1]}: no data.tar member')
EOF
}

say "unpacking into $WORK"
unxz_to "$PACK/node.xz" "$WORK/node" && chmod +x "$WORK/node" || { say "cannot unpack node"; exit 1; }
unxz_to "$PACK/dawn.node.xz" "$WORK/dist/linux-x64/dawn.node" || { say "cannot unpack dawn.node"; exit 1; }
# The bundle loads dawn.node from dist/linux-x64/ beside itself.
cp "$PACK/cli.mjs" "$WORK/cli.mjs"
rm -rf "$WORK/vulkan" && mkdir -p "$WORK/vulkan"
for deb in "$PACK"/debs/*.deb; do undeb "$deb" "$WORK/vulkan" || say "cannot extract $deb"; done
NODE=$WORK/node
CLI=$WORK/cli.mjs

# The packed Vulkan loader (the GPU machine may have the driver but no loader), and the NVIDIA
# driver's own folder where the machine mounts it outside the loader's search path.
PACKED_LOADER=$(find "$WORK/vulkan" -name 'libvulkan.so.1' -printf '%h:' 2>/dev/null)
LIBS=$PACKED_LOADER
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && LIBS="$LIBS$d:"; done
export LD_LIBRARY_PATH="$LIBS${LD_LIBRARY_PATH:-}"
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$NV_ICD" ] &&
  ! ls /usr/share/vulkan/icd.d/*nvidia* /etc/vulkan/icd.d/*nvidia* /usr/local/share/vulkan/icd.d/*nvidia* >/dev/null 2>&1; then
  export VK_DRIVER_FILES=$NV_ICD VK_ICD_FILENAMES=$NV_ICD
fi
say "node $("$NODE" --version), LD_LIBRARY_PATH=$LD_LIBRARY_PATH, VK_DRIVER_FILES=${VK_DRIVER_FILES:-(loader default)}"

"$NODE" "$CLI" gpu-report start --report "$REPORT" --pack "$PACK" $QUICK || { say "cannot start the report"; exit 1; }
PLAN=$("$NODE" "$CLI" gpu-report plan $QUICK) || { say "cannot read the plan"; exit 1; }
RESERVE=15 # kept for the summary

run_section() { # name cap
  say "$1 (at most $2s)"
  # The loader says why when it finds no driver (first section only: the rest would repeat it).
  local debug=${VK_LOADER_DEBUG:-$([ "$1" = adapter ] && echo error,warn)}
  VK_LOADER_DEBUG=$debug timeout -k 5 "$2" "$NODE" "$CLI" gpu-report "$1" --report "$REPORT" $QUICK \
    --fixtures "$PACK/fixtures/tiny" --torch-script "$PACK/torch_ref.py" --seconds "$2"
  "$NODE" "$CLI" gpu-report "$1" --report "$REPORT" --ended "$?"
}

adapter_ok() {
  "$NODE" -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.exit(r.sections.adapter?.status === "ok" ? 0 : 1)' "$REPORT"
}

while read -r name cap; do
  if [ -n "${GPU_PACK_SECTIONS:-}" ] && [[ " $GPU_PACK_SECTIONS summary " != *" $name "* ]]; then continue; fi
  left=$((BUDGET - (SECONDS - T0)))
  [ "$name" = summary ] || left=$((left - RESERVE))
  [ "$cap" -gt "$left" ] && cap=$left
  if [ "$cap" -lt 5 ]; then
    say "$name: skipped (time budget of ${BUDGET}s spent)"
    "$NODE" "$CLI" gpu-report "$name" --report "$REPORT" --ended skipped
    continue
  fi
  run_section "$name" "$cap"
  # No adapter through the packed loader: try the machine's own once, for every later section.
  if [ "$name" = adapter ] && [ -n "$PACKED_LOADER" ] && ! adapter_ok && ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
    export LD_LIBRARY_PATH=${LD_LIBRARY_PATH#"$PACKED_LOADER"}
    say "no adapter with the packed Vulkan loader; again with the machine's (LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
    run_section adapter "$cap"
  fi
done <<<"$PLAN"
say "done: $REPORT"
