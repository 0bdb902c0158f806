/**
 * A promise queue: jobs run one after another in the order they were queued, and a failed job does
 * not stop the ones behind it. WASM here is single-threaded, so overlapping jobs would only stack
 * their memory peaks.
 */
export type Serialiser = <T>(job: () => Promise<T>) => Promise<T>;

export function serialQueue(): Serialiser {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(job: () => Promise<T>): Promise<T> => {
    const run = tail.then(job, job);
    tail = run.catch(() => undefined);
    return run;
  };
}
