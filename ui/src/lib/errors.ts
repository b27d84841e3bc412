import type { ErrorCode, KeyValue, UiError } from "./bindings";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function facts(v: unknown): KeyValue[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((f): f is Record<string, unknown> => isRecord(f) && typeof f.key === "string")
    .map((f) => ({ key: f.key as string, value: typeof f.value === "string" ? f.value : String(f.value ?? "") }));
}

function str(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

/**
 * Turn whatever a rejected promise carried into a UiError. The back end rejects with a UiError
 * (its code one of the engine's `ErrorCode`s, trusted as such); anything else (a Tauri plumbing
 * string, a JS Error, a plain object) becomes code "unexpected" with its message kept, so the UI
 * never shows "[object Object]".
 */
export function toUiError(e: unknown, context?: string): UiError {
  if (isRecord(e) && str(e.code) && str(e.title)) {
    return {
      code: e.code as ErrorCode,
      title: e.title as string,
      detail: typeof e.detail === "string" ? e.detail : "",
      hint: str(e.hint),
      facts: facts(e.facts),
    };
  }
  let detail: string;
  if (typeof e === "string") detail = e;
  else if (e instanceof Error) detail = e.message || e.name;
  else if (isRecord(e) && str(e.message)) detail = e.message as string;
  else {
    try {
      detail = JSON.stringify(e) ?? String(e);
    } catch {
      detail = String(e);
    }
  }
  return {
    code: "unexpected",
    title: context ? `${context} failed unexpectedly` : "Unexpected error",
    detail: detail || "No further detail was given.",
    hint: "This is probably a bug in Onramp. Try again; if it keeps happening, restart Onramp.",
    facts: [],
  };
}
