//! Typed reading of a [`Node`] tree that records every problem instead of stopping at the first.

use std::cell::RefCell;

use crate::issue::{Code, Issue, did_you_mean};
use crate::value::Value;
use crate::yaml::{Kind, Mark, Node, Style};

/// Collects the issues of one decoding pass.
#[derive(Default)]
pub(crate) struct Decoder {
    issues: RefCell<Vec<Issue>>,
}

impl Decoder {
    pub(crate) fn report(&self, path: &str, mark: Option<Mark>, code: Code, message: String) {
        self.issues
            .borrow_mut()
            .push(Issue::new(path, mark, code, message));
    }

    /// Reports every scalar under `node` that holds a NUL character, once per path: no env
    /// file, config file or process environment can carry one, so it is refused while reading
    /// rather than when a file is written.
    pub(crate) fn refuse_nul(&self, path: &str, node: &Node) {
        match &node.kind {
            Kind::Scalar(text, _) if text.contains('\0') => {
                let seen = self
                    .issues
                    .borrow()
                    .iter()
                    .any(|i| i.code == Code::Encoding && i.path == path);
                if !seen {
                    let shown = if path.is_empty() {
                        "the document"
                    } else {
                        path
                    };
                    self.report(
                        path,
                        Some(node.mark),
                        Code::Encoding,
                        format!(
                            "`{shown}` contains a NUL character, which no file or environment \
                             can carry"
                        ),
                    );
                }
            }
            Kind::Scalar(..) => {}
            Kind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.refuse_nul(&format!("{path}[{i}]"), item);
                }
            }
            Kind::Map(entries) => {
                for (key, value) in entries {
                    if key.name.contains('\0') {
                        self.refuse_nul(
                            path,
                            &Node {
                                mark: key.mark,
                                kind: Kind::Scalar(key.name.clone(), Style::Quoted),
                            },
                        );
                        continue;
                    }
                    let child = if path.is_empty() {
                        key.name.clone()
                    } else {
                        format!("{path}.{}", key.name)
                    };
                    self.refuse_nul(&child, value);
                }
            }
        }
    }

    pub(crate) fn into_issues(self) -> Vec<Issue> {
        self.issues.into_inner()
    }

    /// Reads `node` as a mapping at `path`; anything else is reported and read as empty.
    pub(crate) fn map<'n>(&'n self, node: &'n Node, path: &str) -> Map<'n> {
        if !matches!(node.kind, Kind::Map(_)) && !node.is_null() {
            self.report(
                path,
                Some(node.mark),
                Code::WrongType,
                format!("expected a mapping of keys, found {}", node.type_name()),
            );
        }
        Map {
            decoder: self,
            node,
            path: path.to_string(),
            used: RefCell::new(Vec::new()),
        }
    }
}

/// A mapping being read; [`Map::finish`] reports the keys nobody asked for.
pub(crate) struct Map<'n> {
    decoder: &'n Decoder,
    node: &'n Node,
    path: String,
    used: RefCell<Vec<&'static str>>,
}

