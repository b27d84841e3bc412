// Global wizard state: bootstrap data, the current integration, the current step and the
// authorization flow (kept here so it survives moving between steps).
import * as api from "./api";
import type {
  ApiRequest,
  AuthProgress,
  AuthStage,
  AuthorizationStarted,
  Bootstrap,
  IntegrationPatch,
  IntegrationView,
  ProductId,
  Provider,
  RetryNotice,
  TestCallResult,
  UiError,
} from "./bindings";

export const STEPS = [
  { key: "provider", title: "Provider" },
  { key: "console", title: "Developer console" },
  { key: "scopes", title: "Scopes" },
  { key: "authorize", title: "Authorize" },
  { key: "site", title: "Site" },
  { key: "test", title: "Test call" },
] as const;

export const LAST_STEP = STEPS.length - 1;

/** Index of the Site step, skipped for providers without sites (`hasSites: false`). */
export const SITE_STEP = 4;

/** Authorization flow as the UI sees it: the back end's stages (which decide expiry) plus "starting". */
export type AuthPhase = "starting" | AuthStage;

export interface AuthFlow {
  integrationId: string;
  phase: AuthPhase;
  started: AuthorizationStarted | null;
  message: string;
  error: UiError | null;
}

/** The API console's custom-request form (kept here so it survives moving between steps). */
export interface ConsoleForm {
  mode: "presets" | "custom";
  method: string;
  /** "" = the gateway itself. */
  product: ProductId | "";
  path: string;
  query: string;
  body: string;
}

function emptyConsoleForm(): ConsoleForm {
  return { mode: "presets", method: "GET", product: "", path: "", query: "", body: "" };
}

class Wizard {
  boot = $state<Bootstrap | null>(null);
  bootError = $state<UiError | null>(null);
  booting = $state(false);

  integration = $state<IntegrationView | null>(null);
  step = $state(0);
  /** Provider chosen on step 1 (may differ from the integration's until Next). */
  selectedProviderId = $state("");

  /** Next button: running and its last error. */
  advancing = $state(false);
  nextError = $state<UiError | null>(null);

  /** Number of update_integration calls in flight. */
  saving = $state(0);

  auth = $state<AuthFlow | null>(null);
  /** Set when subscribing to `auth-progress` failed: the authorize step cannot follow a flow. */
  listenError = $state<UiError | null>(null);
  /** A callback arrived that no authorization was waiting for (shown until dismissed). */
  unmatchedCallback = $state<UiError | null>(null);
  lastTest = $state<TestCallResult | null>(null);

  /** API console: a request is running, the last wait-before-retry notice, the last rejection. */
  requestBusy = $state(false);
  retryNotice = $state<RetryNotice | null>(null);
  requestError = $state<UiError | null>(null);
  /** The request that produced `lastTest`. */
  lastRequest = $state<ApiRequest | null>(null);
  consoleForm = $state<ConsoleForm>(emptyConsoleForm());

  /** Set when subscribing to `request-progress` / `connection-changed` failed. */
  eventsError = $state<UiError | null>(null);
  /** Integrations disconnected this session (the connection panel stays on step 4 for them). */
  disconnected = $state<string[]>([]);
  /** get_integration calls in flight (the connection panel shows it). */
  reloading = $state(0);


  providers = $derived.by<Provider[]>(() => {
    const list = this.boot?.providers ?? [];
    return [...list.filter((p) => p.id === "sandbox"), ...list.filter((p) => p.id !== "sandbox")];
  });

  /** Provider of the current integration (or the chosen one before an integration exists). */
  provider = $derived.by<Provider | null>(() => {
    const id = this.integration?.providerId ?? this.selectedProviderId;
    return this.providers.find((p) => p.id === id) ?? null;
  });

  /** The current provider lists no sites: step 5 counts as done and is jumped over. */
  siteSkipped = $derived(this.provider !== null && !this.provider.hasSites);

  #confirmed: IntegrationView | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #seq = 0;
  #unlisten: api.Unlisten | null = null;
  #unlistenEvents: api.Unlisten[] | null = null;
  #reloadSeq = 0;

