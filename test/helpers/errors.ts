/**
 * The API's error shape, asserted one way everywhere: the status, a JSON body `{ error: { code,
 * message, param? } }` with a code and a non-empty message, never cacheable, never sniffable.
 */
import assert from "node:assert/strict";

export interface ApiError {
  code: string;
  message: string;
  param?: string;
}

/** An answer already read: status, headers and body text. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

/** The error in `a`, after checking its shape (and its status and code when given). */
export function assertApiError(a: Answer, status?: number, code?: string): ApiError {
  const shown = a.text.slice(0, 300);
  if (status !== undefined) assert.equal(a.status, status, shown);
  assert.ok(a.status >= 400, `an error status, got ${a.status}: ${shown}`);
  assert.equal(a.headers.get("Content-Type")?.split(";")[0], "application/json", shown);
  assert.equal(a.headers.get("Cache-Control"), "no-store", shown);
  assert.equal(a.headers.get("X-Content-Type-Options"), "nosniff", shown);
  const { error } = JSON.parse(a.text) as { error: ApiError };
  if (code !== undefined) assert.equal(error.code, code, shown);
  assert.ok(typeof error.code === "string" && error.code.length > 0, shown);
  assert.ok(typeof error.message === "string" && error.message.length > 0, shown);
  return error;
}

/** Read `res` and check it is the API's error (with this status and code when given). */
export async function expectError(res: Response, status?: number, code?: string): Promise<ApiError> {
  return assertApiError({ status: res.status, headers: res.headers, text: await res.text() }, status, code);
}
