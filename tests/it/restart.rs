//! A restart loses nothing and forgives nothing: users, items and sessions
//! are in the database (the SQLite file, or PostgreSQL with
//! `TEST_BACKEND=postgres`), and deadlines are instants, not timers, so a
//! session that ran out while the server was down is refused afterwards.

use crate::common::{json, spawn_app, start};

const IDLE: u64 = 900;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_items_and_sessions_survive_a_restart() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let saved = app.create_item(&cookie, "Before the restart", "kept").await;
    assert_eq!(saved.status(), 200);

    let (db, clock) = app.stop().await;
    let app = start(db, clock, &[]).await;

    let res = app.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 200, "the session outlived the server");
    let page = json(res).await;
    assert_eq!(page["item_count"], 1);
    assert_eq!(page["items"][0]["title"], "Before the restart");
    assert_eq!(page["items"][0]["description"], "kept");
    assert_eq!(
        app.sign_in_response("alice", "s3cret", None).await.status(),
        200,
        "the user and her password hash survived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_expired_while_the_server_was_down_is_refused() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let idle = app.sign_in("alice", "s3cret").await;
    app.advance(IDLE / 2);
    let fresh = app.sign_in("alice", "s3cret").await;

    let (db, clock) = app.stop().await;
    // The server is down while the first session's idle deadline passes.
    clock.advance(std::time::Duration::from_secs(IDLE / 2));
    let app = start(db, clock, &[]).await;

    let res = app.list_items(&idle, 1).await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["reason"], "idle");
    let page = app.get_page("/items", Some(&idle)).await;
    assert_eq!(page.status(), 303, "a page load is sent to sign in");
    let res = app.list_items(&fresh, 1).await;
    assert_eq!(
        res.status(),
        200,
        "the newer session is still within its time"
    );
}
