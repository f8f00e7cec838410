//! The guard's one decision per request: whether its session is alive.
//!
//! [`check`] applies the policy to the request's session: it ends a session
//! past a deadline (deleting the record, remembering why), writes activity
//! at most once per slice, and never treats a passive look as activity.
//! It runs in three places, all through `check`: the layers in front of
//! `/api/` and the protected pages (`layers`), and the helper every server
//! function body calls (`guard`).
//!
//! [`start`] and [`sign_out`] begin and end a session for the app's sign-in.

use tower_cookies::Cookies;
use tower_sessions::Session;

use super::{
    devices::Origin,
    ending_cookie,
    policy::{Activity, Policy, Verdict},
    record::{SessionData, SESSION_KEY},
    sessions::Sessions,
    store::{endings, Ending, SessionRecords, Touched},
};
use crate::{
    clock::UnixSecs,
    error::AppError,
    session::{EndReason, SessionReport},
};

/// A session found alive for this request.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub user_id: i64,
    pub username: String,
    pub idle_remaining: i64,
    pub absolute_remaining: i64,
    policy: Policy,
}

impl LiveSession {
    /// A session taken as live without looking: only for the benchmark's
    /// baseline route, which exists only in a build with the test hooks.
    #[cfg(feature = "test-hooks")]
    pub(super) fn unchecked(user_id: i64, policy: &Policy) -> LiveSession {
        LiveSession {
            user_id,
            username: String::new(),
            idle_remaining: policy.idle,
            absolute_remaining: policy.idle,
            policy: *policy,
        }
    }

    pub fn status(&self) -> SessionReport {
        SessionReport {
            signed_in: true,
            username: Some(self.username.clone()),
            idle_remaining_secs: self.idle_remaining.max(0) as u64,
            absolute_remaining_secs: self.absolute_remaining.max(0) as u64,
            ..ended_report(&self.policy, None)
        }
    }
}

