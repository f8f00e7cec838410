//! `spawn_app()`: the real server on a random port with a fresh database,
//! spoken to over HTTP. The clock is injected, so tests move time instead of
//! sleeping.
//!
//! The database is a SQLite file by default; with `TEST_BACKEND=postgres`
//! every test gets its own throw-away PostgreSQL database instead (created
//! through `TEST_POSTGRES_URL`, dropped when the test ends), so the same
//! suite runs against both backends.
//!
//! - `db`: [`Backend`] and [`TestDb`];
//! - `server`: [`TestApp`], [`spawn_app`] and the ways to start, stop and
//!   inspect a server;
//! - `browser`: [`Browser`], a client that keeps cookies;
//! - `calls`: the server functions as typed calls (`list_items`, `extend`, …);
//! - `answers`: reading answers ([`json`], [`set_cookies`], [`ResponseExt`]);
//! - `pg_proxy`: a relay to PostgreSQL that a test can cut.

mod answers;
mod browser;
mod calls;
mod db;
pub mod pg_proxy;
mod server;

pub use answers::{is_cookie, json, set_cookies, ResponseExt};
pub use browser::Browser;
pub use calls::Anon;
pub use db::{backend, Backend, TestDb};
pub use server::{spawn_app, spawn_app_with, start, try_start, TestApp};
