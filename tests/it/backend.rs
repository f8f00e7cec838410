//! Several instances on one database, and what users get while the database
//! is unreachable. Several instances and outages are PostgreSQL's (the
//! tests say they are skipped on SQLite); on SQLite, one server per file is
//! enforced, which a test checks there.

use std::{
    net::ToSocketAddrs,
    sync::Arc,
    time::{Duration, Instant},
};

use crate::common::{
    backend, json, pg_proxy::CuttableProxy, spawn_app, start, try_start, Backend, TestApp, TestDb,
};
use session_guard::{
    clock::Clock, db::DbError, server::StartError, session::server::store::SESSIONS_TABLE,
};

const IDLE: u64 = 900;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_agree_on_every_session() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: several instances need TEST_BACKEND=postgres");
        return;
    }
    let a = spawn_app().await;
    let b = a.another_instance().await;
    let alice = a.add_user("alice", "s3cret").await;
    a.add_items(alice, 3).await;

    // Signed in on A, served on B with the same cookie.
    let cookie = a.sign_in("alice", "s3cret").await;
    let res = b.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 200);
    let page = json(res).await;
    assert_eq!(page["item_count"], 3);

    // Extended on B: A sees the later deadline.
    a.advance(600);
    assert_eq!(a.status(&cookie).await["idle_remaining_secs"], 300);
    assert_eq!(b.extend(&cookie).await.status(), 200);
    assert_eq!(a.status(&cookie).await["idle_remaining_secs"], IDLE as i64);

    // Activity on either keeps it alive for both; idleness ends it on both.
    a.advance(IDLE - 10);
    assert_eq!(a.list_items(&cookie, 1).await.status(), 200);
    a.advance(IDLE - 10);
    assert_eq!(
        b.list_items(&cookie, 1).await.status(),
        200,
        "B saw the activity A recorded"
    );
    a.advance(IDLE);
    for app in [&a, &b] {
        let res = app.list_items(&cookie, 1).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json(res).await["reason"], "idle");
    }

    // Signed out on A: B refuses the cookie at once, although B had just
    // served it from memory. Repeated: an instance evicting notifications
    // only as they arrived lost this race about once in ten rounds.
    for round in 0..20 {
        let cookie = b.sign_in("alice", "s3cret").await;
        for app in [&b, &a, &b] {
            let res = app.list_items(&cookie, 1).await;
            assert_eq!(res.status(), 200, "round {round}");
        }
        assert_eq!(a.sign_out(&cookie).await.status(), 200);
        let res = b.list_items(&cookie, 1).await;
        assert_eq!(
            res.status(),
            401,
            "round {round}: B still served a signed-out session"
        );
        assert_eq!(json(res).await["reason"], "signed_out");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_whose_clocks_differ_agree_on_every_deadline() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: several instances need TEST_BACKEND=postgres");
        return;
    }
    let a = spawn_app().await;
    // Two more machines, their clocks 7 s ahead and 7 s behind.
    let ahead = a.another_instance_skewed(7).await;
    let behind = a.another_instance_skewed(-7).await;
    let alice = a.add_user("alice", "s3cret").await;
    a.add_items(alice, 3).await;
    let cookie = a.sign_in("alice", "s3cret").await;

    // 3 s before the deadline: the fast machine does not end it early.
    a.advance(IDLE - 3);
    for instance in [&a, &ahead, &behind] {
        let status = instance.status(&cookie).await;
        assert_eq!(status["signed_in"], true, "ended early");
        let left = status["idle_remaining_secs"].as_i64().unwrap();
        assert!((2..=4).contains(&left), "{left} s left");
    }
    // Activity written by the slow machine is read right by the fast one.
    let res = behind.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 200);
    a.advance(IDLE - 3);
    let status = ahead.status(&cookie).await;
    assert_eq!(status["signed_in"], true, "ended early");

    // 1 s past the deadline: the slow machine does not keep it alive.
    a.advance(4);
    let res = behind.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 401, "kept alive past the deadline");
    assert_eq!(json(res).await["reason"], "idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_by_sql_in_the_database_are_refused_at_once() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: PostgreSQL only (on SQLite one server owns its sessions)");
        return;
    }
    let a = spawn_app().await;
    let b = a.another_instance().await;
    a.add_user("alice", "s3cret").await;
    let cookie = a.sign_in("alice", "s3cret").await;
    for app in [&a, &b, &a, &b] {
        let res = app.list_items(&cookie, 1).await;
        assert_eq!(res.status(), 200);
    }
    // An operator revokes every session by hand.
    sqlx::query(&format!("DELETE FROM {SESSIONS_TABLE}"))
        .execute(&a.state.db.pool)
        .await
        .unwrap();
    for app in [&a, &b] {
        let res = app.list_items(&cookie, 1).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json(res).await["reason"], "missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_while_an_instance_could_not_hear_is_not_served_from_its_memory() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: PostgreSQL only (on SQLite one server owns its sessions)");
        return;
    }
    let (app, mut proxy) = behind_a_proxy().await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    for _ in 0..3 {
        let res = app.list_items(&cookie, 1).await;
        assert_eq!(res.status(), 200);
    }
    assert!(
        app.state.sessions.store.cache_hits() > 0,
        "the session is served from memory"
    );

    // The instance's connections break; meanwhile, another ends the session
    // and its notification goes nowhere.
    proxy.cut();
    sqlx::query(&format!("DELETE FROM {SESSIONS_TABLE}"))
        .execute(&app.db.pool().await)
        .await
        .unwrap();
    proxy.restore().await;

    let started = Instant::now();
    let mut refused = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let res = app.list_items(&cookie, 1).await;
        match res.status().as_u16() {
            // A connection the cut broke, found on its first use.
            503 => {}
            401 => {
                assert_eq!(json(res).await["reason"], "missing");
                refused += 1;
            }
            other => panic!("answered {other} for a session ended in the database"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(refused > 0, "the server never came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_database_ends_cost_at_most_a_503_each() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: PostgreSQL only (SQLite has no connections to end)");
        return;
    }
    let app = spawn_app().await;
    let alice = app.add_user("alice", "s3cret").await;
    app.add_items(alice, 3).await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&app.db.url)
        .await
        .unwrap();
    for round in 0..3 {
        // Connections used a moment ago, which the pools hand out unchecked.
        for _ in 0..4 {
            let res = app.list_items(&cookie, 1).await;
            assert_eq!(res.status(), 200);
        }
        // What a database restart or an administrator does to them.
        // MATERIALIZED: the filter is applied before anything is terminated
        // (PostgreSQL may evaluate one WHERE's conditions in any order).
        let (ended,): (i64,) = sqlx::query_as(
            "WITH doomed AS MATERIALIZED (SELECT pid FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) \
             SELECT count(*) FROM doomed WHERE pg_terminate_backend(pid)",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert!(ended > 0, "round {round}: the server held no connection");
        let mut unavailable = 0;
        loop {
            let res = app.list_items(&cookie, 1).await;
            match res.status().as_u16() {
                200 => {
                    assert_eq!(json(res).await["item_count"], 3);
                    break;
                }
                503 => {
                    assert_eq!(json(res).await["error"], "unavailable");
                    unavailable += 1;
                    // Each ended connection fails one request at most.
                    assert!(
                        unavailable <= ended,
                        "round {round}: {unavailable} answers 503 for {ended} ended connections"
                    );
                }
                other => panic!(
                    "round {round}: an ended connection answered {other}: {}",
                    res.text().await.unwrap_or_default()
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_is_refused_and_the_first_keeps_serving() {
    if backend() != Backend::Sqlite {
        eprintln!("skipped: SQLite only (PostgreSQL serves several instances)");
        return;
    }
    let a = spawn_app().await;
    a.add_user("alice", "s3cret").await;
    let cookie = a.sign_in("alice", "s3cret").await;
    let refused = try_start(a.db.clone(), a.clock.clone(), &[]).await;
    let Err(StartError::Db(err @ DbError::InUse { .. })) = refused else {
        panic!("a second server on the same SQLite file started");
    };
    let message = err.to_string();
    assert!(message.contains("already serving"), "{message}");
    assert!(message.contains("PostgreSQL"), "{message}");
    let res = a.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 200, "the first server is untouched");
    // That the file is free again once the server stops, tests/it/restart.rs
    // shows: it starts a new server on it.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_gives_503_quickly_and_the_server_recovers() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: needs TEST_BACKEND=postgres (SQLite is a file, not a server)");
        return;
    }
    let (app, mut proxy) = behind_a_proxy().await;
    let alice = app.add_user("alice", "s3cret").await;
    app.add_items(alice, 3).await;
    let cookie = app.sign_in("alice", "s3cret").await;

    proxy.cut();
    let started = Instant::now();
    let listed = app.list_items(&cookie, 1).await;
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
        let res = app.list_items(&cookie, 1).await;
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

/// A server on a fresh database, reaching it through a relay the test can
/// cut (the test's own `app.db.pool()` goes straight to it).
async fn behind_a_proxy() -> (TestApp, CuttableProxy) {
    let db = Arc::new(TestDb::new().await);
    let mut url = reqwest::Url::parse(&db.url).unwrap();
    let upstream = (url.host_str().unwrap(), url.port().unwrap_or(5432))
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let proxy = CuttableProxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let app = start(db, Clock::system(), &[("DATABASE_URL", url.as_str())]).await;
    (app, proxy)
}

/// Behind a balancer, sign-in attempts land on any instance: the throttle's
/// counts are shared through the database, so the allowances are one
/// instance's however many serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_allowance_is_shared_by_every_instance() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: several instances need TEST_BACKEND=postgres");
        return;
    }
    let a = spawn_app().await;
    let b = a.another_instance().await;
    a.add_user("alice", "s3cret").await;
    let from = |last: u8| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, last]))
            .build()
            .unwrap()
    };
    let sign_in = |http: &reqwest::Client, app: &TestApp, name: &str, password: &str| {
        http.post(app.url("/api/sign_in"))
            .header("accept", "application/json")
            .form(&[("username", name), ("password", password)])
            .send()
    };

    // Twenty wrong guesses from one address, for as many names, alternating
    // between the instances: each saw ten. The 21st is refused on both.
    let guesser = from(21);
    for n in 0..20 {
        let app = if n % 2 == 0 { &a } else { &b };
        let res = sign_in(&guesser, app, &format!("user{n}"), "guess")
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "guess {n}");
    }
    for app in [&a, &b] {
        let res = sign_in(&guesser, app, "alice", "s3cret").await.unwrap();
        assert_eq!(res.status(), 429);
        assert!(res.headers().contains_key("retry-after"));
    }

    // Five for one name from another address, then the sixth anywhere.
    let other = from(22);
    for n in 0..5 {
        let app = if n % 2 == 0 { &b } else { &a };
        let res = sign_in(&other, app, "alice", "guess").await.unwrap();
        assert_eq!(res.status(), 401);
    }
    for app in [&a, &b] {
        let res = sign_in(&other, app, "alice", "s3cret").await.unwrap();
        assert_eq!(res.status(), 429);
    }
    // Many at once on both instances, spending and giving back the same two
    // rows: they queue on the rows, never deadlock (no 5xx), and the right
    // password always gets through.
    let crowd = from(24);
    let calls = (0..16).map(|n| {
        let app = if n % 2 == 0 { &a } else { &b };
        sign_in(&crowd, app, "alice", "s3cret")
    });
    let answers = futures::future::join_all(calls).await;
    let statuses: Vec<u16> = answers
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| [200, 429].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().filter(|s| **s == 200).count() >= 5,
        "{statuses:?}"
    );

    // A right password gives its attempt back on any instance: a third
    // address signs in over and over, alternating.
    let user = from(23);
    for n in 0..12 {
        let app = if n % 2 == 0 { &a } else { &b };
        let res = sign_in(&user, app, "alice", "s3cret").await.unwrap();
        assert_eq!(res.status(), 200, "sign-in {n}");
    }
}
