import type { Provider, TestCallPreset } from "./bindings";

/** A preset is runnable-with-success if every scope of any one alternative is granted (none needed = always). */
export function presetSatisfied(preset: TestCallPreset, granted: readonly string[]): boolean {
  if (preset.needsScopes.length === 0) return true;
  return preset.needsScopes.some((alt) => alt.every((s) => granted.includes(s)));
}

/** Defaults plus the first alternative of each test call's needs, limited to scopes the provider offers. */
export function initialScopes(provider: Provider): string[] {
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
  const p = provider.products.find((x) => x.id === product);
  return p?.displayName ?? PRODUCT_NAMES[product] ?? product;
}
