//! The session policy: every duration, limit and cookie attribute of a
//! session, in one place, and the rules as pure arithmetic on seconds: when
//! a session ends, why, and when its activity time is worth writing down.
//!
//! Kept free of I/O so every rule (the deadline to the second, absolute before
//! idle, the write slice) is tested directly, and the guard only applies it.
//! The page holds no timing of its own: it learns the warning and the
//! keep-alive cadence from every status report.

use std::time::Duration;

use time::OffsetDateTime;

use crate::{clock::UnixSecs, record::SessionData, EndReason};

/// How sessions end, as the operator sets it; all enforced on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Inactivity after which the session ends.
    pub idle_timeout: Duration,
    /// How long before the idle deadline the page warns.
    pub warning: Duration,
    /// The longest a session lives, whatever the activity.
    pub absolute_timeout: Duration,
    /// Whether the cookies are `Secure` (and the session cookie `__Host-`).
    pub cookie_secure: bool,
}

/// Whether a request counts as the user being active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// User-initiated work: listing, saving, extending, the page's keep-alive.
    User,
    /// Looking without touching: the status query, the login page.
    Passive,
}

/// Every rule of a session's life, in whole seconds, derived once from
/// [`SessionSettings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The idle timeout.
    pub idle: i64,
    /// The maximum lifetime.
    pub absolute: i64,
    /// `last_activity` is written at most once per slice; deadlines are precise
    /// to within one slice, in the user's favour never by more.
    pub slice: i64,
    /// How long before the end the page warns.
    pub warning: i64,
    /// How often the page may send an activity keep-alive.
    pub keep_alive: i64,
    /// How long the reason a session ended is remembered (12 hours): a user
    /// back from lunch, or the next morning, is told why rather than
    /// "please sign in".
    pub reason_retention: i64,
    /// How records are kept in memory between requests.
    pub memory: Memory,
    /// The session cookie's name and `Secure` flag.
    pub cookie: CookiePolicy,
}

/// How the server keeps records in memory between requests (`store::cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// How long an entry may be served without being read again: bounds how
    /// long a change made behind the server's back goes unseen.
    pub time_to_live: Duration,
    /// Entries at most; past it the least used go first.
    pub capacity: u64,
}

/// The session cookie. Its attributes are fixed: `HttpOnly`,
/// `SameSite=Lax`, `Path=/`, and no `Expires`/`Max-Age`, so it ends with
/// the browser while the server holds the real deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    /// `__Host-` prefixed when the cookie is `Secure`.
    pub name: &'static str,
    /// Whether the cookie (and the one naming why a session ended) is
    /// `Secure`.
    pub secure: bool,
}

impl CookiePolicy {
    fn new(secure: bool) -> Self {
        let name = if secure {
            "__Host-session_guard"
        } else {
            "session_guard"
        };
        CookiePolicy { name, secure }
    }

    /// The cookie naming why the last session ended (`ending_cookie`): the
    /// session cookie's name with `_ended` appended, so it keeps the
    /// `__Host-` prefix when the session cookie has it.
    pub fn ending_name(&self) -> String {
        format!("{}_ended", self.name)
    }
}

/// What the policy says of a session at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The session is live.
    Live {
        /// Seconds until the idle deadline (after this request's activity).
        idle_remaining: i64,
        /// Seconds until the maximum lifetime ends.
        absolute_remaining: i64,
        /// The `last_activity` to store, when this request should write it.
        touch: Option<UnixSecs>,
    },
    /// The session has ended, for this reason.
    Ended(EndReason),
}

impl Policy {
    /// The rules for these settings.
    pub fn new(settings: &SessionSettings) -> Self {
        let idle = settings.idle_timeout.as_secs() as i64;
        Policy {
            idle,
            absolute: settings.absolute_timeout.as_secs() as i64,
            slice: Self::write_slice(idle),
            warning: settings.warning.as_secs() as i64,
            keep_alive: Self::keep_alive_every(idle),
            reason_retention: 12 * 3600,
            memory: Memory {
                time_to_live: Duration::from_secs(10),
                capacity: 100_000,
            },
            cookie: CookiePolicy::new(settings.cookie_secure),
        }
    }

    /// The write slice for an idle timeout: 1/60 of it, at least a second.
    pub fn write_slice(idle: i64) -> i64 {
        (idle / 60).max(1)
    }

    /// The longest warning that never opens on a user who keeps working:
    /// a busy page sends a keep-alive once per keep-alive interval, and the
    /// answer it gets may be up to one write slice old, so between two
    /// keep-alives the time left never falls below `idle - interval -
    /// slice`; one second more keeps the warning clear of the rounding.
    pub fn longest_warning(idle: i64) -> i64 {
        idle - Self::keep_alive_every(idle) - Self::write_slice(idle) - 1
    }

    /// How often the page may send an activity keep-alive, in seconds: a
    /// fixed slice of the idle timeout (1/15, at least 5 s). The page learns
    /// it from every status report.
    pub fn keep_alive_every(idle: i64) -> i64 {
        (idle / 15).max(5)
    }

    /// When the session ends for inactivity if nothing more happens.
    pub fn idle_deadline(&self, data: &SessionData) -> UnixSecs {
        data.last_activity.saturating_add(self.idle)
    }

    /// When the session reaches its maximum lifetime.
    pub fn absolute_deadline(&self, data: &SessionData) -> UnixSecs {
        data.started_at.saturating_add(self.absolute)
    }

