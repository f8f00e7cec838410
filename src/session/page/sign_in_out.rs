//! How the app signs a user in and out, as the guard needs it: handed in by
//! the app, so the session module does not depend on `auth/`.

use std::sync::Arc;

use crate::error::AppError;

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
