//! `spawn_app()`: the real server on a random port with a fresh database,
//! spoken to over HTTP. The clock is injected, so tests move time instead of
//! sleeping.
//!
//! The database is a SQLite file by default; with `TEST_BACKEND=postgres`
//! every test gets its own throw-away PostgreSQL database instead (created
//! through `TEST_POSTGRES_URL`, dropped when the test ends), so the same
//! suite runs against both backends.
#![allow(dead_code)]

pub mod pg_proxy;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU32, Ordering},
        Arc,
    },
    time::Duration,
};

use reqwest::{header, redirect::Policy, Response};
use session_guard::{
    auth::{password, users, Username},
    clock::Clock,
    config::Settings,
    items::repo,
    server::{leptos_options, Application, StartError},
    state::AppState,
};
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
    dir: TempDir,
    postgres_name: Option<String>,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend() {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}/test.db", dir.path().display()),
                dir,
                postgres_name: None,
            },
            Backend::Postgres => {
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
                    dir,
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

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
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

pub struct TestApp {
    pub base: String,
    pub clock: Clock,
    pub state: AppState,
    pub http: reqwest::Client,
    pub db: Arc<TestDb>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a server with these settings (as environment variables would give them).
pub async fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    let db = Arc::new(TestDb::new().await);
    // Frozen: tests count whole seconds, and a real second passing between
    // two requests would shift them.
    start(db, Clock::frozen(), env).await
}

/// Starts a server on `db` (its `DATABASE_URL` unless `env` names another)
/// with this clock.
pub async fn start(db: Arc<TestDb>, clock: Clock, env: &[(&str, &str)]) -> TestApp {
    try_start(db, clock, env).await.expect("server starts")
}

/// [`start`], answering why a server would not start.
pub async fn try_start(
    db: Arc<TestDb>,
    clock: Clock,
    env: &[(&str, &str)],
) -> Result<TestApp, StartError> {
    let mut vars: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.entry("DATABASE_URL".into())
        .or_insert_with(|| db.url.clone());
    let mut leptos = leptos_options().expect("leptos options");
    leptos.site_addr = "127.0.0.1:0".parse::<SocketAddr>().unwrap();
    let settings = Settings::from_sources(None, vars, leptos.site_addr)?;
    let app = Application::build(settings, leptos, clock.clone()).await?;
    let addr = app.local_addr().unwrap();
    let state = app.state.clone();
    let server = tokio::spawn(app.run());
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    Ok(TestApp {
        base: format!("http://{addr}"),
        clock,
        state,
        http,
        db,
        server,
    })
}

/// A client that keeps cookies the way a browser does: every `Set-Cookie`
/// of every answer is obeyed, removals (`Max-Age=0`, an `Expires` in the
/// past) included, and the cookies it holds go with every request. Tests of
/// what a user sees use this, not cookies replayed by hand.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: reqwest::Url,
}

