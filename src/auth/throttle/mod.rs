//! Sign-in throttling: attempts are counted per username and client
//! address, and per address. Past its allowance a client is refused with 429
//! and `Retry-After`, even with the right password, until the allowance
//! refills by one attempt; so guessing is slowed to a trickle and then
//! refused, and nothing is locked for good.
//!
//! What it promises, however many requests arrive at once:
//! - An attempt spends from both allowances *before* its password is
//!   verified, and gets it back when the password was right (or when it
//!   could not be verified at all: an outage or a full queue). So at most
//!   the allowance is ever verified per key: 99 simultaneous guesses for one
//!   name from one address verify 5, not 99.
//! - At most [`MAX_IN_FLIGHT_PER_ADDRESS`] verifications per address run or
//!   wait at once; more are refused at once (429, `Retry-After: 1`).
//! - Memory is bounded: a key is the parsed username (lower case; every
//!   name that does not parse shares one bucket, so a 256 KiB "name" costs
//!   what `alice` costs) and the address (IPv6 by its /64, which one client
//!   usually holds whole). Keys whose allowance has refilled are pruned
//!   every minute (the sweeper), and the table never holds more than
//!   [`MAX_KEYS`]: past it, the buckets closest to full go first.
//!
//! A user's count is kept per address: an attacker's failures lock the
//! attacker's address out of that account, never the account itself, so no
//! one can keep a real user from signing in.
//!
//! With several instances on one PostgreSQL database the buckets live in
//! that database ([`SignInThrottle::shared`]): every instance spends from
//! the same allowance, in one transaction per attempt that holds the two
//! rows, so the allowances are those of one instance however many serve
//! and wherever an attempt lands. Only the attempts in flight are counted
//! per instance. The counts use a small pool of their own
//! (`db::throttle_pool`), so a crowd of sign-ins never holds the
//! connections signed-in requests need. On SQLite one server serves, and
//! counts in memory.
//!
//! The counting is GCRA, the algorithm of governor (and so tower_governor),
//! in [`Limit::spend`]: a bucket is one instant, its "theoretical arrival
//! time". It is written out here because governor can neither give a spent
//! attempt back nor spend from two limits as one step, and both are what
//! the promises above rest on.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use sqlx::PgPool;

use super::Username;

/// Attempts one address may make for one username at once, then one more
/// per [`USER_REFILL`].
pub const USER_BURST: u32 = 5;
pub const USER_REFILL: Duration = Duration::from_secs(30);
/// Attempts one address may make across all usernames at once, then one
/// more per [`ADDRESS_REFILL`].
pub const ADDRESS_BURST: u32 = 20;
pub const ADDRESS_REFILL: Duration = Duration::from_secs(10);
/// Sign-ins from one address being verified (or waiting to be) at once.
/// Eight: the benchmark's concurrent sign-ins, far above a person's one.
pub const MAX_IN_FLIGHT_PER_ADDRESS: usize = 8;
/// Buckets kept at most (a few MiB).
pub const MAX_KEYS: usize = 100_000;

/// Who an attempt is for, as the throttle counts it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    /// A name that parses, in lower case (case does not reset the count).
    Name(String),
    /// Every submitted name that is not a username at all.
    Unparsed,
}

impl Who {
    pub fn of(submitted: &str) -> Who {
        match Username::parse(submitted.trim()) {
            Ok(name) => Who::Name(name.as_str().to_ascii_lowercase()),
            Err(_) => Who::Unparsed,
        }
    }
}

/// Where an attempt comes from, as the throttle counts it: an IPv4 address,
/// or an IPv6 address's /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(IpAddr);

impl Client {
    pub fn of(addr: IpAddr) -> Client {
        match addr {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Client(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Client(IpAddr::V6(prefix.into()))
                }
            },
            v4 => Client(v4),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(Who, Client),
    Address(Client),
}

impl Key {
    fn limit(&self) -> Limit {
        match self {
            Key::User(..) => PER_USER,
            Key::Address(_) => PER_ADDRESS,
        }
    }

