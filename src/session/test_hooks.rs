//! Test-only HTTP hooks, mounted only when `SESSION_GUARD_TEST_HOOKS=true`.
//!
//! Browser tests cannot reach into the server process to move its clock, so
//! these routes do it. Without the setting they do not exist (404).

use std::time::Duration;

use axum::{
    extract::{Query, State},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct Advance {
    secs: u64,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/__test/clock/advance", post(advance))
        .route("/__test/stats", get(stats))
}

async fn advance(State(state): State<AppState>, Query(by): Query<Advance>) -> Json<Value> {
    state.clock.advance(Duration::from_secs(by.secs));
    Json(json!({ "now": state.clock.now() }))
}

async fn stats(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "session_writes": state.store.writes(), "now": state.clock.now() }))
}
