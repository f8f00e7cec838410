//! Many users at once: 200 signed-in sessions listing pages and saving items
//! for 30 seconds over loopback. No answer may be a 5xx, none may carry
//! another user's items, and every accepted save is stored exactly once.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use crate::common::{json, spawn_app, TestApp};
use rand::{rngs::StdRng, Rng, SeedableRng};
use session_guard::auth::{password, users, Username};

const USERS: usize = 200;
const RUN: Duration = Duration::from_secs(30);

struct Outcome {
    saved: Vec<String>,
    calls: usize,
}

/// One user's half minute: list a page, save an item, now and then both at
/// once, checking every page it is shown.
async fn user_session(app: Arc<TestApp>, name: String, cookie: String, seed: u64) -> Outcome {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut saved = Vec::new();
    let mut calls = 0;
    let started = Instant::now();
    while started.elapsed() < RUN {
        if rng.random_bool(0.4) {
            let title = format!("{name}-{}", saved.len());
            let res = app.create_item(&cookie, &title, "written under load").await;
            calls += 1;
            let status = res.status();
            assert!(status.is_success(), "{name}: saving got {status}");
            saved.push(title);
        } else {
            let pages = saved.len().div_ceil(20).max(1);
            let page = rng.random_range(1..=pages);
            let res = app.list_items(&cookie, page as u64).await;
            calls += 1;
            let status = res.status();
            assert!(status.is_success(), "{name}: page {page} got {status}");
            let body = json(res).await;
            for item in body["items"].as_array().unwrap() {
                let title = item["title"].as_str().unwrap();
                assert!(
                    title.starts_with(&format!("{name}-")),
                    "{name} was shown {title:?}, another user's item"
                );
            }
        }
    }
    Outcome { saved, calls }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_users_at_once_see_only_their_own_items_and_lose_none() {
    let app = Arc::new(spawn_app().await);
    // One hash for all: the test is about sessions, not about Argon2.
    let hash = password::hash("s3cret".into()).await.unwrap();
    let mut people = Vec::new();
    for n in 0..USERS {
        let name = format!("user{n:03}");
        let username = Username::parse(&name).unwrap();
        let id = users::create(&app.state.db.pool, &username, &hash, app.clock.now())
            .await
            .unwrap();
        people.push((id, name));
    }
    let mut sessions = Vec::new();
    for (id, name) in &people {
        let cookie = app.sign_in(name, "s3cret").await;
        sessions.push((*id, name.clone(), cookie));
    }

    let tasks: Vec<_> = sessions
        .iter()
        .enumerate()
        .map(|(n, (_, name, cookie))| {
            tokio::spawn(user_session(
                app.clone(),
                name.clone(),
                cookie.clone(),
                n as u64,
            ))
        })
        .collect();
    let mut calls = 0;
    let mut outcomes = Vec::new();
    for task in tasks {
        let outcome = task.await.expect("a user's session panicked");
        calls += outcome.calls;
        outcomes.push(outcome);
    }
    eprintln!("{calls} calls from {USERS} users in {RUN:?}");
    assert!(calls >= USERS * 10, "the load ran ({calls} calls)");

    for ((id, name, _), outcome) in sessions.iter().zip(outcomes) {
        let stored: Vec<(String,)> =
            sqlx::query_as("SELECT title FROM items WHERE user_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(&app.state.db.pool)
                .await
                .unwrap();
        let stored: Vec<String> = stored.into_iter().map(|(t,)| t).collect();
        assert_eq!(
            stored, outcome.saved,
            "{name}: every save stored once, in order"
        );
        let (count,): (i64,) = sqlx::query_as("SELECT item_count FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
        assert_eq!(
            count as usize,
            outcome.saved.len(),
            "{name}: the page count agrees"
        );
    }
}
