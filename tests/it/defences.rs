//! Defences, second round: cookie removals a browser obeys, the one
//! forwarding header the operator names, sign-in that no network can
//! starve, only the host names the server serves, and no path variant that
//! answers 500.

use std::sync::{
    atomic::{AtomicBool, AtomicU64, Ordering},
    Arc,
};

use reqwest::{header, Method, StatusCode};

use crate::common::{json, set_cookies, spawn_app, spawn_app_with, TestApp};

/// The `Set-Cookie` line of an answer that sets or removes `name`.
fn set_cookie_of(res: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(res)
        .into_iter()
        .find(|line| line.starts_with(&format!("{name}=")))
}

/// Attributes of a `Set-Cookie` line, lower case, without the value.
fn attributes(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|part| part.trim().to_ascii_lowercase())
        .collect()
}

/// Behind https the guard's cookies are `__Host-` and `Secure`. A browser
/// ignores a `__Host-` cookie without `Secure`, a removal included: every
/// removal must carry the attributes of the cookie it removes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removals_of_the_guards_cookies_carry_the_attributes_they_were_set_with() {
    let public = "https://items.test";
    let app = spawn_app_with(&[("PUBLIC_URL", public)]).await;
    app.add_user("alice", "s3cret").await;
    let post = |path: &str, cookie: &str, form: &[(&str, &str)]| {
        app.http
            .post(app.url(path))
            .header(header::HOST, "items.test")
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, public)
            .header(header::COOKIE, cookie)
            .form(form)
            .send()
    };
    let signed_in = post(
        "/api/sign_in",
        "",
        &[("username", "alice"), ("password", "s3cret")],
    )
    .await
    .unwrap();
    assert_eq!(signed_in.status(), 200);
    let set = set_cookie_of(&signed_in, "__Host-session_guard").expect("the session cookie");
    let session = set.split(';').next().unwrap().to_owned();

    let signed_out = post("/api/sign_out", &session, &[]).await.unwrap();
    assert_eq!(signed_out.status(), 200);
    let removal = set_cookie_of(&signed_out, "__Host-session_guard").expect("a removal");
    let ended = set_cookie_of(&signed_out, "__Host-session_guard_ended").expect("the reason");
    for line in [&removal, &ended] {
        let attrs = attributes(line);
        for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
            assert!(
                attrs.iter().any(|a| a == wanted),
                "{wanted} missing: {line}"
            );
        }
    }
    assert!(
        attributes(&removal).contains(&"max-age=0".to_owned()),
        "{removal}"
    );

    // The next sign-in removes the reason's cookie, Secure as it was set.
    let reason = ended.split(';').next().unwrap().to_owned();
    let again = post(
        "/api/sign_in",
        &reason,
        &[("username", "alice"), ("password", "s3cret")],
    )
    .await
    .unwrap();
    assert_eq!(again.status(), 200);
    let forgotten = set_cookie_of(&again, "__Host-session_guard_ended").expect("a removal");
    let attrs = attributes(&forgotten);
    for wanted in ["secure", "httponly", "samesite=lax", "path=/", "max-age=0"] {
        assert!(
            attrs.iter().any(|a| a == wanted),
            "{wanted} missing: {forgotten}"
        );
    }
}

