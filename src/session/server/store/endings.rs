//! Why sessions ended, remembered for the policy's retention, so a user
//! coming back is told "inactivity" rather than "please sign in"; and the
//! sweep that forgets ended sessions and old reasons.

use time::OffsetDateTime;

use super::schema::{RECORD_ENDING, SESSIONS_TABLE};
use crate::{
    clock::UnixSecs,
    db::{Database, Pool, SessionPool},
    session::{server::policy::Policy, EndReason},
};

/// Remembers why the session `id` ended.
pub async fn record_ending(
    pool: &Pool,
    id: &str,
    reason: EndReason,
    now: UnixSecs,
) -> sqlx::Result<()> {
    sqlx::query(RECORD_ENDING)
        .bind(id)
        .bind(reason.as_str())
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Why the session `id` ended, if that is still remembered.
pub async fn ending_reason(
    pool: &Pool,
    policy: &Policy,
    id: &str,
    now: UnixSecs,
) -> sqlx::Result<Option<EndReason>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT reason FROM session_endings WHERE session_id = $1 AND ended_at >= $2",
    )
    .bind(id)
    .bind(policy.reasons_kept_since(now))
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(reason,)| EndReason::parse(&reason)))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub sessions: u64,
    pub endings: u64,
}

/// Deletes session records past their deadline (and retention) and reasons
/// older than the retention.
///
/// Expiry dates are compared on the session store's own pool: each backend
/// stores them in its own date type, which the portable pool cannot bind.
pub async fn sweep(db: &Database, policy: &Policy, now: UnixSecs) -> sqlx::Result<Swept> {
    let now_date = OffsetDateTime::from_unix_timestamp(now).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let delete = format!("DELETE FROM {SESSIONS_TABLE} WHERE expiry_date < $1");
    let sessions = match &db.sessions {
        SessionPool::Sqlite(pool) => sqlx::query(&delete)
            .bind(now_date)
            .execute(pool)
            .await?
            .rows_affected(),
        SessionPool::Postgres(pool) => sqlx::query(&delete)
            .bind(now_date)
            .execute(pool)
            .await?
            .rows_affected(),
    };
    let endings = sqlx::query("DELETE FROM session_endings WHERE ended_at < $1")
        .bind(policy.reasons_kept_since(now))
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(Swept { sessions, endings })
}
