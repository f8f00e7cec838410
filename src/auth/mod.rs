//! Signing in and out.
//!
//! Both are server functions at stable paths (`/api/sign_in`, `/api/sign_out`)
//! used by plain HTML forms, so they work with and without JavaScript.
//! Sign-in is public; sign-out is guarded like everything else.

use leptos::server;

use crate::error::AppError;
use crate::session::page::client::GuardClient;

mod components;
mod username;

#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
pub mod throttle;
#[cfg(feature = "ssr")]
pub mod users;

pub use crate::session::redirect::{login_url, safe_next};
pub use components::{LoginPage, SignOutButton};
pub use username::{InvalidUsername, Username};

/// Checks the credentials and starts a fresh session (new id). With `next`
/// (the login form always sends it) the browser goes there when it is a
/// same-site path, else to `/items`; without it (the in-place sign-in over an
/// open page) nothing is redirected.
#[server(prefix = "/api", endpoint = "sign_in", client = GuardClient)]
pub async fn sign_in(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), AppError> {
    crate::session::server::guard::public(backend::sign_in(username, password, next)).await
}

/// Ends the session on the server (the record is deleted, the cookie
/// dropped) and goes to the login page.
#[server(prefix = "/api", endpoint = "sign_out", client = GuardClient)]
pub async fn sign_out() -> Result<(), AppError> {
    crate::session::server::guard::guarded(|_live| backend::sign_out()).await
}

#[cfg(feature = "ssr")]
pub use backend::{client_address, confirm_password};

#[cfg(feature = "ssr")]
mod backend {
    use super::*;
    use crate::auth::throttle::{Client, Denied, Who};
    use crate::proxy::ClientAddr;
    use crate::session::{
        server::{check, devices::Origin, guard, Sessions},
        EndReason,
    };
    use crate::state::AppState;
    use std::net::IpAddr;

    pub async fn sign_in(
        username: String,
        password: String,
        next: Option<String>,
    ) -> Result<(), AppError> {
        let state = AppState::from_context()?;
        let addr = client_address();
        let Some(user) = verify(&state, &username, password, addr, "sign-in").await? else {
            return Err(AppError::InvalidCredentials);
        };
        let (session, cookies) = guard::request_session_from_context()?;
        let origin = Origin::of(user_agent().as_deref(), addr);
        let sessions = Sessions::from_context()?;
        check::start(
            &sessions,
            &session,
            &cookies,
            user.id,
            &user.username,
            origin,
        )
        .await?;
        tracing::info!(username = user.username.as_str(), user_id = user.id, client = %addr, "signed in");
        if let Some(next) = next {
            let target = safe_next(&next).unwrap_or_else(|| "/items".to_owned());
            leptos_axum::redirect(&target);
        }
        Ok(())
    }

    /// Asks a signed-in user for their password again before an action that
    /// cannot be undone (ending their other sessions). It counts against the
    /// sign-in throttle like a sign-in, so a stolen session cannot guess the
    /// password faster than a stranger could.
    pub async fn confirm_password(
        state: &AppState,
        username: &str,
        password: String,
    ) -> Result<(), AppError> {
        let addr = client_address();
        match verify(state, username, password, addr, "password confirmation").await? {
            Some(_) => Ok(()),
            None => Err(AppError::WrongPassword),
        }
    }

    /// Checks `password` for `username`: the user when it is right, none when
    /// it is wrong (the same for an unknown name), an error when it could not
    /// be checked (throttled, too busy, the database out of reach). `what`
    /// names the attempt in the log.
    async fn verify(
        state: &AppState,
        username: &str,
        password: String,
        addr: IpAddr,
        what: &str,
    ) -> Result<Option<users::User>, AppError> {
        let who = Who::of(username);
        // Logged as the throttle counts it: a name that parses, never
        // whatever else was submitted (ASVS 7.2.1, without log injection).
        let logged = match &who {
            Who::Name(name) => name.as_str(),
            Who::Unparsed => "(not a username)",
        };
        let attempt = match state.throttle.begin(who.clone(), Client::of(addr)).await {
            Ok(attempt) => attempt,
            Err(Denied::Throttled { wait }) => {
                tracing::warn!(username = logged, client = %addr, "{what} throttled");
                return Err(too_many(wait));
            }
            Err(Denied::Busy) => {
                tracing::warn!(username = logged, client = %addr, "{what} refused: no place among the verifications");
                return Err(AppError::Busy {
                    retry_after_secs: 1,
                });
            }
            Err(Denied::Unavailable(err)) => return Err(err.into()),
        };
        // An invalid name still costs a full verification: no timing hint.
        let checked = async {
            let user = match Username::parse(username.trim()) {
                Ok(name) => users::find(&state.db.pool, &name).await?,
                Err(_) => None,
            };
            let stored = user.as_ref().map(|u| u.password_hash.clone());
            let verified = password::verify(&state.verifications, stored, password).await?;
            Ok::<_, AppError>((verified, user))
        };
        let (verified, user) = match checked.await {
            Ok(checked) => checked,
            // Never verified (the database out of reach): the attempt is
            // given back, so an outage locks nobody out.
            Err(err) => {
                attempt.give_back().await;
                return Err(err);
            }
        };
        let (true, Some(user)) = (verified, user) else {
            tracing::warn!(username = logged, client = %addr, "{what} failed");
            return Ok(None);
        };
        attempt.give_back().await;
        Ok(Some(user))
    }

    fn too_many(wait: std::time::Duration) -> AppError {
        // Whole seconds, rounded up: never "try again in 0 seconds".
        AppError::too_many_attempts(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    }

    /// The client's address: the peer's, or behind a trusted proxy the one
    /// it forwarded (`proxy`). Behind a proxy not named in
    /// `TRUSTED_PROXIES` this is the proxy's: throttling then counts per
    /// proxy, which is stricter, never looser.
    pub fn client_address() -> IpAddr {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<ClientAddr>().copied())
            .map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |client| {
                client.0
            })
    }

    /// The request's User-Agent, if it sent a readable one.
    fn user_agent() -> Option<String> {
        leptos::prelude::use_context::<http::request::Parts>().and_then(|parts| {
            parts
                .headers
                .get(http::header::USER_AGENT)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        })
    }

    pub async fn sign_out() -> Result<(), AppError> {
        let sessions = Sessions::from_context()?;
        let (session, cookies) = guard::request_session_from_context()?;
        check::sign_out(&sessions, &session, &cookies).await?;
        // The session this call checked has just ended: no time is left.
        if let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            res.insert_header(
                http::HeaderName::from_static(crate::session::IDLE_REMAINING_HEADER),
                http::HeaderValue::from(0),
            );
        }
        leptos_axum::redirect(&login_url(Some(EndReason::SignedOut), None));
        Ok(())
    }
}