    /// Its name in the shared table: neither part can hold a space, and `*`
    /// is no username.
    fn shared_name(&self) -> String {
        match self {
            Key::User(Who::Name(name), client) => format!("user {} {name}", client.0),
            Key::User(Who::Unparsed, client) => format!("user {} *", client.0),
            Key::Address(client) => format!("address {}", client.0),
        }
    }
}

/// Milliseconds on the clock the buckets are counted on: since the
/// throttle began in memory, the database's clock when shared.
type Millis = i64;

/// An allowance: `burst` attempts at once, then one per `refill`.
#[derive(Debug, Clone, Copy)]
struct Limit {
    burst: u32,
    refill: Duration,
}

const PER_USER: Limit = Limit {
    burst: USER_BURST,
    refill: USER_REFILL,
};
const PER_ADDRESS: Limit = Limit {
    burst: ADDRESS_BURST,
    refill: ADDRESS_REFILL,
};

impl Limit {
    fn refill_ms(&self) -> Millis {
        self.refill.as_millis() as Millis
    }

    /// GCRA: the bucket's time after spending one attempt at `now`, or how
    /// long until it could.
    fn spend(&self, tat: Option<Millis>, now: Millis) -> Result<Millis, Duration> {
        let tat = tat.map_or(now, |tat| tat.max(now));
        let tolerance = self.refill_ms() * Millis::from(self.burst.saturating_sub(1));
        let ahead = tat - now;
        if ahead > tolerance {
            Err(Duration::from_millis((ahead - tolerance) as u64))
        } else {
            Ok(tat + self.refill_ms())
        }
    }

    /// The bucket's time with one attempt given back; `None` once that is
    /// a full allowance, which needs no entry.
    fn refund(&self, tat: Millis, now: Millis) -> Option<Millis> {
        Some(tat - self.refill_ms()).filter(|back| *back > now)
    }
}

/// Spends one attempt from every bucket of `keys` at `now`, or from none;
/// answers the buckets' new times, or how long until it could.
fn spend_all(
    keys: &[Key],
    tat_of: impl Fn(&Key) -> Option<Millis>,
    now: Millis,
) -> Result<Vec<Millis>, Duration> {
    let mut spent = Vec::with_capacity(keys.len());
    let mut wait = Duration::ZERO;
    for key in keys {
        match key.limit().spend(tat_of(key), now) {
            Ok(tat) => spent.push(tat),
            Err(until) => wait = wait.max(until),
        }
    }
    if wait > Duration::ZERO {
        Err(wait)
    } else {
        Ok(spent)
    }
}

#[derive(Debug)]
struct Counts {
    /// Time zero of the buckets in memory.
    began: Instant,
    buckets: HashMap<Key, Millis>,
    in_flight: HashMap<Client, usize>,
}

impl Default for Counts {
    fn default() -> Self {
        Counts {
            began: Instant::now(),
            buckets: HashMap::new(),
            in_flight: HashMap::new(),
        }
    }
}

impl Counts {
    fn now(&self) -> Millis {
        self.began.elapsed().as_millis() as Millis
    }

    /// Forgets buckets that have refilled completely.
    fn prune(&mut self, now: Millis) {
        self.buckets.retain(|_, tat| *tat > now);
    }

