//! A secret must reach each Harbor service byte for byte: through env files as Compose reads
//! them, through YAML as the registry reads it, and through the percent-encoding of urls. One
//! test per character class, with the value set in harbor.yml and read back from the render.

mod support;

use harbor_prep::escape::yaml_str;
use harbor_prep::yaml::{Kind, parse};
use harbor_prep::{Bundle, Root};
use support::{env, keyed_state, render_text};

/// What the database password is set to for `value`: itself, unless it holds a line break,
/// which the bundled database cannot take (refused by validation, see below).
fn db_value(value: &str) -> &str {
    if value.contains(['\n', '\r']) {
        "root123"
    } else {
        value
    }
}

/// Renders the default configuration with `value` as every password that lands in a file.
fn render_with(value: &str) -> Bundle {
    let quoted = yaml_str(value);
    let db_quoted = yaml_str(db_value(value));
    let text = harbor_prep::default_config("harbor.example.test")
        .replace(
            "harbor_admin_password: Harbor12345",
            &format!("harbor_admin_password: {quoted}"),
        )
        .replace("  password: root123", &format!("  password: {db_quoted}"))
        + &format!(
            "external_redis:\n  host: redis.example.test:6379\n  password: {quoted}\n  username: {quoted}\n"
        );
    render_text(&text, true, &keyed_state()).unwrap_or_else(|e| panic!("{value:?}: {e}"))
}

/// Percent-decoding, as Go's url package applies it to user info.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("utf-8")
}

/// The `user:password` of a redis url.
fn url_userinfo(url: &str) -> (String, String) {
    let rest = url.split_once("://").expect("a url").1;
    let (userinfo, _) = rest.rsplit_once('@').expect("credentials in the url");
    let (user, password) = userinfo.split_once(':').expect("user:password");
    (percent_decode(user), percent_decode(password))
}

fn registry_yaml(bundle: &Bundle, key: &str) -> String {
    let text = bundle
        .text(Root::Install, "common/config/registry/config.yml")
        .unwrap();
    let tree = parse(text).expect("registry config.yml parses");
    match &tree.get("redis").and_then(|r| r.get(key)).unwrap().kind {
        Kind::Scalar(s, _) => s.clone(),
        other => panic!("redis.{key} is {other:?}"),
    }
}

fn assert_round_trip(value: &str) {
    let bundle = render_with(value);

    let core = env(&bundle, "common/config/core/env");
    assert_eq!(
        core["HARBOR_ADMIN_PASSWORD"], value,
        "core/env admin password"
    );
    assert_eq!(
        core["POSTGRESQL_PASSWORD"],
        db_value(value),
        "core/env db password"
    );
    let db = env(&bundle, "common/config/db/env");
    assert_eq!(db["POSTGRES_PASSWORD"], db_value(value), "db/env");

    assert_eq!(
        registry_yaml(&bundle, "password"),
        value,
        "registry yaml password"
    );
    assert_eq!(
        registry_yaml(&bundle, "username"),
        value,
        "registry yaml username"
    );

    for (file, key) in [
        ("common/config/core/env", "_REDIS_URL_REG"),
        ("common/config/jobservice/env", "_REDIS_URL_CORE"),
        ("common/config/trivy-adapter/env", "SCANNER_REDIS_URL"),
    ] {
        let vars = env(&bundle, file);
        if let Some(url) = vars.get(key) {
            assert_eq!(
                url_userinfo(url),
                (value.to_string(), value.to_string()),
                "{file} {key}"
            );
        }
    }
}

#[test]
fn dollar_signs() {
    for v in ["a$b", "$HOME", "$$", "${HOME}", "${X:-y}", "end$"] {
        assert_round_trip(v);
    }
}

#[test]
fn hashes_and_comment_starts() {
    for v in ["#lead", "a#b", "a #b", "a\t#b"] {
        assert_round_trip(v);
    }
}

#[test]
fn quotes() {
    for v in ["it's", "say \"hi\"", "'both\"", "\"", "'"] {
        assert_round_trip(v);
    }
}

#[test]
fn backslashes() {
    for v in ["a\\b", "a\\\\b", "ends\\", "a b\\", "$\\\\", "\\'", "\\\""] {
        assert_round_trip(v);
    }
}

#[test]
fn blanks_and_line_breaks() {
    for v in [
        " lead",
        "trail ",
        "in side",
        "tab\there",
        "two\nlines",
        "cr\rhere",
    ] {
        assert_round_trip(v);
    }
}

#[test]
fn a_line_break_in_the_bundled_database_password_is_refused() {
    for v in ["two\nlines", "cr\rhere"] {
        let text = harbor_prep::default_config("harbor.example.test").replace(
            "  password: root123",
            &format!("  password: {}", yaml_str(v)),
        );
        let issues = harbor_prep::check(
            &text,
            &harbor_prep::HostFiles::new(),
            0,
            false,
            harbor_prep::Release::latest(),
        );
        assert!(
            issues
                .iter()
                .any(|i| i.path == "database.password" && i.message.contains("line break")),
            "{v:?}: {issues:?}"
        );
    }
}

#[test]
fn yaml_and_url_specials() {
    for v in [
        "*alias", "&anchor", "a: b", "!tag", "@at", "{x}", "[x]", "%2F", "100%", "a=b", "?q", "-",
        "yes", "0123", "null", "~", "1e3",
    ] {
        assert_round_trip(v);
    }
}

#[test]
fn non_ascii() {
    for v in ["ünïcødé", "中文密码", "emoji-🔑", "€uro"] {
        assert_round_trip(v);
    }
}
