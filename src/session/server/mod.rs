//! The server's side of the session.
//!
//! - `sessions`: [`Sessions`], what the module needs, built once and handed
//!   to its layers and server functions; the app says which routes it
//!   guards (`GuardedRoutes`).
//! - `policy`: every duration, limit and cookie attribute, and the rules as
//!   arithmetic (deadlines, reasons, the write slice); `record`, what each
//!   session record holds (both from the `leptos-session-guard` crate).
//! - `check`: applies the policy to a request's session, the one decision
//!   all three places below make; `start` and `sign_out` for the app's
//!   sign-in.
//! - `layers`: the guard in front of `/api` and the protected pages, so
//!   expiry always answers a typed 401 (or a redirect, for a page).
//! - `guard`: the guard inside server functions, which every body calls.
//! - `store`: the tower-sessions store in layers (the database under the
//!   policy with compare-and-set writes, counting, memory that hears other
//!   instances' changes), the reasons sessions ended, and the sweep.
//! - `ending_cookie`: the short-lived cookie that tells the browser's next
//!   requests why its session ended; `removals`, the attributes both
//!   cookies carry, removals included.
//! - `devices`: where a session was signed in, and the name the sessions
//!   page knows it by.

pub mod check;
pub mod devices;
pub mod ending_cookie;
pub mod guard;
pub mod layers;
pub use leptos_session_guard::{policy, record};
pub mod removals;
pub mod sessions;
pub mod store;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;

pub use sessions::{GuardedRoutes, Sessions};
