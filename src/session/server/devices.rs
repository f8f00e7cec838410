//! Where a user is signed in: each of their live sessions, and ending any of
//! them from another (OWASP ASVS 3.3.4).
//!
//! What it promises:
//! - [`of_user`] finds a user's records through the indexed `user_id`
//!   column (written when a record is created, `writes::create`, and filled
//!   in for older records by [`fill_in_owners`] at start-up and every
//!   minute), never by decoding the whole table, and lists only live sessions: the policy
//!   decides, as for every request, so a record past its deadline that the
//!   sweep has not removed yet is not listed.
//! - The page names a session by [`handle`], a hash of its id, never the id
//!   itself: that is the session cookie's value, and a page that listed it
//!   would hand every other session to whoever reads the page.
//! - [`revoke`] deletes only records of the user it is given, and records
//!   the reason `revoked` in the same transaction, so the device signed out
//!   is told why on its next request. On PostgreSQL the other instances hear
//!   the deletion through the table's trigger (`changes`), as they hear a
//!   sign-out.
//! - [`Origin`]: the browser and system are read from the User-Agent once,
//!   at sign-in, by a maintained parser (woothee); only that short
//!   description is kept, never the raw header.

use std::net::IpAddr;

use blake2::{Blake2s256, Digest};
use tower_sessions::{session::Id, session_store};

use super::{
    policy::{Activity, Policy, SessionData, Verdict},
    store::{session_data, RECORD_ENDING, SESSIONS_TABLE},
    writes::backend,
};
use crate::session::EndReason;
use crate::{
    clock::UnixSecs,
    db::{on_session_pool, SessionPool},
};

/// Longest User-Agent read; past it the header is cut (the parser's
/// patterns need only its start, and a huge one is no browser).
const MAX_USER_AGENT_BYTES: usize = 512;

/// Where a session was signed in, kept in its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The browser and system, for example `Chrome 156 on Linux`.
    pub device: String,
    /// The client's address.
    pub address: String,
}

impl Origin {
    pub fn of(user_agent: Option<&str>, address: IpAddr) -> Origin {
        Origin {
            device: describe(user_agent),
            address: address.to_string(),
        }
    }
}

/// The browser and system a User-Agent names, in a few words.
pub fn describe(user_agent: Option<&str>) -> String {
    let agent = user_agent.map(|agent| {
        let mut end = agent.len().min(MAX_USER_AGENT_BYTES);
        while !agent.is_char_boundary(end) {
            end -= 1;
        }
        &agent[..end]
    });
    let Some(parsed) = agent.and_then(|agent| woothee::parser::Parser::new().parse(agent)) else {
        return "Unknown browser".to_owned();
    };
    let known = |text: &str| !text.is_empty() && text != woothee::woothee::VALUE_UNKNOWN;
    let browser = if known(parsed.name) {
        let major = parsed.version.split('.').next();
        match major.filter(|major| major.starts_with(|c: char| c.is_ascii_digit())) {
            Some(major) => format!("{} {major}", parsed.name),
            None => parsed.name.to_owned(),
        }
    } else {
        "Unknown browser".to_owned()
    };
    if known(parsed.os) {
        format!("{browser} on {}", parsed.os)
    } else {
        browser
    }
}

