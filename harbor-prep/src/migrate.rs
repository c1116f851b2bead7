//! Migration of an older harbor.yml to a newer schema, as an edit of the user's own text.
//!
//! Upstream's `prepare migrate` re-renders the whole file from one template per step: comments
//! are lost, values are written back unquoted (a password holding `: #` stops being that
//! password) and every intermediate `harbor.yml.<version>.tmp`, secrets included, is written to
//! disk. [`migrate`] edits the text instead. It changes `_version`, adds the keys a newer schema
//! needs (at upstream's defaults, each with a short comment), renames, moves and drops keys, and
//! leaves every other byte of the file as it was. Nothing is written anywhere: the caller gets
//! the new text and a report of what changed, and [`unified_diff`] shows it.
//!
//! The steps follow upstream's chain of schemas, 1.9.0 → 1.10.0 → 2.0.0 → … → 2.15.0. Like
//! upstream's templates, each step brings the file to everything its schema needs, so a file
//! whose keys lag behind its `_version` is completed too.
//!
//! ```
//! let old = "hostname: harbor.example.test\n\
//!            harbor_admin_password: \"p@ss: #1\"  # keep me\n\
//!            clair:\n  updaters_interval: 12\n\
//!            _version: 2.1.0\n";
//! let target = harbor_prep::Release::find("2.15").unwrap();
//! let m = harbor_prep::migrate::migrate(old, target).map_err(harbor_prep::Issues)?;
//! assert_eq!((m.from.as_str(), m.to.as_str()), ("2.1.0", "2.15.0"));
//! assert!(m.text.contains("harbor_admin_password: \"p@ss: #1\"  # keep me\n"));
//! assert!(m.text.contains("_version: 2.15.0\n"));
//! assert!(!m.text.contains("clair"));
//! assert!(m.removed[0].starts_with("clair: "));
//! # Ok::<(), harbor_prep::Issues>(())
//! ```

use granit_parser::{Event, Marker, Parser, ScalarStyle, StructureStyle};

use crate::decode::parse_int;
use crate::escape::yaml_str;
use crate::issue::{Code, Issue};
use crate::release::Release;
use crate::yaml::{self, Mark};

/// Every harbor.yml schema [`migrate`] reads, oldest first; one step leads to the next.
pub const SCHEMAS: [&str; 18] = [
    "1.9.0", "1.10.0", "2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0", "2.6.0", "2.7.0",
    "2.8.0", "2.9.0", "2.10.0", "2.11.0", "2.12.0", "2.13.0", "2.14.0", "2.15.0",
];

/// The outcome of [`migrate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The schema the input was written for, read from `_version` (`2.11.1` reads as 2.11.0).
    pub from: String,
    /// The schema of the new text: the target release's.
    pub to: String,
    /// The migrated harbor.yml. Equal to the input when `from` is `to`.
    pub text: String,
    /// What each step changed, such as `1.10.0 -> 2.0.0: added trivy ...`; empty for no change.
    pub steps: Vec<String>,
    /// Every key the migration dropped, each with the reason.
    pub removed: Vec<String>,
}

/// Migrates `text` from the schema its `_version` names to `target`'s schema.
///
/// Only the lines that have to change are touched: comments, quoting, order and every other
/// value stay byte for byte. Keys that no Harbor release reads (typos included) are left alone
/// for [`crate::check`] to report. An input already at the target schema comes back unchanged.
///
/// Fails, with every reason, when the text is not YAML, has no usable `_version`, names a schema
/// older than 1.9.0 or newer than the target, or needs an edit inside a flow collection
/// (`{...}` or `[...]`) that only a block mapping allows.
pub fn migrate(text: &str, target: &Release) -> Result<Migration, Vec<Issue>> {
    let root = yaml::parse(text).map_err(|e| {
        vec![Issue::new(
            "",
            Some(e.mark),
            Code::Syntax,
            format!("not valid YAML: {}", e.message),
        )]
    })?;
    let (from, written) = detect(&root)?;
    let to = target.schema;
    let (Some(start), Some(end)) = (index(from), index(to)) else {
        return Err(vec![Issue::new(
            "_version",
            None,
            Code::SchemaVersion,
            format!("target schema `{to}` is not one migration knows"),
        )]);
    };
    if start > end {
        return Err(vec![Issue::new(
            "_version",
            root.get("_version").map(|n| n.mark),
            Code::SchemaVersion,
            format!(
                "schema `{from}` is newer than the target `{to}`; migration only goes forward, \
                 pick a newer release"
            ),
        )]);
    }

    let mut migration = Migration {
        from: from.to_string(),
        to: to.to_string(),
        text: text.to_string(),
        steps: Vec::new(),
        removed: Vec::new(),
    };
    if written != from {
        let doc = Doc::parse(&migration.text)?;
        let mut pass = Pass::new(&doc, start);
        pass.set_version(from)?;
        migration.text = pass.finish()?.text;
        migration.steps.push(format!(
            "{written} -> {from}: `_version` named a release, not a schema; wrote its schema"
        ));
    }

    for step in start + 1..=end {
        let doc = Doc::parse(&migration.text)?;
        let mut pass = Pass::new(&doc, step);
        pass.run()?;
        let done = pass.finish()?;
        let changes = if done.changes.is_empty() {
            "nothing to change in this file".to_string()
        } else {
            done.changes.join("; ")
        };
        migration.steps.push(format!(
            "{} -> {}: {changes}",
            SCHEMAS[step - 1],
            SCHEMAS[step]
        ));
        migration.removed.extend(done.removed);
        migration.text = done.text;
    }

    // every edit works on whole lines or exact spans, but a broken result must never reach a user
    if let Err(e) = yaml::parse(&migration.text) {
        return Err(vec![Issue::new(
            "",
            Some(e.mark),
            Code::Syntax,
            format!(
                "the migrated text is not valid YAML ({}); the input was left as it was",
                e.message
            ),
        )]);
    }
    Ok(migration)
}

