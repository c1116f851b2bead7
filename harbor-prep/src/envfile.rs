//! Reads env files the way Docker Compose v2 reads `env_file:`.
//!
//! The rules below were read from compose-go's `dotenv/parser.go`, `dotenv/godotenv.go` and
//! `template/template.go` (the parser Compose v2 uses), and [`parse`] follows them:
//!
//! - A UTF-8 byte order mark at the start is ignored. Blank lines and lines whose first
//!   non-blank character is `#` are skipped.
//! - A statement is `KEY=value`; `KEY: value` is accepted too, and a leading `export ` is
//!   dropped. Keys may hold letters, digits and `_ . - [ ]`; blanks before `=` are trimmed, a
//!   blank inside a key is an error.
//! - A key alone on its line (`KEY`) takes its value from the environment in Compose. This
//!   reader has no environment, so such keys are left out of the result.
//! - Unquoted values run to the end of the line; blanks after `=` and at the end are trimmed,
//!   and ` #` (a space, then `#`) starts a comment. `$$`, `$VAR`, `${VAR}` and
//!   `${VAR:-default}` (also `-`, `:+`, `+`, `:?`, `?`) are interpolated.
//! - `'single quoted'` values are literal: the only escape is `\'`; any other backslash stays,
//!   so `'a\\b'` reads as `a\\b`. They may span lines. Nothing is interpolated.
//! - `"double quoted"` values may span lines; `\"` ends no string, the escapes `\a \b \f \n
//!   \r \t \v \\ \"`, `\0` followed by three octal digits, and `\$` (a literal `$`) are decoded,
//!   and then the value is interpolated like an unquoted one (`$$` is a literal `$`).
//! - Text after a closing quote is read as the start of the next statement; a ` # comment`
//!   there is skipped.
//! - Interpolation looks variables up among the values set earlier in the same file (Compose
//!   looks in the project environment first); an unset variable is empty.
//! - A later assignment to a key replaces the earlier value. The result keeps the order in
//!   which keys first appeared.
//!
//! Where this reader is stricter than compose-go: a statement with an empty key (`=x`, or a last
//! line without `=` and without a newline) is an error here; compose-go stores it under the key
//! `""`. `${VAR:-…}` defaults are matched by counting braces, without compose-go's habit of
//! skipping the character after each `{`.
//!
//! # docker-compose v1
//!
//! docker-compose 1.29.2 (the Debian `docker-compose` package) reads env files with
//! python-dotenv (0.17 pinned upstream, 0.21 in Debian; their parsers are the same), through
//! `compose/config/environment.py`. It differs from the rules above in these ways:
//!
//! - Only `${VAR}` and `${VAR:-default}` are expanded; `$VAR` and `$$` stay as they are. The
//!   expansion runs on every value, single-quoted ones included, after unquoting, and has no
//!   escape, so a value that contains `${…}` cannot reach the container through v1.
//! - In single quotes, `\\` reads as one backslash (v2 keeps both) and `\'` as `'`.
//! - In double quotes, the escapes are `\\ \' \" \a \b \f \n \r \t \v`; `\$` and `\0NNN` stay as
//!   written.
//! - An unquoted value's comment starts at any blank (tab included) followed by `#`.
//! - The file is read with universal newlines: a carriage return becomes a line feed even
//!   inside quotes.
//! - Quoted values are matched by a backtracking regular expression: a quoted value that ends
//!   in a backslash runs on to a later quote of the same kind, swallowing the lines between.
//! - Keys are anything without `=`, `#` or blanks, or `'quoted'`; `KEY: value` is not accepted;
//!   a line it cannot read is skipped with a warning instead of failing the file, and text after
//!   a closing quote other than a comment makes the whole line unreadable.

