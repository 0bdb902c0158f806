#!/usr/bin/env bash
# Builds src/image/webp-dec.wasm (libwebp's decoder with scale-on-decode) from libwebp 1.5.0, the
# source Debian ships (checked against the sha256 in Debian's libwebp_1.5.0-0.1.dsc), with Debian
# bookworm's emscripten 3.1.6 (apt-get install emscripten node-acorn), and records what it made in
# scripts/wasm/webp/build.json; test/image/webp-scaled.test.ts fails when the committed .wasm is not
# that file. Takes under a minute. Usage: bash scripts/wasm/webp/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
version=1.5.0
url="http://deb.debian.org/debian/pool/main/libw/libwebp/libwebp_${version}.orig.tar.gz"
sha256=7d6fab70cf844bf6769077bd5d7a74893f8ffd4dfb42861745750c63c2a5c92c
work="${TMPDIR:-/tmp}/lowlight-webp-build"
out="$root/src/image/webp-dec.wasm"

command -v emcc >/dev/null || { echo "emcc not found: apt-get install emscripten node-acorn" >&2; exit 1; }
# Debian's emcc runs its JS tools with the system node and needs acorn from node-acorn.
export NODE_PATH=/usr/share/nodejs

mkdir -p "$work"
tarball="$work/libwebp_${version}.orig.tar.gz"
[ -f "$tarball" ] || curl -fsSL -o "$tarball" "$url"
echo "$sha256  $tarball" | sha256sum -c - >/dev/null || { echo "checksum mismatch for $tarball" >&2; exit 1; }
rm -rf "$work/src"
mkdir -p "$work/src"
tar -xzf "$tarball" -C "$work/src" --strip-components=1
src="$work/src"

# The decoder and what it uses (dsp, utils, sharpyuv for the shared colour code); one thread, WASM SIMD.
emcc -O3 -msimd128 -I"$src" "$here/decode.c" "$src"/src/dec/*.c "$src"/src/dsp/*.c "$src"/src/utils/*.c "$src"/sharpyuv/*.c \
  -o "$out" --no-entry -sSTANDALONE_WASM -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=1048576 -sTOTAL_STACK=262144 \
  -sERROR_ON_UNDEFINED_SYMBOLS=0 -sFILESYSTEM=0 \
  -sEXPORTED_FUNCTIONS=_ll_decode,_ll_status,_ll_width,_ll_height,_ll_malloc,_ll_free 2>/dev/null

emcc_version="$(emcc --version | head -1)"
wasm_sha256="$(sha256sum "$out" | cut -d' ' -f1)"
cat > "$here/build.json" <<JSON
{
  "source": "$url",
  "sourceSha256": "$sha256",
  "libwebp": "$version",
  "emcc": "$emcc_version",
  "output": "src/image/webp-dec.wasm",
  "outputBytes": $(stat -c %s "$out"),
  "outputSha256": "$wasm_sha256"
}
JSON
echo "built $out ($(stat -c %s "$out") bytes, sha256 $wasm_sha256)"
