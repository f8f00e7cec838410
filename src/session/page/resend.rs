//! A request the session refused, sent again once the user has signed in
//! over the page: the one place that decides when, for every form that sends
//! something (a save, a confirmed sign-out). Pages that load data need none
//! of it: their resources re-run on [`tracker::resumed_count`].

use leptos::prelude::*;

use super::tracker;
use crate::error::AppError;

/// Calls `resend` each time the page resumes (its user signed in again over
/// it) while `answer`, the form's last answer, is the session's refusal.
/// A page that another user signs in over is reloaded instead, so nothing
/// of the first user's is ever sent as the second.
pub fn resend_after_sign_in<T: 'static>(
    answer: impl WithUntracked<Value = Option<Result<T, AppError>>> + 'static,
    resend: impl Fn() + 'static,
) {
    Effect::new(move |seen: Option<u64>| {
        let resumed = tracker::resumed_count();
        let refused = answer
            .with_untracked(|answer| matches!(answer, Some(Err(AppError::SessionExpired { .. }))));
        if refused && seen.is_some_and(|seen| seen != resumed) {
            resend();
        }
        resumed
    });
}
