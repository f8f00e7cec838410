//! The one error type every server function returns.
//!
//! It travels as JSON (`{"error": "...", "reason": ...}`) so that a client, the
//! page or a test can tell a session that ended from bad input or an outage
//! without parsing HTML. On the server, [`AppError::status`] decides the HTTP
//! status and [`http`] how each error is answered.

use serde::{Deserialize, Serialize};
use server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};

use crate::session::EndReason;

#[cfg(feature = "ssr")]
pub mod http;

/// Everything a server function can answer instead of its value.
///
/// Written as an internally tagged enum; read back through [`Wire`], a flat
/// record of the same fields, because serde's tagged-enum reader buffers
/// every value first and cost the page's wasm several times as much code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case", try_from = "Wire")]
pub enum AppError {
    /// No live session: the request is refused with 401 and why.
    #[error("{}", reason.message())]
    SessionExpired { reason: EndReason },
    /// Sign-in failed. The same text for an unknown user and a wrong password.
    #[error("Invalid username or password")]
    InvalidCredentials,
    /// A signed-in user confirming an action gave a wrong password: 403,
    /// and nothing was done.
    #[error("That password is not right. Nothing was signed out.")]
    WrongPassword,
    /// Too many failed sign-ins from this address (for this user): 429 with
    /// `Retry-After`; the same answer whether the password was right.
    #[error("{reason}")]
    TooManyAttempts {
        reason: String,
        retry_after_secs: u64,
    },
    /// The input was not acceptable; `field` names the form field when there is one.
    #[error("{reason}")]
    BadRequest {
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        field: Option<String>,
    },
    /// Refused whatever the session: a cross-site request.
    #[error("{reason}")]
    Forbidden { reason: String },
    /// The thing asked for does not exist (for this user).
    #[error("{reason}")]
    NotFound { reason: String },
    /// The database or another dependency is out of reach; retrying later can work.
    #[error("The service is temporarily unavailable. Please try again in a moment.")]
    Unavailable,
    /// Too much work queued (sign-ins being verified): 503 with
    /// `Retry-After`; retrying after that can work.
    #[error("The server is busy. Please try again in a moment.")]
    Busy { retry_after_secs: u64 },
    /// A bug or an unexpected failure on the server. Details go to the log, not the client.
    #[error("Something went wrong on the server.")]
    Internal,
    /// The request never got an answer (client side only: offline, server down).
    #[error("Could not reach the server: {reason}")]
    Network { reason: String },
}

impl AppError {
    pub fn bad_request(reason: impl Into<String>) -> Self {
        AppError::BadRequest {
            reason: reason.into(),
            field: None,
        }
    }

    pub fn too_many_attempts(retry_after_secs: u64) -> Self {
        AppError::TooManyAttempts {
            reason: format!(
                "Too many failed sign-ins. Try again in {retry_after_secs} second{}.",
                if retry_after_secs == 1 { "" } else { "s" }
            ),
            retry_after_secs,
        }
    }

    pub fn invalid_field(field: &str, reason: impl Into<String>) -> Self {
        AppError::BadRequest {
            reason: reason.into(),
            field: Some(field.to_owned()),
        }
    }

    /// The message to show beside a form field, when this error is about that field.
    pub fn field_message(&self, name: &str) -> Option<String> {
        match self {
            AppError::BadRequest {
                reason,
                field: Some(field),
            } if field == name => Some(reason.clone()),
            _ => None,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::SessionExpired { .. } | AppError::InvalidCredentials => 401,
            AppError::BadRequest { .. } => 400,
            AppError::Forbidden { .. } | AppError::WrongPassword => 403,
            AppError::NotFound { .. } => 404,
            AppError::TooManyAttempts { .. } => 429,
            AppError::Unavailable | AppError::Busy { .. } => 503,
            AppError::Internal | AppError::Network { .. } => 500,
        }
    }
}

/// The JSON of any [`AppError`]: the tag and whichever fields its variant has.
#[derive(Deserialize)]
struct Wire {
    error: String,
    reason: Option<String>,
    field: Option<String>,
    retry_after_secs: Option<u64>,
}

impl TryFrom<Wire> for AppError {
    type Error = String;

