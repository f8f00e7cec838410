//! The sessions page's server functions (ASVS 3.3.4): a user sees every
//! place they are signed in and ends any of them after giving the password
//! again; nobody sees or ends another user's sessions; a session ended this
//! way is refused everywhere with the reason `revoked`.

use crate::common::{backend, json, spawn_app, start, Backend, Browser, TestApp};
use serde_json::Value;
use session_guard::session::{
    server::{devices, store::SESSIONS_TABLE},
    END_REASON_HEADER,
};

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.8078.73 Safari/537.36";
const FIREFOX: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const PASSWORD: &str = "s3cret-enough";

/// A browser signed in as `name`.
async fn signed_in(app: &TestApp, name: &str, user_agent: &str) -> Browser {
    let browser = app.browser_as(user_agent);
    let res = browser.sign_in(name, PASSWORD).await;
    assert_eq!(res.status(), 200, "{name} signs in");
    browser
}

/// The session id a browser holds (its cookie's value).
fn session_id(browser: &Browser) -> String {
    browser.session_id().expect("a session cookie")
}

fn handle_of(browser: &Browser) -> String {
    devices::handle(&session_id(browser).parse().expect("a session id"))
}

async fn list(browser: &Browser) -> Vec<Value> {
    let res = browser.list_sessions().await;
    assert_eq!(res.status(), 200);
    json(res).await["sessions"].as_array().unwrap().clone()
}

