// DEV ONLY: an in-memory stand-in for the Rust back end, used by `vite dev` in a plain browser
// (no window.__TAURI_INTERNALS__). api.ts imports it behind `import.meta.env.DEV`, so it is not in ui/dist.
// URL switches: ?nokeychain (keychain unavailable), ?resume (start with a connected integration),
// ?noanswer (authorization never answered, expires after 12 s), client ID "fail" makes the authorization fail, scopes without jira/confluence give no sites,
// ?unmatched (a callback nobody waited for arrived at start-up), ?slowadvice (advise_scopes takes 800 ms), a scope named "withheld:*" is requested but not granted; issuer
// "https://fail.example" fails discovery.
// API console: ?console (like ?resume, with a site and some history), ?expiring (the token expires 90 s
// after start), ?revoked (the next request finds the grant revoked: needs reconnect), ?bgfail (a background
// refresh fails 20 s after start), ?nobgrefresh (no background refresh: the countdown reaches "expired"). Custom paths: containing "ratelimit" → 429 then a retry after 3 s,
// "/rest/api/3/search" → 410, "/rest/api/3/search/jql" → paginated, "boom" → 503 twice then 200.
import type { Transport } from "./api";
import type {
  ApiRequest,
  AuthProgress,
  Bootstrap,
  CallbackSettings,
  CustomProviderInput,
  ErrorCode,
  IntegrationPatch,
  IntegrationView,
  KeyValue,
  Provider,
  RetryNotice,
  ScopeAdvice,
  ScopeGrant,
  ScopeInfo,
  ScopePreset,
  ScopeReport,
  ScopeWarning,
  Site,
  TestCallPreset,
  TestCallResult,
  UiError,
} from "./bindings";

const SANDBOX = "http://127.0.0.1:48213";
const params = new URLSearchParams(location.search);

const scopes: ScopeInfo[] = [
  { name: "offline_access", product: "platform", kind: "platform", access: "read", description: "Issue a refresh token. Without it the connection ends when the access token expires (about 1 hour).", note: null },
  { name: "read:me", product: "platform", kind: "platform", access: "read", description: "Read the signed-in user's profile through GET /me (User Identity API).", note: null },
  { name: "read:jira-user", product: "jira", kind: "classic", access: "read", description: "View user information in Jira that you have access to, including usernames, email addresses, and avatars.", note: null },
  { name: "read:jira-work", product: "jira", kind: "classic", access: "read", description: "Read project and issue data. Search for issues and objects associated with issues.", note: null },
  { name: "write:jira-work", product: "jira", kind: "classic", access: "write", description: "Create and edit issues in Jira, post comments, create worklogs, and delete issues.", note: null },
  { name: "read:space:confluence", product: "confluence", kind: "granular", access: "read", description: "View space details (needed by Confluence v2 GET /wiki/api/v2/spaces).", note: null },
  { name: "read:page:confluence", product: "confluence", kind: "granular", access: "read", description: "View page content (needed by Confluence v2 GET /wiki/api/v2/pages).", note: null },
  { name: "manage:jira-project", product: "jira", kind: "classic", access: "manage", description: "Create and edit project settings and create new project-level objects (for example, versions and components).", note: null },
  { name: "manage:jira-configuration", product: "jira", kind: "classic", access: "manage", description: "Take Jira administration actions (for example, create projects and custom fields, view workflows).", note: null },
  { name: "read:issue:jira", product: "jira", kind: "granular", access: "read", description: "View issues.", note: null },
  { name: "write:issue:jira", product: "jira", kind: "granular", access: "write", description: "Create and update issues.", note: null },
  { name: "delete:issue:jira", product: "jira", kind: "granular", access: "delete", description: "Delete issues.", note: null },
  { name: "read:application-role:jira", product: "jira", kind: "granular", access: "read", description: "View application roles.", note: null },
  { name: "read:group:jira", product: "jira", kind: "granular", access: "read", description: "View user groups.", note: null },
  { name: "read:user:jira", product: "jira", kind: "granular", access: "read", description: "View user information.", note: null },
  { name: "read:avatar:jira", product: "jira", kind: "granular", access: "read", description: "View avatars.", note: null },
  { name: "read:board-scope:jira-software", product: "jira", kind: "granular", access: "read", description: "View boards.", note: "Named in the reference as a Jira Software scope; Atlassian's description is not established there." },
  { name: "read:confluence-content.all", product: "confluence", kind: "classic", access: "read", description: "Read all content, including content body (expansions permitted).", note: null },
  { name: "read:confluence-space.summary", product: "confluence", kind: "classic", access: "read", description: "Read a summary of space information without expansions.", note: null },
  { name: "write:confluence-content", product: "confluence", kind: "classic", access: "write", description: "Create and update pages, blogposts, comments, labels and properties.", note: null },
  { name: "readonly:content.attachment:confluence", product: "confluence", kind: "classic", access: "read", description: "Download attachments of a Confluence page or blogpost.", note: "Listed with the classic Confluence scopes in the v1 spec; whether it is classic or granular is not established." },
  { name: "read:comment:confluence", product: "confluence", kind: "granular", access: "read", description: "View comments.", note: null },
  { name: "read:attachment:confluence", product: "confluence", kind: "granular", access: "read", description: "View attachments.", note: null },
  { name: "write:page:confluence", product: "confluence", kind: "granular", access: "write", description: "Create and update pages.", note: null },
  { name: "delete:page:confluence", product: "confluence", kind: "granular", access: "delete", description: "Delete pages.", note: null },
];

