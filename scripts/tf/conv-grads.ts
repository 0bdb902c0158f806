/**
 * Convolution gradients written as forward convolutions, for the TF.js WASM backend: it has no
 * Conv2DBackpropFilter / DepthwiseConv2dNativeBackprop* kernels and its Conv2DBackpropInput is ~10x
 * slower than its forward Conv2D. Only stride 1, dilation 1 (all DCE-Net uses) take this path.
 *
 * Gradient registrations are global in TF.js, so `registerForwardConvGradients` installs a gradient
 * that takes the forward-convolution path only on the backends named, and delegates to TF.js's own
 * gradient everywhere else (CPU, tfjs-node), which keeps those backends' behaviour unchanged.
 */
import * as tf from "@tensorflow/tfjs";

interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

function padsOf(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: unknown,
  depthwise: boolean,
  dimRoundingMode?: "floor" | "round" | "ceil",
): { pads: Pads; outH: number; outW: number } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad as "same" | "valid" | number,
    dimRoundingMode,
    depthwise,
    "channelsLast",
  );
  return { pads: info.padInfo, outH: info.outHeight, outW: info.outWidth };
}

function explicit(p: Pads): tf.backend_util.ExplicitPadding {
  return [
    [0, 0],
    [p.top, p.bottom],
    [p.left, p.right],
    [0, 0],
  ];
}

/** Whether a convolution's attributes are ones the forward-convolution gradients handle. */
export function isUnitStride(strides: unknown, dilations: unknown, dataFormat?: unknown): boolean {
  const ones = (v: unknown) => v == null || v === 1 || (Array.isArray(v) && v.every((e) => e === 1));
  return ones(strides) && ones(dilations) && (dataFormat == null || dataFormat === "NHWC");
}

/**
 * dL/dx of y = conv2d(x, w) (stride 1): the upstream gradient convolved with the kernel flipped in
 * space and transposed in/out, padded by (k - 1 - pad) on each side.
 */
export function conv2dInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: number[], pad: unknown): tf.Tensor4D {
  return tf.tidy(() => {
    const { pads } = padsOf(xShape, w.shape, 1, pad, false);
    const [kh, kw] = w.shape;
    const flipped = tf.reverse(tf.transpose(w, [0, 1, 3, 2]), [0, 1]) as tf.Tensor4D;
    const p: Pads = { top: kh - 1 - pads.top, bottom: kh - 1 - pads.bottom, left: kw - 1 - pads.left, right: kw - 1 - pads.right };
    return tf.conv2d(dy, flipped, 1, explicit(p));
  });
}

/**
 * dL/dw of y = conv2d(x, w) (stride 1): a convolution of the input, with its batch and channel axes
 * swapped, by the upstream gradient used as a (large) kernel. The result is [C, kh, kw, O] -> HWIO.
 */
export function conv2dFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], pad: unknown): tf.Tensor4D {
  return tf.tidy(() => filterGradWithKernel(x, upstreamKernel(dy), filterShape, pad));
}

/** The upstream gradient [N, outH, outW, O] as the kernel of the filter-gradient convolution: [outH, outW, N, O]. */
function upstreamKernel(dy: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
}

/** conv2dFilterGrad with the upstream gradient already in kernel form (`upstreamKernel`). */
function filterGradWithKernel(x: tf.Tensor4D, dyT: tf.Tensor4D, filterShape: number[], pad: unknown): tf.Tensor4D {
  const { pads } = padsOf(x.shape, filterShape, 1, pad, false);
  const xT = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D; // [C, H, W, N]
  const out = tf.conv2d(xT, dyT, 1, explicit(pads)); // [C, kh, kw, O]
  return tf.transpose(out, [1, 2, 0, 3]) as tf.Tensor4D;
}

/** sum_i conv2d(xs[i], ws[i]) (stride 1) as separate ops. */
function convSum(xs: tf.Tensor4D[], ws: tf.Tensor4D[], pad: "same" | "valid"): tf.Tensor4D {
  const ys = xs.map((x, i) => tf.conv2d(x, ws[i]!, 1, pad));
  return ys.length === 1 ? ys[0]! : (tf.addN(ys) as tf.Tensor4D);
}

/**
 * sum_i conv2d(xs[i], ws[i]) (stride 1): `summedConv2d` where its gradient applies (several parts, on
 * a backend that takes the forward-convolution gradients), separate convolutions elsewhere, so other
 * backends keep TF.js's own gradients.
 */
export function partsConv2d(xs: tf.Tensor4D[], ws: tf.Tensor4D[], pad: "same" | "valid"): tf.Tensor4D {
  return xs.length > 1 && forwardConvGradientsActive() ? summedConv2d(xs, ws, pad) : convSum(xs, ws, pad);
}

/**
 * y = sum_i conv2d(xs[i], ws[i], stride 1, pad): a convolution over concatenated channels, one part
 * per input, as a single op. Its gradient turns the upstream gradient into a kernel once and uses that
 * one tensor for every part's filter gradient. The WASM backend packs a convolution kernel once per
 * kernel tensor (and caches it), and packing the upstream gradient is half of each filter gradient's
 * time, so parts after the first skip it. The values are the same as separate convolutions and their
 * gradients (test/scripts/conv-grads.test.ts).
 */
