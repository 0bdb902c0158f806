/**
 * Fetches a proxy source: redirects followed by hand with every hop re-checked, a fresh request that
 * carries none of the client's headers, a byte cap enforced while streaming, and one deadline for all
 * hops and the body together.
 *
 * Statuses, as image proxies answer them: the first URL's checks -> 400/403; the image is not there
 * (upstream 404 or 410) -> 404; a redirect to a refused host -> 403, to a URL that cannot be fetched
 * at all (file:, credentials) -> 502; any other upstream non-2xx, an unreachable or unresolvable
 * host, or more than MAX_REDIRECTS hops (the upstream misbehaves, not the client) -> 502; deadline ->
 * 504; body over the cap -> 413; a Content-Type that says "not an image" (text/html,
 * application/json...) -> 415. An image/* type is not trusted either way: the pipeline sniffs the
 * bytes. Every message names the host that answered (or did not).
 */
import { HttpError } from "../shared/errors.ts";
import { readUpTo } from "../shared/bytes.ts";
import type { Lease } from "./byte-budget.ts";

export const UPSTREAM_USER_AGENT = "lowlight-edge/0.1 (+image enhancement proxy)";
/**
 * PNG and JPEG first (every host has them and they decode cheapest), any other image type after; the
 * bytes decide, and what is not PNG, JPEG, WebP or AVIF ends in a 415 after sniffing (image/sniff.ts).
 */
const UPSTREAM_ACCEPT = "image/png,image/jpeg,image/*;q=0.8";

export interface FetchOptions {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  /** Validates a hop's URL (throws HttpError); applied to the first URL and to every redirect target. */
  check: (url: string | URL) => URL;
  /** The isolate-wide budget of buffered source bytes this request draws on. */
  lease?: Lease;
}

export interface FetchedSource {
  bytes: Uint8Array<ArrayBuffer>;
  contentType: string | null;
  url: URL;
  /** The final answer's headers (its Cache-Control, Expires and Date decide the result's freshness). */
  headers: Headers;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function fetchSource(first: string, opts: FetchOptions): Promise<FetchedSource> {
  const signal = AbortSignal.timeout(opts.timeoutMs);
  let url = opts.check(first);
  // Whether a network failure came before the answer (unreachable, not HTTP) or in its body (cut off, bad framing).
  let readingBody = false;
  try {
    for (let hop = 0; ; hop++) {
      const res = await fetch(url.href, {
        method: "GET",
        redirect: "manual",
        headers: { "User-Agent": UPSTREAM_USER_AGENT, Accept: UPSTREAM_ACCEPT },
        signal,
      });
      if (REDIRECTS.has(res.status)) {
        await discard(res);
        const location = res.headers.get("Location");
        if (location === null) throw new HttpError(502, "upstream_error", `the source host ${url.host} answered ${res.status} without a Location`);
        if (hop >= opts.maxRedirects) {
          throw new HttpError(502, "upstream_error", `the source redirected more than ${opts.maxRedirects} times (MAX_REDIRECTS); the last hop was ${url.host}`);
        }
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          throw new HttpError(502, "upstream_error", `the source host ${url.host} redirected to an invalid URL`);
        }
        try {
          url = opts.check(next);
        } catch (e) {
          // A redirect to file:, data:, credentials... is the upstream's fault, not the client's (403s stay).
          if (e instanceof HttpError && e.status === 400) {
            throw new HttpError(502, "upstream_error", `the source host ${url.host} redirected to a URL that cannot be fetched: ${e.message}`);
          }
          throw e;
        }
        continue;
      }
      if (res.status < 200 || res.status > 299) {
        await discard(res);
        throw upstreamStatus(url, res.status);
      }
      const contentType = res.headers.get("Content-Type");
      if (contentType !== null && !acceptableType(contentType)) {
        await discard(res);
        throw new HttpError(415, "unsupported_media_type", `the source host ${url.host} answered Content-Type "${contentType.slice(0, 60)}", not an image`);
      }
      readingBody = true;
      const bytes = await readCapped(res.body, res.headers.get("Content-Length"), opts.maxBytes, "source", opts.lease);
      return { bytes, contentType, url, headers: res.headers };
    }
  } catch (e) {
    if (e instanceof HttpError) throw e;
    if (signal.aborted) {
      throw new HttpError(504, "upstream_timeout", `the source host ${url.host} did not deliver the image within ${opts.timeoutMs} ms (FETCH_TIMEOUT_MS)`);
    }
    if (readingBody) throw new HttpError(502, "upstream_error", `the response body broke off or was malformed (source host ${url.host})`);
    // workerd reports a failed DNS lookup as an opaque "internal error", like a refused connection.
    throw new HttpError(
      502,
      "upstream_error",
      `the source host ${url.host} could not be reached: its name did not resolve, it refused the connection, or it did not answer with valid HTTP`,
    );
  }
}

/** An upstream's non-2xx answer: a missing image is a 404; anything else is the upstream's failure, a 502. */
function upstreamStatus(url: URL, status: number): HttpError {
  if (status === 404 || status === 410) {
    return new HttpError(404, "source_not_found", `the source host ${url.host} answered ${status}: there is no image at this url`, "url");
  }
  // Cloudflare answers 530 when the origin's name does not resolve or it cannot be reached (errors 1016, 523).
  const why = status === 530 ? " (its name did not resolve or it could not be reached)" : "";
  return new HttpError(502, "upstream_error", `the source host ${url.host} answered ${status}${why}`);
}

function acceptableType(contentType: string): boolean {
  const t = contentType.split(";")[0]!.trim().toLowerCase();
  return t === "" || t.startsWith("image/") || t === "application/octet-stream" || t === "binary/octet-stream";
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // Nothing to do: the body is not needed.
  }
}

/**
 * Reads a body into memory, refusing (413) as soon as it exceeds `maxBytes`: a declared
 * Content-Length over the cap is refused before reading, and the count is enforced while streaming,
 * so a missing or lying Content-Length changes nothing.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array<ArrayBuffer>> | null,
  contentLength: string | null,
  maxBytes: number,
  what: "source" | "request body",
  lease?: Lease,
): Promise<Uint8Array<ArrayBuffer>> {
  const tooBig = () => new HttpError(413, "too_large", `${what} is larger than ${maxBytes} bytes (MAX_SOURCE_BYTES)`);
  if (contentLength !== null && /^\d+$/.test(contentLength.trim()) && Number(contentLength) > maxBytes) {
    await body?.cancel().catch(() => {});
    throw tooBig();
  }
  if (body === null) return new Uint8Array(0);
  const bytes = await readUpTo(body, maxBytes, (n) => lease?.add(n));
  if (bytes === null) throw tooBig();
  return bytes;
}
