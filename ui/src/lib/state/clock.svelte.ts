// The wall clock for countdowns ("expires in 4:59", "next try in 0:30"). It ticks once a second only
// while something on screen reads it: a window showing no countdown sets no timer and wakes nobody.
import { createSubscriber } from "svelte/reactivity";

class Clock {
  #subscribe = createSubscriber((update) => {
    const timer = setInterval(update, 1000);
    return () => clearInterval(timer);
  });

  /** Unix seconds (fractional); reading it from a template or effect keeps the clock ticking. */
  get now(): number {
    this.#subscribe();
    return Date.now() / 1000;
  }

  /** Milliseconds, for the retry countdown under a request. */
  get nowMs(): number {
    this.#subscribe();
    return Date.now();
  }
}

export const wallClock = new Clock();
