// What `bootstrap` returned when Onramp started (providers, settings problem, the sandbox app), the
// keychain's state once a step that stores a secret asked, and the notice about a callback nobody
// waited for: what concerns the whole window.
import * as api from "../api";
import type { Bootstrap, KeychainStatus, Provider, ScopeInfo, TestCallPreset, UiError } from "../bindings";
import { offeredScopes } from "../scopes";

class Boot {
  data = $state<Bootstrap | null>(null);
  /** `bootstrap` failed (the window offers to try again). */
  error = $state<UiError | null>(null);
  starting = $state(false);
  /** A callback arrived that no authorization was waiting for (shown until dismissed). */
  unmatchedCallback = $state<UiError | null>(null);
  /** Every catalogue scope with what it means: asked once, after `bootstrap` (only step 3 needs it). */
  scopeCatalog = $state<ScopeInfo[] | null>(null);
  scopeCatalogError = $state<UiError | null>(null);
  #scopeCatalogLoading: Promise<void> | null = null;
  /** The OS keychain, once a step that stores a secret asked (`checkKeychain`); null before. */
  keychain = $state<KeychainStatus | null>(null);

  /** Every provider, the sandbox first. */
  providers = $derived.by<Provider[]>(() => {
    const list = this.data?.providers ?? [];
    return [...list.filter((p) => p.id === "sandbox"), ...list.filter((p) => p.id !== "sandbox")];
  });

  /** The provider step 1 offers when no integration says otherwise. */
  defaultProvider = $derived<Provider | null>(
    this.providers.find((p) => p.id === this.data?.defaultProviderId) ?? this.providers[0] ?? null,
  );

  /** Asks for the scope catalogue once (again after a failure). */
  loadScopeCatalog(): Promise<void> {
    if (this.scopeCatalog) return Promise.resolve();
    this.#scopeCatalogLoading ??= api
      .scopeCatalog()
      .then((scopes) => {
        this.scopeCatalog = scopes;
        this.scopeCatalogError = null;
      })
      .catch((e) => {
        this.scopeCatalogError = api.toUiError(e, "Loading the scope catalogue");
      })
      .finally(() => {
        this.#scopeCatalogLoading = null;
      });
    return this.#scopeCatalogLoading;
  }

  /** Asks whether the keychain keeps secrets (the engine probes it until it once works). */
  async checkKeychain(): Promise<void> {
    if (this.keychain?.available) return;
    try {
      this.keychain = await api.keychainStatus();
    } catch (e) {
      this.keychain = { available: false, message: api.toUiError(e, "Checking the keychain").detail };
    }
  }

  /** The scopes `provider` offers, with what each means (looked up in the catalogue sent once). */
  scopesOf(provider: Provider): ScopeInfo[] {
    return offeredScopes(provider, this.scopeCatalog ?? []);
  }

  /** The test calls `provider` offers: the catalogue's it names (sent once), then its own. */
  testCallsOf(provider: Provider): TestCallPreset[] {
    const all = this.data?.testCalls ?? [];
    const named = provider.testCallIds.flatMap((id) => all.filter((c) => c.id === id));
    return [...named, ...provider.ownTestCalls];
  }

  /** Add a saved custom provider to the list, or replace the one with the same id. */
  upsertProvider(p: Provider): void {
    const data = this.data;
    if (!data) return;
    const i = data.providers.findIndex((x) => x.id === p.id);
    if (i >= 0) data.providers[i] = p;
    else data.providers.push(p);
  }

  /** Drop a deleted custom provider from the list. */
  removeProvider(id: string): void {
    const data = this.data;
    if (!data) return;
    data.providers = data.providers.filter((x) => x.id !== id);
  }
}

export const boot = new Boot();
