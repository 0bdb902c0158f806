/**
 * Signed requests (on when SIGNING_KEY is set): `sig` = URL-safe base64 without padding of
 * HMAC-SHA256(SIGNING_KEY, payload), payload as defined by params.signingPayload. Verified with
 * crypto.subtle.verify, which compares in constant time.
 */
import { HttpError } from "../shared/errors.ts";

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let k = keys.get(secret);
  if (k === undefined) {
    k = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    keys.set(secret, k);
  }
  return k;
}

/** The signature of `payload` (what clients compute; exported for tests and tooling). */
export async function sign(secret: string, payload: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(payload));
  return toBase64Url(new Uint8Array(mac));
}

/** Throws 403 unless `sig` is the signature of `payload`. */
export async function verifySignature(secret: string, payload: string, sig: string | null): Promise<void> {
  if (sig === null || sig === "") {
    throw new HttpError(403, "bad_signature", "this service requires signed URLs: add sig=<HMAC-SHA256 of the query>");
  }
  const mac = fromBase64Url(sig);
  const ok =
    mac !== null &&
    mac.length === 32 &&
    (await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, new TextEncoder().encode(payload)));
  if (!ok) throw new HttpError(403, "bad_signature", "sig does not match the request's parameters");
}

export function toBase64Url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(s: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]+$/.test(s) || s.length % 4 === 1) return null;
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
