/**
 * What `fs`, `path` and `crypto` resolve to in the Worker bundle (wrangler.toml [alias]). libheif-js's
 * Emscripten glue names them in the branch it takes under Node only; the Worker never runs it, but the
 * bundler must resolve every require.
 */
export default {};