const testCalls: TestCallPreset[] = [
  { id: "accessible-resources", product: null, label: "Sites this token can reach", method: "GET", path: "/oauth/token/accessible-resources", needsScopes: [], description: "Lists the sites (cloudIds) the grant covers, with the scopes granted on each." },
  { id: "me", product: null, label: "Who am I (User Identity API)", method: "GET", path: "/me", needsScopes: [["read:me"]], description: "The signed-in Atlassian account. Needs read:me and the User Identity API added to the app." },
  { id: "jira-myself", product: "jira", label: "Jira: current user", method: "GET", path: "/rest/api/3/myself", needsScopes: [["read:jira-user"], ["read:application-role:jira", "read:group:jira", "read:user:jira", "read:avatar:jira"]], description: "The Jira profile of the user who authorized the app." },
  { id: "jira-server-info", product: "jira", label: "Jira: server info", method: "GET", path: "/rest/api/3/serverInfo", needsScopes: [], description: "Base URL, version and deployment type of the Jira site; needs no scope." },
  { id: "confluence-spaces", product: "confluence", label: "Confluence v2: first space", method: "GET", path: "/wiki/api/v2/spaces?limit=1", needsScopes: [["read:space:confluence"]], description: "Confluence v2 accepts only granular scopes; classic Confluence scopes get 401 'scope does not match'." },
];

const scopePresets: ScopePreset[] = [
  { id: "read-only-smoke", label: "Read-only smoke test", description: "Just enough to run every preset test call: your profile, Jira users and work, Confluence v2 spaces and pages, plus a refresh token. Nothing can be changed with it.", scopes: ["offline_access", "read:me", "read:jira-user", "read:jira-work", "read:space:confluence", "read:page:confluence"] },
  { id: "jira-read-write", label: "Jira read/write", description: "Read projects and issues, and create or edit issues, comments and worklogs. Atlassian's description of write:jira-work includes deleting issues.", scopes: ["offline_access", "read:jira-user", "read:jira-work", "write:jira-work"] },
  { id: "confluence-read", label: "Confluence read", description: "Read spaces, pages, comments and attachments through Confluence's v2 API, which accepts only granular scopes.", scopes: ["offline_access", "read:space:confluence", "read:page:confluence", "read:comment:confluence", "read:attachment:confluence"] },
];

const atlassianExtras = {
  scopePresets, clientAuth: "request_body", pkce: false, hasSites: true, custom: null,
  authorizeParams: [{ key: "prompt", value: "consent" }],
  // Dev mock only; the real list comes from the engine (scopes::suggested).
  suggestedScopes: ["offline_access", "read:me", "read:jira-user", "read:jira-work", "read:space:confluence"],
} satisfies Partial<Provider>;

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
    ...atlassianExtras,
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
    ...atlassianExtras,
  },
];

function providerOf(id: string): Provider {
  const p = providers.find((x) => x.id === id);
  if (!p) throw err("unknown_provider", "Unknown provider", `No provider with id ${id}.`);
  return p;
}

function invalid(field: string, detail: string): UiError {
  return err("invalid_input", `The ${field} is not valid`, detail, "Correct it and try again.");
}

function customProvider(id: string, input: CustomProviderInput): Provider {
  const note = "Depends on your server: register exactly this redirect URI with it.";
  return {
    id, displayName: input.name, tagline: "Custom OAuth 2.0 authorization server", environment: "custom",
    authorizeUrl: input.authorizeUrl, tokenUrl: input.tokenUrl, audience: null, gatewayUrl: "", products: [], defaultScopes: [],
    scopes: input.scopes.map((name) => ({ name, product: "custom", kind: "other", access: "unknown", description: "A scope of this server; Onramp does not know what it allows.", note: null })),
    scopePresets: [],
    callbacks: [
      { kind: "loopback", evidence: "unconfirmed", note },
      { kind: "deep_link", evidence: "unconfirmed", note },
    ],
    console: {
      consoleUrl: "",
      steps: [
        { id: "register", title: "Register a client", detail: "In your authorization server's admin console, create a confidential client for the authorization-code grant.", link: null },
        { id: "redirect", title: "Add the redirect URI", detail: "Register the callback URL below exactly as shown.", link: null },
        { id: "credentials", title: "Copy the client ID and secret", detail: "Paste them into the form below; the secret goes to the OS keychain.", link: null },
      ],
    },
    testCalls: input.testCallUrl
      ? [{ id: "custom-test", product: null, label: "Test call", method: "GET", path: input.testCallUrl, needsScopes: [], description: "The URL you gave, called with the access token." }]
      : [],
    notes: [], clientAuth: input.clientAuth, pkce: input.pkce, hasSites: false, custom: input, authorizeParams: input.extraParams, suggestedScopes: [...input.scopes],
  };
}

