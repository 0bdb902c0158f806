// Pixel kernels (AssemblyScript -> src/image/pixels.wasm): the curves' table path, the streamed guided
// filter, the noise measurement's sums, the area downscale, the chroma pass and the noise floor, ports
// of applyTable (src/image/curves.ts), filter and measureNoise (src/image/denoise.ts), areaDownscale
// (src/image/resize.ts), smoothChroma's full-size passes (src/image/chroma.ts) and desaturateFloor
// (src/image/floor.ts, run on the curves' band). See src/image/pixels.ts.
// The TypeScript versions stay on purpose as the tested references (test/image/pixels-wasm.test.ts).
//
// No imports and no runtime: every buffer is carved out of linear memory by `alloc` below, which
// grows the memory by exactly what is needed (the stub runtime doubles it). Nothing is freed within
// a job; `reset` (called at the start of each) zeroes and reuses what the last job used.
//
// Build: npm run build:wasm (test/image/pixels-wasm.test.ts fails when src/image/pixels.wasm is stale).
// When editing: a float literal inside <f32>(...) is an f32 in AssemblyScript (0.2126 becomes
// 0.2125999927...): compute into a local typed f64 first. And V8 may recompute a v128 built lane by
// lane (i32x4(a, b, c, d)) inside the loop that uses it: build such values from memory or shuffles.

const base: usize = (__heap_base + 15) & ~15;
let top: usize = base;

/**
 * Start a job: everything the previous job allocated is zeroed and handed out again. The instance
 * lives as long as the isolate (src/image/pixels.ts), so the memory keeps the largest job's size (bands
 * bound it to a few MB) and the code below may rely on zeroed buffers as with fresh memory.
 */
export function reset(): void {
  // (A zero-length fill still traps when base lies beyond a memory that has not grown yet.)
  if (top > base) memory.fill(base, 0, top - base);
  top = base;
}

/** `bytes` of memory, 16-byte aligned; the memory grows to hold it (trap when it cannot). */
function alloc(bytes: usize): usize {
  const p = top;
  top = (top + bytes + 15) & ~15;
  const pages = <i32>((top + 0xffff) >>> 16);
  const have = memory.size();
  if (pages > have && memory.grow(pages - have) < 0) unreachable();
  return p;
}

// ---------------------------------------------------------------------------------------------
// Curves (table path)
// ---------------------------------------------------------------------------------------------
//
// Same sampling as applyTable: per output row the maps are interpolated vertically to table
// positions (r + 1) * 512, and within each span of equal lower map taps the position is linear in x.
// Differences, all well below one level before rounding: positions are fixed point (2^-20 of a
// table row) stepped per pixel, the lerp is in f32 from (value, slope) pairs, and the result is
// rounded half to even where JS adds 0.5 and truncates.
//
// Pass 1 writes the row's positions per channel (three planes of i32); pass 2 takes four pixels
// at a time, one channel per vector: 4 table reads (8-byte pairs) per channel.

const LUT_STEPS = 1024;
const LUT_HALF: f64 = 512;
const FIX: f64 = 1048576; // fixed-point positions: 2^20 per table row
const MAGIC: i32 = 0x4b400000; // bits of 1.5 * 2^23: adding it leaves the rounded integer in the low bits

let cvW: i32 = 0;
let cvMapW: i32 = 0;
let cvMapH: i32 = 0;
let cvMaps: usize = 0; // f32 [3][mapH][mapW]
let cvPair: usize = 0; // f32 pairs [rows * 256][2]: (lut[i][b], (lut[i + 1][b] - lut[i][b]) / FIX), i from cvRow0
let cvPairBase: usize = 0; // where row 0's pairs would be: cvPair - cvRow0 * 2048
let cvRow0: i32 = 0; // first table row the maps reach
let cvRows: i32 = 0; // table rows (intervals) the maps reach
let cvXlo: usize = 0; // i32 [W]
let cvXhi: usize = 0; // i32 [W]
let cvXf: usize = 0; // f64 [W]
let cvYlo: usize = 0; // i32 [H]
let cvYhi: usize = 0; // i32 [H]
let cvYf: usize = 0; // f64 [H]
let cvSpans: usize = 0; // i32 [spans + 1]
let cvSpanCount: i32 = 0;
let cvRow: usize = 0; // f64 [mapW][4]: (r, g, b, 0) table positions of one row
let cvPos: usize = 0; // i32 [3][W + 8]: fixed-point positions of one row, per channel
let cvTail: usize = 0; // 16 bytes: the last 1-3 pixels of a row
let cvBand: usize = 0; // RGBA bytes [bandRows][W]

/** axisTaps of src/image/curves.ts: lower tap, upper tap, weight of the upper (align_corners=true). */
function axisTaps(outSize: i32, inSize: i32, lo: usize, hi: usize, f: usize): void {
  const scale: f64 = outSize > 1 ? <f64>(inSize - 1) / <f64>(outSize - 1) : 0;
  for (let i = 0; i < outSize; i++) {
    const u = <f64>i * scale;
    const l = <i32>Math.min(Math.floor(u), <f64>(inSize - 1));
    store<i32>(lo + (<usize>i << 2), l);
    store<i32>(hi + (<usize>i << 2), min(l + 1, inSize - 1));
    store<f64>(f + (<usize>i << 3), u - <f64>l);
  }
}

/**
 * Set up a curves job for a W x H image and maps of mapW x mapH (3 channels); returns the address of
 * the band buffer (bandRows rows of RGBA). Then: maps to curvesMaps(), the table to curvesLut(),
 * curvesTable(), and curvesRun per band.
 */
export function curvesInit(W: i32, H: i32, mapW: i32, mapH: i32, bandRows: i32, row0: i32, rows: i32): usize {
  cvW = W;
  cvMapW = mapW;
  cvMapH = mapH;
  cvRow0 = row0;
  cvRows = rows;
  cvMaps = alloc(<usize>(3 * mapW * mapH) << 2);
  // The table's rows [row0, row0 + rows] arrive in the upper part of this block (curvesLut) and
  // become pairs in place (curvesTable): 2 KB of pairs per row, plus the last row of the table.
  cvPair = alloc((<usize>rows << 11) + 1024);
  cvPairBase = cvPair - (<usize>row0 << 11);
  cvXlo = alloc(<usize>W << 2);
  cvXhi = alloc(<usize>W << 2);
  cvXf = alloc(<usize>W << 3);
  cvYlo = alloc(<usize>H << 2);
  cvYhi = alloc(<usize>H << 2);
  cvYf = alloc(<usize>H << 3);
  cvSpans = alloc(<usize>(W + 1) << 2);
  cvRow = alloc(<usize>mapW << 5);
  cvPos = alloc(<usize>(3 * (W + 8)) << 2);
  cvTail = alloc(16);
  cvBand = alloc(<usize>bandRows * <usize>W * 4);
  axisTaps(W, mapW, cvXlo, cvXhi, cvXf);
  axisTaps(H, mapH, cvYlo, cvYhi, cvYf);
  // Output x where each run of equal lower taps starts, plus W at the end.
  let n = 0;
  for (let x = 0; x < W; x++) {
    if (x == 0 || load<i32>(cvXlo + (<usize>x << 2)) != load<i32>(cvXlo + (<usize>(x - 1) << 2))) {
      store<i32>(cvSpans + (<usize>n << 2), x);
      n++;
    }
  }
  store<i32>(cvSpans + (<usize>n << 2), W);
  cvSpanCount = n;
  return cvBand;
}

export function curvesMaps(): usize {
  return cvMaps;
}

/** Where the table rows [row0, row0 + rows] go (f32, 256 per row, as curveTable builds them). */
export function curvesLut(): usize {
  return cvPair + (<usize>cvRows << 10);
}

/**
 * The (value, slope) pairs from the rows at curvesLut(), in place: pair row i ends no later than
 * where table row i + 1 (still to be read) starts, and each chunk is read before it is written.
 */
export function curvesTable(): void {
  const sc = f32x4.splat(<f32>(1.0 / FIX));
  const lut = curvesLut();
  const n = <usize>cvRows << 8;
  for (let k: usize = 0; k < n; k += 4) {
    const v = v128.load(lut + (k << 2));
    const d = f32x4.mul(f32x4.sub(v128.load(lut + (k << 2), 1024), v), sc);
    v128.store(cvPair + (k << 3), i32x4.shuffle(v, d, 0, 4, 1, 5));
    v128.store(cvPair + (k << 3), i32x4.shuffle(v, d, 2, 6, 3, 7), 16);
  }
}

/** mapRow of src/image/curves.ts with scale = offset = LUT_HALF, interleaved: (r, g, b, 0) per map column. */
function mapRow(y: i32): void {
  const cw = cvMapW;
  const y0 = <usize>load<i32>(cvYlo + (<usize>y << 2)) * <usize>cw;
  const y1 = <usize>load<i32>(cvYhi + (<usize>y << 2)) * <usize>cw;
  const fy = load<f64>(cvYf + (<usize>y << 3));
  const plane = <usize>cw * <usize>cvMapH;
  for (let c: usize = 0; c < 3; c++) {
    const a0 = cvMaps + ((c * plane + y0) << 2);
    const a1 = cvMaps + ((c * plane + y1) << 2);
    const rb = cvRow + (c << 3);
    const fys = f64x2.splat(fy), half = f64x2.splat(LUT_HALF);
    let x: usize = 0;
    for (; x + 1 < <usize>cw; x += 2) {
      const a = f64x2.promote_low_f32x4(v128.load64_zero(a0 + (x << 2)));
      const b = f64x2.promote_low_f32x4(v128.load64_zero(a1 + (x << 2)));
      const v = f64x2.add(f64x2.mul(f64x2.add(a, f64x2.mul(f64x2.sub(b, a), fys)), half), half);
      v128.store64_lane(rb + (x << 5), v, 0);
      v128.store64_lane(rb + (x << 5), v, 1, 32);
    }
    if (x < <usize>cw) {
      const a = <f64>load<f32>(a0 + (x << 2));
      const b = <f64>load<f32>(a1 + (x << 2));
      store<f64>(rb + (x << 5), (a + (b - a) * fy) * LUT_HALF + LUT_HALF);
    }
  }
}

/** Pass 1: fixed-point positions of every pixel of row y, per channel, span by span. */
function rowPositions(y: i32): void {
  mapRow(y);
  const plane = <usize>(cvW + 8) << 2;
  const fix = f64x2.splat(FIX);
  for (let j = 0; j < cvSpanCount; j++) {
    const x0 = load<i32>(cvSpans + (<usize>j << 2));
    const x1 = load<i32>(cvSpans + (<usize>j << 2), 4);
    const lo = cvRow + (<usize>load<i32>(cvXlo + (<usize>x0 << 2)) << 5);
    const hi = cvRow + (<usize>load<i32>(cvXhi + (<usize>x0 << 2)) << 5);
    const f0 = load<f64>(cvXf + (<usize>x0 << 3));
    // The position rises by the same amount per pixel within a span.
    const df = x1 - x0 > 1 ? load<f64>(cvXf + (<usize>x0 << 3), 8) - f0 : 0;
    const l01 = v128.load(lo), l2 = v128.load(lo, 16);
    const d01 = f64x2.sub(v128.load(hi), l01), d2 = f64x2.sub(v128.load(hi, 16), l2);
    const f0s = f64x2.splat(f0), dfs = f64x2.splat(df);
    const p01 = i32x4.trunc_sat_f64x2_s_zero(f64x2.nearest(f64x2.mul(f64x2.add(l01, f64x2.mul(d01, f0s)), fix)));
    const p2 = i32x4.trunc_sat_f64x2_s_zero(f64x2.nearest(f64x2.mul(f64x2.add(l2, f64x2.mul(d2, f0s)), fix)));
    const s01 = i32x4.trunc_sat_f64x2_s_zero(f64x2.nearest(f64x2.mul(f64x2.mul(d01, dfs), fix)));
    const s2 = i32x4.trunc_sat_f64x2_s_zero(f64x2.nearest(f64x2.mul(f64x2.mul(d2, dfs), fix)));
    const P = i32x4.shuffle(p01, p2, 0, 1, 4, 5); // (r, g, b, 0) at x0
    const S = i32x4.shuffle(s01, s2, 0, 1, 4, 5); // per-pixel step
    const S2 = i32x4.add(S, S);
    const P1 = i32x4.add(P, S), P2 = i32x4.add(P, S2), P3 = i32x4.add(P1, S2);
    // Transpose to one vector of four consecutive pixels per channel.
    const t01 = i32x4.shuffle(P, P1, 0, 4, 1, 5);
    const t23 = i32x4.shuffle(P2, P3, 0, 4, 1, 5);
    const u01 = i32x4.shuffle(P, P1, 2, 6, 3, 7);
    const u23 = i32x4.shuffle(P2, P3, 2, 6, 3, 7);
    let vr = i32x4.shuffle(t01, t23, 0, 1, 4, 5);
    let vg = i32x4.shuffle(t01, t23, 2, 3, 6, 7);
    let vb = i32x4.shuffle(u01, u23, 0, 1, 4, 5);
    const S4 = i32x4.shl(S, 2);
    const sr = i32x4.shuffle(S4, S4, 0, 0, 0, 0);
    const sg = i32x4.shuffle(S4, S4, 1, 1, 1, 1);
    const sb = i32x4.shuffle(S4, S4, 2, 2, 2, 2);
    // A chunk may run past the span: the next span rewrites those (the planes have room after W).
    let q = cvPos + (<usize>x0 << 2);
    for (let x = x0; x < x1; x += 4, q += 16) {
      v128.store(q, vr);
      v128.store(q + plane, vg);
      v128.store(q + 2 * plane, vb);
      vr = i32x4.add(vr, sr);
      vg = i32x4.add(vg, sg);
      vb = i32x4.add(vb, sb);
    }
  }
}

/** One channel of four pixels: positions `pos`, the channel's bytes picked from `px` by `sel`. */
// @ts-ignore: decorator
@inline function channel4(pos: v128, px: v128, sel: v128, pair: usize, lo: v128, hi: v128): v128 {
  // Within the rows the table holds (positions stray past them only by rounding, or past the row end).
  const pc = i32x4.min_s(i32x4.max_s(pos, lo), hi);
  const b = i8x16.swizzle(px, sel);
  // Byte offset of pair (row, byte): (row * 256 + byte) * 8.
  const off = i32x4.shl(v128.or(v128.and(i32x4.shr_u(pc, 12), i32x4.splat(~255)), b), 3);
  const frac = f32x4.convert_i32x4_s(v128.and(pc, i32x4.splat(0xfffff)));
  let a = v128.load64_zero(pair + <usize>i32x4.extract_lane(off, 0));
  a = v128.load64_lane(pair + <usize>i32x4.extract_lane(off, 1), a, 1);
  let c = v128.load64_zero(pair + <usize>i32x4.extract_lane(off, 2));
  c = v128.load64_lane(pair + <usize>i32x4.extract_lane(off, 3), c, 1);
  const v = i32x4.shuffle(a, c, 0, 2, 4, 6);
  const dv = i32x4.shuffle(a, c, 1, 3, 5, 7);
  return f32x4.add(f32x4.add(v, f32x4.mul(dv, frac)), f32x4.splat(12582912.0));
}

