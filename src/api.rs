//! The promise every `/api/` answer keeps, whatever the framework beneath
//! does with bad input: an error is JSON with a reason (`AppError`), never
//! plain text or an empty body, and a path with no server function is a 404.
//!
//! Server functions map their own errors (missing or mistyped fields,
//! invalid UTF-8) through `AppError::from_server_fn_error`; this layer covers
//! what is refused before a function runs: an unknown path, a method the
//! function does not take, a body in an encoding it does not read.

use std::{collections::HashSet, sync::LazyLock};

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};

use server_fn::error::FromServerFnError;

use crate::error::AppError;

/// Every registered server function, by path and method.
static SERVER_FNS: LazyLock<HashSet<(String, Method)>> = LazyLock::new(|| {
    server_fn::axum::server_fn_paths()
        .map(|(path, method)| (path.to_owned(), method))
        .collect()
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
        AppError::bad_request(format!(
            "malformed request: server functions take a form-encoded body \
             (application/x-www-form-urlencoded); this one was refused with {status}"
        ))
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

fn json_response(status: StatusCode, err: &AppError) -> Response {
    let mut res = Response::new(Body::from(err.ser()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
