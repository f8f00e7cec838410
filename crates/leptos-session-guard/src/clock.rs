//! The server's notion of "now", injectable so tests can let time pass.
//!
//! Every session deadline is computed from [`Clock::now`]. Production uses the
//! system clock; tests (and, behind the explicit `SESSION_GUARD_TEST_HOOKS`
//! setting, browser tests) move it forward with [`Clock::advance`] instead of
//! sleeping. The test offset only grows; the correction below is measured
//! again every minute and may move by the milliseconds of a round trip.
//!
//! Several instances on one PostgreSQL compare their "now" with deadlines
//! other instances wrote, so they must agree on it: a machine whose clock
//! runs 5 s ahead would end live sessions 5 s early. Each instance on
//! PostgreSQL follows the database's clock instead ([`Clock::follow`],
//! measured at start-up and every minute by the app, the session-guard
//! application's `db::follow_database_clock`):
//! instances then agree within the round trip of that measurement plus a
//! minute's drift, milliseconds on any network a database is used over, far
//! inside the one-second grain of every deadline. SQLite has one server, and
//! its own clock is the reference.

use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, in the server's clock.
pub type UnixSecs = i64;

/// The server's clock: the system's time, or (in tests) a frozen one that
/// moves only when advanced, corrected to agree with a reference clock.
/// Clones share one reading.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Added to the system's time; for a frozen clock, the whole time.
    offset_secs: Arc<AtomicI64>,
    /// Stands still between advances (tests that count whole seconds).
    frozen: bool,
    /// How far this machine's clock is off, in seconds: 0 in production,
    /// set by tests to play a machine whose clock is wrong ([`Clock::skewed`]).
    skew_secs: i64,
    /// Added to this machine's reading to agree with the reference clock
    /// (the database's), in ms; 0 until [`Clock::follow`] measures it.
    correction_ms: Arc<AtomicI64>,
}

fn system_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn system_secs() -> UnixSecs {
    system_ms().div_euclid(1000)
}

impl Clock {
    /// The system's time, as production uses it.
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
            ..Clock::default()
        }
    }

    /// Now, in whole seconds since the Unix epoch: what every deadline is
    /// compared with.
    pub fn now(&self) -> UnixSecs {
        let offset = self.offset_secs.load(Ordering::Acquire);
        let correction = self.correction_ms.load(Ordering::Acquire);
        if self.frozen {
            // Only the machine's error and its correction move a frozen
            // clock; they cancel out to within the measurement, rounded.
            offset + (self.skew_secs * 1000 + correction + 500).div_euclid(1000)
        } else {
            offset + (self.machine_ms() + correction).div_euclid(1000)
        }
    }

    /// What this machine's own clock reads, in ms since the epoch.
    pub fn machine_ms(&self) -> i64 {
        system_ms() + self.skew_secs * 1000
    }

    /// From now on, agrees with a reference clock that read `reference_ms`
    /// when this machine read `machine_ms` (the middle of the round trip
    /// that asked it).
    pub fn follow(&self, reference_ms: i64, machine_ms: i64) {
        self.correction_ms
            .store(reference_ms - machine_ms, Ordering::Release);
    }

    /// The same test time on a machine whose clock is `secs` off (ahead
    /// when positive), not yet corrected: another instance in a test.
    pub fn skewed(&self, secs: i64) -> Clock {
        Clock {
            offset_secs: self.offset_secs.clone(),
            frozen: self.frozen,
            skew_secs: secs,
            correction_ms: Arc::default(),
        }
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
    fn a_skewed_clock_agrees_once_it_follows_the_reference() {
        let clock = Clock::frozen();
        let ahead = clock.skewed(7);
        assert_eq!(ahead.now(), clock.now() + 7);
        // The reference (the database) reads the true time.
        let asked_at = ahead.machine_ms();
        ahead.follow(system_ms(), asked_at);
        assert_eq!(ahead.now(), clock.now());
        clock.advance(Duration::from_secs(60));
        assert_eq!(ahead.now(), clock.now(), "advances are shared");

        let running = Clock::system().skewed(-5);
        running.follow(system_ms(), running.machine_ms());
        assert!((running.now() - system_secs()).abs() <= 1);
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
