//! The guard's writes to a session record, made inside the request, each one
//! statement that applies only to the record exactly as it was read.
//!
//! tower-sessions writes a changed session after the handler has answered,
//! with an upsert. Two races followed from that: a sign-out between the
//! check and the write had the record inserted again (and its cookie set
//! again), and a "Stay signed in" answered 200 while a concurrent request
//! was ending the session. A failed write also became a bare 500 from the
//! session layer, after the answer had been decided.
//!
//! So the guard writes here, before the handler runs, and every write is a
//! compare-and-set on the record's stored bytes:
//! - [`touch`] moves `last_activity` forward with an `UPDATE ... WHERE id
//!   AND data = <what was read>`: it never inserts, never moves the time
//!   back (it is only issued over a stored time older than its own), and a
//!   record gone meanwhile answers [`Touched::Gone`].
//! - [`end_if_due`] deletes a record only while it is still past its
//!   deadline: `DELETE ... WHERE id AND data = <what was read>`, with the
//!   reason recorded in the same transaction. A record renewed meanwhile is
//!   read again and found alive.
//!
//! [`create`] inserts a new record with its user's id in a column of its
//! own, for the sessions page (`owners`); it never replaces one.
//!
//! Errors are the store's (`session_store::Error`), which the guard answers
//! as `503 {"error":"unavailable"}`.
//!
//! A [`RaceWindow`] lets a test hold a request between its read and its
//! write, to open a race on purpose (test-hooks builds only).

use tower_sessions::{
    session::{Id, Record},
    session_store,
};

use super::{
    race::{RaceWindow, Step},
    schema::{backend, decode, encode, RECORD_ENDING, SESSIONS_TABLE},
};
use crate::{
    clock::UnixSecs,
    db::{on_session_pool, SessionPool},
    session::{
        server::{
            policy::{Activity, Policy, Verdict},
            record::{session_data, SessionData, SESSION_KEY},
        },
        EndReason,
    },
};

/// How often a write retries after finding the record changed under it.
/// Each retry means another request wrote in between; more than a handful
/// in a row would be a bug, not load.
const MAX_ATTEMPTS: usize = 8;

/// What [`touch`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touched {
    /// `last_activity` is now the time asked for.
    Written,
    /// The record already held a time within one write slice of it (or
    /// later): nothing written; here is that time.
    AlreadyLater(UnixSecs),
    /// No record: the session ended meanwhile. Nothing written.
    Gone,
}

/// What [`end_if_due`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Deleted, and this reason recorded with it.
    Ended(EndReason),
    /// Still alive on what the database holds (renewed meanwhile, or memory
    /// was behind): the fresh data.
    Live(SessionData),
    /// No record: someone else ended it.
    Gone,
}

/// Moves the record's `last_activity` forward to `at`, unless what is
/// stored is already within one write slice of it.
pub async fn touch(
    pool: &SessionPool,
    policy: &Policy,
    window: &RaceWindow,
    id: &Id,
    at: UnixSecs,
) -> session_store::Result<Touched> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(stored) = read(pool, id).await? else {
            return Ok(Touched::Gone);
        };
        let mut record = decode(&stored)?;
        let Some(mut data) = session_data(&record) else {
            return Ok(Touched::Gone);
        };
        // Another request wrote within this slice (or later): one write
        // per slice, whatever this request's copy said.
        if at - data.last_activity < policy.slice {
            return Ok(Touched::AlreadyLater(data.last_activity));
        }
        data.last_activity = at;
        put(&mut record, &data, policy)?;
        window.pass(Step::Touch).await;
        if replace(pool, id, &stored, &record).await? {
            return Ok(Touched::Written);
        }
    }
    Err(kept_changing(id))
}

/// Ends the session if, on what the database holds now, it is past a
/// deadline at `now`.
pub async fn end_if_due(
    pool: &SessionPool,
    policy: &Policy,
    window: &RaceWindow,
    id: &Id,
    now: UnixSecs,
) -> session_store::Result<Ending> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(stored) = read(pool, id).await? else {
            return Ok(Ending::Gone);
        };
        let data = session_data(&decode(&stored)?);
        let reason = match &data {
            Some(data) => match policy.verdict(data, now, Activity::Passive) {
                Verdict::Live { .. } => return Ok(Ending::Live(data.clone())),
                Verdict::Ended(reason) => reason,
            },
            // A record without our data opens nothing: remove it.
            None => EndReason::Missing,
        };
        window.pass(Step::End).await;
        if delete_recording(pool, id, &stored, reason, now).await? {
            return Ok(Ending::Ended(reason));
        }
    }
    Err(kept_changing(id))
}

