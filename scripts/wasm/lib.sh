# What the WASM build scripts (scripts/wasm/*/build.sh) share: Debian's emscripten, a source tarball
# fetched once and checked against its pinned sha256, and the record of what was built (build.json,
# which the tests check the committed .wasm against). Sourced, not run.

# Stop unless emcc is installed; $1: what to apt-get install.
require_emcc() {
  command -v emcc >/dev/null || { echo "emcc not found: apt-get install $1" >&2; exit 1; }
  # Debian's emcc runs its JS tools with the system node and needs acorn from node-acorn.
  export NODE_PATH=/usr/share/nodejs
}

# Download $1 (once) into $3, check it against sha256 $2, and unpack it afresh into $3/src.
fetch_source() {
  local url="$1" sha256="$2" work="$3"
  mkdir -p "$work"
  local tarball="$work/$(basename "$url")"
  [ -f "$tarball" ] || curl -fsSL -o "$tarball" "$url"
  echo "$sha256  $tarball" | sha256sum -c - >/dev/null || { echo "checksum mismatch for $tarball" >&2; exit 1; }
  rm -rf "$work/src"
  mkdir -p "$work/src"
  tar -xzf "$tarball" -C "$work/src" --strip-components=1
}

# Write $1/build.json for output $2 (a path under the repository root $3), built from $4 (sha256 $5),
# the library's version under the key $6 = $7.
record_build() {
  local here="$1" out="$2" root="$3" url="$4" sha256="$5" key="$6" version="$7"
  local emcc_version wasm_sha256
  emcc_version="$(emcc --version | head -1)"
  wasm_sha256="$(sha256sum "$out" | cut -d' ' -f1)"
  cat > "$here/build.json" <<JSON
{
  "source": "$url",
  "sourceSha256": "$sha256",
  "$key": "$version",
  "emcc": "$emcc_version",
  "output": "${out#"$root"/}",
  "outputBytes": $(stat -c %s "$out"),
  "outputSha256": "$wasm_sha256"
}
JSON
  echo "built $out ($(stat -c %s "$out") bytes, sha256 $wasm_sha256)"
}
