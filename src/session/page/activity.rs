//! Activity keep-alive: real input (keys, pointer, wheel, scroll, typing;
//! trusted events only, never a script's) marks activity; at most once per
//! `keep_alive_secs` since the last contact, and only after such input, the
//! page sends a keep-alive. A page left alone sends nothing and expires on
//! time. While a dialog is open, input does not extend: only its buttons do.

use leptos::{ev, prelude::*, task::spawn_local};
use leptos_use_document::use_document;
use leptos_use_event_listener::{use_event_listener_with_options, UseEventListenerOptions};

use super::{
    tabs::TabChannel,
    tracker::{monotonic_now_ms, SessionState},
    warning::Warning,
};
use crate::session::extend_session;

/// The user's activity and what it keeps alive. Promises: a keep-alive goes
/// out only after real input, not while the warning is open or the session
/// has ended, not before a report has said how often, and not sooner than
/// `keep_alive_secs` after the last contact.
#[derive(Clone, Copy)]
pub(super) struct Activity {
    state: SessionState,
    warning: Warning,
    tabs: TabChannel,
    /// Real input since the last keep-alive.
    active: StoredValue<bool>,
}

pub(super) fn use_activity(state: SessionState, warning: Warning, tabs: TabChannel) -> Activity {
    let activity = Activity {
        state,
        warning,
        tabs,
        active: StoredValue::new(false),
    };
    // One listener type for all of them (by name): a typed event each
    // would compile the listener seven times into the page's wasm.
    for name in [
        "keydown",
        "pointerdown",
        "pointermove",
        "wheel",
        "scroll",
        "input",
        "touchstart",
    ] {
        // Only the browser's own events: a script's synthetic scroll or
        // pointer move is not the user.
        let _ = use_event_listener_with_options(
            use_document(),
            ev::Custom::<web_sys::Event>::new(name),
            move |event: web_sys::Event| {
                if event.is_trusted() {
                    activity.mark();
                }
            },
            UseEventListenerOptions::default()
                .capture(true)
                .passive(true),
        );
    }
    activity
}

impl Activity {
    /// Real input is activity, except while a dialog is open.
    fn mark(self) {
        if self.state.ended_untracked().is_none() && !self.warning.open.get_untracked() {
            self.active.set_value(true);
            self.keep_alive();
        }
    }

    /// Sends a keep-alive if one is due (on input, and on the clock's tick).
    pub fn keep_alive(self) {
        if self.warning.is_gone()
            || !self.active.get_value()
            || self.warning.open.get_untracked()
            || self.state.ended_untracked().is_some()
        {
            return;
        }
        // No report yet: no session known to keep alive. A cadence of 0
        // comes only from a server older than the field (a rolling
        // deploy): no keep-alive until one says how often.
        let Some(timing) = self.state.timing_untracked() else {
            return;
        };
        if timing.keep_alive_secs <= 0 {
            return;
        }
        let every = timing.keep_alive_secs as f64 * 1000.0;
        if monotonic_now_ms() - self.state.last_contact_ms_untracked() < every {
            return;
        }
        self.active.set_value(false);
        self.extend();
    }

    /// Extend on the server (keep-alive or "Stay signed in"), then tell the
    /// other tabs.
    pub fn extend(self) {
        spawn_local(async move {
            if let Ok(report) = extend_session().await {
                let at = monotonic_now_ms();
                self.state.apply(&report, at);
                self.state.contact(at);
                self.warning.recompute_at(at);
                self.tabs.extended(&report);
            }
        });
    }
}
