//! `spawn_app()`: the real server on a random port with a fresh SQLite file,
//! spoken to over HTTP. The clock is injected, so tests move time instead of
//! sleeping.
#![allow(dead_code)]

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use reqwest::{header, redirect::Policy, Response};
use session_guard::{
    auth::{password, users, Username},
    clock::Clock,
    config::Settings,
    items::repo,
    server::{leptos_options, Application},
    state::AppState,
};
use tempfile::TempDir;

pub struct TestApp {
    pub base: String,
    pub clock: Clock,
    pub state: AppState,
    pub http: reqwest::Client,
    pub dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a server with these settings (as environment variables would give them).
pub async fn spawn_app_with(env: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut vars: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.entry("DATABASE_URL".into())
        .or_insert_with(|| format!("sqlite://{}/test.db", dir.path().display()));
    let mut leptos = leptos_options().expect("leptos options");
    leptos.site_addr = "127.0.0.1:0".parse::<SocketAddr>().unwrap();
    let settings = Settings::from_sources(None, vars, leptos.site_addr).expect("settings");
    let clock = Clock::system();
    let app = Application::build(settings, leptos, clock.clone())
        .await
        .expect("server starts");
    let addr = app.local_addr().unwrap();
    let state = app.state.clone();
    tokio::spawn(app.run());
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        base: format!("http://{addr}"),
        clock,
        state,
        http,
        dir,
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
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn add_user(&self, name: &str, password_text: &str) -> i64 {
        let username = Username::parse(name).unwrap();
        let hash = password::hash(password_text.into()).await.unwrap();
        users::create(&self.state.pool, &username, &hash, self.clock.now())
            .await
            .unwrap()
    }

    pub async fn add_items(&self, user_id: i64, count: u64) {
        repo::generate(
            &self.state.pool,
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
            .fetch_one(&self.state.pool)
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
