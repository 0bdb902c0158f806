#!/usr/bin/env bash
# Builds src/image/jpeg-turbo.wasm (the JPEG decoder with shrink-on-load, and an encoder) from libjpeg-turbo 2.1.5,
# the source Debian ships (checked against the sha256 in Debian's .dsc), with Debian bookworm's
# emscripten 3.1.6 (apt-get install emscripten node-acorn cmake), and records what it made in
# scripts/wasm/jpeg-turbo/build.json; test/image/jpeg-turbo.test.ts fails when the committed .wasm
# is not that file. Takes a few minutes. Usage: bash scripts/wasm/jpeg-turbo/build.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
version=2.1.5
url="http://deb.debian.org/debian/pool/main/libj/libjpeg-turbo/libjpeg-turbo_${version}.orig.tar.gz"
sha256=254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c
work="${TMPDIR:-/tmp}/lowlight-jpeg-turbo-build"
out="$root/src/image/jpeg-turbo.wasm"

. "$here/../lib.sh"
require_emcc "emscripten node-acorn cmake"
fetch_source "$url" "$sha256" "$work"
rm -rf "$work/build"
mkdir -p "$work/build"

cd "$work/build"
# BUILD: libjpeg-turbo stamps the day of the build into its version string; pinned (the day the
# committed .wasm was first built) so that the same script gives the same bytes on any day.
emcmake cmake "$work/src" -DBUILD=20261207 -DCMAKE_BUILD_TYPE=Release -DWITH_SIMD=0 -DENABLE_SHARED=0 -DENABLE_STATIC=1 \
  -DWITH_TURBOJPEG=0 -DWITH_JPEG8=0 -DWITH_ARITH_DEC=1 -DWITH_ARITH_ENC=0 -DREQUIRE_SIMD=0 >/dev/null
# CMake's size_t probe fails under emcc (it reads 9): wasm32's size_t is 4 bytes.
sed -i 's/#define SIZEOF_SIZE_T .*/#define SIZEOF_SIZE_T  4/' jconfigint.h
emmake make -j2 jpeg-static >/dev/null

emcc -O3 -I"$work/src" -I"$work/build" "$here/decode.c" "$here/encode.c" "$work/build/libjpeg.a" -o "$out" \
  --no-entry -sSTANDALONE_WASM -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=1048576 -sTOTAL_STACK=262144 \
  -sERROR_ON_UNDEFINED_SYMBOLS=0 -sFILESYSTEM=0 \
  -sEXPORTED_FUNCTIONS=_ll_decode,_ll_width,_ll_height,_ll_encode,_ll_encoded_size,_ll_malloc,_ll_free

record_build "$here" "$out" "$root" "$url" "$sha256" libjpegTurbo "$version"
