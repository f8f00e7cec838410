//! The session's own server functions: the passive status and the extend.

use server_fn::codec::GetUrl;

use super::{page::client::GuardClient, SessionReport};
use crate::error::AppError;
use leptos::server;

/// Reports the session's remaining idle and absolute seconds. Public and
/// passive: it works without a session and never counts as activity.
#[server(prefix = "/api", endpoint = "session_status", input = GetUrl, client = GuardClient)]
pub async fn session_status() -> Result<SessionReport, AppError> {
    super::server::guard::public(super::server::guard::status()).await
}

/// Counts as activity: the explicit "Stay signed in" and the page's
/// activity keep-alive. Answers the fresh status.
#[server(prefix = "/api", endpoint = "extend_session", client = GuardClient)]
pub async fn extend_session() -> Result<SessionReport, AppError> {
    super::server::guard::guarded(|live| async move { Ok(live.status()) }).await
}