/// The report of a request without a live session (`reason`), and the
/// policy's figures every report carries.
pub fn ended_report(policy: &Policy, reason: Option<EndReason>) -> SessionReport {
    SessionReport {
        signed_in: false,
        reason,
        username: None,
        idle_remaining_secs: 0,
        absolute_remaining_secs: 0,
        idle_timeout_secs: policy.idle as u64,
        warning_secs: policy.warning as u64,
        keep_alive_secs: policy.keep_alive as u64,
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Live(LiveSession),
    Ended(EndReason),
}

/// Applies the policy to this request's session. An ended session is also
/// remembered in the browser (`ending_cookie`), so the reason survives the
/// session cookie's removal.
pub async fn check(
    sessions: &Sessions,
    session: &Session,
    cookies: &Cookies,
    activity: Activity,
) -> Result<Outcome, AppError> {
    let outcome = decide(sessions, session, cookies, activity).await?;
    if let Outcome::Ended(reason) = outcome {
        ending_cookie::keep(cookies, &sessions.policy, reason);
    }
    Ok(outcome)
}

async fn decide(
    sessions: &Sessions,
    session: &Session,
    cookies: &Cookies,
    activity: Activity,
) -> Result<Outcome, AppError> {
    let now = sessions.clock.now();
    let data = session.get::<SessionData>(SESSION_KEY).await?;
    let (Some(data), Some(id)) = (data, session.id()) else {
        return Ok(Outcome::Ended(why_not(sessions, cookies, now).await?));
    };
    let data = match sessions.policy.verdict(&data, now, activity) {
        Verdict::Live { .. } => data,
        // The record may have come from memory, which a change this server
        // has not heard of does not reach: a session ends on what the
        // database says, and only if it still says so when deleted.
        Verdict::Ended(reason) => match sessions.store.end_if_due(&id, now).await? {
            Ending::Ended(reason) => return Ok(Outcome::Ended(reason)),
            Ending::Gone => return Ok(Outcome::Ended(told(sessions, &id, now, reason).await?)),
            Ending::Live(fresh) => fresh,
        },
    };
    let mut last_activity = data.last_activity;
    if let Verdict::Live {
        touch: Some(at), ..
    } = sessions.policy.verdict(&data, now, activity)
    {
        // Written now, before the handler answers: an answer saying the
        // session was renewed has renewed it, and a record ended meanwhile
        // is refused instead of written back.
        match sessions.store.touch(&id, at).await? {
            Touched::Written => last_activity = at,
            Touched::AlreadyLater(later) => last_activity = later,
            Touched::Gone => {
                return Ok(Outcome::Ended(
                    told(sessions, &id, now, EndReason::Missing).await?,
                ))
            }
        }
    }
    let data = SessionData {
        last_activity,
        ..data
    };
    Ok(Outcome::Live(LiveSession {
        user_id: data.user_id,
        idle_remaining: sessions.policy.idle_deadline(&data) - now,
        absolute_remaining: sessions.policy.absolute_deadline(&data) - now,
        username: data.username,
        policy: sessions.policy,
    }))
}

/// Why the session `id` ended, as recorded by whoever ended it, else `guess`.
async fn told(
    sessions: &Sessions,
    id: &tower_sessions::session::Id,
    now: UnixSecs,
    guess: EndReason,
) -> Result<EndReason, AppError> {
    let recorded =
        endings::ending_reason(&sessions.db.pool, &sessions.policy, &id.to_string(), now).await?;
    Ok(recorded.unwrap_or(guess))
}

/// Why a request has no session: the reason kept for its cookie's id, else
/// the one its browser kept (`ending_cookie`), else none at all.
async fn why_not(
    sessions: &Sessions,
    cookies: &Cookies,
    now: UnixSecs,
) -> Result<EndReason, AppError> {
    if let Some(cookie) = cookies.get(sessions.policy.cookie.name) {
        let id = cookie.value();
        if let Some(reason) =
            endings::ending_reason(&sessions.db.pool, &sessions.policy, id, now).await?
        {
            return Ok(reason);
        }
    }
    Ok(ending_cookie::read(cookies, &sessions.policy).unwrap_or(EndReason::Missing))
}

/// Starts a session for a user who just proved who they are. The id is
/// cycled so a session id known before sign-in is worthless after it.
/// A request that brought no session cookie has no id anyone could know:
/// its record gets a fresh id when it is first saved, so there is nothing
/// to cycle, and cycling would only delete a random id that was never
/// stored (a database write per sign-in).
///
/// The record is stored here, inside the request, so that a failure answers
/// 503 rather than the session layer's bare 500 after the handler.
pub async fn start(
    sessions: &Sessions,
    session: &Session,
    cookies: &Cookies,
    user_id: i64,
    username: &str,
    origin: Origin,
) -> Result<(), AppError> {
    if session.id().is_some() {
        session.cycle_id().await?;
    }
    let now = sessions.clock.now();
    let data = SessionData {
        user_id,
        username: username.to_owned(),
        started_at: now,
        last_activity: now,
        device: origin.device,
        address: origin.address,
    };
    session.insert(SESSION_KEY, &data).await?;
    session.save().await?;
    ending_cookie::forget(cookies, &sessions.policy);
    Ok(())
}

/// Signs out: remembers why and deletes the record, so the cookie opens
/// nothing from now on, and has the session layer remove the cookie. The
/// browser keeps the reason (`ending_cookie`) for its other tabs.
pub async fn sign_out(
    sessions: &Sessions,
    session: &Session,
    cookies: &Cookies,
) -> Result<(), AppError> {
    let reason = EndReason::SignedOut;
    if let Some(id) = session.id() {
        let now = sessions.clock.now();
        endings::record_ending(&sessions.db.pool, &id.to_string(), reason, now).await?;
    }
    session.flush().await?;
    ending_cookie::keep(cookies, &sessions.policy, reason);
    Ok(())
}
