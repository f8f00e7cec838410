//! The integration tests, as one test binary (one build, one link): each
//! module is one concern, and `common` is what they share (`spawn_app()`,
//! `TestDb`, a `Browser` that keeps cookies, typed calls of the server
//! functions).
//!
//! Run one module with `cargo test --features ssr,test-hooks --test it session::`.
#![cfg(feature = "ssr")]

mod common;

mod asvs;
mod auth;
mod backend;
mod cli;
mod concurrency;
mod defences;
mod devices;
mod fuzz;
mod items;
mod load;
mod logs;
mod restart;
mod security;
mod session;
mod store;
mod wire;
