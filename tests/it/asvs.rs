//! OWASP ASVS 4.0.3, chapters V2 (authentication) and V3 (session
//! management): the requirements this app meets that no other test already
//! names. Each test is named after its requirement; the others are
//!
//! - 2.2.1 anti-automation: `tests/it/auth.rs`, `asvs_2_2_1_*`
//! - 3.2.1 new session token at authentication: `tests/it/auth.rs`
//! - 3.3.1 logout invalidates the token: `tests/it/auth.rs`
//! - 3.3.2 idle and absolute timeouts: `tests/it/session.rs`
//! - 3.3.4 view and (after the password) end one's other sessions:
//!   `tests/it/devices.rs`, `asvs_3_3_4_*` and the rest of that file
//! - 3.4.1 `Secure` and 3.4.4 `__Host-`: `tests/it/auth.rs`
//! - 7.2.1 sign-ins logged with name and address: `tests/it/logs.rs`
//! - 8.2.1 anti-caching headers: `tests/it/security.rs`
//!
//! Not applicable, and why: 2.1.x (password policy) and 2.5.x (recovery):
//! users cannot set or recover passwords through the app, an operator
//! creates them (`add-user`); 2.3, 2.6 to 2.10 (other authenticators); 3.3.3
//! (password change: no such feature);
//! 3.5 (tokens other than the cookie); 3.7.1 (no sensitive transactions
//! beyond the session itself).

use std::collections::HashSet;

use crate::common::{is_cookie, set_cookies, spawn_app};
use reqwest::header;

/// 2.4.1: passwords are stored as Argon2id with OWASP's parameters, salted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_2_4_1_passwords_are_stored_as_salted_argon2id() {
    let app = spawn_app().await;
    app.add_user("alice", "same password").await;
    app.add_user("bob", "same password").await;
    let hashes: Vec<(String,)> = sqlx::query_as("SELECT password_hash FROM users")
        .fetch_all(&app.state.db.pool)
        .await
        .unwrap();
    for (hash,) in &hashes {
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!hash.contains("same password"));
    }
    assert_ne!(hashes[0], hashes[1], "each hash has its own salt");
}

/// 3.1.1: the session token never appears in a URL: not in a redirect, not
/// in a page's links or forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_1_1_the_session_token_never_appears_in_a_url() {
    let app = spawn_app().await;
    let id = app.add_user("alice", "s3cret").await;
    app.add_items(id, 30).await;
    let res = app
        .http
        .post(app.url("/api/sign_in"))
        .header(header::ACCEPT, "text/html")
        .form(&[
            ("username", "alice"),
            ("password", "s3cret"),
            ("next", "/items?page=2"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = app.session_cookie(&res).expect("signed in");
    let token = cookie.split_once('=').unwrap().1.to_owned();
    let location = res.headers()[header::LOCATION].to_str().unwrap().to_owned();
    assert!(!location.contains(&token), "{location}");
    for path in ["/items", "/items?page=2", "/items/new"] {
        let page = app
            .get_page(path, Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains(&token), "{path} shows the token");
    }
}

/// 3.2.2: session tokens carry at least 64 bits of entropy (tower-sessions
/// draws 128 random bits) and do not repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_2_2_session_tokens_are_long_random_and_unique() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let mut seen = HashSet::new();
    for _ in 0..20 {
        let cookie = app.sign_in("alice", "s3cret").await;
        let token = cookie.split_once('=').unwrap().1.to_owned();
        // base64url without padding: 22 characters hold 128 bits.
        assert!(token.len() >= 22, "{token}");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{token}"
        );
        assert!(seen.insert(token), "a token repeated");
    }
}

/// 3.2.3 and 3.4.2 to 3.4.5: the token lives only in a cookie that scripts
/// cannot read (`HttpOnly`), that is not sent cross-site (`SameSite=Lax`),
/// whose path is the whole app, and that ends with the browser (no
/// `Expires`/`Max-Age`, so the server's deadlines are the only ones).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_3_2_3_and_3_4_2_to_3_4_5_the_cookie_is_http_only_same_site_and_app_wide() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let res = app.sign_in_response("alice", "s3cret", None).await;
    let cookies = set_cookies(&res);
    let cookie = cookies
        .iter()
        .find(|c| is_cookie(c, app.cookie_name()))
        .expect("the session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    for absent in ["Expires", "Max-Age", "Domain"] {
        assert!(!cookie.contains(absent), "{absent} present: {cookie}");
    }
    let body = res.text().await.unwrap();
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    assert!(
        !body.contains(token),
        "the token is not in the answer's body"
    );
}
