//! A TCP relay between the server and PostgreSQL that a test can cut and
//! restore, to see what users get while the database is unreachable.
//!
//! Cutting closes the listening socket and every relayed connection, so the
//! server sees exactly what a stopped database gives: refused connections.

use std::net::SocketAddr;

use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};

pub struct CuttableProxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    relay: Option<JoinHandle<()>>,
}

impl CuttableProxy {
    pub async fn start(upstream: SocketAddr) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        CuttableProxy {
            addr,
            upstream,
            relay: Some(tokio::spawn(relay(listener, upstream))),
        }
    }

    /// The database becomes unreachable: open connections break, new ones
    /// are refused.
    pub fn cut(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.abort();
        }
    }

    /// The database is back, on the same address.
    pub async fn restore(&mut self) {
        self.cut();
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.relay = Some(tokio::spawn(relay(listener, self.upstream)));
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Accepts and relays until aborted; aborting drops the listener and, through
/// the `JoinSet`, every connection task.
async fn relay(listener: TcpListener, upstream: SocketAddr) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((mut inbound, _)) = listener.accept().await {
        connections.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
