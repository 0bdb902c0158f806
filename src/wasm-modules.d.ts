// Module types for wrangler's import rules (wrangler.toml): `.wasm` -> CompiledWasm, `.onnx` -> Data.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.onnx" {
  const data: ArrayBuffer;
  export default data;
}
// `.client.js` and `.css` -> Text: the demo page's and /docs' browser assets, served as strings.
declare module "*.client.js" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const text: string;
  export default text;
}
