//! The guard: one decision per request about whether its session is alive.
//!
//! [`check`] applies the policy to the request's session: it ends a session
//! past a deadline (deleting the record, remembering why), writes activity
//! at most once per slice, and never treats a passive look as activity.
//!
//! It runs in three places, all through `check`:
//! - [`api_layer`] in front of `/api/`: a guarded server function without a
//!   live session answers 401 JSON before its arguments are even decoded;
//! - [`page_layer`] in front of protected pages: 303 to the login page;
//! - [`guarded`], which every server function body calls. Server functions
//!   run during server-side rendering skip tower layers, so the body checks
//!   too; when a layer already checked this request, its verdict is reused.
//!
//! Only the functions in [`PUBLIC_SERVER_FNS`] may use [`public`] instead.

use std::future::Future;

use axum::{
    extract::{Request, State},
    http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use tower_sessions::Session;

use tower_cookies::Cookies;

use super::{
    devices::Origin,
    ending_cookie,
    policy::{Activity, Policy, SessionData, Verdict},
    store,
    writes::{Ending, Touched},
};
use crate::session::redirect::{login_url, safe_next};
use crate::session::{EndReason, SessionReport, IDLE_REMAINING_HEADER};
use crate::{
    clock::UnixSecs,
    error::{
        http::{error_page, expired_response, is_html_form_post, json_error, set_error_status},
        AppError,
    },
    state::AppState,
};

/// The key of our data in the tower-sessions record.
pub const SESSION_KEY: &str = "session_guard";

/// The server functions that answer without a live session. Every other one
/// is guarded; a test enumerates the registered functions against this list.
pub const PUBLIC_SERVER_FNS: &[&str] = &["/api/sign_in", "/api/session_status"];

/// A session found alive for this request.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub user_id: i64,
    pub username: String,
    pub idle_remaining: i64,
    pub absolute_remaining: i64,
    idle_timeout: i64,
    warning: i64,
}

impl LiveSession {
    /// A session taken as live without looking: only for the benchmark's
    /// baseline route, which exists only in a build with the test hooks.
    #[cfg(feature = "test-hooks")]
    pub(super) fn unchecked(user_id: i64, state: &AppState) -> LiveSession {
        LiveSession {
            user_id,
            username: String::new(),
            idle_remaining: state.policy.idle,
            absolute_remaining: state.policy.idle,
            idle_timeout: state.policy.idle,
            warning: state.settings.session.warning.as_secs() as i64,
        }
    }

