//! The warning's state: the time left, recomputed from the readings on the
//! monotonic clock, whether the end is the maximum lifetime, and whether the
//! warning is open.

use leptos::prelude::*;

use super::tracker::{monotonic_now_ms, SessionState};

/// What the guard shows of the time left. Promises: the warning is open
/// only while the session is live, a report has said how long before the
/// end to warn, and the earlier deadline is within that lead; at the limit,
/// once read, it stays closed.
#[derive(Clone, Copy)]
pub(super) struct Warning {
    /// The monotonic ms the readings are counted down to.
    now: RwSignal<f64>,
    /// Seconds left to the deadline that comes first, as known.
    pub remaining: Memo<Option<i64>>,
    /// The end that comes first is the maximum lifetime.
    pub at_the_limit: Memo<bool>,
    limit_read: RwSignal<bool>,
    pub open: Memo<bool>,
}

impl Warning {
    /// Counts down to monotonic `at`: the clock ticked, or a fresh answer
    /// came.
    pub fn recompute_at(self, at: f64) {
        self.now.set(at);
    }

    /// The user has read that the session is at its limit.
    pub fn read_the_limit(self) {
        self.limit_read.set(true);
    }

    /// Whether the guard these values belong to is gone. Its one-second
    /// clock and its listeners were seen to fire once more after the page
    /// moved to a route without the guard (a sign-out), and reading a
    /// disposed value panics, which stops the page's code for good.
    pub fn is_gone(self) -> bool {
        self.now.is_disposed()
    }
}

pub(super) fn use_warning(state: SessionState) -> Warning {
    let now = RwSignal::new(monotonic_now_ms());
    // Seconds left to the idle and to the absolute deadline, as known.
    let left = Memo::new(move |_| {
        let at = now.get();
        let idle = state.idle().map(|r| r.remaining_at(at));
        let absolute = state.absolute().map(|r| r.remaining_at(at));
        (idle, absolute)
    });
    let remaining = Memo::new(move |_| match left.get() {
        (Some(i), Some(a)) => Some(i.min(a)),
        (i, a) => i.or(a),
    });
    // The end that comes first is the maximum lifetime, which no activity
    // or "Stay signed in" moves: the warning then says so, offers only to
    // go on working, and once read stays closed. Strictly first: where the
    // two coincide (a fresh session with both timeouts equal) the contract's
    // idle warning stands.
    let at_the_limit = Memo::new(move |_| match left.get() {
        (Some(i), Some(a)) => a < i,
        (i, a) => i.is_none() && a.is_some(),
    });
    let limit_read = RwSignal::new(false);
    Effect::new(move |_| {
        if !at_the_limit.get() {
            limit_read.set(false);
        }
    });
    let open = Memo::new(move |_| {
        // Nothing reported yet: no lead to warn within (and no reading).
        let Some(timing) = state.timing() else {
            return false;
        };
        state.ended().is_none()
            && remaining
                .get()
                .is_some_and(|r| r > 0 && r <= timing.warning_secs)
            && !(at_the_limit.get() && limit_read.get())
    });
    Warning {
        now,
        remaining,
        at_the_limit,
        limit_read,
        open,
    }
}
