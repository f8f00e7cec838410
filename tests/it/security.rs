//! Defences that hold whatever the session: cross-site posts, security
//! headers, body size. (Issue 7 adds more; these are the first.)

use crate::common::{json, set_cookies, spawn_app, spawn_app_with, Anon, TestApp};
use reqwest::header;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let before = app.items_stored().await;
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "http://evil.example"),
    ] {
        let res = app
            .http
            .post(app.url("/api/create_item"))
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, &cookie)
            .header(name, value)
            .form(&[("title", "forged"), ("description", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{name}: {value}");
        assert_eq!(json(res).await["error"], "forbidden");
    }
    assert_eq!(app.items_stored().await, before);

    // A cross-site sign-in cannot plant a session either.
    let res = app
        .http
        .post(app.url("/api/sign_in"))
        .header("sec-fetch-site", "cross-site")
        .form(&[("username", "alice"), ("password", "s3cret")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.headers().get(header::SET_COOKIE).is_none());

    // The same site, as a browser says it, is fine.
    let res = app
        .http
        .post(app.url("/api/create_item"))
        .header(header::ACCEPT, "application/json")
        .header(header::COOKIE, &cookie)
        .header("sec-fetch-site", "same-origin")
        .header(header::ORIGIN, app.base.clone())
        .form(&[("title", "mine"), ("description", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_nonce_csp_and_every_answer_the_security_headers() {
    let app = spawn_app().await;
    let res = app.get_page("/login", None).await;
    let csp = res.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(res.headers()[header::REFERRER_POLICY], "same-origin");
    let html = res.text().await.unwrap();
    let nonce = html
        .split("nonce=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a nonce on the hydration script");
    assert!(csp.contains(&format!("'nonce-{nonce}'")), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    let other =
        app.get_page("/login", None).await.headers()[header::CONTENT_SECURITY_POLICY].clone();
    assert_ne!(other.to_str().unwrap(), csp, "a new nonce for every page");

    let api = app.list_items(&Anon, 1).await;
    assert_eq!(api.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_gets_413() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    // The server answers from the declared length alone and closes; sending
    // the 2 MiB itself would race that close (a broken pipe on our side), so
    // only the request head goes out.
    let answer = create_item_by_hand(&app, &cookie, 2 * 1024 * 1024, "").await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("content-type: application/json"),
        "the refusal is the contract's JSON: {answer}"
    );
    assert!(
        answer.contains("larger than 1048576 bytes"),
        "the reason is the size: {answer}"
    );
    assert_eq!(app.items_stored().await, 0);
}

/// A server-function call the server cannot read answers 4xx with a JSON
/// reason, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_server_function_calls_get_a_json_reason_and_change_nothing() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let post = |path: &str, content_type: &str, body: Vec<u8>| {
        let req = app
            .http
            .post(app.url(path))
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, &cookie);
        // An empty type stands for none at all.
        let req = if content_type.is_empty() {
            req
        } else {
            req.header(header::CONTENT_TYPE, content_type)
        };
        req.body(body).send()
    };
    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, &str, &str, Vec<u8>, u16)> = vec![
        (
            "missing field",
            "/api/create_item",
            form,
            b"title=x".to_vec(),
            400,
        ),
        (
            "missing field",
            "/api/sign_in",
            form,
            b"username=alice".to_vec(),
            400,
        ),
        (
            "wrong type",
            "/api/sign_in",
            form,
            b"username[]=a&password=b".to_vec(),
            400,
        ),
        (
            "repeated field",
            "/api/create_item",
            form,
            b"title=a&title=b&description=".to_vec(),
            400,
        ),
        (
            "invalid UTF-8",
            "/api/create_item",
            form,
            b"title=\xff\xfe&description=x".to_vec(),
            400,
        ),
        (
            "JSON body",
            "/api/create_item",
            "application/json",
            br#"{"title":"x","description":""}"#.to_vec(),
            415,
        ),
        (
            "binary body",
            "/api/create_item",
            "application/octet-stream",
            vec![0, 159, 146, 150],
            415,
        ),
        (
            "a form sent as text/plain, with an extra field",
            "/api/create_item",
            "text/plain",
            b"title=a&description=&owner=bob".to_vec(),
            415,
        ),
        (
            "a form without a Content-Type, with an extra field",
            "/api/create_item",
            "",
            b"title=a&description=&owner=bob".to_vec(),
            415,
        ),
        (
            "extra field under an upper-case form type",
            "/api/create_item",
            "Application/X-WWW-Form-URLEncoded; Charset=UTF-8",
            b"title=a&description=&owner=bob".to_vec(),
            400,
        ),
        (
            "no such function",
            "/api/drop_tables",
            form,
            Vec::new(),
            404,
        ),
        (
            "extra field",
            "/api/create_item",
            form,
            b"title=a&description=&owner=bob".to_vec(),
            400,
        ),
        (
            "extra field",
            "/api/sign_out",
            form,
            b"everywhere=1".to_vec(),
            400,
        ),
    ];
    for (what, path, content_type, body, status) in cases {
        let res = post(path, content_type, body).await.unwrap();
        assert_eq!(res.status(), status, "{what} to {path}");
        let body = json(res).await;
        assert!(
            body["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{what}: {body}"
        );
    }
    let res = app
        .http
        .get(app.url("/api/create_item"))
        .header(header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405, "a GET to a POST function");
    assert!(json(res).await["reason"].as_str().unwrap().contains("POST"));
    assert_eq!(app.items_stored().await, 0);
}

/// A body that never finishes arriving is cut off by the request timeout
/// (30 s) with 408, rather than holding a task and a connection forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let answer = create_item_by_hand(&app, &cookie, 100, "title=slow").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("content-type: application/json"),
        "{answer}"
    );
    assert!(
        answer.contains("longer than 30 seconds"),
        "the reason is the time: {answer}"
    );
    assert_eq!(app.items_stored().await, 0);
}

/// A create_item call written by hand: the head declares `length` body bytes
/// and only `body` follows. Answers the start of the server's answer, which
/// must come within a minute.
async fn create_item_by_hand(app: &TestApp, cookie: &str, length: usize, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /api/create_item HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nCookie: {cookie}\r\n\
         Content-Length: {length}\r\n\r\n{body}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // The head, then as many body bytes as it announces (or what came
    // before the server closed).
    let mut answer = Vec::new();
    let read_all = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.unwrap_or(0);
            answer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&answer).to_string();
            let whole = text.split_once("\r\n\r\n").is_some_and(|(head, body)| {
                head.lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().to_owned())
                    })
                    .and_then(|v| v.parse::<usize>().ok())
                    .is_some_and(|length| body.len() >= length)
            });
            if n == 0 || whole {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), read_all)
        .await
        .expect("the server answered within a minute");
    String::from_utf8_lossy(&answer).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_8_2_1_pages_and_server_function_answers_are_never_stored() {
    let app = spawn_app().await;
    let id = app.add_user("alice", "s3cret").await;
    app.add_items(id, 3).await;
    let browser = app.browser();
    let signed_in = browser.sign_in("alice", "s3cret").await;
    let mut answers = vec![("sign_in", signed_in)];
    answers.push(("items page", browser.get_page("/items").await));
    answers.push(("new item page", browser.get_page("/items/new").await));
    answers.push(("list_items", browser.list_items(1).await));
    answers.push(("session_status", browser.status_response().await));
    answers.push(("sign_out", browser.sign_out().await));
    answers.push(("a refused call", browser.list_items(1).await));
    answers.push(("login page", browser.get_page("/login").await));
    for (what, res) in answers {
        assert_eq!(
            res.headers()
                .get(reqwest::header::CACHE_CONTROL)
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what} ({})",
            res.status()
        );
    }
}

