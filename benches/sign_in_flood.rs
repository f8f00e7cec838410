//! How long an uninvolved user's sign-in takes while one IPv6 network floods
//! the server with wrong passwords from ever new /64s (65,536 of them in a
//! /48 cost nothing), against the same sign-in on a quiet server, measured
//! in one run. Run with `cargo bench --features ssr --bench sign_in_flood`.
//!
//! The flood can take its network's share of the verifications and no
//! more (`auth::throttle::admission`), so the user waits behind at most
//! that share: the ratio says what the flood costs them. Printed, never
//! asserted: the machine's speed changes the times, not the ratio.

// The tests' helpers, of which the benchmark uses a few.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/common/mod.rs"]
mod common;

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

const SIGN_INS: usize = 30;
const FLOODERS: usize = 48;

#[tokio::main]
async fn main() {
    let app = Arc::new(common::spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await);
    app.add_user("alice", "s3cret").await;

    let quiet = sign_ins(&app, 0).await;

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|_| tokio::spawn(flood(app.clone(), stop.clone(), counts.clone())))
        .collect();
    // Let the flood take its share first.
    while app.state.verifications.performed() < (SIGN_INS + 16) as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let flooded = sign_ins(&app, 1).await;
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        let _ = flooder.await;
    }

    println!(
        "an uninvolved sign-in, {SIGN_INS} in a row, alone and beside {FLOODERS} clients \
         sending wrong passwords from new /64s of one /48:"
    );
    for (name, times) in [("quiet", &quiet), ("flooded", &flooded)] {
        println!(
            "  {name:>8}: median {:>6.1} ms, p90 {:>6.1} ms, max {:>6.1} ms",
            ms(percentile(times, 50)),
            ms(percentile(times, 90)),
            ms(percentile(times, 100)),
        );
    }
    println!(
        "  the flood: {} verified (401), {} turned away (503)",
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed)
    );
    println!(
        "ratio flooded/quiet, median: {:.1}; every one of the {} sign-ins succeeded",
        ms(percentile(&flooded, 50)) / ms(percentile(&quiet, 50)),
        2 * SIGN_INS
    );
}

/// `SIGN_INS` right-password sign-ins from addresses of their own; each
/// must succeed. Answers how long each took.
async fn sign_ins(app: &common::TestApp, round: u8) -> Vec<Duration> {
    let mut times = Vec::with_capacity(SIGN_INS);
    for n in 0..SIGN_INS {
        let started = Instant::now();
        let res = app
            .http
            .post(app.url("/api/sign_in"))
            .header("accept", "application/json")
            .header("x-forwarded-for", format!("198.51.{round}.{}", n + 1))
            .form(&[("username", "alice"), ("password", "s3cret")])
            .send()
            .await
            .expect("the server answers");
        assert_eq!(res.status(), 200, "an uninvolved sign-in was refused");
        times.push(started.elapsed());
    }
    times
}

/// Wrong passwords from a new /64 of 2001:db8:bad::/48 each time, until
/// told to stop; back for the next place 20 ms after a refusal.
async fn flood(app: Arc<common::TestApp>, stop: Arc<AtomicBool>, counts: Arc<[AtomicU64; 2]>) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    while !stop.load(Ordering::Relaxed) {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let Ok(res) = app
            .http
            .post(app.url("/api/sign_in"))
            .header("accept", "application/json")
            .header(
                "x-forwarded-for",
                format!("2001:db8:bad:{:x}::1", n % 0xffff),
            )
            .form(&[
                ("username", format!("user{n}")),
                ("password", "guess".into()),
            ])
            .send()
            .await
        else {
            continue;
        };
        if res.status() == 503 {
            counts[1].fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        } else {
            counts[0].fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn percentile(times: &[Duration], p: usize) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[((sorted.len() - 1) * p) / 100]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