    /// The moment the session ends if nothing more happens.
    pub fn deadline(&self, data: &SessionData) -> UnixSecs {
        self.idle_deadline(data).min(self.absolute_deadline(data))
    }

    /// The expiry date a record with `data` gets: its deadline plus the time
    /// its reason is kept, so the store's own filter and the sweep agree
    /// with the guard.
    pub fn expiry_date(&self, data: &SessionData) -> Option<OffsetDateTime> {
        let keep_until = self.deadline(data).saturating_add(self.reason_retention);
        OffsetDateTime::from_unix_timestamp(keep_until).ok()
    }

    /// The oldest moment whose ending reason is still remembered at `now`.
    pub fn reasons_kept_since(&self, now: UnixSecs) -> UnixSecs {
        now - self.reason_retention
    }

    /// Whether a session is live at `now`, how long it has left, and
    /// whether this request's activity is worth writing down.
    ///
    /// ```
    /// use std::time::Duration;
    /// use leptos_session_guard::{
    ///     policy::{Activity, Policy, SessionSettings, Verdict},
    ///     record::SessionData,
    ///     EndReason,
    /// };
    ///
    /// let policy = Policy::new(&SessionSettings {
    ///     idle_timeout: Duration::from_secs(900),
    ///     warning: Duration::from_secs(120),
    ///     absolute_timeout: Duration::from_secs(28_800),
    ///     cookie_secure: true,
    /// });
    /// let session = SessionData {
    ///     user_id: 1,
    ///     username: "alice".into(),
    ///     started_at: 1_000,
    ///     last_activity: 1_000,
    ///     device: String::new(),
    ///     address: String::new(),
    /// };
    /// // A status check a second before the idle deadline: still live.
    /// assert!(matches!(
    ///     policy.verdict(&session, 1_899, Activity::Passive),
    ///     Verdict::Live { idle_remaining: 1, .. }
    /// ));
    /// // At the deadline it has ended, and says why.
    /// assert_eq!(
    ///     policy.verdict(&session, 1_900, Activity::User),
    ///     Verdict::Ended(EndReason::Idle)
    /// );
    /// ```
    pub fn verdict(&self, data: &SessionData, now: UnixSecs, activity: Activity) -> Verdict {
        let absolute_deadline = self.absolute_deadline(data);
        let idle_deadline = self.idle_deadline(data);
        if now >= absolute_deadline.min(idle_deadline) {
            // Whichever deadline passed first is the reason.
            let reason = if absolute_deadline <= idle_deadline {
                EndReason::Absolute
            } else {
                EndReason::Idle
            };
            return Verdict::Ended(reason);
        }
        let touch = (activity == Activity::User && now - data.last_activity >= self.slice)
            .then(|| now.max(data.last_activity));
        let last = touch.unwrap_or(data.last_activity);
        Verdict::Live {
            idle_remaining: last + self.idle - now,
            absolute_remaining: absolute_deadline - now,
            touch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn policy() -> Policy {
        Policy::new(&SessionSettings {
            idle_timeout: Duration::from_secs(900),
            warning: Duration::from_secs(120),
            absolute_timeout: Duration::from_secs(28_800),
            cookie_secure: false,
        })
    }

    fn data(started_at: i64, last_activity: i64) -> SessionData {
        SessionData {
            user_id: 1,
            username: "u".into(),
            started_at,
            last_activity,
            device: String::new(),
            address: String::new(),
        }
    }

    #[test]
    fn idle_ends_exactly_at_the_deadline() {
        let p = policy();
        let d = data(1000, 1000);
        assert_eq!(
            p.verdict(&d, 1899, Activity::Passive),
            Verdict::Live {
                idle_remaining: 1,
                absolute_remaining: 28_800 - 899,
                touch: None
            }
        );
        assert_eq!(
            p.verdict(&d, 1900, Activity::Passive),
            Verdict::Ended(EndReason::Idle)
        );
    }

    #[test]
    fn activity_is_written_once_per_slice_and_never_backwards() {
        let p = policy();
        assert_eq!(p.slice, 15);
        let d = data(1000, 1000);
        let within = p.verdict(&d, 1014, Activity::User);
        assert!(matches!(within, Verdict::Live { touch: None, .. }));
        let after = p.verdict(&d, 1015, Activity::User);
        assert!(matches!(
            after,
            Verdict::Live {
                touch: Some(1015),
                idle_remaining: 900,
                ..
            }
        ));
        let passive = p.verdict(&d, 1500, Activity::Passive);
        assert!(matches!(
            passive,
            Verdict::Live {
                touch: None,
                idle_remaining: 400,
                ..
            }
        ));
    }

    #[test]
    fn keep_alives_are_a_slice_of_the_idle_timeout() {
        assert_eq!(Policy::keep_alive_every(900), 60);
        assert_eq!(Policy::keep_alive_every(30), 5);
    }

    #[test]
    fn absolute_wins_when_it_comes_first() {
        let p = policy();
        let d = data(0, 28_700);
        assert_eq!(
            p.verdict(&d, 28_800, Activity::User),
            Verdict::Ended(EndReason::Absolute)
        );
        assert!(matches!(
            p.verdict(&d, 28_799, Activity::User),
            Verdict::Live { .. }
        ));
        assert_eq!(p.deadline(&d), 28_800);
    }
}
