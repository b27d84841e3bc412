// The integrations home: every saved integration with its health (list_integrations), a filter, and
// what each row does (rename, open in the wizard at the step where it stands, duplicate, delete).
import * as api from "../api";
import type { IntegrationSummary, IntegrationView, UiError } from "../bindings";
import { authorization } from "./authorization.svelte";
import { boot } from "./boot.svelte";
import { integration } from "./integration.svelte";
import { navigation, STEPS } from "./navigation.svelte";
import { requests } from "./requests.svelte";

class Home {
  /** The home is shown instead of the wizard. */
  visible = $state(false);
  list = $state<IntegrationSummary[]>([]);
  loading = $state(false);
  error = $state<UiError | null>(null);
  /** Matched against the name and the provider, case-insensitively. */
  filter = $state("");
  /** The row whose deletion waits for confirmation. */
  confirmingDelete = $state<string | null>(null);
  /** A row's action is running (its buttons are disabled). */
  busy = $state<string | null>(null);

  shown = $derived.by<IntegrationSummary[]>(() => {
    const f = this.filter.trim().toLowerCase();
    if (!f) return this.list;
    return this.list.filter((s) => s.name.toLowerCase().includes(f) || s.providerName.toLowerCase().includes(f) || s.providerId.toLowerCase().includes(f));
  });

  #loads = 0;

  async show(): Promise<void> {
    this.visible = true;
    this.confirmingDelete = null;
    await this.load();
  }

  hide(): void {
    this.visible = false;
  }

  async load(): Promise<void> {
    const n = ++this.#loads;
    this.loading = true;
    try {
      const list = await api.listIntegrations();
      if (n === this.#loads) {
        this.list = list;
        this.error = null;
      }
    } catch (e) {
      if (n === this.#loads) this.error = api.toUiError(e, "Listing the integrations");
    } finally {
      if (n === this.#loads) this.loading = false;
    }
  }

  /** `connection-changed` (a background refresh): the health shown follows. */
  connectionChanged(_view: IntegrationView): void {
    if (this.visible) void this.load();
  }

  async #run(id: string, what: string, fn: () => Promise<void>): Promise<void> {
    this.busy = id;
    this.error = null;
    try {
      await fn();
    } catch (e) {
      this.error = api.toUiError(e, what);
    } finally {
      this.busy = null;
    }
  }

  rename(id: string, name: string): Promise<void> {
    const current = this.list.find((s) => s.id === id);
    if (!current || current.name === name.trim()) return Promise.resolve();
    return this.#run(id, "Renaming the integration", async () => {
      const view = await api.updateIntegration(id, { name });
      // Only the integration open in the wizard follows; renaming another one opens nothing.
      if (integration.view?.id === id) integration.accept(view);
      await this.load();
    });
  }

  duplicate(id: string): Promise<void> {
    return this.#run(id, "Duplicating the integration", async () => {
      await api.duplicateIntegration(id);
      await this.load();
    });
  }

  remove(id: string): Promise<void> {
    return this.#run(id, "Deleting the integration", async () => {
      await api.deleteIntegration(id);
      this.confirmingDelete = null;
      if (integration.view?.id === id) {
        integration.close();
        authorization.reset();
        requests.reset();
        integration.selectedProviderId = boot.defaultProvider?.id ?? "";
        navigation.step = 0;
      }
      await this.load();
    });
  }

  /** Opens the wizard on the integration, at the step where it stands. */
  open(summary: IntegrationSummary): Promise<void> {
    return this.#run(summary.id, "Opening the integration", () => this.#openInWizard(summary.id, summary.step));
  }

  /** Opens an integration that is not listed yet (just imported) at the step where it stands. */
  openById(id: string): Promise<void> {
    return this.#openInWizard(id, null);
  }

  async #openInWizard(id: string, step: string | null): Promise<void> {
    const view = await api.openIntegration(id);
    if (integration.view?.id !== view.id) {
      authorization.reset();
      requests.reset();
    }
    integration.open(view);
    integration.selectedProviderId = view.providerId;
    const at = STEPS.findIndex((s) => s.key === step);
    navigation.nextError = null;
    navigation.step = at >= 0 ? at : navigation.resumeStep();
    this.visible = false;
  }

  /** Step 1 with no integration open: Next creates one. */
  startNew(): void {
    integration.close();
    authorization.reset();
    requests.reset();
    integration.selectedProviderId = boot.defaultProvider?.id ?? "";
    navigation.nextError = null;
    navigation.step = 0;
    this.visible = false;
  }
}

export const home = new Home();