/// The schema `_version` names, and the text written there.
fn detect(root: &yaml::Node) -> Result<(&'static str, String), Vec<Issue>> {
    let accepted = SCHEMAS.join(", ");
    if !matches!(root.kind, yaml::Kind::Map(_)) {
        return Err(vec![Issue::new(
            "",
            Some(root.mark),
            Code::WrongType,
            format!(
                "harbor.yml must be a mapping of keys, found {}",
                root.type_name()
            ),
        )]);
    }
    let Some(node) = root.get("_version") else {
        return Err(vec![Issue::new(
            "_version",
            None,
            Code::Missing,
            format!(
                "`_version` is missing, so the schema this file follows is unknown; add \
                 `_version: <schema>` for the Harbor release that wrote it (one of {accepted}) \
                 and migrate again"
            ),
        )]);
    };
    let text = match &node.kind {
        yaml::Kind::Scalar(s, _) if !node.is_null() => s.clone(),
        _ => {
            return Err(vec![Issue::new(
                "_version",
                Some(node.mark),
                Code::WrongType,
                format!(
                    "`_version` must be a schema version such as 2.10.0, found {}; accepted are \
                     {accepted}",
                    node.type_name()
                ),
            )]);
        }
    };

    match schema_of(&text) {
        Some(schema) => Ok((schema, text)),
        None => Err(vec![Issue::new(
            "_version",
            Some(node.mark),
            Code::SchemaVersion,
            format!(
                "`_version: {text}` is not a schema migration reads; accepted are {accepted} \
                 (a release such as 2.11.1 reads as its schema 2.11.0)"
            ),
        )]),
    }
}

/// The schema of a version text: `2.11.1`, `v2.11` and `2.11.0` all give `2.11.0`.
fn schema_of(text: &str) -> Option<&'static str> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let parts: Vec<&str> = text.split('.').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.parse::<u32>().is_err()) {
        return None;
    }
    let major: u32 = parts[0].parse().ok()?;
    let minor: u32 = parts[1].parse().ok()?;
    let prefix = format!("{major}.{minor}.");
    SCHEMAS.iter().copied().find(|s| s.starts_with(&prefix))
}

fn index(schema: &str) -> Option<usize> {
    SCHEMAS.iter().position(|s| *s == schema)
}

/// Whether a rule introduced with schema `since` holds at the step to `SCHEMAS[step]`.
fn holds(step: usize, since: &str) -> bool {
    index(since).is_some_and(|i| i <= step)
}

/// A value written into the file.
#[derive(Debug, Clone, Copy)]
enum Val {
    Bool(bool),
    Int(i64),
    Str(&'static str),
    List(&'static [&'static str]),
}

impl Val {
    /// The text after `key:` for a key indented by `indent`.
    fn render(self, indent: usize, nl: &str) -> String {
        match self {
            Val::Bool(b) => format!(" {b}"),
            Val::Int(i) => format!(" {i}"),
            Val::Str(s) => format!(" {}", yaml_str(s)),
            Val::List(items) => items
                .iter()
                .map(|i| format!("{nl}{:indent$}  - {}", "", yaml_str(i)))
                .collect(),
        }
    }

    /// A short form for the report.
    fn describe(self) -> String {
        match self {
            Val::List(items) => format!("[{}]", items.join(", ")),
            v => v.render(0, "\n").trim_start().to_string(),
        }
    }
}

/// A key a schema added: written, at upstream's default, where the parent exists without it.
struct Add {
    since: &'static str,
    parent: &'static [&'static str],
    key: &'static str,
    value: Val,
    about: &'static str,
}

const ADDS: &[Add] = &[
    Add {
        since: "2.0.0",
        parent: &["external_redis"],
        key: "trivy_db_index",
        value: Val::Int(5),
        about: "the Redis database of the Trivy adapter",
    },
    Add {
        since: "2.0.0",
        parent: &["external_redis"],
        key: "idle_timeout_seconds",
        value: Val::Int(30),
        about: "seconds before an idle Redis connection is closed",
    },
    Add {
        since: "2.0.0",
        parent: &["trivy"],
        key: "ignore_unfixed",
        value: Val::Bool(false),
        about: "true hides vulnerabilities that have no fix yet",
    },
    Add {
        since: "2.0.0",
        parent: &["trivy"],
        key: "skip_update",
        value: Val::Bool(false),
        about: "true stops Trivy from downloading its vulnerability database",
    },
    Add {
        since: "2.0.0",
        parent: &["trivy"],
        key: "insecure",
        value: Val::Bool(false),
        about: "true skips verifying the registry's certificate",
    },
    Add {
        since: "2.4.0",
        parent: &["trivy"],
        key: "timeout",
        value: Val::Str("5m0s"),
        about: "the longest one scan may take",
    },
    Add {
        since: "2.5.0",
        parent: &["trivy"],
        key: "offline_scan",
        value: Val::Bool(false),
        about: "true keeps Trivy from asking the internet about dependencies",
    },
    Add {
        since: "2.7.0",
        parent: &["trivy"],
        key: "security_check",
        value: Val::Str("vuln"),
        about: "what Trivy looks for: vuln, config and/or secret, comma-separated",
    },
    Add {
        since: "2.8.0",
        parent: &["jobservice"],
        key: "logger_sweeper_duration",
        value: Val::Int(1),
        about: "days that job logs are kept",
    },
    Add {
        since: "2.8.0",
        parent: &["notification"],
        key: "webhook_job_http_client_timeout",
        value: Val::Int(3),
        about: "seconds one webhook call may take",
    },
    Add {
        since: "2.9.0",
        parent: &["jobservice"],
        key: "job_loggers",
        value: Val::List(&["STD_OUTPUT", "FILE"]),
        about: "where job logs go: STD_OUTPUT, FILE and/or DB",
    },
    Add {
        since: "2.10.0",
        parent: &["https"],
        key: "strong_ssl_ciphers",
        value: Val::Bool(false),
        about: "true limits TLS to strong ciphers",
    },
    Add {
        since: "2.11.0",
        parent: &["database"],
        key: "conn_max_lifetime",
        value: Val::Str("5m"),
        about: "the longest one database connection is reused",
    },
    Add {
        since: "2.11.0",
        parent: &["database"],
        key: "conn_max_idle_time",
        value: Val::Int(0),
        about: "the longest a database connection may stay idle; 0 is no limit",
    },
    Add {
        since: "2.11.0",
        parent: &["trivy"],
        key: "skip_java_db_update",
        value: Val::Bool(false),
        about: "true stops Trivy from downloading its Java database",
    },
    Add {
        since: "2.13.0",
        parent: &["jobservice"],
        key: "max_job_duration_hours",
        value: Val::Int(24),
        about: "hours one job may run before it is stopped",
    },
    Add {
        since: "2.15.0",
        parent: &["trivy"],
        key: "db_repository",
        value: Val::Str("ghcr.io/aquasecurity/trivy-db"),
        about: "the OCI repository Trivy fetches its vulnerability database from",
    },
    Add {
        since: "2.15.0",
        parent: &["trivy"],
        key: "java_db_repository",
        value: Val::Str("ghcr.io/aquasecurity/trivy-java-db"),
        about: "the OCI repository Trivy fetches its Java database from",
    },
];

