// Module types for wrangler's import rules (wrangler.toml): `.wasm` -> CompiledWasm, `.onnx` -> Data.
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.onnx" {
  const data: ArrayBuffer;
  export default data;
}
