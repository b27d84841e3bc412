// DEV ONLY: an in-memory stand-in for the Rust back end, used by `vite dev` in a plain browser
// (no window.__TAURI_INTERNALS__). api.ts imports it behind `import.meta.env.DEV`, so it is not in ui/dist.
// URL switches: ?nokeychain (keychain unavailable), ?resume (start with a connected integration),
// ?noanswer (authorization never answered, expires after 12 s), client ID "fail" makes the authorization fail, scopes without jira/confluence give no sites.
import type { Transport } from "./api";
import type {
  AuthProgress,
  Bootstrap,
  CallbackSettings,
  IntegrationPatch,
  IntegrationView,
  Provider,
  ScopeInfo,
  Site,
  TestCallPreset,
  TestCallResult,
  UiError,
} from "./bindings";

const SANDBOX = "http://127.0.0.1:48213";
const params = new URLSearchParams(location.search);

const scopes: ScopeInfo[] = [
  { name: "offline_access", product: "platform", kind: "platform", access: "read", description: "Issue a refresh token. Without it the connection ends when the access token expires (about 1 hour)." },
  { name: "read:me", product: "platform", kind: "platform", access: "read", description: "Read the signed-in user's profile through GET /me (User Identity API)." },
  { name: "read:jira-user", product: "jira", kind: "classic", access: "read", description: "View user information in Jira that you have access to, including usernames, email addresses, and avatars." },
  { name: "read:jira-work", product: "jira", kind: "classic", access: "read", description: "Read project and issue data. Search for issues and objects associated with issues." },
  { name: "write:jira-work", product: "jira", kind: "classic", access: "write", description: "Create and edit issues in Jira, post comments, create worklogs, and delete issues." },
  { name: "read:space:confluence", product: "confluence", kind: "granular", access: "read", description: "View space details (needed by Confluence v2 GET /wiki/api/v2/spaces)." },
  { name: "read:page:confluence", product: "confluence", kind: "granular", access: "read", description: "View page content (needed by Confluence v2 GET /wiki/api/v2/pages)." },
];

const testCalls: TestCallPreset[] = [
  { id: "accessible-resources", product: null, label: "Sites this token can reach", method: "GET", path: "/oauth/token/accessible-resources", needsScopes: [], description: "Lists the sites (cloudIds) the grant covers, with the scopes granted on each." },
  { id: "me", product: null, label: "Who am I (User Identity API)", method: "GET", path: "/me", needsScopes: [["read:me"]], description: "The signed-in Atlassian account. Needs read:me and the User Identity API added to the app." },
  { id: "jira-myself", product: "jira", label: "Jira: current user", method: "GET", path: "/rest/api/3/myself", needsScopes: [["read:jira-user"], ["read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"]], description: "The Jira profile of the user who authorized the app." },
  { id: "jira-server-info", product: "jira", label: "Jira: server info", method: "GET", path: "/rest/api/3/serverInfo", needsScopes: [], description: "Base URL, version and deployment type of the Jira site; needs no scope." },
  { id: "confluence-spaces", product: "confluence", label: "Confluence v2: first space", method: "GET", path: "/wiki/api/v2/spaces?limit=1", needsScopes: [["read:space:confluence"]], description: "Confluence v2 accepts only granular scopes; classic Confluence scopes get 401 'scope does not match'." },
];

const products: Provider["products"] = [
  { id: "jira", displayName: "Jira", gatewayPath: "/ex/jira/{cloudId}" },
  { id: "confluence", displayName: "Confluence", gatewayPath: "/ex/confluence/{cloudId}" },
];

