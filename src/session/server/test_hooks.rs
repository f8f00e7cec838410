//! Test-only HTTP hooks, mounted only when `SESSION_GUARD_TEST_HOOKS=true`.
//!
//! Browser tests cannot reach into the server process to move its clock, so
//! these routes do it. Without the setting they do not exist (404).
//!
//! `scripts/bench` uses two more: server functions served without any session
//! machinery (the [`baseline`] the guarded `list_items` is measured against)
//! and a way to create many sessions without paying for as many Argon2
//! hashes.

use std::{collections::HashMap, time::Duration};

use axum::{
    body::Body,
    extract::{FromRef, Query, State},
    http::{Request, Uri},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::{
    session::{Id, Record},
    SessionStore,
};

use super::{
    check::LiveSession,
    record::{SessionData, SESSION_KEY},
    sessions::Sessions,
};
use crate::error::{http::json_error, AppError};

#[derive(Debug, Deserialize)]
struct Advance {
    secs: u64,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Sessions: FromRef<S>,
{
    Router::new()
        .route("/__test/clock/advance", post(advance))
        .route("/__test/stats", get(stats))
        .route("/__test/sessions", post(make_sessions))
}

/// Prefix of the benchmark's baseline: `/__test/baseline/api/{fn}`.
const BASELINE_PREFIX: &str = "/__test/baseline";

/// Header naming the user a baseline request runs as.
pub const BASELINE_USER_HEADER: &str = "x-baseline-user";

/// The benchmark's baseline (mounted outside every other layer, with the test
/// hooks only): a call to `/__test/baseline/api/{fn}` becomes a call to
/// `/api/{fn}` that every layer serves as usual (body checks, limits, JSON
/// errors, the same handler) except that it already carries a live session
/// for the user named in [`BASELINE_USER_HEADER`], which the guard takes as
/// it is: no cookie, no session load, no deadline check, no write. What the
/// guard costs is the difference between this and the real path
/// (`scripts/bench`).
pub async fn baseline(
    State(sessions): State<Sessions>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let Some(path) = req.uri().path().strip_prefix(BASELINE_PREFIX) else {
        return next.run(req).await;
    };
    let Ok(uri) = path.parse::<Uri>() else {
        return json_error(&AppError::NotFound {
            reason: "no such server function".into(),
        });
    };
    let user_id = req
        .headers()
        .get(BASELINE_USER_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let Some(user_id) = user_id else {
        return json_error(&AppError::invalid_field(
            BASELINE_USER_HEADER,
            "a user id is required",
        ));
    };
    *req.uri_mut() = uri;
    req.extensions_mut()
        .insert(LiveSession::unchecked(user_id, &sessions.policy));
    next.run(req).await
}

#[derive(Debug, Deserialize)]
struct MakeSessions {
    user_id: i64,
    count: u32,
}

/// Creates `count` signed-in sessions for a user, straight in the store,
/// and answers their cookies (`name=value`, as a browser sends them).
async fn make_sessions(State(state): State<Sessions>, Query(req): Query<MakeSessions>) -> Response {
    let now = state.clock.now();
    let data = SessionData {
        user_id: req.user_id,
        username: "bench".to_owned(),
        started_at: now,
        last_activity: now,
        device: "benchmark".to_owned(),
        address: String::new(),
    };
    let Ok(value) = serde_json::to_value(&data) else {
        return json_error(&AppError::Internal);
    };
    let mut cookies = Vec::with_capacity(req.count as usize);
    for _ in 0..req.count {
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([(SESSION_KEY.to_owned(), value.clone())]),
            expiry_date: time::OffsetDateTime::now_utc(),
        };
        if state.store.create(&mut record).await.is_err() {
            return json_error(&AppError::Unavailable);
        }
        cookies.push(format!("{}={}", state.policy.cookie.name, record.id));
    }
    Json(json!({ "created": req.count, "cookies": cookies })).into_response()
}

async fn advance(State(state): State<Sessions>, Query(by): Query<Advance>) -> Json<Value> {
    state.clock.advance(Duration::from_secs(by.secs));
    Json(json!({ "now": state.clock.now() }))
}

async fn stats(State(state): State<Sessions>) -> Json<Value> {
    Json(json!({
        "session_writes": state.store.counts().writes(),
        "session_reads": state.store.counts().reads(),
        "session_cache_hits": state.store.cache_hits(),
        "session_round_trips": state.store.round_trips(),
        "write_slice_secs": state.policy.slice,
        "now": state.clock.now(),
    }))
}