function validateCustom(input: CustomProviderInput) {
  if (!input.name.trim()) throw invalid("name", "Give the provider a name.");
  for (const [field, v] of [["authorize URL", input.authorizeUrl], ["token URL", input.tokenUrl], ["test-call URL", input.testCallUrl ?? ""]] as const) {
    if (field === "test-call URL" && !v) continue;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw invalid(field, `"${v}" is not a URL.`);
    }
    const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
    if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
      throw invalid(field, "Use https: plain http is only accepted for servers on this machine (127.0.0.1, localhost).");
    }
  }
  for (const kv of input.extraParams) {
    if (!kv.key.trim()) throw invalid("extra parameters", "A parameter has no name.");
    if (["client_id", "redirect_uri", "state", "response_type", "scope", "code_challenge", "code_challenge_method"].includes(kv.key)) {
      throw invalid("extra parameters", `${kv.key} is set by Onramp itself and cannot be overridden.`);
    }
  }
}

function satisfied(call: TestCallPreset, set: Set<string>): boolean {
  return call.needsScopes.length === 0 || call.needsScopes.some((alt) => alt.every((s) => set.has(s)));
}

/** A rough copy of the engine's `scopes::advise`, for the dev mock only. */
function advise(p: Provider, chosen: string[]): ScopeAdvice {
  const set = new Set(chosen);
  const info = (n: string) => p.scopes.find((s) => s.name === n);
  const warnings: ScopeWarning[] = [];
  if (p.hasSites && !set.has("offline_access")) {
    warnings.push({ code: "offline_access_missing", severity: "warning", message: "offline_access is not selected: no refresh token will be issued, so the connection stops working when the access token expires (about an hour on Atlassian).", scopes: ["offline_access"] });
  }
  if (set.size > 50) {
    warnings.push({ code: "too_many_scopes", severity: "warning", message: `${set.size} scopes selected. Atlassian recommends fewer than 50 per app; prefer classic scopes where they cover what you need.`, scopes: [] });
  }
  const unknown = [...set].filter((s) => !info(s));
  if (unknown.length && !p.custom) {
    warnings.push({ code: "unknown_scopes", severity: "warning", message: `${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not in Onramp's catalog for ${p.displayName}: check the spelling; an unknown scope fails at the consent screen.`, scopes: unknown });
  }
  const classicConf = [...set].filter((s) => info(s)?.product === "confluence" && info(s)?.kind === "classic");
  const granularConf = [...set].some((s) => info(s)?.product === "confluence" && info(s)?.kind === "granular");
  if (classicConf.length && !granularConf && p.testCalls.some((c) => c.path.startsWith("/wiki/api/v2/"))) {
    warnings.push({ code: "confluence_v2_needs_granular", severity: "warning", message: "Only classic Confluence scopes are selected. Confluence's v2 API (/wiki/api/v2/…) rejects them with 401 \"scope does not match\"; add granular scopes such as read:space:confluence and read:page:confluence.", scopes: classicConf });
  }
  if (set.has("read:me") && p.hasSites) {
    warnings.push({ code: "user_identity_api", severity: "info", message: "read:me needs the User Identity API added to the app under Permissions in the developer console.", scopes: ["read:me"] });
  }
  const risky = [...set].filter((s) => ["write", "delete", "manage"].includes(info(s)?.access ?? "")).sort();
  if (risky.length) {
    warnings.push({ code: "changes_data", severity: "info", message: `${risky.join(", ")} can change, delete or administer data. Keep ${risky.length === 1 ? "it" : "them"} only if your integration needs ${risky.length === 1 ? "it" : "them"}.`, scopes: risky });
  }
  return { count: set.size, recommendedMax: 50, warnings, risky, enabledTestCalls: p.testCalls.filter((c) => satisfied(c, set)).map((c) => c.id) };
}

/** A rough copy of the engine's `scopes::report`. */
function report(p: Provider, it: IntegrationView, sites: Site[], source: string | null): ScopeReport {
  const requested = new Set(it.scopes);
  const inToken = new Set(it.connection?.grantedScopes ?? []);
  const onSites = sites.length ? new Set(sites.flatMap((s) => s.scopes)) : null;
  const siteScoped = (s: string) => ["jira", "confluence"].includes(p.scopes.find((x) => x.name === s)?.product ?? "");
  const ok = (s: string) => inToken.has(s) && (!onSites || !siteScoped(s) || onSites.has(s));
  const granted = new Set([...requested, ...inToken].filter(ok));
  const rows: ScopeGrant[] = [];
  const missing: string[] = [];
  for (const scope of [...new Set([...requested, ...inToken])].sort()) {
    const isRequested = requested.has(scope);
    let disables: string[] = [];
    if (isRequested && !ok(scope)) {
      missing.push(scope);
      disables = p.testCalls
        .filter((c) => satisfied(c, requested) && !satisfied(c, granted) && c.needsScopes.some((alt) => alt.includes(scope)))
        .map((c) => c.label);
    }
    rows.push({ scope, requested: isRequested, inToken: inToken.has(scope), onSite: onSites && siteScoped(scope) ? onSites.has(scope) : null, disables });
  }
  return { rows, missing, siteSource: onSites ? (source ?? "the listed sites") : null };
}

const sandboxConsole = { baseUrl: SANDBOX, appName: "Onramp Sandbox App", clientId: "sbx-client-7f3a9c", clientSecret: "sbx-secret-4b1e0d2f9a" };

function redirectUri(cb: CallbackSettings): string {
  return cb.kind === "loopback" ? `http://127.0.0.1:${cb.loopbackPort}/callback` : "onramp://callback";
}

