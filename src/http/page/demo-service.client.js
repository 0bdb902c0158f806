// @ts-check
// The demo page's side of the service: calling /enhance, its errors in words for a person, and
// redrawing a photo too large for it. Served as /assets/demo-service.client.js, imported by demo.js.

export class ApiError extends Error {
  /** @param {number} status @param {string} message @param {string | undefined} param @param {string | undefined} code */
  constructor(status, message, param, code) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
  }
}

/**
 * The API's error about the photo itself, said for a person (the API's message, for an API client,
 * stays in the console). @param {ApiError} err @param {boolean} fromUrl
 */
export function forPeople(err, fromUrl) {
  const what = fromUrl ? "The image at that address" : "That file";
  switch (err.code) {
    case "unsupported_media_type":
      return fromUrl
        ? "That address does not lead to a photo this page can brighten: give the address of a JPEG, HEIC, PNG, WebP, AVIF or GIF image."
        : "That file is not a photo this page can brighten: choose a JPEG, HEIC, PNG, WebP, AVIF or GIF image.";
    case "undecodable":
      return `${what} is damaged or incomplete, so it cannot be read. Try another copy of it.`;
    case "too_many_pixels":
      return `${what} is larger than this service takes. ${err.message}`;
    case "too_large":
      return `${what} is too large a file for this service. ${err.message}`;
    case "source_not_found":
      return "Nothing was found at that address: check that it is the address of the image itself.";
    case "source_not_allowed":
      return `This service may not fetch images from that address. ${err.message}`;
    case "upstream_timeout":
    case "upstream_error":
      return `The site at that address did not deliver the image. ${err.message}`;
    default:
      return err.message;
  }
}

/** @typedef {{ blob: Blob, headers: Headers }} Result */

/** @param {string} url @param {RequestInit} init @returns {Promise<Result>} */
export async function call(url, init) {
  const res = await fetch(url, init);
  if (!res.ok) {
    /** @type {{ error?: { message?: string, param?: string, code?: string } }} */
    let body = {};
    try {
      body = await res.json();
    } catch {
      // Not the service's JSON (a proxy in between): the status says enough.
    }
    throw new ApiError(res.status, body.error?.message ?? `HTTP ${res.status}`, body.error?.param, body.error?.code);
  }
  return { blob: await res.blob(), headers: res.headers };
}

/**
 * The photo redrawn at the largest size within `pixels` (the browser applies its orientation and
 * colour profile while decoding it), as JPEG, or PNG when it may hold transparency; null when the
 * browser cannot decode it. @param {Blob} file @param {number} pixels
 * @returns {Promise<{ blob: Blob, from: string, to: string } | null>}
 */
export async function scaleToFit(file, pixels) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return null;
  }
  const scale = Math.sqrt((pixels * 0.98) / (bitmap.width * bitmap.height));
  const width = Math.max(1, Math.floor(bitmap.width * scale));
  const height = Math.max(1, Math.floor(bitmap.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  if (!g) return null;
  g.imageSmoothingQuality = "high";
  g.drawImage(bitmap, 0, 0, width, height);
  const type = file.type === "image/jpeg" ? "image/jpeg" : "image/png";
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, type, 0.92));
  if (!(blob instanceof Blob)) return null;
  return { blob, from: `${bitmap.width} × ${bitmap.height}`, to: `${width} × ${height}` };
}