/** Four pixels at p (RGBA), positions at q in the three planes. */
// @ts-ignore: decorator
@inline function pixels4(p: usize, q: usize, plane: usize, pair: usize, lo: v128, hi: v128): void {
  const px = v128.load(p);
  const r = channel4(v128.load(q), px, i8x16(0, -1, -1, -1, 4, -1, -1, -1, 8, -1, -1, -1, 12, -1, -1, -1), pair, lo, hi);
  const g = channel4(v128.load(q + plane), px, i8x16(1, -1, -1, -1, 5, -1, -1, -1, 9, -1, -1, -1, 13, -1, -1, -1), pair, lo, hi);
  const b = channel4(v128.load(q + 2 * plane), px, i8x16(2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1), pair, lo, hi);
  // Each lane is MAGIC + the byte: shift, sum, take the magic out once; alpha from the source.
  const sum = i32x4.add(i32x4.add(r, i32x4.shl(g, 8)), i32x4.shl(b, 16));
  const rgb = i32x4.sub(sum, i32x4.splat(MAGIC + (MAGIC << 8) + (MAGIC << 16)));
  v128.store(p, v128.or(rgb, v128.and(px, i32x4.splat(0xff000000))));
}

/** Rows [y0, y1) of the image, in place in the band buffer (row y0 first). */
export function curvesRun(y0: i32, y1: i32): void {
  const W = cvW;
  const pair = cvPairBase;
  const plane = <usize>(W + 8) << 2;
  const n4 = W & ~3;
  const lo = i32x4.splat(cvRow0 << 20);
  const hi = i32x4.splat(((cvRow0 + cvRows) << 20) - 1);
  for (let y = y0; y < y1; y++) {
    rowPositions(y);
    let p = cvBand + <usize>(y - y0) * <usize>W * 4;
    let q = cvPos;
    for (let x = 0; x < n4; x += 4, p += 16, q += 16) pixels4(p, q, plane, pair, lo, hi);
    if (n4 < W) {
      // The last 1-3 pixels through a 16-byte buffer (their neighbours in memory are the next row).
      const n = <usize>(W - n4) << 2;
      memory.copy(cvTail, p, n);
      pixels4(cvTail, q, plane, pair, lo, hi);
      memory.copy(p, cvTail, n);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Guided filter (src/image/denoise.ts `filter`), streamed over a ring of image rows
// ---------------------------------------------------------------------------------------------
//
// The same steps in the same order as the JS, with the same f64 arithmetic per value, so the
// result is the same to the bit: SIMD only puts values that JS handles one by one side by side.
// Stage 1 column sums per copy column: f64x2 (Y, Y^2), (R, G), (B, -). Coefficients per copy
// pixel: f32x4 (B_r, B_g, B_b, A). Stage 2 column sums per copy column: f64x2 (B_r, B_g), (B_b, A)
// (or, in the f32 mode, one f32x4: within a level of JS but not bit-exact).

let fW: i32 = 0;
let fH: i32 = 0;
let fw: i32 = 0; // copy width (W + 1) >> 1
let fh: i32 = 0; // copy height
let fr: i32 = 0; // stage 1 radius
let fR: i32 = 0; // stage 2 radius, 2r
let fS: i32 = 0; // rows a ring holds
let fF32: bool = false; // stage 2 sums in f32
let fCols: i32 = 0; // eps grid
let fRows: i32 = 0;
let fEps: usize = 0; // f32 [rows][cols]
let fEpsCells: usize = 0; // f32 [cols]
let fExLo: usize = 0; // i32 [w]
let fExHi: usize = 0;
let fExF: usize = 0; // f32 [w]
let fEyLo: usize = 0; // i32 [h]
let fEyHi: usize = 0;
let fEyF: usize = 0; // f32 [h]
let fCopy: usize = 0; // f32x4 [(S + 1) * w]: R, G, B, Y
let fCs: usize = 0; // 3 x f64x2 [w + 2r]: (Y, YY), (R, G), (B, -)
let fCoef: usize = 0; // f32x4 [(S + 1) * w]: B_r, B_g, B_b, A
let fCc: usize = 0; // 2 x f64x2 [w + 1]: (B_r, B_g), (B_b, A); f32 mode: f32x4 [w + 1]
let fAddAt: usize = 0; // i32 [W], byte offsets into cc
let fDropAt: usize = 0;
let fInvCopyCols: usize = 0; // f64 [w]
let fInvCols: usize = 0; // f64 [W]
let fRing: usize = 0; // image rows [K][W * 4]
let fK: i32 = 0;
let fY: i32 = 0; // next output row

/** taps of src/image/denoise.ts: linear interpolation from `size` positions onto `cells` samples `step` apart. */
function epsTaps(size: i32, cells: i32, step: f64, lo: usize, hi: usize, f: usize): void {
  for (let i = 0; i < size; i++) {
    const u = Math.min(Math.max((<f64>i + 0.5) / step - 0.5, 0), <f64>(cells - 1));
    const l = Math.floor(u);
    store<i32>(lo + (<usize>i << 2), <i32>l);
    store<i32>(hi + (<usize>i << 2), min(<i32>l + 1, cells - 1));
    store<f32>(f + (<usize>i << 2), <f32>(u - l));
  }
}

/**
 * Set up a filter job: image W x H, stage 1 radius r, eps grid cols x rows with cells stepX x stepY
 * image pixels (eps goes to filterEps()), a ring of K image rows (returned: its address), and
 * stage 2 sums in f64 (useF32 = 0: the same bytes as JS) or f32 (useF32 = 1).
 */
export function filterInit(W: i32, H: i32, r: i32, cols: i32, rows: i32, stepX: f64, stepY: f64, K: i32, useF32: i32): usize {
  const w = (W + 1) >> 1;
  const h = (H + 1) >> 1;
  const R = 2 * r;
  const S = 2 * r + 3;
  fW = W; fH = H; fw = w; fh = h; fr = r; fR = R; fS = S; fCols = cols; fRows = rows; fK = K; fY = 0;
  fF32 = useF32 != 0;
  const ccCol = fF32 ? 16 : 32;
  fEps = alloc(<usize>(cols * rows) << 2);
  fEpsCells = alloc(<usize>cols << 2);
  fExLo = alloc(<usize>w << 2);
  fExHi = alloc(<usize>w << 2);
  fExF = alloc(<usize>w << 2);
  fEyLo = alloc(<usize>h << 2);
  fEyHi = alloc(<usize>h << 2);
  fEyF = alloc(<usize>h << 2);
  // Fresh memory is zero: the rings' ZERO rows, the padding of cs and the zero column of cc.
  fCopy = alloc(<usize>((S + 1) * w) << 4);
  fCs = alloc(<usize>(w + 2 * r) * 48);
  fCoef = alloc(<usize>((S + 1) * w) << 4);
  fCc = alloc(<usize>(w + 1) * <usize>ccCol);
  fAddAt = alloc(<usize>W << 2);
  fDropAt = alloc(<usize>W << 2);
  fInvCopyCols = alloc(<usize>w << 3);
  fInvCols = alloc(<usize>W << 3);
  fRing = alloc(<usize>K * <usize>W * 4);
  for (let x = 0; x < W; x++) {
    store<i32>(fAddAt + (<usize>x << 2), ccCol * (x + R < W ? (x + R) >> 1 : w));
    store<i32>(fDropAt + (<usize>x << 2), ccCol * (x - R >= 0 ? (x - R) >> 1 : w));
    store<f64>(fInvCols + (<usize>x << 3), 1 / <f64>(min(W - 1, x + R) - max(0, x - R) + 1));
  }
  for (let i = 0; i < w; i++) {
    store<f64>(fInvCopyCols + (<usize>i << 3), 1 / <f64>(min(w - 1, i + r) - max(0, i - r) + 1));
  }
  epsTaps(w, cols, stepX / 2, fExLo, fExHi, fExF);
  epsTaps(h, rows, stepY / 2, fEyLo, fEyHi, fEyF);
  return fRing;
}

export function filterEps(): usize {
  return fEps;
}

// @ts-ignore: decorator
@inline function ringRow(k: i32): usize {
  return fRing + <usize>(k % fK) * <usize>fW * 4;
}

// @ts-ignore: decorator
@inline function slot(row: i32): i32 {
  return row >= 0 && row < fh ? row % fS : fS;
}

/** (R, G, B, Y) of a copy pixel from the sums of its (up to) four source pixels, u16 lanes 0-3 of `s`. */
// @ts-ignore: decorator
@inline function copyPixel(s: v128, k: usize): void {
  const c = f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(s)), f32x4.splat(0.25));
  // Y in f64 as in JS ((0.2126 R + 0.7152 G) + 0.0722 B), from the f32 means (exact: quarters of integers).
  const rg = f64x2.mul(f64x2.promote_low_f32x4(c), f64x2(0.2126, 0.7152));
  const Y: f64 = f64x2.extract_lane(rg, 0) + f64x2.extract_lane(rg, 1) + 0.0722 * <f64>f32x4.extract_lane(c, 2);
  v128.store(k, f32x4.replace_lane(c, 3, <f32>Y));
}

/** Copy row t: mean of source rows 2t and 2t + 1 (one row at an odd bottom edge), pairs of columns, and its Y. */
function copyRow(t: i32, o: usize): void {
  const W = fW;
  const r0 = ringRow(2 * t);
  const r1 = 2 * t + 1 < fH ? ringRow(2 * t + 1) : r0;
  const pairs = W >> 1; // copy pixels with two source columns
  for (let i = 0; i < pairs; i++) {
    const p = <usize>i << 3;
    // u16 lanes: R0 G0 B0 A0 R1 G1 B1 A1, both rows added; then the two pixels.
    const s = i16x8.add(i16x8.extend_low_i8x16_u(v128.load64_zero(r0 + p)), i16x8.extend_low_i8x16_u(v128.load64_zero(r1 + p)));
    copyPixel(i16x8.add(s, i64x2.shuffle(s, s, 1, 1)), o + (<usize>i << 4));
  }
  if (W & 1) {
    // Odd width: the last copy pixel has one source column, counted twice.
    const p = <usize>pairs << 3;
    const s = i16x8.add(i16x8.extend_low_i8x16_u(v128.load32_zero(r0 + p)), i16x8.extend_low_i8x16_u(v128.load32_zero(r1 + p)));
    copyPixel(i16x8.add(s, s), o + (<usize>pairs << 4));
  }
}

/** Stage 1 column sums: add the copy row at np, remove the one at op. */
function windowSums(np: usize, op: usize): void {
  let k = fCs + <usize>(48 * fr);
  for (let i = 0; i < fw; i++, k += 48) {
    const N = v128.load(np + (<usize>i << 4)), O = v128.load(op + (<usize>i << 4));
    const yn = <f64>f32x4.extract_lane(N, 3), yo = <f64>f32x4.extract_lane(O, 3);
    // (yn - yo, yn * yn - yo * yo), (R, G) and (B, -) differences: per value the JS expressions.
    const dy = f64x2.sub(f64x2.replace_lane(f64x2.splat(yn), 1, yn * yn), f64x2.replace_lane(f64x2.splat(yo), 1, yo * yo));
    const drg = f64x2.sub(f64x2.promote_low_f32x4(N), f64x2.promote_low_f32x4(O));
    const db = f64x2.sub(f64x2.promote_low_f32x4(i64x2.shuffle(N, N, 1, 1)), f64x2.promote_low_f32x4(i64x2.shuffle(O, O, 1, 1)));
    v128.store(k, f64x2.add(v128.load(k), dy));
    v128.store(k, f64x2.add(v128.load(k, 16), drg), 16);
    v128.store(k, f64x2.add(v128.load(k, 32), db), 32);
  }
}

/** Stage 1 coefficients (B_r, B_g, B_b, A) of one copy row, into coef at o. */
function coefRow(o: usize, iy: f64): void {
  const r = fr;
  const cs = fCs;
  let yy = f64x2.splat(0), rg = f64x2.splat(0), b_ = f64x2.splat(0);
  for (let c = 0; c < 2 * r; c++) {
    const k = cs + <usize>(48 * c);
    yy = f64x2.add(yy, v128.load(k)); rg = f64x2.add(rg, v128.load(k, 16)); b_ = f64x2.add(b_, v128.load(k, 32));
  }
  const exLo = fExLo, exHi = fExHi, exF = fExF, cells = fEpsCells, invCols = fInvCopyCols;
  let k = cs + <usize>(48 * 2 * r), j = cs;
  let i = 0;
  // Two copy pixels per step: their window sums one after the other (as below), then A and B of
  // both side by side, the division included, one pixel per f64 lane: the same operations per value.
  const zero = f64x2.splat(0), one = f64x2.splat(1);
  for (; i + 1 < fw; i += 2, k += 96, j += 96) {
    yy = f64x2.add(yy, v128.load(k)); rg = f64x2.add(rg, v128.load(k, 16)); b_ = f64x2.add(b_, v128.load(k, 32));
    const yy0 = yy, rg0 = rg, b0 = b_;
    yy = f64x2.sub(yy, v128.load(j)); rg = f64x2.sub(rg, v128.load(j, 16)); b_ = f64x2.sub(b_, v128.load(j, 32));
    yy = f64x2.add(yy, v128.load(k, 48)); rg = f64x2.add(rg, v128.load(k, 64)); b_ = f64x2.add(b_, v128.load(k, 80));
    const yy1 = yy, rg1 = rg, b1 = b_;
    yy = f64x2.sub(yy, v128.load(j, 48)); rg = f64x2.sub(rg, v128.load(j, 64)); b_ = f64x2.sub(b_, v128.load(j, 80));
    const i4 = <usize>i << 2;
    const lo = f64x2(
      <f64>load<f32>(cells + (<usize>load<i32>(exLo + i4) << 2)),
      <f64>load<f32>(cells + (<usize>load<i32>(exLo + i4, 4) << 2)),
    );
    const hi = f64x2(
      <f64>load<f32>(cells + (<usize>load<i32>(exHi + i4) << 2)),
      <f64>load<f32>(cells + (<usize>load<i32>(exHi + i4, 4) << 2)),
    );
    const e = f64x2.add(lo, f64x2.mul(f64x2.sub(hi, lo), f64x2.promote_low_f32x4(v128.load64_zero(exF + i4))));
    const inv = f64x2.mul(f64x2.splat(iy), v128.load(invCols + (<usize>i << 3)));
    const m = f64x2.mul(i64x2.shuffle(yy0, yy1, 0, 2), inv);
    const v = f64x2.sub(f64x2.mul(i64x2.shuffle(yy0, yy1, 1, 3), inv), f64x2.mul(m, m));
    // e > 0 ? (v > 0 ? v / (v + e) : 0) : 1, per lane (the quotient of other lanes is not used).
    const a = v128.bitselect(v128.bitselect(f64x2.div(v, f64x2.add(v, e)), zero, f64x2.gt(v, zero)), one, f64x2.gt(e, zero));
    const bv = f64x2.mul(f64x2.sub(one, a), inv);
    const a32 = f32x4.demote_f64x2_zero(a);
    const bv0 = i64x2.shuffle(bv, bv, 0, 0), bv1 = i64x2.shuffle(bv, bv, 1, 1);
    const brg0 = f32x4.demote_f64x2_zero(f64x2.mul(rg0, bv0)), bb0 = f32x4.demote_f64x2_zero(f64x2.mul(b0, bv0));
    const brg1 = f32x4.demote_f64x2_zero(f64x2.mul(rg1, bv1)), bb1 = f32x4.demote_f64x2_zero(f64x2.mul(b1, bv1));
    // (B_r, B_g, B_b, A) per pixel.
    v128.store(o + (<usize>i << 4), i32x4.shuffle(i64x2.shuffle(brg0, bb0, 0, 2), a32, 0, 1, 2, 4));
    v128.store(o + (<usize>i << 4), i32x4.shuffle(i64x2.shuffle(brg1, bb1, 0, 2), a32, 0, 1, 2, 5), 16);
  }
  for (; i < fw; i++, k += 48, j += 48) {
    yy = f64x2.add(yy, v128.load(k)); rg = f64x2.add(rg, v128.load(k, 16)); b_ = f64x2.add(b_, v128.load(k, 32));
    const lo = <f64>load<f32>(cells + (<usize>load<i32>(exLo + (<usize>i << 2)) << 2));
    const hi = <f64>load<f32>(cells + (<usize>load<i32>(exHi + (<usize>i << 2)) << 2));
    const e = lo + (hi - lo) * <f64>load<f32>(exF + (<usize>i << 2));
    const inv = iy * load<f64>(invCols + (<usize>i << 3));
    const m = f64x2.extract_lane(yy, 0) * inv;
    const v = f64x2.extract_lane(yy, 1) * inv - m * m;
    const a: f64 = e > 0 ? (v > 0 ? v / (v + e) : 0) : 1; // eps 0: identity (A 1, B 0)
    const bv = f64x2.splat((1 - a) * inv);
    const brg = f32x4.demote_f64x2_zero(f64x2.mul(rg, bv));
    const bb = f32x4.demote_f64x2_zero(f64x2.mul(b_, bv));
    v128.store(o + (<usize>i << 4), f32x4.replace_lane(i64x2.shuffle(brg, bb, 0, 2), 3, <f32>a));
    yy = f64x2.sub(yy, v128.load(j)); rg = f64x2.sub(rg, v128.load(j, 16)); b_ = f64x2.sub(b_, v128.load(j, 32));
  }
}

/** Stage 2 column sums: add the coefficient row at np, remove the one at op. */
function moveSums(np: usize, op: usize): void {
  const w = fw;
  let c = fCc;
  if (fF32) {
    for (let i = 0; i < w; i++, c += 16) {
      const k = <usize>i << 4;
      v128.store(c, f32x4.add(v128.load(c), f32x4.sub(v128.load(np + k), v128.load(op + k))));
    }
  } else {
    for (let i = 0; i < w; i++, c += 32) {
      const k = <usize>i << 4;
      const N = v128.load(np + k), O = v128.load(op + k);
      const d01 = f64x2.sub(f64x2.promote_low_f32x4(N), f64x2.promote_low_f32x4(O));
      const d23 = f64x2.sub(f64x2.promote_low_f32x4(i64x2.shuffle(N, N, 1, 1)), f64x2.promote_low_f32x4(i64x2.shuffle(O, O, 1, 1)));
      v128.store(c, f64x2.add(v128.load(c), d01));
      v128.store(c, f64x2.add(v128.load(c, 16), d23), 16);
    }
  }
}

/** RGBA of one output pixel from rounded (R, G, B, -) i32 lanes and the source's alpha. */
// @ts-ignore: decorator
@inline function packPixel(v: v128, src: u32): u32 {
  // Saturating narrows clamp to 0..255 (Uint8ClampedArray: NaN went to 0 in the truncation).
  const b = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(v, v), v);
  return (<u32>i32x4.extract_lane(b, 0) & 0xffffff) | (src & 0xff000000);
}