/// A top-level block a schema added, written where it is absent.
struct Block {
    since: &'static str,
    /// Written only by the step to `since`; later schemas leave an absent block absent.
    once: bool,
    key: &'static str,
    /// The top-level key the block goes before; at the end of the file when that is absent.
    before: Option<&'static str>,
    about: &'static str,
    body: &'static [(&'static str, Val)],
}

const BLOCKS: &[Block] = &[
    Block {
        since: "2.0.0",
        once: true,
        key: "trivy",
        before: Some("jobservice"),
        about: "Trivy, the vulnerability scanner that replaced Clair",
        body: &[
            ("ignore_unfixed", Val::Bool(false)),
            ("skip_update", Val::Bool(false)),
            ("insecure", Val::Bool(false)),
        ],
    },
    Block {
        since: "2.5.0",
        once: false,
        key: "upload_purging",
        before: None,
        about: "regular removal of uploads that never finished, on as upstream sets it",
        body: &[
            ("enabled", Val::Bool(true)),
            ("age", Val::Str("168h")),
            ("interval", Val::Str("24h")),
            ("dryrun", Val::Bool(false)),
        ],
    },
    Block {
        since: "2.6.0",
        once: false,
        key: "cache",
        before: None,
        about: "the Redis cache layer of core, off unless enabled",
        body: &[
            ("enabled", Val::Bool(false)),
            ("expire_hours", Val::Int(24)),
        ],
    },
];

/// A key a schema removed.
struct Drop {
    since: &'static str,
    path: &'static [&'static str],
    why: &'static str,
}

const DROPS: &[Drop] = &[
    Drop {
        since: "2.2.0",
        path: &["clair"],
        why: "Harbor 2.2.0 removed Clair; Trivy is the scanner",
    },
    Drop {
        since: "2.2.0",
        path: &["external_database", "clair"],
        why: "Clair's database went with Clair in 2.2.0",
    },
    Drop {
        since: "2.2.0",
        path: &["external_redis", "clair_db_index"],
        why: "Clair's Redis database went with Clair in 2.2.0",
    },
    Drop {
        since: "2.8.0",
        path: &["chart"],
        why: "Harbor 2.8.0 removed ChartMuseum; charts are kept as OCI artifacts",
    },
    Drop {
        since: "2.8.0",
        path: &["external_redis", "chartmuseum_db_index"],
        why: "ChartMuseum's Redis database went with ChartMuseum in 2.8.0",
    },
    Drop {
        since: "2.9.0",
        path: &["external_database", "notary_signer"],
        why: "Harbor 2.9.0 removed Notary",
    },
    Drop {
        since: "2.9.0",
        path: &["external_database", "notary_server"],
        why: "Harbor 2.9.0 removed Notary",
    },
];

/// A list item a schema removed.
struct DropItem {
    since: &'static str,
    path: &'static [&'static str],
    item: &'static str,
    why: &'static str,
}

const DROP_ITEMS: &[DropItem] = &[
    DropItem {
        since: "2.2.0",
        path: &["proxy", "components"],
        item: "clair",
        why: "Clair is gone since 2.2.0",
    },
    DropItem {
        since: "2.8.0",
        path: &["proxy", "components"],
        item: "chartmuseum",
        why: "ChartMuseum is gone since 2.8.0",
    },
    DropItem {
        since: "2.9.0",
        path: &["proxy", "components"],
        item: "notary",
        why: "Notary is gone since 2.9.0",
    },
];

/// A place in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pos {
    /// Line, from 1.
    line: usize,
    /// Column in characters, from 0.
    col: usize,
    /// Byte offset.
    byte: usize,
}

/// A node of the outline: where it starts and ends, and what it holds.
#[derive(Debug, Clone)]
struct Node {
    start: Pos,
    end: Pos,
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Scalar(String, bool),
    Alias,
    Map(bool, Vec<Entry>),
    Seq(bool, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Entry {
    key: String,
    key_start: Pos,
    key_end: Pos,
    value: Node,
}

impl Node {
    fn entries(&self) -> &[Entry] {
        match &self.shape {
            Shape::Map(_, entries) => entries,
            _ => &[],
        }
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries().iter().find(|e| e.key == key)
    }

    fn is_null(&self) -> bool {
        matches!(&self.shape, Shape::Scalar(s, true) if yaml::is_null_text(s))
    }

    fn scalar(&self) -> Option<&str> {
        match &self.shape {
            Shape::Scalar(s, _) if !self.is_null() => Some(s),
            _ => None,
        }
    }

    fn plain_int(&self) -> Option<i64> {
        match &self.shape {
            Shape::Scalar(s, true) => parse_int(s),
            _ => None,
        }
    }
}

/// The text with its lines and its outline.
struct Doc<'t> {
    text: &'t str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
    root: Node,
    nl: &'static str,
}

impl<'t> Doc<'t> {
    fn parse(text: &'t str) -> Result<Doc<'t>, Vec<Issue>> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        if starts.last() == Some(&text.len()) && !text.is_empty() {
            starts.pop();
        }
        let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let root = outline(text, &starts).map_err(|message| {
            vec![Issue::new(
                "",
                None,
                Code::Syntax,
                format!("not valid YAML: {message}"),
            )]
        })?;
        Ok(Doc {
            text,
            starts,
            root,
            nl,
        })
    }