const providers: Provider[] = [
  {
    id: "atlassian", displayName: "Atlassian Cloud (Jira + Confluence)",
    tagline: "One OAuth 2.0 (3LO) app for Jira and Confluence Cloud, called through api.atlassian.com.",
    environment: "commercial", authorizeUrl: "https://auth.atlassian.com/authorize", tokenUrl: "https://auth.atlassian.com/oauth/token",
    audience: "api.atlassian.com", gatewayUrl: "https://api.atlassian.com", products, defaultScopes: ["offline_access"], scopes,
    callbacks: [
      { kind: "loopback", evidence: "confirmed", note: "http://127.0.0.1:<fixed port>/callback. The port must be fixed: Atlassian matches the callback URL exactly." },
      { kind: "deep_link", evidence: "unconfirmed", note: "Atlassian does not document custom-scheme callback URLs such as onramp://callback; prefer loopback." },
    ],
    console: {
      consoleUrl: "https://developer.atlassian.com/console/myapps/",
      steps: [
        { id: "create", title: "Create an OAuth 2.0 integration", detail: "Create → OAuth 2.0 integration, enter a name and accept the terms.", link: { label: "Open the developer console", url: "https://developer.atlassian.com/console/myapps/" } },
        { id: "permissions", title: "Add APIs and scopes", detail: "Permissions → add Jira, Confluence and User Identity APIs → Configure → Edit Scopes.", link: null },
        { id: "authorization", title: "Set the callback URL", detail: "Authorization → OAuth 2.0 (3LO) → Add → paste the callback URL below exactly.", link: null },
        { id: "credentials", title: "Copy the client ID and secret", detail: "Settings → copy the Client ID and Secret into the form below.", link: null },
      ],
    },
    testCalls,
    notes: ["Access tokens last about an hour; refresh tokens rotate on every use."],
  },
  {
    id: "sandbox", displayName: "Sandbox (no Atlassian account needed)",
    tagline: "A local Atlassian look-alike: walk the whole wizard offline, then switch to the real thing.",
    environment: "sandbox", authorizeUrl: `${SANDBOX}/authorize`, tokenUrl: `${SANDBOX}/oauth/token`, audience: "onramp-sandbox",
    gatewayUrl: SANDBOX, products, defaultScopes: ["offline_access"], scopes,
    callbacks: [
      { kind: "loopback", evidence: "confirmed", note: "The sandbox accepts http://127.0.0.1:<port>/callback, matched exactly like Atlassian does." },
      { kind: "deep_link", evidence: "confirmed", note: "The sandbox accepts onramp://callback." },
    ],
    console: {
      consoleUrl: "",
      steps: [
        { id: "create", title: "Create the app", detail: "The sandbox has one ready: see the sandbox console panel below.", link: null },
        { id: "permissions", title: "Add APIs and scopes", detail: "The sandbox app already allows every scope offered in step 3.", link: null },
        { id: "authorization", title: "Register the callback URL", detail: "The sandbox registers the callback you pick for you.", link: null },
        { id: "credentials", title: "Copy the client ID and secret", detail: "Copy them from the sandbox console panel into the form below.", link: null },
      ],
    },
    testCalls,
    notes: ["The sandbox forgets its tokens when Onramp quits: after a restart, authorize again."],
  },
];

const sandboxConsole = { baseUrl: SANDBOX, appName: "Onramp Sandbox App", clientId: "sbx-client-7f3a9c", clientSecret: "sbx-secret-4b1e0d2f9a" };

function redirectUri(cb: CallbackSettings): string {
  return cb.kind === "loopback" ? `http://127.0.0.1:${cb.loopbackPort}/callback` : "onramp://callback";
}

const integrations = new Map<string, IntegrationView>();
const timers = new Map<string, ReturnType<typeof setTimeout>[]>();
const listeners = new Set<(p: AuthProgress) => void>();
let counter = 0;

function err(code: string, title: string, detail: string, hint: string | null = null): UiError {
  return { code, title, detail, hint };
}

function get(id: string): IntegrationView {
  const it = integrations.get(id);
  if (!it) throw err("not_found", "Integration not found", `No integration with id ${id}.`);
  return it;
}

function emit(p: AuthProgress) {
  for (const l of listeners) l(clone(p));
}

function clearTimers(id: string) {
  for (const t of timers.get(id) ?? []) clearTimeout(t);
  timers.delete(id);
}

