//! [`SessionGuard`]: the page's side of the session, around every protected page.
//!
//! - Counts down from the server's relative deadlines on the monotonic clock
//!   and shows the warning `warning_secs` before the end.
//! - Real input (keys, pointer, wheel, scroll, typing; trusted events only,
//!   never a script's) marks activity; at most
//!   once per slice of the idle timeout, and only after such input, the page
//!   sends a keep-alive. A page left alone sends nothing and expires on time.
//!   While the warning is open, input does not extend: only its buttons do.
//! - Re-asks the passive status on `visibilitychange`, `pageshow`, `online`,
//!   when wall time jumps against monotonic time (sleep), and at the deadline:
//!   the server decides whether the session ended.
//! - Tabs act as one through a BroadcastChannel: the time left after every
//!   guarded answer, an extend, a sign-out and a sign-in again in one tab
//!   reach all of them.
//! - When the session has ended, the page is blurred and inert under the
//!   in-place sign-in; signing in as the same user resumes it (whatever failed
//!   re-runs), as another user reloads it so nothing of the first one shows.

use std::{fmt, str::FromStr, sync::Arc};

#[cfg(feature = "hydrate")]
use codee::string::FromToStringCodec;
use leptos::{ev, prelude::*, task::spawn_local};
#[cfg(feature = "hydrate")]
use leptos_use_broadcast_channel::{use_broadcast_channel, UseBroadcastChannelReturn};
use leptos_use_document::use_document;
use leptos_use_document_visibility::use_document_visibility;
use leptos_use_event_listener::{
    use_event_listener, use_event_listener_with_options, UseEventListenerOptions,
};
use leptos_use_interval_fn::use_interval_fn;
use leptos_use_window::use_window;

use super::{
    countdown::{self, Reading},
    dialogs::{ExpiredDialog, WarningDialog},
    tracker::{self, monotonic_now_ms},
};
use crate::error::AppError;
use crate::session::{extend_session, session_status, EndReason};

/// What tabs of the app tell each other. It travels as one line of text
/// (`Display` and `FromStr` below): three fixed shapes do not need a JSON
/// codec, which cost the page about 15 KB of wasm for this type alone.
#[derive(Debug, Clone, PartialEq)]
enum TabMessage {
    /// The session was extended; here is what is left now.
    Extended {
        idle_secs: i64,
        absolute_secs: i64,
    },
    /// A guarded answer in the sending tab: the idle time left now.
    Remaining {
        idle_secs: i64,
    },
    Ended {
        reason: EndReason,
    },
    /// Signed in again (as this user).
    Resumed {
        username: String,
    },
}

impl fmt::Display for TabMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TabMessage::Extended {
                idle_secs,
                absolute_secs,
            } => write!(f, "extended {idle_secs} {absolute_secs}"),
            TabMessage::Remaining { idle_secs } => write!(f, "remaining {idle_secs}"),
            TabMessage::Ended { reason } => write!(f, "ended {}", reason.as_str()),
            TabMessage::Resumed { username } => write!(f, "resumed {username}"),
        }
    }
}

impl FromStr for TabMessage {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let (kind, rest) = text.split_once(' ').ok_or(())?;
        match kind {
            "extended" => {
                let (idle, absolute) = rest.split_once(' ').ok_or(())?;
                Ok(TabMessage::Extended {
                    idle_secs: idle.parse().map_err(|_| ())?,
                    absolute_secs: absolute.parse().map_err(|_| ())?,
                })
            }
            "remaining" => Ok(TabMessage::Remaining {
                idle_secs: rest.parse().map_err(|_| ())?,
            }),
            "ended" => EndReason::parse(rest)
                .map(|reason| TabMessage::Ended { reason })
                .ok_or(()),
            "resumed" if !rest.is_empty() => Ok(TabMessage::Resumed {
                username: rest.to_owned(),
            }),
            _ => Err(()),
        }
    }
}

type Post = Arc<dyn Fn(&TabMessage) + Send + Sync>;

/// Lets components inside the guard (the sign-out button) tell other tabs.
#[derive(Clone)]
pub struct TabChannel(Post);

impl TabChannel {
    pub fn signed_out(&self) {
        (self.0)(&TabMessage::Ended {
            reason: EndReason::SignedOut,
        });
    }
}

/// A call to the server that signs in or out, as the app makes it.
pub type AuthCall<A> =
    Arc<dyn Fn(A) -> futures::future::BoxFuture<'static, Result<(), AppError>> + Send + Sync>;

