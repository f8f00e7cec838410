//! A user's items: listed page by page and written in a long form.
//!
//! Pages are ranges of a per-user sequence number, and the count lives on the
//! user row, so any page of a million items costs what page 1 costs.

use leptos::server;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::session::page::client::GuardClient;

mod components;
pub mod page;
#[cfg(feature = "ssr")]
pub mod repo;

pub use components::{ItemsPage, NewItemPage};
pub use page::PageNumber;

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 20_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub created_at: i64,
}

/// One page of the signed-in user's items, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub page: u32,
    pub page_count: u64,
    pub item_count: u64,
}

/// Page `page` (text, validated here so that a bad value answers 400 with a
/// reason instead of failing to decode).
#[server(prefix = "/api", endpoint = "list_items", client = GuardClient)]
pub async fn list_items(page: String) -> Result<ItemPage, AppError> {
    crate::session::server::guard::guarded(|live| async move {
        let page =
            PageNumber::parse(&page).map_err(|e| AppError::invalid_field("page", e.to_string()))?;
        let state = crate::state::AppState::from_context()?;
        repo::page(
            &state.db.pool,
            live.user_id,
            page,
            state.settings.items_page_size,
        )
        .await
    })
    .await
}

/// Saves a new item for the signed-in user; it becomes the first of page 1.
#[server(prefix = "/api", endpoint = "create_item", client = GuardClient)]
pub async fn create_item(title: String, description: String) -> Result<i64, AppError> {
    crate::session::server::guard::guarded(|live| async move {
        let draft = Draft::parse(&title, &description)?;
        let state = crate::state::AppState::from_context()?;
        let id = repo::create(&state.db.pool, live.user_id, &draft, state.clock.now()).await?;
        leptos_axum::redirect("/items");
        Ok(id)
    })
    .await
}

/// A new item's validated fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub title: String,
    pub description: String,
}

/// Line breaks as a browser sends them from a text area (`\r\n`), or a
/// lone `\r`, become `\n`.
fn unify_line_breaks(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Refuses control characters other than newline and tab: a NUL is refused
/// by PostgreSQL (it would be a 500), and none of them is text anyone typed.
fn refuse_control_characters(field: &str, label: &str, text: &str) -> Result<(), AppError> {
    match text.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\t')) {
        Some(c) => Err(AppError::invalid_field(
            field,
            format!(
                "{label} contains the control character U+{:04X}; only text, tabs and line breaks are allowed.",
                c as u32
            ),
        )),
        None => Ok(()),
    }
}

impl Draft {
    pub fn parse(title: &str, description: &str) -> Result<Self, AppError> {
        let title = unify_line_breaks(title);
        let description = unify_line_breaks(description);
        refuse_control_characters("title", "Title", &title)?;
        refuse_control_characters("description", "Description", &description)?;
        let title = title.trim();
        if title.is_empty() {
            return Err(AppError::invalid_field("title", "Title is required."));
        }
        let title_len = title.chars().count();
        if title_len > TITLE_MAX_CHARS {
            return Err(AppError::invalid_field(
                "title",
                format!("Title is {title_len} characters; the limit is {TITLE_MAX_CHARS}."),
            ));
        }
        let description_len = description.chars().count();
        if description_len > DESCRIPTION_MAX_CHARS {
            return Err(AppError::invalid_field(
                "description",
                format!("Description is {description_len} characters; the limit is {DESCRIPTION_MAX_CHARS}."),
            ));
        }
        Ok(Draft {
            title: title.to_owned(),
            description,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_name_the_limit_they_break() {
        assert!(Draft::parse("A title", "").is_ok());
        let err = Draft::parse("   ", "").unwrap_err();
        assert!(err.field_message("title").is_some());
        let err = Draft::parse(&"t".repeat(201), "").unwrap_err();
        assert!(err.field_message("title").unwrap().contains("200"));
        let err = Draft::parse("ok", &"d".repeat(20_001)).unwrap_err();
        assert!(err.field_message("description").unwrap().contains("20000"));
        assert!(Draft::parse(&"é".repeat(200), &"d".repeat(20_000)).is_ok());
    }

    #[test]
    fn control_characters_are_refused_except_tabs_and_line_breaks() {
        for (title, description, field) in [
            ("a\0b", "", "title"),
            ("ok", "x\u{0}y", "description"),
            ("bell\u{7}", "", "title"),
            ("ok", "esc\u{1b}[2J", "description"),
            ("ok", "c1\u{85}", "description"),
            ("del\u{7f}", "", "title"),
        ] {
            let err = Draft::parse(title, description).unwrap_err();
            let message = err.field_message(field).expect(field);
            assert!(message.contains("control character"), "{message}");
        }
        let draft = Draft::parse("tab\there", "line one\r\nline two\rthree\n\tindented").unwrap();
        assert_eq!(draft.description, "line one\nline two\nthree\n\tindented");
    }
}
