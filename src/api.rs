//! The promise every `/api/` answer keeps, whatever the framework beneath
//! does with bad input: an error is JSON with a reason (`AppError`), never
//! plain text or an empty body, and a path with no server function is a 404.
//!
//! Server functions map their own errors (missing or mistyped fields,
//! invalid UTF-8) through `AppError::from_server_fn_error`; this layer covers
//! what is refused before a function runs: an unknown path, a method the
//! function does not take, a form field it does not take (the framework
//! would ignore it silently), a body in an encoding it does not read.

use std::{
    collections::{HashMap, HashSet},
    sync::LazyLock,
};

use axum::{
    body::Body,
    extract::Request,
    http::{header, Method, StatusCode},
    middleware::Next,
    response::Response,
};

use serde_aux::serde_introspection::serde_introspect;
use server_fn::ServerFn;

use crate::{
    account::{EndOtherSessions, EndSession, ListSessions},
    auth::{SignIn, SignOut},
    error::{http::json_error, AppError},
    items::{CreateItem, ListItems},
    security::{MAX_BODY_BYTES, REQUEST_TIMEOUT},
    session::{ExtendSession, SessionStatus},
};

/// The server functions that answer without a live session; every other
/// one is guarded (`session::server::layers`). A test enumerates the
/// registered functions against this list.
pub const PUBLIC_SERVER_FNS: &[&str] = &[SignIn::PATH, SessionStatus::PATH];

/// Every registered server function, by path and method.
static SERVER_FNS: LazyLock<HashSet<(String, Method)>> = LazyLock::new(|| {
    server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_owned(), method))
        .collect()
});

/// The form fields each server function takes, read from its argument type.
/// A unit test checks that every registered function is here.
static FIELDS: LazyLock<HashMap<&'static str, &'static [&'static str]>> = LazyLock::new(|| {
    HashMap::from([
        (SignIn::PATH, serde_introspect::<SignIn>()),
        (SignOut::PATH, serde_introspect::<SignOut>()),
        (ListItems::PATH, serde_introspect::<ListItems>()),
        (CreateItem::PATH, serde_introspect::<CreateItem>()),
        (SessionStatus::PATH, serde_introspect::<SessionStatus>()),
        (ExtendSession::PATH, serde_introspect::<ExtendSession>()),
        (ListSessions::PATH, serde_introspect::<ListSessions>()),
        (EndSession::PATH, serde_introspect::<EndSession>()),
        (
            EndOtherSessions::PATH,
            serde_introspect::<EndOtherSessions>(),
        ),
    ])
});

pub async fn json_errors(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/api/") {
        return next.run(req).await;
    }
    let known = SERVER_FNS.iter().any(|(p, _)| p == path);
    if !known {
        return json_response(
            StatusCode::NOT_FOUND,
            &AppError::NotFound {
                reason: format!("There is no server function at {path}."),
            },
        );
    }
    if !SERVER_FNS.contains(&(path.to_owned(), req.method().clone())) {
        let allowed: Vec<_> = SERVER_FNS
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, m)| m.as_str())
            .collect();
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &AppError::bad_request(format!(
                "{path} is called with {}, not {}.",
                allowed.join(" or "),
                req.method()
            )),
        );
    }
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let err = if status.is_server_error() {
        AppError::Internal
    } else {
        AppError::bad_request(refusal_reason(status))
    };
    // The status the layer beneath chose stays (413, 408, 415, ...); only
    // the body becomes the contract's JSON.
    let mut json = json_response(status, &err);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

/// Why a layer beneath refused a call, in words: each refusal says its own
/// reason, never another's.
fn refusal_reason(status: StatusCode) -> String {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("The request body is larger than {MAX_BODY_BYTES} bytes.")
        }
        StatusCode::REQUEST_TIMEOUT => format!(
            "The request took longer than {} seconds and was stopped.",
            REQUEST_TIMEOUT.as_secs()
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "malformed request: server functions take a \
             form-encoded body (application/x-www-form-urlencoded)"
            .to_owned(),
        other => format!("The request was refused ({other})."),
    }
}

