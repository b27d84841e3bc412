// Typed wrappers around the shell's commands, and the engine's events. Command names come from the
// generated contract.ts (declared once, in src-tauri/src/commands/mod.rs); the events' type from
// onramp_core::events::EngineEvent.
import { Channel, invoke as tauriInvoke } from "@tauri-apps/api/core";
import type {
  ApiRequest,
  AuthProgress,
  AuthorizationStarted,
  Bootstrap,
  CredentialCheck,
  CustomProviderInput,
  EndpointAdvice,
  EngineEvent,
  EndpointScopes,
  HandoffExport,
  HandoffFormat,
  IntegrationPatch,
  IntegrationSummary,
  IntegrationView,
  KeychainStatus,
  NangoTarget,
  ProductId,
  Provider,
  RetryNotice,
  ScopeInfo,
  ScopeAdvice,
  ScopePreference,
  ScopeProposal,
  ScopeReport,
  Site,
  SiteListing,
  SnippetLanguage,
  TestCallResult,
  UiError,
} from "./bindings";
import type { CommandName } from "./contract";
import { toUiError } from "./errors";

export { toUiError } from "./errors";

export type Unlisten = () => void;

/** Told about every rejected command (after normalisation), e.g. to notice "needs_reconnect". */
export type CallErrorListener = (error: UiError, cmd: CommandName, args: Record<string, unknown> | undefined) => void;

const callErrorListeners = new Set<CallErrorListener>();

/** Subscribe to every command's failure; returns the unsubscribe function. */
export function onCallError(cb: CallErrorListener): Unlisten {
  callErrorListeners.add(cb);
  return () => {
    callErrorListeners.delete(cb);
  };
}

async function call<T>(cmd: CommandName, args?: Record<string, unknown>): Promise<T> {
  try {
    return await tauriInvoke<T>(cmd, args);
  } catch (e) {
    const err = toUiError(e);
    for (const l of callErrorListeners) {
      try {
        l(err, cmd, args);
      } catch {
        // A listener's failure must not replace the command's error.
      }
    }
    throw err;
  }
}

/** The `bootstrap` index.html sent before this code loaded (once), else a new one. */
export function bootstrap(): Promise<Bootstrap> {
  const page = window as { __onrampBootstrap?: Promise<Bootstrap> };
  const early = page.__onrampBootstrap;
  if (!early) return call<Bootstrap>("bootstrap");
  delete page.__onrampBootstrap;
  return early.catch((e: unknown) => {
    throw toUiError(e);
  });
}

export const createIntegration = (providerId: string) =>
  call<IntegrationView>("create_integration", { providerId });

export const updateIntegration = (id: string, patch: IntegrationPatch) =>
  call<IntegrationView>("update_integration", { id, patch });

/** The URL a custom request (step 6) would go to; rejects with the engine's reason when it cannot be sent. */
export const previewRequest = (id: string, request: ApiRequest) => call<string>("preview_request", { id, request });

/** What the endpoint of a custom request (step 6) needs and whether the granted scopes cover it; no network. */
export const endpointScopes = (id: string, method: string, product: ProductId | null, path: string) =>
  call<EndpointAdvice>("endpoint_scopes", { id, method, product, path });

/** Client ID and (optionally) a new secret, validated together by the engine. */
export const saveCredentials = (id: string, clientId: string, secret: string | null) =>
  call<IntegrationView>("save_credentials", { id, clientId, secret });

export const checkCredentials = (id: string) => call<CredentialCheck>("check_credentials", { id });
export const fetchServiceAccountToken = (id: string) =>
  call<IntegrationView>("fetch_service_account_token", { id });

export const startAuthorization = (id: string) =>
  call<AuthorizationStarted>("start_authorization", { id });

export const cancelAuthorization = (id: string) => call<null>("cancel_authorization", { id });

export const listSites = (id: string) => call<SiteListing>("list_sites", { id });

export const selectSite = (id: string, siteKey: string) =>
  call<IntegrationView>("select_site", { id, siteKey });

export const deleteIntegration = (id: string) => call<null>("delete_integration", { id });

/** Every saved integration with its health, for the home. */
export const listIntegrations = () => call<IntegrationSummary[]>("list_integrations");

/** A copy of an integration's settings, without secrets, tokens, site or history. */
export const duplicateIntegration = (id: string) => call<IntegrationView>("duplicate_integration", { id });

export const openUrl = (url: string) => call<null>("open_url", { url });

/** Every catalogue scope with what it means, once (providers select theirs with `scopeFilter`). */
export const scopeCatalog = () => call<ScopeInfo[]>("scope_catalog");
/** Whether the OS keychain keeps secrets; asked when a step that stores one opens (never at start-up). */
export const keychainStatus = () => call<KeychainStatus>("keychain_status");

/** Guards for a set of scopes (step 3); every rule lives in the engine. */
export const adviseScopes = (providerId: string, scopes: string[]) =>
  call<ScopeAdvice>("advise_scopes", { providerId, scopes });

/** Operations of the provider's products matching a query (path, summary, operationId), best first. */
export const searchOperations = (providerId: string, query: string, limit: number) =>
  call<EndpointScopes[]>("search_operations", { providerId, query, limit });

/** The smallest scope set for chosen operations ("METHOD /path/template"), and the selection applying it gives. */
export const proposeScopes = (id: string, operations: string[], prefer: ScopePreference) =>
  call<ScopeProposal>("propose_scopes", { id, operations, prefer });

/** Requested vs granted; rejects with code "not_connected" before consent. */
export const scopeReport = (id: string) => call<ScopeReport>("scope_report", { id });

/** The sites last listed by list_sites whose address matches a subdomain ("" = all). */
export const filterSites = (id: string, subdomain: string) =>
  call<Site[]>("filter_sites", { id, subdomain });

