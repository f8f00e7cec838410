//! The settings as the environment and `Leptos.toml` give them: defaults,
//! ranges, and the messages that name what is wrong.

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
    let behind = |url: &str| Settings::from_sources(None, env(&[("PUBLIC_URL", url)]), loopback());
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
    let err = Settings::from_sources(None, env(&[("TRUSTED_PROXIES", "10.0.0.0/99")]), loopback())
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
        let s = Settings::from_sources(None, env(&[("DATABASE_URL", url)]), loopback()).unwrap();
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
    let s =
        Settings::from_sources(Some(file), env(&[("ITEMS_PAGE_SIZE", "7")]), loopback()).unwrap();
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
    let err =
        Settings::from_sources(None, env(&[("ITEMS_PAGE_SIZE", "101")]), loopback()).unwrap_err();
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

    let err = Settings::from_sources(None, env(&[("SESSION_COOKIE_SECURE", "yes")]), loopback())
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

#[test]
fn the_proxy_header_and_the_hosts_are_named_when_wrong() {
    let err = Settings::from_sources(
        None,
        env(&[("TRUSTED_PROXY_HEADER", "x-real-ip")]),
        loopback(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("TRUSTED_PROXY_HEADER") && err.contains("x-forwarded-for, forwarded"),
        "{err}"
    );
    let err = Settings::from_sources(
        None,
        env(&[("ALLOWED_HOSTS", "https://items.example.com")]),
        loopback(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("ALLOWED_HOSTS"), "{err}");
    let s = Settings::from_sources(
        None,
        env(&[
            ("ALLOWED_HOSTS", "admin.example.com"),
            ("PUBLIC_URL", "https://items.example.com"),
        ]),
        loopback(),
    )
    .unwrap();
    let headers = |host: &'static str| {
        let mut map = http::HeaderMap::new();
        map.insert(http::header::HOST, http::HeaderValue::from_static(host));
        map
    };
    let uri = http::Uri::from_static("/");
    assert!(s.allowed_hosts.allow(&uri, &headers("items.example.com")));
    assert!(s.allowed_hosts.allow(&uri, &headers("admin.example.com")));
    assert!(!s.allowed_hosts.allow(&uri, &headers("localhost")));
}

#[test]
fn bounds_that_depend_on_the_idle_timeout_are_named_as_they_are() {
    let refused = |pairs: &[(&str, &str)]| {
        Settings::from_sources(None, env(pairs), loopback())
            .unwrap_err()
            .to_string()
    };
    // Too short, too long or not a number: the real range, for this idle
    // timeout, every time.
    for warning in ["10", "900", "soon"] {
        let err = refused(&[("SESSION_WARNING_SECS", warning)]);
        assert!(
            err.contains("SESSION_WARNING_SECS") && err.contains("from 20 to 824"),
            "{warning}: {err}"
        );
    }
    let err = refused(&[
        ("SESSION_IDLE_TIMEOUT_SECS", "600"),
        ("SESSION_ABSOLUTE_TIMEOUT_SECS", "45"),
    ]);
    assert!(
        err.contains("SESSION_ABSOLUTE_TIMEOUT_SECS") && err.contains("from 600 to 2592000"),
        "{err}"
    );
    let err = refused(&[("SESSION_IDLE_TIMEOUT_SECS", "86400")]);
    assert!(
        err.contains("SESSION_ABSOLUTE_TIMEOUT_SECS") && err.contains("from 86400 to 2592000"),
        "{err}"
    );
}
