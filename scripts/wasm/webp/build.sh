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

. "$here/../lib.sh"
require_emcc "emscripten node-acorn"
fetch_source "$url" "$sha256" "$work"
src="$work/src"

# The decoder and what it uses (dsp, utils, sharpyuv for the shared colour code); one thread, WASM SIMD.
emcc -O3 -msimd128 -I"$src" "$here/decode.c" "$src"/src/dec/*.c "$src"/src/dsp/*.c "$src"/src/utils/*.c "$src"/sharpyuv/*.c \
  -o "$out" --no-entry -sSTANDALONE_WASM -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=1048576 -sTOTAL_STACK=262144 \
  -sERROR_ON_UNDEFINED_SYMBOLS=0 -sFILESYSTEM=0 \
  -sEXPORTED_FUNCTIONS=_ll_decode,_ll_status,_ll_width,_ll_height,_ll_malloc,_ll_free 2>/dev/null

record_build "$here" "$out" "$root" "$url" "$sha256" libwebp "$version"
