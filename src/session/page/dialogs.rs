//! The two session dialogs: the warning before the end and the in-place
//! sign-in after it. Both are modal: focus moves in, stays in (Tab wraps),
//! and returns where it was when they close.

use leptos::{ev::SubmitEvent, html, prelude::*};

use leptos::task::spawn_local;

use super::{countdown, sign_in_out::AuthCall};
use crate::modal::{focus_while_open, Modal};
use crate::session::{session_status, EndReason};

/// Shown `SESSION_WARNING_SECS` before the end. Only a button closes it:
/// moving the mouse or pressing keys elsewhere does not. When the end is the
/// session's maximum lifetime (`at_the_limit`), staying signed in cannot
/// move it: the dialog says so and its first button only closes it.
#[component]
pub fn WarningDialog(
    /// Whole seconds left.
    remaining: Signal<i64>,
    at_the_limit: Signal<bool>,
    on_stay: Callback<()>,
    /// The user has read that the session is at its limit.
    on_read: Callback<()>,
    on_sign_out: Callback<()>,
) -> impl IntoView {
    let stay = NodeRef::<html::Button>::new();
    focus_while_open(stay);
    // Announced politely at milestones only, not every second.
    let announcement = Memo::new(move |_| countdown::announcement(remaining.get()));
    let pick = move |limit: &'static str, idle: &'static str| {
        move || if at_the_limit.get() { limit } else { idle }
    };

    view! {
        <Modal role="alertdialog" title_id="session-warning-title" text_id="session-warning-text">
                <h2 id="session-warning-title">
                    {pick("Your session is about to reach its time limit", "Your session is about to expire")}
                </h2>
                <p id="session-warning-text">
                    "You will be signed out in "
                    <span role="timer" class="countdown">{move || countdown::mmss(remaining.get())}</span>
                    {pick(
                        ", when this session reaches its maximum length, which staying signed in \
                         cannot extend. Save your work: after signing in again you keep this page.",
                        " unless you stay signed in.",
                    )}
                </p>
                <div class="dialog-actions">
                    <button
                        node_ref=stay
                        type="button"
                        on:click=move |_| {
                            if at_the_limit.get_untracked() { on_read.run(()) } else { on_stay.run(()) }
                        }
                    >
                        {pick("Continue working", "Stay signed in")}
                    </button>
                    <button type="button" class="secondary" on:click=move |_| on_sign_out.run(())>
                        "Sign out"
                    </button>
                </div>
                <p class="visually-hidden" aria-live="polite">{move || announcement.get()}</p>
        </Modal>
    }
}

/// Shown once the session has ended while the page is open: says why, and
/// signs the user in again over the intact page.
#[component]
pub fn ExpiredDialog(
    reason: Signal<EndReason>,
    /// The name the user last signed in with, offered again.
    known_username: Option<String>,
    /// The app's sign-in (username, password).
    sign_in: AuthCall<(String, String)>,
    /// Called with the username once signed in again.
    on_signed_in: Callback<String>,
) -> impl IntoView {
    let username = NodeRef::<html::Input>::new();
    let password = NodeRef::<html::Input>::new();
    // One action per opening of the dialog: its value is this sign-in's.
    let action = Action::new(move |credentials: &(String, String)| sign_in(credentials.clone()));
    let submitted = StoredValue::new(String::new());
    if known_username.is_some() {
        focus_while_open(password);
    } else {
        focus_while_open(username);
    }

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let name = username.get().map(|i| i.value()).unwrap_or_default();
        let secret = password.get().map(|i| i.value()).unwrap_or_default();
        submitted.set_value(name.clone());
        action.dispatch((name, secret));
    };
    // The page compares users by the name the server holds, not the one
    // typed: `alice ` (a mobile keyboard's trailing space) or another case
    // signs in the same user, who must keep the page.
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            spawn_local(async move {
                let canonical = match session_status().await {
                    Ok(report) => report.username,
                    Err(_) => None,
                };
                on_signed_in.run(canonical.unwrap_or_else(|| submitted.get_value()));
            });
        }
    });
    let error = move || action.value().get().and_then(Result::err);

    view! {
        <Modal role="dialog" title_id="session-expired-title" text_id="session-expired-text">
                <h2 id="session-expired-title">"Session expired"</h2>
                <p id="session-expired-text">{move || reason.get().message()}</p>
                <p class="hint">"Sign in to continue where you left off."</p>
                {move || error().map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
                <form on:submit=submit>
                    <label for="resume-username">"Username"</label>
                    <input
                        id="resume-username"
                        node_ref=username
                        autocomplete="username"
                        required
                        prop:value=known_username.unwrap_or_default()
                    />
                    <label for="resume-password">"Password"</label>
                    <input id="resume-password" node_ref=password type="password" autocomplete="current-password" required />
                    <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
                </form>
        </Modal>
    }
}
