//! The page's one reactive record of what the server last said about the
//! session, fed by [`super::client::GuardClient`] from every answer and by
//! the status query.
//!
//! Remaining time is kept as the server sent it, relative, with the moment it
//! arrived on the page's monotonic clock (see [`super::countdown`]).
//!
//! When a server function answers 401, the reason lands here. A mounted
//! [`super::SessionGuard`] shows the in-place sign-in dialog; a page without
//! one (there should be none that calls guarded functions) falls back to the
//! login page with `reason` and `next`.

use leptos::prelude::*;

use super::countdown::Reading;
use crate::session::{EndReason, SessionReport};

/// Everything the page knows about its session. One instance per page
/// (browser tab), shared by every component and by the server-function client.
#[derive(Clone)]
pub struct SessionState {
    pub idle: ArcRwSignal<Option<Reading>>,
    pub absolute: ArcRwSignal<Option<Reading>>,
    /// How long before the end the warning shows, and how often the page may
    /// send a keep-alive, in seconds, as the server's policy says.
    pub warning_secs: ArcRwSignal<i64>,
    pub keep_alive_secs: ArcRwSignal<i64>,
    pub ended: ArcRwSignal<Option<EndReason>>,
    pub username: ArcRwSignal<Option<String>>,
    /// Counts the times the session came back after an in-place sign-in;
    /// whatever failed meanwhile re-runs when it changes.
    pub resumed: ArcRwSignal<u64>,
    /// Monotonic ms of the last answer that extended the session (any tab).
    pub last_contact_ms: ArcRwSignal<f64>,
    /// The idle time left as the last guarded answer in this tab said it:
    /// the guard passes each one on to the other tabs.
    pub heard: ArcRwSignal<Option<Reading>>,
    pub guard_mounted: ArcRwSignal<bool>,
}

impl SessionState {
    fn new() -> Self {
        SessionState {
            idle: ArcRwSignal::new(None),
            absolute: ArcRwSignal::new(None),
            warning_secs: ArcRwSignal::new(120),
            keep_alive_secs: ArcRwSignal::new(60),
            ended: ArcRwSignal::new(None),
            username: ArcRwSignal::new(None),
            resumed: ArcRwSignal::new(0),
            last_contact_ms: ArcRwSignal::new(0.0),
            heard: ArcRwSignal::new(None),
            guard_mounted: ArcRwSignal::new(false),
        }
    }

    /// Takes in a status report (from the status query or an extend).
    pub fn apply(&self, report: &SessionReport, now_ms: f64) {
        self.warning_secs.set(report.warning_secs as i64);
        self.keep_alive_secs.set(report.keep_alive_secs as i64);
        if report.signed_in {
            self.idle.set(Some(Reading {
                remaining_secs: report.idle_remaining_secs as i64,
                observed_at_ms: now_ms,
            }));
            self.absolute.set(Some(Reading {
                remaining_secs: report.absolute_remaining_secs as i64,
                observed_at_ms: now_ms,
            }));
            if report.username.is_some() {
                self.username.set(report.username.clone());
            }
        } else if self.ended.get_untracked().is_none() {
            self.ended
                .set(Some(report.reason.unwrap_or(EndReason::Missing)));
        }
    }

    /// The session ended (401 seen, status says so, or another tab said so).
    pub fn end(&self, reason: EndReason) {
        if self.ended.get_untracked().is_none() {
            self.ended.set(Some(reason));
        }
    }
}

thread_local! {
    static STATE: SessionState = SessionState::new();
}

/// This page's session state.
pub fn state() -> SessionState {
    STATE.with(Clone::clone)
}

/// How many times the session resumed after an in-place sign-in; reading it
/// makes a resource re-run then. Always 0 while rendering on the server.
pub fn resumed_count() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        state().resumed.get()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}

/// The page's monotonic clock in ms (`performance.now()`).
pub fn monotonic_now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.performance())
            .map(|p| p.now())
            .unwrap_or(0.0)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}

/// Reads one answer's session headers.
#[cfg(feature = "hydrate")]
pub fn observe_answer(status: u16, headers: &http::HeaderMap) {
    use crate::session::{END_REASON_HEADER, IDLE_REMAINING_HEADER};
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let state = state();
    if status == 401 {
        if let Some(reason) = header(END_REASON_HEADER)
            .as_deref()
            .and_then(EndReason::parse)
        {
            state.end(reason);
            if !state.guard_mounted.get_untracked() {
                go_to_login(reason);
            }
            return;
        }
    }
    if let Some(secs) = header(IDLE_REMAINING_HEADER).and_then(|v| v.parse::<i64>().ok()) {
        let reading = Reading {
            remaining_secs: secs,
            observed_at_ms: monotonic_now_ms(),
        };
        state.idle.set(Some(reading));
        state.last_contact_ms.set(reading.observed_at_ms);
        state.heard.set(Some(reading));
    }
}

/// Without a guard on the page: the login page, then back here.
#[cfg(feature = "hydrate")]
fn go_to_login(reason: EndReason) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    let _ = location.assign(&crate::session::redirect::login_url(
        Some(reason),
        Some(&here),
    ));
}
