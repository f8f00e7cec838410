//! Everything about sessions: how long they live, how they end, and how the
//! page learns about it.
//!
//! - `policy`: the rules as arithmetic (deadlines, reasons, the write slice).
//! - `guard` (server): applies the policy to every request, in one helper that
//!   every server function calls and in the layers in front of `/api` and the
//!   protected pages, so expiry always answers a typed 401.
//! - `store` (server): the tower-sessions store wrapper that sets each record's
//!   expiry from the policy and sweeps what has ended; `writes`, its
//!   compare-and-set writes, which never resurrect a deleted session, never
//!   move `last_activity` backwards and never delete a renewed one.
//! - `devices` (server): a user's live sessions, found by the user id each
//!   record carries, and ending them from another session (reason
//!   `revoked`).
//! - `ending_cookie` (server): the short-lived cookie that tells the browser's
//!   next requests why its session ended.
//! - `cache` (server): the records in memory between requests, evicted on
//!   every change.
//! - `changes` (server): on PostgreSQL, every instance hears the changes
//!   the others make, and catches up before it trusts its memory.
//! - `redirect`: the login page's address with the reason and a safe
//!   `next`, where an ended session sends its page.
//! - `client`: the one place in the browser that sees every server-function
//!   answer (custom server_fn `Client`).
//! - `tracker`: the reactive place holding what the last answer said about the
//!   session.
//! - `watch` and `dialogs`: [`SessionGuard`], the page's side: countdown,
//!   warning, activity keep-alive, tabs in step, sign-in again in place.

use serde::{Deserialize, Serialize};
use server_fn::codec::GetUrl;

use crate::error::AppError;
use leptos::server;

pub mod client;
pub mod countdown;
mod dialogs;
pub mod redirect;
pub mod tracker;
mod watch;

pub use watch::{AuthCall, SessionGuard, SignInOut, TabChannel};

#[cfg(feature = "ssr")]
pub mod cache;
#[cfg(feature = "ssr")]
pub mod changes;
#[cfg(feature = "ssr")]
pub mod devices;
#[cfg(feature = "ssr")]
pub mod ending_cookie;
#[cfg(feature = "ssr")]
pub mod guard;
#[cfg(feature = "ssr")]
pub mod policy;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
#[cfg(feature = "ssr")]
pub mod writes;

/// Header on every guarded answer: whole seconds until the idle deadline.
pub const IDLE_REMAINING_HEADER: &str = "session-idle-remaining";
/// Header on a 401 from the guard, mirroring the JSON reason for the client.
pub const END_REASON_HEADER: &str = "session-end-reason";

/// Why there is no live session. On the wire, the text of [`EndReason::as_str`]
/// (read through [`EndReason::parse`]: smaller in the page's wasm than
/// serde's derived enum code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum EndReason {
    /// No activity for longer than the idle timeout.
    Idle,
    /// The session reached its maximum lifetime.
    Absolute,
    /// The user signed out (in this tab or another).
    SignedOut,
    /// The user signed this session out from another one (the sessions page).
    Revoked,
    /// No session at all: never signed in, or the record is long gone.
    Missing,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Absolute => "absolute",
            EndReason::SignedOut => "signed_out",
            EndReason::Revoked => "revoked",
            EndReason::Missing => "missing",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "idle" => Some(EndReason::Idle),
            "absolute" => Some(EndReason::Absolute),
            "signed_out" => Some(EndReason::SignedOut),
            "revoked" => Some(EndReason::Revoked),
            "missing" => Some(EndReason::Missing),
            _ => None,
        }
    }

    /// What the login page and the expiry dialog say.
    pub fn message(self) -> &'static str {
        match self {
            EndReason::Idle => {
                "Your session ended after a period of inactivity. Please sign in again."
            }
            EndReason::Absolute => "Your session reached its maximum length. Please sign in again.",
            EndReason::SignedOut => "You have signed out.",
            EndReason::Revoked => "You were signed out from another session.",
            EndReason::Missing => "Please sign in to continue.",
        }
    }
}

impl From<EndReason> for &'static str {
    fn from(reason: EndReason) -> Self {
        reason.as_str()
    }
}

impl TryFrom<String> for EndReason {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        EndReason::parse(&text).ok_or_else(|| format!("unknown reason `{text}`"))
    }
}

/// What the passive status query reports. Asking never extends the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionReport {
    pub signed_in: bool,
    /// Why not, when not signed in.
    pub reason: Option<EndReason>,
    pub username: Option<String>,
    pub idle_remaining_secs: u64,
    pub absolute_remaining_secs: u64,
    pub idle_timeout_secs: u64,
    pub warning_secs: u64,
}

/// Reports the session's remaining idle and absolute seconds. Public and
/// passive: it works without a session and never counts as activity.
#[server(prefix = "/api", endpoint = "session_status", input = GetUrl, client = client::GuardClient)]
pub async fn session_status() -> Result<SessionReport, AppError> {
    guard::public(guard::status()).await
}

/// Counts as activity: the explicit "Stay signed in" and the page's
/// activity keep-alive. Answers the fresh status.
#[server(prefix = "/api", endpoint = "extend_session", client = client::GuardClient)]
pub async fn extend_session() -> Result<SessionReport, AppError> {
    guard::guarded(|live| async move { Ok(live.status()) }).await
}