impl Browser {
    /// The cookies this browser would send now, as `name=value` pairs.
    pub fn cookies(&self) -> Vec<String> {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&self.base)
            .and_then(|line| line.to_str().ok().map(str::to_owned))
            .map(|line| line.split("; ").map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// The value of cookie `name`, if the browser holds one.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().into_iter().find_map(|pair| {
            Some(pair.split_once('=')?)
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v.to_owned())
        })
    }

    /// The session cookie (`name=value`) it holds, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("session_guard")
            .map(|v| format!("session_guard={v}"))
    }

    fn url(&self, path: &str) -> reqwest::Url {
        self.base.join(path).unwrap()
    }

    pub async fn sign_in(&self, name: &str, password_text: &str) -> Response {
        self.call(
            "sign_in",
            &[("username", name), ("password", password_text)],
        )
        .await
    }

    /// Calls a server function as the page does (form-encoded, JSON back).
    pub async fn call(&self, name: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url(&format!("/api/{name}")))
            .header(header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The passive status query; answers its JSON.
    pub async fn status(&self) -> serde_json::Value {
        let res = self.status_response().await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn status_response(&self) -> Response {
        self.http
            .get(self.url("/api/session_status"))
            .send()
            .await
            .unwrap()
    }

    /// A page, as a navigation would ask for it (redirects not followed).
    pub async fn get_page(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .unwrap()
    }
}

/// The session cookie (`name=value`) a response sets, if any.
pub fn session_cookie(res: &Response) -> Option<String> {
    set_cookies(res)
        .into_iter()
        .find(|c| c.contains("session_guard=") && !c.contains("Max-Age=0") && !c.contains("1970"))
        .and_then(|c| c.split(';').next().map(str::to_owned))
}

pub fn set_cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

impl TestApp {
    /// A second server on the same database, as another instance behind a
    /// load balancer would be. It shares this one's clock, as machines
    /// synchronised by NTP would.
    pub async fn another_instance(&self) -> TestApp {
        start(self.db.clone(), self.clock.clone(), &[]).await
    }

    /// Another instance on a machine whose clock is `secs` off (ahead when
    /// positive), with the same test time passing for both.
    pub async fn another_instance_skewed(&self, secs: i64) -> TestApp {
        start(self.db.clone(), self.clock.skewed(secs), &[]).await
    }

    /// Stops the server as a crash or a deployment would: it stops
    /// answering and its database connections close. Answers what a new
    /// server needs to start where this one was ([`start`]).
    pub async fn stop(self) -> (Arc<TestDb>, Clock) {
        self.server.abort();
        let _ = self.server.await;
        self.state.db.pool.close().await;
        match &self.state.db.sessions {
            session_guard::db::SessionPool::Sqlite(pool) => pool.close().await,
            session_guard::db::SessionPool::Postgres(pool) => pool.close().await,
        }
        (self.db.clone(), self.clock.clone())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A new browser (an empty cookie jar) pointed at this server.
    pub fn browser(&self) -> Browser {
        self.browser_as("")
    }

    /// A new browser that names itself `user_agent` (none when empty).
    pub fn browser_as(&self, user_agent: &str) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let mut http = reqwest::Client::builder();
        if !user_agent.is_empty() {
            http = http.user_agent(user_agent);
        }
        let http = http
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        Browser {
            http,
            jar,
            base: self.base.parse().unwrap(),
        }
    }

    pub async fn add_user(&self, name: &str, password_text: &str) -> i64 {
        let username = Username::parse(name).unwrap();
        let hash = password::hash(password_text.into()).await.unwrap();
        users::create(&self.state.db.pool, &username, &hash, self.clock.now())
            .await
            .unwrap()
    }

    pub async fn add_items(&self, user_id: i64, count: u64) {
        repo::generate(
            &self.state.db.pool,
            user_id,
            count,
            self.clock.now(),
            &mut std::io::sink(),
        )
        .await
        .unwrap();
    }

    /// Signs in as a JavaScript client would; answers the response.
    pub async fn sign_in_response(
        &self,
        name: &str,
        password_text: &str,
        cookie: Option<&str>,
    ) -> Response {
        let mut req = self
            .http
            .post(self.url("/api/sign_in"))
            .header(header::ACCEPT, "application/json")
            .form(&[("username", name), ("password", password_text)]);
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        req.send().await.unwrap()
    }

    /// Signs in and answers the session cookie.
    pub async fn sign_in(&self, name: &str, password_text: &str) -> String {
        let res = self.sign_in_response(name, password_text, None).await;
        assert!(
            res.status().is_success(),
            "sign-in failed: {}",
            res.status()
        );
        session_cookie(&res).expect("sign-in sets the session cookie")
    }

    /// Calls a server function as the page does (form-encoded, JSON back).
    pub async fn call(&self, name: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Response {
        let mut req = self
            .http
            .post(self.url(&format!("/api/{name}")))
            .header(header::ACCEPT, "application/json")
            .form(form);
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        req.send().await.unwrap()
    }

    pub async fn status(&self, cookie: Option<&str>) -> serde_json::Value {
        let mut req = self.http.get(self.url("/api/session_status"));
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn get_page(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self
            .http
            .get(self.url(path))
            .header(header::ACCEPT, "text/html");
        if let Some(cookie) = cookie {
            req = req.header(header::COOKIE, cookie);
        }
        req.send().await.unwrap()
    }

    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(&self.state.db.pool)
            .await
            .unwrap();
        n
    }
}

/// The JSON body of an error answer.
pub async fn json(res: Response) -> serde_json::Value {
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        ct.starts_with("application/json"),
        "expected JSON, got {ct:?}"
    );
    res.json().await.unwrap()
}