export function summedConv2d(xs: tf.Tensor4D[], ws: tf.Tensor4D[], pad: "same" | "valid"): tf.Tensor4D {
  if (xs.length !== ws.length || xs.length === 0) throw new Error(`summedConv2d needs one kernel per input, got ${xs.length} inputs and ${ws.length} kernels`);
  const k = xs.length;
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[2 * k] as tf.GradSaveFunc;
    const ins = args.slice(0, 2 * k) as tf.Tensor4D[];
    const value = tf.tidy(() => convSum(ins.slice(0, k), ins.slice(k), pad));
    save(ins);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor4D;
        const x = saved.slice(0, k) as tf.Tensor4D[];
        const w = saved.slice(k) as tf.Tensor4D[];
        const dyT = upstreamKernel(g);
        const dxs = x.map((xi, i) => conv2dInputGrad(g, w[i]!, xi.shape, pad));
        const dws = x.map((xi, i) => filterGradWithKernel(xi, dyT, w[i]!.shape, pad));
        return [...dxs, ...dws];
      },
    };
  });
  return op(...xs, ...ws) as tf.Tensor4D;
}

/** dL/dx of a depthwise conv (multiplier 1, stride 1): depthwise conv of dy with the flipped kernel. */
export function depthwiseInputGrad(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: number[], pad: unknown): tf.Tensor4D {
  return tf.tidy(() => {
    const { pads } = padsOf(xShape, w.shape, 1, pad, true);
    const [kh, kw] = w.shape;
    const flipped = tf.reverse(w, [0, 1]) as tf.Tensor4D;
    const p: Pads = { top: kh - 1 - pads.top, bottom: kh - 1 - pads.bottom, left: kw - 1 - pads.left, right: kw - 1 - pads.right };
    return tf.depthwiseConv2d(dy, flipped, 1, explicit(p));
  });
}

/**
 * dL/dw of a depthwise conv (multiplier 1, stride 1): per channel, the correlation of the input with
 * dy summed over the batch. Batch and channels are folded into N*C channels of one image, so it is a
 * single depthwise conv with dy as an (outH x outW) kernel, then a sum over the batch: ~4x faster on
 * wasm than kh*kw shifted elementwise products.
 */
export function depthwiseFilterGrad(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], pad: unknown): tf.Tensor4D {
  return tf.tidy(() => {
    const { pads, outH, outW } = padsOf(x.shape, filterShape, 1, pad, true);
    const [kh, kw, c] = filterShape as [number, number, number, number];
    const [n, h, w] = x.shape;
    const xi = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, n * c]) as tf.Tensor4D;
    const k = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [outH, outW, n * c, 1]) as tf.Tensor4D;
    const out = tf.depthwiseConv2d(xi, k, 1, explicit(pads)); // [1, kh, kw, N*C]
    return tf.reshape(tf.sum(tf.reshape(out, [kh, kw, n, c]), 2), [kh, kw, c, 1]) as tf.Tensor4D;
  });
}

let installedFor: Set<string> | null = null;

/** Whether the current backend takes the forward-convolution gradients (`registerForwardConvGradients`). */
function forwardConvGradientsActive(): boolean {
  return installedFor?.has(tf.getBackend()) ?? false;
}

/**
 * Replaces the Conv2D and DepthwiseConv2dNative gradients so that, on the given backends, both
 * input and filter gradients run as forward convolutions. Idempotent; other backends keep TF.js's
 * original gradients.
 */
export function registerForwardConvGradients(backends: string[] = ["wasm"]): void {
  if (installedFor) {
    for (const b of backends) installedFor.add(b);
    return;
  }
  const set = new Set(backends);
  const convOrig = tf.getGradient(tf.Conv2D);
  const dwOrig = tf.getGradient(tf.DepthwiseConv2dNative);
  if (!convOrig || !dwOrig) throw new Error("TF.js gradients are not registered: import @tensorflow/tfjs before conv-grads");
  const use = () => set.has(tf.getBackend());
  // registerGradient warns when overriding; the override is deliberate.
  const warn = console.warn;
  console.warn = () => {};
  try {
    tf.registerGradient({
      kernelName: tf.Conv2D,
      inputsToSave: ["x", "filter"],
      gradFunc: (dy, saved, attrs) => {
        const { strides, dilations, pad, dataFormat } = attrs as unknown as tf.Conv2DAttrs;
        if (!use() || !isUnitStride(strides, dilations, dataFormat)) return convOrig.gradFunc(dy, saved, attrs);
        const [x, w] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        return {
          x: () => conv2dInputGrad(g, w, x.shape, pad),
          filter: () => conv2dFilterGrad(x, g, w.shape, pad),
        };
      },
    });
    tf.registerGradient({
      kernelName: tf.DepthwiseConv2dNative,
      inputsToSave: ["x", "filter"],
      gradFunc: (dy, saved, attrs) => {
        const { strides, dilations, pad } = attrs as unknown as tf.DepthwiseConv2dNativeAttrs;
        const [x, w] = saved as [tf.Tensor4D, tf.Tensor4D];
        if (!use() || !isUnitStride(strides, dilations) || w.shape[3] !== 1) return dwOrig.gradFunc(dy, saved, attrs);
        const g = dy as tf.Tensor4D;
        return {
          x: () => depthwiseInputGrad(g, w, x.shape, pad),
          filter: () => depthwiseFilterGrad(x, g, w.shape, pad),
        };
      },
    });
  } finally {
    console.warn = warn;
  }
  installedFor = set;
}
