//! Tauri commands, one file per wizard step (same names as `onramp_core::engine`). Each is a few
//! lines: arguments in, one engine call, `UiError` out. No rules, no user-facing words.
//!
//! The command list is declared once, in [`commands!`]: it registers the handlers and names them
//! for the UI's generated `ui/src/lib/contract.ts` (a test fails while that file is stale, and
//! while a command has no wrapper in `ui/src/lib/api.ts`).

pub mod authorize;
pub mod events;
pub mod handoff;
pub mod home;
pub mod integrations;
pub mod providers;
pub mod push;
pub mod registration;
pub mod requests;
pub mod scopes;
pub mod sites;
pub mod tokens;

#[cfg(test)]
mod tests;

type Result<T> = std::result::Result<T, onramp_core::model::UiError>;

macro_rules! commands {
    ($($module:ident :: $name:ident),* $(,)?) => {
        /// Every command the window may call, by name.
        pub const COMMAND_NAMES: &[&str] = &[$(stringify!($name)),*];

        /// The invoke handler for every command in [`COMMAND_NAMES`].
        pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($module::$name),*]
        }
    };
}

commands! {
    events::listen_events,
    integrations::bootstrap,
    integrations::get_integration,
    integrations::create_integration,
    integrations::update_integration,
    integrations::delete_integration,
    home::list_integrations,
    home::open_integration,
    home::duplicate_integration,
    providers::discover_provider,
    providers::save_custom_provider,
    providers::delete_custom_provider,
    registration::keychain_status,
    registration::save_credentials,
    registration::check_credentials,
    registration::open_url,
    scopes::scope_catalog,
    scopes::advise_scopes,
    scopes::scope_report,
    scopes::search_operations,
    scopes::propose_scopes,
    authorize::start_authorization,
    authorize::cancel_authorization,
    authorize::fetch_service_account_token,
    authorize::diagnose_browser_error,
    sites::list_sites,
    sites::filter_sites,
    sites::select_site,
    requests::run_request,
    requests::preview_request,
    requests::curl_command,
    requests::endpoint_scopes,
    tokens::refresh_now,
    tokens::disconnect,
    handoff::export_handoff,
    handoff::save_handoff,
    handoff::snippet,
    handoff::export_definition,
    handoff::save_definition,
    handoff::import_definition,
    push::save_nango_secret_key,
    push::has_nango_secret_key,
    push::push_to_nango,
}

/// The UI's copy of the contract: the command names, as TypeScript.
pub fn contract_ts() -> String {
    let commands: String = COMMAND_NAMES
        .iter()
        .map(|c| format!("\n  | \"{c}\""))
        .collect();
    format!(
        "// Generated from src-tauri/src/commands/mod.rs by `make bindings`; do not edit.\n\n\
         /** Every command the shell registers. */\nexport type CommandName ={commands};\n"
    )
}
