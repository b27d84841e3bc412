//! What the engine's tests against the sandbox share: an engine wired to a running sandbox the way
//! the shell wires it (its app shown, callbacks "registered" with it), on the in-memory keychain.
#![allow(dead_code)]

use std::path::Path;

use onramp_core::engine::SandboxLink;
use onramp_core::model::SandboxApp;
use onramp_core::{Engine, EngineConfig};
use onramp_sandbox::Sandbox;

/// The sandbox as the engine sees it.
pub fn sandbox_link(sandbox: &Sandbox) -> SandboxLink {
    let c = sandbox.config();
    SandboxLink {
        app: SandboxApp {
            base_url: sandbox.base_url(),
            app_name: c.app_name,
            client_id: c.client_id,
            client_secret: c.client_secret,
        },
        instance_id: sandbox.instance_id(),
        register_callback: Box::new(sandbox.callback_registrar()),
    }
}

/// An engine keeping its data in `dir`, with or without the sandbox, on the mock keychain.
pub fn engine(dir: &Path, sandbox: Option<&Sandbox>, default_loopback_port: u16) -> Engine {
    onramp_core::vault::use_mock_keychain();
    Engine::new(EngineConfig {
        config_dir: dir.to_path_buf(),
        sandbox: sandbox.map(sandbox_link),
        default_loopback_port,
    })
    .unwrap()
}
