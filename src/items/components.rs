//! The items list and the new-item form.

use leptos::{ev::SubmitEvent, html, prelude::*};
use leptos_router::{components::A, hooks::use_query_map};
use server_fn::ServerFn;

use super::{list_items, CreateItem, ItemPage, DESCRIPTION_MAX_CHARS, TITLE_MAX_CHARS};
use crate::{
    auth::SignOutButton,
    error::AppError,
    form::Fields,
    session::page::{resend::resend_after_sign_in, tracker},
};

#[component]
pub fn ItemsPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || query.read().get("page").unwrap_or_else(|| "1".to_owned());
    // Keyed on the resume count too: a page that failed because the session
    // ended loads again once the user has signed in over it.
    let listing = Resource::new(
        move || (page(), tracker::resumed_count()),
        |(page, _)| list_items(page),
    );
    let (pending, set_pending) = signal(false);
    // Whether the user followed a pager link, until the page it asked for
    // has taken focus.
    let followed = StoredValue::new(false);

    view! {
        <header class="bar">
            <h1>"Items"</h1>
            <nav aria-label="Actions" class="actions">
                <A href="/items/new">"New item"</A>
                <A href="/sessions">"Your sessions"</A>
                <SignOutButton />
            </nav>
        </header>
        <p class="loading" role="status" aria-live="polite">
            {move || if pending.get() { "Loading…" } else { "" }}
        </p>
        <div class="listing" aria-busy=move || pending.get().to_string()>
            <Transition fallback=|| view! { <p>"Loading…"</p> } set_pending>
                {move || Suspend::new(async move {
                    match listing.await {
                        Ok(page) => view! { <ItemList page followed /> }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn ItemList(page: ItemPage, followed: StoredValue<bool>) -> impl IntoView {
    let n = page.page;
    let list = NodeRef::<html::Ul>::new();
    Effect::new(move |_| {
        if let Some(list) = list.get() {
            focus_new_page(&list, followed);
        }
    });
    let follow = move |ev: web_sys::MouseEvent| {
        if is_link_click(&ev) {
            followed.set_value(true);
        }
    };
    let previous = (n > 1).then(|| format!("/items?page={}", n - 1));
    let next = ((n as u64) < page.page_count).then(|| format!("/items?page={}", n + 1));
    let empty = page.items.is_empty();
    view! {
        {empty.then(|| view! {
            <p class="empty">"No items yet. " <A href="/items/new">"Write your first item"</A></p>
        })}
        <ul
            class="items"
            node_ref=list
            tabindex="-1"
            aria-label=format!("Items, page {} of {}", n, page.page_count)
        >
            {page.items.into_iter().map(|item| view! {
                <li>
                    <h2>{item.title}</h2>
                    <p class="description">{item.description}</p>
                </li>
            }).collect_view()}
        </ul>
        // Plain links: the router still follows them in the page, and `<A>`
        // would mark both as the current page (it compares the path alone).
        <nav class="pager" aria-label="Pagination" on:click=follow>
            {match previous {
                Some(href) => view! { <a href=href rel="prev">"Previous"</a> }.into_any(),
                None => view! { <span class="disabled" aria-hidden="true">"Previous"</span> }.into_any(),
            }}
            <span class="position">{format!("Page {} of {}", n, page.page_count)}</span>
            {match next {
                Some(href) => view! { <a href=href rel="next">"Next"</a> }.into_any(),
                None => view! { <span class="disabled" aria-hidden="true">"Next"</span> }.into_any(),
            }}
        </nav>
    }
}

/// Whether a click (or Enter) landed on a link.
fn is_link_click(ev: &web_sys::MouseEvent) -> bool {
    use wasm_bindgen::JsCast;
    ev.target()
        .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
        .and_then(|element| element.closest("a").ok().flatten())
        .is_some()
}

/// Moves focus to the start of the page the user asked for, once it shows.
///
/// Left alone, focus stays on the followed link at the bottom while the
/// router scrolls the view to the top, or drops to the document when the
/// link is gone (Next on the last page, or a sign-in over the page whose
/// dialog gives focus back to a link that is no more): a keyboard or screen
/// reader user would have to find the new items. The new list takes focus
/// instead, announced by its name ("Items, page 2 of 3"). Focus the user has
/// moved somewhere else by then is left where it is.
fn focus_new_page(list: &web_sys::HtmlElement, followed: StoredValue<bool>) {
    if !followed.try_update_value(std::mem::take).unwrap_or(false) {
        return;
    }
    // Focus is still on the followed link (kept when the pager is redrawn in
    // place), or dropped to the document when the link went away.
    let focus_free = list
        .owner_document()
        .and_then(|document| document.active_element())
        .is_none_or(|active| {
            active.tag_name() == "BODY" || matches!(active.closest(".pager"), Ok(Some(_)))
        });
    if focus_free {
        // Without scrolling: a scroll would count as the user's activity,
        // and the router has already put the view where it belongs.
        let options = web_sys::FocusOptions::new();
        options.set_prevent_scroll(true);
        let _ = list.focus_with_options(&options);
    }
}

#[component]
fn PageError(error: AppError) -> impl IntoView {
    view! {
        <div class="error" role="alert">
            <p>{error.to_string()}</p>
            <p><a href="/items?page=1">"Go to page 1"</a></p>
        </div>
    }
}

#[component]
pub fn NewItemPage() -> impl IntoView {
    let action = ServerAction::<CreateItem>::new();
    let form = NodeRef::<leptos::html::Form>::new();
    // A save refused because the session ended runs again, with the same
    // fields, once the user has signed in over the page.
    resend_after_sign_in(action.value(), move || {
        if let Some(form) = form.get_untracked() {
            let _ = form.request_submit();
        }
    });
    let error = move || action.value().get().and_then(Result::err);
    let field_error =
        move |field: &'static str| move || error().and_then(|e| e.field_message(field));
    let general_error =
        move || error().filter(|e| !matches!(e, AppError::BadRequest { field: Some(_), .. }));
    let submit = move |ev: SubmitEvent| {
        if let Some(fields) = Fields::take(&ev) {
            action.dispatch(CreateItem {
                title: fields.text("title"),
                description: fields.text("description"),
            });
        }
    };

    view! {
        <header class="bar">
            <h1>"New item"</h1>
            <nav aria-label="Actions" class="actions">
                <A href="/items">"Back to items"</A>
            </nav>
        </header>
        {move || general_error().map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        <form method="post" action=CreateItem::url() node_ref=form class="card item-form" on:submit=submit>
            <label for="title">"Title"</label>
            <input
                id="title"
                name="title"
                required
                maxlength=TITLE_MAX_CHARS
                aria-invalid=move || field_error("title")().is_some().to_string()
                aria-describedby="title-error"
            />
            <p id="title-error" class="field-error">{field_error("title")}</p>
            <label for="description">"Description"</label>
            <textarea
                id="description"
                name="description"
                rows="18"
                maxlength=DESCRIPTION_MAX_CHARS
                aria-invalid=move || field_error("description")().is_some().to_string()
                aria-describedby="description-error"
            ></textarea>
            <p id="description-error" class="field-error">{field_error("description")}</p>
            <button type="submit" disabled=move || action.pending().get()>"Save"</button>
        </form>
    }
}