function sitesFor(it: IntegrationView): Site[] {
  const g = it.connection?.grantedScopes ?? [];
  const out: Site[] = [];
  const jira = g.filter((s) => s.includes("jira"));
  const conf = g.filter((s) => s.includes("confluence"));
  if (jira.length || conf.length) {
    out.push({ id: "11111111-aaaa-4bbb-8ccc-000000000001", name: "acme-dev", url: "https://acme-dev.atlassian.net", scopes: [...jira, ...conf], avatarUrl: null });
  }
  if (jira.length) {
    out.push({ id: "22222222-aaaa-4bbb-8ccc-000000000002", name: "acme-sandbox", url: "https://acme-sandbox.atlassian.net", scopes: jira, avatarUrl: null });
  }
  return out;
}

function newIntegration(providerId: string): IntegrationView {
  const callback: CallbackSettings = { kind: "loopback", loopbackPort: 53682 };
  counter += 1;
  const id = `int-${Date.now().toString(36)}-${counter}`;
  const provider = providers.find((p) => p.id === providerId);
  return {
    id, name: `${provider?.displayName.split(" (")[0] ?? providerId} integration ${counter}`, providerId, clientId: "",
    callback, redirectUri: redirectUri(callback), scopes: [], consoleDone: [], site: null, connection: null, hasClientSecret: false,
  };
}

if (params.has("resume")) {
  const it = newIntegration("sandbox");
  Object.assign(it, {
    clientId: sandboxConsole.clientId, hasClientSecret: true, scopes: ["offline_access", "read:me", "read:jira-user"],
    consoleDone: ["create", "permissions", "authorization", "credentials"],
    connection: { state: "connected", connectedAt: Date.now() / 1000 - 600, expiresAt: Date.now() / 1000 + 3000, grantedScopes: ["offline_access", "read:me", "read:jira-user"], hasRefreshToken: true, reason: null },
  });
  integrations.set(it.id, it);
}