    /// Makes room for one more bucket: what has refilled goes, then, if
    /// that is not enough, the half closest to full.
    fn make_room(&mut self, now: Millis) {
        if self.buckets.len() < MAX_KEYS {
            return;
        }
        self.prune(now);
        if self.buckets.len() < MAX_KEYS {
            return;
        }
        let mut tats: Vec<Millis> = self.buckets.values().copied().collect();
        let middle = tats.len() / 2;
        let (_, median, _) = tats.select_nth_unstable(middle);
        let median = *median;
        self.buckets.retain(|_, tat| *tat > median);
    }
}

#[derive(Debug, Clone, Default)]
pub struct SignInThrottle {
    counts: Arc<Mutex<Counts>>,
    /// On PostgreSQL: the buckets, in the database every instance shares.
    shared: Option<PgPool>,
}

/// Why an attempt may not be made now.
#[derive(Debug)]
pub enum Denied {
    /// Past the allowance: how long until an attempt may be made.
    Throttled { wait: Duration },
    /// The shared counts could not be read (the database is out of reach).
    Unavailable(sqlx::Error),
}

impl SignInThrottle {
    /// Counts kept in the database on `pool`, shared by every instance
    /// using it (the attempts in flight stay per instance).
    pub fn shared(pool: PgPool) -> Self {
        SignInThrottle {
            counts: Arc::default(),
            shared: Some(pool),
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // Plain counters, consistent after any panic.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Before the password is verified: spends one attempt from both
    /// allowances, or neither and answers how long to wait. The attempt
    /// counts as failed unless [`Attempt::give_back`] is called.
    pub async fn begin(&self, who: Who, client: Client) -> Result<Attempt, Denied> {
        // A place among this address's attempts in flight first: held (and
        // given back by dropping it) across the shared spend's round trips.
        {
            let mut counts = self.counts();
            let in_flight = counts.in_flight.entry(client).or_insert(0);
            if *in_flight >= MAX_IN_FLIGHT_PER_ADDRESS {
                return Err(Denied::Throttled {
                    wait: Duration::from_secs(1),
                });
            }
            *in_flight += 1;
        }
        let attempt = Attempt {
            throttle: self.clone(),
            keys: [Key::User(who, client), Key::Address(client)],
            client,
        };
        match &self.shared {
            None => self.spend_in_memory(&attempt.keys)?,
            Some(pool) => shared::spend(pool, &attempt.keys)
                .await
                .map_err(Denied::Unavailable)?
                .map_err(|wait| Denied::Throttled { wait })?,
        }
        Ok(attempt)
    }

    fn spend_in_memory(&self, keys: &[Key]) -> Result<(), Denied> {
        let mut counts = self.counts();
        let now = counts.now();
        let spent = spend_all(keys, |key| counts.buckets.get(key).copied(), now)
            .map_err(|wait| Denied::Throttled { wait })?;
        for (key, tat) in keys.iter().zip(spent) {
            if !counts.buckets.contains_key(key) {
                counts.make_room(now);
            }
            counts.buckets.insert(key.clone(), tat);
        }
        Ok(())
    }

    /// Forgets what has refilled; the sweeper calls it every minute.
    pub async fn prune(&self) -> sqlx::Result<()> {
        {
            let mut counts = self.counts();
            let now = counts.now();
            counts.prune(now);
        }
        match &self.shared {
            None => Ok(()),
            Some(pool) => shared::prune(pool).await,
        }
    }

    /// How many buckets are kept in memory now.
    pub fn keys(&self) -> usize {
        self.counts().buckets.len()
    }
}

/// One sign-in attempt being verified. Dropped without
/// [`give_back`](Attempt::give_back) (a wrong password, a client that went
/// away), it stays spent.
#[derive(Debug)]
pub struct Attempt {
    throttle: SignInThrottle,
    keys: [Key; 2],
    client: Client,
}

impl Attempt {
    /// The attempt does not count: the password was right, or it was never
    /// verified (an outage, a full queue). Shared counts that cannot be
    /// reached keep it spent (logged): stricter, never looser.
    pub async fn give_back(self) {
        if let Some(pool) = &self.throttle.shared {
            if let Err(err) = shared::refund(pool, &self.keys).await {
                tracing::warn!(error = %err, "cannot give a sign-in attempt back");
            }
            return;
        }
        let mut counts = self.throttle.counts();
        let now = counts.now();
        for key in &self.keys {
            if let Some(tat) = counts.buckets.get(key).copied() {
                match key.limit().refund(tat, now) {
                    Some(back) => counts.buckets.insert(key.clone(), back),
                    None => counts.buckets.remove(key),
                };
            }
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        let mut counts = self.throttle.counts();
        if let Some(n) = counts.in_flight.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                counts.in_flight.remove(&self.client);
            }
        }
    }
}

/// The buckets in PostgreSQL (`migrations/postgres/0004_*`), so that every
/// instance behind a balancer spends from the same allowance: the 21st
/// failure from one address is refused wherever it lands. Times are the
/// database's clock, which every instance shares.
mod shared {
    use super::*;

