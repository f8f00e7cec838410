use std::{io::IsTerminal, process::ExitCode};

use tracing_subscriber::EnvFilter;

/// Each request allocates and frees many small values (session records,
/// JSON, headers) on both worker threads; profiled under load, glibc's
/// malloc spent a tenth of the server's time there, partly waiting on its
/// arena lock.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,tower_sessions=warn,tower_sessions_core=warn,sqlx=warn")
    });
    // Colours only on a terminal: a log file or a pipe gets plain text.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
    session_guard::cli::run().await
}