/**
 * Round f32 lanes to the nearest integer, ties to even (as f32x4.nearest), as i32 lanes: adding
 * 1.5 * 2^23 leaves the integer in the low mantissa bits. Exact for |v| < 2^22; stage 2's values
 * are within a few levels of 0..255. Two instructions, where nearest + trunc_sat take about eight
 * on x86 without AVX-512 (and the signed conversions above one, where unsigned ones take several).
 */
// @ts-ignore: decorator
@inline function roundF32(v: v128): v128 {
  const k = f32x4.splat(12582912.0);
  return i32x4.sub(f32x4.add(v, k), k);
}

/** One output pixel of the f32 stage 2 at q (column x) from the running sums s; returns the next sums. */
// @ts-ignore: decorator
@inline function outputPixelF32(q: usize, x: usize, s: v128, iy2: f64): v128 {
  s = f32x4.add(s, v128.load(fCc + <usize>load<i32>(fAddAt + (x << 2))));
  const m = f32x4.mul(s, f32x4.splat(<f32>(iy2 * load<f64>(fInvCols + (x << 3)))));
  const a = i32x4.shuffle(m, m, 3, 3, 3, 3);
  const src = load<u32>(q);
  const px = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(src))));
  store<u32>(q, packPixel(roundF32(f32x4.add(f32x4.mul(a, px), m)), src));
  return f32x4.sub(s, v128.load(fCc + <usize>load<i32>(fDropAt + (x << 2))));
}

/** Stage 2 output row at q (a ring row): window means of the coefficients applied to each pixel. */
function outputRow(q: usize, iy2: f64): void {
  const W = fW, R = fR;
  const cc = fCc, addAt = fAddAt, dropAt = fDropAt, invCols = fInvCols;
  if (fF32) {
    let s = f32x4.splat(0);
    for (let x = 0; x < R && x < W; x++) s = f32x4.add(s, v128.load(cc + (<usize>(x >> 1) << 4)));
    let x: usize = 0;
    for (; x < <usize>min(R, W); x++, q += 4) s = outputPixelF32(q, x, s, iy2);
    if (W > 2 * R + 1) {
      // Interior pairs (2k, 2k + 1), R <= 2k, 2k + 1 + R < W: both add copy column k + r, drop
      // k - r and share one divisor, so two pixels go per step, converted and packed together. Each
      // value is computed as outputPixelF32 computes it (the same f32 operations in the same order).
      const inv = f32x4.splat(<f32>(iy2 * load<f64>(invCols + (<usize>R << 3))));
      const alpha = i32x4.splat(0xff000000);
      const end = <usize>(W - R - 1); // the last pixel whose window is inside the row
      let add = cc + (((x >> 1) + <usize>fr) << 4), drop = cc + (((x >> 1) - <usize>fr) << 4);
      for (; x + 1 <= end; x += 2, q += 8, add += 16, drop += 16) {
        const ca = v128.load(add), cd = v128.load(drop);
        const s0 = f32x4.add(s, ca);
        const m0 = f32x4.mul(s0, inv);
        const s1 = f32x4.add(f32x4.sub(s0, cd), ca);
        const m1 = f32x4.mul(s1, inv);
        s = f32x4.sub(s1, cd);
        const src = v128.load64_zero(q);
        const px = i16x8.extend_low_i8x16_u(src);
        const p0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(px));
        const p1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_u(px));
        const v0 = roundF32(f32x4.add(f32x4.mul(i32x4.shuffle(m0, m0, 3, 3, 3, 3), p0), m0));
        const v1 = roundF32(f32x4.add(f32x4.mul(i32x4.shuffle(m1, m1, 3, 3, 3, 3), p1), m1));
        // Saturating narrows as in packPixel; the alpha bytes (3 and 7) stay the source's.
        const b = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(v0, v1), v0);
        v128.store64_lane(q, v128.bitselect(src, b, alpha), 0);
      }
    }
    for (; x < <usize>W; x++, q += 4) s = outputPixelF32(q, x, s, iy2);
    return;
  }
  let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
  for (let x = 0; x < R && x < W; x++) {
    const k = cc + (<usize>(x >> 1) << 5);
    s01 = f64x2.add(s01, v128.load(k));
    s23 = f64x2.add(s23, v128.load(k, 16));
  }
  for (let x: usize = 0; x < <usize>W; x++, q += 4) {
    const k = cc + <usize>load<i32>(addAt + (x << 2));
    s01 = f64x2.add(s01, v128.load(k));
    s23 = f64x2.add(s23, v128.load(k, 16));
    const inv = f64x2.splat(iy2 * load<f64>(invCols + (x << 3)));
    // a * p + B * inv per channel, a = sA * inv: the JS expressions, two channels per vector.
    const m01 = f64x2.mul(s01, inv), m23 = f64x2.mul(s23, inv);
    const a = i64x2.shuffle(m23, m23, 1, 1);
    const src = load<u32>(q);
    const px = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(src)));
    const v01 = f64x2.add(f64x2.mul(a, f64x2.convert_low_i32x4_u(px)), m01);
    const v23 = f64x2.add(f64x2.mul(a, f64x2.convert_low_i32x4_u(i64x2.shuffle(px, px, 1, 1))), m23);
    const v = i64x2.shuffle(i32x4.trunc_sat_f64x2_s_zero(f64x2.nearest(v01)), i32x4.trunc_sat_f64x2_s_zero(f64x2.nearest(v23)), 0, 2);
    store<u32>(q, packPixel(v, src));
    const d = cc + <usize>load<i32>(dropAt + (x << 2));
    s01 = f64x2.sub(s01, v128.load(d));
    s23 = f64x2.sub(s23, v128.load(d, 16));
  }
}

/**
 * Steps t in [t0, t1) of the streamed filter (see src/image/denoise.ts); the source rows they read must be
 * in the ring. Returns the next output row: rows before it are final (in the ring).
 */
export function filterRun(t0: i32, t1: i32): i32 {
  const w = fw, h = fh, r = fr, R = fR, S = fS, H = fH;
  const ZERO = S;
  const rowBytes = <usize>w << 4;
  let y = fY;
  for (let t = t0; t < t1; t++) {
    if (t < h) copyRow(t, fCopy + <usize>(t % S) * rowBytes);
    // Stage 1 window moves from copy rows [t-2r-1, t-1] to [t-2r, t].
    const sn = slot(t), so = slot(t - 2 * r - 1);
    if (sn != ZERO || so != ZERO) windowSums(fCopy + <usize>sn * rowBytes, fCopy + <usize>so * rowBytes);

    const c1 = t - r; // stage 1: coefficients of copy row c1
    if (c1 < 0) continue;
    const cols = fCols;
    const j0 = fEps + (<usize>(load<i32>(fEyLo + (<usize>c1 << 2)) * cols) << 2);
    const j1 = fEps + (<usize>(load<i32>(fEyHi + (<usize>c1 << 2)) * cols) << 2);
    const fy = <f64>load<f32>(fEyF + (<usize>c1 << 2));
    for (let i = 0; i < cols; i++) {
      const e0 = <f64>load<f32>(j0 + (<usize>i << 2));
      const e: f64 = e0 + (<f64>load<f32>(j1 + (<usize>i << 2)) - e0) * fy;
      store<f32>(fEpsCells + (<usize>i << 2), <f32>e);
    }
    const iy = 1 / <f64>(min(h - 1, c1 + r) - max(0, c1 - r) + 1);
    coefRow(fCoef + <usize>(c1 % S) * rowBytes, iy);

    // Stage 2: every output row whose window [y-R, y+R] has its coefficient rows.
    for (; y < H && (min(H - 1, y + R) >> 1) <= c1; y++) {
      // Window moves from output rows [y-R-1, y+R-1] to [y-R, y+R].
      const an = y + R < H ? slot((y + R) >> 1) : ZERO;
      const ao = y - R - 1 >= 0 ? slot((y - R - 1) >> 1) : ZERO;
      moveSums(fCoef + <usize>an * rowBytes, fCoef + <usize>ao * rowBytes);
      if (y == 0) {
        // The first window also holds rows 0..R-1.
        for (let u = 0; u < R && u < H; u++) moveSums(fCoef + <usize>slot(u >> 1) * rowBytes, fCoef + <usize>ZERO * rowBytes);
      }
      const iy2 = 1 / <f64>(min(H - 1, y + R) - max(0, y - R) + 1);
      outputRow(ringRow(y), iy2);
    }
  }
  fY = y;
  return y;
}

// ---------------------------------------------------------------------------------------------
// Noise measurement (src/image/denoise.ts `measureNoise`): the sampled cell rows, streamed in bands
// ---------------------------------------------------------------------------------------------
//
// The same integers as the JS: luma (54 R + 183 G + 19 B + 128) >> 8 (i16 lanes), the luma sum of
// each cell row and the sum of |Laplacian| over its centre pixels (i32 lanes: both exact), added to
// per-cell f64 sums (exact integers, so the order does not matter). The percentile is left to JS.

let nW: i32 = 0;
let nCell: i32 = 0;
let nK: i32 = 0; // every k-th cell row and column
let nCols: i32 = 0;
let nNc: i32 = 0; // sampled cell columns per cell row
let nBand: usize = 0; // RGBA [bandRows][W] (+ 32 bytes: 8-pixel reads past the last row)
let nLuma: usize = 0; // u16 [3][nStride / 2]: rows y % 3
let nStride: usize = 0;
let nOut: usize = 0; // f64 [sampled rows][nc][3]: |Laplacian| sum, centre pixels, luma sum

/**
 * Set up a noise job: image W x H, cells of `cell` pixels (cols x rows of them), every k-th cell row
 * and column, bands of bandRows rows (returned: the band's address). Then noiseRun per band of the
 * rows each sampled cell row needs (its own and the row below), in increasing order; the sums are
 * at noiseOut().
 */
export function noiseInit(W: i32, H: i32, cell: i32, k: i32, cols: i32, rows: i32, bandRows: i32): usize {
  nW = W; nCell = cell; nK = k; nCols = cols;
  nNc = (cols + k - 1) / k;
  const nr = (rows + k - 1) / k;
  nStride = ((<usize>(W + 16) << 1) + 15) & ~15;
  nOut = alloc(<usize>(nr * nNc) * 24);
  nLuma = alloc(3 * nStride);
  nBand = alloc(<usize>bandRows * <usize>W * 4 + 32);
  return nBand;
}

export function noiseOut(): usize {
  return nOut;
}