  async init(): Promise<void> {
    this.booting = true;
    this.bootError = null;
    try {
      if (!this.#unlisten) {
        try {
          this.#unlisten = await api.onAuthProgress((p) => this.#onProgress(p));
          this.listenError = null;
        } catch (e) {
          this.listenError = api.toUiError(e, "Listening for authorization progress");
        }
      }
      if (!this.#unlistenEvents) await this.#listenEvents();
      const boot = await api.bootstrap();
      this.boot = boot;
      if (boot.unmatchedCallback) this.unmatchedCallback = boot.unmatchedCallback;
      const last = boot.integrations.find((i) => i.id === boot.lastIntegrationId) ?? null;
      if (last && this.providers.some((p) => p.id === last.providerId)) {
        this.#setIntegration(last);
        this.selectedProviderId = last.providerId;
        this.step = this.resumeStep();
      } else {
        const def = this.providers.find((p) => p.id === boot.defaultProviderId) ?? this.providers[0];
        this.selectedProviderId = def?.id ?? "";
        this.step = 0;
      }
    } catch (e) {
      this.bootError = api.toUiError(e, "Starting Onramp");
    } finally {
      this.booting = false;
    }
  }

  async #listenEvents(): Promise<void> {
    const subs: api.Unlisten[] = [];
    try {
      subs.push(await api.onRequestProgress((n) => this.#onRetry(n)));
      subs.push(await api.onConnectionChanged((view) => this.#onConnectionChanged(view)));
      subs.push(await api.onUnmatchedCallback((e) => (this.unmatchedCallback = e)));
      subs.push(api.onCallError((e, cmd, args) => this.#onCallError(e, cmd, args)));
      this.#unlistenEvents = subs;
      this.eventsError = null;
    } catch (e) {
      for (const u of subs) u();
      this.eventsError = api.toUiError(e, "Listening for connection changes");
    }
  }

  /** Furthest step whose predecessors are all done. */
  resumeStep(): number {
    for (let i = 1; i < LAST_STEP; i++) if (!this.isDone(i)) return i;
    return LAST_STEP;
  }

  /** Why Next is not possible on step `i`, or null if it is. */
  blocker(i: number): string | null {
    const it = this.integration;
    switch (i) {
      case 0:
        return this.selectedProviderId ? null : "Pick a provider";
      case 1:
        if (!it?.clientId) return "Save the client ID and secret first";
        return it.hasClientSecret ? null : "Save the client secret first";
      case 2:
        return it && it.scopes.length > 0 ? null : "Choose at least one scope";
      case 3:
        if (it?.connection?.state === "connected") return null;
        return it?.connection ? "Reconnect first" : "Authorize first";
      case SITE_STEP:
        if (this.siteSkipped) return null;
        return it?.site ? null : "Pick a site";
      default:
        return "This is the last step";
    }
  }

  isDone(i: number): boolean {
    if (i === 0) return this.integration !== null;
    return this.integration !== null && this.blocker(i) === null;
  }

  /** Whether step `i` is jumped over for this provider (it then counts as done). */
  isSkipped(i: number): boolean {
    return i === SITE_STEP && this.siteSkipped;
  }

  canVisit(i: number): boolean {
    if (this.isSkipped(i)) return false;
    if (i <= this.step || i === 0) return true;
    for (let k = 0; k < i; k++) if (!this.isDone(k)) return false;
    return true;
  }

  goto(i: number): void {
    if (i >= 0 && i <= LAST_STEP && this.canVisit(i)) {
      this.nextError = null;
      this.step = i;
    }
  }

  back(): void {
    let i = this.step - 1;
    while (i > 0 && this.isSkipped(i)) i -= 1;
    this.goto(i);
  }

  async next(): Promise<void> {
    if (this.advancing || this.step >= LAST_STEP || this.blocker(this.step)) return;
    this.advancing = true;
    this.nextError = null;
    try {
      if (this.step === 0) {
        const pid = this.selectedProviderId;
        if (!this.integration || this.integration.providerId !== pid) {
          const created = await api.createIntegration(pid);
          this.#setIntegration(created);
          this.auth = null;
          this.lastTest = null;
          this.lastRequest = null;
          this.requestError = null;
          // A form made for another provider (say, product "jira") must not reach this one.
          this.consoleForm = emptyConsoleForm();
        }
      } else {
        // Let pending saves land so the next step works on what the back end holds.
        await this.settled();
      }
      if (this.blocker(this.step) === null) {
        let i = this.step + 1;
        while (i < LAST_STEP && this.isSkipped(i)) i += 1;
        this.step = i;
      }
    } catch (e) {
      this.nextError = api.toUiError(e);
    } finally {
      this.advancing = false;
    }
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
    const cur = this.integration;
    if (!cur) return Promise.reject(api.toUiError("No integration is open", "Saving"));
    const id = cur.id;
    const seq = ++this.#seq;
    this.integration = { ...cur, ...p };
    this.saving += 1;
    const run = this.#queue.then(() => api.updateIntegration(id, p));
    this.#queue = run.catch(() => undefined);
    return run
      .then(
        (view) => {
          if (this.integration?.id === id) {
            this.#confirmed = view;
            if (seq === this.#seq) this.integration = view;
          }
          return view;
        },
        (e: unknown) => {
          if (this.integration?.id === id && seq === this.#seq && this.#confirmed) {
            this.integration = this.#confirmed;
          }
          throw api.toUiError(e);
        },
      )
      .finally(() => {
        this.saving -= 1;
      });
  }

  // ---- custom providers ----------------------------------------------------------------

  /** Add a saved provider to the list, or replace the one with the same id. */
  upsertProvider(p: Provider): void {
    const boot = this.boot;
    if (!boot) return;
    const i = boot.providers.findIndex((x) => x.id === p.id);
    if (i >= 0) boot.providers[i] = p;
    else boot.providers.push(p);
  }

  /** Drop a deleted provider; if it was the chosen one, fall back to the default. */
  removeProvider(id: string): void {
    const boot = this.boot;
    if (!boot) return;
    boot.providers = boot.providers.filter((x) => x.id !== id);
    if (this.selectedProviderId === id) {
      const def = this.providers.find((p) => p.id === boot.defaultProviderId) ?? this.providers[0];
      this.selectedProviderId = this.integration?.providerId ?? def?.id ?? "";
    }
  }

  /** Take a fresh IntegrationView from the back end (secret saved, site selected, connected…). */
  accept(view: IntegrationView): void {
    if (this.integration && this.integration.id !== view.id) return;
    this.#setIntegration(view);
  }

  /** Fetch the current integration again (get_integration) and take it if it is still open. */
  async reload(): Promise<void> {
    const it = this.integration;
    if (!it) return;
    const id = it.id;
    const seq = ++this.#reloadSeq;
    this.reloading += 1;
    try {
      await this.settled();
      const view = await api.getIntegration(id);
      if (seq === this.#reloadSeq && this.integration?.id === id) this.#setIntegration(view);
    } catch {
      // Best effort: the state shown stays as it was.
    } finally {
      this.reloading -= 1;
    }
  }

  // ---- API console ---------------------------------------------------------------------

  /** Runs a console request; the result lands in `lastTest`, a rejection in `requestError`. */
  async runRequest(request: ApiRequest): Promise<TestCallResult | null> {
    const it = this.integration;
    if (!it || this.requestBusy) return null;
    const id = it.id;
    this.requestBusy = true;
    this.requestError = null;
    this.retryNotice = null;
    try {
      await this.settled();
      const result = await api.runRequest(id, request);
      if (this.integration?.id === id) {
        this.lastTest = result;
        this.lastRequest = request;
      }
      return result;
    } catch (e) {
      if (this.integration?.id === id) this.requestError = api.toUiError(e);
      return null;
    } finally {
      this.requestBusy = false;
      this.retryNotice = null;
      // The history (and maybe the connection: refreshed, or needs reconnect) changed.
      if (this.integration?.id === id) void this.reload();
    }
  }

  #onRetry(n: RetryNotice): void {
    if (this.requestBusy && this.integration?.id === n.integrationId) this.retryNotice = n;
  }

  #onConnectionChanged(view: IntegrationView): void {
    if (this.integration && this.integration.id === view.id) this.#setIntegration(view);
  }

  #onCallError(e: UiError, cmd: string, args: Record<string, unknown> | undefined): void {
    if (e.code !== "needs_reconnect" || cmd === "get_integration") return;
    const id = typeof args?.id === "string" ? args.id : null;
    if (this.integration && (id === null || id === this.integration.id)) void this.reload();
  }

  /** After disconnect: take the view, remember the disconnection, forget a finished flow. */
  markDisconnected(view: IntegrationView): void {
    if (this.integration && this.integration.id !== view.id) return;
    if (!this.disconnected.includes(view.id)) this.disconnected.push(view.id);
    this.#setIntegration(view);
  }

  #setIntegration(view: IntegrationView): void {
    this.integration = view;
    this.#confirmed = view;
    // A finished flow's "connected" must not outlive the connection (disconnect, refresh failure).
    const a = this.auth;
    if (a && a.integrationId === view.id && a.phase === "connected" && view.connection?.state !== "connected") {
      this.auth = null;
    }
  }

  // ---- authorization -------------------------------------------------------------------

  async authorize(): Promise<void> {
    const it = this.integration;
    if (!it) return;
    const id = it.id;
    this.auth = { integrationId: id, phase: "starting", started: null, message: "", error: null };
    try {
      await this.settled();
      const started = await api.startAuthorization(id);
      const a = this.auth;
      if (a && a.integrationId === id) {
        a.started = started;
        if (a.phase === "starting") a.phase = "waiting";
      }
    } catch (e) {
      const a = this.auth;
      if (a && a.integrationId === id) {
        a.phase = "failed";
        a.error = api.toUiError(e, "Starting the authorization");
      }
    }
  }

  async cancelAuth(): Promise<void> {
    const a = this.auth;
    if (!a) return;
    await api.cancelAuthorization(a.integrationId);
    if (this.auth === a && (a.phase === "waiting" || a.phase === "starting")) {
      a.phase = "cancelled";
      a.message = "";
    }
  }

  #onProgress(p: AuthProgress): void {
    if (!this.integration || p.integrationId !== this.integration.id) return;
    let a = this.auth;
    if (!a || a.integrationId !== p.integrationId) {
      this.auth = { integrationId: p.integrationId, phase: p.stage, started: null, message: "", error: null };
      a = this.auth;
    }
    // A flow that ended (expired, cancelled) is not revived by a late "waiting" report.
    if ((a.phase === "expired" || a.phase === "cancelled") && p.stage === "waiting") return;
    a.phase = p.stage;
    a.message = p.message;
    a.error = p.error;
    if (p.stage === "connected" && p.integration) this.accept(p.integration);
  }
}

export const wizard = new Wizard();
