//! The page's side of the session, in the browser (and rendered on the
//! server like any component).
//!
//! - `client`: the one place in the browser that sees every server-function
//!   answer (custom server_fn `Client`).
//! - `tracker`: the reactive place holding what the last answer said about
//!   the session, changed only through its handle's named methods.
//! - `countdown`: the arithmetic of time left, free of the DOM.
//! - `guard`: [`SessionGuard`], composed of the hooks below, and its view;
//!   its clock ticks there.
//! - `warning`: the time left as the guard shows it, and when the warning is
//!   open.
//! - `activity`: real input and the keep-alive (and the extend it shares
//!   with "Stay signed in").
//! - `refresh`: re-asking the passive status whenever the countdown may be
//!   stale, and the first report, rendered with the page.
//! - `tabs`: [`TabChannel`], the app's tabs in step.
//! - `resend`: a form's request the session refused, sent again after the
//!   sign-in over the page.
//! - `title`: the hidden tab's title counting down.
//! - `dialogs`: the warning and the in-place sign-in.
//! - `sign_in_out`: how the app signs in and out, handed to the guard.

mod activity;
pub mod client;
pub mod countdown;
mod dialogs;
mod guard;
mod refresh;
pub mod resend;
mod sign_in_out;
mod tabs;
mod title;
pub mod tracker;
mod warning;

pub use guard::SessionGuard;
pub use sign_in_out::{AuthCall, SignInOut};
pub use tabs::TabChannel;
