//! session-guard: a Leptos application whose sessions expire the way users
//! need them to. The server alone decides when a session ends; every server
//! function answers an ended session with the same typed 401; the page warns
//! before it happens and never loses the user's work.

pub mod account;
pub mod app;
pub mod auth;
pub mod error;
pub mod form;
pub mod items;
pub mod modal;
pub mod session;

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod cli;
/// The server's clock, from the guard's crate (the app's items and users
/// are dated by it too).
#[cfg(feature = "ssr")]
pub use leptos_session_guard::clock;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod hosts;
#[cfg(feature = "ssr")]
pub mod proxy;
#[cfg(feature = "ssr")]
pub mod security;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod state;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
