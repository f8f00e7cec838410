//! Modal dialogs: the session's warning and expired dialogs, and the
//! password confirmation on the sessions page. Focus moves in when one
//! opens, stays in (Tab wraps), and returns where it was when it closes.

use leptos::{html, prelude::*};

/// A backdrop and, over it, the modal dialog named by its title and
/// described by its text, with Tab kept inside.
#[component]
pub fn Modal(
    role: &'static str,
    title_id: &'static str,
    text_id: &'static str,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<html::Div>::new();
    // A click on the backdrop leaves focus in the dialog: it would otherwise
    // drop to the document, from where Tab reaches the page behind and
    // Escape reaches no dialog.
    let keep_focus = move |ev: web_sys::MouseEvent| {
        if ev.target() == ev.current_target() {
            ev.prevent_default();
        }
    };
    view! {
        <div class="backdrop" on:mousedown=keep_focus>
            <div
                node_ref=dialog
                class="dialog"
                role=role
                aria-modal="true"
                aria-labelledby=title_id
                aria-describedby=text_id
                on:keydown=move |ev| keep_focus_inside(&ev, dialog)
            >
                {children()}
            </div>
        </div>
    }
}

/// Focuses `target` when it mounts and gives focus back to whatever had it
/// before when the dialog goes away.
pub fn focus_while_open<E>(target: NodeRef<E>)
where
    E: html::ElementType + 'static,
    E::Output: wasm_bindgen::JsCast + Clone + AsRef<web_sys::HtmlElement> + 'static,
{
    let before = StoredValue::new_local(None::<web_sys::HtmlElement>);
    Effect::new(move |_| {
        if let Some(el) = target.get() {
            if before.with_value(Option::is_none) {
                before.set_value(active_element());
            }
            let element: &web_sys::HtmlElement = el.as_ref();
            let _ = element.focus();
        }
    });
    on_cleanup(move || {
        if let Some(Some(el)) = before.try_get_value() {
            if el.is_connected() {
                let _ = el.focus();
            }
        }
    });
}

fn active_element() -> Option<web_sys::HtmlElement> {
    use wasm_bindgen::JsCast;
    web_sys::window()?
        .document()?
        .active_element()?
        .dyn_into::<web_sys::HtmlElement>()
        .ok()
}

/// Tab and Shift+Tab wrap around inside the dialog.
fn keep_focus_inside(ev: &web_sys::KeyboardEvent, dialog: NodeRef<html::Div>) {
    use wasm_bindgen::JsCast;
    if ev.key() != "Tab" {
        return;
    }
    let Some(dialog) = dialog.get() else {
        return;
    };
    let Ok(nodes) = dialog.query_selector_all("button:not([disabled]), input, textarea, a[href]")
    else {
        return;
    };
    let focusable: Vec<web_sys::HtmlElement> = (0..nodes.length())
        .filter_map(|i| nodes.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .collect();
    let (Some(first), Some(last)) = (focusable.first(), focusable.last()) else {
        return;
    };
    let active = active_element();
    let inside = active.as_ref().is_some_and(|a| focusable.contains(a));
    if ev.shift_key() && (!inside || active.as_ref() == Some(first)) {
        ev.prevent_default();
        let _ = last.focus();
    } else if !ev.shift_key() && (!inside || active.as_ref() == Some(last)) {
        ev.prevent_default();
        let _ = first.focus();
    }
}
