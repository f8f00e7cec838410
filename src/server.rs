//! Builds the HTTP application: routes, layers, state. `main` and the
//! integration tests both start the server through [`Application`].

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::extract::ConnectInfo;
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, HeaderValue, Response},
    middleware::from_fn_with_state,
    response::IntoResponse,
    routing::post,
    Router,
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{
        predicate::{DefaultPredicate, Predicate, SizeAbove},
        CompressionLayer, CompressionLevel,
    },
    limit::RequestBodyLimitLayer,
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tracing::Span;

use crate::{
    api,
    app::{shell, App},
    auth::{password, throttle::SignInThrottle},
    clock::Clock,
    config::{ConfigError, Settings},
    db::{self, DbError, SessionPool},
    hosts, proxy, security,
    session::server::{layers, GuardedRoutes, Sessions},
    state::{AppState, Shared},
};

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

/// The Leptos options: from cargo-leptos's environment when built by it,
/// else from `Cargo.toml` (plain `cargo run` / `cargo test`).
///
/// Whether the page's files have content-hashed names is the build's
/// (cargo-leptos passes `LEPTOS_HASH_FILES` to the server's compilation).
pub fn leptos_options() -> Result<LeptosOptions, StartError> {
    let file = option_env!("LEPTOS_OUTPUT_NAME").map_or(Some("Cargo.toml"), |_| None);
    let mut options = leptos::config::get_configuration(file)
        .map(|conf| conf.leptos_options)
        .map_err(|err| StartError::Leptos(err.to_string()))?;
    options.hash_files = option_env!("LEPTOS_HASH_FILES") == Some("true");
    Ok(options)
}

/// Before serving: a build with content-hashed names refuses to start
/// unless the `hash.txt` it wrote is beside the binary and names files that
/// are in the site, else every page would link code that is not there (a
/// binary copied without it, or another build's site). Only serving needs
/// the site: `add-user` runs wherever the operator is.
pub fn check_site(options: &LeptosOptions) -> Result<(), StartError> {
    if options.hash_files {
        check_hashed_files(options)?;
    }
    Ok(())
}

/// Every file `hash.txt` names is in the site's `pkg` directory.
fn check_hashed_files(options: &LeptosOptions) -> Result<(), StartError> {
    let hashes = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&*options.hash_file)))
        .ok_or_else(|| StartError::Leptos("cannot tell where this binary is".to_owned()))?;
    let text = std::fs::read_to_string(&hashes).map_err(|err| {
        StartError::Leptos(format!(
            "this build names the page's files by their hashes, listed in {}, which cannot be \
             read ({err}): keep the hash.txt the build wrote beside the binary",
            hashes.display()
        ))
    })?;
    let pkg = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    for (kind, hash) in text.lines().filter_map(|line| line.split_once(':')) {
        let name = format!("{}.{}.{}", options.output_name, hash.trim(), kind.trim());
        if !pkg.join(&name).is_file() {
            return Err(StartError::Leptos(format!(
                "{} names {name}, which is not in {}: the site is another build's; build again \
                 (LEPTOS_HASH_FILES=true cargo leptos build --release --precompress)",
                hashes.display(),
                pkg.display()
            )));
        }
    }
    Ok(())
}

/// How long browsers keep the page's code and style: a year when their
/// names carry their content's hash (a new build, a new name), else they
/// ask again each time (and get 304 while unchanged).
fn pkg_cache_control(options: &LeptosOptions) -> HeaderValue {
    HeaderValue::from_static(if options.hash_files {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    })
}

/// The page's code and style (`/pkg/`): the brotli or gzip file the build
/// wrote beside each (`cargo leptos build --release --precompress`) when
/// the browser takes it, with `Vary: Accept-Encoding` (ServeDir sends
/// none, and a shared cache must not hand brotli to a browser that did not
/// ask for it); cached as [`pkg_cache_control`] says, successful answers
/// only.
fn pkg_files(options: &LeptosOptions) -> Router<AppState> {
    let dir = std::path::Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let cache = pkg_cache_control(options);
    let files = ServeDir::new(dir).precompressed_br().precompressed_gzip();
    Router::new().fallback_service(
        tower::ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::overriding(
                header::CACHE_CONTROL,
                move |res: &Response<_>| res.status().is_success().then(|| cache.clone()),
            ))
            .layer(SetResponseHeaderLayer::overriding(
                header::VARY,
                HeaderValue::from_static("accept-encoding"),
            ))
            .service(files),
    )
}

