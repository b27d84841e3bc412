/** How a call ended: with a value, or with what it threw. */
export type Answer<T> = { ok: true; value: T } | { ok: false; error: unknown };

export interface Latest<A extends unknown[], T> {
  /** Starts a call (the calls still in flight become stale); settles like the wrapped function. */
  (...args: A): Promise<T>;
  /** Makes the calls in flight stale without starting a new one. */
  drop(): void;
}

/**
 * Wraps an async function so that only the newest call's answer is applied: `apply` gets a call's
 * answer (and its arguments) when it settles, unless a newer call started or `drop()` was called
 * meanwhile. Each call's own promise still settles for its caller, stale or not (`apply` runs first),
 * and a caller that only needs `apply` may ignore it (`void`): its rejection is handled here.
 */
export function latest<A extends unknown[], T>(
  fn: (...args: A) => Promise<T>,
  apply: (answer: Answer<T>, ...args: A) => void,
): Latest<A, T> {
  let newest = 0;
  const call = (...args: A): Promise<T> => {
    const mine = ++newest;
    let answer: Promise<T>;
    try {
      answer = fn(...args);
    } catch (error) {
      answer = Promise.reject(error);
    }
    answer.then(
      (value) => {
        if (mine === newest) apply({ ok: true, value }, ...args);
      },
      (error: unknown) => {
        if (mine === newest) apply({ ok: false, error }, ...args);
      },
    );
    return answer;
  };
  return Object.assign(call, {
    drop: () => {
      newest += 1;
    },
  });
}
