//! Changes to sessions made anywhere on a shared PostgreSQL, heard by every
//! instance, so that each may answer loads from memory (`cache`) and still
//! refuse, on the very next request, a session another instance signed out.
//!
//! A trigger on the sessions table (`migrations/postgres/0002_*`) sends a
//! `NOTIFY` with the id of every record updated or deleted, whoever changed
//! it: another instance, the sweep, an operator's SQL. Hearing notifications
//! is not enough on its own: they arrive on their own schedule, and an
//! instance evicting them as they come served a signed-out session about
//! once in ten tries, a few milliseconds after the sign-out. So a load
//! answered from memory first waits for [`Changes::caught_up`]: one round
//! trip on the listening connection, after which PostgreSQL has delivered
//! every notification committed before it (it sends pending notifications
//! before `ReadyForQuery`), and they have been evicted. Loads waiting at the
//! same time share one round trip.
//!
//! What it promises:
//! - `caught_up() == true`: every change committed before the call is out of
//!   memory.
//! - `false` when that cannot be known (no listening connection): the
//!   caller reads the database. On reconnecting, memory is cleared first,
//!   since notifications sent meanwhile are lost.
//! - Never waits longer than [`db::ACQUIRE_TIMEOUT`] per round trip.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use sqlx::{postgres::PgListener, Executor, PgPool};
use tokio::sync::{mpsc, oneshot};
use tower_sessions::session::Id;

use super::cache::SessionCache;
use crate::db;

/// The channel the trigger notifies, with a record's id or `*` (truncated).
pub const CHANNEL: &str = "session_guard_sessions";

/// How often an idle instance drains its notifications and checks its
/// connection: while nobody asks, they wait in the socket.
const IDLE_DRAIN: Duration = Duration::from_secs(1);

/// Pause between attempts to listen again after the connection is lost.
const RETRY: Duration = Duration::from_secs(1);

type Waiter = oneshot::Sender<bool>;

/// A handle on the task hearing changes; clones share it. The task ends
/// when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Changes {
    waiters: mpsc::UnboundedSender<Waiter>,
    listening: Arc<AtomicBool>,
    round_trips: Arc<AtomicU64>,
}

impl Changes {
    /// Starts hearing changes to sessions on `pool`, evicting them from
    /// `cache`. Needs a Tokio runtime.
    pub fn hear(pool: PgPool, cache: SessionCache) -> Self {
        let (waiters, queue) = mpsc::unbounded_channel();
        let listening = Arc::new(AtomicBool::new(false));
        let round_trips = Arc::new(AtomicU64::new(0));
        tokio::spawn(run(
            pool,
            cache,
            queue,
            listening.clone(),
            round_trips.clone(),
        ));
        Changes {
            waiters,
            listening,
            round_trips,
        }
    }

    /// Round trips loads waited for since start-up (the idle drain not
    /// counted): what serving from memory costs PostgreSQL.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Whether memory holds no record changed before this call; waits for
    /// one round trip to PostgreSQL. `false`: not known, read the database.
    pub async fn caught_up(&self) -> bool {
        if !self.listening.load(Ordering::Acquire) {
            return false;
        }
        let (waiter, answer) = oneshot::channel();
        if self.waiters.send(waiter).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

async fn run(
    pool: PgPool,
    cache: SessionCache,
    mut queue: mpsc::UnboundedReceiver<Waiter>,
    listening: Arc<AtomicBool>,
    round_trips: Arc<AtomicU64>,
) {
    let mut listener: Option<PgListener> = None;
    loop {
        if queue.is_closed() {
            return;
        }
        let Some(connected) = listener.as_mut() else {
            match tokio::time::timeout(db::ACQUIRE_TIMEOUT, listen(&pool)).await {
                Ok(Ok(connected)) => {
                    // Whatever changed while nobody listened is unknown.
                    cache.clear();
                    listener = Some(connected);
                    listening.store(true, Ordering::Release);
                    tracing::debug!("hearing changes to sessions");
                }
                failed => {
                    let why = match failed {
                        Ok(Err(err)) => err.to_string(),
                        _ => "timed out".to_owned(),
                    };
                    tracing::warn!(error = %why, "cannot hear changes to sessions; reading them from the database");
                    answer_all(&mut queue, Vec::new(), false);
                    tokio::time::sleep(RETRY).await;
                }
            }
            continue;
        };
        // The next load to ask, or a quiet second.
        let first = match tokio::time::timeout(IDLE_DRAIN, queue.recv()).await {
            Ok(Some(waiter)) => vec![waiter],
            Ok(None) => return,
            Err(_) => Vec::new(),
        };
        // Every load queued by now asked before the round trip below starts,
        // so its answer covers them all.
        let mut waiters = first;
        while let Ok(waiter) = queue.try_recv() {
            waiters.push(waiter);
        }
        if !waiters.is_empty() {
            round_trips.fetch_add(1, Ordering::Relaxed);
        }
        let caught_up = round_trip(connected, &cache).await;
        if !caught_up {
            listening.store(false, Ordering::Release);
            listener = None;
            tracing::warn!("lost the connection hearing changes to sessions");
        }
        answer_all(&mut queue, waiters, caught_up);
    }
}

async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// One query on the listening connection, then every notification it
/// brought evicted. False if the connection failed: it must be replaced.
async fn round_trip(listener: &mut PgListener, cache: &SessionCache) -> bool {
    // The empty query: nothing to parse or plan, and still answered with
    // `ReadyForQuery`, before which PostgreSQL sends what is pending.
    let done = tokio::time::timeout(db::ACQUIRE_TIMEOUT, (&mut *listener).execute("")).await;
    if !matches!(done, Ok(Ok(_))) {
        return false;
    }
    while let Some(notification) = listener.next_buffered() {
        match notification.payload().parse::<Id>() {
            Ok(id) => cache.evict(&id),
            // `*` (the table was truncated) or anything unexpected.
            Err(_) => cache.clear(),
        }
    }
    true
}

/// Answers `waiters`, and when `answer` is false, every load still queued.
fn answer_all(queue: &mut mpsc::UnboundedReceiver<Waiter>, mut waiters: Vec<Waiter>, answer: bool) {
    if !answer {
        while let Ok(waiter) = queue.try_recv() {
            waiters.push(waiter);
        }
    }
    for waiter in waiters {
        // A load that gave up waiting no longer listens.
        let _ = waiter.send(answer);
    }
}