/// A reason an env file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvFileError {
    /// A key has a character compose-go does not allow in variable names.
    #[error("line {line}: unexpected character {found:?} in variable name")]
    BadKeyChar {
        /// Line of the statement, counted from 1.
        line: usize,
        /// The character.
        found: char,
    },
    /// A statement has no key: `=value`, or a last line without `=`.
    #[error("line {line}: statement has no variable name")]
    EmptyKey {
        /// Line of the statement, counted from 1.
        line: usize,
    },
    /// A `${` that is not a valid variable reference.
    #[error("line {line}: invalid variable reference")]
    Interpolation {
        /// Line of the statement, counted from 1.
        line: usize,
    },
    /// A key with a space inside.
    #[error("line {line}: variable name {key:?} contains a space")]
    KeyWithSpace {
        /// Line of the statement, counted from 1.
        line: usize,
        /// The key as written.
        key: String,
    },
    /// `${VAR:?…}` or `${VAR?…}` with `VAR` unset (or empty, for `:?`).
    #[error("line {line}: required variable {name} is missing a value")]
    Required {
        /// Line of the statement, counted from 1.
        line: usize,
        /// The variable.
        name: String,
    },
    /// A quoted value without its closing quote.
    #[error("line {line}: unterminated quoted value")]
    Unterminated {
        /// Line where the value starts, counted from 1.
        line: usize,
    },
}

/// Reads an env file as Compose v2 does and returns its variables in first-seen order.
///
/// See the module documentation for the rules and for how docker-compose v1 differs.
///
/// ```
/// # use harbor_prep::envfile;
/// let vars = envfile::parse("A='x y'\nexport B=\"$$1\\n\" # note\n")?;
/// assert_eq!(vars, [("A".into(), "x y".into()), ("B".into(), "$1\n".into())]);
/// # Ok::<(), envfile::EnvFileError>(())
/// ```
pub fn parse(text: &str) -> Result<Vec<(String, String)>, EnvFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut rest = skip_blanks_and_comments(text);

    while !rest.is_empty() {
        let line = text[..text.len() - rest.len()].matches('\n').count() + 1;
        let (key, after, inherited) = split_key(rest, line)?;

        // `KEY` alone takes its value from the environment, which this reader does not have
        if !inherited {
            let (value, after_value) = read_value(after, &vars, line)?;
            match vars.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => vars.push((key, value)),
            }
            rest = after_value;
        } else {
            rest = after;
        }

        rest = skip_blanks_and_comments(rest);
    }

    Ok(vars)
}

/// Blanks as compose-go's `isSpace`: no line feed.
fn is_blank(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

fn skip_blanks_and_comments(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        if !s.starts_with('#') {
            return s;
        }
        match s.find('\n') {
            Some(end) => s = &s[end..],
            None => return "",
        }
    }
}

/// Splits off the key; returns it, the text after the separator, and whether the key stood alone.
fn split_key(src: &str, line: usize) -> Result<(String, &str, bool), EnvFileError> {
    let src = match src.strip_prefix("export") {
        Some(after) if after.starts_with([' ', '\t', '\n', '\u{c}', '\r']) => {
            after.trim_start_matches(is_blank)
        }
        _ => src,
    };

    let mut end = None;
    for (i, c) in src.char_indices() {
        match c {
            '=' | ':' | '\n' => {
                end = Some((i, c == '\n'));
                break;
            }
            '_' | '.' | '-' | '[' | ']' => {}
            c if is_blank(c) || c.is_alphabetic() || c.is_numeric() => {}
            found => return Err(EnvFileError::BadKeyChar { line, found }),
        }
    }

    let Some((end, inherited)) = end else {
        return Err(EnvFileError::EmptyKey { line });
    };
    let key = src[..end].trim_end();
    if key.is_empty() {
        return Err(EnvFileError::EmptyKey { line });
    }
    if key.contains(' ') {
        let key = key.to_owned();
        return Err(EnvFileError::KeyWithSpace { line, key });
    }

    let after = src[end + 1..].trim_start_matches(is_blank);
    Ok((key.to_owned(), after, inherited))
}

