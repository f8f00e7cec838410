//! Pagination at scale: the median time of page 1, the middle page and the
//! last page of a 1,000,000-item user, served over HTTP by the same server,
//! and the ratio last/first (goal: under 1.5). Run with
//! `cargo bench --features ssr --bench pages`.
//!
//! Ratios measured in one run, never absolute thresholds: the machine's speed
//! changes the times, not the ratio.

// The tests' helpers, of which the benchmark uses a few.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

const ITEMS: u64 = 1_000_000;
const ROUNDS: usize = 300;

#[tokio::main]
async fn main() {
    let app = common::spawn_app().await;
    let started = Instant::now();
    let id = app.add_user("million", "pw").await;
    app.add_items(id, ITEMS).await;
    println!(
        "generated {ITEMS} items in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let cookie = app.sign_in("million", "pw").await;

    let page_size = app.state.settings.items_page_size as u64;
    let last = ITEMS.div_ceil(page_size);
    let middle = last / 2;
    let pages = [1, middle, last];

    // Warm up, then interleave the pages so drift hits all of them alike.
    for page in pages {
        fetch(&app, &cookie, page).await;
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(ROUNDS); pages.len()];
    for _ in 0..ROUNDS {
        for (i, page) in pages.iter().enumerate() {
            times[i].push(fetch(&app, &cookie, *page).await);
        }
    }
    let medians: Vec<Duration> = times.iter_mut().map(|t| median(t)).collect();
    println!("list_items over HTTP, {ROUNDS} calls each, {page_size} items per page:");
    for (page, m) in pages.iter().zip(&medians) {
        println!("  page {page:>6}: median {:>8.1} µs", m.as_secs_f64() * 1e6);
    }
    let ratio = medians[2].as_secs_f64() / medians[0].as_secs_f64();
    println!("ratio last/first: {ratio:.2} (goal: under 1.5)");
    let writes = app.state.sessions.store.counts().writes();
    println!(
        "session-store writes during {} guarded calls: {writes}",
        ROUNDS * pages.len() + 3
    );
}

async fn fetch(app: &common::TestApp, cookie: &str, page: u64) -> Duration {
    let start = Instant::now();
    let res = app.list_items(cookie, page).await;
    let status = res.status();
    let body = res.bytes().await.expect("body");
    let took = start.elapsed();
    assert_eq!(
        status,
        200,
        "page {page}: {}",
        String::from_utf8_lossy(&body)
    );
    took
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
