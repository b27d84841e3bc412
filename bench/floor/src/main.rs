//! The floor `make bench` measures Onramp against: a bare Tauri app (`window.rs`).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod window;

fn main() {
    window::run();
}
