//! The guard inside server functions. Server functions rendered on the
//! server skip tower layers, so every body calls [`guarded`] (or, for the
//! app's public functions, [`public`]) itself; when a layer already checked
//! this request, its verdict is reused. Every error a body returns gets its
//! HTTP status here.

use std::future::Future;

use axum::http::{request::Parts, HeaderName, HeaderValue};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use tower_cookies::Cookies;
use tower_sessions::Session;

use super::{
    check::{check, ended_report, LiveSession, Outcome},
    policy::Activity,
    sessions::Sessions,
};
use crate::{
    error::{http::set_error_status, AppError},
    session::{SessionReport, IDLE_REMAINING_HEADER},
};

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

/// Runs a public server function's body (one of the app's
/// `GuardedRoutes::public_fns`).
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
    let sessions = Sessions::from_context()?;
    let session = request_session(&parts)?;
    let cookies = request_cookies(&parts)?;
    match check(&sessions, &session, &cookies, Activity::User).await? {
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
    // A protected page rendering: its request was checked before (as
    // activity, which may just have renewed the session), and that is the
    // figure to report. Checking again would read the request's session as
    // it was loaded, before the renewal, and tell the page it has less time
    // than it has (a page loaded after 13 idle minutes would open the
    // warning at once).
    if let Some(live) = parts.extensions.get::<LiveSession>() {
        return Ok(live.status());
    }
    let sessions = Sessions::from_context()?;
    let session = request_session(&parts)?;
    let cookies = request_cookies(&parts)?;
    Ok(
        match check(&sessions, &session, &cookies, Activity::Passive).await? {
            Outcome::Live(live) => live.status(),
            Outcome::Ended(reason) => ended_report(&sessions.policy, Some(reason)),
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