const integrations = new Map<string, IntegrationView>();
const listedSites = new Map<string, Site[]>();
const timers = new Map<string, ReturnType<typeof setTimeout>[]>();
const listeners = new Set<(p: AuthProgress) => void>();
const retryListeners = new Set<(n: RetryNotice) => void>();
const connectionListeners = new Set<(v: IntegrationView) => void>();
let counter = 0;

function err(code: ErrorCode, title: string, detail: string, hint: string | null = null): UiError {
  return { code, title, detail, hint, facts: [] };
}

function get(id: string): IntegrationView {
  const it = integrations.get(id);
  if (!it) throw err("unknown_integration", "Integration not found", `No integration with id ${id}.`);
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
    callback, redirectUri: redirectUri(callback), scopes: [...(provider?.suggestedScopes ?? [])], consoleDone: [], site: null, connection: null, hasClientSecret: false, history: [],
    // Dev mock only: every preset counts as runnable (the engine computes the real list).
    runnableTestCalls: testCalls.map((t) => t.id),
  };
}

function emitConnection(it: IntegrationView) {
  for (const l of connectionListeners) l(clone(it));
}

function emitRetry(n: RetryNotice) {
  for (const l of retryListeners) l(clone(n));
}

const now = () => Date.now() / 1000;

function needsReconnect(it: IntegrationView, reason: string): UiError {
  if (it.connection) {
    it.connection.state = "needs_reconnect";
    it.connection.reason = reason;
  }
  emitConnection(it);
  return err("needs_reconnect", "Authorize again", reason, "Use “Authorize again”: the other settings are kept.");
}

/** The mock's refresh: a new hour-long token, or "needs reconnect" without a refresh token. */
function refreshToken(it: IntegrationView): void {
  const c = it.connection;
  if (!c) throw err("not_connected", "Not connected", "Authorize first: there is no token.");
  if (c.state === "needs_reconnect") throw err("needs_reconnect", "Authorize again", c.reason ?? "The connection was lost.");
  if (!c.hasRefreshToken) {
    throw err("needs_reconnect", "No refresh token", "The grant has no refresh token: offline_access was not granted.", "Add offline_access in step 3 and authorize again.");
  }
  if (revokedPending) {
    revokedPending = false;
    throw needsReconnect(it, "The refresh token was refused: invalid_grant (the grant was revoked, e.g. the app's access was removed in the Atlassian account). Authorize again.");
  }
  c.expiresAt = now() + 3600;
  c.lastRefreshAt = now();
  c.tokenLifetime = 3600;
}

let revokedPending = params.has("revoked");

// Background refresh, like the engine's: a minute before expiry, unless ?nobgrefresh.
if (!params.has("nobgrefresh")) {
  setInterval(() => {
    for (const it of integrations.values()) {
      const c = it.connection;
      if (c?.state === "connected" && c.hasRefreshToken && c.expiresAt !== null && c.expiresAt - 60 <= now()) {
        try {
          refreshToken(it);
          emitConnection(it);
        } catch {
          // needsReconnect already told the listeners.
        }
      }
    }
  }, 5000);
}

const SANDRA = {
  self: `${SANDBOX}/ex/jira/11111111-aaaa-4bbb-8ccc-000000000001/rest/api/3/user?accountId=5b10a2844c20165700ede21g`,
  accountId: "5b10a2844c20165700ede21g", accountType: "atlassian", emailAddress: "sandra.boxley@example.com",
  avatarUrls: { "48x48": "https://avatar.example/48.png", "24x24": "https://avatar.example/24.png" },
  displayName: "Sandra Boxley", active: true, timeZone: "Europe/Berlin", locale: "en_US",
  groups: { size: 2, items: [] }, applicationRoles: { size: 1, items: [] },
};

interface MockAnswer {
  status: number;
  body: unknown;
  headers?: KeyValue[];
  pagination?: string | null;
  error?: UiError | null;
}

/** What the mock gateway answers for a custom request. */
function answer(method: string, path: string, query: string | null, granted: string[]): MockAnswer {
  if (path === "/rest/api/3/search") {
    return {
      status: 410, body: { errorMessages: ["The requested API has been removed. Please use /rest/api/3/search/jql instead."] },
      error: err("endpoint_removed", "This endpoint was removed", `${method} /rest/api/3/search answered 410 Gone.`, "Use GET /rest/api/3/search/jql (with nextPageToken paging) instead."),
    };
  }
  if (path === "/rest/api/3/search/jql") {
    return {
      status: 200, body: { issues: [{ id: "10001", key: "ABC-1", fields: { summary: "First issue" } }, { id: "10002", key: "ABC-2", fields: { summary: "Second issue" } }], nextPageToken: "CAEaAggD", isLast: false },
      pagination: "Next page: repeat the request with nextPageToken=CAEaAggD.",
    };
  }
  if (path === "/rest/api/3/myself") {
    return granted.includes("read:jira-user")
      ? { status: 200, body: SANDRA }
      : { status: 401, body: { code: 401, message: "Unauthorized; scope does not match" }, error: err("scope_mismatch", "The token lacks a scope for this call", "HTTP 401: scope does not match.", "Add read:jira-user in step 3 and authorize again.") };
  }
  if (path === "/me") return { status: 200, body: { account_id: SANDRA.accountId, name: SANDRA.displayName, email: SANDRA.emailAddress } };
  if (method !== "GET") return { status: method === "DELETE" ? 204 : 201, body: method === "DELETE" ? "" : { id: "10003", key: "ABC-3", self: `${SANDBOX}${path}/10003` } };
  if (path.startsWith("/wiki/api/v2/")) return { status: 200, body: { results: [{ id: "98305", key: "DEV", name: "Development" }], _links: { next: `/wiki/api/v2/spaces?cursor=abc&${query ?? ""}` } }, pagination: "Next page: _links.next = /wiki/api/v2/spaces?cursor=abc" };
  return {
    status: 404, body: { errorMessages: [`No such endpoint: ${path}`] },
    error: err("not_found", "Not found", `${method} ${path} answered 404.`, "Check the path and the product (Jira or Confluence); the path is relative to the product's prefix."),
  };
}

