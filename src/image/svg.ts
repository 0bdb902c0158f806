/**
 * SVG sources. An SVG needs no brightening (it is drawn, not photographed) and is not rasterised
 * here: it is passed through unchanged, behind headers that keep its scripts from running when it
 * is opened directly (http/responses.ts), so an <img> pointing at the proxy never breaks on one.
 */

/** Whether `bytes` is an SVG document: optional BOM, XML declaration, comments and doctype, then <svg. */
export function isSvg(bytes: Uint8Array): boolean {
  let text = String.fromCharCode(...bytes.subarray(0, 2048));
  if (text.startsWith("\xef\xbb\xbf")) text = text.slice(3);
  return /^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--[\s\S]*?-->\s*)*(?:<!DOCTYPE\s+svg[^>]*>\s*)?(?:<!--[\s\S]*?-->\s*)*<svg[\s>/]/i.test(text);
}