/// Pages and server-function answers compressed with brotli or gzip, as
/// the browser asks, from 1 KiB up (below that the framing costs more than
/// it saves); a quick level, since each answer is compressed as it is
/// sent. Files already compressed (`/pkg/`) are sent as they are.
fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .quality(CompressionLevel::Precise(4))
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(1024)))
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

/// Deletes ended sessions and old reasons every minute, gives older
/// session records their user's id, forgets sign-in counts that have
/// refilled, and measures the database's clock again (PostgreSQL: see
/// `clock`).
pub fn spawn_sweeper(state: &AppState) {
    let db = state.db.clone();
    let clock = state.clock.clone();
    let throttle = state.throttle.clone();
    let sessions = state.sessions.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(err) = throttle.prune().await {
                tracing::warn!(error = %err, "cannot prune sign-in counts");
            }
            if let Err(err) = db::follow_database_clock(&db, &clock).await {
                tracing::warn!(error = %err, "cannot read the database's clock");
            }
            // Records from an older version, still running during a
            // rolling deploy, name no user until this fills it in.
            match sessions.store.sql().fill_in_owners().await {
                Ok(0) => {}
                Ok(filled) => tracing::info!(sessions = filled, "filled in sessions' users"),
                Err(err) => tracing::warn!(error = %err, "cannot fill in sessions' users"),
            }
            match sessions.sweep().await {
                Ok(swept) if swept.sessions + swept.endings > 0 => {
                    tracing::info!(
                        sessions = swept.sessions,
                        reasons = swept.endings,
                        "swept ended sessions"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "session sweep failed"),
            }
        }
    });
}

/// How long a client may take to send a request's line and headers, from
/// the moment it connects or its previous answer was sent; a client that
/// trickles them, or sends nothing, is cut off then. (The 30 s request
/// timeout starts only once they have arrived.)
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections open at once, at most; past it new ones wait in the listen
/// backlog until one closes. Lowered to what the process may open, less a
/// reserve for the database and files ([`connection_cap`]).
pub const MAX_CONNECTIONS: usize = 4096;

/// The connection cap for this process: [`MAX_CONNECTIONS`], or fewer when
/// the open-files limit is lower (1,024 is a common default), so that the
/// cap is reached before accepting fails for want of descriptors.
pub fn connection_cap() -> usize {
    const RESERVE: u64 = 128;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given.
    let known = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    if !known {
        return MAX_CONNECTIONS;
    }
    let usable = limit.rlim_cur.saturating_sub(RESERVE).max(64);
    MAX_CONNECTIONS.min(usize::try_from(usable).unwrap_or(MAX_CONNECTIONS))
}

/// A server bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    pub state: AppState,
    serving: db::ServingLock,
}

impl Application {
    pub async fn build(
        settings: Settings,
        leptos: LeptosOptions,
        clock: Clock,
    ) -> Result<Self, StartError> {
        let addr = leptos.site_addr;
        let serving = db::ServingLock::acquire(&settings.database_url)?;
        let state = state(settings, leptos, clock).await?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Listen { addr, source })?;
        password::warm_up().await;
        Ok(Application {
            listener,
            state,
            serving,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub async fn run(self) -> std::io::Result<()> {
        // Held until the server stops (or its task is dropped).
        let _serving = self.serving;
        spawn_sweeper(&self.state);
        let app = router(self.state);
        let slots = Arc::new(Semaphore::new(connection_cap()));
        let graceful = GracefulShutdown::new();
        // HTTP/1.1 only (a proxy in front speaks it to its upstreams): the
        // header timer then runs from the connection's first moment and
        // between requests, so a silent or idle connection is closed too.
        // (hyper-util's auto builder first waits, with no timer, to learn
        // the version: a silent client would hold its slot for ever.)
        let mut connections = http1::Builder::new();
        connections
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        let stop = tokio::signal::ctrl_c();
        tokio::pin!(stop);
        loop {
            // At the cap, new connections wait in the listen backlog.
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot,
                _ = &mut stop => break,
            };
            let Ok(slot) = slot else { break };
            let (tcp, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors, or a connection reset
                        // before it was accepted: try again shortly.
                        tracing::warn!(error = %err, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut stop => break,
            };
            // Each answer leaves at once: without TCP_NODELAY a response
            // written in two parts can wait for the client's delayed ACK.
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "cannot set TCP_NODELAY");
            }
            // The peer's address reaches sign-in throttling as axum's
            // ConnectInfo, as axum::serve would put it there.
            let app = app.clone();
            let service = tower::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req)
            });
            let connection =
                connections.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                drop(slot);
            });
        }
        // Open connections finish the requests they have, for a while.
        tokio::select! {
            _ = graceful.shutdown() => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
        Ok(())
    }
}
