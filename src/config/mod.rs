//! The application's own settings, parsed once at start-up into [`Settings`].
//!
//! Values come from the `[session-guard]` table of `Leptos.toml`; an environment
//! variable of the same name (upper case) overrides the file. A value that does
//! not parse or is out of range stops start-up with a message naming the
//! setting and its allowed range: nothing falls back silently.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, time::Duration};

use crate::proxy::TrustedProxies;
use crate::session::server::policy::Policy;
pub use crate::session::server::policy::SessionSettings;

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
    /// The proxies whose forwarding headers name the client (`proxy`).
    pub trusted_proxies: TrustedProxies,
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
        let warning = src.secs("SESSION_WARNING_SECS", 120, 20, 86_400)?;
        let longest = Policy::longest_warning(idle as i64).max(0) as u64;
        if warning > longest {
            return Err(ConfigError::Invalid {
                name: "SESSION_WARNING_SECS",
                reason: format!(
                    "{warning} is too long for SESSION_IDLE_TIMEOUT_SECS ({idle}): the warning would \
                     open on a user who is typing. It must leave the page's keep-alive interval \
                     ({keep_alive} s), the activity write slice ({slice} s) and 1 s before it; \
                     allowed: 20 to {longest}",
                    keep_alive = Policy::keep_alive_every(idle as i64),
                    slice = Policy::write_slice(idle as i64),
                ),
            });
        }
        // No floor of its own: from the idle timeout up, as documented.
        let absolute = src.secs("SESSION_ABSOLUTE_TIMEOUT_SECS", 28_800, 30, 2_592_000)?;
        if absolute < idle {
            return Err(ConfigError::Invalid {
                name: "SESSION_ABSOLUTE_TIMEOUT_SECS",
                reason: format!(
                    "{absolute} must not be less than SESSION_IDLE_TIMEOUT_SECS ({idle}); allowed: {idle} to 2592000"
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
        let trusted_proxies = src
            .get("TRUSTED_PROXIES")
            .unwrap_or_default()
            .parse()
            .map_err(|reason| ConfigError::Invalid {
                name: "TRUSTED_PROXIES",
                reason,
            })?;
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
            test_hooks,
            seed_demo,
        })
    }
}

/// `PUBLIC_URL`: the scheme, host and port users reach, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https://host` or `https://host:port`, lower case, without a default
    /// port: as a browser writes it in `Origin`.
    origin: String,
    https: bool,
}

impl PublicUrl {
    pub fn parse(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| {
            format!(
                "{text:?} {why}; write the origin users reach, such as https://items.example.com"
            )
        };
        let uri: http::Uri = text.parse().map_err(|_| invalid("is not a URL"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid("does not start with https:// or http://")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("names no host"))?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return Err(invalid("must name a host and nothing else"));
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(invalid(
                "has a path or query: the app is served at the root",
            ));
        }
        let host = authority.host().to_ascii_lowercase();
        // An IPv6 address as browsers write it: `[0:0::1]` is `[::1]`.
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => {
                let addr: std::net::Ipv6Addr =
                    v6.parse().map_err(|_| invalid("names no valid host"))?;
                format!("[{addr}]")
            }
            None => host,
        };
        let default_port = if https { 443 } else { 80 };
        let origin = match authority.port_u16() {
            Some(port) if port != default_port => {
                format!("{}://{host}:{port}", uri.scheme_str().unwrap_or_default())
            }
            _ => format!("{}://{host}", uri.scheme_str().unwrap_or_default()),
        };
        Ok(PublicUrl { origin, https })
    }

    /// As a browser sends it in `Origin`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_https(&self) -> bool {
        self.https
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
mod tests {
    use super::*;

    fn loopback() -> SocketAddr {
        "127.0.0.1:3000".parse().unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = Settings::from_sources(None, env(&[]), loopback()).unwrap();
        assert_eq!(s.session.idle_timeout, Duration::from_secs(900));
        assert_eq!(s.session.warning, Duration::from_secs(120));
        assert_eq!(s.session.absolute_timeout, Duration::from_secs(28_800));
        assert_eq!(s.items_page_size, 20);
        assert!(
            !s.session.cookie_secure,
            "loopback defaults to an insecure cookie"
        );
        assert!(!s.test_hooks);
        let public = Settings::from_sources(None, env(&[]), "0.0.0.0:80".parse().unwrap()).unwrap();
        assert!(public.session.cookie_secure);
    }

