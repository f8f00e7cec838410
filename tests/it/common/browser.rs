//! A client that keeps cookies the way a browser does.

use std::{sync::Arc, time::Duration};

use reqwest::{header, redirect::Policy, Response};

use super::TestApp;

/// A client that keeps cookies the way a browser does: every `Set-Cookie`
/// of every answer is obeyed, removals (`Max-Age=0`, an `Expires` in the
/// past) included, and the cookies it holds go with every request. Tests of
/// what a user sees use this, not cookies replayed by hand.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: reqwest::Url,
    /// The session cookie's name on the server this browser talks to.
    cookie_name: &'static str,
}

impl TestApp {
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
            cookie_name: self.cookie_name(),
        }
    }

    /// A new browser in which Alice (password `s3cret`, three items) has
    /// signed in.
    pub async fn alice(&self) -> Browser {
        let id = self.add_user("alice", "s3cret").await;
        self.add_items(id, 3).await;
        let browser = self.browser();
        assert_eq!(browser.sign_in("alice", "s3cret").await.status(), 200);
        browser
    }
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

    /// The session id it holds (its session cookie's value), if any.
    pub fn session_id(&self) -> Option<String> {
        self.cookie(self.cookie_name)
    }

    /// The session cookie (`name=value`) it holds, if any.
    pub fn session_cookie(&self) -> Option<String> {
        self.session_id()
            .map(|v| format!("{}={v}", self.cookie_name))
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