    fn lines(&self) -> usize {
        self.starts.len()
    }

    fn line_start(&self, line: usize) -> usize {
        self.starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The offset just past the line's line break.
    fn line_end(&self, line: usize) -> usize {
        self.starts.get(line).copied().unwrap_or(self.text.len())
    }

    fn line(&self, line: usize) -> &'t str {
        let text = &self.text[self.line_start(line)..self.line_end(line)];
        text.trim_end_matches(['\n', '\r'])
    }

    fn indent(&self, line: usize) -> usize {
        let text = self.line(line);
        text.len() - text.trim_start_matches(' ').len()
    }

    fn blank(&self, line: usize) -> bool {
        line >= 1 && line <= self.lines() && self.line(line).trim().is_empty()
    }

    fn comment(&self, line: usize) -> bool {
        line >= 1 && line <= self.lines() && self.line(line).trim_start().starts_with('#')
    }

    fn entry(&self, path: &[&str]) -> Option<&Entry> {
        let (last, parents) = path.split_last()?;
        let mut node = &self.root;
        for key in parents {
            node = &node.entry(key)?.value;
        }
        node.entry(last)
    }

    /// The last line holding any of `node`'s content.
    fn last_line(&self, node: &Node) -> usize {
        let mut line = node.end.line;
        if node.end.col == 0 && line > node.start.line {
            line -= 1;
        }
        while line > node.start.line && self.blank(line) {
            line -= 1;
        }
        line.min(self.lines())
    }

    /// The last line of an entry's block: its content, then comment lines indented deeper than
    /// `indent` that follow at once (they annotate the block's tail).
    fn block_end(&self, value: &Node, indent: usize) -> usize {
        let mut line = self.last_line(value);
        while self.comment(line + 1) && self.indent(line + 1) > indent {
            line += 1;
        }
        line
    }

    /// The first line of an entry with the comments right above it at its own indentation.
    fn block_start(&self, entry: &Entry) -> usize {
        let mut line = entry.key_start.line;
        while line > 1 && self.comment(line - 1) && self.indent(line - 1) == entry.key_start.col {
            line -= 1;
        }
        line
    }
}

/// Reads the outline of `text`: every node with its start and end.
fn outline(text: &str, starts: &[usize]) -> Result<Node, String> {
    enum Open {
        Map(Pos, bool, Vec<Entry>, Option<(String, Pos, Pos)>),
        Seq(Pos, bool, Vec<Node>),
    }

    let pos = |m: &Marker| {
        let line = m.line().max(1);
        let byte = m.byte_offset().unwrap_or_else(|| {
            let start = starts.get(line - 1).copied().unwrap_or(text.len());
            let rest = &text[start..];
            start
                + rest
                    .char_indices()
                    .nth(m.col())
                    .map_or(rest.len(), |(i, _)| i)
        });
        Pos {
            line,
            col: m.col(),
            byte,
        }
    };

    let mut stack: Vec<Open> = Vec::new();
    let mut root = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| e.info().to_string())?;
        let (start, end) = (pos(&span.start), pos(&span.end));
        let node = match event {
            Event::Scalar(value, style, ..) => Node {
                start,
                end,
                shape: Shape::Scalar(value.into_owned(), style == ScalarStyle::Plain),
            },
            Event::Alias(_) => Node {
                start,
                end,
                shape: Shape::Alias,
            },
            Event::MappingStart(style, ..) => {
                stack.push(Open::Map(
                    start,
                    style == StructureStyle::Flow,
                    Vec::new(),
                    None,
                ));
                continue;
            }
            Event::SequenceStart(style, ..) => {
                stack.push(Open::Seq(start, style == StructureStyle::Flow, Vec::new()));
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => match stack.pop() {
                Some(Open::Map(first, flow, entries, None)) => {
                    let last = entries.last().map_or(first, |e| e.value.end);
                    Node {
                        start: first,
                        end: if flow { end } else { last },
                        shape: Shape::Map(flow, entries),
                    }
                }
                Some(Open::Seq(first, flow, items)) => {
                    let last = items.last().map_or(first, |i| i.end);
                    Node {
                        start: first,
                        end: if flow { end } else { last },
                        shape: Shape::Seq(flow, items),
                    }
                }
                _ => return Err("a mapping ended without a value".into()),
            },
            _ => continue,
        };

        match stack.last_mut() {
            None => root = Some(node),
            Some(Open::Seq(_, _, items)) => items.push(node),
            Some(Open::Map(_, _, entries, pending)) => match pending.take() {
                Some((key, key_start, key_end)) => entries.push(Entry {
                    key,
                    key_start,
                    key_end,
                    value: node,
                }),
                None => match node.shape {
                    Shape::Scalar(key, _) => *pending = Some((key, node.start, node.end)),
                    _ => return Err("a mapping key must be a plain string".into()),
                },
            },
        }
    }

    Ok(root.unwrap_or(Node {
        start: Pos {
            line: 1,
            col: 0,
            byte: 0,
        },
        end: Pos {
            line: 1,
            col: 0,
            byte: 0,
        },
        shape: Shape::Map(false, Vec::new()),
    }))
}

/// One change to the text.
enum Edit {
    Insert(usize, String),
    Replace(usize, usize, String),
}

