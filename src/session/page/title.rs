//! The hidden tab's title counting down while the warning is up.

use leptos::prelude::*;

use super::{countdown, warning::Warning};

/// While hidden with the warning up, the tab's title counts down. Promises:
/// once the tab is shown again or the warning closes, the title is back to
/// what it was.
pub(super) fn use_title(warning: Warning, visibility: Signal<web_sys::VisibilityState>) {
    let title_before = StoredValue::new(None::<String>);
    Effect::new(move |_| {
        let hidden = visibility.get() == web_sys::VisibilityState::Hidden;
        let text = (hidden && warning.open.get()).then(|| {
            format!(
                "{} · Session expiring",
                countdown::mmss(warning.remaining.get().unwrap_or(0))
            )
        });
        set_title(text, title_before);
    });
}

fn set_title(text: Option<String>, before: StoredValue<Option<String>>) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    match text {
        Some(text) => {
            if before.with_value(Option::is_none) {
                before.set_value(Some(document.title()));
            }
            document.set_title(&text);
        }
        None => {
            if let Some(original) = before.with_value(Clone::clone) {
                document.set_title(&original);
                before.set_value(None);
            }
        }
    }
}
