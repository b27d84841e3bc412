//! End-to-end test support: a WebDriver client and a per-scenario harness that starts the real
//! Onramp binary through tauri-driver in its own throwaway HOME/XDG directories.

pub mod flows;
pub mod harness;
pub mod webdriver;
