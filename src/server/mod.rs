//! Builds the HTTP application: routes, layers, state. `main` and the
//! integration tests both start the server through [`Application`].
//!
//! - `site`: the Leptos options and the page's files under `/pkg/`;
//! - `serve`: [`Application`], serving connections;
//! - `sweeper`: the work done every minute beside the requests.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{Request, State},
    http::Response,
    middleware::from_fn_with_state,
    response::IntoResponse,
    routing::post,
    Router,
};
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower_http::{
    catch_panic::CatchPanicLayer, limit::RequestBodyLimitLayer, set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer, trace::TraceLayer,
};
use tracing::Span;

use crate::{
    api,
    app::{shell, App},
    auth::throttle::SignInThrottle,
    clock::Clock,
    config::{ConfigError, Settings},
    db::{self, DbError, SessionPool},
    hosts, proxy, security,
    session::server::{layers, GuardedRoutes, Sessions},
    state::{AppState, Shared},
};

mod serve;
mod site;
mod sweeper;

pub use serve::{connection_cap, Application, HEADER_READ_TIMEOUT, MAX_CONNECTIONS};
pub use site::{check_site, leptos_options};
use site::{compression, pkg_files};
pub use sweeper::spawn_sweeper;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot prepare the session store: {0}")]
    Store(sqlx::Error),
    #[error("Leptos configuration: {0}")]
    Leptos(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Opens the database and builds the shared state.
pub async fn state(
    settings: Settings,
    leptos: LeptosOptions,
    clock: Clock,
) -> Result<AppState, StartError> {
    let db = db::connect(&settings.database_url).await?;
    db::follow_database_clock(&db, &clock)
        .await
        .map_err(DbError::Connect)?;
    let sessions = Sessions::open(&settings.session, db.clone(), clock.clone(), GUARDED)
        .await
        .map_err(StartError::Store)?;
    // Shared by the instances on PostgreSQL; one server's on SQLite.
    let throttle = match &db.sessions {
        SessionPool::Postgres(_) => {
            SignInThrottle::shared(db::throttle_pool(&settings.database_url)?)
        }
        SessionPool::Sqlite(_) => SignInThrottle::default(),
    };
    Ok(AppState::new(Shared {
        settings,
        leptos,
        db,
        clock,
        sessions,
        throttle,
        verifications: Default::default(),
    }))
}

/// What the session guard protects: the pages that need a live session and
/// the server functions that do not.
const GUARDED: GuardedRoutes = GuardedRoutes {
    public_fns: api::PUBLIC_SERVER_FNS,
    protected_pages: &["/items", "/items/*", "/sessions"],
    home: "/items",
};

/// The app's routes (its pages), found once per process. Finding them renders the app
/// with resource loading suppressed through a process-global flag, and a
/// resource first polled meanwhile by a request to another server in the same
/// process waits forever (leptos-rs/leptos#4773): the integration tests run
/// many servers at once, and hung one page in a dozen runs before this.
pub fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::Mutex<Option<Vec<leptos_axum::AxumRouteListing>>> =
        std::sync::Mutex::new(None);
    let mut routes = ROUTES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    routes
        .get_or_insert_with(|| generate_route_list(App))
        .clone()
}

/// The whole HTTP application for `state`.
pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let session_layer = state.sessions.layer();
    let context = {
        let state = state.clone();
        move || provide_state(&state)
    };
    let app = Router::new()
        .route(
            "/api/{*fn_name}",
            post(server_fn_handler).get(server_fn_handler),
        )
        .nest("/pkg", pkg_files(&state.leptos))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let options = state.leptos.clone();
            move || shell(options.clone())
        })
        // A path the axum routes do not name exactly (`/sessions/`) may still
        // be a page to the app's router: rendered with the same context as
        // the routes above, never without it.
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context.clone(), shell));
    #[cfg(feature = "test-hooks")]
    let app = if state.settings.test_hooks {
        tracing::warn!("test hooks are on: the server's clock can be moved over HTTP");
        app.merge(crate::session::server::test_hooks::routes())
    } else {
        app
    };
    let mut app = app
        .layer(from_fn_with_state(state.clone(), layers::page_layer))
        // Inside the guard: a call without a live session is refused 401
        // whatever its body, and learns nothing of the functions' fields.
        .layer(axum::middleware::from_fn(api::only_known_fields))
        .layer(from_fn_with_state(state.clone(), layers::api_layer))
        .layer(session_layer)
        // Removals of the session cookie with the attributes it was set
        // with (tower-sessions 0.14 leaves `Secure` off them).
        .layer(from_fn_with_state(
            state.sessions.clone(),
            crate::session::server::removals::layer,
        ))
        // Before any session work: a cross-origin post never touches a session.
        .layer(from_fn_with_state(
            state.clone(),
            security::same_origin_only,
        ))
        // Only the hosts this server serves: a rebinding name is refused
        // before its Origin is compared with it.
        .layer(from_fn_with_state(
            Arc::new(state.settings.allowed_hosts.clone()),
            hosts::layer,
        ))
        // The client's address, behind the trusted proxies, for everything
        // inside (the throttle, the logs, the sessions page).
        .layer(from_fn_with_state(
            Arc::new(state.settings.trusted_proxies.clone()),
            proxy::layer,
        ))
        .layer(RequestBodyLimitLayer::new(security::MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            security::REQUEST_TIMEOUT,
        ))
        // A bug that panics answers 500 (and is logged) instead of dropping
        // the connection.
        .layer(CatchPanicLayer::new())
        // Outside the limits and the panic catcher, so that their refusals
        // of /api/ calls are JSON too.
        .layer(axum::middleware::from_fn(api::json_errors));
    // Outside everything above, so refusals (401, 403, 408, 413) carry them too.
    app = app.layer(axum::middleware::from_fn(security::no_store));
    let https = state
        .settings
        .public_url
        .as_ref()
        .is_some_and(|url| url.is_https());
    for (name, value) in security::common_headers(https) {
        app = app.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    let app = app
        .layer(compression())
        .layer(
            TraceLayer::new_for_http()
                // Path only: query strings and headers (cookies) stay out of the log.
                // The client's address is filled in by `proxy::layer`, which
                // knows it once the trusted proxies have been read.
                .make_span_with(|req: &Request<Body>| {
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        client = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(|res: &Response<Body>, latency: Duration, _span: &Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_millis() as u64,
                        "served"
                    );
                })
                .on_failure(()),
        )
        .with_state(state.clone());
    #[cfg(feature = "test-hooks")]
    if state.settings.test_hooks {
        // It rewrites the path, so it goes around the whole router: a
        // router's own layers run after routing.
        return Router::new().fallback_service(tower::Layer::layer(
            &from_fn_with_state(
                state.sessions.clone(),
                crate::session::server::test_hooks::baseline,
            ),
            app,
        ));
    }
    app
}

async fn server_fn_handler(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(move || provide_state(&state), req).await
}

/// What server functions and server-rendered components reach through
/// Leptos' context: the app's state, and the sessions' own.
fn provide_state(state: &AppState) {
    provide_context(state.clone());
    provide_context(state.sessions.clone());
}