function rateHeaders(remaining: number): KeyValue[] {
  return [
    { key: "x-ratelimit-limit", value: "100" },
    { key: "x-ratelimit-remaining", value: String(remaining) },
    { key: "x-ratelimit-reset", value: new Date(Date.now() + 60_000).toISOString() },
  ];
}

let rateRemaining = 100;
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runRequest(id: string, req: ApiRequest): Promise<TestCallResult> {
  const it = get(id);
  const provider = providerOf(it.providerId);
  const c = it.connection;
  if (!c) throw err("not_connected", "Not connected", "Authorize first: there is no token.");
  if (c.state === "needs_reconnect") throw err("needs_reconnect", "Authorize again", c.reason ?? "The connection was lost.");
  let method: string;
  let path: string;
  let query: string | null = null;
  let body: string | null = null;
  let product = req.product;
  let presetId = "custom";
  if (req.presetId) {
    const preset = provider.testCalls.find((p) => p.id === req.presetId);
    if (!preset) throw err("unknown_test_call", "Unknown test call", req.presetId);
    presetId = preset.id;
    method = preset.method;
    [path, query] = preset.path.includes("?") ? (preset.path.split("?", 2) as [string, string]) : [preset.path, null];
    product = preset.product;
  } else {
    method = req.method.trim().toUpperCase();
    if (!["GET", "POST", "PUT", "PATCH", "DELETE"].includes(method)) throw invalid("method", "Use one of GET, POST, PUT, PATCH, DELETE.");
    path = req.path.trim();
    if (!path.startsWith("/") || path.includes("://") || path.includes("..")) throw invalid("path", "Give a path that starts with /, relative to the product's gateway path (e.g. /rest/api/3/myself).");
    query = req.query?.trim().replace(/^\?/, "") || null;
    body = req.body?.trim() || null;
    if (body && method === "GET") throw invalid("body", "A GET request has no body; clear it or pick another method.");
    if (body) {
      try {
        JSON.parse(body);
      } catch (e) {
        throw invalid("body", `The body is not valid JSON: ${String(e)}.`);
      }
    }
  }
  if (product && !it.site) throw err("no_site", "No site selected", "Pick a site on step 5 first.");
  const prefix = product ? `/ex/${product}/${it.site!.id}` : "";
  const rel = `${prefix}${path}${query ? `?${query}` : ""}`;
  const url = presetId === "custom-test" ? path : `${provider.gatewayUrl}${rel}`;

  let refreshed = false;
  let attempts = 1;
  if (c.expiresAt !== null && c.expiresAt <= now()) {
    // The token died: the gateway says 401, the engine refreshes once and sends again.
    refreshToken(it);
    refreshed = true;
    attempts += 1;
    emitConnection(it);
  }
  const waits: { status: number; ms: number; reason: string }[] = [];
  if (path.includes("ratelimit")) waits.push({ status: 429, ms: 3000, reason: "Rate limited (HTTP 429): waiting as the provider asked before retrying." });
  if (path.includes("boom")) {
    waits.push({ status: 503, ms: 1500, reason: "Rate limited (HTTP 503): waiting as the provider asked before retrying." });
    waits.push({ status: 503, ms: 3000, reason: "Rate limited (HTTP 503): waiting as the provider asked before retrying." });
  }
  for (const w of waits) {
    attempts += 1;
    emitRetry({ integrationId: id, attempt: attempts, status: w.status, waitMs: w.ms, retryAtMs: Date.now() + w.ms, reason: w.reason });
    await delay(w.ms);
  }

  let a: MockAnswer;
  if (req.presetId) {
    const preset = provider.testCalls.find((p) => p.id === req.presetId)!;
    const ok = satisfied(preset, new Set(c.grantedScopes));
    a = ok
      ? { status: 200, body: preset.id === "accessible-resources" ? sitesFor(it) : preset.id === "jira-myself" ? SANDRA : { accountId: SANDRA.accountId, name: SANDRA.displayName, preset: preset.id } }
      : { status: 401, body: { code: 401, message: "Unauthorized; scope does not match" }, error: err("scope_mismatch", "The token lacks a scope for this call", "HTTP 401: scope does not match.", `Add ${preset.needsScopes[0]?.join(" + ")} in step 3 and authorize again.`) };
  } else {
    a = answer(method, path, query, c.grantedScopes);
  }
  const text = typeof a.body === "string" ? a.body : JSON.stringify(a.body, null, 2);
  rateRemaining = rateRemaining > 1 ? rateRemaining - 1 : 100;
  const rate = rateHeaders(rateRemaining);
  const headers: KeyValue[] = [
    { key: "content-type", value: "application/json;charset=UTF-8" },
    { key: "date", value: new Date().toUTCString() },
    { key: "atl-traceid", value: Math.random().toString(16).slice(2) },
    ...rate,
    ...(a.headers ?? []),
  ];
  const elapsedMs = Math.floor(Math.random() * 3) === 0 ? 0 : 40 + Math.floor(Math.random() * 200);
  it.history.unshift({ at: Math.floor(now()), method, path: rel, status: a.status, elapsedMs, request: null });
  it.history.splice(50);
  return {
    presetId, method, url, status: a.status, elapsedMs, ok: a.status >= 200 && a.status < 300,
    contentType: text ? "application/json;charset=UTF-8" : null, body: text, sizeBytes: new TextEncoder().encode(text).length,
    headers, rateLimitHeaders: rate, pagination: a.pagination ?? null, attempts, refreshed, error: a.error ?? null,
  };
}

