// Step 6, API requests: the one in flight, its wait-before-retry notice, the last result and the
// custom-request form (kept here so they survive moving between steps). The history is the
// integration's (`IntegrationView.history`).
import * as api from "../api";
import type { ApiRequest, ProductId, RetryNotice, TestCallResult, UiError } from "../bindings";
import { integration } from "./integration.svelte";

/** The custom-request form on step 6. */
export interface RequestForm {
  mode: "presets" | "custom";
  method: string;
  /** "" = the gateway itself. */
  product: ProductId | "";
  path: string;
  query: string;
  body: string;
}

function emptyForm(): RequestForm {
  return { mode: "presets", method: "GET", product: "", path: "", query: "", body: "" };
}

class Requests {
  /** A request is running. */
  busy = $state(false);
  /** The running request's last wait-before-retry notice (`request-progress`). */
  retryNotice = $state<RetryNotice | null>(null);
  /** The last request's rejection. */
  error = $state<UiError | null>(null);
  /** The last request's answer. */
  result = $state<TestCallResult | null>(null);
  form = $state<RequestForm>(emptyForm());

  /** Forget the results and the form (another integration was opened on step 1). */
  reset(): void {
    this.result = null;
    this.error = null;
    // A form made for another provider (say, product "jira") must not reach this one.
    this.form = emptyForm();
  }

  /** Runs a request; the result lands in `result`, a rejection in `error`. */
  async run(request: ApiRequest): Promise<TestCallResult | null> {
    const it = integration.view;
    if (!it || this.busy) return null;
    const id = it.id;
    this.busy = true;
    this.error = null;
    // The last answer belongs to the last request: never show it under this one's outcome.
    this.result = null;
    this.retryNotice = null;
    try {
      await integration.settled();
      const result = await api.runRequest(id, request);
      if (integration.view?.id === id) this.result = result;
      return result;
    } catch (e) {
      if (integration.view?.id === id) this.error = api.toUiError(e);
      return null;
    } finally {
      this.busy = false;
      this.retryNotice = null;
      // The history (and maybe the connection: refreshed, or needs reconnect) changed.
      if (integration.view?.id === id) void integration.reload();
    }
  }

  /** A `request-progress` event: the running request waits before retrying. */
  retrying(n: RetryNotice): void {
    if (this.busy && integration.view?.id === n.integrationId) this.retryNotice = n;
  }
}

export const requests = new Requests();
