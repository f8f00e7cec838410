//! Serving connections: HTTP/1.1 with a header-read timeout and a cap on
//! open connections (which `axum::serve` does not offer), the peer's
//! address for the proxies' rules, and a graceful stop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::extract::{ConnectInfo, Request};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use leptos::prelude::LeptosOptions;
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

use super::{router, spawn_sweeper, state, StartError};
use crate::{auth::password, clock::Clock, config::Settings, db, state::AppState};

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
