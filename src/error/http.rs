//! How an [`AppError`] is answered over HTTP (server only): the status and
//! headers a server function's answer gets, the JSON a layer answers with
//! when it refuses a call before any function runs, and the plain page for a
//! page request that failed. Every answer of the app that carries an error
//! goes through here.

use axum::{
    body::Body,
    http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use server_fn::error::FromServerFnError;

use super::AppError;
use crate::session::{EndReason, END_REASON_HEADER, IDLE_REMAINING_HEADER};

/// Gives the current server-function response the status of `err`.
///
/// A plain HTML form post (no JavaScript) is left alone: the framework sends
/// it back to the form's page with the error in the URL, which a 4xx status
/// would break.
pub fn set_error_status(err: &AppError) {
    let Some(res) = use_context::<ResponseOptions>() else {
        return;
    };
    let form_post = use_context::<Parts>()
        .map(|parts| is_html_form_post(&parts.method, &parts.headers))
        .unwrap_or(false);
    if form_post {
        return;
    }
    if let Ok(code) = StatusCode::from_u16(err.status()) {
        res.set_status(code);
    }
    if let AppError::TooManyAttempts {
        retry_after_secs, ..
    }
    | AppError::Busy { retry_after_secs } = err
    {
        res.insert_header(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
    }
    if let AppError::SessionExpired { reason } = err {
        res.insert_header(
            HeaderName::from_static(END_REASON_HEADER),
            HeaderValue::from_static(reason.as_str()),
        );
        res.insert_header(
            HeaderName::from_static(IDLE_REMAINING_HEADER),
            HeaderValue::from(0),
        );
    }
}

pub fn is_html_form_post(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"))
}

/// The typed 401 of the contract: JSON reason, never a redirect.
pub fn expired_response(reason: EndReason) -> Response {
    let mut res = json_error(&AppError::SessionExpired { reason });
    res.headers_mut()
        .insert(END_REASON_HEADER, HeaderValue::from_static(reason.as_str()));
    res.headers_mut()
        .insert(IDLE_REMAINING_HEADER, HeaderValue::from(0));
    res
}

/// Any [`AppError`] as the JSON body a server function would have answered.
pub fn json_error(err: &AppError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = Response::new(Body::from(err.ser()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

pub fn error_page(err: &AppError) -> Response {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>session-guard</title></head>\
         <body><main><h1>Sorry</h1><p role=\"alert\">{err}</p><p><a href=\"/items\">Try again</a></p></main></body></html>"
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}
