//! The guard in front of the handlers, both through [`check`]:
//! - [`api_layer`] in front of `/api/`: a guarded server function without a
//!   live session answers 401 JSON before its arguments are even decoded;
//! - [`page_layer`] in front of the app's protected pages: 303 to the login
//!   page.
//!
//! Which functions are public and which pages are protected, the app says
//! (`GuardedRoutes`).

use std::borrow::Cow;

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tower_cookies::Cookies;
use tower_sessions::Session;

use super::{
    check::{check, Outcome},
    policy::Activity,
    sessions::Sessions,
};
use crate::{
    error::{
        http::{error_page, expired_response, is_html_form_post, json_error},
        AppError,
    },
    session::{
        redirect::{login_url, safe_next, LOGIN_PATH},
        EndReason, END_REASON_HEADER, IDLE_REMAINING_HEADER,
    },
};

/// Guards every non-public server function before it runs.
pub async fn api_layer(
    State(sessions): State<Sessions>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/api/") || sessions.routes.is_public_fn(path) {
        return next.run(req).await;
    }
    #[cfg(feature = "test-hooks")]
    if req
        .extensions()
        .get::<super::check::LiveSession>()
        .is_some()
    {
        // Only the benchmark's baseline hook puts one there, before this
        // layer (`test_hooks::baseline`, mounted with the test hooks only).
        return next.run(req).await;
    }
    let Some(cookies) = req.extensions().get::<Cookies>().cloned() else {
        return json_error(&AppError::Internal);
    };
    match check(&sessions, &session, &cookies, Activity::User).await {
        Ok(Outcome::Live(live)) => {
            let remaining = live.idle_remaining.max(0);
            req.extensions_mut().insert(live);
            let mut res = next.run(req).await;
            // Unless the function said otherwise: sign-out answers 0 for
            // the session it has just ended.
            res.headers_mut()
                .entry(IDLE_REMAINING_HEADER)
                .or_insert(HeaderValue::from(remaining));
            res
        }
        Ok(Outcome::Ended(reason)) => {
            if is_html_form_post(req.method(), req.headers()) {
                // A form posted without JavaScript: back to the login page,
                // returning afterwards to the page the form was on, with
                // the headers every ended answer carries.
                let back = referer_path(req.headers());
                let mut res = see_other(&login_url(Some(reason), back.as_deref()));
                res.headers_mut()
                    .insert(END_REASON_HEADER, HeaderValue::from_static(reason.as_str()));
                res.headers_mut()
                    .insert(IDLE_REMAINING_HEADER, HeaderValue::from(0));
                return res;
            }
            expired_response(reason)
        }
        Err(err) => json_error(&err),
    }
}

/// Whether the browser says this request opens a page (or says nothing: an
/// older browser, a script). A protected page loaded any other way is not
/// the user's doing: with `SameSite=Lax` the cookie goes along with an
/// `<img src="/items">` on any page of the same site, which could otherwise
/// keep a session alive for as long as that page stays open.
fn is_navigation(headers: &HeaderMap) -> bool {
    let says = |name: &str, expected: &str| {
        headers
            .get(name)
            .is_none_or(|value| value.as_bytes().eq_ignore_ascii_case(expected.as_bytes()))
    };
    says("sec-fetch-mode", "navigate") && says("sec-fetch-dest", "document")
}

/// Protected pages redirect to the login page; `/` and `/login` go where a
/// signed-in (or not) user expects. Opening one is activity.
pub async fn page_layer(
    State(sessions): State<Sessions>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return next.run(req).await;
    }
    let path = canonical(req.uri().path());
    let kind = match path.as_ref() {
        "/" => Page::Root,
        LOGIN_PATH => Page::Login,
        p if sessions.routes.is_protected_page(p) => Page::Protected,
        _ => return next.run(req).await,
    };
    let activity = if kind == Page::Protected && is_navigation(req.headers()) {
        Activity::User
    } else {
        Activity::Passive
    };
    let Some(cookies) = req.extensions().get::<Cookies>().cloned() else {
        return error_page(&AppError::Internal);
    };
    let outcome = match check(&sessions, &session, &cookies, activity).await {
        Ok(outcome) => outcome,
        Err(err) => return error_page(&err),
    };
    match (kind, outcome) {
        (Page::Protected, Outcome::Live(live)) => {
            req.extensions_mut().insert(live);
            next.run(req).await
        }
        (Page::Protected, Outcome::Ended(reason)) => {
            let here = req.uri().path_and_query().map(|pq| pq.as_str().to_owned());
            see_other(&login_url(Some(reason), here.as_deref()))
        }
        (Page::Root, Outcome::Live(_)) => see_other(sessions.routes.home),
        (Page::Root, Outcome::Ended(EndReason::Missing)) => see_other(LOGIN_PATH),
        (Page::Root, Outcome::Ended(reason)) => see_other(&login_url(Some(reason), None)),
        (Page::Login, Outcome::Live(_)) => {
            let next_param = req.uri().query().and_then(|q| {
                serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                    .ok()?
                    .into_iter()
                    .find(|(k, _)| k == "next")
                    .map(|(_, v)| v)
            });
            let target = next_param
                .as_deref()
                .and_then(safe_next)
                .unwrap_or_else(|| sessions.routes.home.to_owned());
            see_other(&target)
        }
        (Page::Login, Outcome::Ended(_)) => next.run(req).await,
    }
}

/// A path as the app's router reads it: runs of slashes as one, and no
/// slash at the end (but the root's). `/sessions/` and `//sessions` render
/// the sessions page, so they are guarded as `/sessions` is.
fn canonical(path: &str) -> Cow<'_, str> {
    let trailing = path.len() > 1 && path.ends_with('/');
    if !trailing && !path.contains("//") {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Root,
    Login,
    Protected,
}

fn referer_path(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let uri: axum::http::Uri = referer.parse().ok()?;
    uri.path_and_query().map(|pq| pq.as_str().to_owned())
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, HeaderValue::from_static(LOGIN_PATH))],
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn paths_are_read_as_the_router_reads_them() {
        for (path, read) in [
            ("/", "/"),
            ("//", "/"),
            ("/sessions", "/sessions"),
            ("/sessions/", "/sessions"),
            ("//sessions", "/sessions"),
            ("/items//new/", "/items/new"),
        ] {
            assert_eq!(canonical(path), read, "{path}");
        }
    }
}