/// A client that trickles its headers (slowloris), or connects and sends
/// nothing, is cut off once the header-read timeout has passed, and never
/// keeps others from being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_trickling_its_headers_is_cut_off_while_others_are_served() {
    use session_guard::server::HEADER_READ_TIMEOUT;
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    // One client connects and says nothing at all; another trickles.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = Instant::now();
    slow.write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();

    // Meanwhile others are served.
    let res = app.http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // One header byte a second; the server must end this connection.
    let mut buf = [0u8; 512];
    let cut_after = loop {
        assert!(
            started.elapsed() < HEADER_READ_TIMEOUT + Duration::from_secs(10),
            "a trickling client was never cut off"
        );
        if slow.write_all(b"X").await.is_err() {
            break started.elapsed();
        }
        match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(n)) if n > 0 => {
                // An answer before the headers ended can only be a refusal.
                let head = String::from_utf8_lossy(&buf[..n]);
                assert!(head.starts_with("HTTP/1.1 408"), "{head}");
                break started.elapsed();
            }
            Ok(_) => break started.elapsed(),
        }
    };
    assert!(
        cut_after >= HEADER_READ_TIMEOUT - Duration::from_secs(1),
        "cut off after {cut_after:?}, before the timeout"
    );
    let res = app.http.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // The silent one is closed by then too (its slot is free again).
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a silent connection stayed open: {closed:?}"
    );
}

/// A sibling origin of the same site (another subdomain, another port: what
/// browsers call `same-site`) is another origin, and may not post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sibling_origin_of_the_same_site_cannot_post() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let cookie = app.sign_in("alice", "s3cret").await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let sibling = format!("http://evil.localhost:{port}");
    for (function, form) in [
        (
            "create_item",
            vec![("title", "forged"), ("description", "")],
        ),
        ("sign_out", vec![]),
    ] {
        let res = app
            .http
            .post(app.url(&format!("/api/{function}")))
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, &cookie)
            .header("sec-fetch-site", "same-site")
            .header(header::ORIGIN, &sibling)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{function}");
        assert_eq!(json(res).await["error"], "forbidden");
    }
    assert_eq!(app.items_stored().await, 0);
    assert_eq!(app.status(&cookie).await["signed_in"], true);
}

