// Views whose code is fetched the first time they are shown: start-up parses and compiles only the
// first step's code (docs/benchmark.md, "start-up"); a later step's chunk comes from the app's own
// assets in a few milliseconds.
import type { Component } from "svelte";

export class LazyView {
  component = $state<Component | null>(null);
  error = $state<unknown>(null);
  #loading: Promise<void> | null = null;
  readonly #load: () => Promise<{ default: Component }>;

  constructor(load: () => Promise<{ default: Component }>) {
    this.#load = load;
  }

  /** Fetches the code once; call from an effect or an event, never while rendering. */
  load(): Promise<void> {
    if (this.component) return Promise.resolve();
    this.#loading ??= this.#load()
      .then((m) => {
        this.component = m.default;
        this.error = null;
      })
      .catch((e: unknown) => {
        this.error = e;
      })
      .finally(() => {
        this.#loading = null;
      });
    return this.#loading;
  }
}
