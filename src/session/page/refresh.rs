//! Status refresh: the page re-asks the passive status whenever its
//! countdown may be stale (tab shown again, page restored from the
//! back-forward cache, network back, wall time jumping against monotonic
//! time, the deadline reached): the server decides whether the session
//! ended. And the first report, rendered with the page.

use leptos::{ev, prelude::*, task::spawn_local};
use leptos_use_event_listener::use_event_listener;
use leptos_use_window::use_window;

use super::{
    countdown,
    tracker::{monotonic_now_ms, SessionState},
    warning::Warning,
};
use crate::session::session_status;

/// The passive status query as the guard asks it. Promises: one question
/// at a time; every answer lands in the state and the countdown.
/// Its stored values belong to the guard: a call that outlives it (an
/// answer or a timer arriving after the page moved on) reads them with
/// `try_` and then does nothing, instead of panicking on a disposed value.
#[derive(Clone, Copy)]
pub(super) struct Status {
    state: SessionState,
    warning: Warning,
    /// A question is on its way.
    asking: StoredValue<bool>,
    /// Monotonic ms of the last question.
    last_asked: StoredValue<f64>,
    /// Wall time less monotonic time at the last tick.
    wall_offset: StoredValue<f64>,
}

pub(super) fn use_status(state: SessionState, warning: Warning) -> Status {
    Status {
        state,
        warning,
        asking: StoredValue::new(false),
        last_asked: StoredValue::new(f64::MIN),
        wall_offset: StoredValue::new(wall_now_ms() - monotonic_now_ms()),
    }
}

impl Status {
    /// Ask the server (passively) how things stand.
    pub fn ask(self) {
        // Already asking, or the guard is gone (`try_`: see `Status`).
        if self.asking.try_get_value().unwrap_or(true) {
            return;
        }
        self.asking.set_value(true);
        self.last_asked.set_value(monotonic_now_ms());
        let was_ended = self.state.ended_untracked().is_some();
        spawn_local(async move {
            if let Ok(report) = session_status().await {
                self.state.apply(&report, monotonic_now_ms());
                // Ended when asked, and now this page's user is signed in:
                // they signed in again elsewhere (another tab's login page).
                // The page resumes as if they had done it here.
                if was_ended && self.state.is_own(&report) {
                    self.state.resume();
                }
            }
            self.asking.set_value(false);
            self.warning.recompute_at(monotonic_now_ms());
        });
    }

    /// On the clock's tick at monotonic `at`: asks when wall time moved
    /// differently (the machine slept, or the clock was set).
    pub fn notice_clock_jump(self, at: f64) {
        let offset = wall_now_ms() - at;
        let Some(previous) = self.wall_offset.try_get_value() else {
            return;
        };
        if countdown::clock_jumped(previous, offset) {
            self.ask();
        }
        self.wall_offset.set_value(offset);
    }

    /// On the clock's tick at monotonic `at`: at the deadline, asks whether
    /// the session ended (not more often than every two seconds).
    pub fn ask_if_due(self, at: f64) {
        let due = self
            .warning
            .remaining
            .get_untracked()
            .is_some_and(|r| r <= 0);
        if due
            && self.state.ended_untracked().is_none()
            && self
                .last_asked
                .try_get_value()
                .is_some_and(|last| at - last > 2000.0)
        {
            self.ask();
        }
    }

    /// After a sign-in again: the same user picks up where they were (what
    /// failed re-runs); another user gets a fresh page, nothing of the first.
    /// Answers whether the page resumed.
    pub fn resume_as(self, username: &str) -> bool {
        if !self.state.is_owner(username) {
            if let Some(window) = web_sys::window() {
                let _ = window.location().reload();
            }
            return false;
        }
        self.state.resume();
        self.ask();
        true
    }

    /// Another tab signed in again as `username`: this page resumes when it
    /// is theirs, and otherwise stays covered, for its own user to come back
    /// to (reloading it would throw their work away on someone else's word).
    pub fn resumed_elsewhere(self, username: &str) {
        if self.state.ended_untracked().is_some() && self.state.is_owner(username) {
            self.state.resume();
            self.ask();
        }
    }
}

/// Coming back: tab shown again, page restored from the back-forward
/// cache, network back. The countdown may be stale; the server knows.
pub(super) fn use_refresh_on_return(status: Status, visibility: Signal<web_sys::VisibilityState>) {
    Effect::new(move |was: Option<web_sys::VisibilityState>| {
        let is = visibility.get();
        if was.is_some() && is == web_sys::VisibilityState::Visible {
            status.ask();
        }
        is
    });
    for name in ["pageshow", "online"] {
        let _ = use_event_listener(
            use_window(),
            ev::Custom::<web_sys::Event>::new(name),
            move |_| status.ask(),
        );
    }
}

/// The first report, from the page itself. Promises: the state learns the
/// deadlines and timing without a request of its own on a first visit;
/// when that report failed, it asks.
pub(super) fn use_first_report(state: SessionState, warning: Warning, status: Status) {
    // The deadlines come with the page: the server renders its status into
    // the HTML (a resource, read passively as the status call reads it), so
    // a first visit makes no request once hydrated. A guard mounted by
    // navigating in the page fetches it instead. Where it comes from the
    // server it is dated at 0 in the page's clock, the start of the
    // navigation (`monotonic_now_ms` there), a little before the server
    // measured it: the page may believe it has less time, never more.
    let first_report = Resource::new(
        || (),
        |_| async {
            // On the server the status itself, not the server function: a
            // failure to read it must not give the page (already guarded)
            // the function's error status.
            #[cfg(feature = "ssr")]
            let report = crate::session::server::guard::status().await;
            #[cfg(not(feature = "ssr"))]
            let report = session_status().await;
            report.map(|report| (report, monotonic_now_ms()))
        },
    );
    Effect::new(move |_| match first_report.get() {
        Some(Ok((report, measured_at))) => {
            state.apply(&report, measured_at);
            warning.recompute_at(monotonic_now_ms());
        }
        Some(Err(_)) => status.ask(),
        None => {}
    });
}

/// Wall-clock ms (browser only: on the server the guard never ticks).
fn wall_now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
}
