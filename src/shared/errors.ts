/** The one error type of the service: every client-caused failure maps to an HTTP status in one onError. */
export type ErrorCode =
  | "bad_parameter"
  | "source_not_allowed"
  | "bad_signature"
  | "too_large"
  | "unsupported_media_type"
  | "undecodable"
  | "too_many_pixels"
  | "upstream_error"
  | "upstream_timeout"
  | "not_found"
  | "method_not_allowed"
  | "busy"
  | "rate_limited"
  | "internal";

export class HttpError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504,
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}