/// Signs in as alice through a trusted proxy at 127.0.0.1 with these
/// forwarding headers; answers the address the sessions page shows.
async fn address_shown(app: &TestApp, forwarding: &[(&str, &str)]) -> String {
    let mut req = app
        .http
        .post(app.url("/api/sign_in"))
        .header(header::ACCEPT, "application/json")
        .form(&[("username", "alice"), ("password", "s3cret")]);
    for (name, value) in forwarding {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = app.session_cookie(&res).unwrap();
    let sessions = json(app.list_sessions(&cookie).await).await;
    let this = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .cloned()
        .unwrap();
    this["address"].as_str().unwrap().to_owned()
}

/// A proxy that writes one forwarding header passes the other on from the
/// client untouched: only the header the operator names is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_forwarding_header_the_operator_names_is_believed() {
    let both = [
        ("x-forwarded-for", "203.0.113.66"),
        ("forwarded", "for=198.51.100.7;proto=https"),
    ];
    let by_forwarded = spawn_app_with(&[
        ("TRUSTED_PROXIES", "127.0.0.1"),
        ("TRUSTED_PROXY_HEADER", "forwarded"),
    ])
    .await;
    by_forwarded.add_user("alice", "s3cret").await;
    assert_eq!(address_shown(&by_forwarded, &both).await, "198.51.100.7");
    assert_eq!(
        address_shown(&by_forwarded, &[("x-forwarded-for", "203.0.113.66")]).await,
        "127.0.0.1",
        "the client's own X-Forwarded-For names nobody"
    );

    let by_default = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    by_default.add_user("alice", "s3cret").await;
    assert_eq!(address_shown(&by_default, &both).await, "203.0.113.66");
    assert_eq!(
        address_shown(&by_default, &[("forwarded", "for=198.51.100.7")]).await,
        "127.0.0.1",
        "the client's own Forwarded names nobody"
    );
}

/// Wrong passwords from ever new /64s of one IPv6 /48 (65,536 of them cost
/// nothing) fill at most that network's share of the verifications: the
/// right password from an unrelated address is let in every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_from_one_ipv6_network_never_keeps_anyone_else_from_signing_in() {
    let app = Arc::new(spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await);
    app.add_user("alice", "s3cret").await;
    let stop = Arc::new(AtomicBool::new(false));
    let next_64 = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..48)
        .map(|_| {
            let (app, stop, next_64) = (app.clone(), stop.clone(), next_64.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let n = next_64.fetch_add(1, Ordering::Relaxed);
                    let from = format!("2001:db8:bad:{:x}::1", n % 0xffff);
                    let res = app
                        .http
                        .post(app.url("/api/sign_in"))
                        .header(header::ACCEPT, "application/json")
                        .header("x-forwarded-for", from)
                        .form(&[
                            ("username", format!("user{n}")),
                            ("password", "guess".into()),
                        ])
                        .send()
                        .await;
                    let status = match res {
                        Ok(res) => res.status().as_u16(),
                        Err(err) => panic!("a flood request failed: {err}"),
                    };
                    answers.push(status);
                    if status == 503 {
                        // Straight back for the next free place, but without
                        // spinning: the test shares its two cores with the
                        // server's hashing thread.
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                }
                answers
            })
        })
        .collect();
    // Let the flood fill its share of the queue first.
    let began = std::time::Instant::now();
    while app.state.verifications.performed() < 16 {
        assert!(began.elapsed().as_secs() < 60, "the flood never got going");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut refused = Vec::new();
    for n in 0..10 {
        let res = app
            .http
            .post(app.url("/api/sign_in"))
            .header(header::ACCEPT, "application/json")
            .header("x-forwarded-for", format!("198.51.100.{}", 10 + n))
            .form(&[("username", "alice"), ("password", "s3cret")])
            .send()
            .await
            .unwrap();
        if res.status() != StatusCode::OK {
            refused.push(res.status().as_u16());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut flood = Vec::new();
    for flooder in flooders {
        flood.extend(flooder.await.unwrap());
    }
    assert!(refused.is_empty(), "alice was refused: {refused:?}");
    // The flood was real: wrong passwords verified, and turned away once
    // its network's share was full.
    assert!(flood.contains(&401), "{flood:?}");
    assert!(flood.contains(&503), "{flood:?}");
    assert!(flood.iter().all(|s| matches!(s, 401 | 503)), "{flood:?}");
}

/// A page on a name that resolves to this server (DNS rebinding) sends a
/// `Host` and an `Origin` that agree with each other: only the host names
/// the server serves are answered; any other gets 400 and nothing is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_name_the_server_does_not_serve_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.add_user("alice", "s3cret").await;
    let port = app.base.rsplit(':').next().unwrap().to_owned();
    let sign_in_as = |host: String| {
        app.http
            .post(app.url("/api/sign_in"))
            .header(header::HOST, &host)
            .header(header::ORIGIN, format!("http://{host}"))
            .header("sec-fetch-site", "same-origin")
            .header(header::ACCEPT, "application/json")
            .form(&[("username", "alice"), ("password", "s3cret")])
            .send()
    };
    let rebind = format!("rebind.attacker.example:{port}");
    let res = sign_in_as(rebind.clone()).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(set_cookies(&res).is_empty(), "no cookie for that page");
    assert_eq!(json(res).await["error"], "bad_request");
    assert_eq!(app.sessions_stored().await, 0, "no session began");
    let page = app
        .http
        .get(app.url("/login"))
        .header(header::HOST, &rebind)
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("host name"));
    // The loopback names are this development server's own.
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        assert_eq!(
            sign_in_as(host.clone()).await.unwrap().status(),
            200,
            "{host}"
        );
    }

    // A name the operator lists is served.
    let listed = spawn_app_with(&[("ALLOWED_HOSTS", "rebind.attacker.example")]).await;
    listed.add_user("alice", "s3cret").await;
    let res = listed
        .http
        .post(listed.url("/api/sign_in"))
        .header(header::HOST, &rebind)
        .header(header::ACCEPT, "application/json")
        .form(&[("username", "alice"), ("password", "s3cret")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Behind a proxy, the public host alone: not even loopback names.
    let public = spawn_app_with(&[("PUBLIC_URL", "https://items.test")]).await;
    let answer = |host: &'static str| {
        public
            .http
            .get(public.url("/login"))
            .header(header::HOST, host)
            .send()
    };
    assert_eq!(answer("items.test").await.unwrap().status(), 200);
    assert_eq!(answer("localhost").await.unwrap().status(), 400);
}