async fn list_items_status(browser: &Browser) -> u16 {
    browser.list_items(1).await.status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sees_only_their_own_live_sessions_and_never_their_ids() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    app.add_user("bob", PASSWORD).await;
    let laptop = signed_in(&app, "alice", CHROME).await;
    let idle = signed_in(&app, "alice", FIREFOX).await;
    let signed_out = signed_in(&app, "alice", FIREFOX).await;
    let signed_out_id = session_id(&signed_out);
    let bob = signed_in(&app, "bob", CHROME).await;
    assert_eq!(signed_out.sign_out().await.status(), 200);

    // `idle` goes quiet while the laptop is used, until it is past its
    // deadline; its record is still in the table (nothing swept it, and it
    // made no request that would have ended it).
    app.advance(600);
    let phone = signed_in(&app, "alice", FIREFOX).await;
    assert_eq!(list_items_status(&laptop).await, 200);
    assert_eq!(list_items_status(&bob).await, 200);
    app.advance(301);
    assert_eq!(app.sessions_stored().await, 4);

    let rows = list(&laptop).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["current"], true, "this session first: {rows:?}");
    assert_eq!(rows[0]["handle"], handle_of(&laptop));
    assert_eq!(rows[0]["device"], "Chrome 156 on Linux");
    assert_eq!(rows[0]["address"], "127.0.0.1");
    assert_eq!(rows[1]["current"], false);
    assert_eq!(rows[1]["handle"], handle_of(&phone));
    assert_eq!(rows[1]["device"], "Firefox 133 on Windows 10");
    assert_eq!(rows[1]["started_at"], app.clock.now() - 301);

    // The answer never carries a session id, this one's or another's.
    let body = laptop.list_sessions().await.text().await.unwrap();
    for id in [
        session_id(&laptop),
        session_id(&phone),
        session_id(&idle),
        signed_out_id,
    ] {
        assert!(!body.contains(&id), "{body}");
    }
    assert_eq!(list_items_status(&idle).await, 401, "idle was indeed over");

    let bob_rows = list(&bob).await;
    assert_eq!(bob_rows.len(), 1);
    assert_eq!(bob_rows[0]["current"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_session_can_be_neither_seen_nor_ended() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    app.add_user("mallory", PASSWORD).await;
    let alice = signed_in(&app, "alice", CHROME).await;
    let mallory = signed_in(&app, "mallory", FIREFOX).await;

    // Mallory knows the handle of Alice's session (from a shoulder, a
    // screenshot): ending it is refused as if it did not exist.
    let res = mallory.end_session(&handle_of(&alice), PASSWORD).await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await["error"], "not_found");
    let made_up = "0123456789abcdef0123456789abcdef";
    let res = mallory.end_session(made_up, PASSWORD).await;
    assert_eq!(res.status(), 404);
    // Nor does the raw session id, the cookie's value, name a session.
    let res = mallory.end_session(&session_id(&alice), PASSWORD).await;
    assert_eq!(res.status(), 400);
    let body = json(res).await;
    assert_eq!(body["field"], "session", "{body}");
    // "All other sessions" is Mallory's others only.
    let res = mallory.end_other_sessions(PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, 0);

    assert_eq!(list_items_status(&alice).await, 200);
    assert_eq!(list(&alice).await.len(), 1);
    let mallorys = list(&mallory).await;
    assert_eq!(mallorys.len(), 1);
    assert_ne!(mallorys[0]["handle"], handle_of(&alice));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_ends_nothing_and_counts_against_the_sign_in_throttle() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let laptop = signed_in(&app, "alice", CHROME).await;
    let phone = signed_in(&app, "alice", FIREFOX).await;

    for _ in 0..5 {
        let res = laptop.end_session(&handle_of(&phone), "guess").await;
        assert_eq!(res.status(), 403);
        let body = json(res).await;
        assert_eq!(body["error"], "wrong_password", "{body}");
    }
    assert_eq!(list_items_status(&phone).await, 200, "nothing was ended");
    // A sixth guess is refused before it is checked, even the right
    // password, and so is a sign-in as the same user meanwhile.
    let res = laptop.end_other_sessions(PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(app.browser().sign_in("alice", PASSWORD).await.status(), 429);
    assert_eq!(list_items_status(&phone).await, 200);
    assert_eq!(list(&laptop).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_3_4_sessions_ended_from_another_are_refused_everywhere_as_revoked() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let laptop = signed_in(&app, "alice", CHROME).await;
    let phone = signed_in(&app, "alice", FIREFOX).await;
    let tablet = signed_in(&app, "alice", FIREFOX).await;

    // Its own session is not ended from this list: signing out does that.
    let res = laptop.end_session(&handle_of(&laptop), PASSWORD).await;
    assert_eq!(res.status(), 400);

    let res = laptop.end_session(&handle_of(&phone), PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, 1);

    // The phone's next call, its status, and its pages all say why.
    let res = phone.list_items(1).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()[END_REASON_HEADER], "revoked");
    let body = json(res).await;
    assert_eq!(body["error"], "session_expired");
    assert_eq!(body["reason"], "revoked");
    let status = phone.status().await;
    assert_eq!(status["signed_in"], false);
    assert_eq!(status["reason"], "revoked");
    let page = phone.get_page("/items?page=2").await;
    assert_eq!(page.status(), 303);
    let location = page.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/login?reason=revoked"), "{location}");
    let login = phone.get_page(&location).await.text().await.unwrap();
    assert!(login.contains("another session"), "{login}");

    assert_eq!(list_items_status(&laptop).await, 200);
    assert_eq!(list_items_status(&tablet).await, 200);

    // All the others: the tablet, and a fourth signed in since.
    let desktop = signed_in(&app, "alice", CHROME).await;
    let res = laptop.end_other_sessions(PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, 2);
    for browser in [&tablet, &desktop] {
        let res = browser.extend().await;
        assert_eq!(res.status(), 401);
        assert_eq!(json(res).await["reason"], "revoked");
    }
    let rows = list(&laptop).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["current"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_on_one_instance_is_refused_by_every_other() {
    let a = spawn_app().await;
    a.add_user("alice", PASSWORD).await;
    let phone_on_a = signed_in(&a, "alice", FIREFOX).await;
    // In A's memory from now on.
    assert_eq!(list_items_status(&phone_on_a).await, 200);

    let (a, laptop) = match backend() {
        // Another instance behind the same balancer.
        Backend::Postgres => {
            let b = a.another_instance().await;
            let laptop = signed_in(&b, "alice", CHROME).await;
            let res = laptop.end_session(&handle_of(&phone_on_a), PASSWORD).await;
            assert_eq!(res.status(), 200);
            (a, laptop)
        }
        // One server per SQLite file: the ending outlives a restart instead.
        Backend::Sqlite => {
            let laptop = signed_in(&a, "alice", CHROME).await;
            let res = laptop.end_session(&handle_of(&phone_on_a), PASSWORD).await;
            assert_eq!(res.status(), 200);
            let (db, clock) = a.stop().await;
            (start(db, clock, &[]).await, laptop)
        }
    };
    let cookie = phone_on_a.session_cookie().unwrap();
    let res = a.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await["reason"], "revoked");
    assert_eq!(a.status(&cookie).await["reason"], "revoked");
    // The laptop's session lives on, and lists itself alone.
    let laptop_cookie = laptop.session_cookie().unwrap();
    let res = a.list_sessions(&laptop_cookie).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["sessions"].as_array().unwrap().len(), 1);
}

/// A record written by a version before the user column (or by one still
/// running during a rolling deploy) names no user; the server fills it in,
/// so "Sign out all other sessions" reaches it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_written_without_their_user_are_found_once_filled_in() {
    let app = spawn_app().await;
    app.add_user("alice", PASSWORD).await;
    let laptop = signed_in(&app, "alice", CHROME).await;
    let old = signed_in(&app, "alice", FIREFOX).await;
    let pool = app.db.pool().await;
    sqlx::query(&format!(
        "UPDATE {SESSIONS_TABLE} SET user_id = NULL WHERE id = $1"
    ))
    .bind(session_id(&old))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(list(&laptop).await.len(), 1, "not found by its user");

    assert_eq!(
        app.state
            .sessions
            .store
            .sql()
            .fill_in_owners()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        app.state
            .sessions
            .store
            .sql()
            .fill_in_owners()
            .await
            .unwrap(),
        0
    );
    assert_eq!(list(&laptop).await.len(), 2);
    let res = laptop.end_other_sessions(PASSWORD).await;
    assert_eq!(json(res).await, 1);
    let res = old.list_items(1).await;
    assert_eq!(json(res).await["reason"], "revoked");
}
