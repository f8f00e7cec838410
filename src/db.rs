//! The database: SQLite (embedded, the default) or PostgreSQL (several
//! instances on one database), chosen by the scheme of `DATABASE_URL` and
//! migrated at start-up.
//!
//! The application's own queries go through one [`Pool`] (sqlx's `Any`
//! driver) and are written once: portable SQL with `$1`-style parameters,
//! which both SQLite and PostgreSQL read. The session store needs the concrete
//! pool of its backend (tower-sessions-sqlx-store has one store per
//! database), which [`SessionPool`] carries.
//!
//! Every wait on the database is bounded ([`ACQUIRE_TIMEOUT`]): when it is
//! unreachable, a request fails after a few seconds with a 503 instead of
//! hanging, and the pools reconnect by themselves when it returns.

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::PgConnectOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
    Connection, Executor, PgPool, SqlitePool,
};

use crate::clock::Clock;

pub type Pool = sqlx::AnyPool;

/// How long a request waits for a database connection before it is told
/// the service is unavailable.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

const MAX_CONNECTIONS: u32 = 8;

/// A pooled connection idle for longer than this is checked before use
/// (HikariCP's default bypass window).
const PING_AFTER_IDLE: Duration = Duration::from_millis(500);

/// Every pool here, of either backend, is bounded the same way.
///
/// sqlx checks a connection with a round trip when it goes back to the pool
/// and, by default, again when it is taken out, so each PostgreSQL query
/// cost three round trips. A connection handed back less than
/// [`PING_AFTER_IDLE`] ago was just checked and is used as it is; one idle
/// for longer is checked first. The price: when the database ends
/// connections (a restart), a request that gets one of the few used in the
/// last half second is answered 503 and the connection is dropped.
fn bounded<DB: sqlx::Database>() -> sqlx::pool::PoolOptions<DB> {
    sqlx::pool::PoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn: &mut DB::Connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Which database holds the data, with the pool its session store needs.
#[derive(Clone, Debug)]
pub enum SessionPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to whichever backend's pool `$pool` is: the
/// session records' columns have a type of their own on each, which the
/// portable pool cannot bind.
macro_rules! on_session_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::db::SessionPool::Sqlite($p) => $body,
            $crate::db::SessionPool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_session_pool;

/// A clock reading whose round trip took longer is not used: its error
/// (half the round trip) would approach the deadlines' one-second grain.
const MAX_CLOCK_ROUND_TRIP_MS: i64 = 200;

/// Has `clock` follow the database's clock (PostgreSQL, where several
/// instances must agree on "now"; see `clock`). On SQLite nothing to do.
pub async fn follow_database_clock(db: &Database, clock: &Clock) -> sqlx::Result<()> {
    let SessionPool::Postgres(pool) = &db.sessions else {
        return Ok(());
    };
    // The round trip alone is timed, not the wait for a connection.
    let mut conn = pool.acquire().await?;
    let before = clock.machine_ms();
    let (reference_ms,): (i64,) =
        sqlx::query_as("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
            .fetch_one(&mut *conn)
            .await?;
    let after = clock.machine_ms();
    // A reading that took long says little: keep the previous one.
    if after - before > MAX_CLOCK_ROUND_TRIP_MS {
        tracing::debug!(ms = after - before, "slow clock reading ignored");
        return Ok(());
    }
    clock.follow(reference_ms, before + (after - before) / 2);
    Ok(())
}

/// The open, migrated database.
#[derive(Clone, Debug)]
pub struct Database {
    pub pool: Pool,
    pub sessions: SessionPool,
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL: {0}")]
    Url(sqlx::Error),
    #[error("DATABASE_URL: {:?} is neither a sqlite:// nor a postgres:// URL", redacted(.0))]
    Scheme(String),
    #[error("cannot create the database directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the database: {0}")]
    Connect(sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "another session-guard server is already serving {path}: one server per SQLite file \
         (each keeps sessions in memory); run several instances on PostgreSQL"
    )]
    InUse { path: String },
    #[error("cannot lock the database file {path}: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
}

/// One server per SQLite file. A server keeps session records in memory
/// (`session::server::store`) and, on SQLite, has no way to hear another process
/// change them, so a second server on the same file is refused at start-up
/// instead of serving a signed-out session from memory. Held while the
/// server runs; the operating system releases it when the process ends.
/// The command-line tools (`add-user`, `seed-demo`) do not take it: they
/// never touch sessions.
#[derive(Debug)]
pub struct ServingLock {
    /// Locked while open; closing it unlocks.
    _file: Option<std::fs::File>,
}

impl ServingLock {
    pub fn acquire(url: &str) -> Result<Self, DbError> {
        if !is_sqlite(url) {
            return Ok(ServingLock { _file: None });
        }
        let options = SqliteConnectOptions::from_str(url).map_err(DbError::Url)?;
        let path = options.get_filename();
        if path.as_os_str() == ":memory:" {
            return Ok(ServingLock { _file: None });
        }
        create_parent_dir(path)?;
        let shown = path.display().to_string();
        let lock_error = |source| DbError::Lock {
            path: shown.clone(),
            source,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(lock_error)?;
        // flock(2) on Linux: separate from the POSIX locks SQLite itself
        // takes, so it does not get in SQLite's way.
        match file.try_lock() {
            Ok(()) => Ok(ServingLock { _file: Some(file) }),
            Err(std::fs::TryLockError::WouldBlock) => Err(DbError::InUse { path: shown }),
            Err(std::fs::TryLockError::Error(source)) => Err(lock_error(source)),
        }
    }
}

fn create_parent_dir(path: &std::path::Path) -> Result<(), DbError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Dir {
                path: dir.display().to_string(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// `url` with its password replaced by `***`, for messages and logs:
/// `postgres://app:s3cret@db/x` becomes `postgres://app:***@db/x`.
/// Errs on the side of hiding: everything before the last `@` after the
/// user name counts as the password (a raw `/` or `?` in a password breaks
/// the URL, not the redaction), and so does a `password=` parameter.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = match rest.rsplit_once('@') {
        Some((credentials, after)) => match credentials.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{after}"),
            None => rest.to_owned(),
        },
        None => rest.to_owned(),
    };
    let rest = match rest.split_once("password=") {
        Some((before, after)) => {
            let tail = after.find('&').map_or("", |at| &after[at..]);
            format!("{before}password=***{tail}")
        }
        None => rest,
    };
    format!("{scheme}://{rest}")
}

/// The backend a `DATABASE_URL` names, judged by its scheme alone.
pub fn is_supported_url(url: &str) -> bool {
    is_sqlite(url) || is_postgres(url)
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens (creating it if it is a missing SQLite file) and migrates the
/// database at `url`.
pub async fn connect(url: &str) -> Result<Database, DbError> {
    sqlx::any::install_default_drivers();
    if is_sqlite(url) {
        connect_sqlite(url).await
    } else if is_postgres(url) {
        connect_postgres(url).await
    } else {
        Err(DbError::Scheme(url.to_owned()))
    }
}

async fn connect_sqlite(url: &str) -> Result<Database, DbError> {
    let options = SqliteConnectOptions::from_str(url)
        .map_err(DbError::Url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    create_parent_dir(options.get_filename())?;
    // This pool creates the file and switches it to WAL (which the file
    // keeps), so the portable pool below opens it as it is.
    let sessions = bounded::<sqlx::Sqlite>()
        .connect_with(options)
        .await
        .map_err(DbError::Connect)?;
    sqlx::migrate!("./migrations/sqlite").run(&sessions).await?;
    let pool = bounded::<sqlx::Any>()
        .after_connect(|conn, _| {
            Box::pin(async move {
                // Per connection, as above: WAL makes NORMAL durable enough
                // and much faster than FULL.
                conn.execute("PRAGMA synchronous = NORMAL")
                    .await
                    .map(|_| ())
            })
        })
        .connect(url)
        .await
        .map_err(DbError::Connect)?;
    Ok(Database {
        pool,
        sessions: SessionPool::Sqlite(sessions),
    })
}

/// Connections for the sign-in throttle's shared counts, at most.
const THROTTLE_CONNECTIONS: u32 = 2;

/// A small pool of its own for the sign-in throttle's shared counts
/// (PostgreSQL, `auth::throttle`): sign-ins queued on one client's bucket
/// then wait for these, never for the connections every signed-in request
/// needs. Connects when first used.
pub fn throttle_pool(url: &str) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url).map_err(DbError::Url)?;
    Ok(bounded::<sqlx::Postgres>()
        .max_connections(THROTTLE_CONNECTIONS)
        .connect_lazy_with(options))
}

async fn connect_postgres(url: &str) -> Result<Database, DbError> {
    let options = PgConnectOptions::from_str(url).map_err(DbError::Url)?;
    let sessions = bounded::<sqlx::Postgres>()
        .connect_with(options)
        .await
        .map_err(DbError::Connect)?;
    // sqlx holds an advisory lock while migrating, so instances starting
    // together migrate once.
    sqlx::migrate!("./migrations/postgres")
        .run(&sessions)
        .await?;
    let pool = bounded::<sqlx::Any>()
        .connect(url)
        .await
        .map_err(DbError::Connect)?;
    Ok(Database {
        pool,
        sessions: SessionPool::Postgres(sessions),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redacted("postgres://app:s3cret@db:5432/x?sslmode=require"),
            "postgres://app:***@db:5432/x?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://app:p@ss@db/x"),
            "postgres://app:***@db/x"
        );
        assert_eq!(redacted("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(
            redacted("postgres://app:pa/ss?w#rd@db/x"),
            "postgres://app:***@db/x"
        );
        assert_eq!(
            redacted("postgres://db/x?user=app&password=s3cret&sslmode=require"),
            "postgres://db/x?user=app&password=***&sslmode=require"
        );
        assert_eq!(redacted("sqlite://data/a.db"), "sqlite://data/a.db");
        assert_eq!(redacted("not a url"), "not a url");
    }

    #[tokio::test]
    async fn malformed_urls_are_reported_without_their_password() {
        for url in [
            "postgres://app:hunter2@db:notaport/x",
            "postgres://app:hunter2@[::1/x",
            "mysql://app:hunter2@db/x",
            "postgres://app:hunter2@db/x?sslmode=sometimes",
        ] {
            let Err(err) = connect(url).await else {
                panic!("{url} was accepted");
            };
            let text = err.to_string();
            assert!(!text.contains("hunter2"), "{url}: {text}");
            assert!(text.contains("DATABASE_URL"), "{url}: {text}");
        }
    }
}