function curl(id: string, req: ApiRequest, reveal: boolean): string {
  const it = get(id);
  const provider = providerOf(it.providerId);
  let method = req.method.trim().toUpperCase();
  let path = req.path.trim();
  let product = req.product;
  if (req.presetId) {
    const preset = provider.testCalls.find((p) => p.id === req.presetId);
    if (!preset) throw err("unknown_test_call", "Unknown test call", req.presetId);
    method = preset.method;
    path = preset.path;
    product = preset.product;
  }
  if (reveal && !it.connection) throw err("not_connected", "Not connected", "Authorize first: there is no token.");
  const prefix = product ? `/ex/${product}/${it.site?.id ?? "{cloudId}"}` : "";
  const q = req.presetId ? "" : req.query?.trim() ? `?${req.query.trim()}` : "";
  const url = `${provider.gatewayUrl}${prefix}${path}${q}`;
  const quote = (v: string) => `'${v.replace(/'/g, "'\\''")}'`;
  const auth = reveal ? quote(`Authorization: Bearer mock-access-token-${it.id}`) : '"Authorization: Bearer $ACCESS_TOKEN"';
  let cmd = `curl -sS -X ${method} ${quote(url)} \\\n  -H ${auth} \\\n  -H 'Accept: application/json'`;
  const body = req.presetId ? null : req.body?.trim();
  if (body) cmd += ` \\\n  -H 'Content-Type: application/json' \\\n  --data-raw ${quote(body)}`;
  return cmd;
}

