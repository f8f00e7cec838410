//! The throttle alone, in memory: allowances, refunds, keys and bounds.

use std::net::IpAddr;

use super::{gcra::Millis, *};

fn here() -> Client {
    Client::of([10, 0, 0, 1].into())
}

fn wait(denied: Denied) -> Duration {
    match denied {
        Denied::Throttled { wait } => wait,
        Denied::Busy => panic!("refused for want of a place, not throttled"),
        Denied::Unavailable(err) => panic!("memory is always there: {err}"),
    }
}

#[tokio::test]
async fn an_allowance_is_spent_before_verifying_and_only_once_per_attempt() {
    let throttle = SignInThrottle::default();
    let alice = || Who::of("alice");
    // Five at once (all still being verified), the sixth refused.
    let mut attempts = Vec::new();
    for _ in 0..USER_BURST {
        attempts.push(
            throttle
                .begin(alice(), here())
                .await
                .expect("within the allowance"),
        );
    }
    let refused = wait(throttle.begin(alice(), here()).await.unwrap_err());
    assert!(refused > Duration::ZERO && refused <= USER_REFILL);
    drop(attempts);
    assert!(
        throttle.begin(alice(), here()).await.is_err(),
        "failures stay spent"
    );
    assert!(
        throttle.begin(Who::of("bob"), here()).await.is_ok(),
        "other names are not refused"
    );
    assert!(
        throttle
            .begin(alice(), Client::of([10, 0, 0, 2].into()))
            .await
            .is_ok(),
        "other addresses are not refused"
    );
}

#[tokio::test]
async fn a_right_password_gives_its_attempt_back() {
    let throttle = SignInThrottle::default();
    for _ in 0..100 {
        throttle
            .begin(Who::of("alice"), here())
            .await
            .expect("successes never use up the allowance")
            .give_back()
            .await;
    }
    assert_eq!(throttle.keys(), 0, "a full allowance needs no entry");
}

#[tokio::test]
async fn one_address_trying_many_names_is_refused() {
    let throttle = SignInThrottle::default();
    for n in 0..ADDRESS_BURST {
        drop(
            throttle
                .begin(Who::of(&format!("user{n}")), here())
                .await
                .unwrap(),
        );
    }
    let refused = throttle
        .begin(Who::of("somebody-else"), here())
        .await
        .unwrap_err();
    assert!(wait(refused) <= ADDRESS_REFILL);
}

#[tokio::test]
async fn in_flight_attempts_per_address_are_capped() {
    let throttle = SignInThrottle::default();
    let mut held = Vec::new();
    for n in 0..MAX_IN_FLIGHT_PER_ADDRESS {
        held.push(
            throttle
                .begin(Who::of(&format!("u{n}")), here())
                .await
                .unwrap(),
        );
    }
    let refused = throttle.begin(Who::of("another"), here()).await;
    assert!(matches!(refused, Err(Denied::Busy)), "{refused:?}");
    drop(held);
    assert!(throttle.begin(Who::of("another"), here()).await.is_ok());
    assert_eq!(
        throttle.admission.taken(),
        0,
        "refused attempts hold no place"
    );
}

#[tokio::test]
async fn a_refusal_for_want_of_a_place_spends_nothing() {
    let throttle = SignInThrottle::default();
    let held: Vec<_> = futures::future::join_all(
        (0..MAX_IN_FLIGHT_PER_ADDRESS).map(|n| throttle.begin(Who::of(&format!("u{n}")), here())),
    )
    .await;
    for _ in 0..100 {
        assert!(matches!(
            throttle.begin(Who::of("alice"), here()).await,
            Err(Denied::Busy)
        ));
    }
    drop(held);
    // Alice's allowance from here is whole.
    for _ in 0..USER_BURST {
        drop(throttle.begin(Who::of("alice"), here()).await.unwrap());
    }
}

#[test]
fn keys_are_bounded_whatever_is_submitted() {
    assert_eq!(Who::of(&"x".repeat(300_000)), Who::Unparsed);
    assert_eq!(Who::of("a\u{0}b"), Who::Unparsed);
    assert_eq!(Who::of(" Alice "), Who::Name("alice".into()));
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(Client::of(a), Client::of(b), "one /64, one client");
    assert_ne!(Client::of(a), Client::of(c));
    let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
    assert_eq!(Client::of(mapped), here());
    // In the shared table, names cannot run into each other.
    assert_eq!(
        Key::User(Who::Unparsed, here()).shared_name(),
        "user 10.0.0.1 *"
    );
    assert_eq!(
        Key::Address(Client::of(a)).shared_name(),
        "address 2001:db8:1:2::"
    );
}

#[tokio::test]
async fn ten_thousand_failures_with_long_names_from_as_many_addresses_keep_a_few_mib() {
    let throttle = SignInThrottle::default();
    let long = "x".repeat(256 * 1024);
    for n in 0..10_000u32 {
        // A distinct 256 KiB "name" each time, from a distinct address.
        let name = format!("{n}{long}");
        let client = Client::of(IpAddr::V4((0x0a00_0000 + n).into()));
        drop(throttle.begin(Who::of(&name), client).await.unwrap());
    }
    // Two fixed-size keys per address, no name among them: what grew
    // by 77 MiB for 300 such failures before keeps this.
    assert_eq!(throttle.keys(), 20_000);
    let counts = throttle.counts();
    assert!(counts
        .buckets
        .keys()
        .all(|key| matches!(key, Key::Address(_) | Key::User(Who::Unparsed, _))));
    let bytes = counts.buckets.capacity()
        * (std::mem::size_of::<Key>() + std::mem::size_of::<Millis>() + 8);
    assert!(bytes < 4 << 20, "{bytes} bytes");
}

#[tokio::test]
async fn the_table_is_capped_and_pruned() {
    let throttle = SignInThrottle::default();
    for n in 0..(MAX_KEYS as u32 + 10) {
        let client = Client::of(IpAddr::V4(n.into()));
        drop(throttle.begin(Who::Unparsed, client).await.unwrap());
    }
    assert!(throttle.keys() <= MAX_KEYS, "{} keys", throttle.keys());
}
