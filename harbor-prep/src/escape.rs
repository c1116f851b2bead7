//! Encoders that write one value into one kind of file so that its reader gets the value back
//! unchanged.
//!
//! Each function returns the text to put in the file. Ordinary values (letters, digits and a
//! few punctuation marks) come back unchanged, so ordinary output looks like upstream Harbor's.
//! The error type carries no part of the value, since values are often secrets.
//!
//! Readers checked, and how (the real programs run in the scratch crate's `tests/`, which can
//! move to `harbor-prep/tests/` as they are; they use only the public API):
//!
//! - env files: Compose v2 through [`crate::envfile::parse`], a port of compose-go's parser (no
//!   Compose v2 binary was available); docker-compose 1.29.2 with python-dotenv 0.21 (Debian
//!   bookworm) through `docker-compose config` and through the function it reads `env_file:`
//!   with; `docker run --env-file` (the rest of the line, literally) only for unquoted output.
//! - YAML: serde-saphyr 2.2 with default options (which read `yes` as a bool and `0123` as a
//!   number) and PyYAML 6 (YAML 1.1), in block and flow context. go-yaml was not run; the plain
//!   form avoids every YAML 1.1 and 1.2 resolution rule, so it cannot read differently.
//! - URLs: Python's `urllib.parse` (`quote(v, safe='')`, `urlsplit(...).password`, `parse_qs`).
//! - nginx 1.22 (`return 200 <text>` served on loopback) and rsyslog 8.2302 (`rsyslogd -N1`, a
//!   `set` expression and an `omfile` file name), after reading `ngx_conf_read_token` and
//!   rsyslog's `grammar/lexer.l` and `unescapeStr`.

/// A value that cannot be written to the target format without changing it.
///
/// The messages complete a sentence such as "value of `database.password` cannot be written to
/// an env file: …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EscapeError {
    /// `${…}` in an env value: docker-compose v1 expands it inside any quoting and has no escape.
    #[error("it contains `${{…}}`, which docker-compose v1 expands in every env file value")]
    EnvBraceVariable,
    /// No quoting gives the value back through both Compose v2 and docker-compose v1.
    #[error("{reason}, which no quoting carries through both Compose v2 and docker-compose v1")]
    EnvNoQuoting {
        /// What in the value is in the way.
        reason: &'static str,
    },
    /// A control character (newline, tab, …) in an nginx value.
    #[error("it contains a control character, which nginx directives cannot carry safely")]
    NginxControl,
    /// `$` in an nginx value: nginx expands variables in most directives and has no escape.
    #[error("it contains `$`, which nginx reads as a variable reference")]
    NginxDollar,
    /// A NUL character: no process environment or C string can hold it.
    #[error("it contains a NUL character")]
    Nul,
}

/// Encodes `v` for the right-hand side of `KEY=` in an env file, as Docker Compose v2 reads it.
///
/// This is [`env_portable`]'s encoding whenever one exists, so that docker-compose v1 reads the
/// value too. For the few values no encoding carries through both (a quoted value ending in a
/// backslash, `${…}`, `$` beside `\\`), it falls back to what Compose v2 and harbor-deploy read
/// exactly: double quotes with `\\ \" \n \r \t` escapes and `$` doubled. Use
/// [`env_portable`] to learn whether a value needs Compose v2.
///
/// # Errors
///
/// [`EscapeError::Nul`] for a NUL, which no environment can hold.
///
/// ```
/// # use harbor_prep::escape::env_value;
/// assert_eq!(env_value("Adm$1n #x").unwrap(), "'Adm$1n #x'");
/// assert_eq!(env_value("ends in \\").unwrap(), "\"ends in \\\\\"");
/// assert_eq!(env_value("${HOME}").unwrap(), "\"$${HOME}\"");
/// ```
pub fn env_value(v: &str) -> Result<String, EscapeError> {
    match env_portable(v) {
        Err(EscapeError::EnvBraceVariable | EscapeError::EnvNoQuoting { .. }) => {
            Ok(env_double_quoted(v).replace('$', "$$"))
        }
        other => other,
    }
}

