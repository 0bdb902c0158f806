/**
 * POST /enhance bodies: the image itself (`image/*` or `application/octet-stream`) or an HTML form's
 * `multipart/form-data` with a `file` field. The raw body is capped at MAX_SOURCE_BYTES while it is read
 * (413), before any multipart parsing; other content types are 415.
 */
import { HttpError } from "../shared/errors.ts";
import { readCapped } from "../source/fetch.ts";
import type { Lease } from "../source/byte-budget.ts";

export async function readUpload(request: Request, maxBytes: number, lease?: Lease): Promise<Uint8Array<ArrayBuffer>> {
  const contentType = request.headers.get("Content-Type") ?? "";
  const mediaType = contentType.split(";")[0]!.trim().toLowerCase();
  const raw = mediaType.startsWith("image/") || mediaType === "application/octet-stream";
  const multipart = mediaType === "multipart/form-data";
  if (!raw && !multipart) {
    throw new HttpError(
      415,
      "unsupported_media_type",
      `Content-Type "${contentType.slice(0, 60)}" is not accepted; send image/png, image/jpeg, application/octet-stream, or multipart/form-data with a "file" field`,
    );
  }
  const body = await readCapped(request.body, request.headers.get("Content-Length"), maxBytes, "request body", lease);
  const bytes = multipart ? await fileField(body, contentType) : body;
  if (bytes.length === 0) throw new HttpError(400, "bad_parameter", "the image is empty: send the image's bytes");
  return bytes;
}

async function fileField(body: Uint8Array<ArrayBuffer>, contentType: string): Promise<Uint8Array<ArrayBuffer>> {
  let form: FormData;
  try {
    form = await new Response(body, { headers: { "Content-Type": contentType } }).formData();
  } catch {
    throw new HttpError(400, "bad_parameter", "the multipart/form-data body is malformed");
  }
  const file = form.get("file");
  if (file === null || typeof file === "string") {
    throw new HttpError(400, "bad_parameter", 'the multipart/form-data body needs a "file" field holding the image');
  }
  return new Uint8Array(await (file as Blob).arrayBuffer());
}
