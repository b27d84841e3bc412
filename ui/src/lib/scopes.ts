import type { Provider, ScopeInfo, ScopeKind, TestCallPreset } from "./bindings";

/** A preset is runnable-with-success if every scope of any one alternative is granted (none needed = always). */
export function presetSatisfied(preset: TestCallPreset, granted: readonly string[]): boolean {
  if (preset.needsScopes.length === 0) return true;
  return preset.needsScopes.some((alt) => alt.every((s) => granted.includes(s)));
}

/**
 * Defaults plus the first alternative of each test call's needs, limited to scopes the provider offers.
 * A custom provider's scopes are the ones its owner typed in: all of them.
 */
export function initialScopes(provider: Provider): string[] {
  if (provider.custom) return provider.scopes.map((s) => s.name);
  const offered = new Set(provider.scopes.map((s) => s.name));
  const wanted = [...provider.defaultScopes];
  for (const call of provider.testCalls) {
    const first = call.needsScopes[0];
    if (first) wanted.push(...first);
  }
  const out: string[] = [];
  for (const s of wanted) if (offered.has(s) && !out.includes(s)) out.push(s);
  return out;
}

const PRODUCT_NAMES: Record<string, string> = {
  platform: "Platform (all products)",
  jira: "Jira",
  confluence: "Confluence",
};

export function productLabel(provider: Provider, product: string): string {
  if (provider.custom) return provider.displayName;
  const p = provider.products.find((x) => x.id === product);
  return p?.displayName ?? PRODUCT_NAMES[product] ?? product;
}

const PRODUCT_ORDER = ["platform", "jira", "confluence"];
const KIND_ORDER: ScopeKind[] = ["platform", "classic", "granular", "other"];

const KIND_NAMES: Record<ScopeKind, string> = {
  platform: "Account",
  classic: "Classic",
  granular: "Granular",
  other: "Scopes",
};

export interface ScopeGroup {
  /** `<product>-<kind>`, used in test ids. */
  key: string;
  product: string;
  kind: ScopeKind;
  label: string;
  scopes: ScopeInfo[];
}

export interface ScopeSection {
  product: string;
  label: string;
  groups: ScopeGroup[];
}

/** The catalogue grouped by product, then by kind; catalogue order inside a group. */
export function groupScopes(provider: Provider): ScopeSection[] {
  const sections: ScopeSection[] = [];
  for (const s of provider.scopes) {
    let sec = sections.find((x) => x.product === s.product);
    if (!sec) {
      sec = { product: s.product, label: productLabel(provider, s.product), groups: [] };
      sections.push(sec);
    }
    let g = sec.groups.find((x) => x.kind === s.kind);
    if (!g) {
      g = { key: `${s.product}-${s.kind}`, product: s.product, kind: s.kind, label: KIND_NAMES[s.kind] ?? s.kind, scopes: [] };
      sec.groups.push(g);
    }
    g.scopes.push(s);
  }
  const rank = (list: readonly string[], v: string) => {
    const i = list.indexOf(v);
    return i < 0 ? list.length : i;
  };
  sections.sort((a, b) => rank(PRODUCT_ORDER, a.product) - rank(PRODUCT_ORDER, b.product));
  for (const sec of sections) sec.groups.sort((a, b) => rank(KIND_ORDER, a.kind) - rank(KIND_ORDER, b.kind));
  return sections;
}

/** `chosen` in catalogue order, then anything the catalogue does not list (in the given order). */
export function orderScopes(provider: Provider, chosen: Iterable<string>): string[] {
  const set = new Set(chosen);
  const known = provider.scopes.map((s) => s.name).filter((n) => set.has(n));
  const knownSet = new Set(known);
  return [...known, ...[...set].filter((n) => !knownSet.has(n))];
}