/// How the app signs a user in and out, handed to [`SessionGuard`] by the
/// app (`auth/` owns both): the guard signs the user in again over the page
/// and out from the warning without depending on how that is done.
#[derive(Clone)]
pub struct SignInOut {
    /// Signs in with a username and a password; `Ok` once the session is live.
    pub sign_in: AuthCall<(String, String)>,
    /// Ends this session on the server.
    pub sign_out: AuthCall<()>,
}

#[component]
pub fn SessionGuard(auth: SignInOut, children: Children) -> impl IntoView {
    let state = tracker::state();
    let (post, message) = tab_channel();
    provide_context(TabChannel(post.clone()));

    let now = RwSignal::new(monotonic_now_ms());
    let activity = StoredValue::new(false);
    let asking = StoredValue::new(false);
    let last_asked = StoredValue::new(f64::MIN);

    // Seconds left to the idle and to the absolute deadline, as known.
    let left = Memo::new({
        let state = state.clone();
        move |_| {
            let at = now.get();
            let idle = state.idle.get().map(|r| r.remaining_at(at));
            let absolute = state.absolute.get().map(|r| r.remaining_at(at));
            (idle, absolute)
        }
    });
    let remaining = Memo::new(move |_| match left.get() {
        (Some(i), Some(a)) => Some(i.min(a)),
        (i, a) => i.or(a),
    });
    let ended = Signal::derive({
        let state = state.clone();
        move || state.ended.get()
    });
    // The end that comes first is the maximum lifetime, which no activity
    // or "Stay signed in" moves: the warning then says so, offers only to
    // go on working, and once read stays closed. Strictly first: where the
    // two coincide (a fresh session with both timeouts equal) the contract's
    // idle warning stands.
    let at_the_limit = Memo::new(move |_| match left.get() {
        (Some(i), Some(a)) => a < i,
        (i, a) => i.is_none() && a.is_some(),
    });
    let limit_read = RwSignal::new(false);
    Effect::new(move |_| {
        if !at_the_limit.get() {
            limit_read.set(false);
        }
    });
    let warning_open = Memo::new({
        let state = state.clone();
        move |_| {
            let lead = state.warning_secs.get();
            ended.get().is_none()
                && remaining.get().is_some_and(|r| r > 0 && r <= lead)
                && !(at_the_limit.get() && limit_read.get())
        }
    });

    // Ask the server (passively) how things stand.
    let ask_status = {
        let state = state.clone();
        move || {
            if asking.get_value() {
                return;
            }
            asking.set_value(true);
            last_asked.set_value(monotonic_now_ms());
            let state = state.clone();
            spawn_local(async move {
                if let Ok(report) = session_status().await {
                    state.apply(&report, monotonic_now_ms());
                }
                asking.set_value(false);
                now.set(monotonic_now_ms());
            });
        }
    };

    // Extend on the server (keep-alive or "Stay signed in"), then tell the other tabs.
    let extend = {
        let state = state.clone();
        let post = post.clone();
        move || {
            let state = state.clone();
            let post = post.clone();
            spawn_local(async move {
                if let Ok(report) = extend_session().await {
                    let at = monotonic_now_ms();
                    state.apply(&report, at);
                    state.last_contact_ms.set(at);
                    now.set(at);
                    post(&TabMessage::Extended {
                        idle_secs: report.idle_remaining_secs as i64,
                        absolute_secs: report.absolute_remaining_secs as i64,
                    });
                }
            });
        }
    };

    let keep_alive = {
        let state = state.clone();
        let extend = extend.clone();
        move || {
            if !activity.get_value()
                || warning_open.get_untracked()
                || ended.get_untracked().is_some()
            {
                return;
            }
            let every = state.keep_alive_secs.get_untracked() as f64 * 1000.0;
            if monotonic_now_ms() - state.last_contact_ms.get_untracked() < every {
                return;
            }
            activity.set_value(false);
            extend();
        }
    };

    // Real input is activity, except while a dialog is open.
    let mark_activity = {
        let keep_alive = keep_alive.clone();
        move || {
            if ended.get_untracked().is_none() && !warning_open.get_untracked() {
                activity.set_value(true);
                keep_alive();
            }
        }
    };
    // One listener type for all of them (by name): a typed event each
    // would compile the listener seven times into the page's wasm.
    for name in [
        "keydown",
        "pointerdown",
        "pointermove",
        "wheel",
        "scroll",
        "input",
        "touchstart",
    ] {
        let mark = mark_activity.clone();
        // Only the browser's own events: a script's synthetic scroll or
        // pointer move is not the user.
        let _ = use_event_listener_with_options(
            use_document(),
            ev::Custom::<web_sys::Event>::new(name),
            move |event: web_sys::Event| {
                if event.is_trusted() {
                    mark();
                }
            },
            UseEventListenerOptions::default()
                .capture(true)
                .passive(true),
        );
    }

    // The clock: recompute from the readings, notice sleep, keep alive, and
    // ask the server at the deadline.
    let wall_offset = StoredValue::new(wall_now_ms() - monotonic_now_ms());
    let _ = use_interval_fn(
        {
            let ask_status = ask_status.clone();
            let keep_alive = keep_alive.clone();
            move || {
                let at = monotonic_now_ms();
                now.set(at);
                let offset = wall_now_ms() - at;
                if countdown::clock_jumped(wall_offset.get_value(), offset) {
                    ask_status();
                }
                wall_offset.set_value(offset);
                keep_alive();
                let due = remaining.get_untracked().is_some_and(|r| r <= 0);
                if due && ended.get_untracked().is_none() && at - last_asked.get_value() > 2000.0 {
                    ask_status();
                }
            }
        },
        1000,
    );

    // Coming back: tab shown again, page restored from the back-forward
    // cache, network back. The countdown may be stale; the server knows.
    let visibility = use_document_visibility();
    Effect::new({
        let ask_status = ask_status.clone();
        move |was: Option<web_sys::VisibilityState>| {
            let is = visibility.get();
            if was.is_some() && is == web_sys::VisibilityState::Visible {
                ask_status();
            }
            is
        }
    });
    for name in ["pageshow", "online"] {
        let ask = ask_status.clone();
        let _ = use_event_listener(
            use_window(),
            ev::Custom::<web_sys::Event>::new(name),
            move |_| ask(),
        );
    }

    // While hidden with the warning up, the tab's title counts down.
    let title_before = StoredValue::new(None::<String>);
    Effect::new(move |_| {
        let hidden = visibility.get() == web_sys::VisibilityState::Hidden;
        let text = (hidden && warning_open.get()).then(|| {
            format!(
                "{} · Session expiring",
                countdown::mmss(remaining.get().unwrap_or(0))
            )
        });
        set_title(text, title_before);
    });

    // Every guarded answer in this tab tells the others how long is left,
    // so that a tab the user is not in neither warns nor pings needlessly.
    Effect::new({
        let state = state.clone();
        let post = post.clone();
        move |_| {
            if let Some(reading) = state.heard.get() {
                post(&TabMessage::Remaining {
                    idle_secs: reading.remaining_secs,
                });
            }
        }
    });

    // Other tabs.
    Effect::new({
        let state = state.clone();
        let ask_status = ask_status.clone();
        move |_| {
            let Some(msg) = message.get() else {
                return;
            };
            match msg {
                TabMessage::Extended {
                    idle_secs,
                    absolute_secs,
                } => {
                    let at = monotonic_now_ms();
                    state.idle.set(Some(Reading {
                        remaining_secs: idle_secs,
                        observed_at_ms: at,
                    }));
                    state.absolute.set(Some(Reading {
                        remaining_secs: absolute_secs,
                        observed_at_ms: at,
                    }));
                    state.last_contact_ms.set(at);
                    now.set(at);
                }
                TabMessage::Remaining { idle_secs } => {
                    let at = monotonic_now_ms();
                    state.idle.set(Some(Reading {
                        remaining_secs: idle_secs,
                        observed_at_ms: at,
                    }));
                    state.last_contact_ms.set(at);
                    now.set(at);
                }
                TabMessage::Ended { reason } => state.end(reason),
                TabMessage::Resumed { username } => {
                    if state.ended.get_untracked().is_some() {
                        resume_as(&state, &username, &ask_status);
                    }
                }
            }
        }
    });

    // Mounted: 401s now open the dialog instead of leaving the page. (The
    // state is per page; the server, rendering for everyone, leaves it alone.)
    #[cfg(feature = "hydrate")]
    {
        state.guard_mounted.set(true);
        on_cleanup({
            let state = state.clone();
            move || state.guard_mounted.set(false)
        });
    }
    // Loading this page was activity on the server: the next keep-alive is
    // due one slice from now.
    Effect::new({
        let state = state.clone();
        move |_| state.last_contact_ms.set(monotonic_now_ms())
    });
    // The deadlines come with the page: the server renders its status into
    // the HTML (a resource, read passively as the status call reads it), so
    // a first visit makes no request once hydrated. A guard mounted by
    // navigating in the page fetches it instead. Where it comes from the
    // server it is dated at 0 in the page's clock, the start of the
    // navigation (`monotonic_now_ms` there), a little before the server
    // measured it: the page may believe it has less time, never more.
    let first_report = Resource::new(
        || (),
        |_| async {
            // On the server the status itself, not the server function: a
            // failure to read it must not give the page (already guarded)
            // the function's error status.
            #[cfg(feature = "ssr")]
            let report = crate::session::server::guard::status().await;
            #[cfg(not(feature = "ssr"))]
            let report = session_status().await;
            report.map(|report| (report, monotonic_now_ms()))
        },
    );
    Effect::new({
        let state = state.clone();
        let ask_status = ask_status.clone();
        move |_| match first_report.get() {
            Some(Ok((report, measured_at))) => {
                state.apply(&report, measured_at);
                now.set(monotonic_now_ms());
            }
            Some(Err(_)) => ask_status(),
            None => {}
        }
    });

    let on_stay = Callback::new({
        let extend = extend.clone();
        move |()| extend()
    });
    let on_read = Callback::new(move |()| limit_read.set(true));
    let on_sign_out = Callback::new({
        let post = post.clone();
        move |()| {
            post(&TabMessage::Ended {
                reason: EndReason::SignedOut,
            });
            let sign_out = auth.sign_out.clone();
            spawn_local(async move {
                let _ = sign_out(()).await;
            });
        }
    });
    let on_signed_in = Callback::new({
        let state = state.clone();
        let post = post.clone();
        let ask_status = ask_status.clone();
        move |username: String| {
            if resume_as(&state, &username, &ask_status) {
                post(&TabMessage::Resumed { username });
            }
        }
    });

    let dialog_open = move || warning_open.get() || ended.get().is_some();
    let known_username = {
        let state = state.clone();
        move || state.username.get_untracked()
    };
    view! {
        <div
            class="guarded"
            class:obscured=move || ended.get().is_some()
            inert=dialog_open
            aria-hidden=move || dialog_open().then_some("true")
        >
            {children()}
        </div>
        <Show when=move || warning_open.get()>
            <WarningDialog
                remaining=Signal::derive(move || remaining.get().unwrap_or(0))
                at_the_limit=at_the_limit.into()
                on_stay
                on_read
                on_sign_out
            />
        </Show>
        <Show when=move || ended.get().is_some()>
            <ExpiredDialog
                reason=Signal::derive(move || ended.get().unwrap_or(EndReason::Missing))
                known_username=known_username()
                sign_in=auth.sign_in.clone()
                on_signed_in
            />
        </Show>
    }
}

