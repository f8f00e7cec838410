//! The server ends sessions itself, on the injected clock, and every server
//! function answers an ended session the same way.

use crate::common::{is_cookie, json, set_cookies, spawn_app, Anon, Browser, ResponseExt, TestApp};
use reqwest::header;
use session_guard::api::PUBLIC_SERVER_FNS;
use session_guard::db::SessionPool;
use session_guard::session::{
    server::{
        record::{self, SessionData, SESSION_KEY},
        store::{self, SessionRecords},
    },
    END_REASON_HEADER, IDLE_REMAINING_HEADER,
};
use time::OffsetDateTime;
use tower_sessions::{
    session::{Id, Record},
    SessionStore,
};

const IDLE: u64 = 900;
const ABSOLUTE: u64 = 28_800;

/// A server with Alice signed in, in a browser that keeps cookies as
/// browsers do. Tests about a replayed cookie take it from the browser and
/// send it by hand on purpose.
async fn signed_in() -> (TestApp, Browser) {
    let app = spawn_app().await;
    let browser = app.alice().await;
    (app, browser)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_3_2_idle_expiry_happens_at_the_deadline_and_not_a_second_before() {
    let (app, browser) = signed_in().await;
    app.advance(IDLE - 1);
    let alive = browser.status().await;
    assert_eq!(alive["signed_in"], true);
    assert_eq!(alive["idle_remaining_secs"], 1);

    app.advance(1);
    let res = browser.list_items(1).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()[IDLE_REMAINING_HEADER], "0");
    assert!(
        res.headers().get(header::LOCATION).is_none(),
        "never a redirect"
    );
    let set = set_cookies(&res);
    assert!(
        !set.iter().any(|c| is_cookie(c, app.cookie_name())),
        "the cookie stays, so the next request can still be told why: {set:?}"
    );
    assert!(
        set.iter().any(
            |c| c.starts_with(&format!("{}=idle;", app.ended_cookie_name()))
                && c.contains("HttpOnly")
        ),
        "the browser keeps the reason too: {set:?}"
    );
    let body = json(res).await;
    assert_eq!(body["reason"], "idle");
    assert_eq!(
        app.sessions_stored().await,
        0,
        "the expired record is deleted"
    );
    // A reload after the page found out: still "inactivity", not "sign in".
    let page = browser.get_page("/items").await;
    assert_eq!(
        page.headers()[header::LOCATION],
        "/login?reason=idle&next=%2Fitems"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_extends_the_session_and_the_status_query_does_not() {
    let (app, browser) = signed_in().await;
    app.advance(600);
    let res = browser.list_items(1).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.idle_remaining(), IDLE as i64);

    // The status answer says nothing that looks like a touch of the session.
    let raw = browser.status_response().await;
    assert!(raw.headers().get(IDLE_REMAINING_HEADER).is_none());

    // Polling the status every 30 s for longer than the idle timeout.
    for _ in 0..40 {
        app.advance(30);
        let status = browser.status().await;
        if status["signed_in"] == false {
            assert_eq!(status["reason"], "idle");
            return;
        }
    }
    panic!("status polling kept the session alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_3_2_absolute_expiry_ends_a_constantly_active_session() {
    let (app, browser) = signed_in().await;
    let mut elapsed = 0;
    while elapsed + 600 < ABSOLUTE {
        app.advance(600);
        elapsed += 600;
        let res = browser.extend().await;
        assert_eq!(res.status(), 200, "alive at {elapsed}s");
    }
    app.advance(ABSOLUTE - elapsed);
    let res = browser.extend().await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["reason"], "absolute");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasons_are_kept_and_never_signed_in_stays_distinct() {
    let (app, browser) = signed_in().await;
    let cookie = browser.session_cookie().expect("signed in");
    let none = app.list_items(&Anon, 1).await;
    assert_eq!(json(none).await["reason"], "missing");
    let forged = format!("{}=AAAAAAAAAAAAAAAAAAAAAA", app.cookie_name());
    let forged = app.list_items(&forged, 1).await;
    assert_eq!(json(forged).await["reason"], "missing");

    app.advance(IDLE);
    // The status query and a guarded call say why, as often as asked.
    assert_eq!(app.status(&cookie).await["reason"], "idle");
    for _ in 0..2 {
        let res = app.list_items(&cookie, 1).await;
        assert_eq!(json(res).await["reason"], "idle");
    }
    let page = app.get_page("/items", Some(&cookie)).await;
    assert_eq!(page.status(), 303);
    let location = page.headers()[header::LOCATION].to_str().unwrap();
    assert_eq!(location, "/login?reason=idle&next=%2Fitems");
    let login = app.get_page(location, None).await.text().await.unwrap();
    assert!(login.contains("inactivity"), "the login page says why");

    // Long after, the reason is swept and the cookie means nothing.
    app.advance(app.state.sessions.policy.reason_retention as u64 + 1);
    app.state.sessions.sweep().await.unwrap();
    let res = app.list_items(&cookie, 1).await;
    assert_eq!(json(res).await["reason"], "missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_names_each_reason() {
    let app = spawn_app().await;
    for (reason, text) in [
        ("idle", "inactivity"),
        ("absolute", "maximum"),
        ("signed_out", "signed out"),
    ] {
        let page = app.get_page(&format!("/login?reason={reason}"), None).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains(text), "{reason}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_guarded_requests_write_the_store_a_handful_of_times() {
    let (app, browser) = signed_in().await;
    let before = app.state.sessions.store.counts().writes();
    // 1,000 requests over 100 simulated seconds; the write slice is 15 s.
    for i in 0..1000 {
        if i % 10 == 0 {
            app.advance(1);
        }
        let res = browser.extend().await;
        assert_eq!(res.status(), 200);
    }
    let writes = app.state.sessions.store.counts().writes() - before;
    assert!(
        (1..=8).contains(&writes),
        "{writes} session writes for 1,000 requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_requests_in_a_row_read_the_session_from_memory() {
    let (app, browser) = signed_in().await;
    let store = &app.state.sessions.store;
    let reads_before = store.counts().reads();
    let hits_before = store.cache_hits();
    for _ in 0..500 {
        let res = browser.list_items(1).await;
        assert_eq!(res.status(), 200);
    }
    let reads = store.counts().reads() - reads_before;
    let hits = store.cache_hits() - hits_before;
    assert_eq!(reads + hits, 500, "every request loaded its session once");
    // One read fills the cache; an entry lives 10 s, so a slow run reads
    // again now and then. On PostgreSQL too: each instance hears the
    // others' changes (tests/it/backend.rs shows they are never missed).
    assert!(reads <= 10, "{reads} database reads for 500 requests");

    // Memory never keeps a session alive past its deadline, nor one that
    // ended: the deadline is checked on every request.
    app.advance(IDLE);
    let res = browser.list_items(1).await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["reason"], "idle");
}

/// A pool on the test's database whose writes nobody hears: on
/// PostgreSQL, with triggers off for its connections (as if the
/// notification were lost), so this server's memory really falls behind.
async fn unheard_pool(app: &TestApp) -> SessionPool {
    match &app.state.db.sessions {
        SessionPool::Sqlite(pool) => SessionPool::Sqlite(pool.clone()),
        SessionPool::Postgres(_) => SessionPool::Postgres(
            sqlx::postgres::PgPoolOptions::new()
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::Executor::execute(conn, "SET session_replication_role = replica")
                            .await
                            .map(|_| ())
                    })
                })
                .connect(&app.db.url)
                .await
                .unwrap(),
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outdated_copy_in_memory_never_ends_a_session_the_database_keeps_alive() {
    let (app, browser) = signed_in().await;
    let cookie = browser.session_cookie().expect("signed in");
    let res = app.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 200);
    // Memory serves the session (on PostgreSQL only once this instance
    // listens for changes, which it starts doing in the background).
    let store = &app.state.sessions.store;
    let mut served_from_memory = false;
    for _ in 0..100 {
        let hits = store.cache_hits();
        app.status(&cookie).await;
        if store.cache_hits() > hits {
            served_from_memory = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(served_from_memory, "the session never came from memory");

    // Another writer this server does not hear (as if a notification from
    // another instance were lost) records activity near the deadline.
    app.advance(IDLE - 5);
    let id: Id = cookie.split_once('=').unwrap().1.parse().unwrap();
    let unheard = store::GuardedStore::open(&unheard_pool(&app).await, app.state.sessions.policy);
    let mut record = unheard.load_fresh(&id).await.unwrap().expect("stored");
    let mut data = record::session_data(&record).unwrap();
    data.last_activity = app.clock.now();
    record
        .data
        .insert(SESSION_KEY.to_owned(), serde_json::to_value(&data).unwrap());
    unheard.save(&record).await.unwrap();
    // The premise: this server's memory still holds the old copy (the
    // passive status reads it), 5 s from its deadline.
    let status = app.status(&cookie).await;
    assert_eq!(status["idle_remaining_secs"], 5, "memory was not outdated");

    // Past the deadline the copy in memory shows, within the real one.
    app.advance(10);
    let res = app.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 200, "ended on an outdated copy");
    let remaining = res.idle_remaining();
    assert!(remaining > (IDLE - 15) as i64, "{remaining} s left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_save_never_moves_activity_backwards_nor_resurrects_a_session() {
    let app = spawn_app().await;
    let store = &app.state.sessions.store;
    let now = app.clock.now();
    let data = |last: i64| SessionData {
        user_id: 1,
        username: "alice".into(),
        started_at: now - 60,
        last_activity: last,
        device: String::new(),
        address: String::new(),
    };
    let record = |last: i64| {
        let mut data_map = std::collections::HashMap::new();
        data_map.insert(
            SESSION_KEY.to_owned(),
            serde_json::to_value(data(last)).unwrap(),
        );
        data_map
    };
    let mut newer = Record {
        id: Id::default(),
        data: record(now),
        expiry_date: OffsetDateTime::now_utc(),
    };
    store.create(&mut newer).await.unwrap();

    // A slow request that read the session earlier saves an older time.
    let stale = Record {
        id: newer.id,
        data: record(now - 60),
        expiry_date: OffsetDateTime::now_utc(),
    };
    store.save(&stale).await.unwrap();
    let loaded = store.load(&newer.id).await.unwrap().expect("still there");
    let kept: SessionData = serde_json::from_value(loaded.data[SESSION_KEY].clone()).unwrap();
    assert_eq!(kept.last_activity, now, "the newer activity time is kept");

    // Signed out meanwhile: the late save must not bring the session back.
    store.delete(&newer.id).await.unwrap();
    store.save(&stale).await.unwrap();
    assert!(store.load(&newer.id).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_ended_sessions_so_the_store_stays_bounded() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    for _ in 0..5 {
        app.sign_in("alice", "s3cret").await;
    }
    assert_eq!(app.sessions_stored().await, 5);
    app.advance(IDLE);
    let swept = app.state.sessions.sweep().await.unwrap();
    assert_eq!(
        swept.sessions, 0,
        "the reason is kept for a while after the deadline"
    );
    app.advance(app.state.sessions.policy.reason_retention as u64 + 1);
    let swept = app.state.sessions.sweep().await.unwrap();
    assert_eq!(swept.sessions, 5);
    assert_eq!(app.sessions_stored().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registered_server_function_is_guarded_or_on_the_public_list() {
    let app = spawn_app().await;
    let registered: Vec<_> = server_fn::axum::server_fn_paths().collect();
    assert!(registered.len() >= 6, "{registered:?}");
    for (path, method) in registered {
        let req = app
            .http
            .request(method.clone(), app.url(path))
            .header(header::ACCEPT, "application/json");
        // An empty body and a junk body: the guard answers before decoding.
        for body in ["", "%%%garbage=\u{1}"] {
            let res = req.try_clone().unwrap().body(body).send().await.unwrap();
            let status = res.status().as_u16();
            if PUBLIC_SERVER_FNS.contains(&path) {
                assert_ne!(status, 401, "{path} is public");
            } else {
                assert_eq!(status, 401, "{path} answered {status} without a session");
                assert!(res.headers().contains_key(IDLE_REMAINING_HEADER), "{path}");
                assert_eq!(json(res).await["reason"], "missing", "{path}");
            }
        }
    }
}

#[test]
fn every_server_function_body_goes_through_the_guard_helpers() {
    // Server functions rendered on the server skip the HTTP layer, so each
    // body must call `guarded(` (or `public(` for the public list) itself.
    let mut checked = 0;
    for entry in walk("src") {
        let text = std::fs::read_to_string(&entry).unwrap();
        for (i, chunk) in text.split("#[server(").enumerate().skip(1) {
            let body_start = chunk.find('{').expect("fn body");
            let body = &chunk[body_start..chunk.len().min(body_start + 400)];
            let endpoint = chunk
                .split("endpoint = \"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or("?");
            let public = PUBLIC_SERVER_FNS.contains(&format!("/api/{endpoint}").as_str());
            let helper = if public {
                "guard::public("
            } else {
                "guard::guarded("
            };
            assert!(
                body.contains(helper),
                "{} server fn #{i} ({endpoint}) must call {helper}",
                entry.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "found only {checked} server functions");
}

fn walk(dir: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(path.to_str().unwrap()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_pages_redirect_to_login_keeping_next() {
    let app = spawn_app().await;
    let res = app.get_page("/items?page=3", None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/login?reason=missing&next=%2Fitems%3Fpage%3D3"
    );
    let root = app.get_page("/", None).await;
    assert_eq!(root.status(), 303);
    assert_eq!(root.headers()[header::LOCATION], "/login");

    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let root = app.get_page("/", Some(&cookie)).await;
    assert_eq!(root.headers()[header::LOCATION], "/items");
    let page = app.get_page("/items", Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<h1>Items</h1>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_is_followed_only_to_same_site_paths() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    for (next, expected) in [
        ("/items?page=2", "/items?page=2"),
        ("https://evil.example/", "/items"),
        ("//evil.example", "/items"),
        ("/\\evil.example", "/items"),
        ("javascript:alert(1)", "/items"),
    ] {
        let res = app.sign_in_to("alice", "s3cret", next).await;
        assert_eq!(res.headers()[header::LOCATION], expected, "next={next}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_hooks_are_off_unless_the_test_setting_is_on() {
    let off = spawn_app().await;
    let before = off.clock.now();
    let res = off
        .http
        .post(off.url("/__test/clock/advance?secs=3600"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(off.clock.now(), before, "the clock did not move");
    // The benchmark's hooks (a session factory, an unguarded items query)
    // do not exist either.
    off.add_user("alice", "s3cret").await;
    for path in [
        "/__test/sessions?user_id=1&count=10",
        "/__test/baseline/api/list_items",
    ] {
        let res = off
            .http
            .post(off.url(path))
            .form(&[("user_id", "1"), ("page", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    assert_eq!(off.sessions_stored().await, 0);
}

/// Without the `test-hooks` feature the setting cannot turn them on: the
/// server refuses to start with it (the release binary as the README builds
/// it holds no hook routes at all, which `scripts/test` checks).
#[cfg(not(feature = "test-hooks"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_without_the_test_hooks_refuses_the_setting() {
    let db = std::sync::Arc::new(crate::common::TestDb::new().await);
    let refused = crate::common::try_start(
        db,
        session_guard::clock::Clock::frozen(),
        &[("SESSION_GUARD_TEST_HOOKS", "true")],
    )
    .await;
    let Err(err) = refused else {
        panic!("started with test hooks asked for");
    };
    assert!(err.to_string().contains("test-hooks"), "{err}");
}

#[cfg(feature = "test-hooks")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_test_hooks_built_in_the_setting_turns_them_on() {
    use session_guard::session::server::test_hooks::BASELINE_USER_HEADER;
    let on = crate::common::spawn_app_with(&[("SESSION_GUARD_TEST_HOOKS", "true")]).await;
    on.add_user("alice", "s3cret").await;
    let cookie = on.sign_in("alice", "s3cret").await;
    let res = on
        .http
        .post(on.url("/__test/clock/advance?secs=900"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = on.list_items(&cookie, 1).await;
    assert_eq!(json(res).await["reason"], "idle");

    let res = on
        .http
        .post(on.url("/__test/sessions?user_id=1&count=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(on.sessions_stored().await, 3);

    // The benchmark's baseline runs list_items as a named user, no cookie.
    let baseline = |user: Option<&str>| {
        let mut req = on
            .http
            .post(on.url("/__test/baseline/api/list_items"))
            .header(header::ACCEPT, "application/json")
            .form(&[("page", "1")]);
        if let Some(user) = user {
            req = req.header(BASELINE_USER_HEADER, user);
        }
        req.send()
    };
    let res = baseline(Some("1")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["item_count"], 0);
    assert_eq!(baseline(None).await.unwrap().status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_javascript_form_post_after_expiry_goes_to_the_login_page() {
    let (app, browser) = signed_in().await;
    let cookie = browser.session_cookie().expect("signed in");
    app.advance(IDLE);
    let res = app
        .http
        .post(app.url("/api/create_item"))
        .header(header::ACCEPT, "text/html")
        .header(header::COOKIE, &cookie)
        .header(header::REFERER, app.url("/items/new"))
        .form(&[("title", "t"), ("description", "d")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()[header::LOCATION],
        "/login?reason=idle&next=%2Fitems%2Fnew"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_pages_render_concurrently_on_a_multi_threaded_server() {
    // Page owners are dropped on whichever worker finishes the response; no
    // component may keep thread-bound state on the server.
    let (app, browser) = signed_in().await;
    let cookie = browser.session_cookie().expect("signed in");
    let mut renders = Vec::new();
    for n in 0..40 {
        let http = app.http.clone();
        let url = app.url(if n % 2 == 0 {
            "/items?page=1"
        } else {
            "/items/new"
        });
        let cookie = cookie.clone();
        renders.push(tokio::spawn(async move {
            let res = http.get(url).header(header::COOKIE, cookie).send().await?;
            let status = res.status();
            res.text().await.map(|body| (status, body))
        }));
    }
    for render in renders {
        let (status, body) = render.await.unwrap().expect("a whole response");
        assert_eq!(status, 200);
        assert!(body.contains("</html>"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reason_outlives_the_session_cookie_in_a_browser_that_obeys_every_set_cookie() {
    let app = spawn_app().await;
    let id = app.add_user("alice", "s3cret").await;
    app.add_items(id, 3).await;
    let browser = app.browser();
    assert_eq!(browser.sign_in("alice", "s3cret").await.status(), 200);
    assert!(browser.session_cookie().is_some());

    // Idle past the deadline; the page asks its passive status twice (the
    // second answer removes the session cookie: its record is gone).
    app.advance(IDLE);
    for _ in 0..2 {
        let status = browser.status().await;
        assert_eq!(status["signed_in"], false);
        assert_eq!(status["reason"], "idle");
    }
    assert!(
        browser.session_cookie().is_none(),
        "the session layer removed the dead cookie"
    );

    // Still "inactivity", for a call and for a reload, not "please sign in".
    let res = browser.list_items(1).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()[END_REASON_HEADER], "idle");
    assert_eq!(json(res).await["reason"], "idle");
    let page = browser.get_page("/items").await;
    assert_eq!(
        page.headers()[header::LOCATION],
        "/login?reason=idle&next=%2Fitems"
    );
    // What the browser keeps names the reason and nothing else.
    assert_eq!(
        browser.cookie(&app.ended_cookie_name()).as_deref(),
        Some("idle")
    );

    // Signing in again forgets it; signing out is then the reason told.
    assert_eq!(browser.sign_in("alice", "s3cret").await.status(), 200);
    assert_eq!(browser.cookie(&app.ended_cookie_name()), None);
    assert_eq!(browser.list_items(1).await.status(), 200);
    assert_eq!(browser.sign_out().await.status(), 200);
    assert!(browser.session_cookie().is_none());
    let res = browser.list_items(1).await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["reason"], "signed_out");
    let status = browser.status().await;
    assert_eq!(status["reason"], "signed_out");

    // A browser that never signed in is told nothing more.
    let stranger = app.browser();
    assert_eq!(stranger.status().await["reason"], "missing");
}
