// Wizard navigation: the steps, the current one, what each needs before Next, and Next itself.
import * as api from "../api";
import type { UiError } from "../bindings";
import { authorization } from "./authorization.svelte";
import { integration } from "./integration.svelte";
import { requests } from "./requests.svelte";

/** One key per step, the same as its component (`<Key>Step.svelte`) and its `data-testid="step-<key>"`. */
export const STEPS = [
  { key: "providers", title: "Provider" },
  { key: "registration", title: "Developer console" },
  { key: "scopes", title: "Scopes" },
  { key: "authorize", title: "Authorize" },
  { key: "sites", title: "Site" },
  { key: "requests", title: "Test call" },
  { key: "handoff", title: "Hand-off" },
] as const;

export const LAST_STEP = STEPS.length - 1;

/** Index of the Scopes step: its suggestions count as chosen once the user goes past it. */
export const SCOPES_STEP = 2;

/** Index of the Sites step, skipped for providers without sites (`hasSites: false`). */
export const SITES_STEP = 4;

/** Index of the test-call step: an integration that got this far reopens here (hand-off is a choice). */
export const REQUESTS_STEP = 5;

class Navigation {
  step = $state(0);
  /** Next button: running and its last error. */
  advancing = $state(false);
  nextError = $state<UiError | null>(null);
  /** Step 1: a custom-provider form is open; what to do with it before Next (its typing is never dropped). */
  openForm = $state<string | null>(null);

  /** The current provider lists no sites: step 5 counts as done and is jumped over (the engine says). */
  sitesSkipped = $derived(integration.view?.steps[SITES_STEP]?.skipped ?? false);

  /** Furthest step whose predecessors are all done, at most the test-call step (or the hand-off once handed off). */
  resumeStep(): number {
    for (let i = 1; i < REQUESTS_STEP; i++) if (!this.isDone(i)) return i;
    return integration.view?.handedOff ? LAST_STEP : REQUESTS_STEP;
  }

  /** Why Next is not possible on step `i`, or null if it is. Step 1 needs a provider picked here;
   * every other step's blocker comes from the engine (`IntegrationView.steps`). */
  blocker(i: number): string | null {
    if (i === 0) return this.openForm ?? (integration.selectedProviderId ? null : "Pick a provider");
    const it = integration.view;
    if (!it) return "Pick a provider";
    return it.steps[i]?.blocker ?? null;
  }

  /** Ticked in the progress bar: the engine says the user has been through it (`StepStatus.done`). */
  isDone(i: number): boolean {
    if (i === 0) return integration.view !== null;
    return integration.view?.steps[i]?.done ?? false;
  }

  /** Whether step `i` is jumped over for this provider (it then counts as done). */
  isSkipped(i: number): boolean {
    return i === SITES_STEP && this.sitesSkipped;
  }

  canVisit(i: number): boolean {
    if (this.isSkipped(i)) return false;
    if (i <= this.step || i === 0) return true;
    // Earlier steps must be passable (a test call is optional), and the scopes looked at.
    for (let k = 0; k < i; k++) {
      const passable = k === 0 ? this.isDone(0) : this.blocker(k) === null && (k !== SCOPES_STEP || this.isDone(k));
      if (!passable && !this.isSkipped(k)) return false;
    }
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
        const pid = integration.selectedProviderId;
        if (!integration.view || integration.view.providerId !== pid) {
          integration.open(await api.createIntegration(pid));
          authorization.reset();
          requests.reset();
        }
      } else {
        // Let pending saves land so the next step works on what the back end holds.
        await integration.settled();
        const it = integration.view;
        if (this.step === SCOPES_STEP && it && !it.steps[SCOPES_STEP]?.done) {
          // Going past step 3 makes the suggested scopes the user's choice.
          integration.accept(await api.updateIntegration(it.id, { scopesReviewed: true }));
        }
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
}

export const navigation = new Navigation();