/// Applies `edits`, made against `text`, in one go. Inserts keep the order they were made in;
/// an insert inside a replaced range moves to that range's start.
fn apply(text: &str, edits: Vec<Edit>) -> Result<String, String> {
    let mut replaced: Vec<(usize, usize, String)> = Vec::new();
    let mut inserts: Vec<(usize, String)> = Vec::new();
    for edit in edits {
        match edit {
            Edit::Insert(at, s) => inserts.push((at, s)),
            Edit::Replace(start, end, s) => replaced.push((start, end, s)),
        }
    }
    replaced.sort_by_key(|r| (r.0, r.1));
    if replaced.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err("two edits overlap".into());
    }
    for (at, _) in &mut inserts {
        if let Some(r) = replaced.iter().find(|r| r.0 < *at && *at < r.1) {
            *at = r.0;
        }
    }
    inserts.sort_by_key(|i| i.0);

    let mut out = String::with_capacity(text.len() + 1024);
    let mut done = 0;
    let mut ins = inserts.into_iter().peekable();
    for (start, end, s) in replaced {
        while let Some((at, t)) = ins.next_if(|(at, _)| *at <= start) {
            out.push_str(
                text.get(done..at)
                    .ok_or("an edit is off a character boundary")?,
            );
            out.push_str(&t);
            done = at;
        }
        out.push_str(
            text.get(done..start)
                .ok_or("an edit is off a character boundary")?,
        );
        out.push_str(&s);
        done = end;
    }
    for (at, t) in ins {
        out.push_str(
            text.get(done..at)
                .ok_or("an edit is off a character boundary")?,
        );
        out.push_str(&t);
        done = at;
    }
    out.push_str(
        text.get(done..)
            .ok_or("an edit is off a character boundary")?,
    );
    Ok(out)
}

/// One step: the edits that bring the document to `SCHEMAS[step]`, found on one parse of it.
struct Pass<'d, 't> {
    doc: &'d Doc<'t>,
    step: usize,
    edits: Vec<Edit>,
    /// Dotted paths this pass writes, so no rule writes a key twice.
    planned: Vec<String>,
    changes: Vec<String>,
    removed: Vec<String>,
    /// Whether an insert already supplied the line break the text lacks at its end.
    closed: bool,
}

/// What a pass produced.
struct Done {
    text: String,
    changes: Vec<String>,
    removed: Vec<String>,
}

impl<'d, 't> Pass<'d, 't> {
    fn new(doc: &'d Doc<'t>, step: usize) -> Pass<'d, 't> {
        Pass {
            doc,
            step,
            edits: Vec::new(),
            planned: Vec::new(),
            changes: Vec::new(),
            removed: Vec::new(),
            closed: false,
        }
    }

