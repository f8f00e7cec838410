//! Everything about sessions: how long they live, how they end, and how the
//! page learns about it. Depends on nothing else in the app but the error
//! type, the clock, the database pools and the modal dialog; `auth/`,
//! `items/` and `account/` depend on it, and the app hands it what it needs
//! (`server::Sessions`, `SignInOut`). No two of its files depend on each
//! other in a cycle.
//!
//! - [`contract`]: what server and page agree on (reasons, the status
//!   report, the headers on every guarded answer), from the
//!   `leptos-session-guard` crate.
//! - [`fns`]: the session's own server functions, the passive status and
//!   the extend.
//! - [`redirect`]: the login page's address with the reason and a safe
//!   `next`, where an ended session sends its page.
//! - [`server`] (server build only): the policy, the guard that applies it
//!   to every request, and the store that keeps records.
//! - [`page`]: the browser's side: the client that sees every answer, the
//!   page's session state, and [`SessionGuard`] around protected pages.
//!
//! `docs/architecture.md` draws how a request goes through these parts.

pub use leptos_session_guard::contract;
pub mod fns;
pub mod page;
pub mod redirect;
#[cfg(feature = "ssr")]
pub mod server;

pub use contract::{EndReason, SessionReport, END_REASON_HEADER, IDLE_REMAINING_HEADER};
pub use fns::{extend_session, session_status, ExtendSession, SessionStatus};
pub use page::{AuthCall, SessionGuard, SignInOut, TabChannel};