/// The name the page knows a session by: 32 hex digits of a hash of its id.
pub fn handle(id: &Id) -> String {
    Blake2s256::digest(id.to_string().as_bytes())[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `text` could be a [`handle`] at all.
pub fn is_handle(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One live session of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: Id,
    pub data: SessionData,
}

/// The live sessions of `user_id` at `now`, the most recently active first.
pub async fn of_user(
    pool: &SessionPool,
    policy: &Policy,
    user_id: i64,
    now: UnixSecs,
) -> session_store::Result<Vec<Listed>> {
    let sql = format!("SELECT id, data FROM {SESSIONS_TABLE} WHERE user_id = $1");
    let rows: Vec<(String, Vec<u8>)> = on_session_pool!(pool, p => sqlx::query_as(&sql)
        .bind(user_id)
        .fetch_all(p)
        .await
        .map_err(backend)?);
    let mut listed: Vec<Listed> = rows
        .into_iter()
        .filter_map(|(id, bytes)| {
            let record: tower_sessions::session::Record = rmp_serde::from_slice(&bytes).ok()?;
            let data = session_data(&record)?;
            let live = matches!(
                policy.verdict(&data, now, Activity::Passive),
                Verdict::Live { .. }
            );
            (live && data.user_id == user_id).then_some(Listed {
                id: id.parse().ok()?,
                data,
            })
        })
        .collect();
    listed.sort_by_key(|session| std::cmp::Reverse(session.data.last_activity));
    Ok(listed)
}

/// Records written without their user's id (by a version before the column
/// existed, or by one still running during a rolling deploy) get it now,
/// so that they are listed and can be ended. At most `batch` per call;
/// answers how many it gave one.
pub async fn fill_in_owners(pool: &SessionPool, batch: i64) -> session_store::Result<u64> {
    let select = format!("SELECT id, data FROM {SESSIONS_TABLE} WHERE user_id IS NULL LIMIT $1");
    let update =
        format!("UPDATE {SESSIONS_TABLE} SET user_id = $1 WHERE id = $2 AND user_id IS NULL");
    on_session_pool!(pool, p => {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&select)
            .bind(batch)
            .fetch_all(p)
            .await
            .map_err(backend)?;
        let mut filled = 0;
        for (id, bytes) in rows {
            let owner = rmp_serde::from_slice::<tower_sessions::session::Record>(&bytes)
                .ok()
                .and_then(|record| session_data(&record))
                .map(|data| data.user_id);
            // A record without our data opens nothing and is left alone.
            let Some(owner) = owner else { continue };
            filled += sqlx::query(&update)
                .bind(owner)
                .bind(id)
                .execute(p)
                .await
                .map_err(backend)?
                .rows_affected();
        }
        Ok(filled)
    })
}

/// Ends the sessions `ids` that belong to `user_id`, recording the reason
/// `revoked` with each, all in one transaction; answers those it ended. An
/// id of another user's session, or of one already gone, ends nothing.
pub async fn revoke(
    pool: &SessionPool,
    user_id: i64,
    ids: &[Id],
    now: UnixSecs,
) -> session_store::Result<Vec<Id>> {
    let delete = format!("DELETE FROM {SESSIONS_TABLE} WHERE id = $1 AND user_id = $2");
    on_session_pool!(pool, p => {
        let mut tx = p.begin().await.map_err(backend)?;
        let mut ended = Vec::new();
        for id in ids {
            let deleted = sqlx::query(&delete)
                .bind(id.to_string())
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?
                .rows_affected();
            if deleted == 1 {
                sqlx::query(RECORD_ENDING)
                    .bind(id.to_string())
                    .bind(EndReason::Revoked.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                ended.push(*id);
            }
        }
        tx.commit().await.map_err(backend)?;
        Ok(ended)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_become_a_browser_and_a_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.8078.73 Safari/537.36";
        assert_eq!(describe(Some(chrome)), "Chrome 156 on Linux");
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe(Some(firefox)), "Firefox 133 on Windows 10");
        assert_eq!(describe(None), "Unknown browser");
        assert_eq!(describe(Some("curl/8.5.0")), "HTTP Library");
        assert_eq!(describe(Some("")), "Unknown browser");
        // Markup is text like any other (the page escapes it), and a huge
        // header is cut on a character boundary.
        let hostile = format!("<script>alert(1)</script>{}", "é".repeat(1000));
        assert_eq!(describe(Some(&hostile)), "Unknown browser");
    }

    #[test]
    fn handles_are_stable_distinct_and_not_the_id() {
        let (a, b) = (Id::default(), Id::default());
        assert_eq!(handle(&a), handle(&a));
        assert_ne!(handle(&a), handle(&b));
        assert!(is_handle(&handle(&a)));
        assert!(!handle(&a).contains(&a.to_string()));
        assert!(!is_handle("not-a-handle"));
        assert!(!is_handle(&"A".repeat(32)));
    }
}