/// Every page the app's router knows, as clients and crawlers spell it
/// (a trailing slash, doubled slashes, a query, `HEAD`), signed in and
/// not: a page, a redirect or "not found", never a server error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_in_every_spelling_answers_without_a_server_error() {
    let app = spawn_app().await;
    let browser = app.alice().await;
    let anonymous = app.browser();
    let pages: Vec<String> = session_guard::server::route_list()
        .iter()
        .map(|route| route.path().to_owned())
        .collect();
    assert!(pages.contains(&"/sessions".to_owned()), "{pages:?}");
    let mut spellings = Vec::new();
    for page in &pages {
        let inner = page.replacen('/', "//", 2).replacen("//", "/", 1);
        for path in [
            page.clone(),
            format!("{page}/"),
            format!("/{page}"),
            format!("{page}?utm_source=crawler"),
            format!("{page}/?x=1"),
            inner,
        ] {
            spellings.push(path);
        }
    }
    let mut wrong = Vec::new();
    for client in [&browser, &anonymous] {
        for path in &spellings {
            for method in [Method::GET, Method::HEAD] {
                let res = client
                    .http
                    .request(method.clone(), app.url(path))
                    .header(header::ACCEPT, "text/html")
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                if !(status.is_success() || status == 303 || status == 404) {
                    wrong.push(format!("{method} {path}: {status}"));
                }
            }
        }
    }
    // The server functions' paths, spelt the same ways: a refusal, never
    // a server error.
    for (path, _) in server_fn::axum::server_fn_paths() {
        for spelling in [
            format!("{path}/"),
            format!("/{path}"),
            format!("{path}?x=1"),
        ] {
            for method in [Method::GET, Method::POST, Method::HEAD] {
                let res = anonymous
                    .http
                    .request(method.clone(), app.url(&spelling))
                    .header(header::ACCEPT, "application/json")
                    .send()
                    .await
                    .unwrap();
                if res.status().is_server_error() {
                    wrong.push(format!("{method} {spelling}: {}", res.status()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