    pub fn status(&self) -> SessionReport {
        SessionReport {
            signed_in: true,
            reason: None,
            username: Some(self.username.clone()),
            idle_remaining_secs: self.idle_remaining.max(0) as u64,
            absolute_remaining_secs: self.absolute_remaining.max(0) as u64,
            idle_timeout_secs: self.idle_timeout as u64,
            warning_secs: self.warning as u64,
            keep_alive_secs: Policy::keep_alive_every(self.idle_timeout) as u64,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Live(LiveSession),
    Ended(EndReason),
}

/// Applies the policy to this request's session. An ended session is also
/// remembered in the browser (`ending_cookie`), so the reason survives the
/// session cookie's removal.
pub async fn check(
    state: &AppState,
    session: &Session,
    cookies: &Cookies,
    activity: Activity,
) -> Result<Outcome, AppError> {
    let outcome = decide(state, session, cookies, activity).await?;
    if let Outcome::Ended(reason) = outcome {
        ending_cookie::keep(cookies, state, reason);
    }
    Ok(outcome)
}

async fn decide(
    state: &AppState,
    session: &Session,
    cookies: &Cookies,
    activity: Activity,
) -> Result<Outcome, AppError> {
    let now = state.clock.now();
    let data = session.get::<SessionData>(SESSION_KEY).await?;
    let (Some(data), Some(id)) = (data, session.id()) else {
        return Ok(Outcome::Ended(why_not(state, cookies, now).await?));
    };
    let data = match state.policy.verdict(&data, now, activity) {
        Verdict::Live { .. } => data,
        // The record may have come from memory, which a change this server
        // has not heard of does not reach: a session ends on what the
        // database says, and only if it still says so when deleted.
        Verdict::Ended(reason) => match state.store.end_if_due(&id, now).await? {
            Ending::Ended(reason) => return Ok(Outcome::Ended(reason)),
            Ending::Gone => return Ok(Outcome::Ended(told(state, &id, now, reason).await?)),
            Ending::Live(fresh) => fresh,
        },
    };
    let mut last_activity = data.last_activity;
    if let Verdict::Live {
        touch: Some(at), ..
    } = state.policy.verdict(&data, now, activity)
    {
        // Written now, before the handler answers: an answer saying the
        // session was renewed has renewed it, and a record ended meanwhile
        // is refused instead of written back.
        match state.store.touch(&id, at).await? {
            Touched::Written => last_activity = at,
            Touched::AlreadyLater(later) => last_activity = later,
            Touched::Gone => {
                return Ok(Outcome::Ended(
                    told(state, &id, now, EndReason::Missing).await?,
                ))
            }
        }
    }
    let data = SessionData {
        last_activity,
        ..data
    };
    Ok(Outcome::Live(LiveSession {
        user_id: data.user_id,
        idle_remaining: state.policy.idle_deadline(&data) - now,
        absolute_remaining: state.policy.absolute_deadline(&data) - now,
        username: data.username,
        idle_timeout: state.policy.idle,
        warning: state.settings.session.warning.as_secs() as i64,
    }))
}

/// Why the session `id` ended, as recorded by whoever ended it, else `guess`.
async fn told(
    state: &AppState,
    id: &tower_sessions::session::Id,
    now: UnixSecs,
    guess: EndReason,
) -> Result<EndReason, AppError> {
    let recorded = store::ending_reason(&state.db.pool, &id.to_string(), now).await?;
    Ok(recorded.unwrap_or(guess))
}

/// Why a request has no session: the reason kept for its cookie's id, else
/// the one its browser kept (`ending_cookie`), else none at all.
async fn why_not(
    state: &AppState,
    cookies: &Cookies,
    now: UnixSecs,
) -> Result<EndReason, AppError> {
    if let Some(cookie) = cookies.get(state.cookie_name) {
        if let Some(reason) = store::ending_reason(&state.db.pool, cookie.value(), now).await? {
            return Ok(reason);
        }
    }
    Ok(ending_cookie::read(cookies, state).unwrap_or(EndReason::Missing))
}

/// Starts a session for a user who just proved who they are. The id is
/// cycled so a session id known before sign-in is worthless after it.
/// A request that brought no session cookie has no id anyone could know:
/// its record gets a fresh id when it is first saved, so there is nothing
/// to cycle, and cycling would only delete a random id that was never
/// stored (a database write per sign-in).
///
/// The record is stored here, inside the request, so that a failure answers
/// 503 rather than the session layer's bare 500 after the handler.
pub async fn start(
    state: &AppState,
    session: &Session,
    cookies: &Cookies,
    user_id: i64,
    username: &str,
    origin: Origin,
) -> Result<(), AppError> {
    if session.id().is_some() {
        session.cycle_id().await?;
    }
    let now = state.clock.now();
    let data = SessionData {
        user_id,
        username: username.to_owned(),
        started_at: now,
        last_activity: now,
        device: origin.device,
        address: origin.address,
    };
    session.insert(SESSION_KEY, &data).await?;
    session.save().await?;
    ending_cookie::forget(cookies, state);
    Ok(())
}

/// Signs out: remembers why and deletes the record, so the cookie opens
/// nothing from now on, and has the session layer remove the cookie. The
/// browser keeps the reason (`ending_cookie`) for its other tabs.
pub async fn sign_out(
    state: &AppState,
    session: &Session,
    cookies: &Cookies,
) -> Result<(), AppError> {
    let reason = EndReason::SignedOut;
    if let Some(id) = session.id() {
        store::record_ending(&state.db.pool, &id.to_string(), reason, state.clock.now()).await?;
    }
    session.flush().await?;
    ending_cookie::keep(cookies, state, reason);
    Ok(())
}

// ---------------------------------------------------------------------------
// Inside server functions

/// Runs a guarded server function's body with the live session, or answers
/// the typed 401. Every error it returns gets its HTTP status here.
pub async fn guarded<T, F, Fut>(body: F) -> Result<T, AppError>
where
    F: FnOnce(LiveSession) -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    let result = match require_live().await {
        Ok(live) => body(live).await,
        Err(err) => Err(err),
    };
    if let Err(err) = &result {
        set_error_status(err);
    }
    result
}

/// Runs a public server function's body (see [`PUBLIC_SERVER_FNS`]).
pub async fn public<T>(body: impl Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
    let result = body.await;
    if let Err(err) = &result {
        set_error_status(err);
    }
    result
}

async fn require_live() -> Result<LiveSession, AppError> {
    let parts = request_parts()?;
    if let Some(live) = parts.extensions.get::<LiveSession>() {
        return Ok(live.clone());
    }
    let state = AppState::from_context()?;
    let session = request_session(&parts)?;
    let cookies = request_cookies(&parts)?;
    match check(&state, &session, &cookies, Activity::User).await? {
        Outcome::Live(live) => {
            set_idle_header(live.idle_remaining);
            Ok(live)
        }
        Outcome::Ended(reason) => Err(AppError::SessionExpired { reason }),
    }
}

/// The body of the public, passive status query. Its figures travel in the
/// body only: the `Session-Idle-Remaining` header marks answers that touched
/// the session, which this one never does.
pub async fn status() -> Result<SessionReport, AppError> {
    let parts = request_parts()?;
    let state = AppState::from_context()?;
    let session = request_session(&parts)?;
    let cookies = request_cookies(&parts)?;
    Ok(
        match check(&state, &session, &cookies, Activity::Passive).await? {
            Outcome::Live(live) => live.status(),
            Outcome::Ended(reason) => SessionReport {
                signed_in: false,
                reason: Some(reason),
                username: None,
                idle_remaining_secs: 0,
                absolute_remaining_secs: 0,
                idle_timeout_secs: state.policy.idle as u64,
                warning_secs: state.settings.session.warning.as_secs(),
                keep_alive_secs: Policy::keep_alive_every(state.policy.idle) as u64,
            },
        },
    )
}

/// The request's session and cookie jar inside a server function, for the
/// functions that need the session object itself (sign-in, sign-out).
pub fn request_session_from_context() -> Result<(Session, Cookies), AppError> {
    let parts = request_parts()?;
    Ok((request_session(&parts)?, request_cookies(&parts)?))
}

fn request_parts() -> Result<Parts, AppError> {
    use_context::<Parts>().ok_or_else(|| {
        tracing::error!("server function called without request parts");
        AppError::Internal
    })
}

fn request_session(parts: &Parts) -> Result<Session, AppError> {
    parts.extensions.get::<Session>().cloned().ok_or_else(|| {
        tracing::error!("no session layer in front of this request");
        AppError::Internal
    })
}

/// The cookie jar the session layer keeps for this request.
fn request_cookies(parts: &Parts) -> Result<Cookies, AppError> {
    parts.extensions.get::<Cookies>().cloned().ok_or_else(|| {
        tracing::error!("no cookie jar in front of this request");
        AppError::Internal
    })
}

fn set_idle_header(remaining: i64) {
    if let Some(res) = use_context::<ResponseOptions>() {
        res.insert_header(
            HeaderName::from_static(IDLE_REMAINING_HEADER),
            HeaderValue::from(remaining.max(0)),
        );
    }
}

// ---------------------------------------------------------------------------
// In front of the handlers

/// Guards every non-public server function before it runs.
pub async fn api_layer(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/api/") || PUBLIC_SERVER_FNS.contains(&path) {
        return next.run(req).await;
    }
    #[cfg(feature = "test-hooks")]
    if req.extensions().get::<LiveSession>().is_some() {
        // Only the benchmark's baseline hook puts one there, before this
        // layer (`test_hooks::baseline`, mounted with the test hooks only).
        return next.run(req).await;
    }
    let Some(cookies) = req.extensions().get::<Cookies>().cloned() else {
        return json_error(&AppError::Internal);
    };
    match check(&state, &session, &cookies, Activity::User).await {
        Ok(Outcome::Live(live)) => {
            let remaining = live.idle_remaining.max(0);
            req.extensions_mut().insert(live);
            let mut res = next.run(req).await;
            res.headers_mut()
                .insert(IDLE_REMAINING_HEADER, HeaderValue::from(remaining));
            res
        }
        Ok(Outcome::Ended(reason)) => {
            if is_html_form_post(req.method(), req.headers()) {
                // A form posted without JavaScript: back to the login page,
                // returning afterwards to the page the form was on.
                let back = referer_path(req.headers());
                return see_other(&login_url(Some(reason), back.as_deref()));
            }
            expired_response(reason)
        }
        Err(err) => json_error(&err),
    }
}

/// Protected pages redirect to the login page; `/` and `/login` go where a
/// signed-in (or not) user expects.
pub async fn page_layer(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return next.run(req).await;
    }
    let path = req.uri().path();
    let kind = match path {
        "/" => Page::Root,
        "/login" => Page::Login,
        p if p == "/items" || p.starts_with("/items/") || p == "/sessions" => Page::Protected,
        _ => return next.run(req).await,
    };
    let activity = if kind == Page::Protected {
        Activity::User
    } else {
        Activity::Passive
    };
    let Some(cookies) = req.extensions().get::<Cookies>().cloned() else {
        return error_page(&AppError::Internal);
    };
    let outcome = match check(&state, &session, &cookies, activity).await {
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
        (Page::Root, Outcome::Live(_)) => see_other("/items"),
        (Page::Root, Outcome::Ended(EndReason::Missing)) => see_other("/login"),
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
                .unwrap_or_else(|| "/items".to_owned());
            see_other(&target)
        }
        (Page::Login, Outcome::Ended(_)) => next.run(req).await,
    }
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
            [(header::LOCATION, HeaderValue::from_static("/login"))],
        )
            .into_response(),
    }
}
