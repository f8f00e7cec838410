//! [`SessionGuard`]: the page's side of the session, around every protected page,
//! composed of named hooks (each in its own file), and its view.
//!
//! - Counts down from the server's relative deadlines on the monotonic clock
//!   and shows the warning `warning_secs` before the end (`warning`).
//! - Real input (keys, pointer, wheel, scroll, typing; trusted events only,
//!   never a script's) marks activity; at most once per `keep_alive_secs`
//!   (the server's policy), and only after such input, the page sends a
//!   keep-alive. A page left alone sends nothing and expires on time.
//!   While the warning is open, input does not extend: only its buttons do
//!   (`activity`).
//! - Re-asks the passive status on `visibilitychange`, `pageshow`, `online`,
//!   when wall time jumps against monotonic time (sleep), and at the deadline:
//!   the server decides whether the session ended (`refresh`).
//! - Tabs act as one through a BroadcastChannel: the time left after every
//!   guarded answer, an extend, a sign-out, a session found ended and a
//!   sign-in again in one tab reach all of them (`tabs`).
//! - When the session has ended, the page is blurred and inert under the
//!   in-place sign-in; signing in as the same user resumes it (whatever failed
//!   re-runs), as another user reloads it so nothing of the first one shows.
//!   The page belongs to the user its first report names: a later report
//!   naming someone else (signed in in another tab) ends it.
//! - While the tab is hidden with the warning up, its title counts down
//!   (`title`).

use leptos::{prelude::*, task::spawn_local};
use leptos_use_document_visibility::use_document_visibility;
use leptos_use_interval_fn::use_interval_fn;

use super::{
    activity::{use_activity, Activity},
    dialogs::{ExpiredDialog, WarningDialog},
    refresh::{use_first_report, use_refresh_on_return, use_status, Status},
    sign_in_out::SignInOut,
    tabs::use_tabs,
    title::use_title,
    tracker::{self, monotonic_now_ms},
    warning::{use_warning, Warning},
};
use crate::session::EndReason;

#[component]
pub fn SessionGuard(auth: SignInOut, children: Children) -> impl IntoView {
    let state = tracker::state();
    // A guard mounted is a new page: signing in on the login page after an
    // end, or as someone else, starts clean. (The server renders the state
    // for everyone and leaves it alone.)
    #[cfg(feature = "hydrate")]
    state.new_page();
    let warning = use_warning(state);
    let status = use_status(state, warning);
    let tabs = use_tabs(state, warning, status);
    provide_context(tabs);
    let activity = use_activity(state, warning, tabs);
    use_clock(warning, status, activity);
    let visibility = use_document_visibility();
    use_refresh_on_return(status, visibility);
    use_title(warning, visibility);

    // Mounted: 401s now open the dialog instead of leaving the page. (The
    // state is per page; the server, rendering for everyone, leaves it alone.)
    #[cfg(feature = "hydrate")]
    {
        state.set_guard_mounted(true);
        on_cleanup(move || state.set_guard_mounted(false));
    }
    // Loading this page was activity on the server: the next keep-alive is
    // due one slice from now.
    Effect::new(move |_| state.contact(monotonic_now_ms()));
    use_first_report(state, warning, status);

    let on_stay = Callback::new(move |()| activity.extend());
    let on_read = Callback::new(move |()| warning.read_the_limit());
    let on_sign_out = Callback::new(move |()| {
        tabs.signed_out();
        let sign_out = auth.sign_out.clone();
        spawn_local(async move {
            let _ = sign_out(()).await;
        });
    });
    let on_signed_in = Callback::new(move |username: String| {
        if status.resume_as(&username) {
            tabs.resumed(username);
        }
    });

    let dialog_open = move || warning.open.get() || state.ended().is_some();
    view! {
        <div
            class="guarded"
            class:obscured=move || state.ended().is_some()
            inert=dialog_open
            aria-hidden=move || dialog_open().then_some("true")
        >
            {children()}
        </div>
        <Show when=move || warning.open.get()>
            <WarningDialog
                remaining=Signal::derive(move || warning.remaining.get().unwrap_or(0))
                at_the_limit=warning.at_the_limit.into()
                on_stay
                on_read
                on_sign_out
            />
        </Show>
        <Show when=move || state.ended().is_some()>
            <ExpiredDialog
                reason=Signal::derive(move || state.ended().unwrap_or(EndReason::Missing))
                known_username=state.username_untracked()
                sign_in=auth.sign_in.clone()
                on_signed_in
            />
        </Show>
    }
}

/// The clock, once a second: recompute from the readings, notice sleep,
/// keep alive, and ask the server at the deadline. (The server renders the
/// guard but never ticks it.) A tick after the guard is gone does nothing.
fn use_clock(warning: Warning, status: Status, activity: Activity) {
    let _ = use_interval_fn(
        move || {
            if warning.is_gone() {
                return;
            }
            let at = monotonic_now_ms();
            warning.recompute_at(at);
            status.notice_clock_jump(at);
            activity.keep_alive();
            status.ask_if_due(at);
        },
        1000,
    );
}
