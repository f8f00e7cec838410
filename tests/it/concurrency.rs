//! The session rules under concurrent requests on one session, on both
//! backends: sign-out, expiry and "Stay signed in" racing other calls.
//!
//! Race windows are opened on purpose, not hoped for: the store's
//! `RaceWindow` holds a request between reading a record and writing it
//! while the test sends the request it should race with. Invariants:
//! - after a sign-out has answered, every request with that cookie gets 401
//!   and no answer sets the session cookie again;
//! - an extend that answered 200 is honoured (the session is alive after);
//! - nothing answers 500.

use crate::common::{backend, json, spawn_app, start, Backend, Browser, ResponseExt, TestDb};
use futures::future::join_all;
use reqwest::Response;
use session_guard::{clock::Clock, session::server::store::SESSIONS_TABLE};
// The race window exists only in a build with the test hooks.
#[cfg(feature = "test-hooks")]
use crate::common::TestApp;
#[cfg(feature = "test-hooks")]
use session_guard::session::server::store::race::Step;

const IDLE: u64 = 900;
/// The activity write slice for the default idle timeout (900 / 60).
const SLICE: u64 = 15;

/// Calls server function `name` with the fields it takes.
async fn call(browser: &Browser, name: &str) -> Response {
    match name {
        "list_items" => browser.list_items(1).await,
        "create_item" => browser.create_item("t", "").await,
        "extend_session" => browser.extend().await,
        _ => browser.call(name, &[]).await,
    }
}

#[cfg(feature = "test-hooks")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_write_racing_a_sign_out_never_brings_the_session_back() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    // Past one write slice: each of these calls writes its activity.
    app.advance(SLICE);
    let window = app.state.sessions.store.sql().race_window();
    window.hold(Step::Touch);
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let browser = browser.clone();
            tokio::spawn(async move {
                let name = if i % 2 == 0 {
                    "list_items"
                } else {
                    "extend_session"
                };
                call(&browser, name).await
            })
        })
        .collect();
    window.arrived(Step::Touch, 10).await;

    // Signed out while they wait between reading the record and writing it.
    window.stop_holding(Step::Touch);
    let out = browser.sign_out().await;
    assert_eq!(out.status(), 200);
    window.release(Step::Touch);

    // Each had read the record before the sign-out and writes after it:
    // the write finds it gone, and the call is refused.
    for call in join_all(calls).await {
        let res = call.unwrap();
        assert_eq!(res.status(), 401, "a racing call was served");
        assert!(
            !res.sets_session_cookie(app.cookie_name()),
            "an answer set the signed-out cookie again"
        );
        assert_eq!(json(res).await["reason"], "signed_out");
    }
    assert_eq!(app.sessions_stored().await, 0, "the record came back");

    for _ in 0..5 {
        let res = browser.list_items(1).await;
        assert_eq!(res.status(), 401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_after_a_sign_out_is_refused_even_with_the_old_cookie() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    let cookie = browser.session_cookie().expect("signed in");
    app.advance(SLICE);
    // Many calls at once, the sign-out among them.
    let mut calls = Vec::new();
    for i in 0..30 {
        let browser = browser.clone();
        calls.push(tokio::spawn(async move {
            match i % 3 {
                0 => browser.list_items(1).await,
                1 => browser.extend().await,
                _ => browser.status_response().await,
            }
        }));
    }
    let out = browser.sign_out().await;
    assert_eq!(out.status(), 200);
    for call in join_all(calls).await {
        let res = call.unwrap();
        assert!(
            res.status() == 200 || res.status() == 401,
            "{}",
            res.status()
        );
        assert!(!res.sets_session_cookie(app.cookie_name()));
    }
    // After the sign-out answered: the old cookie opens nothing, and no
    // answer hands out a session cookie.
    let res = app.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 401);
    assert!(!res.sets_session_cookie(app.cookie_name()));
    assert_eq!(json(res).await["reason"], "signed_out");
    assert_eq!(app.sessions_stored().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_calls_at_the_idle_deadline_all_see_it_ended_and_it_ends_once() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    app.advance(IDLE);
    let calls: Vec<_> = (0..24)
        .map(|i| {
            let browser = browser.clone();
            tokio::spawn(async move {
                call(
                    &browser,
                    ["list_items", "extend_session", "create_item"][i % 3],
                )
                .await
            })
        })
        .collect();
    for call in join_all(calls).await {
        let res = call.unwrap();
        let status = res.status();
        assert_eq!(status, 401, "a call at the deadline answered {status}");
        assert_eq!(json(res).await["reason"], "idle");
    }
    assert_eq!(app.sessions_stored().await, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM session_endings WHERE reason = 'idle'")
            .await,
        1
    );
    assert_eq!(app.items_stored().await, 3, "nothing saved after the end");
}

/// "Stay signed in" one second before the end, held after reading the
/// record and before writing it; answers the call under way.
#[cfg(feature = "test-hooks")]
async fn extend_held_before_its_write(
    app: &TestApp,
    browser: &Browser,
) -> tokio::task::JoinHandle<Response> {
    app.advance(IDLE - 1);
    let window = app.state.sessions.store.sql().race_window();
    window.hold(Step::Touch);
    let extend = tokio::spawn({
        let browser = browser.clone();
        async move { browser.extend().await }
    });
    window.arrived(Step::Touch, 1).await;
    extend
}

#[cfg(feature = "test-hooks")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stay_signed_in_at_the_deadline_wins_over_a_status_check_ending_the_session() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    let window = app.state.sessions.store.sql().race_window();
    let extend = extend_held_before_its_write(&app, &browser).await;

    // The deadline passes; another tab's status check finds it past due
    // and is about to delete it.
    app.advance(1);
    window.hold(Step::End);
    let status = tokio::spawn({
        let browser = browser.clone();
        async move { browser.status().await }
    });
    window.arrived(Step::End, 1).await;

    // The extend writes first, then the ending tries its delete.
    window.release(Step::Touch);
    let extended = extend.await.unwrap();
    assert_eq!(extended.status(), 200);
    window.release(Step::End);
    let status = status.await.unwrap();
    assert_eq!(
        status["signed_in"], true,
        "the ending deleted a record renewed meanwhile"
    );

    // The 200 is honoured: the session lives, with a full idle timeout.
    let res = browser.list_items(1).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.sessions_stored().await, 1);
}

