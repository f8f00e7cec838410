//! The login page and the sign-out button.

use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::hooks::{use_navigate, use_query_map};
use server_fn::ServerFn;

use super::{SignIn, SignOut};
use crate::{
    error::AppError,
    form::Fields,
    session::{redirect::login_url, EndReason, TabChannel},
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let reason = move || {
        query
            .read()
            .get("reason")
            .and_then(|r| EndReason::parse(&r))
            .filter(|r| *r != EndReason::Missing)
    };
    // Always a target: an empty `next` would arrive as none, which means
    // "stay on the page" (the in-place sign-in over an expired page).
    let next = move || {
        query
            .read()
            .get("next")
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "/items".to_owned())
    };
    let action = ServerAction::<SignIn>::new();
    let error = move || action.value().get().and_then(Result::err);
    let submit = move |ev: SubmitEvent| {
        if let Some(fields) = Fields::take(&ev) {
            action.dispatch(SignIn {
                username: fields.text("username"),
                password: fields.text("password"),
                next: Some(fields.text("next")),
            });
        }
    };

    view! {
        <section class="card login" aria-labelledby="login-heading">
            <h1 id="login-heading">"Sign in"</h1>
            {move || reason().map(|r| view! { <p class="notice" role="status">{r.message()}</p> })}
            {move || error().map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            <form method="post" action=SignIn::url() on:submit=submit>
                <input type="hidden" name="next" value=next />
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" required autofocus />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                <button type="submit" disabled=move || action.pending().get()>"Sign in"</button>
            </form>
        </section>
    }
}

#[component]
pub fn SignOutButton() -> impl IntoView {
    let action = ServerAction::<SignOut>::new();
    // Other tabs sign out at once too (the guard's channel, when there is one).
    let tabs = use_context::<TabChannel>();
    // A session that had already ended (the laptop slept past it) has
    // nothing left to end: the user wanted out, and is out. The login page,
    // not a dialog asking them to sign in first.
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Err(AppError::SessionExpired { .. })) = action.value().get() {
            navigate(
                &login_url(Some(EndReason::SignedOut), None),
                Default::default(),
            );
        }
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if let Some(tabs) = &tabs {
            tabs.signed_out();
        }
        action.dispatch(SignOut {});
    };
    view! {
        <form method="post" action=SignOut::url() class="sign-out" on:submit=submit>
            <button type="submit" class="secondary">"Sign out"</button>
        </form>
    }
}
