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
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> UnixSecs {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        real + self.offset_secs.load(Ordering::Acquire)
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
