//! Password hashing with Argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane),
//! never on the async runtime: on a small pool of its own (half the cores, at
//! least one thread) at the lowest CPU priority. A burst of sign-ins then
//! uses the CPU that serving signed-in users leaves idle, instead of taking
//! it from them (`scripts/bench`, figure 4).
//!
//! An unknown user is verified against a fixed dummy hash, so it costs the
//! same time as a wrong password and the timing reveals nothing.
//!
//! Verifications are bounded before they get here: the sign-in throttle
//! admits at most `throttle::MAX_QUEUED` at once, shared fairly across
//! networks (`throttle::admission`). A verification whose request has gone
//! (timed out, closed) by the time its turn comes is skipped.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, LazyLock,
};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};

use crate::error::AppError;

/// The hashing threads. `None` only if the OS refused to start them.
static HASHERS: LazyLock<Option<rayon::ThreadPool>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    rayon::ThreadPoolBuilder::new()
        .num_threads((cores / 2).max(1))
        .thread_name(|i| format!("argon2-{i}"))
        .start_handler(|_| lowest_cpu_priority())
        // Without a handler a panic in a job would abort the process; here
        // the job's caller sees its channel close and answers 500.
        .panic_handler(|_| tracing::error!("a password hash panicked"))
        .build()
        .map_err(|err| tracing::error!(error = %err, "cannot start the hashing threads"))
        .ok()
});

#[cfg(target_os = "linux")]
fn lowest_cpu_priority() {
    // On Linux every thread has its own nice value; `who = 0` is the calling
    // thread. SAFETY: setpriority only reads its integer arguments.
    let done = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    if done != 0 {
        tracing::warn!("cannot lower the hashing threads' priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lowest_cpu_priority() {}

/// How many verifications a server ran (one per server, in its state: the
/// tests run many servers in one process).
#[derive(Debug, Clone, Default)]
pub struct VerifyQueue {
    performed: Arc<AtomicU64>,
}

impl VerifyQueue {
    /// Verifications actually computed (skipped ones not counted).
    pub fn performed(&self) -> u64 {
        self.performed.load(Ordering::Relaxed)
    }
}

/// How many threads compute hashes.
pub fn hashing_threads() -> usize {
    HASHERS
        .as_ref()
        .map_or(0, |pool| pool.current_num_threads())
}

/// Runs one Argon2 computation on the hashing threads.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    let pool = HASHERS.as_ref().ok_or(AppError::Internal)?;
    let (done, result) = tokio::sync::oneshot::channel();
    pool.spawn(move || {
        // Nobody waits for the answer any more: spare the CPU.
        if done.is_closed() {
            return;
        }
        let _ = done.send(work());
    });
    result.await.map_err(|_| AppError::Internal)
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a random password nobody knows, with the same parameters.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    let secret = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(secret.as_str().as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Computes the dummy hash now, so the first unknown user is not slower.
pub async fn warm_up() {
    let _ = hashing(|| DUMMY_HASH.len()).await;
}

pub async fn hash(password: String) -> Result<String, AppError> {
    hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await?
    .map_err(|err| {
        tracing::error!(error = %err, "hashing failed");
        AppError::Internal
    })
}

/// True when `password` matches `stored`; `None` (no such user) costs the
/// same and is always false.
pub async fn verify(
    queue: &VerifyQueue,
    stored: Option<String>,
    password: String,
) -> Result<bool, AppError> {
    let performed = queue.performed.clone();
    hashing(move || {
        performed.fetch_add(1, Ordering::Relaxed);
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let matches = PasswordHash::new(&phc)
            .map(|parsed| {
                argon2()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_owasp_parameters_and_verifies() {
        let phc = hash("correct horse".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let queue = VerifyQueue::default();
        assert!(verify(&queue, Some(phc.clone()), "correct horse".into())
            .await
            .unwrap());
        assert!(!verify(&queue, Some(phc), "wrong".into()).await.unwrap());
        assert!(!verify(&queue, None, "anything".into()).await.unwrap());
    }

    #[tokio::test]
    async fn a_verification_whose_caller_has_gone_is_skipped() {
        let queue = VerifyQueue::default();
        let phc = hash("correct horse".into()).await.unwrap();
        // Twenty sign-ins queue their verification, then their requests go.
        let mut gone: Vec<_> = (0..20)
            .map(|_| Box::pin(verify(&queue, Some(phc.clone()), "guess".into())))
            .collect();
        for waiting in &mut gone {
            let _ = futures::poll!(waiting.as_mut());
        }
        drop(gone);
        // One more, awaited: the threads reach it after those.
        assert!(!verify(&queue, Some(phc), "guess".into()).await.unwrap());
        // At most the ones already running when their callers went.
        let ran = queue.performed();
        assert!(
            ran <= hashing_threads() as u64 + 1,
            "{ran} verifications ran for 1 caller still waiting"
        );
    }
}