    #[test]
    fn public_url_decides_the_cookie_and_names_one_origin() {
        let behind =
            |url: &str| Settings::from_sources(None, env(&[("PUBLIC_URL", url)]), loopback());
        let s = behind("https://Items.Example.com/").unwrap();
        let url = s.public_url.as_ref().unwrap();
        assert_eq!(url.origin(), "https://items.example.com");
        assert!(url.is_https());
        assert!(
            s.session.cookie_secure,
            "https decides, though bound to loopback"
        );
        assert_eq!(
            behind("https://items.example.com:8443")
                .unwrap()
                .public_url
                .unwrap()
                .origin(),
            "https://items.example.com:8443"
        );
        assert_eq!(
            behind("https://items.example.com:443")
                .unwrap()
                .public_url
                .unwrap()
                .origin(),
            "https://items.example.com"
        );
        assert_eq!(
            behind("https://[0:0::1]:8443")
                .unwrap()
                .public_url
                .unwrap()
                .origin(),
            "https://[::1]:8443"
        );
        let plain = behind("http://127.0.0.1:8080").unwrap();
        assert!(!plain.session.cookie_secure);
        for bad in [
            "items.example.com",
            "ftp://items.example.com",
            "https://items.example.com/app",
            "https://user@items.example.com",
            "https://items.example.com/?x=1",
            "https://",
        ] {
            let err = behind(bad).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: "PUBLIC_URL", reason } if reason.contains("https://items.example.com")),
                "{bad}: {err}"
            );
        }
        assert_eq!(behind("").unwrap().public_url, None);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_blocks() {
        let s = Settings::from_sources(
            None,
            env(&[("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]),
            loopback(),
        )
        .unwrap();
        assert!(s.trusted_proxies.contains("10.9.8.7".parse().unwrap()));
        assert!(!s.trusted_proxies.contains("127.0.0.2".parse().unwrap()));
        let err =
            Settings::from_sources(None, env(&[("TRUSTED_PROXIES", "10.0.0.0/99")]), loopback())
                .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { name: "TRUSTED_PROXIES", reason } if reason.contains("10.0.0.0/99")),
            "{err}"
        );
        assert!(Settings::from_sources(None, env(&[]), loopback())
            .unwrap()
            .trusted_proxies
            .is_empty());
    }

    #[test]
    fn database_url_takes_sqlite_or_postgres_and_names_itself_otherwise() {
        for url in [
            "sqlite://data/x.db",
            "postgres://postgres@127.0.0.1:5432/app",
            "postgresql://u:p@db/app?sslmode=disable",
        ] {
            let s =
                Settings::from_sources(None, env(&[("DATABASE_URL", url)]), loopback()).unwrap();
            assert_eq!(s.database_url, url);
        }
        let err = Settings::from_sources(
            None,
            env(&[("DATABASE_URL", "mysql://root@localhost/app")]),
            loopback(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("DATABASE_URL") && err.contains("postgres://"),
            "{err}"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "[session-guard]\nitems_page_size = 50\nsession_idle_timeout_secs = 600\n";
        let s = Settings::from_sources(Some(file), env(&[("ITEMS_PAGE_SIZE", "7")]), loopback())
            .unwrap();
        assert_eq!(s.items_page_size, 7);
        assert_eq!(s.session.idle_timeout, Duration::from_secs(600));
    }

    #[test]
    fn the_maximum_lifetime_may_be_as_short_as_the_idle_timeout() {
        let short = |absolute: &str| {
            Settings::from_sources(
                None,
                env(&[
                    ("SESSION_IDLE_TIMEOUT_SECS", "30"),
                    ("SESSION_WARNING_SECS", "20"),
                    ("SESSION_ABSOLUTE_TIMEOUT_SECS", absolute),
                ]),
                loopback(),
            )
        };
        for secs in [30, 45] {
            let s = short(&secs.to_string()).unwrap();
            assert_eq!(s.session.absolute_timeout, Duration::from_secs(secs));
        }
        let err = short("29").unwrap_err().to_string();
        assert!(
            err.contains("SESSION_ABSOLUTE_TIMEOUT_SECS") && err.contains("30 to 2592000"),
            "{err}"
        );
    }

    #[test]
    fn invalid_values_name_the_setting_and_range() {
        let err = Settings::from_sources(None, env(&[("ITEMS_PAGE_SIZE", "101")]), loopback())
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ITEMS_PAGE_SIZE") && text.contains("1 to 100"),
            "{text}"
        );

        let err = Settings::from_sources(
            None,
            env(&[
                ("SESSION_IDLE_TIMEOUT_SECS", "100"),
                ("SESSION_WARNING_SECS", "100"),
            ]),
            loopback(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("SESSION_WARNING_SECS"), "{err}");

        // A warning that would open between two keep-alives of a busy page.
        let err = Settings::from_sources(
            None,
            env(&[
                ("SESSION_IDLE_TIMEOUT_SECS", "30"),
                ("SESSION_WARNING_SECS", "29"),
            ]),
            loopback(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("SESSION_WARNING_SECS") && text.contains("20 to 23"),
            "{text}"
        );
        let fits = Settings::from_sources(
            None,
            env(&[
                ("SESSION_IDLE_TIMEOUT_SECS", "30"),
                ("SESSION_WARNING_SECS", "23"),
            ]),
            loopback(),
        );
        assert!(fits.is_ok(), "{fits:?}");

        // A malformed DATABASE_URL is named without its password.
        let err = Settings::from_sources(
            None,
            env(&[("DATABASE_URL", "mysql://app:hunter2@db.example/app")]),
            loopback(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("mysql://app:***@db.example/app"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");

        let err =
            Settings::from_sources(None, env(&[("SESSION_COOKIE_SECURE", "yes")]), loopback())
                .unwrap_err();
        assert!(err.to_string().contains("SESSION_COOKIE_SECURE"), "{err}");

        let err = Settings::from_sources(
            Some("[session-guard]\nsession_idle_timeout_secs = \"abc\"\n"),
            env(&[]),
            loopback(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("SESSION_IDLE_TIMEOUT_SECS"),
            "{err}"
        );
    }
}
