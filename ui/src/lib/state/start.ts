// Starting Onramp: open the engine's event channel, read `bootstrap`, reopen the last integration
// on the furthest step it reached (or offer the default provider on step 1).
import * as api from "../api";
import { authorization } from "./authorization.svelte";
import { boot } from "./boot.svelte";
import { home } from "./home.svelte";
import { integration } from "./integration.svelte";
import { navigation } from "./navigation.svelte";
import { requests } from "./requests.svelte";

let subscribed = false;
let listening = false;

/** Who hears which engine event; registered once, heard once the channel is open. */
function subscribe(): void {
  if (subscribed) return;
  subscribed = true;
  api.onRequestProgress((n) => requests.retrying(n));
  api.onConnectionChanged((view) => {
    integration.connectionChanged(view);
    home.connectionChanged(view);
  });
  api.onUnmatchedCallback((e) => (boot.unmatchedCallback = e));
  api.onAuthProgress((p) => authorization.progress(p));
  api.onCallError((e, cmd, args) => integration.callFailed(e, cmd, args));
}

/** Opens the engine's event channel; a failure is shown where the missing events would be. */
async function listenEvents(): Promise<void> {
  try {
    await api.listenEvents();
    listening = true;
    integration.eventsError = null;
    authorization.listenError = null;
  } catch (e) {
    integration.eventsError = api.toUiError(e, "Listening for connection changes");
    authorization.listenError = api.toUiError(e, "Listening for authorization progress");
  }
}

/** Also the retry after a failed start: subscriptions that worked are kept. */
export async function start(): Promise<void> {
  boot.starting = true;
  boot.error = null;
  try {
    // The event channel and `bootstrap` are independent round trips to the back end: sent together,
    // not one after another (nothing emits these events before the UI has asked for anything).
    subscribe();
    const opened = listening ? null : listenEvents();
    // The first `bootstrap` was sent by index.html (its mark `onramp:bootstrap-sent` too). Marks on
    // the page's clock: `make bench` reads them to split start-up (docs/benchmark.md).
    const data = await api.bootstrap();
    performance.mark("onramp:bootstrap-answered");
    await opened;
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
