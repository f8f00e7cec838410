//! [`Sessions`]: everything the session module needs on the server, built
//! once at start-up and handed to its layers (axum state, through `FromRef`)
//! and to server functions (Leptos context). The app gives it its settings,
//! its database and clock, and which of its routes the guard protects; the
//! module reads nothing else of the app.

use std::{ops::Deref, sync::Arc};

use leptos::prelude::use_context;
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};

use super::{
    policy::{Policy, SessionSettings},
    store::{endings, GuardedStore, Swept},
};
use crate::{clock::Clock, db::Database, error::AppError};

/// A handle: every request clones it (axum state, Leptos context), so it is
/// one shared allocation, like the app's state.
#[derive(Debug, Clone)]
pub struct Sessions(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub policy: Policy,
    pub store: GuardedStore,
    pub clock: Clock,
    /// The app's database: the store's pool, and the app's pool where the
    /// reasons sessions ended are kept.
    pub db: Database,
    pub routes: GuardedRoutes,
}

/// Which of the app's routes the guard protects, handed in by the app.
#[derive(Debug, Clone, Copy)]
pub struct GuardedRoutes {
    /// The server functions (`/api/...`) that answer without a live session.
    /// Every other one is guarded; a test enumerates the registered
    /// functions against this list.
    pub public_fns: &'static [&'static str],
    /// The pages that need a live session: an exact path, or a prefix
    /// ending in `*`.
    pub protected_pages: &'static [&'static str],
    /// Where `/` and a signed-in visit of the login page go.
    pub home: &'static str,
}

impl GuardedRoutes {
    pub fn is_public_fn(&self, path: &str) -> bool {
        self.public_fns.contains(&path)
    }

    pub fn is_protected_page(&self, path: &str) -> bool {
        self.protected_pages
            .iter()
            .any(|page| match page.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == *page,
            })
    }
}

impl Deref for Sessions {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Sessions {
    /// Opens the store over `db` (creating its table if missing); on
    /// PostgreSQL it starts hearing changes, so it needs a Tokio runtime.
    pub async fn open(
        settings: &SessionSettings,
        db: Database,
        clock: Clock,
        routes: GuardedRoutes,
    ) -> sqlx::Result<Self> {
        let policy = Policy::new(settings);
        let store = GuardedStore::open(&db.sessions, policy);
        store.sql().migrate().await?;
        Ok(Sessions(Arc::new(Shared {
            policy,
            store,
            clock,
            db,
            routes,
        })))
    }

    /// The sessions inside a server function or a component rendered on the
    /// server.
    pub fn from_context() -> Result<Self, AppError> {
        use_context::<Sessions>().ok_or_else(|| {
            tracing::error!("Sessions missing from the server-function context");
            AppError::Internal
        })
    }

    /// tower-sessions' layer with the policy's cookie: `HttpOnly`,
    /// `SameSite=Lax`, `Path=/`, `Secure` as set, and no `Expires`/`Max-Age`,
    /// so the cookie ends with the browser; the server holds the real
    /// deadlines.
    pub fn layer(&self) -> SessionManagerLayer<GuardedStore> {
        SessionManagerLayer::new(self.store.clone())
            .with_name(self.policy.cookie.name)
            .with_secure(self.policy.cookie.secure)
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_path("/")
            .with_expiry(Expiry::OnSessionEnd)
    }

    /// Deletes ended sessions past the reasons' retention, and older reasons.
    pub async fn sweep(&self) -> sqlx::Result<Swept> {
        endings::sweep(&self.db, &self.policy, self.clock.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_pages_are_exact_or_a_prefix() {
        let routes = GuardedRoutes {
            public_fns: &["/api/sign_in"],
            protected_pages: &["/items", "/items/*", "/sessions"],
            home: "/items",
        };
        for path in ["/items", "/items/new", "/items/1/edit", "/sessions"] {
            assert!(routes.is_protected_page(path), "{path}");
        }
        for path in ["/", "/login", "/itemsx", "/sessions/x", "/pkg/app.js"] {
            assert!(!routes.is_protected_page(path), "{path}");
        }
        assert!(routes.is_public_fn("/api/sign_in"));
        assert!(!routes.is_public_fn("/api/list_items"));
    }
}