/// Reads one value; returns it and the text after it.
fn read_value<'a>(
    src: &'a str,
    vars: &[(String, String)],
    line: usize,
) -> Result<(String, &'a str), EnvFileError> {
    let quote = match src.as_bytes().first() {
        Some(&q @ (b'\'' | b'"')) => q,
        _ => {
            let (value, rest) = src.split_once('\n').unwrap_or((src, ""));
            let value = value.split(" #").next().unwrap_or_default().trim_end();
            return Ok((interpolate(value, vars, line)?, rest));
        }
    };

    // a backslash escapes the quote character; every other backslash is kept for later
    let bytes = src.as_bytes();
    let mut raw = Vec::with_capacity(bytes.len());
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        if b == quote && !escaped {
            let raw = String::from_utf8_lossy(&raw);
            let value = if quote == b'"' {
                interpolate(&unescape(&raw), vars, line)?
            } else {
                raw.into_owned()
            };
            return Ok((value, &src[i + 1..]));
        }
        if b == b'\\' && !escaped {
            escaped = true;
            continue;
        }
        if escaped && b != quote {
            raw.push(b'\\');
        }
        escaped = false;
        raw.push(b);
    }

    Err(EnvFileError::Unterminated { line })
}

/// Decodes the escapes compose-go knows in double quotes; `\$` becomes `$$` for [`interpolate`].
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;

    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let mut next = after.chars();
        let decoded = match next.next() {
            Some('a') => "\u{7}",
            Some('b') => "\u{8}",
            Some('f') => "\u{c}",
            Some('n') => "\n",
            Some('r') => "\r",
            Some('t') => "\t",
            Some('v') => "\u{b}",
            Some('"') => "\"",
            Some('\\') => "\\",
            Some('$') => "$$",
            Some('c') => "\\c",
            Some('0') => {
                let digits = after[1..]
                    .bytes()
                    .take(3)
                    .take_while(u8::is_ascii_digit)
                    .count();
                let octal = &after[1..1 + digits];
                match u8::from_str_radix(octal, 8) {
                    Ok(byte) if digits == 3 => out.push(char::from(byte)),
                    _ => out.push_str(&rest[at..at + 2 + digits]),
                }
                rest = &after[1 + digits..];
                continue;
            }
            _ => {
                out.push('\\');
                rest = after;
                continue;
            }
        };
        out.push_str(decoded);
        rest = next.as_str();
    }

    out.push_str(rest);
    out
}

/// Expands `$$`, `$VAR` and `${VAR…}` from the values set earlier in the file.
fn interpolate(s: &str, vars: &[(String, String)], line: usize) -> Result<String, EnvFileError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;

    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(after) = after.strip_prefix('$') {
            out.push('$');
            rest = after;
        } else if let Some(body) = after.strip_prefix('{') {
            let (value, after) = braced(body, vars, line)?;
            out.push_str(&value);
            rest = after;
        } else {
            let n = name_len(after);
            match n {
                0 => out.push('$'),
                n => out.push_str(lookup(vars, &after[..n]).unwrap_or_default()),
            }
            rest = &after[n..];
        }
    }

    out.push_str(rest);
    Ok(out)
}

/// Expands the inside of `${…}`; `body` starts after the `{`.
fn braced<'a>(
    body: &'a str,
    vars: &[(String, String)],
    line: usize,
) -> Result<(String, &'a str), EnvFileError> {
    let invalid = EnvFileError::Interpolation { line };
    let n = name_len(body);
    if n == 0 {
        return Err(invalid);
    }
    let (name, tail) = body.split_at(n);
    let value = lookup(vars, name);
    if let Some(after) = tail.strip_prefix('}') {
        return Ok((value.unwrap_or_default().to_owned(), after));
    }

    let ops = [":-", ":+", ":?", "-", "+", "?"];
    let Some(op) = ops.into_iter().find(|op| tail.starts_with(op)) else {
        return Err(invalid);
    };
    let word_and_rest = &tail[op.len()..];
    let Some(end) = closing_brace(word_and_rest) else {
        return Err(invalid);
    };
    let (word, after) = (&word_and_rest[..end], &word_and_rest[end + 1..]);

    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let current = value.unwrap_or_default().to_owned();
    let expanded = match op {
        ":-" if !non_empty => interpolate(word, vars, line)?,
        "-" if !set => interpolate(word, vars, line)?,
        ":+" if non_empty => interpolate(word, vars, line)?,
        "+" if set => interpolate(word, vars, line)?,
        ":?" if !non_empty => return Err(required(name, line)),
        "?" if !set => return Err(required(name, line)),
        _ => current,
    };
    Ok((expanded, after))
}