/** Luma of the 8 pixels at p (RGBA), u16 lanes. */
// @ts-ignore: decorator
@inline function luma8(p: usize): v128 {
  const m = i16x8(255, 255, 255, 255, 255, 255, 255, 255);
  const rb = i16x8(54, 19, 54, 19, 54, 19, 54, 19);
  const ga = i16x8(183, 0, 183, 0, 183, 0, 183, 0);
  const lo = v128.load(p), hi = v128.load(p, 16);
  // Per pixel u16 lanes (R, B) and (G, A): dot products give 54 R + 19 B and 183 G as i32.
  const s0 = i32x4.add(i32x4.dot_i16x8_s(v128.and(lo, m), rb), i32x4.dot_i16x8_s(i16x8.shr_u(lo, 8), ga));
  const s1 = i32x4.add(i32x4.dot_i16x8_s(v128.and(hi, m), rb), i32x4.dot_i16x8_s(i16x8.shr_u(hi, 8), ga));
  // At most 65280 + 128: u16 arithmetic holds it.
  return i16x8.shr_u(i16x8.add(i16x8.narrow_i32x4_u(s0, s1), i16x8(128, 128, 128, 128, 128, 128, 128, 128)), 8);
}

/** Luma of pixels [x0, x1) of the row at src into the luma row at dst (and of up to 7 pixels after them). */
function lumaSpan(src: usize, dst: usize, x0: i32, x1: i32): void {
  for (let x = x0; x < x1; x += 8) v128.store(dst + (<usize>x << 1), luma8(src + (<usize>x << 2)));
}

/** Lanes below n: all ones. */
// @ts-ignore: decorator
@inline function lanesBelow(n: i32): v128 {
  return i16x8.gt_s(i16x8.splat(<i16>min(n, 8)), i16x8(0, 1, 2, 3, 4, 5, 6, 7));
}

/** Sum of the luma row at row over [x0, x1). */
function sumSpan(row: usize, x0: i32, x1: i32): i32 {
  let acc = i32x4.splat(0);
  let x = x0;
  for (; x + 8 <= x1; x += 8) acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_u(v128.load(row + (<usize>x << 1))));
  if (x < x1) acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_u(v128.and(v128.load(row + (<usize>x << 1)), lanesBelow(x1 - x))));
  return i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
}

/** Sum of |3x3 Laplacian| over [x0, x1) of the luma row at b (rows a above, c below); 1 <= x0. */
function lapSpan(a: usize, b: usize, c: usize, x0: i32, x1: i32): i32 {
  let acc = i32x4.splat(0);
  for (let x = x0; x < x1; x += 8) {
    const o = <usize>(x - 1) << 1;
    // Vertical second differences at x - 1, x, x + 1, then the horizontal one (|L| <= 2040).
    const vm = i16x8.sub(i16x8.add(v128.load(a + o), v128.load(c + o)), i16x8.shl(v128.load(b + o), 1));
    const v0 = i16x8.sub(i16x8.add(v128.load(a + o, 2), v128.load(c + o, 2)), i16x8.shl(v128.load(b + o, 2), 1));
    const vp = i16x8.sub(i16x8.add(v128.load(a + o, 4), v128.load(c + o, 4)), i16x8.shl(v128.load(b + o, 4), 1));
    let l = i16x8.abs(i16x8.sub(i16x8.add(vm, vp), i16x8.shl(v0, 1)));
    if (x1 - x < 8) l = v128.and(l, lanesBelow(x1 - x));
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_u(l));
  }
  return i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
}

/**
 * Rows [y0, y1) (in the band, row y0 first): their luma over the sampled cells (and a pixel each
 * side), their luma sums where they belong to a sampled cell row, and the Laplacian of the row
 * above them where that is a centre row (odd, not a cell row's first, in a sampled cell row).
 */
export function noiseRun(y0: i32, y1: i32): void {
  const W = nW, cell = nCell, k = nK, cols = nCols;
  for (let y = y0; y < y1; y++) {
    const src = nBand + <usize>(y - y0) * <usize>W * 4;
    const row = nLuma + <usize>(y % 3) * nStride;
    if (k == 1) lumaSpan(src, row, 0, W);
    else {
      for (let i = 0; i < cols; i += k) lumaSpan(src, row, max(0, i * cell - 1), min(W, i * cell + cell + 1));
    }
    const j = y / cell;
    if (j % k == 0) {
      let o = nOut + <usize>((j / k) * nNc) * 24;
      for (let i = 0; i < cols; i += k, o += 24) {
        const x0 = i * cell;
        store<f64>(o, load<f64>(o, 16) + <f64>sumSpan(row, x0, min(W, x0 + cell)), 16);
      }
    }
    const c = y - 1;
    if (c > 0 && (c & 1) != 0 && W >= 3) {
      const jc = c / cell;
      if (jc % k == 0 && c != jc * cell) {
        const a = nLuma + <usize>((c - 1) % 3) * nStride;
        const b = nLuma + <usize>(c % 3) * nStride;
        let o = nOut + <usize>((jc / k) * nNc) * 24;
        for (let i = 0; i < cols; i += k, o += 24) {
          const x0 = max(1, i * cell), x1 = min(W - 1, i * cell + cell);
          if (x1 <= x0) continue;
          store<f64>(o, load<f64>(o) + <f64>lapSpan(a, b, row, x0, x1));
          store<f64>(o, load<f64>(o, 8) + <f64>(x1 - x0), 8);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Area downscale (src/image/resize.ts `areaDownscale`), source rows streamed in bands
// ---------------------------------------------------------------------------------------------
//
// The same f64 operations on each value in the same order as the JS, two channels per f64x2. One
// shortcut, exact: where every partial sum of an output column's whole pixels is an exactly
// representable number (no carry from a straddling pixel, or a carry with few fractional bits;
// the `exact` flags, set by src/image/pixels.ts), the JS additions round nothing, so the whole pixels are
// summed as integers and added to the carry once. Conversions are the signed ones (the values are
// small and non-negative): V8's unsigned f64x2 conversions take several instructions on x64, and
// with them the kernel ran at 0.96 ms instead of 0.69 ms for a 1 MP portrait source.

let aW: i32 = 0;
let aw: i32 = 0; // output width
let ah: i32 = 0; // output height
let aOy: i32 = 0; // output row being accumulated
let aOutRows: i32 = 0; // rows aOut holds
let aNorm: f64 = 0;
let aStart: usize = 0; // i32 [w]: first whole pixel of each output column
let aEnd: usize = 0; // i32 [w]: one past the last (the straddling pixel, if any)
let aExact: usize = 0; // i32 [w]: whole pixels may be summed as integers
let aSplit: usize = 0; // f64 [w]: part of the straddling pixel in the column (0: none)
let aYTo: usize = 0; // i32 [H]: output row each source row starts in
let aYW: usize = 0; // f64 [H]: its part there (the rest goes to the next)
let aCur: usize = 0; // f64 [w][4]: output row being accumulated
let aNext: usize = 0; // f64 [w][4]: the following one
let aBand: usize = 0; // RGBA [bandRows][W] (+ 16 bytes: 4-pixel reads past the last row)
let aOut: usize = 0; // RGBA [outRows][w]: output rows finished by a call

/**
 * Set up an area downscale of W x H to w x h, bands of bandRows source rows, at most outRows output
 * rows finished per call, `norm` the JS's 1 / ((W / w) * (H / h)). Returns the band's address;
 * the tables go to areaStart() ... areaYW(). Then areaRun per band and areaFinish.
 */
export function areaInit(W: i32, H: i32, w: i32, h: i32, bandRows: i32, outRows: i32, norm: f64): usize {
  aW = W; aw = w; ah = h; aOy = 0; aNorm = norm; aOutRows = outRows;
  aStart = alloc(<usize>w << 2);
  aEnd = alloc(<usize>w << 2);
  aExact = alloc(<usize>w << 2);
  aSplit = alloc(<usize>w << 3);
  aYTo = alloc(<usize>H << 2);
  aYW = alloc(<usize>H << 3);
  aCur = alloc(<usize>w << 5);
  aNext = alloc(<usize>w << 5);
  aBand = alloc(<usize>bandRows * <usize>W * 4 + 16);
  aOut = alloc(<usize>outRows * <usize>w * 4);
  return aBand;
}

export function areaStart(): usize { return aStart; }
export function areaEnd(): usize { return aEnd; }
export function areaExact(): usize { return aExact; }
export function areaSplit(): usize { return aSplit; }
export function areaYTo(): usize { return aYTo; }
export function areaYW(): usize { return aYW; }
export function areaOut(): usize { return aOut; }

/** The pixel at p as i32 lanes (R, G, B, A). */
// @ts-ignore: decorator
@inline function pixel32(p: usize): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p)));
}

/** Sums of pixels [x0, x1) of the row at src, i32 lanes (R, G, B, A). */
function sumPixels(src: usize, x0: i32, x1: i32): v128 {
  let acc = i32x4.splat(0);
  let x = x0;
  while (x + 4 <= x1) {
    // u16 lanes (two pixels a vector) for up to 128 steps: at most 256 * 255 a lane.
    let s = i16x8.splat(0);
    const stop = min(x1 - 3, x + 512);
    for (; x < stop; x += 4) {
      const v = v128.load(src + (<usize>x << 2));
      s = i16x8.add(s, i16x8.add(i16x8.extend_low_i8x16_u(v), i16x8.extend_high_i8x16_u(v)));
    }
    acc = i32x4.add(acc, i32x4.add(i32x4.extend_low_i16x8_u(s), i32x4.extend_high_i16x8_u(s)));
  }
  if (x < x1) {
    // The last 1-3 pixels: the ones after them masked off.
    const v = v128.and(v128.load(src + (<usize>x << 2)), i32x4.gt_s(i32x4.splat(x1 - x), i32x4(0, 1, 2, 3)));
    const s = i16x8.add(i16x8.extend_low_i8x16_u(v), i16x8.extend_high_i8x16_u(v));
    acc = i32x4.add(acc, i32x4.add(i32x4.extend_low_i16x8_u(s), i32x4.extend_high_i16x8_u(s)));
  }
  return acc;
}

/** One source row at src: averaged horizontally, added to the current (and next) output row with weight wy. */
function areaRow(src: usize, wy: f64): void {
  const w = aw;
  const WY = f64x2.splat(wy);
  const straddle = wy < 1;
  const WY1 = f64x2.splat(1 - wy);
  let c01 = f64x2.splat(0), c23 = f64x2.splat(0); // carry from a straddling pixel
  for (let o = 0; o < w; o++) {
    const e = load<i32>(aEnd + (<usize>o << 2));
    let x = load<i32>(aStart + (<usize>o << 2));
    let v01: v128, v23: v128;
    if (load<i32>(aExact + (<usize>o << 2))) {
      const s = sumPixels(src, x, e);
      v01 = f64x2.add(c01, f64x2.convert_low_i32x4_s(s));
      v23 = f64x2.add(c23, f64x2.convert_low_i32x4_s(i64x2.shuffle(s, s, 1, 1)));
    } else {
      v01 = c01;
      v23 = c23;
      for (; x < e; x++) {
        const p = pixel32(src + (<usize>x << 2));
        v01 = f64x2.add(v01, f64x2.convert_low_i32x4_s(p));
        v23 = f64x2.add(v23, f64x2.convert_low_i32x4_s(i64x2.shuffle(p, p, 1, 1)));
      }
    }
    const w0 = load<f64>(aSplit + (<usize>o << 3));
    if (w0 > 0) {
      const p = pixel32(src + (<usize>e << 2));
      const p01 = f64x2.convert_low_i32x4_s(p), p23 = f64x2.convert_low_i32x4_s(i64x2.shuffle(p, p, 1, 1));
      const W0 = f64x2.splat(w0), W1 = f64x2.splat(1 - w0);
      v01 = f64x2.add(v01, f64x2.mul(p01, W0));
      v23 = f64x2.add(v23, f64x2.mul(p23, W0));
      c01 = f64x2.mul(p01, W1);
      c23 = f64x2.mul(p23, W1);
    } else {
      c01 = f64x2.splat(0);
      c23 = f64x2.splat(0);
    }
    const cu = aCur + (<usize>o << 5);
    v128.store(cu, f64x2.add(v128.load(cu), f64x2.mul(v01, WY)));
    v128.store(cu, f64x2.add(v128.load(cu, 16), f64x2.mul(v23, WY)), 16);
    if (straddle) {
      const nx = aNext + (<usize>o << 5);
      v128.store(nx, f64x2.add(v128.load(nx), f64x2.mul(v01, WY1)));
      v128.store(nx, f64x2.add(v128.load(nx, 16), f64x2.mul(v23, WY1)), 16);
    }
  }
}

/** Math.round (ties up) of non-negative lanes, at most 255. */
// @ts-ignore: decorator
@inline function round255(m: v128): v128 {
  const f = f64x2.floor(m);
  const r = f64x2.add(f, v128.and(f64x2.ge(f64x2.sub(m, f), f64x2.splat(0.5)), f64x2.splat(1)));
  return i32x4.trunc_sat_f64x2_s_zero(f64x2.min(f64x2.splat(255), r));
}

/** The current output row, finished, to row n of aOut; the next one becomes current. */
function areaFlush(n: i32): void {
  // (src/image/pixels.ts sizes aOut for the rows a call finishes: never write past it.)
  if (n >= aOutRows) unreachable();
  const dst = aOut + <usize>n * <usize>aw * 4;
  const N = f64x2.splat(aNorm);
  for (let o: usize = 0; o < <usize>aw; o++) {
    const cu = aCur + (o << 5);
    const a = round255(f64x2.mul(v128.load(cu), N));
    const b = round255(f64x2.mul(v128.load(cu, 16), N));
    const v = i16x8.narrow_i32x4_u(i64x2.shuffle(a, b, 0, 2), a);
    v128.store32_lane(dst + (o << 2), i8x16.narrow_i16x8_u(v, v), 0);
  }
  const t = aCur;
  aCur = aNext;
  aNext = t;
  memory.fill(aNext, 0, <usize>aw << 5);
  aOy++;
}

/** Source rows [y0, y1) (in the band, row y0 first). Returns how many output rows it finished (at areaOut()). */
export function areaRun(y0: i32, y1: i32): i32 {
  let n = 0;
  for (let y = y0; y < y1; y++) {
    const ty = load<i32>(aYTo + (<usize>y << 2));
    while (aOy < ty) areaFlush(n++);
    areaRow(aBand + <usize>(y - y0) * <usize>aW * 4, load<f64>(aYW + (<usize>y << 3)));
  }
  return n;
}

/** After the last source row: the remaining output rows (at areaOut()); returns how many. */
export function areaFinish(): i32 {
  let n = 0;
  while (aOy < ah) areaFlush(n++);
  return n;
}

// ---------------------------------------------------------------------------------------------
// Chroma smoothing (the two full-size passes of src/image/chroma.ts)
// ---------------------------------------------------------------------------------------------
//
// The copy's block sums (exact: integer sums) and the output pass (f32 SIMD, within a level of
// chroma.ts's f64: test/image/chroma.test.ts); the window statistics on the small copy stay in JS.

let chW: i32 = 0;
let chw: i32 = 0;
let chh: i32 = 0;
let chF: i32 = 0;
let chCb: usize = 0; // f32 [h][w]: the copy's Cb, then B of Cb
let chCr: usize = 0; // f32 [h][w]: the copy's Cr, then B of Cr
let chEps: usize = 0; // f32 [h][w]: eps per copy pixel (written by JS)
let chMean: usize = 0; // f32 [h][w]: window means
let chSq: usize = 0; // f32 [h][w]: squares, their window means, then A
let chT1: usize = 0; // f32 [h][w]: row pass of the box means
let chT2: usize = 0; // f32 [h][w]
let chCol: usize = 0; // f64 [w][2]: column sums of the box means
let chSame: usize = 0; // u8 [h][w]: 1 where all four are the identity
let chInter: usize = 0; // f32 [h][w][4]: the four planes interleaved, one vector per copy pixel
let chLo: usize = 0; // i32 [W]
let chHi: usize = 0; // i32 [W]
let chFx: usize = 0; // f32 [W]
let chRow: usize = 0; // f32 [w][4]: the coefficients interpolated for one image row
let chSkip: usize = 0; // u8 [w]
let chSums: usize = 0; // f64 [w][3]: R, G, B sums per block column
let chBand: usize = 0; // RGBA [bandRows][W]

/** Set up a chroma job: W px wide, copy w x h, factor f, bands of bandRows rows. Returns the band's address. */
export function chromaInit(W: i32, w: i32, h: i32, f: i32, bandRows: i32): usize {
  chW = W; chw = w; chh = h; chF = f;
  const plane = <usize>w * <usize>h * 4;
  chCb = alloc(plane); chCr = alloc(plane); chEps = alloc(plane); chMean = alloc(plane);
  chSq = alloc(plane); chT1 = alloc(plane); chT2 = alloc(plane);
  chCol = alloc(<usize>w * 16);
  chSame = alloc(<usize>w * <usize>h);
  chInter = alloc(<usize>w * <usize>h * 16);
  chLo = alloc(<usize>W << 2);
  chHi = alloc(<usize>W << 2);
  chFx = alloc(<usize>W << 2);
  chRow = alloc(<usize>w << 4);
  chSkip = alloc(<usize>w);
  chSums = alloc(<usize>w * 24);
  chBand = alloc(<usize>bandRows * <usize>W * 4);
  chromaConstants();
  return chBand;
}

export function chromaEps(): usize { return chEps; }
export function chromaLo(): usize { return chLo; }
export function chromaHi(): usize { return chHi; }
export function chromaFx(): usize { return chFx; }
export function chromaSums(): usize { return chSums; }

/** Add the band's first n rows into the block-column sums (chroma.ts blockRowSums, per row). */
export function chromaSumRows(n: i32): void {
  const W = chW, f = chF;
  for (let y = 0; y < n; y++) {
    let p = chBand + <usize>y * <usize>W * 4;
    let k = chSums;
    for (let x0 = 0; x0 < W; x0 += f, k += 24) {
      let r: i32 = 0, g: i32 = 0, b: i32 = 0;
      const e = min(W, x0 + f);
      for (let x = x0; x < e; x++, p += 4) {
        r += <i32>load<u8>(p);
        g += <i32>load<u8>(p, 1);
        b += <i32>load<u8>(p, 2);
      }
      store<f64>(k, load<f64>(k) + <f64>r);
      store<f64>(k, load<f64>(k, 8) + <f64>g, 8);
      store<f64>(k, load<f64>(k, 16) + <f64>b, 16);
    }
  }
}

/** Block row j of the copy (bh image rows high) from the sums, as chroma.ts's blockChroma; the sums are cleared. */
export function chromaBlockRow(j: i32, bh: i32): void {
  const W = chW, f = chF, w = chw;
  for (let i = 0; i < w; i++) {
    const k = chSums + <usize>i * 24;
    const n = 1 / <f64>(bh * min(f, W - i * f));
    const r = load<f64>(k), g = load<f64>(k, 8), b = load<f64>(k, 16);
    const o = (<usize>j * <usize>w + <usize>i) << 2;
    store<f32>(chCb + o, <f32>((-0.168736 * r - 0.331264 * g + 0.5 * b) * n));
    store<f32>(chCr + o, <f32>((0.5 * r - 0.418688 * g - 0.081312 * b) * n));
    store<f64>(k, 0); store<f64>(k, 0, 8); store<f64>(k, 0, 16);
  }
}

/** 1 / the number of positions a window of radius r around position i of n covers. */
// @ts-ignore: decorator
@inline function invCount(i: i32, n: i32, r: i32): f64 {
  return 1 / <f64>(min(n - 1, i + r) - max(0, i - r) + 1);
}

/** chroma.ts's boxMeans: window means over (2r+1)^2 of planes p and q into op and oq (may be p and q). */
function boxMeans2(p: usize, q: usize, op: usize, oq: usize, r: i32): void {
  const w = chw, h = chh;
  for (let y = 0; y < h; y++) {
    const o = <usize>y * <usize>w;
    let sp: f64 = 0, sq: f64 = 0;
    for (let x = 0; x < r && x < w; x++) {
      sp += <f64>load<f32>(p + ((o + <usize>x) << 2));
      sq += <f64>load<f32>(q + ((o + <usize>x) << 2));
    }
    for (let x = 0; x < w; x++) {
      if (x + r < w) {
        sp += <f64>load<f32>(p + ((o + <usize>(x + r)) << 2));
        sq += <f64>load<f32>(q + ((o + <usize>(x + r)) << 2));
      }
      const k = <f64><f32>invCount(x, w, r);
      store<f32>(chT1 + ((o + <usize>x) << 2), <f32>(sp * k));
      store<f32>(chT2 + ((o + <usize>x) << 2), <f32>(sq * k));
      if (x - r >= 0) {
        sp -= <f64>load<f32>(p + ((o + <usize>(x - r)) << 2));
        sq -= <f64>load<f32>(q + ((o + <usize>(x - r)) << 2));
      }
    }
  }
  memory.fill(chCol, 0, <usize>w * 16);
  for (let y = 0; y < r && y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = chCol + (<usize>x << 4), o = (<usize>y * <usize>w + <usize>x) << 2;
      store<f64>(c, load<f64>(c) + <f64>load<f32>(chT1 + o));
      store<f64>(c, load<f64>(c, 8) + <f64>load<f32>(chT2 + o), 8);
    }
  }
  for (let y = 0; y < h; y++) {
    const add = y + r < h, drop = y - r >= 0;
    const ao = <usize>(y + r) * <usize>w, dO = <usize>(y - r) * <usize>w, o = <usize>y * <usize>w;
    const k = <f64><f32>invCount(y, h, r);
    for (let x = 0; x < w; x++) {
      const c = chCol + (<usize>x << 4);
      let a = load<f64>(c), b = load<f64>(c, 8);
      if (add) {
        a += <f64>load<f32>(chT1 + ((ao + <usize>x) << 2));
        b += <f64>load<f32>(chT2 + ((ao + <usize>x) << 2));
      }
      store<f32>(op + ((o + <usize>x) << 2), <f32>(a * k));
      store<f32>(oq + ((o + <usize>x) << 2), <f32>(b * k));
      if (drop) {
        a -= <f64>load<f32>(chT1 + ((dO + <usize>x) << 2));
        b -= <f64>load<f32>(chT2 + ((dO + <usize>x) << 2));
      }
      store<f64>(c, a);
      store<f64>(c, b, 8);
    }
  }
}

