// Generated from src-tauri/src/commands/mod.rs and onramp_core::events by `make bindings`; do not edit.

/** Every command the shell registers. */
export type CommandName =
  | "bootstrap"
  | "get_integration"
  | "create_integration"
  | "update_integration"
  | "delete_integration"
  | "list_integrations"
  | "open_integration"
  | "duplicate_integration"
  | "discover_provider"
  | "save_custom_provider"
  | "delete_custom_provider"
  | "keychain_status"
  | "save_credentials"
  | "check_credentials"
  | "open_url"
  | "scope_catalog"
  | "advise_scopes"
  | "scope_report"
  | "search_operations"
  | "propose_scopes"
  | "start_authorization"
  | "cancel_authorization"
  | "fetch_service_account_token"
  | "diagnose_browser_error"
  | "list_sites"
  | "filter_sites"
  | "select_site"
  | "run_request"
  | "preview_request"
  | "curl_command"
  | "endpoint_scopes"
  | "refresh_now"
  | "disconnect"
  | "export_handoff"
  | "save_handoff"
  | "snippet"
  | "export_definition"
  | "save_definition"
  | "import_definition"
  | "save_nango_secret_key"
  | "has_nango_secret_key"
  | "push_to_nango";

/** Every event the engine emits, by name. */
export const EVENTS = {
  authProgress: "auth-progress",
  requestProgress: "request-progress",
  connectionChanged: "connection-changed",
  callbackUnmatched: "callback-unmatched",
} as const;
