//! What every request can reach on the server: settings, database, clock,
//! the sessions. Built once at start-up.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::{use_context, LeptosOptions};

use crate::{
    auth::{password::VerifyQueue, throttle::SignInThrottle},
    clock::Clock,
    config::Settings,
    db::Database,
    error::AppError,
    session::server::Sessions,
};

#[derive(Clone, Debug)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub leptos: LeptosOptions,
    pub db: Database,
    pub clock: Clock,
    /// The session module's own state: policy, store, and the routes it
    /// guards.
    pub sessions: Sessions,
    pub throttle: SignInThrottle,
    /// Places for password verifications (bounded: see `auth::password`).
    pub verifications: VerifyQueue,
}

impl AppState {
    /// The state inside a server function or component rendered on the server.
    pub fn from_context() -> Result<Self, AppError> {
        use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the server-function context");
            AppError::Internal
        })
    }
}

impl FromRef<AppState> for Sessions {
    fn from_ref(state: &AppState) -> Self {
        state.sessions.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
