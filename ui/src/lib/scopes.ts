import type { Provider, ScopeInfo, ScopeKind } from "./bindings";

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

/**
 * The scopes `provider` offers, in catalogue order: the shared catalogue (sent once, in `Bootstrap.scopes`)
 * through the provider's filter, then a custom provider's own.
 */
export function offeredScopes(provider: Provider, catalog: readonly ScopeInfo[]): ScopeInfo[] {
  const { products, excluded } = provider.scopeFilter;
  const shared = catalog.filter((s) => products.includes(s.product) && !excluded.includes(s.name));
  return [...shared, ...provider.ownScopes];
}

/** The offered scopes grouped by product, then by kind; catalogue order inside a group. */
export function groupScopes(provider: Provider, offered: readonly ScopeInfo[]): ScopeSection[] {
  const sections: ScopeSection[] = [];
  for (const s of offered) {
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
export function orderScopes(offered: readonly ScopeInfo[], chosen: Iterable<string>): string[] {
  const set = new Set(chosen);
  const known = offered.map((s) => s.name).filter((n) => set.has(n));
  const knownSet = new Set(known);
  return [...known, ...[...set].filter((n) => !knownSet.has(n))];
}