#[cfg(feature = "test-hooks")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stay_signed_in_that_loses_the_race_to_the_deadline_answers_401_not_200() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    let window = app.state.sessions.store.sql().race_window();
    let extend = extend_held_before_its_write(&app, &browser).await;

    // The session ends (another tab's status check) before the extend writes.
    app.advance(1);
    let status = browser.status().await;
    assert_eq!(status["signed_in"], false);
    window.release(Step::Touch);

    let extended = extend.await.unwrap();
    assert_eq!(
        extended.status(),
        401,
        "an extend answered 200 for a session that had ended"
    );
    assert_eq!(json(extended).await["reason"], "idle");
    assert_eq!(app.sessions_stored().await, 0, "the record came back");
}

/// Refuses every update of a session record, as a database that cannot
/// take writes would; reads still work.
async fn refuse_session_writes(db: &TestDb) {
    let pool = db.pool().await;
    let statements: Vec<String> = match backend() {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_session_writes BEFORE UPDATE ON {SESSIONS_TABLE} \
             BEGIN SELECT RAISE(ABORT, 'session writes refused'); END"
        )],
        Backend::Postgres => vec![
            "CREATE FUNCTION refuse_session_writes() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'session writes refused'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER refuse_session_writes BEFORE UPDATE ON {SESSIONS_TABLE} \
                 FOR EACH ROW EXECUTE FUNCTION refuse_session_writes()"
            ),
        ],
    };
    for sql in &statements {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
}

async fn accept_session_writes(db: &TestDb) {
    let pool = db.pool().await;
    let sql = match backend() {
        Backend::Sqlite => "DROP TRIGGER refuse_session_writes".to_owned(),
        Backend::Postgres => format!("DROP TRIGGER refuse_session_writes ON {SESSIONS_TABLE}"),
    };
    sqlx::query(&sql).execute(&pool).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_activity_write_answers_503_with_a_reason_and_the_session_survives() {
    // A moving clock: the write depends on real time passing too.
    let db = std::sync::Arc::new(TestDb::new().await);
    let app = start(db.clone(), Clock::system(), &[]).await;
    let browser = app.alice().await;
    app.advance(SLICE + 1);

    refuse_session_writes(&db).await;
    for name in ["list_items", "extend_session"] {
        let res = call(&browser, name).await;
        assert_eq!(res.status(), 503, "{name}");
        assert!(!res.sets_session_cookie(app.cookie_name()));
        let body = json(res).await;
        assert_eq!(body["error"], "unavailable", "{name}");
    }
    // The status query writes nothing, so it still answers.
    assert_eq!(browser.status().await["signed_in"], true);

    accept_session_writes(&db).await;
    let res = browser.list_items(1).await;
    assert_eq!(res.status(), 200);
    assert!(browser.session_cookie().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_calls_at_once_write_activity_once_per_slice_on_a_moving_clock() {
    let db = std::sync::Arc::new(TestDb::new().await);
    let app = start(db, Clock::system(), &[]).await;
    let browser = app.alice().await;
    let mut last_remaining = 0;
    for round in 0..5 {
        app.advance(SLICE);
        let before = app.state.sessions.store.counts().writes();
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let browser = browser.clone();
                tokio::spawn(async move {
                    call(&browser, ["list_items", "extend_session"][i % 2]).await
                })
            })
            .collect();
        for res in join_all(calls).await {
            let res = res.unwrap();
            assert_eq!(res.status(), 200, "round {round}");
            let left = res.idle_remaining();
            assert!(left > IDLE as i64 - 2, "round {round}: {left} s left");
        }
        assert_eq!(
            app.state.sessions.store.counts().writes() - before,
            1,
            "round {round}: one activity write per slice"
        );
        let status = browser.status().await;
        let remaining = status["idle_remaining_secs"].as_i64().unwrap();
        assert!(remaining >= last_remaining - 1, "activity moved backwards");
        last_remaining = remaining;
    }
}