/// Encodes `v` for `KEY=` so that both Compose v2 and docker-compose v1.29 read it back.
///
/// Compose v2 and docker-compose v1.29 both read the result back as exactly `v`:
///
/// - Values made only of letters, digits and `_ - . , / : @ % + = ? & ~ \` stay unquoted;
///   `docker run --env-file` reads these the same way. The empty string stays empty.
/// - Otherwise the value is single-quoted, with `'` written as `\'`; neither Compose reads
///   `$` inside single quotes. Single quotes cannot carry a carriage return (v1 turns it into a
///   line feed), `\\` or `\'` (v1 drops the backslash, v2 keeps it), or a final backslash (v2
///   reads `\'` as an escaped quote).
/// - Values that single quotes cannot carry, and values with a line feed, tab or carriage
///   return, are double-quoted, with `\\ \" \n \r \t` escapes, as long as they hold no `$`
///   (v2 expands `$` in double quotes and takes `$$` for a literal one; v1 keeps `$$` as two)
///   and do not end in a backslash (v1's reader would then run on to the next `"` in the file).
///
/// `docker run --env-file` keeps quotes as part of the value, so only unquoted output suits it.
///
/// # Errors
///
/// [`EscapeError::Nul`] for a NUL; [`EscapeError::EnvBraceVariable`] when `v` holds what
/// docker-compose v1 takes for a variable (`${NAME}` or `${NAME:-default}`, any text for
/// `NAME`); [`EscapeError::EnvNoQuoting`] when neither quoting works, e.g. a value that holds
/// both `$` and `\\`, or a quoted value ending in a backslash.
///
/// ```
/// # use harbor_prep::escape::env_portable;
/// assert_eq!(env_portable("redis://redis:6379/1").unwrap(), "redis://redis:6379/1");
/// assert_eq!(env_portable("Adm$1n #x").unwrap(), "'Adm$1n #x'");
/// assert_eq!(env_portable("it's\n").unwrap(), "\"it's\\n\"");
/// assert!(env_portable("${HOME}").is_err());
/// ```
pub fn env_portable(v: &str) -> Result<String, EscapeError> {
    if v.contains('\0') {
        return Err(EscapeError::Nul);
    }
    if has_compose_v1_variable(v) {
        return Err(EscapeError::EnvBraceVariable);
    }
    if v.chars().all(is_env_plain) {
        return Ok(v.to_owned());
    }

    let trailing_backslash = v.ends_with('\\');
    let single_ok =
        !trailing_backslash && !v.contains('\r') && !v.contains("\\\\") && !v.contains("\\'");
    let double_ok = !trailing_backslash && !v.contains('$');
    let has_control = v.contains(['\n', '\r', '\t']);

    if single_ok && !(has_control && double_ok) {
        Ok(format!("'{}'", v.replace('\'', "\\'")))
    } else if double_ok {
        Ok(env_double_quoted(v))
    } else if trailing_backslash {
        let reason = "it needs quotes and ends with a backslash";
        Err(EscapeError::EnvNoQuoting { reason })
    } else {
        let reason = "it holds `$` together with `\\\\`, `\\'` or a carriage return";
        Err(EscapeError::EnvNoQuoting { reason })
    }
}

fn is_env_plain(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '_' | '-' | '.' | ',' | '/' | ':' | '@' | '%' | '+' | '=' | '?' | '&' | '~' | '\\'
        )
}

