//! What every request can reach on the server: settings, database, clock,
//! the sessions. Built once at start-up.

use std::{ops::Deref, sync::Arc};

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

/// A handle on the app's state. Every request clones it several times (each
/// layer and handler takes its own copy, and Leptos' context another), so it
/// is one shared allocation: a clone is one reference count, not one for
/// every pool, cache and setting inside (profiled under load, those counts
/// took close to half of the server's time per request).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub settings: Settings,
    pub leptos: LeptosOptions,
    pub db: Database,
    pub clock: Clock,
    /// The session module's own state: policy, store, and the routes it
    /// guards.
    pub sessions: Sessions,
    pub throttle: SignInThrottle,
    /// How many password verifications ran (`auth::password`).
    pub verifications: VerifyQueue,
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }

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