    fn schema(&self) -> &'static str {
        SCHEMAS[self.step]
    }

    /// Whether a rule introduced with schema `since` holds at this step.
    fn holds(&self, since: &str) -> bool {
        holds(self.step, since)
    }

    fn run(&mut self) -> Result<(), Vec<Issue>> {
        let doc = self.doc;
        if let Shape::Map(true, _) | Shape::Seq(..) | Shape::Scalar(..) | Shape::Alias =
            doc.root.shape
        {
            return Err(vec![flow_issue("", &doc.root)]);
        }

        let step = self.step;
        self.raise_connections();
        for drop in DROPS.iter().filter(|d| holds(step, d.since)) {
            if let Some(entry) = doc.entry(drop.path) {
                self.remove(entry, drop.path)?;
                let path = drop.path.join(".");
                self.changes.push(format!("removed {path}"));
                self.removed.push(format!("{path}: {}", drop.why));
            }
        }
        for drop in DROP_ITEMS.iter().filter(|d| holds(step, d.since)) {
            self.remove_item(drop)?;
        }
        if self.holds("2.0.0") {
            self.merge_redis_port()?;
        }
        if self.holds("2.8.0") {
            self.rename_redirect_disabled()?;
        }
        if self.holds("2.10.0") {
            self.move_strong_ciphers()?;
        }
        // keys before blocks: where both go to one offset (the end of a block that a new
        // top-level block follows), the keys must stay in the block they belong to
        for add in ADDS.iter().filter(|a| holds(step, a.since)) {
            self.add_key(add)?;
        }
        for block in BLOCKS {
            let at_step = if block.once {
                self.schema() == block.since
            } else {
                self.holds(block.since)
            };
            if at_step && doc.root.entry(block.key).is_none() {
                self.add_block(block);
            }
        }
        self.set_version(self.schema())
    }

    fn finish(self) -> Result<Done, Vec<Issue>> {
        let text = apply(self.doc.text, self.edits).map_err(|e| {
            vec![Issue::new(
                "",
                None,
                Code::Syntax,
                format!("cannot migrate this layout: {e}"),
            )]
        })?;
        Ok(Done {
            text,
            changes: self.changes,
            removed: self.removed,
        })
    }

    /// The line break that must precede text inserted at `at`: one when `at` is the end of a
    /// text that does not end with one, and no earlier insert supplied it.
    fn break_before(&mut self, at: usize) -> &'static str {
        let text = self.doc.text;
        if at < text.len() || text.is_empty() || text.ends_with('\n') || self.closed {
            return "";
        }
        self.closed = true;
        self.doc.nl
    }

    fn has(&self, path: &[&str]) -> bool {
        self.doc.entry(path).is_some() || self.planned.contains(&path.join("."))
    }

    /// Writes `schema` as the value of `_version`, plain: two dots keep it a string.
    fn set_version(&mut self, schema: &str) -> Result<(), Vec<Issue>> {
        let Some(entry) = self.doc.entry(&["_version"]) else {
            return Err(vec![Issue::new(
                "_version",
                None,
                Code::Missing,
                "`_version` is missing".into(),
            )]);
        };
        let value = &entry.value;
        if value.scalar() != Some(schema) || !matches!(value.shape, Shape::Scalar(_, true)) {
            self.edits.push(Edit::Replace(
                value.start.byte,
                value.end.byte,
                schema.to_string(),
            ));
        }
        Ok(())
    }

    /// Upstream's 2.1.0 and 2.3.0 migrations replace the old connection pool defaults.
    fn raise_connections(&mut self) {
        let doc = self.doc;
        let idle = doc.entry(&["database", "max_idle_conns"]);
        let Some(open) = doc.entry(&["database", "max_open_conns"]) else {
            return;
        };
        let idle_n = idle.and_then(|i| i.value.plain_int());
        let open_n = open.value.plain_int();
        let n = open_n.filter(|n| (100..1000).contains(n));
        if let ("2.1.0", Some(n)) = (self.schema(), n) {
            self.set_int(&open.value, 1000);
            self.changes.push(format!(
                "raised database.max_open_conns from {n} to 1000, as upstream's 2.1.0 migration \
                 does for 100 to 999 (the bundled PostgreSQL allows 1024)"
            ));
        }
        let old_defaults = idle_n == Some(50) && open_n == Some(1000);
        if let ("2.3.0", Some(idle), true) = (self.schema(), idle, old_defaults) {
            self.set_int(&idle.value, 100);
            self.set_int(&open.value, 900);
            self.changes.push(
                "set database.max_idle_conns 50 -> 100 and max_open_conns 1000 -> 900, upstream's \
                 2.3.0 replacement of the old defaults"
                    .into(),
            );
        }
    }

    fn set_int(&mut self, value: &Node, n: i64) {
        self.edits.push(Edit::Replace(
            value.start.byte,
            value.end.byte,
            n.to_string(),
        ));
    }

    /// Deletes an entry of a block mapping: its lines and the comments right above it.
    fn remove(&mut self, entry: &Entry, path: &[&str]) -> Result<(), Vec<Issue>> {
        let doc = self.doc;
        let line = entry.key_start.line;
        if doc.indent(line) != entry.key_start.col || !self.in_block(path) {
            return Err(vec![layout_issue(path, entry, "remove")]);
        }

        let first = doc.block_start(entry);
        let mut last = doc.block_end(&entry.value, entry.key_start.col);
        // do not leave two blank lines where the block was
        if (first == 1 || doc.blank(first - 1)) && doc.blank(last + 1) {
            last += 1;
        }
        self.edits.push(Edit::Replace(
            doc.line_start(first),
            doc.line_end(last),
            String::new(),
        ));
        Ok(())
    }

    /// Whether every mapping on `path` up to the entry is a block mapping.
    fn in_block(&self, path: &[&str]) -> bool {
        let mut node = &self.doc.root;
        for key in path {
            if !matches!(node.shape, Shape::Map(false, _)) {
                return false;
            }
            match node.entry(key) {
                Some(e) => node = &e.value,
                None => return false,
            }
        }
        true
    }

    fn remove_item(&mut self, drop: &DropItem) -> Result<(), Vec<Issue>> {
        let doc = self.doc;
        let Some(entry) = doc.entry(drop.path) else {
            return Ok(());
        };
        let Shape::Seq(flow, items) = &entry.value.shape else {
            return Ok(());
        };
        let gone: Vec<&Node> = items
            .iter()
            .filter(|i| i.scalar() == Some(drop.item))
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let path = drop.path.join(".");
        self.changes
            .push(format!("removed `{}` from {path}", drop.item));
        self.removed
            .push(format!("{path}: item `{}`: {}", drop.item, drop.why));

        let kept: Vec<&Node> = items
            .iter()
            .filter(|i| i.scalar() != Some(drop.item))
            .collect();
        if *flow {
            let (Some(first), Some(last)) = (items.first(), items.last()) else {
                return Ok(());
            };
            let text = kept
                .iter()
                .map(|i| &doc.text[i.start.byte..i.end.byte])
                .collect::<Vec<_>>()
                .join(", ");
            self.edits
                .push(Edit::Replace(first.start.byte, last.end.byte, text));
            return Ok(());
        }

        for item in gone {
            let line = item.start.line;
            let before = doc.text.get(doc.line_start(line)..item.start.byte);
            if before.map(str::trim) != Some("-") || doc.last_line(item) != line {
                return Err(vec![layout_issue(drop.path, entry, "remove an item of")]);
            }
            self.edits.push(Edit::Replace(
                doc.line_start(line),
                doc.line_end(line),
                String::new(),
            ));
        }
        if kept.is_empty() {
            // an empty block list would read as null: say it is an empty list
            let colon = self
                .colon(entry)
                .ok_or_else(|| vec![layout_issue(drop.path, entry, "remove the last item of")])?;
            self.edits.push(Edit::Insert(colon, " []".into()));
        }
        Ok(())
    }

    /// The offset just past the `:` that follows an entry's key on its line.
    fn colon(&self, entry: &Entry) -> Option<usize> {
        let rest = &self.doc.text[entry.key_end.byte..];
        let skipped = rest.len() - rest.trim_start_matches(' ').len();
        rest[skipped..]
            .starts_with(':')
            .then_some(entry.key_end.byte + skipped + 1)
    }

    /// 2.0.0 writes the Redis address as one `host: name:port`; the separate `port` is gone.
    fn merge_redis_port(&mut self) -> Result<(), Vec<Issue>> {
        let doc = self.doc;
        let Some(port) = doc.entry(&["external_redis", "port"]) else {
            return Ok(());
        };
        let host = doc.entry(&["external_redis", "host"]);
        let Some(host_text) = host.and_then(|h| h.value.scalar()) else {
            return Ok(());
        };
        let port_text = port.value.scalar().unwrap_or_default();

        if host_text.contains(':') || port_text.is_empty() {
            self.remove(port, &["external_redis", "port"])?;
            self.removed.push(
                "external_redis.port: 2.0.0 reads the port from `host`, which already names one"
                    .into(),
            );
            return Ok(());
        }
        if let Some(host) = host {
            self.edits.push(Edit::Replace(
                host.value.start.byte,
                host.value.end.byte,
                yaml_str(&format!("{host_text}:{port_text}")),
            ));
        }
        self.remove(port, &["external_redis", "port"])?;
        self.changes
            .push("merged external_redis.port into external_redis.host as host:port".into());
        Ok(())
    }

    /// 2.8.0 spells `storage_service.redirect.disabled` as `disable`.
    fn rename_redirect_disabled(&mut self) -> Result<(), Vec<Issue>> {
        let doc = self.doc;
        let path = ["storage_service", "redirect", "disabled"];
        let Some(old) = doc.entry(&path) else {
            return Ok(());
        };
        if let Some(both) = doc.entry(&["storage_service", "redirect", "disable"]) {
            self.remove(both, &["storage_service", "redirect", "disable"])?;
            self.removed.push(
                "storage_service.redirect.disable: `disabled` was written too, and upstream's \
                 2.8.0 migration takes its value"
                    .into(),
            );
        }
        self.edits.push(Edit::Replace(
            old.key_start.byte,
            old.key_end.byte,
            "disable".into(),
        ));
        self.changes
            .push("renamed storage_service.redirect.disabled to disable".into());
        Ok(())
    }

    /// 2.10.0 reads `strong_ssl_ciphers` under `https`; an `internal_tls` one moves there.
    fn move_strong_ciphers(&mut self) -> Result<(), Vec<Issue>> {
        let doc = self.doc;
        let from = ["internal_tls", "strong_ssl_ciphers"];
        let (Some(old), Some(https)) = (doc.entry(&from), doc.entry(&["https"])) else {
            return Ok(());
        };
        if https.value.is_null()
            || !matches!(https.value.shape, Shape::Map(..))
            || self.has(&["https", "strong_ssl_ciphers"])
        {
            return Ok(());
        }
        // the value as written, with the comment that ends its line when it is on one line
        let raw = if doc.last_line(&old.value) == old.key_start.line {
            let end = doc.line_start(old.key_start.line) + doc.line(old.key_start.line).len();
            doc.text[old.value.start.byte..end].to_string()
        } else {
            doc.text[old.value.start.byte..old.value.end.byte].to_string()
        };
        self.remove(old, &from)?;
        self.insert_into(
            https,
            &["https"],
            "strong_ssl_ciphers",
            &format!(" {raw}"),
            "moved here from internal_tls, which the 2.10.0 schema no longer reads it from",
        )?;
        self.changes
            .push("moved internal_tls.strong_ssl_ciphers to https.strong_ssl_ciphers".into());
        Ok(())
    }

    fn add_key(&mut self, add: &Add) -> Result<(), Vec<Issue>> {
        let doc = self.doc;
        let Some(parent) = doc.entry(add.parent) else {
            return Ok(());
        };
        let mut path = add.parent.to_vec();
        path.push(add.key);
        if parent.value.is_null()
            || !matches!(parent.value.shape, Shape::Map(..))
            || self.has(&path)
        {
            return Ok(());
        }
        let indent = child_indent(parent);
        let value = add.value.render(indent, doc.nl);
        let about = format!("since {}: {}", add.since, add.about);
        self.insert_into(parent, add.parent, add.key, &value, &about)?;
        self.changes.push(format!(
            "added {}: {}",
            path.join("."),
            add.value.describe()
        ));
        Ok(())
    }

    /// Appends `key` with `value` (the text after `key:`) to a block mapping, under a comment.
    fn insert_into(
        &mut self,
        parent: &Entry,
        path: &[&str],
        key: &str,
        value: &str,
        about: &str,
    ) -> Result<(), Vec<Issue>> {
        let doc = self.doc;
        if !self.in_block(path) || !matches!(parent.value.shape, Shape::Map(false, _)) {
            return Err(vec![flow_issue(&path.join("."), &parent.value)]);
        }
        let indent = child_indent(parent);
        let after = doc.block_end(&parent.value, indent);
        let nl = doc.nl;
        let at = doc.line_end(after);
        let mut text = self.break_before(at).to_string();
        text.push_str(&format!(
            "{:indent$}# {about}{nl}{:indent$}{key}:{value}{nl}",
            "", ""
        ));
        self.edits.push(Edit::Insert(at, text));
        let mut full = path.to_vec();
        full.push(key);
        self.planned.push(full.join("."));
        Ok(())
    }

    fn add_block(&mut self, block: &Block) {
        let doc = self.doc;
        let nl = doc.nl;
        let mut body = format!(
            "# since {}: {}{nl}{}:{nl}",
            block.since, block.about, block.key
        );
        for (key, value) in block.body {
            body.push_str(&format!("  {key}:{}{nl}", value.render(2, nl)));
        }

        // a blank line around the block where the file separates its blocks so
        let spaced = (1..=doc.lines()).any(|l| doc.blank(l));
        match block.before.and_then(|k| doc.root.entry(k)) {
            Some(next) => {
                let first = doc.block_start(next);
                if doc.blank(first.saturating_sub(1)) {
                    body.push_str(nl);
                }
                self.edits.push(Edit::Insert(doc.line_start(first), body));
            }
            None => {
                let at = doc.text.len();
                let mut lead = self.break_before(at).to_string();
                if spaced && !doc.blank(doc.lines()) {
                    lead.push_str(nl);
                }
                self.edits.push(Edit::Insert(at, format!("{lead}{body}")));
            }
        }
        self.planned.push(block.key.to_string());
        let keys: Vec<String> = block
            .body
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.describe()))
            .collect();
        self.changes
            .push(format!("added {} ({})", block.key, keys.join(", ")));
    }
}

