//! What the server keeps in each session record, under one key of the
//! tower-sessions record, and how to read it back.

use serde::{Deserialize, Serialize};
use tower_sessions::session::Record;

use crate::clock::UnixSecs;

/// The key of our data in the tower-sessions record.
pub const SESSION_KEY: &str = "session_guard";

/// What the server keeps in each session (under [`SESSION_KEY`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionData {
    /// The signed-in user's id, as the app knows it.
    pub user_id: i64,
    /// The signed-in user's name, as the app knows it.
    pub username: String,
    /// When the session began: the start of its maximum lifetime.
    pub started_at: UnixSecs,
    /// The last activity written down (at most once per write slice).
    pub last_activity: UnixSecs,
    /// Where it was signed in, for the user's list of sessions (`devices`).
    /// Empty in records written before the list existed.
    #[serde(default)]
    pub device: String,
    /// The client's address at sign-in, for the same list.
    #[serde(default)]
    pub address: String,
}

/// Our data in a record, if it holds any.
pub fn session_data(record: &Record) -> Option<SessionData> {
    record
        .data
        .get(SESSION_KEY)
        .and_then(|value| serde_json::from_value(value.clone()).ok())
}