/** chroma.ts's coefficients for plane c (Cb or Cr), into lanes `lane` and `lane` + 1 of chInter. */
function chromaChannel(c: usize, lane: usize, r: i32): void {
  const n = <usize>chw * <usize>chh;
  for (let i: usize = 0; i < n; i++) {
    const v = <f64>load<f32>(c + (i << 2));
    store<f32>(chSq + (i << 2), <f32>(v * v));
  }
  boxMeans2(c, chSq, chMean, chSq, r);
  for (let i: usize = 0; i < n; i++) {
    const o = i << 2;
    const e = <f64>load<f32>(chEps + o);
    const m = <f64>load<f32>(chMean + o);
    const v = Math.max(0, <f64>load<f32>(chSq + o) - m * m);
    const k = e > 0 ? v / (v + e) : 1;
    store<f32>(chSq + o, <f32>k);
    store<f32>(c + o, <f32>((1 - k) * m));
  }
  boxMeans2(chSq, c, chSq, c, r);
  for (let i: usize = 0; i < n; i++) {
    const q = chInter + (i << 4) + (lane << 2);
    store<f32>(q, load<f32>(chSq + (i << 2)));
    store<f32>(q, load<f32>(c + (i << 2)), 4);
  }
}

/** The window statistics of both channels (after the copy and chromaEps()), then the identity marks. */
export function chromaCoefficients(r: i32): void {
  chromaChannel(chCb, 0, r);
  chromaChannel(chCr, 2, r);
  const n = <usize>chw * <usize>chh;
  for (let i: usize = 0; i < n; i++) {
    const q = chInter + (i << 4);
    store<u8>(chSame + i, load<f32>(q) == 1 && load<f32>(q, 8) == 1 && load<f32>(q, 4) == 0 && load<f32>(q, 12) == 0 ? 1 : 0);
  }
}

let chK: usize = 0; // f32x4 constants [14]: (Cb of R, Cr of R, Cb of G, Cr of G), (Cb of B, Cr of B, 0, 0), dRGB per Cb, per Cr; then chromaConstants' splats

function chromaConstants(): void {
  chK = alloc(224);
  const k = chK;
  store<f32>(k, <f32>-0.168736); store<f32>(k, <f32>0.5, 4); store<f32>(k, <f32>-0.331264, 8); store<f32>(k, <f32>-0.418688, 12);
  store<f32>(k, <f32>0.5, 16); store<f32>(k, <f32>-0.081312, 20); store<f32>(k, 0, 24); store<f32>(k, 0, 28);
  store<f32>(k, 0, 32); store<f32>(k, <f32>-0.344136, 36); store<f32>(k, <f32>1.772, 40); store<f32>(k, 0, 44);
  store<f32>(k, <f32>1.402, 48); store<f32>(k, <f32>-0.714136, 52); store<f32>(k, 0, 56); store<f32>(k, 0, 60);
  // The same, one constant per vector, for four pixels at a time (chroma4): Cb of R, G, B; Cr of
  // R, G, B; R per Cr; G per Cb, per Cr; B per Cb.
  const soa: StaticArray<f32> = [-0.168736, -0.331264, 0.5, 0.5, -0.418688, -0.081312, 1.402, -0.344136, -0.714136, 1.772];
  for (let i = 0; i < 10; i++) v128.store(k + 64 + (<usize>i << 4), f32x4.splat(soa[i]));
}

/** One pixel's four coefficients (A, B of Cb; A, B of Cr), interpolated from the row at column x. */
// @ts-ignore: decorator
@inline function chromaAt(x: usize): v128 {
  const i0 = <usize>load<i32>(chLo + (x << 2)), i1 = <usize>load<i32>(chHi + (x << 2));
  const c0 = v128.load(chRow + (i0 << 4)), c1 = v128.load(chRow + (i1 << 4));
  return f32x4.add(c0, f32x4.mul(f32x4.sub(c1, c0), f32x4.splat(load<f32>(chFx + (x << 2)))));
}

/**
 * Four pixels at p given their coefficients one vector each (a lane per pixel): Cb, Cr and the
 * change of R, G, B for the four at once.
 */
// @ts-ignore: decorator
@inline function chroma4(p: usize, aCb: v128, bCb: v128, aCr: v128, bCr: v128): void {
  const px = v128.load(p);
  const byte = i32x4.splat(255);
  const r = f32x4.convert_i32x4_s(v128.and(px, byte));
  const g = f32x4.convert_i32x4_s(v128.and(i32x4.shr_u(px, 8), byte));
  const b = f32x4.convert_i32x4_s(v128.and(i32x4.shr_u(px, 16), byte));
  const k = chK;
  const cb = f32x4.add(f32x4.add(f32x4.mul(r, v128.load(k, 64)), f32x4.mul(g, v128.load(k, 80))), f32x4.mul(b, v128.load(k, 96)));
  const cr = f32x4.add(f32x4.add(f32x4.mul(r, v128.load(k, 112)), f32x4.mul(g, v128.load(k, 128))), f32x4.mul(b, v128.load(k, 144)));
  // The change of (Cb, Cr): (A - 1) C + B.
  const one = f32x4.splat(1);
  const dCb = f32x4.add(f32x4.mul(f32x4.sub(aCb, one), cb), bCb);
  const dCr = f32x4.add(f32x4.mul(f32x4.sub(aCr, one), cr), bCr);
  const ro = f32x4.add(r, f32x4.mul(dCr, v128.load(k, 160)));
  const go = f32x4.add(g, f32x4.add(f32x4.mul(dCb, v128.load(k, 176)), f32x4.mul(dCr, v128.load(k, 192))));
  const bo = f32x4.add(b, f32x4.mul(dCb, v128.load(k, 208)));
  const zero = i32x4.splat(0);
  const ri = i32x4.min_s(i32x4.max_s(roundF32(ro), zero), byte);
  const gi = i32x4.min_s(i32x4.max_s(roundF32(go), zero), byte);
  const bi = i32x4.min_s(i32x4.max_s(roundF32(bo), zero), byte);
  const rgb = v128.or(v128.or(ri, i32x4.shl(gi, 8)), i32x4.shl(bi, 16));
  v128.store(p, v128.or(rgb, v128.and(px, i32x4.splat(0xff000000))));
}

