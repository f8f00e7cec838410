//! A user's items through the server functions: paging, isolation, bad input.

use std::collections::HashSet;

use crate::common::{json, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_returns_every_item_exactly_once_newest_first() {
    let app = spawn_app_with(&[("ITEMS_PAGE_SIZE", "7")]).await;
    let id = app.add_user("alice", "s3cret").await;
    app.add_items(id, 50).await;
    let cookie = app.sign_in("alice", "s3cret").await;

    let mut seen = Vec::new();
    for page in 1..=8 {
        let res = app.list_items(&cookie, page).await;
        assert_eq!(res.status(), 200, "page {page}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["page_count"], 8);
        assert_eq!(body["item_count"], 50);
        let titles: Vec<String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(titles.len(), if page < 8 { 7 } else { 1 });
        seen.extend(titles);
    }
    let expected: Vec<String> = (1..=50).rev().map(|n| format!("Item {n}")).collect();
    assert_eq!(seen, expected, "newest first, each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_never_see_each_others_items() {
    let app = spawn_app_with(&[]).await;
    let alice = app.add_user("alice", "a").await;
    let bob = app.add_user("bob", "b").await;
    app.add_items(alice, 30).await;
    let bob_cookie = app.sign_in("bob", "b").await;
    let created = app.create_item(&bob_cookie, "Bob's", "").await;
    assert_eq!(created.status(), 200);

    let res = app.list_items(&bob_cookie, 1).await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["item_count"], 1);
    assert_eq!(body["items"][0]["title"], "Bob's");
    // Alice's second page does not exist for Bob, whatever he asks for.
    let res = app.list_items(&bob_cookie, 2).await;
    assert_eq!(res.status(), 400);
    // Extra fields (a user id) are not a way in.
    let res = app
        .call(
            "list_items",
            Some(&bob_cookie),
            &[("page", "1"), ("user_id", &alice.to_string())],
        )
        .await;
    assert_eq!(res.status(), 400, "the contract refuses unknown fields");
    let body = json(res).await;
    assert_eq!(body["field"], "user_id");
    let res = app.list_items(&bob_cookie, 1).await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["item_count"], 1, "still only Bob's own item");
    let _ = bob;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_page_numbers_get_a_400_with_a_reason() {
    let app = spawn_app_with(&[]).await;
    let id = app.add_user("alice", "s3cret").await;
    app.add_items(id, 45).await;
    let cookie = app.sign_in("alice", "s3cret").await;
    for page in ["0", "-1", "abc", "", "1.5", "99999999999999999999", "4"] {
        let res = app
            .call("list_items", Some(&cookie), &[("page", page)])
            .await;
        assert_eq!(res.status(), 400, "page {page:?}");
        let body = json(res).await;
        assert_eq!(body["error"], "bad_request");
        assert!(body["reason"].as_str().unwrap().len() > 10, "{body}");
    }
    let res = app.call("list_items", Some(&cookie), &[]).await;
    assert_eq!(
        res.status(),
        400,
        "a missing argument is the caller's fault"
    );

    // The page itself: a message and a way back, never a server error.
    for page in ["0", "abc", "99999999999999999999", "4"] {
        let res = app
            .get_page(&format!("/items?page={page}"), Some(&cookie))
            .await;
        assert_eq!(res.status(), 400, "page {page}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains("role=\"alert\"") && html.contains("Go to page 1"),
            "page {page}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_item_comes_first_and_bad_drafts_store_nothing() {
    let app = spawn_app_with(&[]).await;
    let id = app.add_user("alice", "s3cret").await;
    app.add_items(id, 25).await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let long = "Lorem ipsum dolor sit amet. ".repeat(700);
    let res = app.create_item(&cookie, "My essay", &long).await;
    assert_eq!(res.status(), 200);
    let res = app.list_items(&cookie, 1).await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["items"][0]["title"], "My essay");
    assert_eq!(body["items"][0]["description"], long);
    assert_eq!(body["item_count"], 26);

    let before = app.items_stored().await;
    for (title, description, limit) in [
        ("t".repeat(201), String::new(), "200"),
        ("ok".to_owned(), "d".repeat(20_001), "20000"),
        ("   ".to_owned(), String::new(), "required"),
    ] {
        let res = app.create_item(&cookie, &title, &description).await;
        assert_eq!(res.status(), 400);
        let body = json(res).await;
        assert!(body["reason"].as_str().unwrap().contains(limit), "{body}");
    }
    assert_eq!(app.items_stored().await, before, "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_saves_never_share_or_skip_a_position() {
    let app = spawn_app_with(&[]).await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let mut tasks = Vec::new();
    for n in 0..20 {
        let http = app.http.clone();
        let url = app.url("/api/create_item");
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .header("accept", "application/json")
                .header("cookie", cookie)
                .form(&[("title", format!("t{n}")), ("description", String::new())])
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let seqs: Vec<(i64,)> = sqlx::query_as("SELECT seq FROM items ORDER BY seq")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    let seqs: HashSet<i64> = seqs.into_iter().map(|(s,)| s).collect();
    assert_eq!(seqs, (1..=20).collect());
    assert_eq!(app.count("SELECT item_count FROM users").await, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_list_says_so_and_links_to_a_new_item() {
    let app = spawn_app_with(&[]).await;
    app.add_user("newbie", "pw").await;
    let cookie = app.sign_in("newbie", "pw").await;
    let html = app
        .get_page("/items", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("No items yet."), "{html}");
    assert!(html.contains(r#"href="/items/new""#));
    assert!(html.contains("Page 1 of 1"));
    assert!(!html.contains(r#"rel="next""#), "no Next on the only page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_a_field_are_a_400_that_stores_nothing() {
    let app = spawn_app_with(&[]).await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    for (title, description, field) in [
        ("a\0b", "text", "title"),
        ("A title", "nul \0 inside", "description"),
        ("bell \u{7}", "", "title"),
        ("A title", "escape \u{1b}[2J", "description"),
    ] {
        let res = app.create_item(&cookie, title, description).await;
        assert_eq!(res.status(), 400, "{title:?} / {description:?}");
        let body = json(res).await;
        assert_eq!(body["field"], field);
        assert!(body["reason"]
            .as_str()
            .unwrap()
            .contains("control character"));
    }
    assert_eq!(app.items_stored().await, 0);
    // Tabs and line breaks (as a text area sends them) are text.
    let res = app.create_item(&cookie, "Tab\there", "one\r\ntwo").await;
    assert_eq!(res.status(), 200);
}

/// Pages and lists go out compressed when the browser takes it (brotli
/// first); an answer under 1 KiB, or to a client that asks for none, as it
/// is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_lists_are_compressed_when_asked_and_worth_it() {
    let app = spawn_app_with(&[]).await;
    let alice = app.add_user("alice", "s3cret").await;
    app.add_items(alice, 40).await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let list = |encoding: &'static str| {
        app.http
            .post(app.url("/api/list_items"))
            .header("accept", "application/json")
            .header("accept-encoding", encoding)
            .header("cookie", &cookie)
            .form(&[("page", "1")])
            .send()
    };
    let encoding = |res: &reqwest::Response| {
        res.headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let br = list("gzip, deflate, br").await.unwrap();
    assert_eq!(br.status(), 200);
    assert_eq!(encoding(&br).as_deref(), Some("br"));
    assert!(br.headers()["vary"]
        .to_str()
        .unwrap()
        .contains("accept-encoding"));
    let gzip = list("gzip").await.unwrap();
    assert_eq!(encoding(&gzip).as_deref(), Some("gzip"));
    let plain = list("identity").await.unwrap();
    assert_eq!(encoding(&plain), None);
    assert!(plain.text().await.unwrap().contains("\"item_count\":40"));

    let page = app
        .http
        .get(app.url("/items?page=1"))
        .header("accept-encoding", "br")
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(encoding(&page).as_deref(), Some("br"));
    // A small answer (an error, here) is not worth it.
    let small = app
        .http
        .post(app.url("/api/list_items"))
        .header("accept", "application/json")
        .header("accept-encoding", "br")
        .form(&[("page", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 401);
    assert_eq!(encoding(&small), None);
}
