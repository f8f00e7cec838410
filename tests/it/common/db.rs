//! Which database the suite runs against, and a fresh one per test.

use std::sync::atomic::{AtomicU32, Ordering};

use tempfile::TempDir;

/// Which database the suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    match std::env::var("TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("TEST_BACKEND={other:?}: use sqlite or postgres"),
    }
}

/// The PostgreSQL server's address, as a URL of a database the tests may
/// connect to in order to create and drop their own.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A fresh, empty database for one test, removed when the test ends.
pub struct TestDb {
    pub url: String,
    /// Holds the SQLite file (and nothing on PostgreSQL) until the test ends.
    _dir: TempDir,
    postgres_name: Option<String>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend() {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}/test.db", dir.path().display()),
                _dir: dir,
                postgres_name: None,
            },
            Backend::Postgres => {
                // One process runs every test: the pid and a counter keep
                // the names apart.
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "sg_test_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                let admin = postgres_admin_url();
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|err| panic!("PostgreSQL at {admin}: {err}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create the test database");
                let mut url = reqwest::Url::parse(&admin).expect("TEST_POSTGRES_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDb {
                    url: url.to_string(),
                    _dir: dir,
                    postgres_name: Some(name),
                }
            }
        }
    }

    /// For tests without a runtime of their own.
    pub fn new_blocking() -> TestDb {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(TestDb::new())
    }

    /// A connection pool of the test's own, to look at what the server stored.
    pub async fn pool(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        sqlx::AnyPool::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime: do the async work on a thread
        // of its own. FORCE ends the servers' connections still open.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Runtime::new() else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}
