//! Plain HTML forms sent through server actions.
//!
//! Each form posts to its server function's URL by itself, so it works before
//! the page's script has loaded. Once hydrated, its submit handler reads the
//! fields with [`Fields::take`] and dispatches the action instead. Leptos's
//! `ActionForm` does the same through a generic query-string decoder that
//! cost the page's wasm about 29 KB gzip for three forms.

use leptos::ev::SubmitEvent;
use wasm_bindgen::JsCast;

/// The fields of a submitted form, by name.
pub struct Fields(web_sys::FormData);

impl Fields {
    /// Stops the browser's own submission and reads the form's fields.
    /// `None` only if the event did not come from a form.
    pub fn take(ev: &SubmitEvent) -> Option<Fields> {
        ev.prevent_default();
        let form = ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()?;
        web_sys::FormData::new_with_form(&form).ok().map(Fields)
    }

    /// The field's text; empty when the form has no such field.
    pub fn text(&self, name: &str) -> String {
        self.0.get(name).as_string().unwrap_or_default()
    }
}