/// The channel to the app's other tabs. Browser only: on the server there
/// are no tabs, and leptos-use-broadcast-channel 0.20 registers a cleanup
/// bound to the rendering thread, which panics when the server drops the
/// page's owner on another worker thread.
fn tab_channel() -> (Post, Signal<Option<TabMessage>>) {
    #[cfg(feature = "hydrate")]
    {
        let UseBroadcastChannelReturn { post, message, .. } =
            use_broadcast_channel::<TabMessage, FromToStringCodec>("session-guard");
        (Arc::new(post), message)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        (Arc::new(|_: &TabMessage| {}), Signal::stored(None))
    }
}

/// After a sign-in again: the same user picks up where they were (what
/// failed re-runs); another user gets a fresh page, nothing of the first.
/// Answers whether the page resumed.
fn resume_as(state: &tracker::SessionState, username: &str, ask_status: &impl Fn()) -> bool {
    let same = state.username.get_untracked().as_deref() == Some(username);
    if !same {
        if let Some(window) = web_sys::window() {
            let _ = window.location().reload();
        }
        return false;
    }
    state.ended.set(None);
    state.resumed.update(|n| *n += 1);
    ask_status();
    true
}

/// Wall-clock ms (browser only: on the server the guard never ticks).
fn wall_now_ms() -> f64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_messages_survive_the_trip_as_text() {
        for msg in [
            TabMessage::Extended {
                idle_secs: 840,
                absolute_secs: 27_000,
            },
            TabMessage::Remaining { idle_secs: 899 },
            TabMessage::Ended {
                reason: EndReason::SignedOut,
            },
            TabMessage::Resumed {
                username: "a.user-1_x".to_owned(),
            },
        ] {
            assert_eq!(msg.to_string().parse::<TabMessage>(), Ok(msg));
        }
    }

    #[test]
    fn other_text_is_not_a_tab_message() {
        for text in [
            "",
            "extended 1",
            "extended x 2",
            "remaining",
            "remaining soon",
            "ended nap",
            "resumed ",
            "hello",
        ] {
            assert!(text.parse::<TabMessage>().is_err(), "{text:?}");
        }
    }
}
