/**
 * format=auto: AVIF to clients whose Accept lists image/avif, else WebP to those listing image/webp
 * (named explicitly: a wildcard (image/star, star/star) alone gets neither, so curl and old clients get what they
 * can open), else PNG or JPEG when Accept prefers one of them by q-value, otherwise "source" (the
 * source's format when it is JPEG/PNG, else PNG with alpha or JPEG; decided by the pipeline). The
 * result goes into the cache key and ETag, and the response carries `Vary: Accept`.
 */
import type { OutputFormat } from "../engine/options.ts";

export type NegotiatedFormat = OutputFormat;

export function negotiateFormat(accept: string | null): NegotiatedFormat {
  if (accept === null || accept.trim() === "") return "source";
  const ranges = parseAccept(accept);
  if ((ranges.get("image/avif") ?? 0) > 0) return "avif";
  if ((ranges.get("image/webp") ?? 0) > 0) return "webp";
  const qFor = (type: string): number => {
    const [major] = type.split("/");
    return ranges.get(type) ?? ranges.get(`${major}/*`) ?? ranges.get("*/*") ?? 0;
  };
  const png = qFor("image/png");
  const jpeg = qFor("image/jpeg");
  if (png > jpeg) return "png";
  if (jpeg > png) return "jpeg";
  return "source";
}

/** media range (lowercase, parameters other than q dropped) -> q; the highest q wins for repeats. */
function parseAccept(accept: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const part of accept.split(",")) {
    const [range, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    if (range === undefined || !/^[a-z0-9!#$&^_.+*-]+\/[a-z0-9!#$&^_.+*-]+$/.test(range)) continue;
    let q = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([01](?:\.\d{0,3})?)$/.exec(p);
      if (m !== null) q = Math.min(1, Number(m[1]));
    }
    if (range === "image/jpg" || range === "image/pjpeg") out.set("image/jpeg", Math.max(out.get("image/jpeg") ?? 0, q));
    out.set(range, Math.max(out.get(range) ?? 0, q));
  }
  return out;
}