    fn try_from(wire: Wire) -> Result<Self, String> {
        let Wire {
            error,
            reason,
            field,
            retry_after_secs,
        } = wire;
        let reason = || {
            reason
                .clone()
                .ok_or_else(|| format!("{error}: missing `reason`"))
        };
        Ok(match error.as_str() {
            "session_expired" => AppError::SessionExpired {
                reason: EndReason::try_from(reason()?)?,
            },
            "invalid_credentials" => AppError::InvalidCredentials,
            "wrong_password" => AppError::WrongPassword,
            "too_many_attempts" => AppError::TooManyAttempts {
                reason: reason()?,
                retry_after_secs: retry_after_secs
                    .ok_or_else(|| format!("{error}: missing `retry_after_secs`"))?,
            },
            "bad_request" => AppError::BadRequest {
                reason: reason()?,
                field,
            },
            "forbidden" => AppError::Forbidden { reason: reason()? },
            "not_found" => AppError::NotFound { reason: reason()? },
            "unavailable" => AppError::Unavailable,
            "busy" => AppError::Busy {
                retry_after_secs: retry_after_secs
                    .ok_or_else(|| format!("{error}: missing `retry_after_secs`"))?,
            },
            "internal" => AppError::Internal,
            "network" => AppError::Network { reason: reason()? },
            other => return Err(format!("unknown error `{other}`")),
        })
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let err = match value {
            // Undecodable arguments are the caller's fault: a 400 with the reason.
            ServerFnErrorErr::Args(reason) | ServerFnErrorErr::Deserialization(reason) => {
                AppError::bad_request(format!("malformed request: {reason}"))
            }
            ServerFnErrorErr::MissingArg(name) => {
                AppError::bad_request(format!("missing argument {name}"))
            }
            ServerFnErrorErr::Request(reason) => AppError::Network { reason },
            other => {
                // Logged on the server only: the browser has no log to keep.
                #[cfg(feature = "ssr")]
                tracing::error!(error = %other, "server function failed");
                #[cfg(not(feature = "ssr"))]
                let _ = other;
                AppError::Internal
            }
        };
        // Errors raised by the framework (bad arguments) never pass through our
        // guard, so they set their status here, where they are made.
        #[cfg(feature = "ssr")]
        http::set_error_status(&err);
        err
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %err, "database unavailable");
                AppError::Unavailable
            }
            // The database ended the connection (a restart, an administrator)
            // or cannot take one now: unavailable, not a fault of the request.
            sqlx::Error::Database(ref db)
                if db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")) =>
            {
                tracing::warn!(error = %err, "database connection ended");
                AppError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "database error");
                AppError::Internal
            }
        }
    }
}

#[cfg(feature = "ssr")]
impl From<tower_sessions::session::Error> for AppError {
    fn from(err: tower_sessions::session::Error) -> Self {
        tracing::warn!(error = %err, "session store error");
        AppError::Unavailable
    }
}

#[cfg(feature = "ssr")]
impl From<tower_sessions::session_store::Error> for AppError {
    fn from(err: tower_sessions::session_store::Error) -> Self {
        tracing::warn!(error = %err, "session store error");
        AppError::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_expired_carries_a_top_level_reason() {
        let json = serde_json::to_value(AppError::SessionExpired {
            reason: EndReason::Idle,
        })
        .unwrap();
        assert_eq!(json["reason"], "idle");
        assert_eq!(json["error"], "session_expired");
    }

    #[test]
    fn every_error_reads_back_as_written() {
        for err in [
            AppError::SessionExpired {
                reason: EndReason::SignedOut,
            },
            AppError::InvalidCredentials,
            AppError::WrongPassword,
            AppError::too_many_attempts(30),
            AppError::bad_request("no"),
            AppError::invalid_field("page", "not a page"),
            AppError::Forbidden { reason: "x".into() },
            AppError::NotFound { reason: "y".into() },
            AppError::Unavailable,
            AppError::Busy {
                retry_after_secs: 1,
            },
            AppError::Internal,
            AppError::Network { reason: "z".into() },
        ] {
            let json = serde_json::to_string(&err).unwrap();
            assert_eq!(
                serde_json::from_str::<AppError>(&json).unwrap(),
                err,
                "{json}"
            );
        }
    }

    #[test]
    fn incomplete_or_unknown_errors_are_refused() {
        for json in [
            r#"{"error":"session_expired"}"#,
            r#"{"error":"session_expired","reason":"nap"}"#,
            r#"{"error":"too_many_attempts","reason":"slow down"}"#,
            r#"{"error":"bad_request"}"#,
            r#"{"error":"teapot"}"#,
            r#"{"reason":"idle"}"#,
        ] {
            assert!(serde_json::from_str::<AppError>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn errors_round_trip_through_the_wire_encoding() {
        let err = AppError::invalid_field("title", "Title is required");
        let back = AppError::de(err.ser());
        assert_eq!(back, err);
        assert_eq!(
            back.field_message("title").as_deref(),
            Some("Title is required")
        );
        assert_eq!(back.field_message("description"), None);
    }
}