/** Pixels x..x+3 of a row at p: the coefficients interpolated, then chroma4. */
// @ts-ignore: decorator
@inline function chromaGroup(p: usize, x: usize): void {
  const i0 = <usize>load<i32>(chLo + (x << 2));
  if (i0 == <usize>load<i32>(chLo + ((x + 3) << 2))) {
    // The four between the same two copy pixels (all but the edges at factor 4, groups starting
    // at x = 2 mod 4): one difference, the four weights one vector.
    const c0 = v128.load(chRow + (i0 << 4));
    const d = f32x4.sub(v128.load(chRow + (<usize>load<i32>(chHi + (x << 2)) << 4)), c0);
    const fx = v128.load(chFx + (x << 2));
    chroma4(p,
      f32x4.add(i32x4.shuffle(c0, c0, 0, 0, 0, 0), f32x4.mul(i32x4.shuffle(d, d, 0, 0, 0, 0), fx)),
      f32x4.add(i32x4.shuffle(c0, c0, 1, 1, 1, 1), f32x4.mul(i32x4.shuffle(d, d, 1, 1, 1, 1), fx)),
      f32x4.add(i32x4.shuffle(c0, c0, 2, 2, 2, 2), f32x4.mul(i32x4.shuffle(d, d, 2, 2, 2, 2), fx)),
      f32x4.add(i32x4.shuffle(c0, c0, 3, 3, 3, 3), f32x4.mul(i32x4.shuffle(d, d, 3, 3, 3, 3), fx)));
    return;
  }
  // Otherwise each pixel's four coefficients, transposed to one vector per coefficient.
  const c0 = chromaAt(x), c1 = chromaAt(x + 1), c2 = chromaAt(x + 2), c3 = chromaAt(x + 3);
  const t0 = i32x4.shuffle(c0, c1, 0, 4, 1, 5), t1 = i32x4.shuffle(c2, c3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(c0, c1, 2, 6, 3, 7), t3 = i32x4.shuffle(c2, c3, 2, 6, 3, 7);
  chroma4(p, i32x4.shuffle(t0, t1, 0, 1, 4, 5), i32x4.shuffle(t0, t1, 2, 3, 6, 7), i32x4.shuffle(t2, t3, 0, 1, 4, 5), i32x4.shuffle(t2, t3, 2, 3, 6, 7));
}

/** One pixel at p, column x (a row's first and last few). */
// @ts-ignore: decorator
@inline function chroma1(p: usize, x: usize, k0: v128, k1: v128, dCb: v128, dCr: v128): void {
  const i0 = <usize>load<i32>(chLo + (x << 2)), i1 = <usize>load<i32>(chHi + (x << 2));
  if ((load<u8>(chSkip + i0) & load<u8>(chSkip + i1)) != 0) return;
  const c = chromaAt(x);
  const src = load<u32>(p);
  const px = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(i32x4.splat(src))));
  // (Cb, Cr) of the pixel in lanes 0 and 1: R and G terms side by side, then B's.
  const s0 = f32x4.add(f32x4.mul(i32x4.shuffle(px, px, 0, 0, 1, 1), k0), f32x4.mul(i32x4.shuffle(px, px, 2, 2, 3, 3), k1));
  const cc = f32x4.add(s0, i32x4.shuffle(s0, s0, 2, 3, 0, 1));
  // The change of (Cb, Cr): (A - 1) C + B.
  const d = f32x4.add(f32x4.mul(f32x4.sub(i32x4.shuffle(c, c, 0, 2, 0, 2), f32x4.splat(1)), cc), i32x4.shuffle(c, c, 1, 3, 1, 3));
  const out = f32x4.add(px, f32x4.add(f32x4.mul(i32x4.shuffle(d, d, 0, 0, 0, 0), dCb), f32x4.mul(i32x4.shuffle(d, d, 1, 1, 1, 1), dCr)));
  store<u32>(p, packPixel(roundF32(out), src));
}

/**
 * The output pass (chroma.ts apply) on the band's n rows, image rows y0.., in f32: four pixels per
 * step (chromaGroup), a row's first and last few one at a time. Within a level of the JS's f64
 * (test/image/chroma.test.ts).
 */
export function chromaApplyRows(y0: i32, n: i32): void {
  const W = <usize>chW, w = chw, h = chh;
  const f = <f64>chF;
  const k0 = v128.load(chK), k1 = v128.load(chK, 16), dCb = v128.load(chK, 32), dCr = v128.load(chK, 48);
  // Groups start where a copy interval does at factor 4 (x = 2 mod 4).
  const x0: usize = W >= 6 ? 2 : 0;
  const x1 = x0 + ((W - x0) & ~3);
  for (let t = 0; t < n; t++) {
    const y = y0 + t;
    const v = Math.min(Math.max((<f64>y + 0.5) / f - 0.5, 0), <f64>(h - 1));
    const j0 = <i32>Math.floor(v), j1 = min(j0 + 1, h - 1);
    const fv = v - <f64>j0;
    const o0 = <usize>j0 * <usize>w, o1 = <usize>j1 * <usize>w;
    const fv4 = f32x4.splat(<f32>fv);
    for (let i = 0; i < w; i++) {
      const k0i = o0 + <usize>i, k1i = o1 + <usize>i;
      store<u8>(chSkip + <usize>i, load<u8>(chSame + k0i) & load<u8>(chSame + k1i));
      const c0 = v128.load(chInter + (k0i << 4)), c1 = v128.load(chInter + (k1i << 4));
      v128.store(chRow + (<usize>i << 4), f32x4.add(c0, f32x4.mul(f32x4.sub(c1, c0), fv4)));
    }
    const row = chBand + <usize>t * W * 4;
    for (let x: usize = 0; x < x0; x++) chroma1(row + (x << 2), x, k0, k1, dCb, dCr);
    for (let x = x0; x < x1; x += 4) {
      // Left as they are when every copy pixel the four read is the identity.
      const from = <usize>load<i32>(chLo + (x << 2)), to = <usize>load<i32>(chHi + ((x + 3) << 2));
      let same: u8 = 1;
      for (let i = from; i <= to; i++) same &= load<u8>(chSkip + i);
      if (same == 0) chromaGroup(row + (x << 2), x);
    }
    for (let x = x1; x < W; x++) chroma1(row + (x << 2), x, k0, k1, dCb, dCr);
  }
}

// ---------------------------------------------------------------------------------------------
// The noise floor's colour (src/image/floor.ts): the same table, the same f64 operations, the same bytes.
// ---------------------------------------------------------------------------------------------

/** Uint8ClampedArray's store: clamp to 0..255, round half to even. */
// @ts-ignore: decorator
@inline function clampByte(v: f64): u8 {
  return v <= 0 ? 0 : v >= 255 ? 255 : <u8><i32>nearest<f64>(v);
}

let flTable: usize = 0; // f32 [reach + 1]: the share of colour kept per luma level
let flReach: i32 = 0;

/** Set up the floor: its table (written by JS to the address returned), levels 0..reach. */
export function floorInit(reach: i32): usize {
  flReach = reach;
  flTable = alloc(<usize>(reach + 1) << 2);
  return flTable;
}

/** One pixel at p (floor.ts's loop body); returns 1 if it changed. */
// @ts-ignore: decorator
@inline function floorPixel(p: usize, reach: i32): i32 {
  const r = <i32>load<u8>(p), g = <i32>load<u8>(p, 1), b = <i32>load<u8>(p, 2);
  if (r == g && g == b) return 0;
  const y = (54 * r + 183 * g + 19 * b + 128) >> 8;
  if (y >= reach) return 0;
  const k = <f64>load<f32>(flTable + (<usize>y << 2));
  const rf = <f64>r, gf = <f64>g, bf = <f64>b;
  const l = 0.2126 * rf + 0.7152 * gf + 0.0722 * bf;
  store<u8>(p, clampByte(l + (rf - l) * k));
  store<u8>(p, clampByte(l + (gf - l) * k), 1);
  store<u8>(p, clampByte(l + (bf - l) * k), 2);
  return 1;
}

/** Desaturate `pixels` pixels from p (the curves' band, before curvesRun) in place; returns how many changed. */
export function floorRun(p: usize, pixels: i32): i32 {
  let changed = 0;
  const reach = flReach;
  const byte = i32x4.splat(255), limit = i32x4.splat(reach);
  const n4 = pixels & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const q = p + (<usize>i << 2);
    // Four at a time, most often all far above the floor (or grey): then nothing to do.
    const px = v128.load(q);
    const r = v128.and(px, byte), g = v128.and(i32x4.shr_u(px, 8), byte), b = v128.and(i32x4.shr_u(px, 16), byte);
    const y = i32x4.shr_s(i32x4.add(i32x4.add(i32x4.mul(r, i32x4.splat(54)), i32x4.mul(g, i32x4.splat(183))), i32x4.add(i32x4.mul(b, i32x4.splat(19)), i32x4.splat(128))), 8);
    const grey = v128.and(i32x4.eq(r, g), i32x4.eq(g, b));
    if (!v128.any_true(v128.andnot(i32x4.lt_s(y, limit), grey))) continue;
    for (let j = 0; j < 4; j++) changed += floorPixel(q + (<usize>j << 2), reach);
  }
  for (; i < pixels; i++) changed += floorPixel(p + (<usize>i << 2), reach);
  return changed;
}

// ---------------------------------------------------------------------------------------------
// Deep shadows (src/image/shadows.ts, smoothDeepShadows's blend): per output row the cells (low-pass
// R, G, B and the weight) are interpolated between their two rows, then per pixel between two cells,
// in one f32 vector, and the pixel moves towards the low-pass by the weight (alpha's lane by 0).
// f32 where the JS is f64: within a level of it.
// ---------------------------------------------------------------------------------------------

let shW: i32 = 0;
let shw: i32 = 0;
let shRuns: i32 = 0;
let shCells: usize = 0; // f32 [h][w][4]: R, G, B, weight
let shStart: usize = 0; // i32 [runs + 1]: output columns in runs between the same two cells...
let shA: usize = 0; // i32 [runs]: ...the left one...
let shB: usize = 0; // i32 [runs]: ...and the right one
let shFx: usize = 0; // f32 [W]: the right cell's share
let shTyLo: usize = 0; // i32 [H]
let shTyHi: usize = 0; // i32 [H]
let shTyF: usize = 0; // f32 [H]
let shRow: usize = 0; // f32 [w][4]: the cells interpolated for one output row
let shBand: usize = 0; // RGBA [bandRows][W]

/** Set up a deep-shadow job: W x H px, cells w x h, `runs` column runs, bands of bandRows rows. Returns the band's address. */
export function shadowsInit(W: i32, H: i32, w: i32, h: i32, runs: i32, bandRows: i32): usize {
  shW = W; shw = w; shRuns = runs;
  shCells = alloc((<usize>w * <usize>h) << 4);
  shStart = alloc(<usize>(runs + 1) << 2);
  shA = alloc(<usize>runs << 2);
  shB = alloc(<usize>runs << 2);
  shFx = alloc(<usize>W << 2);
  shTyLo = alloc(<usize>H << 2);
  shTyHi = alloc(<usize>H << 2);
  shTyF = alloc(<usize>H << 2);
  shRow = alloc(<usize>w << 4);
  shBand = alloc(<usize>bandRows * <usize>W * 4);
  return shBand;
}

export function shadowsCells(): usize { return shCells; }
export function shadowsStart(): usize { return shStart; }
export function shadowsA(): usize { return shA; }
export function shadowsB(): usize { return shB; }
export function shadowsFx(): usize { return shFx; }
export function shadowsTyLo(): usize { return shTyLo; }
export function shadowsTyHi(): usize { return shTyHi; }
export function shadowsTyF(): usize { return shTyF; }

/** Blend the band's n rows, image rows y0 .. y0 + n - 1. */
export function shadowsRun(y0: i32, n: i32): void {
  const W = shW, w = shw;
  const zero = f32x4.splat(0);
  for (let t = 0; t < n; t++) {
    const y = <usize>(y0 + t);
    const r0 = <usize>load<i32>(shTyLo + (y << 2)) * <usize>w;
    const r1 = <usize>load<i32>(shTyHi + (y << 2)) * <usize>w;
    const fy4 = f32x4.splat(load<f32>(shTyF + (y << 2)));
    let any = false;
    for (let i: usize = 0; i < <usize>w; i++) {
      const c0 = v128.load(shCells + ((r0 + i) << 4)), c1 = v128.load(shCells + ((r1 + i) << 4));
      const c = f32x4.add(c0, f32x4.mul(f32x4.sub(c1, c0), fy4));
      v128.store(shRow + (i << 4), c);
      if (f32x4.extract_lane(c, 3) > 0) any = true;
    }
    if (!any) continue;
    const row = shBand + <usize>t * <usize>W * 4;
    for (let k = 0; k < shRuns; k++) {
      const a = <usize>load<i32>(shA + (<usize>k << 2)), b = <usize>load<i32>(shB + (<usize>k << 2));
      const va = v128.load(shRow + (a << 4)), vb = v128.load(shRow + (b << 4));
      // The weight is linear along a run: nothing moves when it is 0 at both ends.
      if (!(f32x4.extract_lane(va, 3) > 0) && !(f32x4.extract_lane(vb, 3) > 0)) continue;
      const dv = f32x4.sub(vb, va);
      const x1 = <usize>load<i32>(shStart + (<usize>(k + 1) << 2));
      for (let x = <usize>load<i32>(shStart + (<usize>k << 2)); x < x1; x++) {
        const p = row + (x << 2);
        const v = f32x4.add(va, f32x4.mul(dv, f32x4.splat(load<f32>(shFx + (x << 2)))));
        // (weight, weight, weight, 0)
        const kv = i8x16.shuffle(v, zero, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 16, 17, 18, 19);
        const px = f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p))));
        // Rounded half to even and clamped to 0..255, as the JS's Uint8ClampedArray stores.
        const o = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.add(px, f32x4.mul(f32x4.sub(v, px), kv))));
        v128.store32_lane(p, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(o, o), i16x8.splat(0)), 0);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Cell peaks (src/image/shadows.ts cellPeaks): the highest fixed-point luma of each cell's pixels,
// the same integers as the JS.
// ---------------------------------------------------------------------------------------------

let pkW: i32 = 0;
let pkCols: i32 = 0;
let pkXStart: usize = 0; // i32 [cols + 1]: the first pixel column of each cell column, then W
let pkYCell: usize = 0; // i32 [H]: the cell row of each pixel row
let pkOut: usize = 0; // u8 [rows][cols]
let pkBand: usize = 0; // RGBA [bandRows][W]

/** Set up a cell-peak job: W x H px, cols x rows cells, bands of bandRows rows. Returns the band's address. */
export function peaksInit(W: i32, H: i32, cols: i32, rows: i32, bandRows: i32): usize {
  pkW = W; pkCols = cols;
  pkXStart = alloc(<usize>(cols + 1) << 2);
  pkYCell = alloc(<usize>H << 2);
  pkOut = alloc(<usize>cols * <usize>rows);
  pkBand = alloc(<usize>bandRows * <usize>W * 4);
  return pkBand;
}

export function peaksXStart(): usize { return pkXStart; }
export function peaksYCell(): usize { return pkYCell; }
export function peaksOut(): usize { return pkOut; }

