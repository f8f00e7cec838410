//! What the server and the page agree on about a session: the reasons it
//! ends, the status report, and the headers every guarded answer carries.
//! Shared by both builds; no logic beyond reading and writing the names.

use serde::{Deserialize, Serialize};

/// Header on every guarded answer: whole seconds until the idle deadline.
pub const IDLE_REMAINING_HEADER: &str = "session-idle-remaining";
/// Header on a 401 from the guard, mirroring the JSON reason for the client.
pub const END_REASON_HEADER: &str = "session-end-reason";

/// Why there is no live session. On the wire, the text of [`EndReason::as_str`]
/// (read through [`EndReason::parse`]: smaller in the page's wasm than
/// serde's derived enum code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum EndReason {
    /// No activity for longer than the idle timeout.
    Idle,
    /// The session reached its maximum lifetime.
    Absolute,
    /// The user signed out (in this tab or another).
    SignedOut,
    /// The user signed this session out from another one (the sessions page).
    Revoked,
    /// No session at all: never signed in, or the record is long gone.
    Missing,
}

impl EndReason {
    /// The reason's name on the wire: in the `401` body, the
    /// `Session-End-Reason` header, the `_ended` cookie and `?reason=`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Absolute => "absolute",
            EndReason::SignedOut => "signed_out",
            EndReason::Revoked => "revoked",
            EndReason::Missing => "missing",
        }
    }

    /// The reason a wire name stands for; `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "idle" => Some(EndReason::Idle),
            "absolute" => Some(EndReason::Absolute),
            "signed_out" => Some(EndReason::SignedOut),
            "revoked" => Some(EndReason::Revoked),
            "missing" => Some(EndReason::Missing),
            _ => None,
        }
    }

    /// What the login page and the expiry dialog say.
    pub fn message(self) -> &'static str {
        match self {
            EndReason::Idle => {
                "Your session ended after a period of inactivity. Please sign in again."
            }
            EndReason::Absolute => "Your session reached its maximum length. Please sign in again.",
            EndReason::SignedOut => "You have signed out.",
            EndReason::Revoked => "You were signed out from another session.",
            EndReason::Missing => "Please sign in to continue.",
        }
    }
}

impl From<EndReason> for &'static str {
    fn from(reason: EndReason) -> Self {
        reason.as_str()
    }
}

impl TryFrom<String> for EndReason {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        EndReason::parse(&text).ok_or_else(|| format!("unknown reason `{text}`"))
    }
}

/// What the passive status query reports. Asking never extends the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionReport {
    /// Whether the request's session is live.
    pub signed_in: bool,
    /// Why not, when not signed in.
    pub reason: Option<EndReason>,
    /// Who is signed in, when someone is.
    pub username: Option<String>,
    /// Whole seconds until the idle deadline (0 when not signed in).
    pub idle_remaining_secs: u64,
    /// Whole seconds until the maximum lifetime ends (0 when not signed in).
    pub absolute_remaining_secs: u64,
    /// The idle timeout this session is held to.
    pub idle_timeout_secs: u64,
    /// How long before the idle deadline the page warns.
    pub warning_secs: u64,
    /// How often the page may send an activity keep-alive: the server's
    /// policy decides it, so the page holds no timing of its own. Absent
    /// (0) from a server older than this field, during a rolling deploy:
    /// the page then sends no keep-alive rather than failing to read the
    /// report.
    #[serde(default)]
    pub keep_alive_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_from_a_server_older_than_keep_alive_secs_still_reads() {
        let older = r#"{"signed_in":true,"reason":null,"username":"alice",
            "idle_remaining_secs":800,"absolute_remaining_secs":20000,
            "idle_timeout_secs":900,"warning_secs":120}"#;
        let report: SessionReport = serde_json::from_str(older).expect("reads");
        assert_eq!(report.keep_alive_secs, 0);
        assert_eq!(report.idle_remaining_secs, 800);
    }
}
