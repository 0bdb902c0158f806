/** The one error type of the service: every client-caused failure maps to an HTTP status in one onError. */
export const ERROR_CODES = [
  "bad_parameter",
  "source_not_allowed",
  "bad_signature",
  "too_large",
  "unsupported_media_type",
  "undecodable",
  "too_many_pixels",
  "source_not_found",
  "upstream_error",
  "upstream_timeout",
  "not_found",
  "method_not_allowed",
  "busy",
  "rate_limited",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export type ErrorStatus = 400 | 403 | 404 | 405 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;

export class HttpError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: ErrorCode,
    message: string,
    /** The query parameter the error is about, when there is one (a client can point at its control). */
    readonly param?: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}
