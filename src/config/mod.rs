//! The application's own settings, parsed once at start-up into [`Settings`].
//!
//! Values come from the `[session-guard]` table of `Leptos.toml`; an environment
//! variable of the same name (upper case) overrides the file. A value that does
//! not parse or is out of range stops start-up with a message naming the
//! setting and its allowed range: nothing falls back silently.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, time::Duration};

use crate::hosts::AllowedHosts;
use crate::proxy::{ProxyHeader, TrustedProxies};
use crate::session::server::policy::Policy;
pub use crate::session::server::policy::SessionSettings;

mod public_url;
pub use public_url::PublicUrl;

/// The table of `Leptos.toml` that holds our settings.
const TABLE: &str = "session-guard";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub database_url: String,
    pub session: SessionSettings,
    pub items_page_size: u32,
    /// The origin users reach (`PUBLIC_URL`), when it is set: behind a
    /// proxy, the only origin state-changing requests may come from.
    pub public_url: Option<PublicUrl>,
    /// The proxies whose forwarding header names the client, and which
    /// header that is (`proxy`).
    pub trusted_proxies: TrustedProxies,
    /// The host names requests may name (`hosts`): `ALLOWED_HOSTS` and
    /// the site's own.
    pub allowed_hosts: AllowedHosts,
    /// Test-only HTTP hooks (moving the server's clock). Off unless asked for.
    pub test_hooks: bool,
    /// Development only: `serve` first makes sure the demo user exists.
    pub seed_demo: bool,
}

/// Where a setting's raw text came from, so errors can say so.
struct Source {
    file: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
}

impl Source {
    fn get(&self, name: &str) -> Option<String> {
        self.env
            .get(name)
            .or_else(|| self.file.get(&name.to_ascii_lowercase()))
            .cloned()
    }

    fn secs(
        &self,
        name: &'static str,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        let invalid = || ConfigError::Invalid {
            name,
            reason: format!("{raw:?} is not a whole number from {min} to {max}"),
        };
        let value: u64 = raw.trim().parse().map_err(|_| invalid())?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(invalid())
        }
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                name,
                reason: format!("{other:?} is not one of true, false"),
            }),
        }
    }
}

