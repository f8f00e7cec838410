//! The server's notion of "now", injectable so tests can let time pass.
//!
//! Every session deadline is computed from [`Clock::now`]. Production uses the
//! system clock; tests (and, behind the explicit `SESSION_GUARD_TEST_HOOKS`
//! setting, browser tests) move it forward with [`Clock::advance`] instead of
//! sleeping. The offset only grows, so time never runs backwards.

use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, in the server's clock.
pub type UnixSecs = i64;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Added to the system's time; for a frozen clock, the whole time.
    offset_secs: Arc<AtomicI64>,
    /// Stands still between advances (tests that count whole seconds).
    frozen: bool,
}

fn system_secs() -> UnixSecs {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    /// Starts at the system's time and moves only when advanced, so a test
    /// that crosses a second boundary between two requests sees no time
    /// pass.
    pub fn frozen() -> Self {
        Clock {
            offset_secs: Arc::new(AtomicI64::new(system_secs())),
            frozen: true,
        }
    }

    pub fn now(&self) -> UnixSecs {
        let base = if self.frozen { 0 } else { system_secs() };
        base + self.offset_secs.load(Ordering::Acquire)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        self.offset_secs.fetch_add(
            by.as_secs().min(i64::MAX as u64 / 4) as i64,
            Ordering::AcqRel,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = Clock::frozen();
        let start = clock.now();
        assert!((system_secs() - start).abs() <= 1);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(clock.now(), start);
        clock.clone().advance(Duration::from_secs(5));
        assert_eq!(clock.now(), start + 5);
    }

    #[test]
    fn advancing_moves_every_clone() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = other.now();
        clock.advance(Duration::from_secs(3600));
        let after = other.now();
        assert!(
            (3600..3602).contains(&(after - before)),
            "{}",
            after - before
        );
    }
}