fn env_double_quoted(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether python-dotenv's `\$\{[^}:]*(:-[^}]*)?\}` matches anywhere in `v`.
fn has_compose_v1_variable(v: &str) -> bool {
    v.match_indices("${").any(|(at, _)| {
        let body = &v[at + 2..];
        match body.find(['}', ':']) {
            Some(end) if body[end..].starts_with('}') => true,
            Some(end) => body[end..]
                .strip_prefix(":-")
                .is_some_and(|default| default.contains('}')),
            None => false,
        }
    })
}

/// Encodes `v` as a YAML scalar that every YAML 1.1 or 1.2 reader reads as the string `v`.
///
/// The scalar is plain when that is provably safe: it starts with an ASCII letter or `/`, holds
/// only ASCII letters, digits and `_ - . /`, and is none of `y n yes no true false on off null
/// nan inf infinity` in any letter case. Everything else, the empty string included, is
/// double-quoted: `"` and `\` are escaped, control characters, C1 controls, U+2028, U+2029,
/// U+FEFF, U+FFFE and U+FFFF are written as `\n`, `\t`, `\r`, `\xXX` or `\uXXXX`, other
/// characters (emoji included) stay as they are. The result is on one line and is valid in
/// block and flow context alike.
///
/// ```
/// # use harbor_prep::escape::yaml_str;
/// assert_eq!(yaml_str("/storage"), "/storage");
/// assert_eq!(yaml_str("yes"), "\"yes\"");
/// assert_eq!(yaml_str("*Rd/pw: x #1"), "\"*Rd/pw: x #1\"");
/// ```
pub fn yaml_str(v: &str) -> String {
    if is_yaml_plain(v) {
        return v.to_owned();
    }

    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        let code = u32::from(c);
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            _ if code < 0x20 || code == 0x7f => out.push_str(&format!("\\x{code:02X}")),
            _ if (0x80..=0x9f).contains(&code)
                || matches!(code, 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff) =>
            {
                out.push_str(&format!("\\u{code:04X}"))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_yaml_plain(v: &str) -> bool {
    const RESOLVED: [&str; 12] = [
        "y", "n", "yes", "no", "true", "false", "on", "off", "null", "nan", "inf", "infinity",
    ];

    let starts_well = v.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/');
    let chars_ok = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    starts_well && chars_ok && !RESOLVED.contains(&v.to_ascii_lowercase().as_str())
}

/// Percent-encodes `v` for the user or password part of a URL such as `redis://user:pw@host`.
///
/// Every byte of the UTF-8 form except ASCII letters, digits and `_ . - ~` becomes `%XX` with
/// upper-case hex, as Python's `urllib.parse.quote(v, safe='')` does. A `%` in `v` is encoded
/// too, so text that already looks percent-encoded is taken literally.
///
/// ```
/// # use harbor_prep::escape::url_userinfo;
/// assert_eq!(url_userinfo("*Rd/pw: x #1"), "%2ARd%2Fpw%3A%20x%20%231");
/// ```
pub fn url_userinfo(v: &str) -> String {
    percent_encode(v)
}

/// Percent-encodes `v` for the value part of a URL query (`?key=value`).
///
/// Same encoding as [`url_userinfo`]: `&`, `=`, `+`, `#` and spaces are all encoded, so form
/// decoders (which read `+` as a space) and plain percent-decoders agree.
pub fn url_query_value(v: &str) -> String {
    percent_encode(v)
}

fn percent_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Encodes `v` as one argument of an nginx directive.
///
/// Values made only of ASCII letters, digits and `_ - . / : @ % + = , ~` stay bare; anything
/// else, the empty string included, is double-quoted with `"` and `\` escaped by a backslash.
/// Inside quotes nginx's tokenizer takes blanks, `;`, `{`, `}`, `#` and `'` literally.
///
/// Quoting does not change what a directive makes of its argument: a `location` argument that
/// starts with `=`, `~` or `@` is still a modifier, so callers check such meanings themselves.
///
/// # Errors
///
/// [`EscapeError::NginxDollar`] for any `$`: nginx expands `$name` and `${name}` in most
/// directives that take text (`return`, `add_header`, `proxy_pass`, `set`, …), quoted or not,
/// and has no escape for it. [`EscapeError::NginxControl`] for control characters (line feed,
/// tab, …): no value Harbor writes needs one, and in a header or path they would inject text.
/// [`EscapeError::Nul`] for NUL.
///
/// ```
/// # use harbor_prep::escape::nginx_str;
/// assert_eq!(nginx_str("/metrics").unwrap(), "/metrics");
/// assert_eq!(nginx_str("/a; return 200").unwrap(), "\"/a; return 200\"");
/// assert!(nginx_str("$host").is_err());
/// ```
pub fn nginx_str(v: &str) -> Result<String, EscapeError> {
    if v.contains('\0') {
        return Err(EscapeError::Nul);
    }
    if v.contains('$') {
        return Err(EscapeError::NginxDollar);
    }
    if v.chars().any(char::is_control) {
        return Err(EscapeError::NginxControl);
    }

    let bare = v.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '_' | '-' | '.' | '/' | ':' | '@' | '%' | '+' | '=' | ',' | '~'
            )
    });
    if bare && !v.is_empty() {
        return Ok(v.to_owned());
    }
    Ok(format!(
        "\"{}\"",
        v.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// Encodes `v` for the text between the quotes of a RainerScript string, as in
/// `action(type="omfwd" target="…")`.
///
/// `"` and `\` get a backslash; `$` and control characters become three-digit octal escapes
/// (`\044`, `\012`, …), the one form that rsyslog's lexer accepts both in object parameters
/// (where `\$` is rejected) and in expressions (where a bare `$` is rejected). Other characters
/// stay as they are. rsyslog keeps strings as C strings, so a NUL (written `\000`) ends the
/// value there; callers should refuse NUL beforehand.
///
/// ```
/// # use harbor_prep::escape::rsyslog_str;
/// assert_eq!(rsyslog_str("log.example.test"), "log.example.test");
/// assert_eq!(rsyslog_str("a\"b\\$"), "a\\\"b\\\\\\044");
/// ```
pub fn rsyslog_str(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\044"),
            c if c.is_ascii_control() => out.push_str(&format!("\\{:03o}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// Values that break naive escaping: one per character class that env files, YAML, urls, nginx
/// and rsyslog treat specially, YAML 1.1's type traps, and real users' passwords. The tests read
/// each one back through every reader they check.
pub const TRICKY: &[&str] = &[
    "$",
    "$$",
    "${X}",
    "#",
    " #",
    "'",
    "\"",
    "\\",
    " lead",
    "trail ",
    "a\tb",
    "a\nb",
    "=",
    ":",
    ": #",
    "*",
    "&",
    "!",
    "%",
    "@",
    "{}",
    "[]",
    "|",
    ">",
    "é",
    "中",
    "😀",
    "",
    "yes",
    "0123",
    "null",
    "~",
    "1e3",
    "Adm$1nPass$HOME",
    "Db pass #7 &<>\"'",
    "*Rd/pw: x #1",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envfile;

    const SAMPLES: &[&str] = TRICKY;

    #[test]
    fn env_values_round_trip_through_compose_v2_rules() {
        for v in SAMPLES.iter().chain(EXTRA_ENV).copied() {
            let Ok(encoded) = env_value(v) else {
                continue;
            };
            let file = format!("A={encoded}\nB=after\n");
            let vars = envfile::parse(&file);
            let expected = vec![("A".into(), v.into()), ("B".into(), "after".into())];
            assert_eq!(vars, Ok(expected), "value {v:?} encoded as {encoded:?}");
        }
    }

    const EXTRA_ENV: &[&str] = &[
        "a\\",
        "a\\'b",
        "a\\\\b",
        "'\\n'",
        "x\r\ny",
        "$a\nb",
        "\\\"",
        "\" #",
        "a'b\"c$d",
        "export X=1",
        "\u{a0}x\u{85}",
        "p\\q $ x",
    ];

    #[test]
    fn env_encoding_choices() {
        let cases: &[(&str, Result<&str, EscapeError>)] = &[
            ("", Ok("")),
            ("core:8080/a?b=1&c=%2F~", Ok("core:8080/a?b=1&c=%2F~")),
            ("a\\", Ok("a\\")),
            ("Adm$1nPass$HOME", Ok("'Adm$1nPass$HOME'")),
            ("it's", Ok("'it\\'s'")),
            ("a\tb", Ok("\"a\\tb\"")),
            ("$a\nb", Ok("'$a\nb'")),
            ("a\\\\b", Ok("a\\\\b")),
            ("a\\\\b c", Ok("\"a\\\\\\\\b c\"")),
            ("${X}", Err(EscapeError::EnvBraceVariable)),
            ("${X:-y}", Err(EscapeError::EnvBraceVariable)),
            ("${:}", Ok("'${:}'")),
            ("a b\\", Err(EscapeError::EnvNoQuoting { reason: "" })),
            ("$\\\\", Err(EscapeError::EnvNoQuoting { reason: "" })),
            ("a\0", Err(EscapeError::Nul)),
        ];
        for (v, expected) in cases {
            let got = env_portable(v);
            match (expected, &got) {
                (Ok(e), Ok(g)) => assert_eq!(e, g, "value {v:?}"),
                (Err(EscapeError::EnvNoQuoting { .. }), Err(EscapeError::EnvNoQuoting { .. })) => {}
                (Err(e), Err(g)) => assert_eq!(e, g, "value {v:?}"),
                _ => panic!("value {v:?}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn plain_env_values_are_what_docker_run_reads() {
        for v in ["abc", "a=b", "http://x:1/p?q=1&r=2", "é中", "a\\b"] {
            assert_eq!(env_value(v).as_deref(), Ok(v));
        }
    }

    /// What serde-saphyr made of a scalar: the string, or the name of another type.
    #[derive(Debug, PartialEq)]
    struct Scalar(Result<String, &'static str>);

    impl<'de> serde::Deserialize<'de> for Scalar {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Scalar;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a scalar")
                }
                fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                    Ok(Scalar(Ok(v.to_owned())))
                }
                fn visit_bool<E>(self, _: bool) -> Result<Scalar, E> {
                    Ok(Scalar(Err("bool")))
                }
                fn visit_i64<E>(self, _: i64) -> Result<Scalar, E> {
                    Ok(Scalar(Err("int")))
                }
                fn visit_u64<E>(self, _: u64) -> Result<Scalar, E> {
                    Ok(Scalar(Err("int")))
                }
                fn visit_f64<E>(self, _: f64) -> Result<Scalar, E> {
                    Ok(Scalar(Err("float")))
                }
                fn visit_unit<E>(self) -> Result<Scalar, E> {
                    Ok(Scalar(Err("null")))
                }
                fn visit_none<E>(self) -> Result<Scalar, E> {
                    Ok(Scalar(Err("null")))
                }
            }
            d.deserialize_any(V)
        }
    }

    pub(crate) const YAML_EXTRA: &[&str] = &[
        "true",
        "False",
        "ON",
        "y",
        "N",
        "~",
        "Null",
        "NULL",
        ".inf",
        "-.Inf",
        ".NaN",
        "nan",
        "inf",
        "0x1F",
        "0o17",
        "0b101",
        "1_000",
        "12:30:00",
        "2001-12-14",
        "2001-12-14t21:59:43Z",
        "+1",
        "-1",
        "1.",
        "<<",
        "=",
        "-",
        "---",
        "...",
        "? x",
        "- x",
        "a: b",
        "a #b",
        "&a",
        "*a",
        "!t",
        "%x",
        "@x",
        "`x",
        "|",
        ">-",
        "\u{7}\u{1b}\u{7f}\u{85}\u{2028}\u{feff}\u{fffe}",
        "\r\n",
        " ",
        "\"'\\",
        "/storage",
        "a-b_c.d/e",
        "/",
        "x\u{0}y",
    ];

    #[test]
    fn yaml_scalars_read_back_as_strings_in_serde_saphyr() {
        for v in SAMPLES.iter().chain(YAML_EXTRA) {
            let scalar = yaml_str(v);
            let block: Result<std::collections::BTreeMap<String, Scalar>, _> =
                serde_saphyr::from_str(&format!("k: {scalar}\n"));
            let flow: Result<Vec<Scalar>, _> = serde_saphyr::from_str(&format!("[{scalar}, x]"));
            let want = Scalar(Ok(v.to_string()));
            let block = block
                .map(|m| m.get("k") == Some(&want))
                .map_err(|e| e.to_string());
            let flow = flow
                .map(|s| s.first() == Some(&want))
                .map_err(|e| e.to_string());
            assert_eq!(block, Ok(true), "{v:?} as {scalar}");
            assert_eq!(flow, Ok(true), "{v:?} as [{scalar}]");
        }
    }

    #[test]
    fn yaml_plain_only_for_safe_words() {
        assert_eq!(yaml_str("registry_1.example-x/y"), "registry_1.example-x/y");
        for v in [
            "yes", "Off", "NaN", "0123", "1e3", "", "-x", ".x", "a b", "a:b",
        ] {
            assert!(yaml_str(v).starts_with('"'), "{v:?} must be quoted");
        }
        assert_eq!(yaml_str("a\u{85}\u{1}"), "\"a\\u0085\\x01\"");
    }

    #[test]
    fn url_encoding_matches_python_quote_safe_empty() {
        assert_eq!(url_userinfo("aZ09_.-~"), "aZ09_.-~");
        assert_eq!(url_userinfo("%2F"), "%252F");
        assert_eq!(url_query_value("a b+c&d=e#"), "a%20b%2Bc%26d%3De%23");
        assert_eq!(url_userinfo("é😀"), "%C3%A9%F0%9F%98%80");
    }

    #[test]
    fn nginx_quotes_or_rejects() {
        assert_eq!(nginx_str(""), Ok("\"\"".to_owned()));
        assert_eq!(nginx_str("a{b}#'c\"\\"), Ok(r#""a{b}#'c\"\\""#.to_owned()));
        assert_eq!(nginx_str("x$"), Err(EscapeError::NginxDollar));
        assert_eq!(nginx_str("a\nb"), Err(EscapeError::NginxControl));
        assert_eq!(nginx_str("a\u{85}"), Err(EscapeError::NginxControl));
        assert_eq!(nginx_str("\0"), Err(EscapeError::Nul));
    }

    /// rsyslog's `unescapeStr`, for the escapes [`rsyslog_str`] writes.
    fn rsyslog_unescape(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some(d @ '0'..='7') => {
                    let digits: String = std::iter::once(d).chain(chars.by_ref().take(2)).collect();
                    let code = u32::from_str_radix(&digits, 8).unwrap_or(0);
                    out.push(char::from_u32(code).unwrap_or('?'));
                }
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        }
        out
    }

    #[test]
    fn rsyslog_strings_unescape_to_the_value() {
        for v in SAMPLES.iter().chain(["a\"$\\\u{1}\u{7f}x"].iter()) {
            let encoded = rsyslog_str(v);
            assert!(!encoded.contains('$'), "{encoded}");
            assert_eq!(rsyslog_unescape(&encoded), *v, "{v:?} as {encoded}");
        }
    }
}