/// The indentation of a block mapping's children: that of its first key, or two more than its
/// own key's.
fn child_indent(parent: &Entry) -> usize {
    parent
        .value
        .entries()
        .first()
        .map_or(parent.key_start.col + 2, |e| e.key_start.col)
}

fn mark(pos: Pos) -> Option<Mark> {
    Some(Mark {
        line: pos.line,
        column: pos.col + 1,
    })
}

fn flow_issue(path: &str, node: &Node) -> Issue {
    let what = if path.is_empty() {
        "the document".to_string()
    } else {
        format!("`{path}`")
    };
    Issue::new(
        path,
        mark(node.start),
        Code::WrongType,
        format!(
            "{what} must be a block mapping (`key: value` on lines of their own) for migration \
             to edit it; rewrite it without `{{...}}` and migrate again"
        ),
    )
}

fn layout_issue(path: &[&str], entry: &Entry, what: &str) -> Issue {
    let path = path.join(".");
    Issue::new(
        path.clone(),
        mark(entry.key_start),
        Code::WrongType,
        format!(
            "migration has to {what} `{path}` but edits only block mappings and lists, one \
             entry per line; rewrite it that way and migrate again"
        ),
    )
}

/// A unified diff of two texts, line by line, with three lines of context, as `diff -u` prints
/// it; empty when they are equal.
///
/// The lines are matched by a longest common subsequence, which costs time and memory in the
/// product of the two line counts once the common head and tail are set aside; past four
/// million cells the changed middle is shown as removed and added as a whole.
///
/// ```
/// let diff = harbor_prep::migrate::unified_diff("a\nb\nc\n", "a\nB\nc\n", "old", "new");
/// assert_eq!(diff, "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
/// ```
pub fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    const CONTEXT: usize = 3;

    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let ops = diff_lines(&a, &b);
    let changes: Vec<usize> = (0..ops.len())
        .filter(|i| !matches!(ops[*i], Op::Same(..)))
        .collect();
    let Some(&first) = changes.first() else {
        return String::new();
    };

    // group changes whose gap of equal lines is small enough to share context
    let mut groups = vec![(first, first)];
    for &c in &changes[1..] {
        match groups.last_mut() {
            Some(g) if c - g.1 <= 2 * CONTEXT + 1 => g.1 = c,
            _ => groups.push((c, c)),
        }
    }

    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for (from, to) in groups {
        let lo = from.saturating_sub(CONTEXT);
        let hi = (to + CONTEXT + 1).min(ops.len());
        let hunk = &ops[lo..hi];
        let (old_at, new_at) = ops[lo].at();
        let old_len = hunk.iter().filter(|o| !matches!(o, Op::Add(..))).count();
        let new_len = hunk.iter().filter(|o| !matches!(o, Op::Del(..))).count();
        out.push_str(&format!(
            "@@ -{} +{} @@\n",
            range(old_at, old_len),
            range(new_at, new_len)
        ));
        for op in hunk {
            let (sign, line) = match *op {
                Op::Same(i, _) => (' ', a[i]),
                Op::Del(i, _) => ('-', a[i]),
                Op::Add(_, j) => ('+', b[j]),
            };
            out.push(sign);
            out.push_str(line);
            if !line.ends_with('\n') {
                out.push_str("\n\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// A hunk range: 1-based start and length, the length left out when it is 1.
fn range(at: usize, len: usize) -> String {
    match len {
        0 => format!("{at},0"),
        1 => format!("{}", at + 1),
        _ => format!("{},{len}", at + 1),
    }
}

/// One line of a diff, with the positions in the old and new text where it stands.
#[derive(Debug, Clone, Copy)]
enum Op {
    Same(usize, usize),
    Del(usize, usize),
    Add(usize, usize),
}

impl Op {
    fn at(self) -> (usize, usize) {
        match self {
            Op::Same(i, j) | Op::Del(i, j) | Op::Add(i, j) => (i, j),
        }
    }
}

fn diff_lines(a: &[&str], b: &[&str]) -> Vec<Op> {
    const MAX_CELLS: usize = 4_000_000;

    let head = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let tail = a[head..]
        .iter()
        .rev()
        .zip(b[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (x, y) = (&a[head..a.len() - tail], &b[head..b.len() - tail]);
    let (n, m) = (x.len(), y.len());

    let mut ops: Vec<Op> = (0..head).map(|i| Op::Same(i, i)).collect();
    if (n + 1).saturating_mul(m + 1) > MAX_CELLS {
        ops.extend((0..n).map(|i| Op::Del(head + i, head)));
        ops.extend((0..m).map(|j| Op::Add(head + n, head + j)));
    } else {
        // lcs[i * (m + 1) + j]: the longest common subsequence of x[i..] and y[j..]
        let w = m + 1;
        let mut lcs = vec![0u32; (n + 1) * w];
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                lcs[i * w + j] = if x[i] == y[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && x[i] == y[j] {
                ops.push(Op::Same(head + i, head + j));
                i += 1;
                j += 1;
            } else if j == m || (i < n && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                ops.push(Op::Del(head + i, head + j));
                i += 1;
            } else {
                ops.push(Op::Add(head + i, head + j));
                j += 1;
            }
        }
    }
    ops.extend((0..tail).map(|k| Op::Same(a.len() - tail + k, b.len() - tail + k)));
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_numbers_read_as_their_schema() {
        assert_eq!(schema_of("2.11.1"), Some("2.11.0"));
        assert_eq!(schema_of("v2.10"), Some("2.10.0"));
        assert_eq!(schema_of("1.9.0"), Some("1.9.0"));
        assert_eq!(schema_of("1.8.0"), None);
        assert_eq!(schema_of("2.16.0"), None);
        assert_eq!(schema_of("2.x"), None);
    }

    #[test]
    fn inserts_inside_a_replaced_range_move_to_its_start() {
        let out = apply(
            "abcdef",
            vec![
                Edit::Insert(3, "X".into()),
                Edit::Replace(1, 4, String::new()),
                Edit::Insert(6, "Y".into()),
                Edit::Insert(6, "Z".into()),
            ],
        );
        assert_eq!(out.as_deref(), Ok("aXefYZ"));
        assert!(
            apply(
                "abc",
                vec![
                    Edit::Replace(0, 2, "".into()),
                    Edit::Replace(1, 3, "".into())
                ]
            )
            .is_err()
        );
    }

    #[test]
    fn block_ends_skip_trailing_blank_lines_of_literals() {
        let doc = Doc::parse("a:\n  b: |\n    x\n\nc: 1\n").unwrap();
        let a = doc.entry(&["a"]).unwrap();
        assert_eq!(doc.last_line(&a.value), 3);
    }
}