/// With `SameSite=Lax` the session cookie goes along with any request from
/// a page of the same site, an `<img src="/items">` on a sibling subdomain
/// included. Such a load is not the user opening the page: it must not keep
/// the session alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_loaded_as_an_image_by_a_sibling_site_does_not_keep_the_session_alive() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    let load = |mode: &'static str, dest: &'static str, site: &'static str| {
        browser
            .http
            .get(app.url("/items"))
            .header(header::ACCEPT, "*/*")
            .header("sec-fetch-mode", mode)
            .header("sec-fetch-dest", dest)
            .header("sec-fetch-site", site)
            .send()
    };
    app.advance(600);
    for (mode, dest) in [
        ("no-cors", "image"),
        ("navigate", "iframe"),
        ("cors", "empty"),
    ] {
        let res = load(mode, dest, "same-site").await.unwrap();
        assert!(
            res.status().as_u16() < 500,
            "{mode} {dest}: {}",
            res.status()
        );
        assert_eq!(
            browser.status().await["idle_remaining_secs"],
            300,
            "{mode} {dest}"
        );
    }
    // The user opening the page, from a link anywhere, is.
    let res = load("navigate", "document", "cross-site").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(browser.status().await["idle_remaining_secs"], 900);
}

/// Behind a TLS proxy the server is bound to loopback, yet users reach
/// `https://...`: `PUBLIC_URL` decides the cookie, the one origin accepted
/// and HSTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_an_https_proxy_the_public_url_decides_cookie_origin_and_hsts() {
    let public = "https://items.test";
    let app = spawn_app_with(&[("PUBLIC_URL", public)]).await;
    app.add_user("alice", "s3cret").await;
    // As the proxy passes them on: the Host users asked for.
    let res = app
        .http
        .post(app.url("/api/sign_in"))
        .header(header::HOST, "items.test")
        .header(header::ACCEPT, "application/json")
        .header("sec-fetch-site", "same-origin")
        .header(header::ORIGIN, public)
        .form(&[("username", "alice"), ("password", "s3cret")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
    let set_cookie = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("__Host-session_guard="))
        .expect("a __Host- cookie though the server is bound to loopback");
    assert!(
        set_cookie.contains("Secure") && set_cookie.contains("HttpOnly"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let post_from = |origin: String| {
        app.http
            .post(app.url("/api/create_item"))
            .header(header::HOST, "items.test")
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, &cookie)
            .header("sec-fetch-site", "same-origin")
            .header(header::ORIGIN, origin)
            .form(&[("title", "mine"), ("description", "")])
            .send()
    };
    // The server's own address is not the origin users are on.
    let res = post_from(app.base.clone()).await.unwrap();
    assert_eq!(res.status(), 403);
    let res = post_from("http://items.test".to_owned()).await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.items_stored().await, 0);
    let res = post_from(public.to_owned()).await.unwrap();
    assert_eq!(res.status(), 200);
    let page = app
        .http
        .get(app.url("/login"))
        .header(header::HOST, "items.test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );

    // Without PUBLIC_URL (development on loopback): no HSTS.
    let dev = spawn_app().await;
    let page = dev.get_page("/login", None).await;
    assert!(!page
        .headers()
        .contains_key(header::STRICT_TRANSPORT_SECURITY));
}

/// Behind a proxy every connection comes from the proxy: the client is read
/// from `X-Forwarded-For`, but only when the proxy is trusted, so one
/// client's wrong passwords never throttle another, and a client talking to
/// the server directly cannot pick the address it is counted under.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_when_a_trusted_proxy_sends_them() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    app.add_user("alice", "s3cret").await;
    app.add_user("bob", "s3cret").await;
    let sign_in = |http: &reqwest::Client, forwarded: &str, name: &str, password: &str| {
        http.post(app.url("/api/sign_in"))
            .header(header::ACCEPT, "application/json")
            .header("x-forwarded-for", forwarded)
            .form(&[("username", name), ("password", password)])
            .send()
    };
    // Through the proxy (127.0.0.1): client A guesses until refused...
    let proxy = &app.http;
    for _ in 0..5 {
        let res = sign_in(proxy, "203.0.113.1", "alice", "guess")
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = sign_in(proxy, "203.0.113.1", "alice", "s3cret")
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    // ...and client B, behind the same proxy, signs in as alice at once.
    let res = sign_in(proxy, "198.51.100.2, 203.0.113.2", "alice", "s3cret")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = app.session_cookie(&res).unwrap();
    // The sessions page shows the client's address, not the proxy's.
    let res = app.list_sessions(&cookie).await;
    assert_eq!(json(res).await["sessions"][0]["address"], "203.0.113.2");

    // Straight to the server from 127.0.0.2, not a proxy: the forged header
    // is ignored, and a new forgery each time does not reset the count.
    let direct = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    for n in 0..5 {
        let forged = format!("192.0.2.{n}");
        let res = sign_in(&direct, &forged, "bob", "guess").await.unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = sign_in(&direct, "192.0.2.99", "bob", "s3cret")
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "counted under 127.0.0.2, whatever it forged"
    );
}