/// Writes `record` over the stored one when the data differs, never
/// inserting and never moving `last_activity` back: the session layer's
/// save, for what the guard did not already write.
pub async fn save(
    pool: &SessionPool,
    policy: &Policy,
    record: &Record,
) -> session_store::Result<bool> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(stored) = read(pool, &record.id).await? else {
            tracing::debug!("not saving a session that ended meanwhile");
            return Ok(false);
        };
        let current = decode(&stored)?;
        if current.data == record.data {
            return Ok(false);
        }
        let mut merged = record.clone();
        if let Some(mut mine) = session_data(record) {
            if let Some(theirs) = session_data(&current) {
                mine.last_activity = mine.last_activity.max(theirs.last_activity);
            }
            put(&mut merged, &mine, policy)?;
        }
        if replace(pool, &record.id, &stored, &merged).await? {
            return Ok(true);
        }
    }
    Err(kept_changing(&record.id))
}

/// Stores a new record, its user's id in the column the sessions page
/// finds it by (`owners`); a record whose id is taken gets a new one, as
/// the session store's own `create` does.
pub async fn create(pool: &SessionPool, record: &mut Record) -> session_store::Result<()> {
    let sql = format!(
        "INSERT INTO {SESSIONS_TABLE} (id, data, expiry_date, user_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (id) DO NOTHING"
    );
    let user_id = session_data(record).map(|data| data.user_id);
    for _ in 0..MAX_ATTEMPTS {
        let data = encode(record)?;
        let inserted = on_session_pool!(pool, p => sqlx::query(&sql)
            .bind(record.id.to_string())
            .bind(data)
            .bind(record.expiry_date)
            .bind(user_id)
            .execute(p)
            .await
            .map_err(backend)?
            .rows_affected());
        if inserted == 1 {
            return Ok(());
        }
        record.id = Id::default();
    }
    Err(kept_changing(&record.id))
}

fn put(record: &mut Record, data: &SessionData, policy: &Policy) -> session_store::Result<()> {
    let value =
        serde_json::to_value(data).map_err(|err| session_store::Error::Encode(err.to_string()))?;
    record.data.insert(SESSION_KEY.to_owned(), value);
    if let Some(date) = policy.expiry_date(data) {
        record.expiry_date = date;
    }
    Ok(())
}

/// Gives up on a write. The log names the session by its handle, as the
/// sessions page does: the id is the cookie's value, and a log line holding
/// it would let whoever reads the log take the session over.
fn kept_changing(id: &Id) -> session_store::Error {
    tracing::warn!(
        session = %crate::session::server::devices::handle(id),
        "session record kept changing under the write"
    );
    session_store::Error::Backend("session record kept changing".to_owned())
}

/// The record's stored bytes, whatever its expiry date: the policy decides.
async fn read(pool: &SessionPool, id: &Id) -> session_store::Result<Option<Vec<u8>>> {
    let sql = format!("SELECT data FROM {SESSIONS_TABLE} WHERE id = $1");
    let row: Option<(Vec<u8>,)> = on_session_pool!(pool, p => sqlx::query_as(&sql)
        .bind(id.to_string())
        .fetch_optional(p)
        .await
        .map_err(backend)?);
    Ok(row.map(|(data,)| data))
}

/// Replaces the record if it still holds `stored`; answers whether it did.
async fn replace(
    pool: &SessionPool,
    id: &Id,
    stored: &[u8],
    record: &Record,
) -> session_store::Result<bool> {
    let sql = format!(
        "UPDATE {SESSIONS_TABLE} SET data = $1, expiry_date = $2 WHERE id = $3 AND data = $4"
    );
    let data = encode(record)?;
    let updated = on_session_pool!(pool, p => sqlx::query(&sql)
        .bind(data)
        .bind(record.expiry_date)
        .bind(id.to_string())
        .bind(stored)
        .execute(p)
        .await
        .map_err(backend)?
        .rows_affected());
    Ok(updated == 1)
}

/// Deletes the record if it still holds `stored`, recording `reason` in the
/// same transaction; answers whether it did.
async fn delete_recording(
    pool: &SessionPool,
    id: &Id,
    stored: &[u8],
    reason: EndReason,
    now: UnixSecs,
) -> session_store::Result<bool> {
    let delete = format!("DELETE FROM {SESSIONS_TABLE} WHERE id = $1 AND data = $2");
    on_session_pool!(pool, p => {
        let mut tx = p.begin().await.map_err(backend)?;
        let deleted = sqlx::query(&delete)
            .bind(id.to_string())
            .bind(stored)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if deleted == 1 {
            sqlx::query(RECORD_ENDING)
                .bind(id.to_string())
                .bind(reason.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(deleted == 1)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Everything logged while `run` runs on this thread.
    fn logged(run: impl FnOnce()) -> String {
        let text = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = text.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        let bytes = text.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct LogSink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for LogSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_that_gives_up_names_the_session_by_its_handle_never_its_id() {
        let id = Id::default();
        let log = logged(|| {
            kept_changing(&id);
        });
        assert!(log.contains("kept changing"), "{log}");
        assert!(
            log.contains(&crate::session::server::devices::handle(&id)),
            "{log}"
        );
        assert!(!log.contains(&id.to_string()), "{log}");
    }
}
