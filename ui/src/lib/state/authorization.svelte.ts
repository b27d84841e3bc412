// The authorization flow (step 4, and "Authorize again" in the connection panel): starting it, its
// `auth-progress` events, cancelling. Kept here so it survives moving between steps.
import * as api from "../api";
import type { AuthProgress, AuthStage, AuthorizationStarted, UiError } from "../bindings";
import { integration } from "./integration.svelte";

/** Authorization flow as the UI sees it: the back end's stages (which decide expiry) plus "starting". */
export type AuthPhase = "starting" | AuthStage;

export interface AuthFlow {
  integrationId: string;
  phase: AuthPhase;
  /** The authorize URL and when the pending request expires (the countdown), once started. */
  started: AuthorizationStarted | null;
  message: string;
  error: UiError | null;
  /** A calm remark while the flow keeps waiting (a callback that was not its own was ignored). */
  notice: string | null;
}

class Authorization {
  /** The last flow, possibly of another integration than the current one. */
  last = $state<AuthFlow | null>(null);
  /** Set when subscribing to `auth-progress` failed: the authorize step cannot follow a flow. */
  listenError = $state<UiError | null>(null);

  /** The current integration's flow, if it has one. */
  flow = $derived(this.last && this.last.integrationId === integration.view?.id ? this.last : null);

  constructor() {
    // A finished flow's "connected" must not outlive the connection (disconnect, refresh failure).
    integration.onTake((view) => {
      const a = this.last;
      if (a && a.integrationId === view.id && a.phase === "connected" && view.connection?.state !== "connected") {
        this.last = null;
      }
    });
  }

  /** Forget the flow (another integration was opened on step 1). */
  reset(): void {
    this.last = null;
  }

  async authorize(): Promise<void> {
    const it = integration.view;
    if (!it) return;
    const id = it.id;
    this.last = { integrationId: id, phase: "starting", started: null, message: "", error: null, notice: null };
    try {
      await integration.settled();
      // The engine first checks the credentials at the token endpoint when they are unchecked,
      // changed or were rejected; a rejection comes back as `credentials_rejected`, browser closed.
      const started = await api.startAuthorization(id);
      const a = this.last;
      if (a && a.integrationId === id) {
        a.started = started;
        if (a.phase === "starting") a.phase = "waiting";
      }
    } catch (e) {
      const a = this.last;
      if (a && a.integrationId === id) {
        a.phase = "failed";
        a.error = api.toUiError(e, "Starting the authorization");
      }
    }
    // The check's result is part of the integration's view (step 2 shows it).
    void integration.reload();
  }

  async cancel(): Promise<void> {
    const a = this.last;
    if (!a) return;
    await api.cancelAuthorization(a.integrationId);
    if (this.last === a && (a.phase === "waiting" || a.phase === "starting")) {
      a.phase = "cancelled";
      a.message = "";
    }
  }

  /** An `auth-progress` event. */
  progress(p: AuthProgress): void {
    if (!integration.view || p.integrationId !== integration.view.id) return;
    let a = this.last;
    if (!a || a.integrationId !== p.integrationId) {
      this.last = {
        integrationId: p.integrationId,
        phase: p.stage,
        started: null,
        message: "",
        error: null,
        notice: null,
      };
      a = this.last;
    }
    // A flow that ended (expired, cancelled) is not revived by a late "waiting" report.
    if ((a.phase === "expired" || a.phase === "cancelled") && p.stage === "waiting") return;
    a.phase = p.stage;
    a.message = p.message;
    a.error = p.error;
    a.notice = p.notice;
    if (p.stage === "connected" && p.integration) integration.accept(p.integration);
  }
}

export const authorization = new Authorization();
