/**
 * PNG: jSquash's wasm-bindgen build, driven by a minimal glue of our own (codecs.ts owns the module
 * and calls this). jSquash's glue keeps one instance per process (module-level state), which would
 * keep its largest heap forever; the few imports it needs are simple enough to provide per instance.
 */
import { asBytes, type RgbaImage } from "../shared/image.ts";
import type { MemoryTracker } from "./wasm-memory.ts";

interface PngExports {
  memory: WebAssembly.Memory;
  decode(ptr: number, len: number): number;
  encode(retptr: number, ptr: number, len: number, width: number, height: number, bitDepth: number): void;
  __wbindgen_malloc(size: number, align: number): number;
  __wbindgen_add_to_stack_pointer(delta: number): number;
}

interface PngInstance {
  exports: PngExports;
  /** Objects handed to the WASM side by index (wasm-bindgen's heap). */
  objects: unknown[];
}

function pngInstance(compiled: WebAssembly.Module, tracker: MemoryTracker): PngInstance {
  const objects: unknown[] = [];
  let exports: PngExports | undefined;
  const add = (o: unknown): number => objects.push(o) - 1;
  const bytes = (ptr: number, len: number): Uint8Array => new Uint8Array(exports!.memory.buffer, ptr >>> 0, len >>> 0);
  // Import names carry a hash per build; match them by prefix.
  const byPrefix: Record<string, (...a: number[]) => unknown> = {
    __wbindgen_memory: () => add(exports!.memory),
    __wbg_buffer_: (o) => add((objects[o] as WebAssembly.Memory).buffer),
    __wbg_newwithbyteoffsetandlength_: (buf, off, len) => add(new Uint16Array(objects[buf] as ArrayBuffer, off! >>> 0, len! >>> 0)),
    __wbindgen_object_drop_ref: (o) => void (objects[o] = undefined),
    // The decoded RGBA, copied out: the PNG decoder's heap is about 4x the image (input, raw
    // scanlines, conversions), so keeping a view would keep all of it.
    __wbg_newwithownedu8clampedarrayandsh_: (ptr, len, w, h) =>
      add({ data: new Uint8ClampedArray(exports!.memory.buffer, ptr! >>> 0, len! >>> 0).slice(), width: w! >>> 0, height: h! >>> 0 }),
    __wbindgen_throw: (ptr, len) => {
      throw new Error(new TextDecoder().decode(bytes(ptr!, len!)));
    },
  };
  const wbg: Record<string, (...a: number[]) => unknown> = {};
  for (const imp of WebAssembly.Module.imports(compiled)) {
    const prefix = Object.keys(byPrefix).find((p) => imp.name.startsWith(p));
    if (imp.module !== "wbg" || prefix === undefined) throw new Error(`png codec: unexpected import ${imp.module}.${imp.name}`);
    wbg[imp.name] = byPrefix[prefix]!;
  }
  exports = new WebAssembly.Instance(compiled, { wbg }).exports as unknown as PngExports;
  tracker.start(exports.memory);
  return { exports, objects };
}

function passBytes(e: PngExports, data: Uint8Array): number {
  const ptr = e.__wbindgen_malloc(data.length, 1) >>> 0;
  new Uint8Array(e.memory.buffer).set(data, ptr);
  return ptr;
}

/** Instantiate once and drop it: throws if the module's imports do not fit this glue. */
export function checkPng(compiled: WebAssembly.Module, tracker: MemoryTracker): void {
  tracker.end(pngInstance(compiled, tracker).exports.memory);
}

/** Decode a PNG in a fresh instance (its heap is about 4x the image: none is kept). */
export function decodePng(compiled: WebAssembly.Module, data: Uint8Array, tracker: MemoryTracker): { data: Uint8Array; width: number; height: number } {
  const { exports: e, objects } = pngInstance(compiled, tracker);
  let img: { data: Uint8ClampedArray; width: number; height: number } | undefined;
  try {
    img = objects[e.decode(passBytes(e, data), data.length)] as typeof img;
  } finally {
    tracker.end(e.memory);
  }
  if (!img || !(img.data instanceof Uint8ClampedArray)) throw new Error("the PNG decoder returned nothing");
  return { data: asBytes(img.data), width: img.width, height: img.height };
}

/** Encode RGBA8 as a PNG in a fresh instance. */
export function encodePng(compiled: WebAssembly.Module, img: RgbaImage, tracker: MemoryTracker): Uint8Array<ArrayBuffer> {
  const { exports: e } = pngInstance(compiled, tracker);
  try {
    const retptr = e.__wbindgen_add_to_stack_pointer(-16);
    const ptr = passBytes(e, img.data);
    e.encode(retptr, ptr, img.data.length, img.width, img.height, 8);
    const ret = new Int32Array(e.memory.buffer, retptr, 2);
    return new Uint8Array(e.memory.buffer, ret[0]! >>> 0, ret[1]! >>> 0).slice();
  } finally {
    tracker.end(e.memory);
  }
}

