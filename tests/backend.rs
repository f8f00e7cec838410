//! Several instances on one database, and what users get while the database
//! is unreachable. Runs on both backends (`TEST_BACKEND`); the outage test
//! needs a database behind a network connection, so PostgreSQL only.
#![cfg(feature = "ssr")]

mod common;

use std::{
    net::ToSocketAddrs,
    sync::Arc,
    time::{Duration, Instant},
};

use common::{backend, json, pg_proxy::CuttableProxy, start, Backend, TestDb};
use session_guard::clock::Clock;

const IDLE: u64 = 900;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_agree_on_every_session() {
    let a = common::spawn_app().await;
    let b = a.another_instance().await;
    let alice = a.add_user("alice", "s3cret").await;
    a.add_items(alice, 3).await;

    // Signed in on A, served on B with the same cookie.
    let cookie = a.sign_in("alice", "s3cret").await;
    let res = b.call("list_items", Some(&cookie), &[("page", "1")]).await;
    assert_eq!(res.status(), 200);
    let page = json(res).await;
    assert_eq!(page["item_count"], 3);

    // Extended on B: A sees the later deadline.
    a.advance(600);
    assert_eq!(a.status(Some(&cookie)).await["idle_remaining_secs"], 300);
    assert_eq!(
        b.call("extend_session", Some(&cookie), &[]).await.status(),
        200
    );
    assert_eq!(
        a.status(Some(&cookie)).await["idle_remaining_secs"],
        IDLE as i64
    );

    // Activity on either keeps it alive for both; idleness ends it on both.
    a.advance(IDLE - 10);
    assert_eq!(
        a.call("list_items", Some(&cookie), &[("page", "1")])
            .await
            .status(),
        200
    );
    a.advance(IDLE - 10);
    assert_eq!(
        b.call("list_items", Some(&cookie), &[("page", "1")])
            .await
            .status(),
        200,
        "B saw the activity A recorded"
    );
    a.advance(IDLE);
    for app in [&a, &b] {
        let res = app
            .call("list_items", Some(&cookie), &[("page", "1")])
            .await;
        assert_eq!(res.status(), 401);
        assert_eq!(json(res).await["reason"], "idle");
    }

    // Signed out on A: B refuses the cookie at once.
    let cookie = b.sign_in("alice", "s3cret").await;
    assert_eq!(a.call("sign_out", Some(&cookie), &[]).await.status(), 200);
    let res = b.call("list_items", Some(&cookie), &[("page", "1")]).await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["reason"], "signed_out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_gives_503_quickly_and_the_server_recovers() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: needs TEST_BACKEND=postgres (SQLite is a file, not a server)");
        return;
    }
    let db = Arc::new(TestDb::new().await);
    let mut url = reqwest::Url::parse(&db.url).unwrap();
    let upstream = (url.host_str().unwrap(), url.port().unwrap_or(5432))
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let mut proxy = CuttableProxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let app = start(
        db.clone(),
        Clock::system(),
        &[("DATABASE_URL", url.as_str())],
    )
    .await;
    let alice = app.add_user("alice", "s3cret").await;
    app.add_items(alice, 3).await;
    let cookie = app.sign_in("alice", "s3cret").await;

    proxy.cut();
    let started = Instant::now();
    let listed = app
        .call("list_items", Some(&cookie), &[("page", "1")])
        .await;
    assert_eq!(listed.status(), 503);
    assert_eq!(json(listed).await["error"], "unavailable");
    let signing_in = app.sign_in_response("alice", "s3cret", None).await;
    assert_eq!(signing_in.status(), 503);
    assert_eq!(json(signing_in).await["error"], "unavailable");
    let page = app.get_page("/items", Some(&cookie)).await;
    assert_eq!(page.status(), 503, "the page says so too, not a 500");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "three answers took {:?}: requests must not hang on a dead database",
        started.elapsed()
    );

    proxy.restore().await;
    let mut recovered = false;
    for _ in 0..20 {
        let res = app
            .call("list_items", Some(&cookie), &[("page", "1")])
            .await;
        if res.status() == 200 {
            assert_eq!(json(res).await["item_count"], 3);
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        recovered,
        "the server did not recover when the database came back"
    );
    let again = app.sign_in_response("alice", "s3cret", None).await;
    assert_eq!(again.status(), 200, "signing in works again");
}
