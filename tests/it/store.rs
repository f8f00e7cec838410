//! The store's layers, each on its own over a real database: the database
//! layer under the policy, the counting above it, the memory above that
//! (`session/server/store/`).

use std::{collections::HashMap, time::Duration};

use session_guard::{
    db::{self, Database},
    session::server::{
        policy::{Policy, SessionSettings},
        record::{session_data, SessionData, SESSION_KEY},
        store::{Counted, Remembered, SessionRecords, SqlStore, Touched},
    },
};
use time::OffsetDateTime;
use tower_sessions::{
    session::{Id, Record},
    SessionStore,
};

use crate::common::TestDb;

fn policy() -> Policy {
    Policy::new(&SessionSettings {
        idle_timeout: Duration::from_secs(900),
        warning: Duration::from_secs(120),
        absolute_timeout: Duration::from_secs(28_800),
        cookie_secure: false,
    })
}

async fn database() -> (TestDb, Database) {
    let test_db = TestDb::new().await;
    let database = db::connect(&test_db.url).await.expect("database");
    SqlStore::new(&database.sessions, policy())
        .migrate()
        .await
        .expect("sessions table");
    (test_db, database)
}

/// A signed-in session's record, active now (real time: memory serves a
/// record only before its expiry date).
fn record() -> (Record, i64) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let data = SessionData {
        user_id: 1,
        username: "store-test".to_owned(),
        started_at: now,
        last_activity: now,
        device: String::new(),
        address: String::new(),
    };
    let record = Record {
        id: Id::default(),
        data: HashMap::from([(
            SESSION_KEY.to_owned(),
            serde_json::to_value(&data).expect("json"),
        )]),
        expiry_date: OffsetDateTime::now_utc(),
    };
    (record, now)
}

async fn last_activity(store: &impl SessionRecords, id: &Id) -> i64 {
    let record = store.load_fresh(id).await.unwrap().expect("stored");
    session_data(&record).expect("our data").last_activity
}

#[tokio::test]
async fn the_database_layer_dates_records_by_the_policy_and_never_moves_activity_back() {
    let (_test_db, database) = database().await;
    let policy = policy();
    let sql = SqlStore::new(&database.sessions, policy);
    let (mut record, now) = record();
    sql.create(&mut record).await.unwrap();
    let data = session_data(&record).unwrap();
    assert_eq!(Some(record.expiry_date), policy.expiry_date(&data));
    assert_eq!(
        record.expiry_date.unix_timestamp(),
        now + 900 + policy.reason_retention
    );

    // Within one write slice nothing is written; past it, the time moves.
    assert_eq!(
        sql.touch(&record.id, now + 5).await.unwrap(),
        Touched::AlreadyLater(now)
    );
    assert_eq!(
        sql.touch(&record.id, now + 20).await.unwrap(),
        Touched::Written
    );
    assert_eq!(last_activity(&sql, &record.id).await, now + 20);
    // An older time never replaces a newer one.
    assert_eq!(
        sql.touch(&record.id, now + 10).await.unwrap(),
        Touched::AlreadyLater(now + 20)
    );
    assert_eq!(last_activity(&sql, &record.id).await, now + 20);

    // A deleted record is never written back.
    sql.delete(&record.id).await.unwrap();
    assert_eq!(
        sql.touch(&record.id, now + 60).await.unwrap(),
        Touched::Gone
    );
    assert!(sql.load_fresh(&record.id).await.unwrap().is_none());
}

#[tokio::test]
async fn counting_counts_what_reaches_the_database() {
    let (_test_db, database) = database().await;
    let counted = Counted::new(SqlStore::new(&database.sessions, policy()));
    let (mut record, now) = record();
    counted.create(&mut record).await.unwrap();
    assert_eq!(
        (counted.counts().reads(), counted.counts().writes()),
        (0, 1)
    );
    counted.load(&record.id).await.unwrap().expect("stored");
    assert_eq!(
        (counted.counts().reads(), counted.counts().writes()),
        (1, 1)
    );
    // A touch reads; it writes only when it moved the time.
    counted.touch(&record.id, now + 1).await.unwrap();
    assert_eq!(
        (counted.counts().reads(), counted.counts().writes()),
        (2, 1)
    );
    counted.touch(&record.id, now + 20).await.unwrap();
    assert_eq!(
        (counted.counts().reads(), counted.counts().writes()),
        (3, 2)
    );
}

#[tokio::test]
async fn memory_answers_loads_until_a_change_made_through_it() {
    let (_test_db, database) = database().await;
    let policy = policy();
    let store = Remembered::new(
        Counted::new(SqlStore::new(&database.sessions, policy)),
        &database.sessions,
        policy,
    );
    let reads = || store.inner().counts().reads();
    let (mut record, now) = record();
    store.create(&mut record).await.unwrap();

    // A record it created is in memory: loading it reads nothing (on
    // PostgreSQL once the store hears changes, which it starts doing now).
    let mut from_memory = false;
    for _ in 0..100 {
        let (reads_before, hits_before) = (reads(), store.cache_hits());
        let loaded = store.load(&record.id).await.unwrap().expect("stored");
        assert_eq!(loaded.data, record.data);
        if store.cache_hits() > hits_before {
            assert_eq!(reads(), reads_before);
            from_memory = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(from_memory, "memory never answered");
    // On PostgreSQL memory answered only after catching up with the
    // changes other instances made: a round trip.
    if matches!(database.sessions, db::SessionPool::Postgres(_)) {
        assert!(
            store.round_trips() > 0,
            "served from memory without catching up"
        );
    }

    // A change through the store forgets the copy: the next load reads
    // what was written, and memory serves it from then on.
    assert_eq!(
        store.touch(&record.id, now + 20).await.unwrap(),
        Touched::Written
    );
    let after_touch = reads();
    let loaded = store.load(&record.id).await.unwrap().expect("stored");
    assert_eq!(session_data(&loaded).unwrap().last_activity, now + 20);
    assert_eq!(reads(), after_touch + 1);
    store.load(&record.id).await.unwrap().expect("stored");
    assert_eq!(reads(), after_touch + 1);

    // A deleted record is not served from memory.
    store.delete(&record.id).await.unwrap();
    assert!(store.load(&record.id).await.unwrap().is_none());
}
