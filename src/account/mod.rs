//! Where the user is signed in: the sessions page lists every live session
//! of the signed-in user and ends any other of them once the user has given
//! their password again (OWASP ASVS 3.3.4).
//!
//! The server functions are guarded like every other one. A session is
//! named by its handle (a hash of its id, `session::server::devices`), and every
//! handle a request names is looked up among the signed-in user's own
//! sessions only: another user's session cannot be seen or ended, and
//! answers the same 404 as one that never existed. A session ended here is
//! refused everywhere with the reason `revoked`.

use leptos::server;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::session::page::client::GuardClient;

mod components;

pub use components::SessionsPage;

/// One live session of the signed-in user, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    /// How the page names it to the server (never the session's id).
    pub handle: String,
    /// The browser and system, for example `Chrome 156 on Linux`.
    pub device: String,
    pub address: String,
    pub started_at: i64,
    pub last_activity: i64,
    /// The session this request came with.
    pub current: bool,
}

/// The user's live sessions, this one first, then the most recently active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionList {
    pub sessions: Vec<SessionRow>,
    /// The server's time when it listed them, which the times are relative to.
    pub now: i64,
}

/// The signed-in user's live sessions.
#[server(prefix = "/api", endpoint = "list_sessions", client = GuardClient)]
pub async fn list_sessions() -> Result<SessionList, AppError> {
    crate::session::server::guard::guarded(backend::list).await
}

/// Ends another of the user's sessions, named by its handle, once
/// `password` is theirs. Answers how many sessions it ended (1).
#[server(prefix = "/api", endpoint = "end_session", client = GuardClient)]
pub async fn end_session(session: String, password: String) -> Result<u64, AppError> {
    crate::session::server::guard::guarded(|live| backend::end_one(live, session, password)).await
}

/// Ends every session of the user except this one, once `password` is
/// theirs. Answers how many it ended.
#[server(prefix = "/api", endpoint = "end_other_sessions", client = GuardClient)]
pub async fn end_other_sessions(password: String) -> Result<u64, AppError> {
    crate::session::server::guard::guarded(|live| backend::end_others(live, password)).await
}

/// How long ago `then` was, at `now`, in words: "just now", "5 minutes ago".
pub fn ago(now: i64, then: i64) -> String {
    let secs = (now - then).max(0);
    let (count, unit) = match secs {
        0..=59 => return "just now".to_owned(),
        60..=3_599 => (secs / 60, "minute"),
        3_600..=86_399 => (secs / 3_600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural} ago")
}

#[cfg(feature = "ssr")]
mod backend {
    use super::*;
    use crate::{
        auth::confirm_password,
        session::server::{
            check::LiveSession,
            devices, guard,
            store::{Listed, SessionRecords},
        },
        state::AppState,
    };
    use tower_sessions::session::Id;

    pub async fn list(live: LiveSession) -> Result<SessionList, AppError> {
        let state = AppState::from_context()?;
        let Mine {
            current,
            listed,
            now,
        } = mine(&state, &live).await?;
        let mut sessions: Vec<SessionRow> = listed
            .into_iter()
            .map(|Listed { id, data }| SessionRow {
                handle: devices::handle(&id),
                device: data.device,
                address: data.address,
                started_at: data.started_at,
                last_activity: data.last_activity,
                current: Some(id) == current,
            })
            .collect();
        // Stable: the others stay most recently active first.
        sessions.sort_by_key(|row| !row.current);
        Ok(SessionList { sessions, now })
    }

    pub async fn end_one(
        live: LiveSession,
        handle: String,
        password: String,
    ) -> Result<u64, AppError> {
        if !devices::is_handle(&handle) {
            return Err(AppError::invalid_field(
                "session",
                "That is not a session's name as the sessions page gives it.",
            ));
        }
        let state = AppState::from_context()?;
        confirm_password(&state, &live.username, password).await?;
        let Mine {
            current, listed, ..
        } = mine(&state, &live).await?;
        let Some(target) = listed.iter().find(|s| devices::handle(&s.id) == handle) else {
            return Err(AppError::NotFound {
                reason: "That session has ended already, or it is not one of yours.".to_owned(),
            });
        };
        if Some(target.id) == current {
            return Err(AppError::bad_request(
                "That is the session you are using: sign out to end it.",
            ));
        }
        match end(&state, &live, &[target.id]).await? {
            // Ended meanwhile (by its own sign-out, a deadline, another tab).
            0 => Err(AppError::NotFound {
                reason: "That session has ended already.".to_owned(),
            }),
            ended => Ok(ended),
        }
    }

    pub async fn end_others(live: LiveSession, password: String) -> Result<u64, AppError> {
        let state = AppState::from_context()?;
        confirm_password(&state, &live.username, password).await?;
        let Mine {
            current, listed, ..
        } = mine(&state, &live).await?;
        let others: Vec<Id> = listed
            .iter()
            .map(|s| s.id)
            .filter(|id| Some(*id) != current)
            .collect();
        end(&state, &live, &others).await
    }

    async fn end(state: &AppState, live: &LiveSession, ids: &[Id]) -> Result<u64, AppError> {
        let ended = state
            .sessions
            .store
            .revoke(live.user_id, ids, state.clock.now())
            .await?;
        tracing::info!(
            username = live.username.as_str(),
            user_id = live.user_id,
            ended = ended.len(),
            "signed out other sessions"
        );
        Ok(ended.len() as u64)
    }

    /// The user's live sessions, and which of them this request came with.
    struct Mine {
        current: Option<Id>,
        listed: Vec<Listed>,
        now: i64,
    }

    async fn mine(state: &AppState, live: &LiveSession) -> Result<Mine, AppError> {
        let (session, _) = guard::request_session_from_context()?;
        let now = state.clock.now();
        Ok(Mine {
            current: session.id(),
            listed: state.sessions.store.sessions_of(live.user_id, now).await?,
            now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ago;

    #[test]
    fn times_read_as_words() {
        assert_eq!(ago(1_000, 1_000), "just now");
        assert_eq!(ago(1_000, 941), "just now");
        assert_eq!(ago(1_000, 940), "1 minute ago");
        assert_eq!(ago(10_000, 10_000 - 59 * 60), "59 minutes ago");
        assert_eq!(ago(10_000, 10_000 - 3_600), "1 hour ago");
        assert_eq!(ago(200_000, 200_000 - 2 * 86_400), "2 days ago");
        // A clock that moved back says "just now", never a negative time.
        assert_eq!(ago(1_000, 1_060), "just now");
    }
}
