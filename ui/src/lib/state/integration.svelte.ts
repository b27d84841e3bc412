// The current integration (the one the wizard works on) and its provider: the view the back end last
// sent, saves shown at once and queued, re-reads, and what follows its connection.
import * as api from "../api";
import type { IntegrationPatch, IntegrationView, Provider, UiError } from "../bindings";
import { latest } from "../latest";
import { boot } from "./boot.svelte";

class Integration {
  view = $state<IntegrationView | null>(null);
  /** Provider chosen on step 1 (may differ from the integration's until Next). */
  selectedProviderId = $state("");

  /** Provider of the current integration (or the chosen one before an integration exists). */
  provider = $derived.by<Provider | null>(() => {
    const id = this.view?.providerId ?? this.selectedProviderId;
    return boot.providers.find((p) => p.id === id) ?? null;
  });

  /** Number of update_integration calls in flight. */
  saving = $state(0);
  /** get_integration calls in flight (the connection panel shows it). */
  reloading = $state(0);
  /** Integrations disconnected this session (the connection panel stays on step 4 for them). */
  disconnected = $state<string[]>([]);
  /** Set when subscribing to `request-progress` / `connection-changed` failed. */
  eventsError = $state<UiError | null>(null);

  #confirmed: IntegrationView | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #onTake: ((view: IntegrationView) => void)[] = [];

  /** Saves run one after another; the newest one's answer is shown (or, if it failed, the last confirmed view). */
  #save = latest(
    (id: string, p: IntegrationPatch) =>
      this.#queue
        .then(() => api.updateIntegration(id, p))
        .then((view) => {
          if (this.view?.id === id) this.#confirmed = view;
          return view;
        }),
    (answer, id) => {
      if (this.view?.id !== id) return;
      if (answer.ok) this.view = answer.value;
      else if (this.#confirmed) this.view = this.#confirmed;
    },
  );

  /** Counts the views taken: a re-read answered after a newer view (an event) was taken is stale. */
  #generation = 0;

  #fetch = latest(
    async (id: string) => {
      await this.settled();
      const generation = this.#generation;
      return { view: await api.getIntegration(id), generation };
    },
    (answer, id) => {
      // Best effort: on failure the state shown stays as it was. A view taken while the re-read
      // was on its way (say "connected" from the authorization's event) is newer: keep it.
      if (answer.ok && this.view?.id === id && answer.value.generation === this.#generation) {
        this.#take(answer.value.view);
      }
    },
  );

  /** `fn` sees every view taken from the back end (not the optimistic ones `patch` shows). */
  onTake(fn: (view: IntegrationView) => void): void {
    this.#onTake.push(fn);
  }

  /** Make `view` the current integration (at start, or a new one from step 1). */
  open(view: IntegrationView): void {
    this.#take(view);
  }

  /** No integration open (the home's "New integration": step 1 then creates one). */
  close(): void {
    this.view = null;
    this.#confirmed = null;
  }

  /** Take a fresh IntegrationView from the back end (secret saved, site selected, connected…). */
  accept(view: IntegrationView): void {
    if (this.view && this.view.id !== view.id) return;
    this.#take(view);
  }

  /** After disconnect: take the view and remember the disconnection. */
  markDisconnected(view: IntegrationView): void {
    if (this.view && this.view.id !== view.id) return;
    if (!this.disconnected.includes(view.id)) this.disconnected.push(view.id);
    this.#take(view);
  }

  /** Resolves once every queued update_integration has finished (successfully or not). */
  settled(): Promise<void> {
    return this.#queue.then(() => undefined);
  }

  /**
   * Save a patch. The change shows at once (optimistic); calls run one after another so
   * answers cannot arrive out of order; on failure the last confirmed state comes back.
   */
  patch(p: IntegrationPatch): Promise<IntegrationView> {
    const cur = this.view;
    if (!cur) return Promise.reject(api.toUiError("No integration is open", "Saving"));
    this.view = { ...cur, ...p };
    this.saving += 1;
    const saved = this.#save(cur.id, p);
    this.#queue = saved.catch(() => undefined);
    return saved
      .catch((e: unknown) => {
        throw api.toUiError(e);
      })
      .finally(() => {
        this.saving -= 1;
      });
  }

  /** Fetch the current integration again (get_integration) and take it if it is still open. */
  async reload(): Promise<void> {
    const it = this.view;
    if (!it) return;
    this.reloading += 1;
    try {
      await this.#fetch(it.id);
    } catch {
      // Best effort: the state shown stays as it was.
    } finally {
      this.reloading -= 1;
    }
  }

  /** A custom provider was deleted: the list loses it; if it was the chosen one, step 1 falls back. */
  dropProvider(id: string): void {
    boot.removeProvider(id);
    if (this.selectedProviderId === id) {
      this.selectedProviderId = this.view?.providerId ?? boot.defaultProvider?.id ?? "";
    }
  }

  /** `connection-changed`: a background refresh happened or failed. */
  connectionChanged(view: IntegrationView): void {
    if (this.view && this.view.id === view.id) this.#take(view);
  }

  /** Any command failed: a "needs_reconnect" about this integration means its state changed. */
  callFailed(e: UiError, cmd: string, args: Record<string, unknown> | undefined): void {
    if (e.code !== "needs_reconnect" || cmd === "get_integration") return;
    const id = typeof args?.id === "string" ? args.id : null;
    if (this.view && (id === null || id === this.view.id)) void this.reload();
  }

  #take(view: IntegrationView): void {
    this.#generation += 1;
    this.view = view;
    this.#confirmed = view;
    for (const fn of this.#onTake) fn(view);
  }
}

export const integration = new Integration();
