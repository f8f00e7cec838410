//! The site a server serves besides its pages: the Leptos options, the
//! check that a hashed build's files are there, and the page's code and
//! style under `/pkg/` with their caching and compression.

use axum::{
    http::{header, HeaderValue, Response},
    Router,
};
use leptos::prelude::LeptosOptions;
use tower_http::{
    compression::{
        predicate::{DefaultPredicate, Predicate, SizeAbove},
        CompressionLayer, CompressionLevel,
    },
    services::ServeDir,
    set_header::SetResponseHeaderLayer,
};

use super::StartError;
use crate::state::AppState;

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
pub(super) fn pkg_files(options: &LeptosOptions) -> Router<AppState> {
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
pub(super) fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .quality(CompressionLevel::Precise(4))
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(1024)))
}
