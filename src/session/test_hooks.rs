//! Test-only HTTP hooks, mounted only when `SESSION_GUARD_TEST_HOOKS=true`.
//!
//! Browser tests cannot reach into the server process to move its clock, so
//! these routes do it. Without the setting they do not exist (404).
//!
//! `scripts/bench` uses two more: the items query served without any session
//! machinery (the baseline the guarded `list_items` is measured against) and
//! a way to create many sessions without paying for as many Argon2 hashes.

use std::{collections::HashMap, time::Duration};

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
    routing::{get, post},
    Form, Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::{
    session::{Id, Record},
    SessionStore,
};

use super::{guard, policy::SessionData};
use crate::{
    error::AppError,
    items::{repo, PageNumber},
    state::AppState,
};

#[derive(Debug, Deserialize)]
struct Advance {
    secs: u64,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/__test/clock/advance", post(advance))
        .route("/__test/stats", get(stats))
        .route("/__test/sessions", post(make_sessions))
}

/// Routes mounted outside the session layers.
pub fn unguarded_routes() -> Router<AppState> {
    Router::new().route("/__test/baseline/list_items", post(baseline_list_items))
}

#[derive(Debug, Deserialize)]
struct BaselineRequest {
    user_id: i64,
    page: String,
}

/// What `list_items` does once the guard has let a request through: the same
/// parsing, query and JSON, with no cookie, session load or deadline check.
async fn baseline_list_items(
    State(state): State<AppState>,
    Form(req): Form<BaselineRequest>,
) -> Response {
    let result = async {
        let page = PageNumber::parse(&req.page)
            .map_err(|e| AppError::invalid_field("page", e.to_string()))?;
        repo::page(
            &state.db.pool,
            req.user_id,
            page,
            state.settings.items_page_size,
        )
        .await
    }
    .await;
    match result {
        Ok(page) => Json(page).into_response(),
        Err(err) => guard::json_error(&err),
    }
}

#[derive(Debug, Deserialize)]
struct MakeSessions {
    user_id: i64,
    count: u32,
}

/// Creates `count` signed-in sessions for a user, straight in the store.
async fn make_sessions(State(state): State<AppState>, Query(req): Query<MakeSessions>) -> Response {
    let now = state.clock.now();
    let data = SessionData {
        user_id: req.user_id,
        username: "bench".to_owned(),
        started_at: now,
        last_activity: now,
    };
    let Ok(value) = serde_json::to_value(&data) else {
        return guard::json_error(&AppError::Internal);
    };
    for _ in 0..req.count {
        let mut record = Record {
            id: Id::default(),
            data: HashMap::from([(guard::SESSION_KEY.to_owned(), value.clone())]),
            expiry_date: time::OffsetDateTime::now_utc(),
        };
        if state.store.create(&mut record).await.is_err() {
            return guard::json_error(&AppError::Unavailable);
        }
    }
    Json(json!({ "created": req.count })).into_response()
}

async fn advance(State(state): State<AppState>, Query(by): Query<Advance>) -> Json<Value> {
    state.clock.advance(Duration::from_secs(by.secs));
    Json(json!({ "now": state.clock.now() }))
}

async fn stats(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "session_writes": state.store.writes(), "now": state.clock.now() }))
}
