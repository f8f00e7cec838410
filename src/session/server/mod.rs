//! The server's side of the session.
//!
//! - `policy`: the rules as arithmetic (deadlines, reasons, the write slice).
//! - `guard`: applies the policy to every request, in one helper that
//!   every server function calls and in the layers in front of `/api` and the
//!   protected pages, so expiry always answers a typed 401.
//! - `store`: the tower-sessions store wrapper that sets each record's
//!   expiry from the policy and sweeps what has ended; `writes`, its
//!   compare-and-set writes, which never resurrect a deleted session, never
//!   move `last_activity` backwards and never delete a renewed one.
//! - `devices`: a user's live sessions, found by the user id each record
//!   carries, and ending them from another session (reason `revoked`).
//! - `ending_cookie`: the short-lived cookie that tells the browser's next
//!   requests why its session ended.
//! - `cache`: the records in memory between requests, evicted on every
//!   change.
//! - `changes`: on PostgreSQL, every instance hears the changes the others
//!   make, and catches up before it trusts its memory.

pub mod cache;
pub mod changes;
pub mod devices;
pub mod ending_cookie;
pub mod guard;
pub mod policy;
pub mod store;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
pub mod writes;
