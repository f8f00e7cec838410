//! Signing in and out over HTTP, against the real server.

use crate::common::{
    is_cookie, json, set_cookies, spawn_app, spawn_app_with, ResponseExt, TestApp,
};
use reqwest::header;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_browser_session_cookie_with_the_contract_flags() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let res = app.sign_in_response("alice", "s3cret", None).await;
    assert_eq!(res.status(), 200);
    let cookies = set_cookies(&res);
    let cookie = cookies
        .iter()
        .find(|c| is_cookie(c, app.cookie_name()))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Max-Age") && !cookie.contains("Expires"),
        "must end with the browser: {cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "loopback defaults to no Secure flag: {cookie}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_4_1_and_3_4_4_a_secure_cookie_takes_the_host_prefix() {
    let app = spawn_app_with(&[("SESSION_COOKIE_SECURE", "true")]).await;
    app.add_user("alice", "s3cret").await;
    let res = app.sign_in_response("alice", "s3cret", None).await;
    let cookies = set_cookies(&res);
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("__Host-session_guard="))
        .expect("prefixed cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/"),
        "{cookie}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_get_the_same_refusal() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let wrong = app.sign_in_response("alice", "nope", None).await;
    let unknown = app.sign_in_response("mallory", "nope", None).await;
    let invalid_name = app.sign_in_response("not a name!", "nope", None).await;
    for res in [wrong, unknown, invalid_name] {
        assert_eq!(res.status(), 401);
        assert!(
            app.session_cookie(&res).is_none(),
            "no session for a failed sign-in"
        );
        let body = json(res).await;
        assert_eq!(body["error"], "invalid_credentials");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_2_1_the_session_id_changes_at_every_sign_in() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let first = app.sign_in("alice", "s3cret").await;
    let res = app.sign_in_response("alice", "s3cret", Some(&first)).await;
    let second = app.session_cookie(&res).expect("new cookie");
    assert_ne!(first, second);
    // The id known before the second sign-in is worthless after it.
    let old = app.list_items(&first, 1).await;
    assert_eq!(old.status(), 401);
    let new = app.list_items(&second, 1).await;
    assert_eq!(new.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_without_a_session_writes_the_store_once() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let before = app.state.sessions.store.counts().writes();
    let cookie = app.sign_in("alice", "s3cret").await;
    // The new record, and no delete of an id that was never stored.
    assert_eq!(app.state.sessions.store.counts().writes() - before, 1);
    let res = app.list_items(&cookie, 1).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_3_1_sign_out_deletes_the_session_and_a_replayed_cookie_is_refused() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    assert_eq!(app.sessions_stored().await, 1);

    let res = app.sign_out(&cookie).await;
    assert_eq!(res.status(), 200);
    assert!(
        set_cookies(&res)
            .iter()
            .any(|c| is_cookie(c, app.cookie_name()) && c.contains("Max-Age=0")),
        "the cookie is removed: {:?}",
        set_cookies(&res)
    );
    assert_eq!(
        app.sessions_stored().await,
        0,
        "record deleted on the server"
    );

    let replay = app.list_items(&cookie, 1).await;
    assert_eq!(replay.status(), 401);
    assert_eq!(json(replay).await["reason"], "signed_out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_works_without_javascript() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let referer = app.url("/login?next=%2Fitems%3Fpage%3D2");
    let form = |password: &'static str| {
        app.http
            .post(app.url("/api/sign_in"))
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::REFERER, referer.clone())
            .form(&[
                ("username", "alice"),
                ("password", password),
                ("next", "/items?page=2"),
            ])
    };
    let bad = form("wrong").send().await.unwrap();
    assert_eq!(bad.status(), 302);
    let location = bad.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(
        location.contains("/login") && location.contains("__err="),
        "{location}"
    );
    // The page it goes back to shows the alert, rendered by the server.
    let page = app
        .http
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("role=\"alert\"") && page.contains("Invalid username or password"),
        "{page}"
    );

    let good = form("s3cret").send().await.unwrap();
    assert_eq!(good.status(), 302);
    assert_eq!(good.headers()[header::LOCATION], "/items?page=2");
    assert!(app.session_cookie(&good).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_without_next_stays_put_and_with_an_empty_next_goes_to_items() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    // The in-place sign-in over an expired page: no redirect at all.
    let res = app.sign_in_response("alice", "s3cret", None).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get(header::LOCATION).is_none());
    assert!(res.headers().get("serverfnredirect").is_none());
    let res = app.sign_in_to("alice", "s3cret", "/items").await;
    assert_eq!(res.headers()[header::LOCATION], "/items");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_form_always_names_where_to_go() {
    let app = spawn_app().await;
    let page = app.get_page("/login", None).await.text().await.unwrap();
    assert!(page.contains(r#"name="next" value="/items""#), "{page}");
    let page = app
        .get_page("/login?next=%2Fitems%3Fpage%3D4", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"name="next" value="/items?page=4""#),
        "{page}"
    );
}

/// Signs in from a given loopback address (Linux answers on all of 127/8).
async fn sign_in_from(
    app: &TestApp,
    from: [u8; 4],
    name: &str,
    password: &str,
) -> reqwest::Response {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(from))
        .build()
        .unwrap()
        .post(app.url("/api/sign_in"))
        .header(header::ACCEPT, "application/json")
        .form(&[("username", name), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// Fails from `from` until refused; answers the refusal. The allowance
/// refills by one every refill period, so on a slow or busy machine a guess
/// or two more may pass than the burst; never more than `slack`.
async fn fail_until_refused(
    app: &TestApp,
    from: [u8; 4],
    burst: u32,
    slack: u32,
    name: impl Fn(u32) -> String,
) -> reqwest::Response {
    for n in 0..burst + slack {
        let res = sign_in_from(app, from, &name(n), "guess").await;
        if n < burst {
            assert_eq!(res.status(), 401, "failure {n} is within the allowance");
        } else if res.status() != 401 {
            return res;
        }
    }
    panic!("still not refused after {} failures", burst + slack);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_2_2_1_repeated_failures_for_one_user_are_refused_from_that_address_only() {
    use session_guard::auth::throttle::{USER_BURST, USER_REFILL};
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let attacker = [127, 0, 0, 1];
    // Alternating case: the name's case does not reset the count.
    let res = fail_until_refused(&app, attacker, USER_BURST, 2, |n| {
        if n % 2 == 0 { "alice" } else { "ALICE" }.to_owned()
    })
    .await;
    assert_eq!(res.status(), 429);
    let wait = res.retry_after();
    assert!(
        (1..=USER_REFILL.as_secs()).contains(&wait),
        "refused for {wait} s: slowed, not locked for good"
    );
    let body = json(res).await;
    assert_eq!(body["error"], "too_many_attempts");
    assert!(body["reason"].as_str().unwrap().contains("Try again in"));

    // Even the right password is refused from there for now...
    let res = sign_in_from(&app, attacker, "alice", "s3cret").await;
    assert_eq!(res.status(), 429);
    assert!(app.session_cookie(&res).is_none());
    // ...while alice, from anywhere else, signs in at once.
    let res = sign_in_from(&app, [127, 0, 0, 2], "alice", "s3cret").await;
    assert_eq!(res.status(), 200, "nobody can lock a real user out");
    assert!(app.session_cookie(&res).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_2_2_1_one_address_guessing_across_many_names_is_refused() {
    use session_guard::auth::throttle::{ADDRESS_BURST, ADDRESS_REFILL};
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let sprayer = [127, 0, 0, 3];
    let res = fail_until_refused(&app, sprayer, ADDRESS_BURST, 4, |n| format!("user{n}")).await;
    assert_eq!(res.status(), 429);
    assert!((1..=ADDRESS_REFILL.as_secs()).contains(&res.retry_after()));
    let res = sign_in_from(&app, sprayer, "alice", "s3cret").await;
    assert_eq!(res.status(), 429, "the address is refused for any name");
    let res = sign_in_from(&app, [127, 0, 0, 4], "alice", "s3cret").await;
    assert_eq!(res.status(), 200, "other addresses are not affected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_2_2_1_a_burst_of_guesses_verifies_at_most_the_allowance() {
    use session_guard::auth::throttle::USER_BURST;
    let app = std::sync::Arc::new(spawn_app().await);
    app.add_user("alice", "s3cret").await;
    let attacker = [127, 0, 0, 5];
    // 99 wrong guesses for one name from one address, all at once.
    let guesses: Vec<_> = (0..99)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { sign_in_from(&app, attacker, "alice", "guess").await })
        })
        .collect();
    let mut verified = 0;
    for guess in futures::future::join_all(guesses).await {
        let res = guess.unwrap();
        match res.status().as_u16() {
            // Verified, and wrong.
            401 => verified += 1,
            // Refused before any verification, with when to come back.
            429 | 503 => assert!(res.retry_after() >= 1),
            other => panic!("a guess answered {other}"),
        }
    }
    assert!(
        verified <= USER_BURST,
        "{verified} guesses were verified; the allowance is {USER_BURST}"
    );
    // Right after, the right password from there is refused too.
    let res = sign_in_from(&app, attacker, "alice", "s3cret").await;
    assert_eq!(res.status(), 429, "the burst bought a verification");
    assert!(app.session_cookie(&res).is_none());
    // Alice herself, from her own address, is not.
    let res = sign_in_from(&app, [127, 0, 0, 6], "alice", "s3cret").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_passwords_never_use_up_an_allowance() {
    use session_guard::auth::throttle::ADDRESS_BURST;
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    for n in 0..ADDRESS_BURST + 5 {
        let res = sign_in_from(&app, [127, 0, 0, 7], "alice", "s3cret").await;
        assert_eq!(res.status(), 200, "sign-in {n}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_from_many_addresses_queues_boundedly_and_says_when_to_retry() {
    use session_guard::auth::throttle::MAX_QUEUED;
    let app = std::sync::Arc::new(spawn_app().await);
    app.add_user("alice", "s3cret").await;
    // Three times as many verifications as may wait, from as many
    // addresses (so no per-address limit applies), all at once.
    let flood: Vec<_> = (0..3 * MAX_QUEUED as u8)
        .map(|n| {
            let app = app.clone();
            tokio::spawn(async move {
                sign_in_from(&app, [127, 0, 1, n + 1], &format!("user{n}"), "guess").await
            })
        })
        .collect();
    let (mut verified, mut busy) = (0, 0);
    for res in futures::future::join_all(flood).await {
        let res = res.unwrap();
        match res.status().as_u16() {
            401 => verified += 1,
            503 => {
                busy += 1;
                assert!(res.retry_after() >= 1);
                assert_eq!(json(res).await["error"], "busy");
            }
            other => panic!("a sign-in answered {other}"),
        }
    }
    // One hashing thread takes tens of ms per verification: more than the
    // queue holds arrive before it drains.
    assert!(busy > 0, "nothing was turned away ({verified} verified)");
    assert!(verified >= 1);
    // And the server is fine afterwards.
    let res = sign_in_from(&app, [127, 0, 2, 1], "alice", "s3cret").await;
    assert_eq!(res.status(), 200);
}
