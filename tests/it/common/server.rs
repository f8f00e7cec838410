//! The real server on a random port, started the way `main` starts it, and
//! what a test does to it from outside HTTP (users, items, time, restarts).

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

use reqwest::{header, redirect::Policy, Response};
use session_guard::{
    auth::{password, users, Username},
    clock::Clock,
    config::Settings,
    items::repo,
    server::{leptos_options, Application, StartError},
    session::server::store::SESSIONS_TABLE,
    state::AppState,
};

use super::{answers, TestDb};

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

    /// The name of this server's session cookie (`__Host-` prefixed when
    /// the cookie is `Secure`).
    pub fn cookie_name(&self) -> &'static str {
        self.state.sessions.policy.cookie.name
    }

    /// The name of the cookie that keeps why the last session ended.
    pub fn ended_cookie_name(&self) -> String {
        self.state.sessions.policy.cookie.ending_name()
    }

    /// This server's session cookie (`name=value`) an answer sets, if any.
    pub fn session_cookie(&self, res: &Response) -> Option<String> {
        answers::session_cookie(res, self.cookie_name())
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
        self.session_cookie(&res)
            .expect("sign-in sets the session cookie")
    }

    /// Calls a server function as the page does (form-encoded, JSON back),
    /// with any fields at all: the typed calls (`list_items` and the others)
    /// are for calls the function takes as they are.
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

    /// How many session records the store holds, live or not.
    pub async fn sessions_stored(&self) -> i64 {
        self.count(&format!("SELECT COUNT(*) FROM {SESSIONS_TABLE}"))
            .await
    }

    /// How many items are stored, everybody's.
    pub async fn items_stored(&self) -> i64 {
        self.count("SELECT COUNT(*) FROM items").await
    }
}
