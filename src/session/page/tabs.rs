//! Tabs in step: the app's tabs act as one through a BroadcastChannel. The
//! time left after every guarded answer, an extend, a sign-out, a session
//! found ended and a sign-in again in one tab reach all of them.

use std::{fmt, str::FromStr, sync::Arc};

#[cfg(feature = "hydrate")]
use codee::string::FromToStringCodec;
use leptos::prelude::*;
#[cfg(feature = "hydrate")]
use leptos_use_broadcast_channel::{use_broadcast_channel, UseBroadcastChannelReturn};

use super::{
    refresh::Status,
    tracker::{monotonic_now_ms, SessionState},
    warning::Warning,
};
use crate::session::{EndReason, SessionReport};

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
    /// The sending tab found the session ended (a 401, a status answer):
    /// the others ask the server. Not the end itself, which may be stale by
    /// the time it arrives (a 401 answered after another tab signed in).
    Check,
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
            TabMessage::Check => f.write_str("check"),
        }
    }
}

impl FromStr for TabMessage {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        if text == "check" {
            return Ok(TabMessage::Check);
        }
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
#[derive(Clone, Copy)]
pub struct TabChannel(StoredValue<Post>);

impl TabChannel {
    /// This tab signed out.
    pub fn signed_out(self) {
        self.post(&TabMessage::Ended {
            reason: EndReason::SignedOut,
        });
    }

    /// This tab extended the session: the report says what is left.
    pub(super) fn extended(self, report: &SessionReport) {
        self.post(&TabMessage::Extended {
            idle_secs: report.idle_remaining_secs as i64,
            absolute_secs: report.absolute_remaining_secs as i64,
        });
    }

    /// This tab signed in again as `username`, the same user.
    pub(super) fn resumed(self, username: String) {
        self.post(&TabMessage::Resumed { username });
    }

    /// Tells the other tabs, while this page still has its channel. An
    /// answer may arrive after the guard is gone (an extend answered after
    /// the user signed out and the page moved on): there is nothing to tell
    /// then, and the channel's own signals are gone with it.
    fn post(self, message: &TabMessage) {
        let _ = self.0.try_with_value(|post| post(message));
    }
}

/// Keeps this tab and the others in step. Promises: every guarded answer's
/// idle time left here goes to the other tabs (`Remaining`), and what they
/// say lands in `state`: an extend or a guarded answer there moves the
/// countdown and counts as contact, an end ends it here, an end found there
/// makes this tab ask the server, a sign-in again as this page's user resumes
/// it. The returned channel posts the rest.
pub(super) fn use_tabs(state: SessionState, warning: Warning, status: Status) -> TabChannel {
    let (channel, message) = tab_channel();

    // Every guarded answer in this tab tells the others how long is left,
    // so that a tab the user is not in neither warns nor pings needlessly.
    Effect::new(move |_| {
        if let Some(reading) = state.heard() {
            channel.post(&TabMessage::Remaining {
                idle_secs: reading.remaining_secs,
            });
        }
    });

    // The session ending here (however this tab learned it) makes the
    // others ask. A tab already ended does not ask again, so it stops there.
    Effect::new(move |was_ended: Option<bool>| {
        let ended = state.ended().is_some();
        if ended && was_ended == Some(false) {
            channel.post(&TabMessage::Check);
        }
        ended
    });

    // Other tabs.
    Effect::new(move |_| {
        let Some(msg) = message.get() else {
            return;
        };
        match msg {
            TabMessage::Extended {
                idle_secs,
                absolute_secs,
            } => {
                let at = monotonic_now_ms();
                state.extended_elsewhere(idle_secs, absolute_secs, at);
                warning.recompute_at(at);
            }
            TabMessage::Remaining { idle_secs } => {
                let at = monotonic_now_ms();
                state.remaining_elsewhere(idle_secs, at);
                warning.recompute_at(at);
            }
            TabMessage::Ended { reason } => state.end(reason),
            TabMessage::Resumed { username } => status.resumed_elsewhere(&username),
            TabMessage::Check => {
                if state.ended_untracked().is_none() {
                    status.ask();
                }
            }
        }
    });

    channel
}

/// The channel to the app's other tabs. Browser only: on the server there
/// are no tabs, and leptos-use-broadcast-channel 0.20 registers a cleanup
/// bound to the rendering thread, which panics when the server drops the
/// page's owner on another worker thread.
fn tab_channel() -> (TabChannel, Signal<Option<TabMessage>>) {
    #[cfg(feature = "hydrate")]
    let (post, message): (Post, _) = {
        let UseBroadcastChannelReturn { post, message, .. } =
            use_broadcast_channel::<TabMessage, FromToStringCodec>("session-guard");
        (Arc::new(post), message)
    };
    #[cfg(not(feature = "hydrate"))]
    let (post, message): (Post, _) = (Arc::new(|_: &TabMessage| {}), Signal::stored(None));
    (TabChannel(StoredValue::new(post)), message)
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
            TabMessage::Check,
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
            "check ",
            "hello",
        ] {
            assert!(text.parse::<TabMessage>().is_err(), "{text:?}");
        }
    }
}