fn required(name: &str, line: usize) -> EnvFileError {
    let name = name.to_owned();
    EnvFileError::Required { line, name }
}

/// Index of the `}` that closes a `${` whose body starts at `s`.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Length of the variable name at the start of `s`: `[_A-Za-z][_A-Za-z0-9]*`.
fn name_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' => bytes
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .count(),
        _ => 0,
    }
}

fn lookup<'a>(vars: &'a [(String, String)], name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> String {
        match parse(text) {
            Ok(vars) if vars.len() == 1 => vars[0].1.clone(),
            other => panic!("expected one variable from {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn unquoted_values_are_trimmed_and_lose_inline_comments() {
        assert_eq!(one("A=  x y  \n"), "x y");
        assert_eq!(one("A=x #c\n"), "x");
        assert_eq!(one("A=x#c\n"), "x#c");
        assert_eq!(one("A=x\t#c\n"), "x\t#c");
        assert_eq!(one("A=x\r\n"), "x");
        assert_eq!(one("A=\n"), "");
        assert_eq!(one("A="), "");
    }

    #[test]
    fn dollar_forms_are_interpolated_outside_single_quotes() {
        let vars = parse("A=1\nB=$A-${A}-$$A-$1-${U:-d}-${A:+s}\nC='$A'\nD=\"\\$A$$\"\n");
        let vars = vars.unwrap_or_default();
        assert_eq!(vars[1].1, "1-1-$A-$1-d-s");
        assert_eq!(vars[2].1, "$A");
        assert_eq!(vars[3].1, "$A$");
        assert_eq!(one("A=a$"), "a$");
        assert_eq!(one("A=${U-}x"), "x");
    }

    #[test]
    fn bad_references_are_errors() {
        assert_eq!(parse("A=${"), Err(EnvFileError::Interpolation { line: 1 }));
        assert_eq!(
            parse("\nA=${B:x}"),
            Err(EnvFileError::Interpolation { line: 2 })
        );
        let required = EnvFileError::Required {
            line: 1,
            name: "B".into(),
        };
        assert_eq!(parse("A=${B:?}"), Err(required));
    }

    #[test]
    fn single_quotes_are_literal_but_for_escaped_quotes() {
        assert_eq!(one(r"A='a\\b\n\'c'"), r"a\\b\n'c");
        assert_eq!(one("A='x\ny' # c"), "x\ny");
        assert_eq!(
            parse(r"A='x\'"),
            Err(EnvFileError::Unterminated { line: 1 })
        );
    }

    #[test]
    fn double_quotes_decode_escapes() {
        assert_eq!(
            one(r#"A="\"\\\n\t\r\a\b\f\v\c\q""#),
            "\"\\\n\t\r\u{7}\u{8}\u{c}\u{b}\\c\\q"
        );
        assert_eq!(one(r#"A="\0101\0\012\0777""#), "A\\0\\012\\0777");
        assert_eq!(one("A=\"l1\nl2\""), "l1\nl2");
        assert_eq!(one(r#"A="a\\""#), "a\\");
        assert_eq!(
            parse("A=\"x\n"),
            Err(EnvFileError::Unterminated { line: 1 })
        );
    }

    #[test]
    fn keys_follow_compose_go() {
        let vars = parse("\u{feff}# c\n export A=1\nB: 2\nC\nD = 3\nA=4\n").unwrap_or_default();
        let keys: Vec<_> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(keys, ["A=4", "B=2", "D=3"]);
        let space = EnvFileError::KeyWithSpace {
            line: 2,
            key: "A B".into(),
        };
        assert_eq!(parse("\nA B=1"), Err(space));
        let bad = EnvFileError::BadKeyChar {
            line: 1,
            found: '$',
        };
        assert_eq!(parse("A$=1"), Err(bad));
        assert_eq!(parse("=1"), Err(EnvFileError::EmptyKey { line: 1 }));
        assert_eq!(parse("A"), Err(EnvFileError::EmptyKey { line: 1 }));
    }

    #[test]
    fn text_after_a_closing_quote_starts_the_next_statement() {
        let vars = parse("A='x'B=2\n").unwrap_or_default();
        assert_eq!(vars, [("A".into(), "x".into()), ("B".into(), "2".into())]);
    }
}
