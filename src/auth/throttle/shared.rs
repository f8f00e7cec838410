//! The buckets in PostgreSQL (`migrations/postgres/0004_*`), so that every
//! instance behind a balancer spends from the same allowance: the 21st
//! failure from one address is refused wherever it lands. Times are the
//! database's clock, which every instance shares.

use std::time::Duration;

use sqlx::PgPool;

use super::{
    gcra::{spend_all, Millis},
    keys::Key,
};

const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/// Spends from every bucket of `keys` or from none, in one transaction
/// holding their rows, so concurrent attempts on any instance are
/// counted one after another.
pub(super) async fn spend(pool: &PgPool, keys: &[Key]) -> sqlx::Result<Result<(), Duration>> {
    let mut tx = pool.begin().await?;
    let rows = lock(&mut tx, keys).await?;
    let now = rows.first().map_or(0, |(_, _, now)| *now);
    let tat_of = |key: &Key| {
        let name = key.shared_name();
        rows.iter()
            .find(|(row, _, _)| *row == name)
            .map(|(_, tat, _)| *tat)
    };
    let spent = match spend_all(keys, tat_of, now) {
        Ok(spent) => spent,
        Err(wait) => return Ok(Err(wait)),
    };
    set(&mut tx, keys, &spent).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Gives one attempt back to every bucket of `keys`, holding their rows
/// in the same order as [`spend`].
pub(super) async fn refund(pool: &PgPool, keys: &[Key]) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    let rows = lock(&mut tx, keys).await?;
    let back: Vec<Millis> = keys
        .iter()
        .map(|key| {
            let name = key.shared_name();
            let tat = rows
                .iter()
                .find(|(row, _, _)| *row == name)
                .map_or(0, |(_, tat, _)| *tat);
            tat - key.limit().refill_ms()
        })
        .collect();
    set(&mut tx, keys, &back).await?;
    tx.commit().await
}

/// Creates the rows of `keys` that are missing and locks them all, in
/// key order (so that two attempts never wait for each other), in one
/// statement: a row the sweeper would delete between a create and a
/// lock cannot be lost. Answers each row's name and time, and now.
async fn lock(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    keys: &[Key],
) -> sqlx::Result<Vec<(String, Millis, Millis)>> {
    let names: Vec<String> = keys.iter().map(Key::shared_name).collect();
    sqlx::query_as(&format!(
        "INSERT INTO sign_in_buckets (key, tat_ms) \
         SELECT name, 0 FROM unnest($1::text[]) AS name ORDER BY name \
         ON CONFLICT (key) DO UPDATE SET tat_ms = sign_in_buckets.tat_ms \
         RETURNING key, tat_ms, {NOW_MS}"
    ))
    .bind(&names)
    .fetch_all(&mut **tx)
    .await
}

/// Writes the buckets' new times (their rows are locked).
async fn set(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    keys: &[Key],
    tats: &[Millis],
) -> sqlx::Result<()> {
    let names: Vec<String> = keys.iter().map(Key::shared_name).collect();
    sqlx::query(
        "UPDATE sign_in_buckets AS b SET tat_ms = v.tat \
         FROM unnest($1::text[], $2::bigint[]) AS v(key, tat) WHERE b.key = v.key",
    )
    .bind(&names)
    .bind(tats)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Forgets buckets that have refilled completely.
pub(super) async fn prune(pool: &PgPool) -> sqlx::Result<()> {
    // Rows an attempt holds now are skipped: never a wait, nor a
    // deadlock with it; the next minute takes them.
    sqlx::query(&format!(
        "DELETE FROM sign_in_buckets WHERE key IN \
         (SELECT key FROM sign_in_buckets WHERE tat_ms <= {NOW_MS} FOR UPDATE SKIP LOCKED)"
    ))
    .execute(pool)
    .await?;
    Ok(())
}
