//! The page's side of the session, in the browser (and rendered on the
//! server like any component).
//!
//! - `client`: the one place in the browser that sees every server-function
//!   answer (custom server_fn `Client`).
//! - `tracker`: the reactive place holding what the last answer said about
//!   the session.
//! - `countdown`: the arithmetic of time left, free of the DOM.
//! - `guard` and `dialogs`: [`SessionGuard`]: countdown, warning, activity
//!   keep-alive, tabs in step, sign-in again in place.

pub mod client;
pub mod countdown;
mod dialogs;
mod guard;
pub mod tracker;

pub use guard::{AuthCall, SessionGuard, SignInOut, TabChannel};