/// A `POST` to a server function must be form-encoded (any case, any
/// parameters) or empty without a type: else `415`. A form body naming a
/// field its function does not take is refused with 400 and that field;
/// anything else goes on, body intact. It reads the
/// body, so it sits inside the body limit and the request timeout: a body
/// that never arrives times out instead of holding a task.
pub async fn only_known_fields(req: Request, next: Next) -> Response {
    match refuse_unknown_fields(req).await {
        Ok(req) => next.run(req).await,
        Err(res) => res,
    }
}

async fn refuse_unknown_fields(req: Request) -> Result<Request, Response> {
    let Some(fields) = FIELDS.get(req.uri().path()).copied() else {
        return Ok(req);
    };
    if req.method() != Method::POST {
        return Ok(req);
    }
    let media_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| media_type(v.as_bytes()));
    let (mut parts, body) = req.into_parts();
    // The body limit outside makes this fail past MAX_BODY_BYTES.
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &AppError::bad_request(format!(
                    "The request body is larger than {MAX_BODY_BYTES} bytes."
                )),
            )
        })?;
    // A form, or nothing at all (a call without arguments from a plain
    // client); any other encoding would reach a decoder that ignores what
    // it does not know.
    match media_type.as_deref() {
        // Passed on as the framework's decoder expects to read it.
        Some(FORM) => {
            parts
                .headers
                .insert(header::CONTENT_TYPE, header::HeaderValue::from_static(FORM));
        }
        None if bytes.is_empty() => {}
        other => {
            return Err(json_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &AppError::bad_request(format!(
                    "server functions take a form-encoded body ({FORM}), not {}",
                    other.map_or("a body without a Content-Type".to_owned(), |t| {
                        format!("`{t}`")
                    })
                )),
            ));
        }
    }
    let unknown = form_keys(&bytes).find(|key| !fields.contains(&key.as_str()));
    if let Some(key) = unknown {
        let name = parts.uri.path().trim_start_matches("/api/");
        let takes = if fields.is_empty() {
            "no fields".to_owned()
        } else {
            fields.join(", ")
        };
        return Err(json_response(
            StatusCode::BAD_REQUEST,
            &AppError::invalid_field(
                &key,
                format!("malformed request: unknown field `{key}` ({name} takes {takes})"),
            ),
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

const FORM: &str = "application/x-www-form-urlencoded";

/// A Content-Type's media type, without parameters, in lower case (media
/// types are case-insensitive); text that is not ASCII reads as itself.
fn media_type(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let essence = text.split(';').next().unwrap_or_default().trim();
    essence.to_ascii_lowercase()
}

/// The keys of a form body, decoded; pieces that are not UTF-8 are left for
/// the function's own decoding to refuse.
fn form_keys(body: &[u8]) -> impl Iterator<Item = String> + '_ {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let key = pair.split(|b| *b == b'=').next().unwrap_or_default();
            let spaced: Vec<u8> = key
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_decode(&spaced)
        })
}

fn percent_decode(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("{text}="))
        .ok()
        .and_then(|pairs| pairs.into_iter().next().map(|(key, _)| key))
}

/// `err` as JSON, under the status the refusal already has.
fn json_response(status: StatusCode, err: &AppError) -> Response {
    let mut res = json_error(err);
    *res.status_mut() = status;
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_server_function_has_its_fields_listed() {
        for (path, _) in server_fn::axum::server_fn_paths() {
            assert!(FIELDS.contains_key(path), "{path} is missing from FIELDS");
        }
        assert_eq!(FIELDS[CreateItem::PATH], ["title", "description"]);
        assert!(FIELDS[SignOut::PATH].is_empty());
    }

    #[test]
    fn media_types_are_read_without_case_or_parameters() {
        assert_eq!(
            media_type(b"Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            FORM
        );
        assert_eq!(media_type(b" text/plain "), "text/plain");
    }

    #[test]
    fn form_keys_are_decoded() {
        let keys: Vec<_> = form_keys(b"page=1&ti%74le=x&a+b=&&=v").collect();
        assert_eq!(keys, ["page", "title", "a b", ""]);
    }
}
