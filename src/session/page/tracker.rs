//! The page's one reactive record of what the server last said about the
//! session, fed by the server-function client (`client`) from every answer and by
//! the status query.
//!
//! Remaining time is kept as the server sent it, relative, with the moment it
//! arrived on the page's monotonic clock (see [`super::countdown`]).
//!
//! When a server function answers 401, the reason lands here. A mounted
//! [`super::SessionGuard`] shows the in-place sign-in dialog; a page without
//! one (there should be none that calls guarded functions) falls back to the
//! login page with `reason` and `next`.
//!
//! [`SessionState`] is a handle: its signals are private, every change goes
//! through a method named for what happened, every look through a getter.

use leptos::prelude::*;

use super::countdown::Reading;
use crate::session::{EndReason, SessionReport};

/// How long before the end the warning shows, and how often the page may
/// send a keep-alive, in seconds, as the server's policy says. The page
/// knows them only from a report: it holds no timing of its own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub warning_secs: i64,
    pub keep_alive_secs: i64,
}

/// The signals behind [`SessionState`].
struct Signals {
    idle: ArcRwSignal<Option<Reading>>,
    absolute: ArcRwSignal<Option<Reading>>,
    /// `None` until a report arrives: no warning opens and no keep-alive
    /// goes out before then.
    timing: ArcRwSignal<Option<Timing>>,
    ended: ArcRwSignal<Option<EndReason>>,
    /// The user whose page this is: named by its first report and kept
    /// while the page lives, so that a report naming someone else (who
    /// signed in in this browser since) cannot hand them this page.
    username: ArcRwSignal<Option<String>>,
    /// Counts the times the session came back after an in-place sign-in;
    /// whatever failed meanwhile re-runs when it changes.
    resumed: ArcRwSignal<u64>,
    /// Monotonic ms of the last answer that extended the session (any tab).
    last_contact_ms: ArcRwSignal<f64>,
    /// The idle time left as the last guarded answer in this tab said it:
    /// the guard passes each one on to the other tabs.
    heard: ArcRwSignal<Option<Reading>>,
    guard_mounted: ArcRwSignal<bool>,
}

impl Signals {
    fn new() -> Self {
        Signals {
            idle: ArcRwSignal::new(None),
            absolute: ArcRwSignal::new(None),
            timing: ArcRwSignal::new(None),
            ended: ArcRwSignal::new(None),
            username: ArcRwSignal::new(None),
            resumed: ArcRwSignal::new(0),
            last_contact_ms: ArcRwSignal::new(0.0),
            heard: ArcRwSignal::new(None),
            guard_mounted: ArcRwSignal::new(false),
        }
    }
}

// One record per thread: in the browser, the page (browser tab). On the
// server, one per worker thread, shared by every request it renders: server
// rendering only reads it (effects and answers are the browser's), so there
// it always holds the values above.
thread_local! {
    static SIGNALS: Signals = Signals::new();
}

fn signals<T>(f: impl FnOnce(&Signals) -> T) -> T {
    SIGNALS.with(f)
}

/// Everything the page knows about its session. A handle to the one record
/// per page (browser tab), shared by every component and by the
/// server-function client: `Copy`, holding nothing itself.
#[derive(Clone, Copy)]
pub struct SessionState(());

impl SessionState {
    /// The idle time left, as last read (tracked).
    pub fn idle(self) -> Option<Reading> {
        signals(|s| s.idle.get())
    }

    /// The time left to the maximum lifetime, as last read (tracked).
    pub fn absolute(self) -> Option<Reading> {
        signals(|s| s.absolute.get())
    }

    /// The server's timing, once a report has given it (tracked).
    pub fn timing(self) -> Option<Timing> {
        signals(|s| s.timing.get())
    }

    pub fn timing_untracked(self) -> Option<Timing> {
        signals(|s| s.timing.get_untracked())
    }

    /// Why the session ended, once it has (tracked).
    pub fn ended(self) -> Option<EndReason> {
        signals(|s| s.ended.get())
    }

    pub fn ended_untracked(self) -> Option<EndReason> {
        signals(|s| s.ended.get_untracked())
    }

    /// The user whose page this is, as the server names them.
    pub fn username_untracked(self) -> Option<String> {
        signals(|s| s.username.get_untracked())
    }

    /// How many times the session resumed (tracked).
    pub fn resumed(self) -> u64 {
        signals(|s| s.resumed.get())
    }

    /// Monotonic ms of the last answer that extended the session (any tab).
    pub fn last_contact_ms_untracked(self) -> f64 {
        signals(|s| s.last_contact_ms.get_untracked())
    }

    /// The last guarded answer's idle time left, in this tab (tracked).
    pub fn heard(self) -> Option<Reading> {
        signals(|s| s.heard.get())
    }

