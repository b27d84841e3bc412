// Starting Onramp: subscribe to the back end's events, read `bootstrap`, reopen the last integration
// on the furthest step it reached (or offer the default provider on step 1).
import * as api from "../api";
import { authorization } from "./authorization.svelte";
import { boot } from "./boot.svelte";
import { home } from "./home.svelte";
import { integration } from "./integration.svelte";
import { navigation } from "./navigation.svelte";
import { requests } from "./requests.svelte";

let unlistenAuth: api.Unlisten | null = null;
let unlistenEvents: api.Unlisten[] | null = null;

async function listenEvents(): Promise<void> {
  // Asked together; if one fails, the ones that worked are dropped and the error is shown.
  const asked = await Promise.allSettled([
    api.onRequestProgress((n) => requests.retrying(n)),
    api.onConnectionChanged((view) => {
      integration.connectionChanged(view);
      home.connectionChanged(view);
    }),
    api.onUnmatchedCallback((e) => (boot.unmatchedCallback = e)),
  ]);
  const subs = asked.flatMap((a) => (a.status === "fulfilled" ? [a.value] : []));
  const failed = asked.find((a): a is PromiseRejectedResult => a.status === "rejected");
  if (failed) {
    for (const u of subs) u();
    integration.eventsError = api.toUiError(failed.reason, "Listening for connection changes");
    return;
  }
  subs.push(api.onCallError((e, cmd, args) => integration.callFailed(e, cmd, args)));
  unlistenEvents = subs;
  integration.eventsError = null;
}

async function listenAuth(): Promise<void> {
  try {
    unlistenAuth = await api.onAuthProgress((p) => authorization.progress(p));
    authorization.listenError = null;
  } catch (e) {
    authorization.listenError = api.toUiError(e, "Listening for authorization progress");
  }
}

/** Also the retry after a failed start: subscriptions that worked are kept. */
export async function start(): Promise<void> {
  boot.starting = true;
  boot.error = null;
  try {
    // The subscriptions and `bootstrap` are independent round trips to the back end: sent together,
    // not one after another (nothing emits these events before the UI has asked for anything).
    const listening = Promise.all([unlistenAuth ? null : listenAuth(), unlistenEvents ? null : listenEvents()]);
    // Marks on the page's clock: `make bench` reads them to split start-up (docs/benchmark.md).
    performance.mark("onramp:bootstrap-sent");
    const data = await api.bootstrap();
    performance.mark("onramp:bootstrap-answered");
    await listening;
    boot.data = data;
    if (data.unmatchedCallback) boot.unmatchedCallback = data.unmatchedCallback;
    const last = data.integrations.find((i) => i.id === data.lastIntegrationId) ?? null;
    if (last && boot.providers.some((p) => p.id === last.providerId)) {
      integration.open(last);
      integration.selectedProviderId = last.providerId;
      navigation.step = navigation.resumeStep();
    } else {
      integration.selectedProviderId = boot.defaultProvider?.id ?? "";
      navigation.step = 0;
    }
  } catch (e) {
    boot.error = api.toUiError(e, "Starting Onramp");
  } finally {
    boot.starting = false;
  }
}