    const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

    /// Spends from every bucket of `keys` or from none, in one transaction
    /// holding their rows, so concurrent attempts on any instance are
    /// counted one after another.
    pub(super) async fn spend(pool: &PgPool, keys: &[Key]) -> sqlx::Result<Result<(), Duration>> {
        let mut tx = pool.begin().await?;
        let rows = lock(&mut tx, keys).await?;
        let now = rows.first().map_or(0, |(_, _, now)| *now);
        let tat_of = |key: &Key| {
            let name = key.shared_name();
            rows.iter()
                .find(|(row, _, _)| *row == name)
                .map(|(_, tat, _)| *tat)
        };
        let spent = match spend_all(keys, tat_of, now) {
            Ok(spent) => spent,
            Err(wait) => return Ok(Err(wait)),
        };
        set(&mut tx, keys, &spent).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Gives one attempt back to every bucket of `keys`, holding their rows
    /// in the same order as [`spend`].
    pub(super) async fn refund(pool: &PgPool, keys: &[Key]) -> sqlx::Result<()> {
        let mut tx = pool.begin().await?;
        let rows = lock(&mut tx, keys).await?;
        let back: Vec<Millis> = keys
            .iter()
            .map(|key| {
                let name = key.shared_name();
                let tat = rows
                    .iter()
                    .find(|(row, _, _)| *row == name)
                    .map_or(0, |(_, tat, _)| *tat);
                tat - key.limit().refill_ms()
            })
            .collect();
        set(&mut tx, keys, &back).await?;
        tx.commit().await
    }

    /// Creates the rows of `keys` that are missing and locks them all, in
    /// key order (so that two attempts never wait for each other), in one
    /// statement: a row the sweeper would delete between a create and a
    /// lock cannot be lost. Answers each row's name and time, and now.
    async fn lock(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        keys: &[Key],
    ) -> sqlx::Result<Vec<(String, Millis, Millis)>> {
        let names: Vec<String> = keys.iter().map(Key::shared_name).collect();
        sqlx::query_as(&format!(
            "INSERT INTO sign_in_buckets (key, tat_ms) \
             SELECT name, 0 FROM unnest($1::text[]) AS name ORDER BY name \
             ON CONFLICT (key) DO UPDATE SET tat_ms = sign_in_buckets.tat_ms \
             RETURNING key, tat_ms, {NOW_MS}"
        ))
        .bind(&names)
        .fetch_all(&mut **tx)
        .await
    }

    /// Writes the buckets' new times (their rows are locked).
    async fn set(
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        keys: &[Key],
        tats: &[Millis],
    ) -> sqlx::Result<()> {
        let names: Vec<String> = keys.iter().map(Key::shared_name).collect();
        sqlx::query(
            "UPDATE sign_in_buckets AS b SET tat_ms = v.tat \
             FROM unnest($1::text[], $2::bigint[]) AS v(key, tat) WHERE b.key = v.key",
        )
        .bind(&names)
        .bind(tats)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Forgets buckets that have refilled completely.
    pub(super) async fn prune(pool: &PgPool) -> sqlx::Result<()> {
        // Rows an attempt holds now are skipped: never a wait, nor a
        // deadlock with it; the next minute takes them.
        sqlx::query(&format!(
            "DELETE FROM sign_in_buckets WHERE key IN \
             (SELECT key FROM sign_in_buckets WHERE tat_ms <= {NOW_MS} FOR UPDATE SKIP LOCKED)"
        ))
        .execute(pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> Client {
        Client::of([10, 0, 0, 1].into())
    }

    fn wait(denied: Denied) -> Duration {
        match denied {
            Denied::Throttled { wait } => wait,
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
        let refused = throttle
            .begin(Who::of("another"), here())
            .await
            .unwrap_err();
        assert_eq!(wait(refused), Duration::from_secs(1));
        drop(held);
        assert!(throttle.begin(Who::of("another"), here()).await.is_ok());
        assert!(
            throttle.counts().in_flight.is_empty(),
            "refused attempts hold no place"
        );
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
}
