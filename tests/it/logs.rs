//! The server's log, as an operator sees it: one line per request, and never
//! a password or a session id.

use crate::common::TestDb;

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// The real binary serving a fresh database with user `alice`, its log
/// (standard error) kept for the test to read.
struct LoggingServer {
    child: Child,
    base: String,
}

impl LoggingServer {
    fn start(db: &TestDb, alice_password: &str, rust_log: &str) -> LoggingServer {
        Self::start_with(db, alice_password, rust_log, &[])
    }

    /// The same, with more environment (settings) for `serve`.
    fn start_with(
        db: &TestDb,
        alice_password: &str,
        rust_log: &str,
        env: &[(&str, &str)],
    ) -> LoggingServer {
        let bin = env!("CARGO_BIN_EXE_session-guard");
        let mut add = Command::new(bin)
            .args(["add-user", "alice"])
            .env("DATABASE_URL", &db.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(
            &mut add.stdin.take().unwrap(),
            format!("{alice_password}\n").as_bytes(),
        )
        .unwrap();
        assert!(add.wait().unwrap().success());

        let mut child = Command::new(bin)
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", rust_log)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let base = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{line}");
        LoggingServer { child, base }
    }

    /// Stops the server; answers everything it logged.
    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let mut log = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut log)
            .unwrap();
        log
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_leaves_no_password_or_session_id_in_the_log() {
    let test_db = TestDb::new().await;
    let password = "Tr0ub4dor-and-3";
    let server = LoggingServer::start(&test_db, password, "debug");
    let base = server.base.clone();

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http
        .post(format!("{base}/api/sign_in"))
        .header("accept", "application/json")
        .form(&[("username", "alice"), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let session_id = cookie.split_once('=').unwrap().1.to_owned();
    let res = http
        .post(format!("{base}/api/list_items?secret_query=1"))
        .header("accept", "application/json")
        .header("cookie", &cookie)
        .form(&[("page", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = server.stop();
    assert!(
        log.contains("path=/api/sign_in") && log.contains("status=200"),
        "one line per request:\n{log}"
    );
    assert!(log.contains("latency_ms="), "{log}");
    assert!(
        !log.contains(password),
        "the password is in the log:\n{log}"
    );
    assert!(
        !log.contains(&session_id),
        "the session id is in the log:\n{log}"
    );
    assert!(
        !log.contains("secret_query"),
        "query strings stay out of the log"
    );
}

/// Every request's line names the client: the peer, or behind a trusted
/// proxy the address it forwarded. A client's own `X-Forwarded-For` does not
/// put someone else's address in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_line_names_the_client_as_the_proxies_say() {
    // A GET of /login claiming to be forwarded for 203.0.113.9, from a
    // server started with `env`: its log, and the request's "served" lines.
    async fn log_of_forwarded_request(env: &[(&str, &str)]) -> (String, Vec<String>) {
        let test_db = TestDb::new().await;
        let server = LoggingServer::start_with(&test_db, "s3cret-enough", "info", env);
        let res = reqwest::Client::new()
            .get(format!("{}/login", server.base))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let log = server.stop();
        let served = log
            .lines()
            .filter(|l| l.contains("served") && l.contains("path=/login"))
            .map(str::to_owned)
            .collect();
        (log, served)
    }

    let (log, served) = log_of_forwarded_request(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    assert!(
        served.len() == 1 && served[0].contains("client=203.0.113.9"),
        "behind a trusted proxy, the forwarded client: {log}"
    );

    let (log, served) = log_of_forwarded_request(&[]).await;
    assert!(
        served.len() == 1 && served[0].contains("client=127.0.0.1") && !log.contains("203.0.113.9"),
        "a forwarded address from an untrusted peer stays out: {log}"
    );
}

/// ASVS 7.2.1: every sign-in that succeeds, fails or is throttled is logged
/// with the name (as parsed, never whatever was submitted) and the client's
/// address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_7_2_1_sign_ins_are_logged_with_the_name_and_the_address() {
    let test_db = TestDb::new().await;
    let server = LoggingServer::start(&test_db, "s3cret-enough", "info");
    let base = server.base.clone();

    let http = reqwest::Client::new();
    let sign_in = |name: String, password: &'static str| {
        http.post(format!("{base}/api/sign_in"))
            .header("accept", "application/json")
            .form(&[("username", name.as_str()), ("password", password)])
            .send()
    };
    assert_eq!(
        sign_in("alice".into(), "s3cret-enough")
            .await
            .unwrap()
            .status(),
        200
    );
    let forged = format!("x\nforged log line {}", "y".repeat(100));
    assert_eq!(
        sign_in(forged.clone(), "guess").await.unwrap().status(),
        401
    );
    for _ in 0..5 {
        assert_eq!(sign_in("bob".into(), "guess").await.unwrap().status(), 401);
    }
    assert_eq!(sign_in("bob".into(), "guess").await.unwrap().status(), 429);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = server.stop();
    let lines = |event: &str| -> Vec<&str> { log.lines().filter(|l| l.contains(event)).collect() };
    let signed_in = lines("signed in");
    assert!(
        signed_in
            .iter()
            .any(|l| l.contains("username=\"alice\"") && l.contains("client=127.0.0.1")),
        "{log}"
    );
    let failed = lines("sign-in failed");
    assert!(
        failed
            .iter()
            .any(|l| l.contains("username=\"bob\"") && l.contains("client=127.0.0.1")),
        "{log}"
    );
    assert!(
        failed.iter().any(|l| l.contains("(not a username)")),
        "a name that does not parse is logged as such: {log}"
    );
    assert!(
        !log.contains("forged log line"),
        "submitted text reached the log: {log}"
    );
    let throttled = lines("sign-in throttled");
    assert!(
        throttled
            .iter()
            .any(|l| l.contains("username=\"bob\"") && l.contains("client=127.0.0.1")),
        "{log}"
    );
}