function diagnose(id: string | null, text: string): UiError {
  const decoded = (() => {
    try {
      return decodeURIComponent(text);
    } catch {
      return text;
    }
  })();
  const sent = id ? integrations.get(id)?.redirectUri ?? null : null;
  const facts: KeyValue[] = [];
  if (sent) facts.push({ key: "Onramp sent", value: sent });
  const lower = decoded.toLowerCase();
  if (lower.includes("redirect_uri") || lower.includes("callback")) {
    const refused = /redirect_uri=([^&\s]+)/.exec(decoded)?.[1] ?? /(https?:\/\/[^\s"'<>]+|onramp:\/\/[^\s"'<>]+)/.exec(decoded)?.[1];
    if (refused) facts.push({ key: "Atlassian refused", value: refused });
    return { code: "redirect_uri_not_registered", title: "The callback URL does not match the app's", detail: "Atlassian compares the callback URL character by character with the one registered on the app.", hint: "In the developer console open Authorization → OAuth 2.0 (3LO), paste the URL Onramp sent exactly, save, wait a minute, and authorize again.", facts };
  }
  if (lower.includes("unauthorized_client") || lower.includes("client_id")) {
    return { code: "unauthorized_client", title: "The app is not allowed to start this authorization", detail: `The authorize request was refused: ${decoded.slice(0, 200)}`, hint: "Check the client ID in step 2 against the console's Settings page, and the callback URL under Authorization.", facts };
  }
  if (lower.includes("scope")) {
    return { code: "scopes_not_added", title: "A requested scope is not enabled on the app", detail: decoded.slice(0, 300), hint: "In the console open Permissions → Configure → Edit Scopes and add every scope chosen in step 3.", facts };
  }
  return { code: "unknown", title: "Onramp does not recognise this error", detail: `The text was: ${decoded.slice(0, 300)}`, hint: "Check the client ID, callback URL and scopes against the developer console.", facts };
}

if (params.has("resume") || params.has("console")) {
  const it = newIntegration("sandbox");
  Object.assign(it, {
    clientId: sandboxConsole.clientId, hasClientSecret: true, scopes: ["offline_access", "read:me", "read:jira-user"],
    consoleDone: ["create", "permissions", "authorization", "credentials"],
    connection: { state: "connected", connectedAt: Date.now() / 1000 - 600, expiresAt: Date.now() / 1000 + (params.has("expiring") ? 90 : 3000), grantedScopes: ["offline_access", "read:me", "read:jira-user"], hasRefreshToken: true, reason: null, tokenLifetime: 3600, lastRefreshAt: null },
  });
  if (params.has("console")) {
    it.site = sitesFor(it)[0] ?? null;
    const t = Math.floor(now());
    it.history = [
      { at: t - 120, method: "GET", path: `/ex/jira/${it.site?.id ?? ""}/rest/api/3/myself`, status: 200, elapsedMs: 143, request: null },
      { at: t - 300, method: "GET", path: "/oauth/token/accessible-resources", status: 200, elapsedMs: 0, request: null },
    ];
  }
  integrations.set(it.id, it);
  if (params.has("bgfail")) {
    setTimeout(() => void needsReconnect(it, "The background refresh was refused: invalid_grant (the refresh token expired or was revoked). Authorize again."), 20_000);
  }
}

const handlers: Record<string, (a: Record<string, unknown>) => unknown> = {
  bootstrap: (): Bootstrap => ({
    providers, integrations: [...integrations.values()], lastIntegrationId: [...integrations.keys()][0] ?? null,
    keychain: params.has("nokeychain")
      ? { available: false, message: "No Secret Service provider was found on D-Bus (is gnome-keyring or KWallet running?)." }
      : { available: true, message: null },
    sandbox: sandboxConsole, defaultProviderId: "sandbox",
    settingsProblem: params.has("settingsproblem")
      ? err("settings", "Your saved settings could not be read", "settings.json: expected value at line 1 column 1", "Onramp left the file untouched and started empty. Fix or move the file, then restart.")
      : null,
    unmatchedCallback: params.has("unmatched")
      ? err("state_mismatch", "This callback does not belong to an authorization in progress", "Onramp was restarted after the browser opened. It was ignored.", "Start the authorization again from step 4.")
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
  save_credentials: (a) => {
    const it = get(String(a.id));
    const clientId = String(a.clientId ?? "").trim();
    const secret = a.secret == null ? "" : String(a.secret).trim();
    if (!clientId || /\s/.test(clientId) || /\s/.test(secret) || (!secret && !it.hasClientSecret)) {
      throw err("invalid_input", "Check the client ID", "Enter the client ID and secret without spaces.", null);
    }
    if (secret && params.has("nokeychain")) {
      throw err("keychain_unavailable", "The keychain is not available", "The secret could not be stored.", "Start the keychain service and restart Onramp. Nothing was written to disk.");
    }
    it.clientId = clientId;
    if (secret) it.hasClientSecret = true;
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
      // Like the engine: the flow ends a little after its expiry time.
      t.push(setTimeout(() => emit({ ...base, stage: "expired", message: "Nobody approved the authorization in time." }), 14_000));
      timers.set(id, t);
      return { authorizeUrl: `${provider.authorizeUrl}?state=${state}`, redirectUri: it.redirectUri, expiresAt: Math.floor(Date.now() / 1000) + 12 };
    }
    t.push(setTimeout(() => emit({ ...base, stage: "exchanging", message: "Exchanging the code" }), 4000));
    t.push(
      setTimeout(() => {
        if (it.clientId === "fail") {
          emit({ ...base, stage: "failed", message: "Token exchange failed", error: err("token_unauthorized", "The client ID or secret was rejected", "POST /oauth/token answered 401 {\"error\":\"access_denied\",\"error_description\":\"Unauthorized\"}", "Copy the client ID and secret again from the console and save them in step 2.") });
          return;
        }
        it.connection = {
          state: "connected", connectedAt: Date.now() / 1000, expiresAt: Date.now() / 1000 + 3600,
          grantedScopes: it.scopes.filter((s) => !s.startsWith("withheld:")), hasRefreshToken: it.scopes.includes("offline_access"), reason: null,
          tokenLifetime: 3600, lastRefreshAt: null,
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
  list_sites: (a) => {
    const list = sitesFor(get(String(a.id)));
    listedSites.set(String(a.id), list);
    return list;
  },
  filter_sites: (a) => {
    const wanted = String(a.subdomain).trim().split("://").pop()!.split(/[/.]/)[0]!.toLowerCase();
    const list = listedSites.get(String(a.id)) ?? [];
    return wanted ? list.filter((s) => new URL(s.url).hostname.split(".")[0] === wanted) : list;
  },
  advise_scopes: (a) => advise(providerOf(String(a.providerId)), a.scopes as string[]),
  scope_report: (a) => {
    const it = get(String(a.id));
    if (!it.connection) throw err("not_connected", "Not connected", "Authorize first: there is no token to compare with.");
    const listed = listedSites.get(it.id) ?? [];
    if (it.site) return report(providerOf(it.providerId), it, [it.site], `site ${it.site.name}`);
    return report(providerOf(it.providerId), it, listed, listed.length ? `the ${listed.length} listed site(s)` : null);
  },
  discover_provider: (a): CustomProviderInput => {
    const issuer = String(a.issuer).trim();
    if (issuer.includes("fail")) {
      throw err("unexpected_response", "The server answered unexpectedly", `No OAuth metadata found for ${issuer}. Tried:\n${issuer}/.well-known/oauth-authorization-server: HTTP 404\n${issuer}/.well-known/openid-configuration: HTTP 404\nFill in the endpoints by hand instead.`);
    }
    const base = issuer.replace(/\/+$/, "");
    return {
      name: (() => { try { return new URL(base).hostname; } catch { return "Custom"; } })(),
      authorizeUrl: `${base}/oauth2/authorize`, tokenUrl: `${base}/oauth2/token`, scopes: ["openid", "profile", "email", "offline_access"],
      extraParams: [], clientAuth: "basic", pkce: true, testCallUrl: null, issuer,
    };
  },
  save_custom_provider: (a) => {
    const input = a.input as CustomProviderInput;
    validateCustom(input);
    const id = a.id ? String(a.id) : `custom-${Date.now().toString(36)}`;
    if (a.id) providerOf(id);
    const p = customProvider(id, input);
    const i = providers.findIndex((x) => x.id === id);
    if (i >= 0) providers[i] = p;
    else providers.push(p);
    return p;
  },
  delete_custom_provider: (a) => {
    const id = String(a.id);
    const user = [...integrations.values()].find((i) => i.providerId === id);
    if (user) throw invalid("provider", `The integration "${user.name}" uses this provider; delete it first.`);
    const i = providers.findIndex((x) => x.id === id);
    if (i >= 0) providers.splice(i, 1);
    return null;
  },
  select_site: (a) => {
    const it = get(String(a.id));
    const site = sitesFor(it).find((s) => s.id === a.cloudId);
    if (!site) throw err("invalid_input", "Site not reachable", `The token does not reach ${String(a.cloudId)}.`);
    it.site = site;
    return it;
  },
  run_test_call: (a): TestCallResult => {
    const it = get(String(a.id));
    const preset = providerOf(it.providerId).testCalls.find((p) => p.id === a.presetId);
    if (!preset) throw err("unknown_test_call", "Unknown test call", String(a.presetId));
    const granted = it.connection?.grantedScopes ?? [];
    const ok = preset.needsScopes.length === 0 || preset.needsScopes.some((alt) => alt.every((s) => granted.includes(s)));
    const prefix = preset.product ? `/ex/${preset.product}/${it.site?.id ?? "?"}` : "";
    const url = preset.id === "custom-test" ? preset.path : `${SANDBOX}${prefix}${preset.path}`;
    const body = ok
      ? JSON.stringify(preset.id === "accessible-resources" ? sitesFor(it) : { accountId: "5b10a2844c20165700ede21g", name: "Ada Lovelace", preset: preset.id })
      : JSON.stringify({ code: 401, message: "Unauthorized; scope does not match" });
    return {
      presetId: preset.id, method: preset.method, url, status: ok ? 200 : 401, elapsedMs: 80 + Math.floor(Math.random() * 200), ok,
      contentType: "application/json", body, sizeBytes: body.length, headers: [{ key: "content-type", value: "application/json" }],
      rateLimitHeaders: [], pagination: null, attempts: 1, refreshed: false,
      error: ok ? null : err("scope_mismatch", "The token lacks a scope for this call", "HTTP 401: scope does not match.", `Add ${preset.needsScopes[0]?.join(" + ")} in step 3 and authorize again.`),
    };
  },
  run_request: (a) => runRequest(String(a.id), a.request as ApiRequest),
  curl_command: (a) => curl(String(a.id), a.request as ApiRequest, a.revealToken === true),
  preview_request: (a) => {
    const it = get(String(a.id));
    const req = a.request as ApiRequest;
    const path = req.path.trim();
    const invalid = (field: string, detail: string): UiError => ({ ...err("invalid_input", `Check the ${field}`, detail), facts: [{ key: "field", value: field }] });
    if (!path.startsWith("/")) throw invalid("path", "Give a path that starts with /, relative to the product's gateway path (e.g. /rest/api/3/myself).");
    if (req.body?.trim()) {
      try {
        JSON.parse(req.body);
      } catch (e) {
        throw invalid("body", `The body is not valid JSON: ${String(e)}.`);
      }
    }
    if (req.product && !it.site) throw err("no_site", "No site selected", "Jira and Confluence calls go to a site (cloudId); none is selected.");
    const prefix = req.product ? `/ex/${req.product}/${it.site?.id}` : "";
    const q = req.query?.trim().replace(/^\?/, "");
    return `${providerOf(it.providerId).gatewayUrl}${prefix}${path}${q ? `?${q}` : ""}`;
  },
  refresh_now: (a) => {
    const it = get(String(a.id));
    refreshToken(it);
    return it;
  },
  disconnect: (a) => {
    const it = get(String(a.id));
    clearTimers(it.id);
    it.connection = null;
    return it;
  },
  diagnose_browser_error: (a) => diagnose(a.id == null ? null : String(a.id), String(a.text)),
  get_integration: (a) => get(String(a.id)),
  delete_integration: (a) => {
    integrations.delete(String(a.id));
    return null;
  },
  open_url: (a) => {
    console.info(`[mock] open_url ${String(a.url)}`);
    return null;
  },
};

export const mockTransport: Transport = {
  async invoke<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    await delay(
      cmd === "run_test_call" || cmd === "run_request" || cmd === "list_sites" || cmd === "discover_provider" || cmd === "refresh_now"
        ? 700
        : cmd === "advise_scopes"
          ? (params.has("slowadvice") ? 800 : 40)
          : 250,
    );
    const h = handlers[cmd];
    if (!h) throw `Command ${cmd} not found`;
    return clone(await h(clone(args))) as T;
  },
  async listen<T>(event: string, cb: (payload: T) => void) {
    if (event === "request-progress") {
      const l = cb as unknown as (n: RetryNotice) => void;
      retryListeners.add(l);
      return () => void retryListeners.delete(l);
    }
    if (event === "connection-changed") {
      const l = cb as unknown as (v: IntegrationView) => void;
      connectionListeners.add(l);
      return () => void connectionListeners.delete(l);
    }
    if (event !== "auth-progress") return () => {};
    const l = cb as unknown as (p: AuthProgress) => void;
    listeners.add(l);
    return () => void listeners.delete(l);
  },
};

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}
