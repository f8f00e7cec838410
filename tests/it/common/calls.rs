//! Typed calls of the server functions, with the fields each one takes:
//! `app.list_items(&cookie, 1)` for a cookie replayed by hand (or `&Anon`
//! for none), `browser.list_items(1)` for a browser's own jar.
//! `app.call(..)`/`browser.call(..)` remain for calls with other fields.

use reqwest::{header, Response};

use super::{Browser, TestApp};

/// What a call from a [`TestApp`] carries in its `Cookie` header: a
/// cookie replayed by hand (`name=value`, a `&str` or a `&String`), or
/// nothing ([`Anon`]).
pub trait Jar {
    fn cookie(&self) -> Option<&str>;
}

/// A caller without any cookie.
pub struct Anon;

impl Jar for Anon {
    fn cookie(&self) -> Option<&str> {
        None
    }
}

impl Jar for str {
    fn cookie(&self) -> Option<&str> {
        Some(self)
    }
}

impl Jar for String {
    fn cookie(&self) -> Option<&str> {
        Some(self.as_str())
    }
}

impl TestApp {
    /// Signs in without a cookie, asking to be sent to `next` afterwards.
    pub async fn sign_in_to(&self, name: &str, password_text: &str, next: &str) -> Response {
        self.call(
            "sign_in",
            None,
            &[
                ("username", name),
                ("password", password_text),
                ("next", next),
            ],
        )
        .await
    }

    /// Page `page` of the caller's items.
    pub async fn list_items(&self, jar: &(impl Jar + ?Sized), page: u64) -> Response {
        let page = page.to_string();
        self.call("list_items", jar.cookie(), &[("page", &page)])
            .await
    }

    pub async fn create_item(
        &self,
        jar: &(impl Jar + ?Sized),
        title: &str,
        description: &str,
    ) -> Response {
        self.call(
            "create_item",
            jar.cookie(),
            &[("title", title), ("description", description)],
        )
        .await
    }

    /// "Stay signed in".
    pub async fn extend(&self, jar: &(impl Jar + ?Sized)) -> Response {
        self.call("extend_session", jar.cookie(), &[]).await
    }

    pub async fn sign_out(&self, jar: &(impl Jar + ?Sized)) -> Response {
        self.call("sign_out", jar.cookie(), &[]).await
    }

    /// The caller's sessions, as the sessions page lists them.
    pub async fn list_sessions(&self, jar: &(impl Jar + ?Sized)) -> Response {
        self.call("list_sessions", jar.cookie(), &[]).await
    }

    /// The passive status query; answers its JSON.
    pub async fn status(&self, jar: &(impl Jar + ?Sized)) -> serde_json::Value {
        let mut req = self.http.get(self.url("/api/session_status"));
        if let Some(cookie) = jar.cookie() {
            req = req.header(header::COOKIE, cookie);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

impl Browser {
    /// Page `page` of this browser's user's items.
    pub async fn list_items(&self, page: u64) -> Response {
        self.call("list_items", &[("page", &page.to_string())])
            .await
    }

    pub async fn create_item(&self, title: &str, description: &str) -> Response {
        self.call(
            "create_item",
            &[("title", title), ("description", description)],
        )
        .await
    }

    /// "Stay signed in".
    pub async fn extend(&self) -> Response {
        self.call("extend_session", &[]).await
    }

    pub async fn sign_out(&self) -> Response {
        self.call("sign_out", &[]).await
    }

    /// This user's sessions, as the sessions page lists them.
    pub async fn list_sessions(&self) -> Response {
        self.call("list_sessions", &[]).await
    }

    /// Ends the session named `handle`, giving the password again.
    pub async fn end_session(&self, handle: &str, password: &str) -> Response {
        self.call(
            "end_session",
            &[("session", handle), ("password", password)],
        )
        .await
    }

    /// Ends all the user's other sessions, giving the password again.
    pub async fn end_other_sessions(&self, password: &str) -> Response {
        self.call("end_other_sessions", &[("password", password)])
            .await
    }
}