impl Settings {
    /// Reads `Leptos.toml` (if present) and the process environment.
    pub fn load(file: &Path, site_addr: SocketAddr) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => Some(text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => {
                return Err(ConfigError::File {
                    path: file.display().to_string(),
                    reason: err.to_string(),
                })
            }
        };
        Self::from_sources(text.as_deref(), std::env::vars().collect(), site_addr)
    }

    /// The parsing itself, separate from the process so tests can feed it.
    pub fn from_sources(
        file: Option<&str>,
        env: BTreeMap<String, String>,
        site_addr: SocketAddr,
    ) -> Result<Self, ConfigError> {
        let file = match file {
            Some(text) => file_table(text)?,
            None => BTreeMap::new(),
        };
        let src = Source { file, env };

        let idle = src.secs("SESSION_IDLE_TIMEOUT_SECS", 900, 30, 86_400)?;
        // The warning's real bound depends on the idle timeout; every
        // refusal names it, and why.
        let longest = Policy::longest_warning(idle as i64).max(0) as u64;
        let warning = src
            .secs("SESSION_WARNING_SECS", 120, 20, longest)
            .map_err(|err| warning_bound_explained(err, idle))?;
        // No floor of its own: from the idle timeout up, as documented.
        let absolute = src.secs("SESSION_ABSOLUTE_TIMEOUT_SECS", 28_800, idle, 2_592_000)?;
        if absolute < idle {
            // Only the default can be: a value that is set was bounded above.
            return Err(ConfigError::Invalid {
                name: "SESSION_ABSOLUTE_TIMEOUT_SECS",
                reason: format!(
                    "the default, {absolute}, is less than SESSION_IDLE_TIMEOUT_SECS ({idle}): \
                     set it, from {idle} to 2592000"
                ),
            });
        }
        let page_size = src.secs("ITEMS_PAGE_SIZE", 20, 1, 100)?;
        let public_url = match src.get("PUBLIC_URL").as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                PublicUrl::parse(text).map_err(|reason| ConfigError::Invalid {
                    name: "PUBLIC_URL",
                    reason,
                })?,
            ),
        };
        let trusted_proxies: TrustedProxies = src
            .get("TRUSTED_PROXIES")
            .unwrap_or_default()
            .parse()
            .map_err(|reason| ConfigError::Invalid {
                name: "TRUSTED_PROXIES",
                reason,
            })?;
        let proxy_header: ProxyHeader = match src.get("TRUSTED_PROXY_HEADER") {
            None => ProxyHeader::default(),
            Some(text) => text.parse().map_err(|reason| ConfigError::Invalid {
                name: "TRUSTED_PROXY_HEADER",
                reason,
            })?,
        };
        let trusted_proxies = trusted_proxies.reading(proxy_header);
        let allowed_hosts = src
            .get("ALLOWED_HOSTS")
            .unwrap_or_default()
            .parse::<AllowedHosts>()
            .map_err(|reason| ConfigError::Invalid {
                name: "ALLOWED_HOSTS",
                reason,
            })?
            .with_site(public_url.as_ref().map(PublicUrl::host), site_addr);
        // The scheme users reach decides, when it is known; else a server
        // on loopback is taken for development.
        let secure_by_default = match &public_url {
            Some(url) => url.is_https(),
            None => !site_addr.ip().is_loopback(),
        };
        let cookie_secure = src.flag("SESSION_COOKIE_SECURE", secure_by_default)?;
        let test_hooks = src.flag("SESSION_GUARD_TEST_HOOKS", false)?;
        if test_hooks && !cfg!(feature = "test-hooks") {
            return Err(ConfigError::Invalid {
                name: "SESSION_GUARD_TEST_HOOKS",
                reason: "this build has no test hooks (they exist only in a build with the \
                         `test-hooks` cargo feature, for tests and benchmarks)"
                    .to_owned(),
            });
        }
        let seed_demo = src.flag("SESSION_GUARD_SEED_DEMO", false)?;
        let database_url = src
            .get("DATABASE_URL")
            .unwrap_or_else(|| "sqlite://data/session-guard.db".to_owned());
        if !crate::db::is_supported_url(&database_url) {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: format!(
                    "{:?} is neither a sqlite:// nor a postgres:// URL",
                    crate::db::redacted(&database_url)
                ),
            });
        }

        Ok(Settings {
            database_url,
            session: SessionSettings {
                idle_timeout: Duration::from_secs(idle),
                warning: Duration::from_secs(warning),
                absolute_timeout: Duration::from_secs(absolute),
                cookie_secure,
            },
            items_page_size: page_size as u32,
            public_url,
            trusted_proxies,
            allowed_hosts,
            test_hooks,
            seed_demo,
        })
    }
}

/// A refused `SESSION_WARNING_SECS`, with why its bound depends on the
/// idle timeout.
fn warning_bound_explained(err: ConfigError, idle: u64) -> ConfigError {
    let ConfigError::Invalid { name, reason } = err else {
        return err;
    };
    let keep_alive = Policy::keep_alive_every(idle as i64);
    let slice = Policy::write_slice(idle as i64);
    ConfigError::Invalid {
        name,
        reason: format!(
            "{reason}: with SESSION_IDLE_TIMEOUT_SECS {idle}, the warning must leave the page's \
             keep-alive interval ({keep_alive} s), the activity write slice ({slice} s) and 1 s \
             before the deadline, or it would open on a user who is typing"
        ),
    }
}

/// The `[session-guard]` table of `Leptos.toml`, each value as text.
fn file_table(text: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let doc: toml::Table = text
        .parse()
        .map_err(|err: toml::de::Error| ConfigError::File {
            path: "Leptos.toml".into(),
            reason: err.to_string(),
        })?;
    let Some(table) = doc.get(TABLE) else {
        return Ok(BTreeMap::new());
    };
    let Some(table) = table.as_table() else {
        return Err(ConfigError::File {
            path: "Leptos.toml".into(),
            reason: format!("[{TABLE}] must be a table"),
        });
    };
    Ok(table
        .iter()
        .map(|(key, value)| {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key.clone(), text)
        })
        .collect())
}

#[cfg(test)]
mod tests;
