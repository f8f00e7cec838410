//! A test's way to hold a request between reading a record and writing it
//! (`writes`): the race window opened on purpose instead of hoped for.
//!
//! Exists only in a build with the test hooks; without them [`RaceWindow`]
//! is empty and passing it costs nothing.

#[cfg(feature = "test-hooks")]
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

#[cfg(feature = "test-hooks")]
use tokio::sync::{watch, Notify};

/// Where a request can be held between reading a record and writing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// In `writes::touch`, before the update.
    Touch,
    /// In `writes::end_if_due`, before the delete.
    End,
}

/// A gate a test closes to hold requests at one [`Step`] until it opens it
/// again: the race window between a read and the write that depends on it,
/// opened on purpose instead of hoped for. Reachable only from Rust (the
/// integration tests hold the server's state), never over HTTP.
#[cfg(feature = "test-hooks")]
#[derive(Debug, Default)]
pub struct RaceWindow {
    touch: Gate,
    end: Gate,
}

#[cfg(feature = "test-hooks")]
#[derive(Debug)]
struct Gate {
    /// Whether requests arriving now wait.
    closed: AtomicBool,
    /// How many requests have arrived while closed, ever.
    arrivals: watch::Sender<usize>,
    opened: Notify,
}

#[cfg(feature = "test-hooks")]
impl Default for Gate {
    fn default() -> Self {
        Gate {
            closed: AtomicBool::new(false),
            arrivals: watch::Sender::new(0),
            opened: Notify::new(),
        }
    }
}

/// A held gate never keeps a request longer than this, whatever the test does.
#[cfg(feature = "test-hooks")]
const LONGEST_HOLD: Duration = Duration::from_secs(10);

#[cfg(feature = "test-hooks")]
impl RaceWindow {
    fn gate(&self, step: Step) -> &Gate {
        match step {
            Step::Touch => &self.touch,
            Step::End => &self.end,
        }
    }

    /// From now on, requests reaching `step` wait there.
    pub fn hold(&self, step: Step) {
        self.gate(step).closed.store(true, Ordering::Release);
    }

    /// Waits until `count` requests in all have been held at `step`.
    pub async fn arrived(&self, step: Step, count: usize) {
        let mut arrivals = self.gate(step).arrivals.subscribe();
        let _ = tokio::time::timeout(LONGEST_HOLD, arrivals.wait_for(|n| *n >= count)).await;
    }

    /// Requests reaching `step` from now on pass; those held stay held.
    pub fn stop_holding(&self, step: Step) {
        self.gate(step).closed.store(false, Ordering::Release);
    }

    /// Lets every request held at `step` go on, and holds no more.
    pub fn release(&self, step: Step) {
        let gate = self.gate(step);
        gate.closed.store(false, Ordering::Release);
        gate.opened.notify_waiters();
    }

    pub(super) async fn pass(&self, step: Step) {
        let gate = self.gate(step);
        if !gate.closed.load(Ordering::Acquire) {
            return;
        }
        let opened = gate.opened.notified();
        tokio::pin!(opened);
        // Registered before arriving, so a release right after is seen.
        opened.as_mut().enable();
        gate.arrivals.send_modify(|n| *n += 1);
        let _ = tokio::time::timeout(LONGEST_HOLD, opened).await;
    }
}

/// Without the test hooks: nothing to hold, nothing to pass.
#[cfg(not(feature = "test-hooks"))]
#[derive(Debug, Default)]
pub struct RaceWindow;

#[cfg(not(feature = "test-hooks"))]
impl RaceWindow {
    pub(super) async fn pass(&self, _step: Step) {}
}
