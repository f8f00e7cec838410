//! Countdown arithmetic for the page, free of the DOM so it is unit-tested.
//!
//! A reading is what the server said (relative seconds) and when the page
//! heard it on its monotonic clock; time left is always recomputed from that
//! pair, never by decrementing a counter, so throttled timers and sleeping
//! laptops cannot make it drift.

/// Remaining seconds as the server reported them, and the page's monotonic
/// time (`performance.now()`, ms) when the answer arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub remaining_secs: i64,
    pub observed_at_ms: f64,
}

impl Reading {
    /// Whole seconds left at monotonic time `now_ms`, rounded up (a countdown
    /// shows 0:01 until the last second has passed), never negative.
    pub fn remaining_at(&self, now_ms: f64) -> i64 {
        let left_ms = self.remaining_secs as f64 * 1000.0 - (now_ms - self.observed_at_ms);
        (left_ms / 1000.0).ceil().max(0.0) as i64
    }
}

/// `m:ss`, as the warning shows it.
pub fn mmss(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// Screen readers hear the countdown only at these points, not every second.
const MILESTONES: [i64; 4] = [120, 60, 30, 10];

/// The announcement for the milestone `secs` has reached, if any. It stays
/// the same between milestones, so a polite live region speaks once each.
pub fn announcement(secs: i64) -> Option<String> {
    let reached = MILESTONES.iter().copied().filter(|m| secs <= *m).min()?;
    Some(match reached {
        m if m >= 120 => format!("Your session will expire in {} minutes.", m / 60),
        60 => "Your session will expire in 1 minute.".to_owned(),
        m => format!("Your session will expire in {m} seconds."),
    })
}

/// True when wall time moved differently from monotonic time by more than a
/// few seconds since the last look: the machine slept, or the clock was set.
pub fn clock_jumped(previous_offset_ms: f64, offset_ms: f64) -> bool {
    (offset_ms - previous_offset_ms).abs() > 3000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_is_recomputed_from_the_reading() {
        let r = Reading {
            remaining_secs: 120,
            observed_at_ms: 5_000.0,
        };
        assert_eq!(r.remaining_at(5_000.0), 120);
        assert_eq!(r.remaining_at(5_001.0), 120);
        assert_eq!(r.remaining_at(6_000.0), 119);
        // A tab throttled for a minute still knows exactly where it is.
        assert_eq!(r.remaining_at(65_000.0), 60);
        assert_eq!(r.remaining_at(500_000.0), 0);
    }

    #[test]
    fn formats_minutes_and_seconds() {
        assert_eq!(mmss(120), "2:00");
        assert_eq!(mmss(61), "1:01");
        assert_eq!(mmss(9), "0:09");
        assert_eq!(mmss(-3), "0:00");
    }

    #[test]
    fn announces_only_at_milestones() {
        assert_eq!(announcement(200), None);
        assert_eq!(
            announcement(120).as_deref(),
            Some("Your session will expire in 2 minutes.")
        );
        assert_eq!(announcement(95), announcement(61));
        assert_eq!(
            announcement(60).as_deref(),
            Some("Your session will expire in 1 minute.")
        );
        assert_eq!(
            announcement(29).as_deref(),
            Some("Your session will expire in 30 seconds.")
        );
        assert_eq!(
            announcement(3).as_deref(),
            Some("Your session will expire in 10 seconds.")
        );
    }

    #[test]
    fn notices_sleep_but_not_jitter() {
        assert!(!clock_jumped(1_000.0, 1_500.0));
        assert!(clock_jumped(1_000.0, 601_000.0));
    }
}