/// The text of a scalar, as a typed key needs it.
pub(crate) enum Scalar<'n> {
    Absent,
    Null(Mark),
    Text(&'n str, Style, Mark),
    Other(&'n Node),
}

impl<'n> Map<'n> {
    /// The dotted path of `key` in this mapping.
    pub(crate) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Where the mapping starts.
    pub(crate) fn mark(&self) -> Mark {
        self.node.mark
    }

    /// The decoder, for reporting.
    pub(crate) fn decoder(&self) -> &'n Decoder {
        self.decoder
    }

    /// Marks `key` as known and returns its node; NUL characters in it are reported here.
    pub(crate) fn node(&self, key: &'static str) -> Option<&'n Node> {
        self.used.borrow_mut().push(key);
        let node = self.node.get(key)?;
        self.decoder.refuse_nul(&self.path_of(key), node);
        Some(node)
    }

    /// Where `key` is written, or the mapping itself when it is absent.
    pub(crate) fn mark_of(&self, key: &str) -> Mark {
        self.node
            .entries()
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, _)| k.mark)
            .unwrap_or(self.node.mark)
    }

    /// Whether `key` is written at all.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.node.get(key).is_some()
    }

    pub(crate) fn report(&self, key: &str, code: Code, message: String) {
        let mark = self.mark_of(key);
        self.decoder
            .report(&self.path_of(key), Some(mark), code, message);
    }

    fn scalar(&self, key: &'static str) -> Scalar<'n> {
        match self.node(key) {
            None => Scalar::Absent,
            Some(n) if n.is_null() => Scalar::Null(n.mark),
            Some(Node {
                kind: Kind::Scalar(s, style),
                mark,
            }) => Scalar::Text(s, *style, *mark),
            Some(n) => Scalar::Other(n),
        }
    }

    fn wrong_type(&self, key: &str, node: &Node, wanted: &str) {
        self.decoder.report(
            &self.path_of(key),
            Some(node.mark),
            Code::WrongType,
            format!("expected {wanted}, found {}", node.type_name()),
        );
    }

    /// An optional string; null and absent are both `None`.
    pub(crate) fn opt_str(&self, key: &'static str) -> Option<String> {
        match self.scalar(key) {
            Scalar::Text(s, _, _) => Some(s.to_string()),
            Scalar::Other(n) => {
                self.wrong_type(key, n, "a string");
                None
            }
            _ => None,
        }
    }

    /// A string with a default for absent or null.
    pub(crate) fn str_or(&self, key: &'static str, default: &str) -> String {
        self.opt_str(key).unwrap_or_else(|| default.to_string())
    }

    /// A string that must be there and not null; `hint` says what it is for.
    pub(crate) fn req_str(&self, key: &'static str) -> String {
        match self.scalar(key) {
            Scalar::Text(s, _, _) => s.to_string(),
            Scalar::Absent => {
                self.decoder.report(
                    &self.path_of(key),
                    Some(self.node.mark),
                    Code::Missing,
                    format!("`{key}` is required here"),
                );
                String::new()
            }
            Scalar::Null(mark) => {
                self.decoder.report(
                    &self.path_of(key),
                    Some(mark),
                    Code::Null,
                    "a value is required but it is empty (null); a value starting with `#` or \
                     holding ` #` must be quoted, or YAML reads it as a comment"
                        .into(),
                );
                String::new()
            }
            Scalar::Other(n) => {
                self.wrong_type(key, n, "a string");
                String::new()
            }
        }
    }

    /// A boolean; quoted text is refused because upstream read any non-empty string as true.
    pub(crate) fn bool_or(&self, key: &'static str, default: bool) -> bool {
        match self.scalar(key) {
            Scalar::Absent | Scalar::Null(_) => default,
            Scalar::Text(s, Style::Plain, mark) => match parse_bool(s) {
                Some(b) => b,
                None => {
                    self.decoder.report(
                        &self.path_of(key),
                        Some(mark),
                        Code::WrongType,
                        format!("expected true or false, found `{s}`"),
                    );
                    default
                }
            },
            Scalar::Text(s, Style::Quoted, mark) => {
                self.decoder.report(
                    &self.path_of(key),
                    Some(mark),
                    Code::WrongType,
                    format!("expected true or false, found the string \"{s}\"; remove the quotes"),
                );
                default
            }
            Scalar::Other(n) => {
                self.wrong_type(key, n, "true or false");
                default
            }
        }
    }

    /// An optional integer in `min..=max`.
    pub(crate) fn opt_int(&self, key: &'static str, min: i64, max: i64) -> Option<i64> {
        match self.scalar(key) {
            Scalar::Absent | Scalar::Null(_) => None,
            Scalar::Text(s, style, mark) => {
                let parsed = parse_int(s).filter(|_| style == Style::Plain);
                match parsed {
                    Some(n) if (min..=max).contains(&n) => Some(n),
                    Some(n) => {
                        self.decoder.report(
                            &self.path_of(key),
                            Some(mark),
                            Code::OutOfRange,
                            format!("{n} is out of range; allowed is {min} to {max}"),
                        );
                        None
                    }
                    None => {
                        let quoted = if style == Style::Quoted && parse_int(s).is_some() {
                            "; remove the quotes"
                        } else {
                            ""
                        };
                        self.decoder.report(
                            &self.path_of(key),
                            Some(mark),
                            Code::WrongType,
                            format!("expected a whole number, found `{s}`{quoted}"),
                        );
                        None
                    }
                }
            }
            Scalar::Other(n) => {
                self.wrong_type(key, n, "a whole number");
                None
            }
        }
    }

    /// An integer with a default for absent or null.
    pub(crate) fn int_or(&self, key: &'static str, default: i64, min: i64, max: i64) -> i64 {
        self.opt_int(key, min, max).unwrap_or(default)
    }

    /// A required integer.
    pub(crate) fn req_int(&self, key: &'static str, min: i64, max: i64) -> i64 {
        if !self.has(key) {
            self.report(key, Code::Missing, format!("`{key}` is required here"));
            self.node(key);
            return min.max(0);
        }
        if self.node.get(key).is_some_and(Node::is_null) {
            self.report(
                key,
                Code::Null,
                "a number is required but the value is empty".into(),
            );
            self.node(key);
            return min.max(0);
        }
        self.opt_int(key, min, max).unwrap_or(min.max(0))
    }

    /// A number that may have a fraction.
    pub(crate) fn opt_float(&self, key: &'static str) -> Option<f64> {
        match self.scalar(key) {
            Scalar::Absent | Scalar::Null(_) => None,
            Scalar::Text(s, Style::Plain, mark) => match s.parse::<f64>() {
                Ok(f) if f.is_finite() => Some(f),
                _ => {
                    self.decoder.report(
                        &self.path_of(key),
                        Some(mark),
                        Code::WrongType,
                        format!("expected a number, found `{s}`"),
                    );
                    None
                }
            },
            Scalar::Text(s, Style::Quoted, mark) => {
                self.decoder.report(
                    &self.path_of(key),
                    Some(mark),
                    Code::WrongType,
                    format!("expected a number, found the string \"{s}\""),
                );
                None
            }
            Scalar::Other(n) => {
                self.wrong_type(key, n, "a number");
                None
            }
        }
    }

    /// A list of strings; a single string is refused.
    pub(crate) fn str_list(&self, key: &'static str) -> Option<Vec<String>> {
        let node = self.node(key)?;
        if node.is_null() {
            return None;
        }
        let Kind::Seq(items) = &node.kind else {
            self.wrong_type(key, node, "a list");
            return None;
        };

        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match &item.kind {
                Kind::Scalar(s, _) if !item.is_null() => out.push(s.clone()),
                _ => self.decoder.report(
                    &format!("{}[{i}]", self.path_of(key)),
                    Some(item.mark),
                    Code::WrongType,
                    format!("expected a string, found {}", item.type_name()),
                ),
            }
        }
        Some(out)
    }

    /// A nested mapping; absent and null both give `None`.
    pub(crate) fn map(&self, key: &'static str) -> Option<Map<'n>> {
        let node = self.node(key)?;
        if node.is_null() {
            return None;
        }
        Some(self.decoder.map(node, &self.path_of(key)))
    }

    /// A nested value kept as it is written.
    pub(crate) fn value(&self, key: &'static str) -> Option<Value> {
        self.node(key).map(Value::from_node)
    }

    /// Reports every key that no getter asked for.
    pub(crate) fn finish(self) {
        let used = self.used.borrow();
        for (key, _) in self.node.entries() {
            if used.contains(&key.name.as_str()) {
                continue;
            }
            let hint = did_you_mean(&key.name, &used)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_else(|| {
                    let mut known: Vec<&str> = used.clone();
                    known.sort_unstable();
                    known.dedup();
                    format!("; known keys here: {}", known.join(", "))
                });
            self.decoder.report(
                &self.path_of(&key.name),
                Some(key.mark),
                Code::UnknownKey,
                format!("unknown key `{}`{hint}", key.name),
            );
        }
    }
}

/// YAML 1.1 booleans, as PyYAML reads them.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// A decimal integer with an optional sign; leading zeros are read as decimal.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
