/**
 * Source bytes held in memory by all of an isolate's in-flight requests together. Requests wait their
 * turn for the pipeline (one at a time per isolate) while holding their image's bytes, and the isolate's
 * 128 MB is shared: without a common bound, eight concurrent 16 MiB uploads would exhaust it. Each
 * request takes a lease that grows as its bytes arrive; when the isolate's budget is spent the request
 * is answered 503 with Retry-After instead of taking the isolate down for everyone.
 */
import { HttpError } from "../shared/errors.ts";

export interface Lease {
  /** Count `n` more bytes against the budget; throws HttpError 503 when it is spent. */
  add(n: number): void;
  /** Return everything this lease took (idempotent). */
  release(): void;
}

export class ByteBudget {
  #used = 0;

  constructor(readonly limit: number) {}

  get used(): number {
    return this.#used;
  }

  lease(): Lease {
    let held = 0;
    return {
      add: (n: number) => {
        if (this.#used + n > this.limit) {
          throw new HttpError(
            503,
            "busy",
            `the service is holding ${this.#used} bytes of other requests' images (limit ${this.limit}); retry shortly`,
          );
        }
        this.#used += n;
        held += n;
      },
      release: () => {
        this.#used -= held;
        held = 0;
      },
    };
  }
}
