//! The sessions page: a table of where the user is signed in, and the
//! password dialog that comes before ending any of it.

use leptos::{ev::SubmitEvent, html, prelude::*};
use leptos_router::components::A;

use super::{ago, end_other_sessions, end_session, list_sessions, SessionList};
use crate::{
    auth::SignOutButton,
    error::AppError,
    modal::{focus_while_open, Modal},
    session::page::{resend::resend_after_sign_in, tracker},
};

/// What the password dialog is about to end.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// One other session: its handle and how the table describes it.
    One { handle: String, device: String },
    /// Every session but this one.
    Others,
}

#[component]
pub fn SessionsPage() -> impl IntoView {
    let refreshed = RwSignal::new(0_u32);
    // Keyed on the resume count too: after signing in again over the page,
    // "This session" is the new one.
    let listing = Resource::new(
        move || (refreshed.get(), tracker::resumed_count()),
        |_| list_sessions(),
    );
    let confirming = RwSignal::new(None::<Target>);
    let done = RwSignal::new(String::new());
    let status = NodeRef::<html::P>::new();
    let on_ended = Callback::new(move |count: u64| {
        confirming.set(None);
        let plural = if count == 1 { "" } else { "s" };
        done.set(format!("Signed out {count} session{plural}."));
        refreshed.update(|n| *n += 1);
        // The button that opened the dialog is about to go with its row:
        // focus goes to what happened instead (once the dialog has given
        // focus back, on closing), which a screen reader then reads.
        request_animation_frame(move || {
            if let Some(status) = status.get_untracked() {
                let _ = status.focus();
            }
        });
    });

    view! {
        // While the password dialog is open, the page behind it is out of
        // reach: not focusable, not clickable, not read (the dialog is modal).
        <div inert=move || confirming.get().is_some()>
            <header class="bar">
                <h1>"Your sessions"</h1>
                <nav aria-label="Actions" class="actions">
                    <A href="/items">"Back to items"</A>
                    <SignOutButton />
                </nav>
            </header>
            <p class="intro">
                "These are the places where you are signed in. Sign out of any you do not \
                 recognise: it is refused from its next request on."
            </p>
            // Always present, so that screen readers hear what it comes to say.
            <p
                node_ref=status
                tabindex="-1"
                class:notice=move || !done.get().is_empty()
                role="status"
                aria-live="polite"
            >
                {move || done.get()}
            </p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match listing.await {
                        Ok(list) => view! { <SessionTable list confirming /> }.into_any(),
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
        {move || confirming.get().map(|target| view! {
            <ConfirmDialog target on_ended on_cancel=Callback::new(move |()| confirming.set(None)) />
        })}
    }
}

#[component]
fn SessionTable(list: SessionList, confirming: RwSignal<Option<Target>>) -> impl IntoView {
    let now = list.now;
    let others = list.sessions.iter().filter(|row| !row.current).count();
    let rows = list
        .sessions
        .into_iter()
        .map(|row| {
            // Rows can read alike (two Chromes on Linux): each button is
            // described by its row's device, address and last activity.
            let device_id = format!("device-{}", row.handle);
            let address_id = format!("address-{}", row.handle);
            let activity_id = format!("activity-{}", row.handle);
            let described_by = format!("{device_id} {address_id} {activity_id}");
            let action = if row.current {
                view! { <strong>"This session"</strong> }.into_any()
            } else {
                let target = Target::One {
                    handle: row.handle.clone(),
                    device: row.device.clone(),
                };
                view! {
                    <button
                        type="button"
                        class="secondary"
                        aria-describedby=described_by
                        on:click=move |_| confirming.set(Some(target.clone()))
                    >
                        "Sign out"
                    </button>
                }
                .into_any()
            };
            view! {
                <tr>
                    <th scope="row" id=device_id>{row.device}</th>
                    <td id=address_id>{row.address}</td>
                    <td>{ago(now, row.started_at)}</td>
                    <td id=activity_id>{ago(now, row.last_activity)}</td>
                    <td>{action}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="card table-wrap">
            <table class="sessions">
                <caption class="visually-hidden">"Where you are signed in"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Browser and system"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"Signed in"</th>
                        <th scope="col">"Last activity"</th>
                        <th scope="col"><span class="visually-hidden">"Action"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p>
            <button
                type="button"
                disabled=others == 0
                on:click=move |_| confirming.set(Some(Target::Others))
            >
                "Sign out all other sessions"
            </button>
        </p>
    }
}

/// Asks for the password, then ends what `target` names. A wrong password
/// keeps the dialog open with the reason; Escape or `Cancel` closes it.
#[component]
fn ConfirmDialog(
    target: Target,
    on_ended: Callback<u64>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let password = NodeRef::<html::Input>::new();
    focus_while_open(password);
    let what = match &target {
        Target::One { device, .. } => format!("To sign out the session on {device}"),
        Target::Others => "To sign out all your other sessions".to_owned(),
    };
    let action = Action::new(move |(target, secret): &(Target, String)| {
        let (target, secret) = (target.clone(), secret.clone());
        async move {
            match target {
                Target::One { handle, .. } => end_session(handle, secret).await,
                Target::Others => end_other_sessions(secret).await,
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(count)) = action.value().get() {
            on_ended.run(count);
        }
    });
    // Refused because the session ended: the dialog stays, with the
    // password, under the guard's sign-in, and the same request goes again
    // once the user has signed in over the page.
    let send = move || {
        let secret = password
            .get_untracked()
            .map(|input| input.value())
            .unwrap_or_default();
        action.dispatch((target.clone(), secret));
    };
    resend_after_sign_in(action.value(), send.clone());
    let error = move || match action.value().get() {
        Some(Err(err)) if !matches!(err, AppError::SessionExpired { .. }) => Some(err.to_string()),
        _ => None,
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send();
    };
    // Once sent, the request ends the session whatever the page does:
    // the dialog stays until its answer, so that the user learns it.
    let escape = move |ev: web_sys::KeyboardEvent| {
        if ev.key() == "Escape" && !action.pending().get_untracked() {
            on_cancel.run(());
        }
    };

    view! {
        <div on:keydown=escape>
            <Modal role="dialog" title_id="confirm-title" text_id="confirm-text">
                <h2 id="confirm-title">"Confirm it is you"</h2>
                <p id="confirm-text">{what}", enter your password."</p>
                {move || error().map(|e| view! { <p class="error" role="alert">{e}</p> })}
                <form on:submit=submit>
                    <label for="confirm-password">"Password"</label>
                    <input
                        id="confirm-password"
                        node_ref=password
                        type="password"
                        autocomplete="current-password"
                        required
                    />
                    <div class="dialog-actions">
                        <button type="submit" disabled=move || action.pending().get()>"Confirm"</button>
                        <button
                            type="button"
                            class="secondary"
                            disabled=move || action.pending().get()
                            on:click=move |_| on_cancel.run(())
                        >
                            "Cancel"
                        </button>
                    </div>
                </form>
            </Modal>
        </div>
    }
}