const handlers: Record<string, (a: Record<string, unknown>) => unknown> = {
  bootstrap: (): Bootstrap => ({
    providers, integrations: [...integrations.values()], lastIntegrationId: [...integrations.keys()][0] ?? null,
    keychain: params.has("nokeychain")
      ? { available: false, message: "No Secret Service provider was found on D-Bus (is gnome-keyring or KWallet running?)." }
      : { available: true, message: null },
    sandbox: sandboxConsole, defaultProviderId: "sandbox",
    settingsProblem: params.has("settingsproblem")
      ? err("settings_unreadable", "Your saved settings could not be read", "settings.json: expected value at line 1 column 1", "Onramp left the file untouched and started empty. Fix or move the file, then restart.")
      : null,
  }),
  create_integration: (a) => {
    const it = newIntegration(String(a.providerId));
    integrations.set(it.id, it);
    return it;
  },
  update_integration: (a) => {
    const it = get(String(a.id));
    const patch = a.patch as IntegrationPatch;
    if (patch.callback && patch.callback.loopbackPort === 4444) {
      throw err("port_in_use", "Port 4444 is in use", "Another program listens on 127.0.0.1:4444.", "Pick another port.");
    }
    Object.assign(it, patch);
    it.redirectUri = redirectUri(it.callback);
    return it;
  },
  save_client_secret: (a) => {
    if (params.has("nokeychain")) {
      throw err("keychain_unavailable", "The keychain is not available", "The secret could not be stored.", "Start the keychain service and restart Onramp. Nothing was written to disk.");
    }
    const it = get(String(a.id));
    it.hasClientSecret = true;
    return it;
  },
  start_authorization: (a) => {
    const id = String(a.id);
    const it = get(id);
    clearTimers(id);
    const state = Math.random().toString(36).slice(2);
    const provider = providers.find((p) => p.id === it.providerId)!;
    const url = `${provider.authorizeUrl}?audience=${provider.audience}&client_id=${it.clientId}&scope=${encodeURIComponent(it.scopes.join(" "))}&redirect_uri=${encodeURIComponent(it.redirectUri)}&state=${state}&response_type=code&prompt=consent`;
    const base = { integrationId: id, error: null, integration: null };
    const t: ReturnType<typeof setTimeout>[] = [];
    t.push(setTimeout(() => emit({ ...base, stage: "waiting", message: "Waiting for the browser" }), 50));
    if (params.has("noanswer")) {
      timers.set(id, t);
      return { authorizeUrl: `${provider.authorizeUrl}?state=${state}`, redirectUri: it.redirectUri, expiresAt: Math.floor(Date.now() / 1000) + 12 };
    }
    t.push(setTimeout(() => emit({ ...base, stage: "exchanging", message: "Exchanging the code" }), 4000));
    t.push(
      setTimeout(() => {
        if (it.clientId === "fail") {
          emit({ ...base, stage: "failed", message: "Token exchange failed", error: err("invalid_client", "The client ID or secret was rejected", "POST /oauth/token answered 401 {\"error\":\"access_denied\",\"error_description\":\"Unauthorized\"}", "Copy the client ID and secret again from the console and save them in step 2.") });
          return;
        }
        it.connection = {
          state: "connected", connectedAt: Date.now() / 1000, expiresAt: Date.now() / 1000 + 3600,
          grantedScopes: [...it.scopes], hasRefreshToken: it.scopes.includes("offline_access"), reason: null,
        };
        emit({ ...base, stage: "connected", message: "Connected", integration: clone(it) });
      }, 5500),
    );
    timers.set(id, t);
    return { authorizeUrl: url, redirectUri: it.redirectUri, expiresAt: Math.floor(Date.now() / 1000) + (params.has("shortexpiry") ? 15 : 600) };
  },
  cancel_authorization: (a) => {
    const id = String(a.id);
    clearTimers(id);
    emit({ integrationId: id, stage: "cancelled", message: "Cancelled", error: null, integration: null });
    return null;
  },
  list_sites: (a) => sitesFor(get(String(a.id))),
  select_site: (a) => {
    const it = get(String(a.id));
    const site = sitesFor(it).find((s) => s.id === a.cloudId);
    if (!site) throw err("site_not_found", "Site not reachable", `The token does not reach ${String(a.cloudId)}.`);
    it.site = site;
    return it;
  },
  run_test_call: (a): TestCallResult => {
    const it = get(String(a.id));
    const preset = testCalls.find((p) => p.id === a.presetId);
    if (!preset) throw err("unknown_preset", "Unknown test call", String(a.presetId));
    const granted = it.connection?.grantedScopes ?? [];
    const ok = preset.needsScopes.length === 0 || preset.needsScopes.some((alt) => alt.every((s) => granted.includes(s)));
    const prefix = preset.product ? `/ex/${preset.product}/${it.site?.id ?? "?"}` : "";
    const url = `${SANDBOX}${prefix}${preset.path}`;
    const body = ok
      ? JSON.stringify(preset.id === "accessible-resources" ? sitesFor(it) : { accountId: "5b10a2844c20165700ede21g", name: "Ada Lovelace", preset: preset.id })
      : JSON.stringify({ code: 401, message: "Unauthorized; scope does not match" });
    return {
      presetId: preset.id, method: preset.method, url, status: ok ? 200 : 401, elapsedMs: 80 + Math.floor(Math.random() * 200), ok,
      contentType: "application/json", body,
      error: ok ? null : err("scope_mismatch", "The token lacks a scope for this call", "HTTP 401: scope does not match.", `Add ${preset.needsScopes[0]?.join(" + ")} in step 3 and authorize again.`),
    };
  },
  delete_integration: (a) => {
    integrations.delete(String(a.id));
    return null;
  },
  open_url: (a) => {
    console.info(`[mock] open_url ${String(a.url)}`);
    return null;
  },
};

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const mockTransport: Transport = {
  async invoke<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    await delay(cmd === "run_test_call" || cmd === "list_sites" ? 700 : 250);
    const h = handlers[cmd];
    if (!h) throw `Command ${cmd} not found`;
    return clone(h(clone(args))) as T;
  },
  async listen<T>(event: string, cb: (payload: T) => void) {
    if (event !== "auth-progress") return () => {};
    const l = cb as unknown as (p: AuthProgress) => void;
    listeners.add(l);
    return () => listeners.delete(l);
  },
};

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}