    /// A guard mounted: a new page, whoever its first report names. Nothing
    /// of the last one carries over: not its end (signing in on the login
    /// page after one must not open on "Session expired"), not its user.
    pub fn new_page(self) {
        signals(|s| {
            s.idle.set(None);
            s.absolute.set(None);
            s.heard.set(None);
            s.ended.set(None);
            s.username.set(None);
        });
    }

    /// Takes in a status report (the first one, the status query, an
    /// extend). A report naming another user than the page's ends the page:
    /// someone else signed in in this browser, and nothing here is theirs.
    pub fn apply(self, report: &SessionReport, now_ms: f64) {
        signals(|s| {
            s.timing.set(Some(Timing {
                warning_secs: report.warning_secs as i64,
                keep_alive_secs: report.keep_alive_secs as i64,
            }));
            let reason = if !report.signed_in {
                report.reason.unwrap_or(EndReason::Missing)
            } else if s.username.with_untracked(|owner| is_other(owner, report)) {
                EndReason::SignedOut
            } else {
                s.idle
                    .set(Some(reading(report.idle_remaining_secs as i64, now_ms)));
                s.absolute
                    .set(Some(reading(report.absolute_remaining_secs as i64, now_ms)));
                if s.username.with_untracked(Option::is_none) {
                    s.username.set(report.username.clone());
                }
                return;
            };
            if s.ended.get_untracked().is_none() {
                s.ended.set(Some(reason));
            }
        });
    }

    /// Whether `report` says this page's own user is signed in.
    pub fn is_own(self, report: &SessionReport) -> bool {
        report.signed_in
            && signals(|s| {
                s.username
                    .with_untracked(|owner| owner.is_some() && *owner == report.username)
            })
    }

    /// Whether `username` is this page's user.
    pub fn is_owner(self, username: &str) -> bool {
        signals(|s| {
            s.username
                .with_untracked(|owner| owner.as_deref() == Some(username))
        })
    }

    /// The session ended (401 seen, status says so, or another tab said so).
    pub fn end(self, reason: EndReason) {
        signals(|s| {
            if s.ended.get_untracked().is_none() {
                s.ended.set(Some(reason));
            }
        });
    }

    /// A guarded answer in this tab said how much idle time is left.
    pub fn heard_answer(self, reading: Reading) {
        signals(|s| {
            s.idle.set(Some(reading));
            s.last_contact_ms.set(reading.observed_at_ms);
            s.heard.set(Some(reading));
        });
    }

    /// Another tab extended the session: this is what is left, heard at `at`.
    pub fn extended_elsewhere(self, idle_secs: i64, absolute_secs: i64, at: f64) {
        signals(|s| {
            s.idle.set(Some(reading(idle_secs, at)));
            s.absolute.set(Some(reading(absolute_secs, at)));
            s.last_contact_ms.set(at);
        });
    }

    /// A guarded answer in another tab: the idle time left, heard at `at`.
    pub fn remaining_elsewhere(self, idle_secs: i64, at: f64) {
        signals(|s| {
            s.idle.set(Some(reading(idle_secs, at)));
            s.last_contact_ms.set(at);
        });
    }

    /// The server heard from this page at monotonic `at` (an extend, or the
    /// page's own loading), which counts as activity there.
    pub fn contact(self, at: f64) {
        signals(|s| s.last_contact_ms.set(at));
    }

    /// Signed in again as the same user: the session is back, and whatever
    /// failed meanwhile re-runs.
    pub fn resume(self) {
        signals(|s| {
            s.ended.set(None);
            s.resumed.update(|n| *n += 1);
        });
    }

    /// A [`super::SessionGuard`] is (or is no longer) on the page: while one
    /// is, a 401 opens its dialog instead of leaving the page.
    pub fn set_guard_mounted(self, mounted: bool) {
        signals(|s| s.guard_mounted.set(mounted));
    }

    #[cfg(feature = "hydrate")]
    fn guard_mounted_untracked(self) -> bool {
        signals(|s| s.guard_mounted.get_untracked())
    }
}

/// Whether `report` names a user other than `owner` (none named yet: no).
fn is_other(owner: &Option<String>, report: &SessionReport) -> bool {
    matches!((owner, &report.username), (Some(owner), Some(now)) if owner != now)
}

/// `remaining_secs` as heard at monotonic `at`.
fn reading(remaining_secs: i64, at: f64) -> Reading {
    Reading {
        remaining_secs,
        observed_at_ms: at,
    }
}

/// This page's session state.
pub fn state() -> SessionState {
    SessionState(())
}

/// How many times the session resumed after an in-place sign-in; reading it
/// makes a resource re-run then. Always 0 while rendering on the server.
pub fn resumed_count() -> u64 {
    #[cfg(feature = "hydrate")]
    {
        state().resumed()
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
            if !state.guard_mounted_untracked() {
                go_to_login(reason);
            }
            return;
        }
    }
    if let Some(secs) = header(IDLE_REMAINING_HEADER).and_then(|v| v.parse::<i64>().ok()) {
        state.heard_answer(reading(secs, monotonic_now_ms()));
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
