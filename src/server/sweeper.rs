//! The work a server does every minute, beside the requests.

use std::time::Duration;

use crate::{db, state::AppState};

/// Deletes ended sessions and old reasons every minute, gives older
/// session records their user's id, forgets sign-in counts that have
/// refilled, and measures the database's clock again (PostgreSQL: see
/// `clock`).
pub fn spawn_sweeper(state: &AppState) {
    let db = state.db.clone();
    let clock = state.clock.clone();
    let throttle = state.throttle.clone();
    let sessions = state.sessions.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(err) = throttle.prune().await {
                tracing::warn!(error = %err, "cannot prune sign-in counts");
            }
            if let Err(err) = db::follow_database_clock(&db, &clock).await {
                tracing::warn!(error = %err, "cannot read the database's clock");
            }
            // Records from an older version, still running during a
            // rolling deploy, name no user until this fills it in.
            match sessions.store.sql().fill_in_owners().await {
                Ok(0) => {}
                Ok(filled) => tracing::info!(sessions = filled, "filled in sessions' users"),
                Err(err) => tracing::warn!(error = %err, "cannot fill in sessions' users"),
            }
            match sessions.sweep().await {
                Ok(swept) if swept.sessions + swept.endings > 0 => {
                    tracing::info!(
                        sessions = swept.sessions,
                        reasons = swept.endings,
                        "swept ended sessions"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "session sweep failed"),
            }
        }
    });
}
