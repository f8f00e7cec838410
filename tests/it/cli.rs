//! The command line, run as the real binary against a fresh database.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use crate::common::TestDb;

fn run(db: &TestDb, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_session-guard"))
        .args(args)
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn users(db: &TestDb) -> Vec<(String, i64)> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = db.pool().await;
        sqlx::query_as("SELECT username, item_count FROM users ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap()
    })
}

#[test]
fn add_user_creates_a_user_with_items_and_refuses_what_is_wrong() {
    let db = TestDb::new_blocking();

    let ok = run(
        &db,
        &["add-user", "alice", "--items", "2500"],
        "correct-horse\n",
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ok.stderr).contains("2500/2500 items"),
        "progress is shown"
    );
    assert_eq!(users(&db), vec![("alice".to_owned(), 2500)]);

    let duplicate = run(&db, &["add-user", "alice"], "another-one\n");
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));

    let empty = run(&db, &["add-user", "bob"], "\n");
    assert_eq!(empty.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("password is empty"));

    let short = run(&db, &["add-user", "bob"], "seven77\n");
    assert_eq!(short.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 8"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );

    let bad_name = run(&db, &["add-user", "bob smith"], "correct-horse\n");
    assert_eq!(bad_name.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("invalid name"));

    assert_eq!(
        users(&db),
        vec![("alice".to_owned(), 2500)],
        "nothing written by the refusals"
    );
}

#[test]
fn seed_demo_is_idempotent() {
    let db = TestDb::new_blocking();
    for _ in 0..2 {
        let out = run(&db, &["seed-demo"], "");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(users(&db), vec![("demo".to_owned(), 1000)]);
}

#[test]
fn an_invalid_setting_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_session-guard"))
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("x.db").display()),
        )
        .env("ITEMS_PAGE_SIZE", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ITEMS_PAGE_SIZE") && err.contains("1 to 100"),
        "{err}"
    );
}

#[test]
fn serve_seeds_the_demo_only_when_asked() {
    let db = TestDb::new_blocking();
    let start = |seed: &str| {
        let mut server = Command::new(env!("CARGO_BIN_EXE_session-guard"))
            .arg("serve")
            .env("DATABASE_URL", &db.url)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("SESSION_GUARD_SEED_DEMO", seed)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = std::io::BufReader::new(server.stdout.take().unwrap());
        let listening = std::io::BufRead::lines(out)
            .map_while(Result::ok)
            .any(|line| line.contains("listening on"));
        assert!(listening, "the server did not start");
        server.kill().unwrap();
        server.wait().unwrap();
    };
    start("false");
    assert_eq!(users(&db), vec![]);
    start("true");
    assert_eq!(users(&db), vec![("demo".to_owned(), 1000)]);
}

/// At a terminal, add-user reads the password without echoing it. The
/// terminal is real: `script` (util-linux) runs the command on a
/// pseudo-terminal, and everything the terminal shows comes back as
/// `script`'s output.
#[test]
fn add_user_at_a_terminal_reads_the_password_without_echo() {
    use std::io::Read;
    let db = TestDb::new_blocking();
    let bin = env!("CARGO_BIN_EXE_session-guard");
    let mut child = Command::new("script")
        .args(["-qec", &format!("{bin} add-user carol"), "/dev/null"])
        .env("DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    let mut stdout = child.stdout.take().unwrap();
    // Type only once the prompt shows, and as a person would, a moment
    // later: the prompt is written just before echo is turned off, and the
    // terminal echoes whatever arrives before that.
    let mut shown = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&shown).contains("Password for the new user:") {
        assert_eq!(stdout.read(&mut byte).unwrap(), 1, "no prompt: {shown:?}");
        shown.push(byte[0]);
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"typed-secret-42\r")
        .unwrap();
    stdout.read_to_end(&mut shown).unwrap();
    assert!(child.wait().unwrap().success());
    let screen = String::from_utf8_lossy(&shown);
    assert!(screen.contains("created user carol"), "{screen}");
    assert!(
        !screen.contains("typed-secret-42"),
        "the password was echoed: {screen}"
    );
    assert_eq!(users(&db), vec![("carol".to_owned(), 0)]);
}