/** Take the band's n rows, image rows y0 .. y0 + n - 1. */
export function peaksRun(y0: i32, n: i32): void {
  const W = <usize>pkW, cols = pkCols;
  for (let t = 0; t < n; t++) {
    const o = pkOut + <usize>load<i32>(pkYCell + (<usize>(y0 + t) << 2)) * <usize>cols;
    const row = pkBand + <usize>t * W * 4;
    for (let i = 0; i < cols; i++) {
      const x1 = <usize>load<i32>(pkXStart + (<usize>(i + 1) << 2));
      let x = <usize>load<i32>(pkXStart + (<usize>i << 2));
      // Four pixels a step: R, G and B each into the low byte of a 32-bit lane.
      let mv = i32x4.splat(0);
      const z = i32x4.splat(0);
      for (; x + 4 <= x1; x += 4) {
        const v = v128.load(row + (x << 2));
        const r = i8x16.shuffle(v, z, 0, 16, 16, 16, 4, 16, 16, 16, 8, 16, 16, 16, 12, 16, 16, 16);
        const g = i8x16.shuffle(v, z, 1, 16, 16, 16, 5, 16, 16, 16, 9, 16, 16, 16, 13, 16, 16, 16);
        const b = i8x16.shuffle(v, z, 2, 16, 16, 16, 6, 16, 16, 16, 10, 16, 16, 16, 14, 16, 16, 16);
        const l = i32x4.shr_u(i32x4.add(i32x4.add(i32x4.mul(r, i32x4.splat(54)), i32x4.mul(g, i32x4.splat(183))), i32x4.add(i32x4.mul(b, i32x4.splat(19)), i32x4.splat(128))), 8);
        mv = i32x4.max_u(mv, l);
      }
      let m: u32 = max(max(<u32>i32x4.extract_lane(mv, 0), <u32>i32x4.extract_lane(mv, 1)), max(<u32>i32x4.extract_lane(mv, 2), <u32>i32x4.extract_lane(mv, 3)));
      for (; x < x1; x++) {
        const p = row + (x << 2);
        const l = (54 * <u32>load<u8>(p) + 183 * <u32>load<u8>(p, 1) + 19 * <u32>load<u8>(p, 2) + 128) >> 8;
        m = max(m, l);
      }
      const k = o + <usize>i;
      if (<u8>m > load<u8>(k)) store<u8>(k, <u8>m);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Strong denoiser: sliding 8x8 DCT shrinkage, hard threshold then Wiener (port of dctDenoise,
// src/image/dct-denoise.ts; the same algorithm in f32, four coefficients per vector)
// ---------------------------------------------------------------------------------------------
//
// Layout per band of R rows: three opponent planes and a pilot (R x W f32); row-transformed
// segments of a plane and of the pilot, and the accumulator (R x nx x 8 f32: segment i of row r at
// (r * nx + i) * 8); the accumulated weights (R x nx). A patch's 8 row segments are 8 rows of two
// vectors (coefficients l 0-3 and 4-7), so its column transforms run on four columns at a time.

// A band reads 7 rows above its output rows (pass 2's patches) and 14 below (pass 1's patches under
// pass 2's pilot rows); the pilot's 14 rows around the band's end are kept for the next band, whose
// pass 1 then starts at its first output row instead of 14 rows above it.
const DCT_CARRY = 14;
const DCT_C1: f32 = 0.9238795325112867;
const DCT_C3: f32 = 0.3826834323650898;
const DCT_HS: f32 = 0.35355339059327373; // cos(pi/4) / 2
// The odd rows of the DCT matrix (k = 1, 3, 5, 7) times 1/2, as dct-denoise.ts's ODD: literals, so the
// vector transforms splat them from constants rather than memory.
const DCT_O00: f32 = 0.4903926402016152;
const DCT_O01: f32 = 0.4157348061512726;
const DCT_O02: f32 = 0.27778511650980114;
const DCT_O03: f32 = 0.09754516100806417;
const DCT_O10: f32 = 0.4157348061512726;
const DCT_O11: f32 = -0.0975451610080641;
const DCT_O12: f32 = -0.4903926402016152;
const DCT_O13: f32 = -0.2777851165098011;
const DCT_O20: f32 = 0.27778511650980114;
const DCT_O21: f32 = -0.4903926402016152;
const DCT_O22: f32 = 0.09754516100806415;
const DCT_O23: f32 = 0.41573480615127273;
const DCT_O30: f32 = 0.09754516100806417;
const DCT_O31: f32 = -0.2777851165098011;
const DCT_O32: f32 = 0.41573480615127273;
const DCT_O33: f32 = -0.4903926402016153;
let dW: i32 = 0, dH: i32 = 0, dNx: i32 = 0, dRows: i32 = 0, dCols: i32 = 0, dK: f32 = 0;
let dXs: usize = 0, dXLo: usize = 0, dXHi: usize = 0, dXF: usize = 0, dYLo: usize = 0, dYHi: usize = 0, dYF: usize = 0;
let dEps: usize = 0, dEpsRow: usize = 0, dSigma: usize = 0;
let dBand: usize = 0, dPlanes: usize = 0, dPilot: usize = 0, dHs: usize = 0, dHp: usize = 0, dAcc: usize = 0, dWt: usize = 0;
let dCarry: usize = 0;
let dSum: usize = 0, dWsum: usize = 0, dBlk: usize = 0, dPblk: usize = 0, dWin: usize = 0, dS: usize = 0, dT: usize = 0, dReg: i32 = 0;

/**
 * Set up a strong-denoise job: image W x H (each at least 8), bands of up to `rows` rows (output
 * rows plus both margins), eps grid cols x rows of cells stepX x stepY pixels (to dctEps()),
 * threshold multiple K. Returns the band's RGBA rows' address.
 */
export function dctInit(W: i32, H: i32, rows: i32, cols: i32, gridRows: i32, stepX: f64, stepY: f64, K: f64): usize {
  dW = W; dH = H; dRows = rows; dCols = cols; dK = <f32>K;
  let nx = 0;
  for (let x = 0; x + 8 <= W; x += 2) nx++;
  const flush = ((W - 8) & 1) != 0;
  if (flush) nx++;
  dNx = nx;
  dXs = alloc(<usize>nx << 2);
  for (let i = 0; i < nx; i++) store<i32>(dXs + (<usize>i << 2), flush && i == nx - 1 ? W - 8 : 2 * i);
  // Taps at every pixel; a patch reads those of its centre.
  dXLo = alloc(<usize>W << 2); dXHi = alloc(<usize>W << 2); dXF = alloc(<usize>W << 2);
  dYLo = alloc(<usize>H << 2); dYHi = alloc(<usize>H << 2); dYF = alloc(<usize>H << 2);
  epsTaps(W, cols, stepX, dXLo, dXHi, dXF);
  epsTaps(H, gridRows, stepY, dYLo, dYHi, dYF);
  dEps = alloc(<usize>(cols * gridRows) << 2);
  dEpsRow = alloc(<usize>cols << 2);
  dSigma = alloc(<usize>nx << 2);
  // The Kaiser window (beta 2) of dct-denoise.ts's WINDOW, from the same series.
  dWin = alloc(32);
  let i0b: f64 = 1, t: f64 = 1;
  for (let k = 1; k < 20; k++) { t *= (2 / <f64>(2 * k)) ** 2; i0b += t; }
  for (let n = 0; n < 8; n++) {
    const x: f64 = 2 * Math.sqrt(1 - ((<f64>(2 * n) / 7 - 1) ** 2));
    let s: f64 = 1, u: f64 = 1;
    for (let k = 1; k < 20; k++) { u *= (x / <f64>(2 * k)) ** 2; s += u; }
    store<f32>(dWin + (<usize>n << 2), <f32>(s / i0b));
  }
  const plane = <usize>rows * <usize>W << 2;
  const seg = <usize>rows * <usize>nx << 5;
  dBand = alloc(<usize>rows * <usize>W * 4);
  dPlanes = alloc(3 * plane);
  dPilot = alloc(plane);
  dHs = alloc(seg); dHp = alloc(seg); dAcc = alloc(seg);
  dWt = alloc(<usize>rows * <usize>nx << 2);
  dCarry = alloc(3 * (<usize>W * DCT_CARRY << 2));
  dSum = alloc(<usize>W << 2); dWsum = alloc(<usize>W << 2);
  dBlk = alloc(256); dPblk = alloc(256);
  dS = alloc(128); dT = alloc(128);
  dReg = ((W - 8) >> 1) + 1; // segments at 2i: all but a flush last one
  return dBand;
}

export function dctEps(): usize { return dEps; }

/** Scalar 8-point DCT of x[p + n * s] into y[q + k * t] (byte strides). */
@inline function dct8s(p: usize, s: usize, q: usize, t: usize): void {
  const x0 = load<f32>(p), x1 = load<f32>(p + s), x2 = load<f32>(p + 2 * s), x3 = load<f32>(p + 3 * s);
  const x4 = load<f32>(p + 4 * s), x5 = load<f32>(p + 5 * s), x6 = load<f32>(p + 6 * s), x7 = load<f32>(p + 7 * s);
  const e0 = x0 + x7, e1 = x1 + x6, e2 = x2 + x5, e3 = x3 + x4;
  const o0 = x0 - x7, o1 = x1 - x6, o2 = x2 - x5, o3 = x3 - x4;
  const ee0 = e0 + e3, ee1 = e1 + e2, eo0 = e0 - e3, eo1 = e1 - e2;
  store<f32>(q, DCT_HS * (ee0 + ee1));
  store<f32>(q + 4 * t, DCT_HS * (ee0 - ee1));
  store<f32>(q + 2 * t, <f32>0.5 * (DCT_C1 * eo0 + DCT_C3 * eo1));
  store<f32>(q + 6 * t, <f32>0.5 * (DCT_C3 * eo0 - DCT_C1 * eo1));
  store<f32>(q + t, DCT_O00 * o0 + DCT_O01 * o1 + DCT_O02 * o2 + DCT_O03 * o3);
  store<f32>(q + 3 * t, DCT_O10 * o0 + DCT_O11 * o1 + DCT_O12 * o2 + DCT_O13 * o3);
  store<f32>(q + 5 * t, DCT_O20 * o0 + DCT_O21 * o1 + DCT_O22 * o2 + DCT_O23 * o3);
  store<f32>(q + 7 * t, DCT_O30 * o0 + DCT_O31 * o1 + DCT_O32 * o2 + DCT_O33 * o3);
}

/** Scalar inverse of dct8s, times the window, added to y[q + n * t]. */
@inline function idct8sAdd(p: usize, s: usize, q: usize, t: usize): void {
  const X0 = load<f32>(p), X1 = load<f32>(p + s), X2 = load<f32>(p + 2 * s), X3 = load<f32>(p + 3 * s);
  const X4 = load<f32>(p + 4 * s), X5 = load<f32>(p + 5 * s), X6 = load<f32>(p + 6 * s), X7 = load<f32>(p + 7 * s);
  const a = DCT_HS * (X0 + X4), b = DCT_HS * (X0 - X4);
  const d0 = <f32>0.5 * (DCT_C1 * X2 + DCT_C3 * X6), d1 = <f32>0.5 * (DCT_C3 * X2 - DCT_C1 * X6);
  addPairS(q, 0, 7 * t, a + d0, DCT_O00 * X1 + DCT_O10 * X3 + DCT_O20 * X5 + DCT_O30 * X7, load<f32>(dWin));
  addPairS(q, t, 6 * t, b + d1, DCT_O01 * X1 + DCT_O11 * X3 + DCT_O21 * X5 + DCT_O31 * X7, load<f32>(dWin, 4));
  addPairS(q, 2 * t, 5 * t, b - d1, DCT_O02 * X1 + DCT_O12 * X3 + DCT_O22 * X5 + DCT_O32 * X7, load<f32>(dWin, 8));
  addPairS(q, 3 * t, 4 * t, a - d0, DCT_O03 * X1 + DCT_O13 * X3 + DCT_O23 * X5 + DCT_O33 * X7, load<f32>(dWin, 12));
}

/** Adds k (E + O) at q + u and k (E - O) at q + v. */
@inline function addPairS(q: usize, u: usize, v: usize, E: f32, O: f32, k: f32): void {
  store<f32>(q + u, load<f32>(q + u) + k * (E + O));
  store<f32>(q + v, load<f32>(q + v) + k * (E - O));
}

/** c0 o0 + c1 o1 + c2 o2 + c3 o3, four lanes. */
@inline function oddRow(c0: f32, c1: f32, c2: f32, c3: f32, o0: v128, o1: v128, o2: v128, o3: v128): v128 {
  return f32x4.add(
    f32x4.add(f32x4.mul(f32x4.splat(c0), o0), f32x4.mul(f32x4.splat(c1), o1)),
    f32x4.add(f32x4.mul(f32x4.splat(c2), o2), f32x4.mul(f32x4.splat(c3), o3)));
}

/** Adds wk (E + O) at q + u and wk (E - O) at q + v. */
@inline function addPair(q: usize, u: usize, v: usize, E: v128, O: v128, wk: v128): void {
  v128.store(q + u, f32x4.add(v128.load(q + u), f32x4.mul(wk, f32x4.add(E, O))));
  v128.store(q + v, f32x4.add(v128.load(q + v), f32x4.mul(wk, f32x4.sub(E, O))));
}

/** Column DCT of four columns: 8 vectors `s` bytes apart from p, into 8 vectors `t` bytes apart from q. */
@inline function dct8v(p: usize, s: usize, q: usize, t: usize): void {
  const x0 = v128.load(p), x1 = v128.load(p + s), x2 = v128.load(p + 2 * s), x3 = v128.load(p + 3 * s);
  const x4 = v128.load(p + 4 * s), x5 = v128.load(p + 5 * s), x6 = v128.load(p + 6 * s), x7 = v128.load(p + 7 * s);
  const e0 = f32x4.add(x0, x7), e1 = f32x4.add(x1, x6), e2 = f32x4.add(x2, x5), e3 = f32x4.add(x3, x4);
  const o0 = f32x4.sub(x0, x7), o1 = f32x4.sub(x1, x6), o2 = f32x4.sub(x2, x5), o3 = f32x4.sub(x3, x4);
  const ee0 = f32x4.add(e0, e3), ee1 = f32x4.add(e1, e2), eo0 = f32x4.sub(e0, e3), eo1 = f32x4.sub(e1, e2);
  const hs = f32x4.splat(DCT_HS);
  const c1 = f32x4.splat(DCT_C1 * <f32>0.5), c3 = f32x4.splat(DCT_C3 * <f32>0.5);
  v128.store(q, f32x4.mul(hs, f32x4.add(ee0, ee1)));
  v128.store(q + 4 * t, f32x4.mul(hs, f32x4.sub(ee0, ee1)));
  v128.store(q + 2 * t, f32x4.add(f32x4.mul(c1, eo0), f32x4.mul(c3, eo1)));
  v128.store(q + 6 * t, f32x4.sub(f32x4.mul(c3, eo0), f32x4.mul(c1, eo1)));
  v128.store(q + t, oddRow(DCT_O00, DCT_O01, DCT_O02, DCT_O03, o0, o1, o2, o3));
  v128.store(q + 3 * t, oddRow(DCT_O10, DCT_O11, DCT_O12, DCT_O13, o0, o1, o2, o3));
  v128.store(q + 5 * t, oddRow(DCT_O20, DCT_O21, DCT_O22, DCT_O23, o0, o1, o2, o3));
  v128.store(q + 7 * t, oddRow(DCT_O30, DCT_O31, DCT_O32, DCT_O33, o0, o1, o2, o3));
}

/** Inverse column DCT of four columns (8 vectors t bytes apart from p), times w and the window, added at q (s apart). */
@inline function idct8vAdd(p: usize, t: usize, q: usize, s: usize, w: f32): void {
  const X0 = v128.load(p), X1 = v128.load(p + t), X2 = v128.load(p + 2 * t), X3 = v128.load(p + 3 * t);
  const X4 = v128.load(p + 4 * t), X5 = v128.load(p + 5 * t), X6 = v128.load(p + 6 * t), X7 = v128.load(p + 7 * t);
  const hs = f32x4.splat(DCT_HS);
  const c1 = f32x4.splat(DCT_C1 * <f32>0.5), c3 = f32x4.splat(DCT_C3 * <f32>0.5);
  const a = f32x4.mul(hs, f32x4.add(X0, X4)), b = f32x4.mul(hs, f32x4.sub(X0, X4));
  const d0 = f32x4.add(f32x4.mul(c1, X2), f32x4.mul(c3, X6)), d1 = f32x4.sub(f32x4.mul(c3, X2), f32x4.mul(c1, X6));
  // Output rows n and 7 - n (the window is symmetric: both take row n's weight).
  addPair(q, 0, 7 * s, f32x4.add(a, d0), oddRow(DCT_O00, DCT_O10, DCT_O20, DCT_O30, X1, X3, X5, X7), f32x4.splat(w * load<f32>(dWin)));
  addPair(q, s, 6 * s, f32x4.add(b, d1), oddRow(DCT_O01, DCT_O11, DCT_O21, DCT_O31, X1, X3, X5, X7), f32x4.splat(w * load<f32>(dWin, 4)));
  addPair(q, 2 * s, 5 * s, f32x4.sub(b, d1), oddRow(DCT_O02, DCT_O12, DCT_O22, DCT_O32, X1, X3, X5, X7), f32x4.splat(w * load<f32>(dWin, 8)));
  addPair(q, 3 * s, 4 * s, f32x4.sub(a, d0), oddRow(DCT_O03, DCT_O13, DCT_O23, DCT_O33, X1, X3, X5, X7), f32x4.splat(w * load<f32>(dWin, 12)));
}

/** sigma of each patch whose rows start at y0, at its centre. */
function dctSigmas(y0: i32): void {
  const yc = <usize>(y0 + 4) << 2;
  const cols = dCols;
  const j0 = <usize>load<i32>(dYLo + yc) * <usize>cols, j1 = <usize>load<i32>(dYHi + yc) * <usize>cols, fy = load<f32>(dYF + yc);
  for (let i = 0; i < cols; i++) {
    const a = load<f32>(dEps + ((j0 + <usize>i) << 2)), b = load<f32>(dEps + ((j1 + <usize>i) << 2));
    store<f32>(dEpsRow + (<usize>i << 2), a + (b - a) * fy);
  }
  for (let i = 0; i < dNx; i++) {
    const xc = <usize>(load<i32>(dXs + (<usize>i << 2)) + 4) << 2;
    const lo = load<f32>(dEpsRow + (<usize>load<i32>(dXLo + xc) << 2));
    const e = lo + (load<f32>(dEpsRow + (<usize>load<i32>(dXHi + xc) << 2)) - lo) * load<f32>(dXF + xc);
    store<f32>(dSigma + (<usize>i << 2), e > 0 ? Mathf.sqrt(e) : 0);
  }
}

/** 4x4 transpose of f32 lanes: 4 vectors `sa` bytes apart from a, to 4 vectors `so` bytes apart from o. */
@inline function transpose4(a: usize, sa: usize, o: usize, so: usize): void {
  const v0 = v128.load(a), v1 = v128.load(a + sa), v2 = v128.load(a + 2 * sa), v3 = v128.load(a + 3 * sa);
  const t0 = i32x4.shuffle(v0, v1, 0, 4, 1, 5), t1 = i32x4.shuffle(v0, v1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(v2, v3, 0, 4, 1, 5), t3 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
  v128.store(o, i32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(o + so, i32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(o + 2 * so, i32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(o + 3 * so, i32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

/**
 * Row transform of band rows [a, b) of the plane at p into the segments at h. Four segments 8 px
 * apart (x0, x0 + 8, x0 + 16, x0 + 24: 32 contiguous pixels) go through the vector transform
 * together, one per lane; segments 16t + r + 4j (r, j 0..3) are those at x0 = 32t + 2r.
 */
function dctRows(p: usize, a: i32, b: i32, h: usize): void {
  const W = <usize>dW, nx = <usize>dNx, groups = <usize>(dReg >> 4);
  const S = dS, T = dT;
  for (let r = <usize>a; r < <usize>b; r++) {
    const row = p + (r * W << 2);
    const out = h + (r * nx << 5);
    for (let t: usize = 0; t < groups; t++) {
      for (let q: usize = 0; q < 4; q++) {
        const x0 = row + (((t << 5) + (q << 1)) << 2);
        // Lane j of vector n: pixel x0 + 8j + n.
        transpose4(x0, 32, S, 16);
        transpose4(x0 + 16, 32, S + 64, 16);
        dct8v(S, 16, T, 16);
        // Vector k's lane j is coefficient k of segment i + 4j.
        const o = out + (((t << 4) + q) << 5);
        transpose4(T, 16, o, 128);
        transpose4(T + 64, 16, o + 16, 128);
      }
    }
    for (let i: usize = groups << 4; i < nx; i++) dct8s(row + (<usize>load<i32>(dXs + (i << 2)) << 2), 4, out + (i << 5), 4);
  }
}

/** Band rows [a, b): inverse row transform of the accumulator over the summed weights, into the plane at p. */
function dctRowsInverse(a: i32, b: i32, p: usize): void {
  const W = <usize>dW, nx = <usize>dNx, groups = <usize>(dReg >> 4);
  const S = dS, T = dT;
  const k0 = v128.load(dWin), k1 = v128.load(dWin + 16);
  for (let r = <usize>a; r < <usize>b; r++) {
    memory.fill(dSum, 0, W << 2);
    memory.fill(dWsum, 0, W << 2);
    const acc = dAcc + (r * nx << 5);
    const wt = dWt + (r * nx << 2);
    for (let t: usize = 0; t < groups; t++) {
      for (let q: usize = 0; q < 4; q++) {
        const i = (t << 4) + q;
        // Lane j of vector k: coefficient k of segment i + 4j.
        transpose4(acc + (i << 5), 128, S, 16);
        transpose4(acc + (i << 5) + 16, 128, S + 64, 16);
        memory.fill(T, 0, 128);
        idct8vAdd(S, 16, T, 16, 1);
        // Vector n's lane j is pixel n of segment i + 4j (times the window): pixel x0 + 8j + n.
        transpose4(T, 16, S, 32);
        transpose4(T + 64, 16, S + 16, 32);
        const x = (t << 5) + (q << 1);
        for (let j: usize = 0; j < 4; j++) {
          const o = dSum + ((x + (j << 3)) << 2), ow = dWsum + ((x + (j << 3)) << 2);
          v128.store(o, f32x4.add(v128.load(o), v128.load(S + (j << 5))));
          v128.store(o + 16, f32x4.add(v128.load(o + 16), v128.load(S + (j << 5) + 16)));
          const w = f32x4.splat(load<f32>(wt + ((i + (j << 2)) << 2)));
          v128.store(ow, f32x4.add(v128.load(ow), f32x4.mul(w, k0)));
          v128.store(ow + 16, f32x4.add(v128.load(ow + 16), f32x4.mul(w, k1)));
        }
      }
    }
    for (let i: usize = groups << 4; i < nx; i++) {
      const x = <usize>load<i32>(dXs + (i << 2));
      idct8sAdd(acc + (i << 5), 4, dSum + (x << 2), 4);
      const w = f32x4.splat(load<f32>(wt + (i << 2)));
      const q = dWsum + (x << 2);
      v128.store(q, f32x4.add(v128.load(q), f32x4.mul(w, k0)));
      v128.store(q + 16, f32x4.add(v128.load(q + 16), f32x4.mul(w, k1)));
    }
    const out = p + (r * W << 2);
    let x: usize = 0;
    for (; x + 4 <= W; x += 4) v128.store(out + (x << 2), f32x4.div(v128.load(dSum + (x << 2)), v128.load(dWsum + (x << 2))));
    for (; x < W; x++) store<f32>(out + (x << 2), load<f32>(dSum + (x << 2)) / load<f32>(dWsum + (x << 2)));
  }
}

/** One pass over the patches whose origins y0 satisfy lo <= y0 < hi (band rows from r0): hard threshold, or Wiener shrinkage by the pilot. */
function dctPass(r0: i32, lo: i32, hi: i32, wiener: bool): void {
  const nx = <usize>dNx, H = dH;
  const stride = nx << 5;
  memory.fill(dAcc, 0, <usize>dRows * stride);
  memory.fill(dWt, 0, <usize>dRows * nx << 2);
  const K = dK;
  for (let y0 = lo; y0 < hi; y0++) {
    // Origins: even rows, and the last row flush with the edge.
    if ((y0 & 1) != 0 && y0 != H - 8) continue;
    if (y0 + 8 > H) break;
    dctSigmas(y0);
    const rb = <usize>(y0 - r0);
    for (let i: usize = 0; i < nx; i++) {
      const s = load<f32>(dSigma + (i << 2));
      const base = (rb * nx + i) << 5;
      let w: f32;
      if (s <= 0) {
        // Unchanged patch: its inverse column transform is its row transform.
        w = <f32>1 / <f32>64;
        for (let v: usize = 0; v < 8; v++) {
          const q = dAcc + base + v * stride, h = dHs + base + v * stride;
          const wv = f32x4.splat(w * load<f32>(dWin + (v << 2)));
          v128.store(q, f32x4.add(v128.load(q), f32x4.mul(wv, v128.load(h))));
          v128.store(q + 16, f32x4.add(v128.load(q + 16), f32x4.mul(wv, v128.load(h + 16))));
        }
      } else {
        dct8v(dHs + base, stride, dBlk, 32);
        dct8v(dHs + base + 16, stride, dBlk + 16, 32);
        const dc = load<f32>(dBlk);
        if (!wiener) {
          const T = f32x4.splat(K * s);
          let kept: i32 = 0;
          for (let k: usize = 0; k < 16; k++) {
            const q = dBlk + (k << 4);
            const v = v128.load(q);
            const keep = f32x4.ge(f32x4.abs(v), T);
            v128.store(q, v128.and(v, keep));
            kept += <i32>popcnt(i32x4.bitmask(keep));
          }
          if (Mathf.abs(dc) < K * s) kept++;
          store<f32>(dBlk, dc);
          w = <f32>1 / <f32>kept;
        } else {
          dct8v(dHp + base, stride, dPblk, 32);
          dct8v(dHp + base + 16, stride, dPblk + 16, 32);
          const s2 = f32x4.splat(s * s);
          let e = f32x4.splat(0);
          for (let k: usize = 0; k < 16; k++) {
            const p = v128.load(dPblk + (k << 4));
            const p2 = f32x4.mul(p, p);
            const g = f32x4.div(p2, f32x4.add(p2, s2));
            const q = dBlk + (k << 4);
            v128.store(q, f32x4.mul(v128.load(q), g));
            e = f32x4.add(e, f32x4.mul(g, g));
          }
          const p0 = load<f32>(dPblk), p02 = p0 * p0;
          const g0 = p02 / (p02 + s * s);
          store<f32>(dBlk, dc);
          w = <f32>1 / (f32x4.extract_lane(e, 0) + f32x4.extract_lane(e, 1) + f32x4.extract_lane(e, 2) + f32x4.extract_lane(e, 3) - g0 * g0 + 1);
        }
        idct8vAdd(dBlk, 32, dAcc + base, stride, w);
        idct8vAdd(dBlk + 16, 32, dAcc + base + 16, stride, w);
      }
      for (let v: usize = 0; v < 8; v++) {
        const q = dWt + (((rb + v) * nx + i) << 2);
        store<f32>(q, load<f32>(q) + w * load<f32>(dWin + (v << 2)));
      }
    }
  }
}

/**
 * Denoise output rows [ya, yb) from the band's RGBA rows [r0, r1) = [ya - 7, yb + 14) within the
 * image (row r0 first, in dctInit's buffer); the output rows are written over their own source rows
 * in the buffer. Bands come in order: each takes the pilot's rows [ya - 7, ya + 7) from the band
 * before.
 */
export function dctRun(ya: i32, yb: i32, r0: i32, r1: i32): void {
  const W = <usize>dW, R = r1 - r0;
  const plane = <usize>dRows * W << 2;
  const i3: f32 = <f32>(1 / Math.sqrt(3)), i2: f32 = <f32>Math.SQRT1_2, i6: f32 = <f32>(1 / Math.sqrt(6));
  const n = <usize>R * W;
  for (let k: usize = 0; k < n; k++) {
    const p = dBand + (k << 2);
    const r = <f32>load<u8>(p), g = <f32>load<u8>(p, 1), b = <f32>load<u8>(p, 2);
    store<f32>(dPlanes + (k << 2), (r + g + b) * i3);
    store<f32>(dPlanes + plane + (k << 2), (r - b) * i2);
    store<f32>(dPlanes + 2 * plane + (k << 2), (r - g - g + b) * i6);
  }
  const p0 = max(r0, ya - 7), p1 = min(r1, yb + 7);
  // Pilot rows this band computes: all of them in the first band, else those below the carried ones.
  const c0 = ya == 0 ? 0 : min(p1, ya + 7);
  const rowBytes = W << 2, carried = <usize>(c0 - p0) * rowBytes;
  const k0 = max(0, yb - 7), k1 = min(dH, yb + 7); // rows the next band takes
  for (let c: usize = 0; c < 3; c++) {
    const pl = dPlanes + c * plane;
    const carry = dCarry + c * (W * DCT_CARRY << 2);
    dctRows(pl, 0, R, dHs);
    dctPass(r0, ya, r1 - 7, false);
    dctRowsInverse(c0 - r0, p1 - r0, dPilot);
    if (carried > 0) memory.copy(dPilot + <usize>(p0 - r0) * rowBytes, carry, carried);
    dctRows(dPilot, p0 - r0, p1 - r0, dHp);
    if (k1 > k0) memory.copy(carry, dPilot + <usize>(k0 - r0) * rowBytes, <usize>(k1 - k0) * rowBytes);
    dctPass(r0, p0, yb, true);
    dctRowsInverse(ya - r0, yb - r0, pl);
  }
  for (let y = ya; y < yb; y++) {
    for (let x: usize = 0; x < W; x++) {
      const k = <usize>(y - r0) * W + x;
      const Y = load<f32>(dPlanes + (k << 2)) * i3;
      const a = load<f32>(dPlanes + plane + (k << 2)) * i2;
      const b = load<f32>(dPlanes + 2 * plane + (k << 2)) * i6;
      const p = dBand + (k << 2);
      store<u8>(p, dctByte(Y + a + b));
      store<u8>(p, dctByte(Y - b - b), 1);
      store<u8>(p, dctByte(Y - a + b), 2);
    }
  }
}

@inline function dctByte(v: f32): u8 {
  return v <= 0 ? 0 : v >= 255 ? 255 : <u8>(<i32>(v + <f32>0.5));
}
