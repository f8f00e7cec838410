//! Sessions that end when the server says so, for Leptos apps.
//!
//! The guard keeps a session's idle and absolute deadlines on the server,
//! answers every server function of an ended session with the same typed
//! `401` and a reason, and gives the page what it needs to warn before the
//! end and to sign in again in place. This crate is being lifted out of the
//! `session-guard` application, which is its showcase; the parts here so
//! far are those both halves lean on:
//!
//! - [`contract`]: what the server and the page agree on: the reasons a
//!   session ends ([`EndReason`]), the status report ([`SessionReport`]),
//!   and the headers every guarded answer carries;
//! - `clock` (feature `ssr`): the server's "now", which tests and a
//!   browser suite can move instead of waiting;
//! - `policy` (feature `ssr`): every duration, limit and cookie attribute,
//!   and the rules as arithmetic on seconds: when a session ends, why, and
//!   when its activity is worth writing down;
//! - `record` (feature `ssr`): what the server keeps in each session.
//!
//! ```
//! use leptos_session_guard::{EndReason, END_REASON_HEADER};
//!
//! // A 401 names why the session ended, in its body and in a header.
//! assert_eq!(END_REASON_HEADER, "session-end-reason");
//! assert_eq!(EndReason::parse("idle"), Some(EndReason::Idle));
//! assert_eq!(EndReason::Idle.as_str(), "idle");
//! ```
#![deny(missing_docs)]

#[cfg(feature = "ssr")]
pub mod clock;
pub mod contract;
#[cfg(feature = "ssr")]
pub mod policy;
#[cfg(feature = "ssr")]
pub mod record;

pub use contract::{EndReason, SessionReport, END_REASON_HEADER, IDLE_REMAINING_HEADER};