/** RFC 8414 / OpenID discovery of a custom authorization server. */
export const discoverProvider = (issuer: string) =>
  call<CustomProviderInput>("discover_provider", { issuer });

/** Saves a custom provider: a new one when `id` is null. */
export const saveCustomProvider = (id: string | null, input: CustomProviderInput) =>
  call<Provider>("save_custom_provider", { id, input });

/** Refused while an integration uses the provider. */
export const deleteCustomProvider = (id: string) => call<null>("delete_custom_provider", { id });

// ---- token lifecycle and API requests (step 6) --------------------------------------------

/** A preset as an ApiRequest (the other fields are ignored by the back end). */
export const presetRequest = (presetId: string): ApiRequest => ({
  presetId,
  method: "",
  product: null,
  path: "",
  query: null,
  body: null,
});

/** Runs a preset or custom request; waits before retries are announced by `request-progress`. */
export const runRequest = (id: string, request: ApiRequest) =>
  call<TestCallResult>("run_request", { id, request });

/** The request as a curl command; the token is `$ACCESS_TOKEN` unless `revealToken`. */
export const curlCommand = (id: string, request: ApiRequest, revealToken: boolean) =>
  call<string>("curl_command", { id, request, revealToken });

/** Refreshes the access token now, whatever its expiry says. */
export const refreshNow = (id: string) => call<IntegrationView>("refresh_now", { id });

/** Deletes the tokens from the keychain; the integration and its client secret are kept. */
export const disconnect = (id: string) => call<IntegrationView>("disconnect", { id });

/** Explains an error page's text copied from the browser (resolves with the explanation). */
export const diagnoseBrowserError = (id: string | null, text: string) =>
  call<UiError>("diagnose_browser_error", { id, text });

export const getIntegration = (id: string) => call<IntegrationView>("get_integration", { id });
/** Opens an integration in the wizard: it becomes the one reopened at the next start. */
export const openIntegration = (id: string) => call<IntegrationView>("open_integration", { id });

// ---- hand-off (step 7) -------------------------------------------------------------------

/** The `.env` or JSON a backend needs; the client secret only when `includeSecret`. */
export const exportHandoff = (id: string, format: HandoffFormat, includeSecret: boolean) =>
  call<HandoffExport>("export_handoff", { id, format, includeSecret });

/** Opens the save dialog (from the shell) and writes the export; the path, or null when cancelled. */
export const saveHandoff = (id: string, format: HandoffFormat, includeSecret: boolean, fileName: string) =>
  call<string | null>("save_handoff", { id, format, includeSecret, fileName });

/** A runnable program (refresh with rotation → a test call) with the integration's real values. */
export const snippet = (id: string, language: SnippetLanguage) => call<string>("snippet", { id, language });

/** The team definition (no secrets, no tokens, no site) as JSON text. */
export const exportDefinition = (id: string) => call<string>("export_definition", { id });

/** Opens the save dialog and writes the team definition; the path, or null when cancelled. */
export const saveDefinition = (id: string, fileName: string) => call<string | null>("save_definition", { id, fileName });

/** Opens a definition file (dialog from the shell) and creates a new integration; null when cancelled. */
export const importDefinition = () => call<IntegrationView | null>("import_definition");

/** Keeps the Nango secret key in the keychain only. */
export const saveNangoSecretKey = (id: string, secretKey: string) =>
  call<IntegrationView>("save_nango_secret_key", { id, secretKey });

export const hasNangoSecretKey = (id: string) => call<boolean>("has_nango_secret_key", { id });

/** Pushes to Nango; on success Onramp deletes its refresh token and stops refreshing (one refresher only). */
export const pushToNango = (id: string, target: NangoTarget) => call<IntegrationView>("push_to_nango", { id, target });

type EventName = EngineEvent["event"];
type PayloadOf<E extends EventName> = Extract<EngineEvent, { event: E }>["payload"];

const eventListeners = new Map<EventName, Set<(payload: never) => void>>();

/** Listen to one kind of engine event (heard once `listenEvents` has succeeded); returns the unsubscribe function. */
function on<E extends EventName>(event: E, cb: (payload: PayloadOf<E>) => void): Unlisten {
  let set = eventListeners.get(event);
  if (!set) eventListeners.set(event, (set = new Set()));
  const listener = cb as (payload: never) => void;
  set.add(listener);
  return () => {
    set.delete(listener);
  };
}

function dispatch(message: EngineEvent): void {
  for (const cb of eventListeners.get(message.event) ?? []) {
    try {
      (cb as (payload: typeof message.payload) => void)(message.payload);
    } catch (e) {
      // One listener's failure must not keep the event from the others.
      console.error(`a ${message.event} listener failed`, e);
    }
  }
}

/**
 * Opens the one channel the engine's events arrive by, in order (a second call replaces the first).
 * One command instead of a Tauri `listen` per event: see src-tauri/src/events.rs for why.
 */
export function listenEvents(): Promise<null> {
  const channel = new Channel<EngineEvent>();
  channel.onmessage = dispatch;
  return call<null>("listen_events", { channel });
}

/** `request-progress`: a request on step 6 waits before retrying. */
export const onRequestProgress = (cb: (n: RetryNotice) => void) => on("request-progress", cb);

/** `connection-changed`: a background refresh happened or failed. */
export const onConnectionChanged = (cb: (view: IntegrationView) => void) => on("connection-changed", cb);

/** `callback-unmatched`: a callback arrived that no authorization was waiting for. */
export const onUnmatchedCallback = (cb: (e: UiError) => void) => on("callback-unmatched", cb);

/** `auth-progress`: an authorization moved to another stage. */
export const onAuthProgress = (cb: (p: AuthProgress) => void) => on("auth-progress", cb);
