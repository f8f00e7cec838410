//! The tables both backends share, and what every layer that reads them
//! needs: their names, the statement that remembers why a session ended,
//! and the store's error for a database failure.

use tower_sessions::{session::Record, session_store};

/// The table holding session records, the same name on both backends so
/// that the sweep and the tests read one name.
pub const SESSIONS_TABLE: &str = "tower_sessions";

/// The statement that remembers why a session ended ($1 id, $2 reason, $3
/// when); also run inside the guard's ending transaction (`writes`).
pub const RECORD_ENDING: &str =
    "INSERT INTO session_endings (session_id, reason, ended_at) VALUES ($1, $2, $3) \
     ON CONFLICT (session_id) DO UPDATE SET reason = excluded.reason, ended_at = excluded.ended_at";

/// A database error as the session store reports it.
pub fn backend(err: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// A record from its stored bytes (the session store's own encoding).
pub fn decode(bytes: &[u8]) -> session_store::Result<Record> {
    rmp_serde::from_slice(bytes).map_err(|err| session_store::Error::Decode(err.to_string()))
}

/// A record's stored bytes.
pub fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    rmp_serde::to_vec(record).map_err(|err| session_store::Error::Encode(err.to_string()))
}
