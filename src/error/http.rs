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

/// Whether a `POST` comes from a plain HTML form (a page without
/// JavaScript): one that [`asks_for_html`].
pub fn is_html_form_post(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST && asks_for_html(headers)
}

/// Whether a request's `Accept` names the media type `text/html` (any case,
/// with parameters) with a quality above zero. A substring is not enough:
/// `application/xhtml+xml` or `text/html-fragment` are other types, and
/// `text/html;q=0` says HTML is not wanted.
pub fn asks_for_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(','))
        .any(accepts_html)
}

/// One media range of `Accept`: `text/html` with a quality above zero.
fn accepts_html(range: &str) -> bool {
    let mut parts = range.split(';').map(str::trim);
    let named = parts
        .next()
        .is_some_and(|media| media.eq_ignore_ascii_case("text/html"));
    let refused = parts.any(|param| {
        param
            .split_once('=')
            .filter(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .and_then(|(_, q)| q.trim().parse::<f32>().ok())
            .is_some_and(|q| q <= 0.0)
    });
    named && !refused
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

#[cfg(test)]
mod tests {
    use super::*;

    fn form_post(accept: &'static str) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        is_html_form_post(&Method::POST, &headers)
    }

    #[test]
    fn a_form_post_is_told_by_the_media_type_html() {
        for accept in [
            "text/html",
            "TEXT/HTML",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "application/json, text/html;q=0.5",
            "text/html; charset=utf-8",
        ] {
            assert!(form_post(accept), "{accept}");
        }
        for accept in [
            "application/json",
            "application/xhtml+xml",
            "text/html-fragment",
            "application/json, text/html;q=0",
            "text/htmlx",
            "*/*",
        ] {
            assert!(!form_post(accept), "{accept}");
        }
        assert!(!is_html_form_post(&Method::GET, &{
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
            h
        }));
    }
}
