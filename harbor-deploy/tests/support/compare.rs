//! Semantic comparison of upstream Harbor `prepare` output with ours.
//!
//! Each comparator takes the reference text first and ours second, and returns the differences as
//! human-readable lines; an empty list means the two are equivalent. Nothing here panics on bad
//! input: a file that cannot be read or parsed becomes a difference.
//!
//! What "equivalent" means per format is written on each comparator; the approximations are
//! listed in the doc comment of the function that makes them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::der_parser::ber::{BerObject, BerObjectContent};
use x509_parser::der_parser::oid::Oid;
use x509_parser::extensions::{GeneralName, ParsedExtension, X509Extension};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Differences found by a comparator; empty means equivalent.
pub type Diffs = Vec<String>;

/// An env-file reader: text in, `(key, value)` pairs in file order out.
///
/// The harness passes `harbor_prep::envfile::parse`; the self-tests use [`fallback_env_parse`].
pub type EnvParser = fn(&str) -> Result<Vec<(String, String)>, String>;

/// Lists longer than this are compared position by position instead of being aligned.
const ALIGN_LIMIT: usize = 2_000_000;

/// Nesting deeper than this is treated as a parse error (nginx blocks).
const MAX_DEPTH: usize = 64;

// ---------------------------------------------------------------------------------------------
// manifest.json
// ---------------------------------------------------------------------------------------------

/// The parts of a case's `manifest.json` the comparison uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Data volume of the case (`/data` unless the case says otherwise; empty for gencert).
    #[serde(default)]
    pub data_volume: String,
    /// Exit code of upstream `prepare`.
    #[serde(default)]
    pub exit_code: i32,
    /// Space-separated paths (relative to `/`) that upstream wrote to the host file system.
    #[serde(default)]
    pub hostfs_written: String,
    /// Every file and directory upstream wrote.
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// Kind of a manifest entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
}

/// One file or directory of a manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct Entry {
    /// Path relative to the case directory, such as `config/core/env`.
    pub path: String,
    /// File or directory.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Permission bits as an octal string such as `0640`.
    pub mode: String,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// True when a second fresh upstream run wrote different content.
    #[serde(default)]
    pub random: bool,
    /// 1-based lines whose content is random.
    #[serde(default)]
    pub random_lines: Vec<usize>,
    /// 1-based lines whose comma-separated items come in random order (NO_PROXY).
    #[serde(default)]
    pub order_only_lines: Vec<usize>,
}

impl Manifest {
    /// Parses the text of a `manifest.json`.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        serde_json::from_str(text).map_err(|e| format!("manifest.json: {e}"))
    }

    /// Reads and parses a `manifest.json`.
    pub fn load(path: &Path) -> Result<Manifest, String> {
        let text =
            fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Manifest::parse(&text)
    }

    /// The entry for `path`, if the manifest has one.
    pub fn entry(&self, path: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.path == path)
    }

    /// The paths of `hostfs_written`, relative to `/`.
    pub fn hostfs_written(&self) -> BTreeSet<String> {
        self.hostfs_written
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}

impl Entry {
    /// The permission bits, parsed from the octal string.
    pub fn mode_bits(&self) -> Result<u32, String> {
        u32::from_str_radix(&self.mode, 8).map_err(|e| format!("mode {:?}: {e}", self.mode))
    }

    /// Which lines of this file are random or order-only.
    pub fn hints(&self) -> LineHints {
        LineHints {
            random_file: self.random,
            random: self.random_lines.iter().copied().collect(),
            order_only: self.order_only_lines.iter().copied().collect(),
        }
    }
}

/// Where the content of a reference file is allowed to differ from ours.
#[derive(Debug, Clone, Default)]
pub struct LineHints {
    /// The file as a whole differed between two upstream runs.
    pub random_file: bool,
    /// 1-based lines of the reference whose value is random: compared by shape.
    pub random: BTreeSet<usize>,
    /// 1-based lines of the reference that are comma-separated sets: compared as sets.
    pub order_only: BTreeSet<usize>,
}

// ---------------------------------------------------------------------------------------------
// random values
// ---------------------------------------------------------------------------------------------

/// A named character class and its membership test.
type CharClass = (&'static str, fn(char) -> bool);

/// Character classes a random value can be drawn from, narrowest first.
const CLASSES: &[CharClass] = &[
    ("digits", |c| c.is_ascii_digit()),
    ("lower-case hex", |c| {
        c.is_ascii_digit() || ('a'..='f').contains(&c)
    }),
    ("upper-case hex", |c| {
        c.is_ascii_digit() || ('A'..='F').contains(&c)
    }),
    ("alphanumeric", |c| c.is_ascii_alphanumeric()),
    ("base64", |c| c.is_ascii_alphanumeric() || "+/=".contains(c)),
    ("base64url", |c| {
        c.is_ascii_alphanumeric() || "-_=".contains(c)
    }),
    ("printable ASCII", |c| c.is_ascii_graphic()),
];

/// The narrowest class of [`CLASSES`] holding every character of `value`.
fn char_class(value: &str) -> Option<CharClass> {
    CLASSES
        .iter()
        .copied()
        .find(|(_, member)| value.chars().all(member))
}

/// Splits a bcrypt hash into its prefix (`$2y$05$`) when it has the 60-character shape.
fn bcrypt_prefix(value: &str) -> Option<&str> {
    let bytes = value.as_bytes();
    let shaped = bytes.len() == 60
        && bytes[0] == b'$'
        && bytes[1] == b'2'
        && bytes[2].is_ascii_lowercase()
        && bytes[3] == b'$'
        && bytes[4].is_ascii_digit()
        && bytes[5].is_ascii_digit()
        && bytes[6] == b'$'
        && bytes[7..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/');
    if shaped { value.get(..7) } else { None }
}

/// Compares two random values by shape; `None` when they have the same shape.
///
/// A bcrypt hash (`$2y$NN$` + 53 characters) must be a bcrypt hash with the same variant and
/// cost. Anything else must have the same length and use only characters of the narrowest class
/// (digits, hex, alphanumeric, base64, printable) that holds the reference value. A reference
/// value that happens to fall in a narrower class than its generator's (say all digits) makes
/// the check stricter than intended; for 16+ random characters that is negligible.
pub fn shape_difference(reference: &str, ours: &str) -> Option<String> {
    if let Some(prefix) = bcrypt_prefix(reference) {
        return match bcrypt_prefix(ours) {
            Some(our_prefix) if our_prefix == prefix => None,
            Some(our_prefix) => Some(format!(
                "bcrypt variant/cost {our_prefix:?}, reference has {prefix:?}"
            )),
            None => Some(format!(
                "{} is not a bcrypt hash like the reference",
                show(ours)
            )),
        };
    }

    let (ref_len, our_len) = (reference.chars().count(), ours.chars().count());
    if ref_len != our_len {
        return Some(format!(
            "random value of length {our_len}, reference has length {ref_len}"
        ));
    }

    match char_class(reference) {
        Some((name, member)) if !ours.chars().all(member) => Some(format!(
            "random value {} is not {name} like the reference",
            show(ours)
        )),
        Some(_) => None,
        None if reference == ours => None,
        None => Some(format!(
            "reference value {} has no known character class, ours {}",
            show(reference),
            show(ours)
        )),
    }
}

/// Quotes a value for a message, cutting it when it is long.
fn show(value: &str) -> String {
    const MAX: usize = 120;
    if value.chars().count() > MAX {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}...")
    } else {
        format!("{value:?}")
    }
}

// ---------------------------------------------------------------------------------------------
// alignment (longest common subsequence) shared by the ordered comparators
// ---------------------------------------------------------------------------------------------

/// One step of an alignment of two sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `reference[i]` matches `ours[j]`.
    Both(usize, usize),
    /// `reference[i]` has no partner.
    Reference(usize),
    /// `ours[j]` has no partner.
    Ours(usize),
}

/// Aligns two sequences on a longest common subsequence under `same`.
fn align<T>(reference: &[T], ours: &[T], same: impl Fn(&T, &T) -> bool) -> Vec<Step> {
    let (n, m) = (reference.len(), ours.len());
    if n.saturating_mul(m) > ALIGN_LIMIT {
        return positional(n, m, |i, j| same(&reference[i], &ours[j]));
    }

    // lengths[i][j] = LCS length of reference[i..] and ours[j..]
    let mut lengths = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lengths[i][j] = if same(&reference[i], &ours[j]) {
                lengths[i + 1][j + 1] + 1
            } else {
                lengths[i + 1][j].max(lengths[i][j + 1])
            };
        }
    }

    let (mut i, mut j, mut steps) = (0, 0, Vec::new());
    while i < n && j < m {
        if same(&reference[i], &ours[j]) {
            steps.push(Step::Both(i, j));
            i += 1;
            j += 1;
        } else if lengths[i + 1][j] >= lengths[i][j + 1] {
            steps.push(Step::Reference(i));
            i += 1;
        } else {
            steps.push(Step::Ours(j));
            j += 1;
        }
    }
    steps.extend((i..n).map(Step::Reference));
    steps.extend((j..m).map(Step::Ours));
    steps
}

/// Position-by-position alignment for inputs too long to align properly.
fn positional(n: usize, m: usize, same: impl Fn(usize, usize) -> bool) -> Vec<Step> {
    let mut steps = Vec::new();
    for k in 0..n.max(m) {
        match (k < n, k < m) {
            (true, true) if same(k, k) => steps.push(Step::Both(k, k)),
            (true, true) => {
                steps.push(Step::Reference(k));
                steps.push(Step::Ours(k));
            }
            (true, false) => steps.push(Step::Reference(k)),
            _ => steps.push(Step::Ours(k)),
        }
    }
    steps
}

/// An unmatched item of an alignment: its index and the number of matched pairs before it.
type Gapped = (usize, usize);

/// Unmatched items of an alignment: `(index, gap)` for each side, where `gap` counts the
/// matched pairs before the item, so items in the same gap sit at the same place.
fn unmatched(steps: &[Step]) -> (Vec<Gapped>, Vec<Gapped>) {
    let (mut gap, mut left, mut right) = (0, Vec::new(), Vec::new());
    for step in steps {
        match *step {
            Step::Both(..) => gap += 1,
            Step::Reference(i) => left.push((i, gap)),
            Step::Ours(j) => right.push((j, gap)),
        }
    }
    (left, right)
}

// ---------------------------------------------------------------------------------------------
// YAML
// ---------------------------------------------------------------------------------------------

/// How a null in one tree may stand for another value in the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullMeans {
    /// The reader decodes the key into a string field, so null and `""` are the same.
    EmptyString,
    /// The reader treats the key as an options map, so null and `{}` are the same.
    EmptyMap,
}

/// Places where a null written by upstream equals another value, as the consumer reads it.
///
/// `(file name suffix, dotted path with * for any one key, meaning, why)`.
pub const NULL_EQUIVALENCES: &[(&str, &str, NullMeans, &str)] = &[
    (
        "registry/config.yml",
        "redis.password",
        NullMeans::EmptyString,
        "distribution decodes redis.password into a Go string: `password: ` reads as \"\"",
    ),
    (
        "registry/config.yml",
        "redis.username",
        NullMeans::EmptyString,
        "distribution decodes redis.username into a Go string: `username: ` reads as \"\"",
    ),
    (
        "docker-compose.yml",
        "services.*.networks.*",
        NullMeans::EmptyMap,
        "compose reads `networks: {harbor: }` as attaching with default options, like `{}`",
    ),
];

/// Options for reading YAML without guessing types the consumer would not guess.
///
/// `strict_booleans` keeps `yes`/`on` strings (YAML 1.2, as Go's yaml.v3 and compose read them
/// into untyped values); `leading_zero_numbers_as_strings` keeps `0755` a string instead of the
/// float 755.0 serde-saphyr makes of it by default.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    }
}

/// Reads a YAML document into a JSON-like tree.
pub fn load_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str_with_options::<Value>(text, yaml_options()).map_err(|e| e.to_string())
}

/// Compares two YAML documents as trees.
///
/// Map key order is free; list order is kept (a list with the same items in another order is
/// reported as such); scalar types are compared: `8080` and `"8080"` differ, and so do `1` and
/// `1.0`. `file` (the path of the file, such as `config/registry/config.yml`) selects the
/// documented [`NULL_EQUIVALENCES`]; compose `services.*.networks` given as a list of names is
/// read as the map form, as compose does. Comments, quoting style, anchors and block/flow style
/// are ignored because the parser resolves them. Go's yaml.v2 would still resolve some plain
/// scalars differently from this YAML 1.2 reading (`yes` into a bool field, `0755` into an int
/// field); such spellings are reported as different from `true`/`493`, which errs on the safe
/// side.
pub fn compare_yaml(file: &str, reference: &str, ours: &str) -> Diffs {
    let (reference, ours) = match (load_yaml(reference), load_yaml(ours)) {
        (Ok(r), Ok(o)) => (r, o),
        (r, o) => {
            let mut diffs = Vec::new();
            if let Err(e) = r {
                diffs.push(format!("reference does not parse as YAML: {e}"));
            }
            if let Err(e) = o {
                diffs.push(format!("does not parse as YAML: {e}"));
            }
            return diffs;
        }
    };

    let (reference, ours) = (normalize_yaml(file, reference), normalize_yaml(file, ours));
    let rules: Vec<(Vec<&str>, NullMeans)> = NULL_EQUIVALENCES
        .iter()
        .filter(|(suffix, ..)| file.ends_with(suffix))
        .map(|(_, pattern, means, _)| (pattern.split('.').collect(), *means))
        .collect();

    let mut diffs = Vec::new();
    diff_values(&mut Vec::new(), &reference, &ours, &rules, &mut diffs);
    diffs
}

/// Rewrites spellings the consumer reads identically into one form.
fn normalize_yaml(file: &str, mut value: Value) -> Value {
    if !file.ends_with("docker-compose.yml") {
        return value;
    }
    let Some(services) = value.get_mut("services").and_then(Value::as_object_mut) else {
        return value;
    };
    for service in services.values_mut() {
        let Some(networks) = service.get_mut("networks") else {
            continue;
        };
        let names: Option<Vec<String>> = networks.as_array().map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        });
        let all_names = names.as_ref().map(Vec::len) == networks.as_array().map(Vec::len);
        if let (Some(names), true) = (names, all_names) {
            *networks = Value::Object(names.into_iter().map(|n| (n, Value::Null)).collect());
        }
    }
    value
}

/// Whether a rule lets `reference` and `ours` stand for each other at `path`.
fn null_equivalent(
    path: &[String],
    reference: &Value,
    ours: &Value,
    rules: &[(Vec<&str>, NullMeans)],
) -> bool {
    let other = match (reference, ours) {
        (Value::Null, other) | (other, Value::Null) => other,
        _ => return false,
    };
    rules.iter().any(|(pattern, means)| {
        let matches = pattern.len() == path.len()
            && pattern.iter().zip(path).all(|(p, k)| *p == "*" || p == k);
        matches
            && match means {
                NullMeans::EmptyString => other.as_str() == Some(""),
                NullMeans::EmptyMap => other.as_object().is_some_and(|m| m.is_empty()),
            }
    })
}

/// Describes a YAML value with its type for a message.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => format!("bool {b}"),
        Value::Number(n) if n.is_f64() => format!("float {n}"),
        Value::Number(n) => format!("integer {n}"),
        Value::String(s) => format!("string {}", show(s)),
        Value::Array(items) => format!("list of {}", items.len()),
        Value::Object(map) => format!("map of {} keys", map.len()),
    }
}

/// Renders a key path as `a.b[2].c`.
fn dotted(path: &[String]) -> String {
    if path.is_empty() {
        return "(document)".to_string();
    }
    let mut out = String::new();
    for key in path {
        if key.starts_with('[') {
            out.push_str(key);
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
    }
    out
}

/// Recursive tree comparison behind [`compare_yaml`].
fn diff_values(
    path: &mut Vec<String>,
    reference: &Value,
    ours: &Value,
    rules: &[(Vec<&str>, NullMeans)],
    diffs: &mut Diffs,
) {
    if reference == ours || null_equivalent(path, reference, ours, rules) {
        return;
    }

    match (reference, ours) {
        (Value::Object(r), Value::Object(o)) => {
            for (key, r_value) in r {
                path.push(key.clone());
                match o.get(key) {
                    Some(o_value) => diff_values(path, r_value, o_value, rules, diffs),
                    None => diffs.push(format!(
                        "{}: missing (reference {})",
                        dotted(path),
                        describe(r_value)
                    )),
                }
                path.pop();
            }
            for (key, o_value) in o.iter().filter(|(k, _)| !r.contains_key(*k)) {
                path.push(key.clone());
                diffs.push(format!(
                    "{}: unexpected {}",
                    dotted(path),
                    describe(o_value)
                ));
                path.pop();
            }
        }
        (Value::Array(r), Value::Array(o)) => diff_lists(path, r, o, rules, diffs),
        _ => diffs.push(format!(
            "{}: reference {}, ours {}",
            dotted(path),
            describe(reference),
            describe(ours)
        )),
    }
}

/// Compares two YAML lists, keeping order.
fn diff_lists(
    path: &mut Vec<String>,
    reference: &[Value],
    ours: &[Value],
    rules: &[(Vec<&str>, NullMeans)],
    diffs: &mut Diffs,
) {
    let sorted = |items: &[Value]| {
        let mut texts: Vec<String> = items.iter().map(Value::to_string).collect();
        texts.sort();
        texts
    };
    if reference.len() == ours.len() && sorted(reference) == sorted(ours) {
        diffs.push(format!("{}: same items in a different order", dotted(path)));
        return;
    }

    if reference.len() == ours.len() {
        for (index, (r, o)) in reference.iter().zip(ours).enumerate() {
            path.push(format!("[{index}]"));
            diff_values(path, r, o, rules, diffs);
            path.pop();
        }
        return;
    }

    let steps = align(reference, ours, |a, b| a == b);
    let (left, right) = unmatched(&steps);
    for (i, _) in left {
        diffs.push(format!(
            "{}[{i}]: missing {}",
            dotted(path),
            describe_item(&reference[i])
        ));
    }
    for (j, _) in right {
        diffs.push(format!(
            "{}[{j}]: unexpected {}",
            dotted(path),
            describe_item(&ours[j])
        ));
    }
}

/// Describes a list item; scalars and small items are shown in full.
fn describe_item(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => show(&value.to_string()),
        _ => describe(value),
    }
}

// ---------------------------------------------------------------------------------------------
// env files
// ---------------------------------------------------------------------------------------------

/// FALLBACK env-file reader for the comparator self-tests, NOT Docker Compose's rules.
///
/// Reads unquoted `KEY=VALUE` lines only: blank lines and lines starting with `#` are skipped,
/// the key is trimmed, the value is everything after the first `=` with no quote, escape or
/// comment handling. The reference files are written this way, so it reads them exactly; for
/// our files the harness passes the real reader (`harbor_prep::envfile::parse`).
pub fn fallback_env_parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((key, value)) => pairs.push((key.trim().to_string(), value.to_string())),
            None => return Err(format!("line {}: no '=' in {}", index + 1, show(line))),
        }
    }
    Ok(pairs)
}

/// Keys that are comma-separated sets in every env file, whatever the manifest says.
///
/// Upstream builds NO_PROXY from a Python set, so its order carries no meaning even in a file
/// where two upstream runs happened to agree.
const SET_KEYS: &[&str] = &["NO_PROXY"];

/// The key written on 1-based `line` of a plain `KEY=VALUE` reference file.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let content = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = content.split_once('=')?;
    Some(key.trim().to_string())
}

/// Reads env text into a map, duplicate keys resolved as Compose does: the last one wins.
pub fn env_map(text: &str, parse: EnvParser) -> Result<BTreeMap<String, String>, String> {
    Ok(parse(text)?.into_iter().collect())
}

/// Compares two env files as Docker Compose reads them.
///
/// Both texts go through `parse`, then keys are compared as sets (order free, last duplicate
/// wins). A key on a random line of the reference is compared by [`shape_difference`]; a key on
/// an order-only line, and NO_PROXY everywhere, as a set of comma-separated items; every other
/// value must be equal. A key set to an empty value and an absent key differ (a container sees
/// the variable set in one case and unset in the other).
pub fn compare_env(reference: &str, ours: &str, parse: EnvParser, hints: &LineHints) -> Diffs {
    let (ref_map, our_map) = match (env_map(reference, parse), env_map(ours, parse)) {
        (Ok(r), Ok(o)) => (r, o),
        (r, o) => {
            let mut diffs = Vec::new();
            if let Err(e) = r {
                diffs.push(format!("reference does not parse as an env file: {e}"));
            }
            if let Err(e) = o {
                diffs.push(format!("does not parse as an env file: {e}"));
            }
            return diffs;
        }
    };

    let random: BTreeSet<String> = hints
        .random
        .iter()
        .filter_map(|&l| key_on_line(reference, l))
        .collect();
    let mut sets: BTreeSet<String> = hints
        .order_only
        .iter()
        .filter_map(|&l| key_on_line(reference, l))
        .collect();
    sets.extend(SET_KEYS.iter().map(|k| k.to_string()));

    let mut diffs = Vec::new();
    for (key, r) in &ref_map {
        let Some(o) = our_map.get(key) else {
            diffs.push(format!("{key}: missing (reference {})", show(r)));
            continue;
        };
        if random.contains(key) {
            if let Some(d) = shape_difference(r, o) {
                diffs.push(format!("{key}: {d}"));
            }
        } else if sets.contains(key) {
            diffs.extend(compare_item_sets(key, r, o));
        } else if r != o {
            diffs.push(format!("{key}: reference {}, ours {}", show(r), show(o)));
        }
    }
    for (key, o) in our_map.iter().filter(|(k, _)| !ref_map.contains_key(*k)) {
        diffs.push(format!("{key}: unexpected (ours {})", show(o)));
    }
    diffs
}

/// Compares two comma-separated lists as sets.
fn compare_item_sets(key: &str, reference: &str, ours: &str) -> Diffs {
    let r: BTreeSet<&str> = reference.split(',').collect();
    let o: BTreeSet<&str> = ours.split(',').collect();
    let missing: Vec<&str> = r.difference(&o).copied().collect();
    let extra: Vec<&str> = o.difference(&r).copied().collect();
    let mut diffs = Vec::new();
    if !missing.is_empty() {
        diffs.push(format!("{key}: items missing: {}", missing.join(",")));
    }
    if !extra.is_empty() {
        diffs.push(format!("{key}: unexpected items: {}", extra.join(",")));
    }
    diffs
}

/// Checks that secrets shared between env files in the reference are shared in ours too.
///
/// `reference` and `ours` map a file path to its text; `random` holds the random lines per
/// reference file. Every random value of the reference is looked up across all reference env
/// files: each `(file, key)` that carries the same value (CORE_SECRET in core, jobservice and
/// registryctl, say) must carry one common value in ours.
pub fn compare_shared_secrets(
    reference: &BTreeMap<String, String>,
    ours: &BTreeMap<String, String>,
    random: &BTreeMap<String, LineHints>,
    parse: EnvParser,
) -> Diffs {
    let read = |files: &BTreeMap<String, String>| -> BTreeMap<(String, String), String> {
        let mut all = BTreeMap::new();
        for (file, text) in files {
            for (key, value) in env_map(text, parse).unwrap_or_default() {
                all.insert((file.clone(), key), value);
            }
        }
        all
    };
    let (ref_values, our_values) = (read(reference), read(ours));

    // group every place of the reference that carries the same random value
    let mut groups: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (file, hints) in random {
        let Some(text) = reference.get(file) else {
            continue;
        };
        for key in hints.random.iter().filter_map(|&l| key_on_line(text, l)) {
            let Some(value) = ref_values.get(&(file.clone(), key)) else {
                continue;
            };
            let places = ref_values
                .iter()
                .filter(|(_, v)| *v == value)
                .map(|(p, _)| p.clone());
            groups.entry(value.clone()).or_default().extend(places);
        }
    }

    let mut diffs = Vec::new();
    for places in groups.values().filter(|p| p.len() > 1) {
        let values: BTreeSet<Option<&String>> = places.iter().map(|p| our_values.get(p)).collect();
        if values.len() > 1 {
            let names: Vec<String> = places.iter().map(|(f, k)| format!("{f}:{k}")).collect();
            diffs.push(format!(
                "these must carry one shared secret but differ: {}",
                names.join(", ")
            ));
        }
    }
    diffs
}

// ---------------------------------------------------------------------------------------------
// app.conf (beego INI)
// ---------------------------------------------------------------------------------------------

/// Sections of an INI file, each a map of keys to values.
pub type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// Reads an INI file the way beego's `config` package does.
///
/// Keys before the first `[section]` go to `default`; section and key names are lower-cased;
/// `#` and `;` start comment lines; the value is trimmed and one pair of surrounding double
/// quotes is removed; a later duplicate key wins; a non-comment line without `=` is an error.
pub fn parse_ini(text: &str) -> Result<Ini, String> {
    let mut ini = Ini::new();
    let mut section = "default".to_string();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_lowercase();
            ini.entry(section.clone()).or_default();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "line {}: expected key = value, found {}",
                index + 1,
                show(raw)
            ));
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        ini.entry(section.clone())
            .or_default()
            .insert(key.trim().to_lowercase(), value.to_string());
    }
    Ok(ini)
}

/// Compares two beego INI files (core's app.conf): same sections, keys and values.
pub fn compare_app_conf(reference: &str, ours: &str) -> Diffs {
    let (reference, ours) = match (parse_ini(reference), parse_ini(ours)) {
        (Ok(r), Ok(o)) => (r, o),
        (r, o) => {
            let mut diffs = Vec::new();
            if let Err(e) = r {
                diffs.push(format!("reference does not parse as INI: {e}"));
            }
            if let Err(e) = o {
                diffs.push(format!("does not parse as INI: {e}"));
            }
            return diffs;
        }
    };

    let empty = BTreeMap::new();
    let mut diffs = Vec::new();
    let sections: BTreeSet<&String> = reference.keys().chain(ours.keys()).collect();
    for section in sections {
        let (r, o) = (reference.get(section), ours.get(section));
        if r.is_none() {
            diffs.push(format!("[{section}]: unexpected section"));
        }
        if o.is_none() {
            diffs.push(format!("[{section}]: missing section"));
        }
        let (r, o) = (r.unwrap_or(&empty), o.unwrap_or(&empty));
        let keys: BTreeSet<&String> = r.keys().chain(o.keys()).collect();
        for key in keys {
            match (r.get(key), o.get(key)) {
                (Some(a), Some(b)) if a != b => diffs.push(format!(
                    "[{section}] {key}: reference {}, ours {}",
                    show(a),
                    show(b)
                )),
                (Some(a), None) => diffs.push(format!(
                    "[{section}] {key}: missing (reference {})",
                    show(a)
                )),
                (None, Some(b)) => {
                    diffs.push(format!("[{section}] {key}: unexpected (ours {})", show(b)))
                }
                _ => {}
            }
        }
    }
    diffs
}

// ---------------------------------------------------------------------------------------------
// nginx
// ---------------------------------------------------------------------------------------------

/// One nginx directive: name, arguments and, for a block directive, its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// Directive name, such as `location`.
    pub name: String,
    /// Arguments after unquoting, such as `["/v2/"]`.
    pub args: Vec<String>,
    /// Children when the directive opens a `{ }` block.
    pub block: Option<Vec<Directive>>,
    /// Line of the directive name, for messages.
    pub line: usize,
}

impl Directive {
    /// `name arg1 arg2`, with arguments quoted when they hold spaces or delimiters.
    pub fn header(&self) -> String {
        let words: Vec<String> = std::iter::once(&self.name)
            .chain(&self.args)
            .map(|word| quote_word(word))
            .collect();
        let mut out = words.join(" ");
        if self.block.is_some() {
            out.push_str(" {}");
        }
        out
    }

    /// Same name, arguments and kind (block or not), children not compared.
    fn same_header(&self, other: &Directive) -> bool {
        self.name == other.name
            && self.args == other.args
            && self.block.is_some() == other.block.is_some()
    }
}

/// A word as nginx would need it written: quoted when empty or holding spaces or delimiters.
fn quote_word(word: &str) -> String {
    let plain = !word.is_empty()
        && !word
            .chars()
            .any(|c| c.is_whitespace() || ";{}#\"'\\".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("{word:?}")
    }
}

/// A token of an nginx configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A word or a quoted string, unquoted.
    Word(String),
    /// `;`
    Semi,
    /// `{`
    Open,
    /// `}`
    Close,
}

/// Undoes the escapes nginx undoes: `\"`, `\'`, `\\`, `\t`, `\r`, `\n`; other backslashes stay.
fn unescape(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some(q @ ('"' | '\'' | '\\')) => {
                out.push(q);
                chars.next();
            }
            Some('t') => {
                out.push('\t');
                chars.next();
            }
            Some('r') => {
                out.push('\r');
                chars.next();
            }
            Some('n') => {
                out.push('\n');
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    out
}

/// Splits nginx text into tokens with their line numbers, following nginx's own reader.
///
/// `#` starts a comment only where a token would start; `;` and `{` end a word (except `{`
/// right after `$`, as in `${var}`); `}` is only a delimiter where a token would start; a quoted
/// string must be followed by a space or a delimiter.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut tokens) = (0, 1, Vec::new());

    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if let Some(t) = match c {
            ';' => Some(Token::Semi),
            '{' => Some(Token::Open),
            '}' => Some(Token::Close),
            _ => None,
        } {
            tokens.push((t, line));
            i += 1;
        } else if c == '"' || c == '\'' {
            let start = line;
            let mut raw = String::new();
            i += 1;
            loop {
                let Some(&ch) = chars.get(i) else {
                    return Err(format!("line {start}: unterminated quoted string"));
                };
                if ch == '\\' && i + 1 < chars.len() {
                    raw.push(ch);
                    raw.push(chars[i + 1]);
                    line += usize::from(chars[i + 1] == '\n');
                    i += 2;
                    continue;
                }
                i += 1;
                if ch == c {
                    break;
                }
                line += usize::from(ch == '\n');
                raw.push(ch);
            }
            match chars.get(i) {
                Some(&next) if !(next.is_whitespace() || ";{}".contains(next)) => {
                    return Err(format!(
                        "line {line}: unexpected {next:?} after a quoted string"
                    ));
                }
                _ => {}
            }
            tokens.push((Token::Word(unescape(&raw)), start));
        } else {
            let mut raw = String::new();
            let mut variable = false;
            while let Some(&ch) = chars.get(i) {
                if ch.is_whitespace() || ch == ';' || (ch == '{' && !variable) {
                    break;
                }
                if ch == '\\' && i + 1 < chars.len() {
                    raw.push(ch);
                    raw.push(chars[i + 1]);
                    i += 2;
                    variable = false;
                    continue;
                }
                variable = ch == '$';
                raw.push(ch);
                i += 1;
            }
            tokens.push((Token::Word(unescape(&raw)), line));
        }
    }
    Ok(tokens)
}

/// Parses nginx configuration text into a directive tree; comments and layout are dropped.
pub fn parse_nginx(text: &str) -> Result<Vec<Directive>, String> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let tree = parse_block(&tokens, &mut pos, 0)?;
    Ok(tree)
}

/// Parses directives up to the `}` closing the current block (or the end at depth 0).
fn parse_block(
    tokens: &[(Token, usize)],
    pos: &mut usize,
    depth: usize,
) -> Result<Vec<Directive>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("blocks nested deeper than {MAX_DEPTH}"));
    }

    let mut directives = Vec::new();
    loop {
        let Some((token, line)) = tokens.get(*pos) else {
            return if depth == 0 {
                Ok(directives)
            } else {
                Err("unexpected end of file, expecting \"}\"".to_string())
            };
        };
        let line = *line;
        match token {
            Token::Close if depth == 0 => return Err(format!("line {line}: unexpected \"}}\"")),
            Token::Close => {
                *pos += 1;
                return Ok(directives);
            }
            Token::Semi => return Err(format!("line {line}: unexpected \";\"")),
            Token::Open => return Err(format!("line {line}: block without a directive name")),
            Token::Word(_) => {}
        }

        let mut words = Vec::new();
        while let Some((Token::Word(w), _)) = tokens.get(*pos) {
            words.push(w.clone());
            *pos += 1;
        }
        let name = words.remove(0);
        match tokens.get(*pos).map(|(t, _)| t) {
            Some(Token::Semi) => {
                *pos += 1;
                directives.push(Directive {
                    name,
                    args: words,
                    block: None,
                    line,
                });
            }
            Some(Token::Open) => {
                *pos += 1;
                let block = parse_block(tokens, pos, depth + 1)?;
                directives.push(Directive {
                    name,
                    args: words,
                    block: Some(block),
                    line,
                });
            }
            _ => {
                return Err(format!(
                    "line {line}: directive {name:?} is not terminated by \";\""
                ));
            }
        }
    }
}

/// Compares two nginx configurations as directive trees.
///
/// Comments, whitespace and quoting are ignored (`'a'`, `"a"` and `a` are the same argument,
/// as nginx reads them); directives are compared in order inside each block, so a location
/// moved before another is reported. `include` directives are compared as written, the
/// included files are not read.
pub fn compare_nginx(reference: &str, ours: &str) -> Diffs {
    match (parse_nginx(reference), parse_nginx(ours)) {
        (Ok(r), Ok(o)) => {
            let mut diffs = Vec::new();
            diff_directives("(top)", &r, &o, &mut diffs);
            diffs
        }
        (r, o) => {
            let mut diffs = Vec::new();
            if let Err(e) = r {
                diffs.push(format!("reference does not parse as nginx config: {e}"));
            }
            if let Err(e) = o {
                diffs.push(format!("does not parse as nginx config: {e}"));
            }
            diffs
        }
    }
}

/// Label of a child block in a path: its header, plus `#n` when siblings share that header.
fn child_label(siblings: &[Directive], index: usize) -> String {
    let me = &siblings[index];
    let same: Vec<usize> = (0..siblings.len())
        .filter(|&k| siblings[k].same_header(me))
        .collect();
    let mut label = me.name.clone();
    for arg in &me.args {
        label.push(' ');
        label.push_str(arg);
    }
    if same.len() > 1 {
        let nth = same.iter().position(|&k| k == index).unwrap_or(0) + 1;
        label.push_str(&format!("#{nth}"));
    }
    label
}

/// Ordered comparison of two directive lists behind [`compare_nginx`].
fn diff_directives(path: &str, reference: &[Directive], ours: &[Directive], diffs: &mut Diffs) {
    let steps = align(reference, ours, Directive::same_header);
    let (left, right) = unmatched(&steps);
    let mut used_right = vec![false; right.len()];

    for step in &steps {
        if let Step::Both(i, j) = *step {
            recurse_blocks(path, reference, i, &ours[j], diffs);
        }
    }

    for &(i, gap) in &left {
        let r = &reference[i];

        // the same directive elsewhere in the block: an ordering difference
        if let Some(k) =
            (0..right.len()).find(|&k| !used_right[k] && ours[right[k].0].same_header(r))
        {
            used_right[k] = true;
            let o = &ours[right[k].0];
            diffs.push(format!(
                "{path}: `{}` is out of order (reference line {}, ours line {})",
                r.header(),
                r.line,
                o.line
            ));
            recurse_blocks(path, reference, i, o, diffs);
            continue;
        }

        // a directive of the same name at the same place: a changed directive
        if let Some(k) = (0..right.len())
            .find(|&k| !used_right[k] && right[k].1 == gap && ours[right[k].0].name == r.name)
        {
            used_right[k] = true;
            let o = &ours[right[k].0];
            diffs.push(format!(
                "{path}: reference `{}`, ours `{}` (line {})",
                r.header(),
                o.header(),
                o.line
            ));
            recurse_blocks(path, reference, i, o, diffs);
            continue;
        }

        diffs.push(format!(
            "{path}: missing `{}` (reference line {})",
            r.header(),
            r.line
        ));
    }

    for (k, &(j, _)) in right.iter().enumerate() {
        if !used_right[k] {
            diffs.push(format!(
                "{path}: unexpected `{}` (line {})",
                ours[j].header(),
                ours[j].line
            ));
        }
    }
}

/// Compares the children of `reference[i]` with those of `ours` when both are blocks.
fn recurse_blocks(
    path: &str,
    reference: &[Directive],
    i: usize,
    ours: &Directive,
    diffs: &mut Diffs,
) {
    if let (Some(a), Some(b)) = (&reference[i].block, &ours.block) {
        let child = format!("{path} > {}", child_label(reference, i));
        diff_directives(&child, a, b, diffs);
    }
}

// ---------------------------------------------------------------------------------------------
// log configurations (rsyslog, logrotate)
// ---------------------------------------------------------------------------------------------

/// Non-comment lines with whitespace runs collapsed, each with its 1-based line number.
fn meaningful_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split_whitespace().collect::<Vec<_>>().join(" ")))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Compares two log configurations (rsyslog, logrotate) line by line.
///
/// Comment lines (`#` first) and blank lines are dropped and whitespace runs are collapsed to
/// one space, also inside quoted strings (an approximation: rsyslog would keep those spaces);
/// the remaining lines must be the same, in the same order.
pub fn compare_log_conf(reference: &str, ours: &str) -> Diffs {
    let (r, o) = (meaningful_lines(reference), meaningful_lines(ours));
    let steps = align(&r, &o, |a, b| a.1 == b.1);
    let (left, right) = unmatched(&steps);
    let mut used = vec![false; right.len()];
    let mut diffs = Vec::new();

    for (i, _) in left {
        let (line, text) = &r[i];
        match (0..right.len()).find(|&k| !used[k] && o[right[k].0].1 == *text) {
            Some(k) => {
                used[k] = true;
                diffs.push(format!(
                    "line {line} {} is out of order (ours line {})",
                    show(text),
                    o[right[k].0].0
                ));
            }
            None => diffs.push(format!("missing line {line}: {}", show(text))),
        }
    }
    for (k, &(j, _)) in right.iter().enumerate() {
        if !used[k] {
            diffs.push(format!("unexpected line {}: {}", o[j].0, show(&o[j].1)));
        }
    }
    diffs
}

// ---------------------------------------------------------------------------------------------
// plain text, htpasswd
// ---------------------------------------------------------------------------------------------

/// Compares two text files line by line; random lines of the reference are compared by shape.
///
/// Lines are split on `\n` only, so a missing or extra final newline is a difference (upstream
/// checks the secretkey file for exactly 16 bytes on the next run).
pub fn compare_text(reference: &str, ours: &str, hints: &LineHints) -> Diffs {
    let (r, o): (Vec<&str>, Vec<&str>) =
        (reference.split('\n').collect(), ours.split('\n').collect());
    let mut diffs = Vec::new();
    if r.len() != o.len() {
        diffs.push(format!(
            "{} lines (counting a final newline as one more), reference has {}",
            o.len(),
            r.len()
        ));
    }
    for (index, (a, b)) in r.iter().zip(&o).enumerate() {
        let line = index + 1;
        if hints.random.contains(&line) {
            if let Some(d) = shape_difference(a, b) {
                diffs.push(format!("line {line}: {d}"));
            }
        } else if a != b {
            diffs.push(format!(
                "line {line}: reference {}, ours {}",
                show(a),
                show(b)
            ));
        }
    }
    diffs
}

/// Compares two htpasswd files: same users in the same order; hashes on random lines by shape.
pub fn compare_htpasswd(reference: &str, ours: &str, hints: &LineHints) -> Diffs {
    let entries = |text: &str| -> Vec<(usize, String, String)> {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| match l.split_once(':') {
                Some((user, hash)) => (i + 1, user.to_string(), hash.to_string()),
                None => (i + 1, l.to_string(), String::new()),
            })
            .collect()
    };
    let (r, o) = (entries(reference), entries(ours));
    let mut diffs = Vec::new();
    if r.len() != o.len() {
        diffs.push(format!("{} entries, reference has {}", o.len(), r.len()));
    }
    for ((line, r_user, r_hash), (_, o_user, o_hash)) in r.iter().zip(&o) {
        if r_user != o_user {
            diffs.push(format!(
                "line {line}: user {}, reference {}",
                show(o_user),
                show(r_user)
            ));
        }
        if hints.random.contains(line) {
            if let Some(d) = shape_difference(r_hash, o_hash) {
                diffs.push(format!("line {line}: {d}"));
            }
        } else if r_hash != o_hash {
            diffs.push(format!("line {line}: hash differs from the reference"));
        }
    }
    diffs
}

// ---------------------------------------------------------------------------------------------
// PEM: keys, certificates, requests
// ---------------------------------------------------------------------------------------------

/// Facts about one PEM block, compared name by name.
type Facts = BTreeMap<String, String>;

/// The short name of an OID, or its dotted form.
fn oid_name(oid: &Oid<'_>) -> String {
    match x509_parser::objects::oid2sn(oid, x509_parser::objects::oid_registry()) {
        Ok(name) => name.to_string(),
        Err(_) => oid.to_id_string(),
    }
}

/// Bit length of a big-endian unsigned integer.
fn bit_length(bytes: &[u8]) -> usize {
    let trimmed: &[u8] = match bytes.iter().position(|&b| b != 0) {
        Some(p) => &bytes[p..],
        None => &[],
    };
    match trimmed.first() {
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// A big-endian unsigned integer without leading zero bytes.
fn strip_zeros(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b != 0) {
        Some(p) => &bytes[p..],
        None => &[],
    }
}

/// An RSA public key: modulus and exponent without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RsaPublic {
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

/// Key facts from an RSA modulus and exponent.
fn rsa_facts(facts: &mut Facts, key: &RsaPublic) {
    facts.insert("key algorithm".into(), "rsaEncryption".into());
    facts.insert("key bits".into(), bit_length(&key.modulus).to_string());
    facts.insert("key exponent".into(), format!("0x{}", hex(&key.exponent)));
}

/// Lower-case hex of bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Key facts from a SubjectPublicKeyInfo, and the RSA key when it is one.
fn spki_facts(facts: &mut Facts, spki: &SubjectPublicKeyInfo<'_>) -> Option<RsaPublic> {
    use x509_parser::public_key::PublicKey;

    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let key = RsaPublic {
                modulus: strip_zeros(rsa.modulus).to_vec(),
                exponent: strip_zeros(rsa.exponent).to_vec(),
            };
            rsa_facts(facts, &key);
            Some(key)
        }
        Ok(other) => {
            facts.insert("key algorithm".into(), oid_name(&spki.algorithm.algorithm));
            facts.insert("key bits".into(), other.key_size().to_string());
            if let Some(curve) = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
            {
                facts.insert("key curve".into(), oid_name(&curve));
            }
            None
        }
        Err(e) => {
            facts.insert("key".into(), format!("unreadable public key: {e}"));
            None
        }
    }
}

/// Reads the RSA public part of a PKCS#1 RSAPrivateKey.
fn pkcs1_public(der: &[u8]) -> Result<RsaPublic, String> {
    let (_, object) =
        x509_parser::der_parser::parse_der(der).map_err(|e| format!("not DER: {e}"))?;
    let items = object
        .as_sequence()
        .map_err(|e| format!("not a sequence: {e}"))?;
    let int = |k: usize| -> Result<Vec<u8>, String> {
        let item: &BerObject<'_> = items.get(k).ok_or("RSAPrivateKey too short")?;
        match item.content {
            BerObjectContent::Integer(bytes) => Ok(strip_zeros(bytes).to_vec()),
            _ => Err(format!("RSAPrivateKey item {k} is not an integer")),
        }
    };
    if items.len() < 9 {
        return Err(format!(
            "RSAPrivateKey has {} items, expected 9",
            items.len()
        ));
    }
    Ok(RsaPublic {
        modulus: int(1)?,
        exponent: int(2)?,
    })
}

/// Facts of a private key block, and its RSA public part when it is RSA.
fn private_key_facts(
    label: &str,
    der: &[u8],
    facts: &mut Facts,
) -> Result<Option<RsaPublic>, String> {
    if label == "RSA PRIVATE KEY" {
        let key = pkcs1_public(der)?;
        rsa_facts(facts, &key);
        return Ok(Some(key));
    }
    if label == "EC PRIVATE KEY" {
        facts.insert("key algorithm".into(), "id-ecPublicKey".into());
        return Ok(None);
    }

    // PKCS#8 PrivateKeyInfo: version, algorithm identifier, key as an octet string
    let (_, object) =
        x509_parser::der_parser::parse_der(der).map_err(|e| format!("not DER: {e}"))?;
    let items = object
        .as_sequence()
        .map_err(|e| format!("not a sequence: {e}"))?;
    let algorithm = items
        .get(1)
        .and_then(|a| a.as_sequence().ok())
        .ok_or("PrivateKeyInfo without an algorithm")?;
    let oid = algorithm
        .first()
        .and_then(|o| o.as_oid().ok())
        .ok_or("PrivateKeyInfo algorithm without an OID")?;
    let inner = match items.get(2).map(|i| &i.content) {
        Some(BerObjectContent::OctetString(bytes)) => *bytes,
        _ => return Err("PrivateKeyInfo without a key octet string".to_string()),
    };

    if oid.to_id_string() == "1.2.840.113549.1.1.1" {
        let key = pkcs1_public(inner)?;
        rsa_facts(facts, &key);
        return Ok(Some(key));
    }
    facts.insert("key algorithm".into(), oid_name(oid));
    if let Some(curve) = algorithm.get(1).and_then(|p| p.as_oid().ok()) {
        facts.insert("key curve".into(), oid_name(curve));
    }
    Ok(None)
}

/// A general name as text: `DNS:core`, `IP:10.0.0.5`, ...
fn general_name(name: &GeneralName<'_>) -> String {
    match name {
        GeneralName::DNSName(s) => format!("DNS:{s}"),
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => format!(
                "IP:{}",
                std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])
            ),
            16 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(bytes);
                format!("IP:{}", std::net::Ipv6Addr::from(octets))
            }
            _ => format!("IP:{}", hex(bytes)),
        },
        GeneralName::RFC822Name(s) => format!("email:{s}"),
        GeneralName::URI(s) => format!("URI:{s}"),
        GeneralName::DirectoryName(n) => format!("DirName:{n}"),
        other => format!("{other:?}"),
    }
}

/// Facts of a list of extensions: presence and criticality by OID, parsed values of the ones
/// whose value is not random (basic constraints, key usage, extended key usage, SAN).
fn extension_facts(facts: &mut Facts, extensions: &[X509Extension<'_>]) {
    for ext in extensions {
        let name = format!("extension {}", oid_name(&ext.oid));
        let criticality = if ext.critical {
            "critical"
        } else {
            "non-critical"
        };
        let previous = facts.insert(name.clone(), criticality.to_string());
        if previous.is_some() {
            facts.insert(format!("{name} (duplicate)"), "present".into());
        }

        let value = match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                Some(format!("ca={} pathlen={:?}", bc.ca, bc.path_len_constraint))
            }
            ParsedExtension::KeyUsage(ku) => Some(ku.to_string()),
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let mut uses = Vec::new();
                for (set, label) in [
                    (eku.any, "any"),
                    (eku.server_auth, "serverAuth"),
                    (eku.client_auth, "clientAuth"),
                    (eku.code_signing, "codeSigning"),
                    (eku.email_protection, "emailProtection"),
                    (eku.time_stamping, "timeStamping"),
                    (eku.ocsp_signing, "OCSPSigning"),
                ] {
                    if set {
                        uses.push(label.to_string());
                    }
                }
                uses.extend(eku.other.iter().map(oid_name));
                Some(uses.join(", "))
            }
            ParsedExtension::SubjectAlternativeName(san) => {
                let names: BTreeSet<String> = san.general_names.iter().map(general_name).collect();
                Some(names.into_iter().collect::<Vec<_>>().join(", "))
            }
            ParsedExtension::ParseError { error } => Some(format!("unparsable: {error}")),
            _ => None,
        };
        if let Some(value) = value {
            facts.insert(format!("{name} value"), value);
        }
    }
}

/// What one PEM block says, and the RSA public key it holds or certifies.
struct Block {
    facts: Facts,
    rsa: Option<RsaPublic>,
    der: Vec<u8>,
    subject: Option<String>,
    issuer: Option<String>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
}

/// Reads every PEM block of a file.
fn read_blocks(text: &[u8]) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    for (index, pem) in Pem::iter_from_buffer(text).enumerate() {
        let pem = pem.map_err(|e| format!("PEM block {}: {e}", index + 1))?;
        blocks.push(
            read_block(&pem)
                .map_err(|e| format!("PEM block {} ({}): {e}", index + 1, pem.label))?,
        );
    }
    if blocks.is_empty() {
        return Err("no PEM block".to_string());
    }
    Ok(blocks)
}

/// Reads one PEM block into facts.
fn read_block(pem: &Pem) -> Result<Block, String> {
    let mut block = Block {
        facts: Facts::new(),
        rsa: None,
        der: pem.contents.clone(),
        subject: None,
        issuer: None,
        subject_key_id: None,
        authority_key_id: None,
    };
    block.facts.insert("label".into(), pem.label.clone());

    match pem.label.as_str() {
        "CERTIFICATE" => {
            let (_, cert) = X509Certificate::from_der(&pem.contents)
                .map_err(|e| format!("not a certificate: {e}"))?;
            read_certificate(&cert, &mut block);
        }
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => {
            let (_, csr) = X509CertificationRequest::from_der(&pem.contents)
                .map_err(|e| format!("not a certificate request: {e}"))?;
            read_request(&csr, &mut block);
        }
        "RSA PRIVATE KEY" | "PRIVATE KEY" | "EC PRIVATE KEY" => {
            block.rsa = private_key_facts(&pem.label, &pem.contents, &mut block.facts)?;
        }
        "PUBLIC KEY" => {
            let (_, spki) = SubjectPublicKeyInfo::from_der(&pem.contents)
                .map_err(|e| format!("not a public key: {e}"))?;
            block.rsa = spki_facts(&mut block.facts, &spki);
        }
        _ => {}
    }
    Ok(block)
}

/// Certificate facts: version, signature algorithm, names, validity length, key, extensions.
fn read_certificate(cert: &X509Certificate<'_>, block: &mut Block) {
    let facts = &mut block.facts;
    facts.insert(
        "version".into(),
        format!("{}", cert.version().0.saturating_add(1)),
    );
    facts.insert(
        "signature algorithm".into(),
        oid_name(&cert.signature_algorithm.algorithm),
    );
    facts.insert("subject".into(), cert.subject().to_string());
    facts.insert("issuer".into(), cert.issuer().to_string());
    facts.insert(
        "self-issued".into(),
        (cert.subject() == cert.issuer()).to_string(),
    );
    let validity = cert.validity();
    let seconds = validity
        .not_after
        .timestamp()
        .saturating_sub(validity.not_before.timestamp());
    facts.insert(
        "validity length".into(),
        format!("{seconds} s ({} days)", seconds as f64 / 86_400.0),
    );
    block.rsa = spki_facts(facts, cert.public_key());
    extension_facts(facts, cert.extensions());

    block.subject = Some(cert.subject().to_string());
    block.issuer = Some(cert.issuer().to_string());
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => block.subject_key_id = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                block.authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            _ => {}
        }
    }
}

/// Request facts: version, signature algorithm, subject, key, requested extensions.
fn read_request(csr: &X509CertificationRequest<'_>, block: &mut Block) {
    let info = &csr.certification_request_info;
    let facts = &mut block.facts;
    facts.insert(
        "version".into(),
        format!("{}", info.version.0.saturating_add(1)),
    );
    facts.insert(
        "signature algorithm".into(),
        oid_name(&csr.signature_algorithm.algorithm),
    );
    facts.insert("subject".into(), info.subject.to_string());
    block.rsa = spki_facts(facts, &info.subject_pki);
    for attribute in info.iter_attributes() {
        match attribute.parsed_attribute() {
            ParsedCriAttribute::ExtensionRequest(request) => {
                extension_facts(facts, &request.extensions)
            }
            _ => {
                facts.insert(
                    format!("attribute {}", oid_name(&attribute.oid)),
                    "present".into(),
                );
            }
        }
    }
    block.subject = Some(info.subject.to_string());
}

/// Compares two PEM files by structure.
///
/// Per block, in order: the label (`RSA PRIVATE KEY` is PKCS#1, `PRIVATE KEY` is PKCS#8), the
/// key algorithm, size and public exponent; for certificates the version, signature algorithm,
/// subject, issuer, validity LENGTH (dates differ), every extension's presence and criticality,
/// and the values of basic constraints, key usage, extended key usage and subject alternative
/// names (as a set); for requests the subject, key and requested extensions. Names are compared
/// in their text form, so the ASN.1 string type of an attribute is not compared. Key
/// identifiers, serials, signatures and key material are random and not compared; with
/// `exact_der` (files that are not random per the manifest, such as copied host certificates)
/// the decoded DER must also be identical.
pub fn compare_pem(reference: &[u8], ours: &[u8], exact_der: bool) -> Diffs {
    let (reference, ours) = match (read_blocks(reference), read_blocks(ours)) {
        (Ok(r), Ok(o)) => (r, o),
        (r, o) => {
            let mut diffs = Vec::new();
            if let Err(e) = r {
                diffs.push(format!("reference is not readable PEM: {e}"));
            }
            if let Err(e) = o {
                diffs.push(format!("not readable PEM: {e}"));
            }
            return diffs;
        }
    };

    let mut diffs = Vec::new();
    if reference.len() != ours.len() {
        diffs.push(format!(
            "{} PEM blocks, reference has {}",
            ours.len(),
            reference.len()
        ));
    }
    let several = reference.len() > 1;
    for (index, (r, o)) in reference.iter().zip(&ours).enumerate() {
        let prefix = if several {
            format!("block {}: ", index + 1)
        } else {
            String::new()
        };
        let names: BTreeSet<&String> = r.facts.keys().chain(o.facts.keys()).collect();
        for name in names {
            match (r.facts.get(name), o.facts.get(name)) {
                (Some(a), Some(b)) if a != b => {
                    diffs.push(format!("{prefix}{name}: reference {a:?}, ours {b:?}"))
                }
                (Some(a), None) => diffs.push(format!("{prefix}{name}: missing (reference {a:?})")),
                (None, Some(b)) => diffs.push(format!("{prefix}{name}: unexpected ({b:?})")),
                _ => {}
            }
        }
        if exact_der && r.der != o.der {
            diffs.push(format!(
                "{prefix}content differs from the reference (not random upstream)"
            ));
        }
    }
    diffs
}

/// Checks that a certificate (or request, or public key) belongs to a private key.
///
/// Compares the RSA modulus and exponent of the first block of each file; other key types are
/// reported as not checkable, since everything Harbor generates is RSA.
pub fn compare_key_pair(certificate: &[u8], key: &[u8]) -> Diffs {
    let first = |text: &[u8]| read_blocks(text).map(|mut b| b.remove(0));
    match (first(certificate), first(key)) {
        (Ok(cert), Ok(key)) => match (cert.rsa, key.rsa) {
            (Some(a), Some(b)) if a == b => Vec::new(),
            (Some(_), Some(_)) => vec!["certificate does not match its private key".to_string()],
            _ => vec!["key pair is not RSA; the match was not checked".to_string()],
        },
        (c, k) => {
            let mut diffs = Vec::new();
            if let Err(e) = c {
                diffs.push(format!("certificate: {e}"));
            }
            if let Err(e) = k {
                diffs.push(format!("key: {e}"));
            }
            diffs
        }
    }
}

/// Checks that `certificate` names `ca` as issuer: issuer equals the CA subject, and the
/// authority key identifier equals the CA's subject key identifier when both are present.
/// The signature itself is not verified (that needs x509-parser's `verify` feature).
pub fn compare_issued_by(certificate: &[u8], ca: &[u8]) -> Diffs {
    let first = |text: &[u8]| read_blocks(text).map(|mut b| b.remove(0));
    let (cert, ca) = match (first(certificate), first(ca)) {
        (Ok(c), Ok(a)) => (c, a),
        (c, a) => {
            let mut diffs = Vec::new();
            if let Err(e) = c {
                diffs.push(format!("certificate: {e}"));
            }
            if let Err(e) = a {
                diffs.push(format!("CA: {e}"));
            }
            return diffs;
        }
    };

    let mut diffs = Vec::new();
    if cert.issuer.is_none() || cert.issuer != ca.subject {
        diffs.push(format!(
            "issuer {:?} is not the CA subject {:?}",
            cert.issuer, ca.subject
        ));
    }
    if let (Some(aki), Some(ski)) = (&cert.authority_key_id, &ca.subject_key_id) {
        if aki != ski {
            diffs.push(
                "authority key identifier is not the CA's subject key identifier".to_string(),
            );
        }
    }
    diffs
}

// ---------------------------------------------------------------------------------------------
// files and trees
// ---------------------------------------------------------------------------------------------

/// How a file is compared, chosen from its path (and PEM content).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// core/app.conf: [`compare_app_conf`].
    AppConf,
    /// `*/env`: [`compare_env`].
    Env,
    /// registry/passwd: [`compare_htpasswd`].
    Htpasswd,
    /// log/*.conf: [`compare_log_conf`].
    LogConf,
    /// nginx/ and portal/ `*.conf`: [`compare_nginx`].
    Nginx,
    /// Any file holding `-----BEGIN `: [`compare_pem`].
    Pem,
    /// Anything else: [`compare_text`].
    Text,
    /// `*.yml`, `*.yaml`: [`compare_yaml`].
    Yaml,
}

/// Chooses the comparator for a file from its manifest path and the reference content.
pub fn file_kind(path: &str, reference: &[u8]) -> FileKind {
    let parts: Vec<&str> = path.split('/').collect();
    let name = parts.last().copied().unwrap_or_default();
    let has_dir = |dir: &str| parts[..parts.len().saturating_sub(1)].contains(&dir);

    if name.ends_with(".yml") || name.ends_with(".yaml") {
        FileKind::Yaml
    } else if name == "env" {
        FileKind::Env
    } else if name == "app.conf" {
        FileKind::AppConf
    } else if name.ends_with(".conf") && (has_dir("nginx") || has_dir("portal")) {
        FileKind::Nginx
    } else if name.ends_with(".conf") && has_dir("log") {
        FileKind::LogConf
    } else if name == "passwd" {
        FileKind::Htpasswd
    } else if reference.windows(11).any(|w| w == b"-----BEGIN ") {
        FileKind::Pem
    } else {
        FileKind::Text
    }
}

/// Compares one file with the comparator its path calls for.
pub fn compare_file(
    path: &str,
    reference: &[u8],
    ours: &[u8],
    hints: &LineHints,
    env: EnvParser,
) -> Diffs {
    let kind = file_kind(path, reference);
    if kind == FileKind::Pem {
        return compare_pem(reference, ours, !hints.random_file);
    }

    let (r, o) = match (std::str::from_utf8(reference), std::str::from_utf8(ours)) {
        (Ok(r), Ok(o)) => (r, o),
        (Err(_), _) => return vec!["reference is not UTF-8 text".to_string()],
        (_, Err(_)) => return vec!["not UTF-8 text".to_string()],
    };
    match kind {
        FileKind::AppConf => compare_app_conf(r, o),
        FileKind::Env => compare_env(r, o, env, hints),
        FileKind::Htpasswd => compare_htpasswd(r, o, hints),
        FileKind::LogConf => compare_log_conf(r, o),
        FileKind::Nginx => compare_nginx(r, o),
        FileKind::Text | FileKind::Pem => compare_text(r, o, hints),
        FileKind::Yaml => compare_yaml(path, r, o),
    }
}

/// Checks that a file of ours parses in its format; the reference content only picks the kind.
///
/// Used for bundles that have no upstream content to compare with (an accepted `either` case).
pub fn check_parses(path: &str, kind_hint: &[u8], ours: &[u8], env: EnvParser) -> Diffs {
    match file_kind(path, kind_hint) {
        FileKind::Text | FileKind::Htpasswd => Vec::new(),
        FileKind::Pem => read_blocks(ours).err().into_iter().collect(),
        kind => {
            let Ok(text) = std::str::from_utf8(ours) else {
                return vec!["not UTF-8 text".to_string()];
            };
            let parsed = match kind {
                FileKind::AppConf => parse_ini(text).map(drop),
                FileKind::Env => env(text).map(drop),
                FileKind::Nginx => parse_nginx(text).map(drop),
                FileKind::Yaml => load_yaml(text).map(drop),
                _ => Ok(()),
            };
            parsed
                .err()
                .into_iter()
                .map(|e| format!("does not parse: {e}"))
                .collect()
        }
    }
}

/// One part of the manifest mapped onto our output.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Manifest path prefix, such as `config`, `data` or `docker-compose.yml`.
    pub prefix: String,
    /// The reference copy of that prefix (a directory, or a file for a one-file prefix).
    pub reference: PathBuf,
    /// Where our tool wrote it.
    pub ours: PathBuf,
}

/// What [`compare_tree`] checks besides the file set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Compare each file with the reference ([`compare_file`]).
    Compare,
    /// Only check that each file of ours parses in its format ([`check_parses`]).
    ParseOnly,
}

/// A file or directory found in our output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Dir,
    File,
    Other,
}

impl Found {
    /// The kind as a word for messages.
    fn noun(self) -> &'static str {
        match self {
            Found::Dir => "directory",
            Found::File => "file",
            Found::Other => "special file or symlink",
        }
    }
}

impl EntryKind {
    /// The kind as a word for messages.
    pub fn noun(self) -> &'static str {
        match self {
            EntryKind::Dir => "directory",
            EntryKind::File => "file",
        }
    }
}

/// Every path below `root`, relative to it, with its kind; symlinks are not followed.
fn walk(root: &Path) -> Result<BTreeMap<String, Found>, String> {
    let mut found = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let dir = root.join(&rel);
        let entries =
            fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            let child = rel.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(|e| format!("{}: {e}", child.display()))?;
            let name = child.to_string_lossy().into_owned();
            if kind.is_dir() {
                found.insert(name, Found::Dir);
                pending.push(child);
            } else if kind.is_file() {
                found.insert(name, Found::File);
            } else {
                found.insert(name, Found::Other);
            }
        }
    }
    Ok(found)
}

/// Joins a mount path with a relative manifest rest (`""` is the mount itself).
fn under(base: &Path, rest: &str) -> PathBuf {
    if rest.is_empty() {
        base.to_path_buf()
    } else {
        base.join(rest)
    }
}

/// Compares our output with a manifest: the file set both ways, kinds, modes, owners (when
/// `check_owner`, i.e. the test runs as root) and, per `content`, each file.
///
/// Manifest entries outside every mount are ignored. Messages start with the manifest path.
/// A file listed in the manifest but missing from the reference copy is reported too.
pub fn compare_tree(
    manifest: &Manifest,
    mounts: &[Mount],
    content: Content,
    check_owner: bool,
    env: EnvParser,
) -> Diffs {
    let mut diffs = Vec::new();
    for mount in mounts {
        let prefix = mount.prefix.trim_end_matches('/');
        let expected: BTreeMap<&str, &Entry> = manifest
            .entries
            .iter()
            .filter_map(|e| {
                let rest = if e.path == prefix {
                    Some("")
                } else {
                    e.path.strip_prefix(prefix)?.strip_prefix('/')
                };
                rest.map(|r| (r, e))
            })
            .collect();

        // what we wrote under the mount
        let mut found = BTreeMap::new();
        match fs::symlink_metadata(&mount.ours) {
            Ok(meta) if meta.is_dir() => match walk(&mount.ours) {
                Ok(f) => found = f,
                Err(e) => diffs.push(format!("{prefix}: {e}")),
            },
            Ok(meta) if meta.is_file() => {
                found.insert(String::new(), Found::File);
            }
            Ok(_) => diffs.push(format!("{prefix}: neither a file nor a directory")),
            Err(_) if expected.is_empty() => {}
            Err(_) => {
                diffs.push(format!(
                    "{prefix}: missing ({} entries expected)",
                    expected.len()
                ));
                continue;
            }
        }

        for (rest, entry) in &expected {
            let label = entry.path.as_str();
            let ours = under(&mount.ours, rest);
            let kind_ok = match (found.get(*rest), entry.kind) {
                (Some(Found::Dir), EntryKind::Dir) | (Some(Found::File), EntryKind::File) => true,
                (None, _) => {
                    diffs.push(format!("{label}: missing {}", entry.kind.noun()));
                    false
                }
                (Some(other), _) => {
                    diffs.push(format!(
                        "{label}: is a {}, reference is a {}",
                        other.noun(),
                        entry.kind.noun()
                    ));
                    false
                }
            };
            if !kind_ok {
                continue;
            }
            diffs.extend(compare_owner_mode(label, &ours, entry, check_owner));
            if entry.kind == EntryKind::File {
                let reference = under(&mount.reference, rest);
                diffs.extend(compare_file_at(
                    label, &reference, &ours, entry, content, env,
                ));
            }
        }

        for (rest, kind) in found
            .iter()
            .filter(|(r, _)| !expected.contains_key(r.as_str()))
        {
            let label = if rest.is_empty() {
                prefix.to_string()
            } else {
                format!("{prefix}/{rest}")
            };
            diffs.push(format!(
                "{label}: unexpected {} (not written by upstream)",
                kind.noun()
            ));
        }
    }
    diffs
}

/// Mode and owner of one path against its manifest entry.
fn compare_owner_mode(label: &str, ours: &Path, entry: &Entry, check_owner: bool) -> Diffs {
    let meta = match fs::symlink_metadata(ours) {
        Ok(m) => m,
        Err(e) => return vec![format!("{label}: cannot stat: {e}")],
    };
    let mut diffs = Vec::new();
    match entry.mode_bits() {
        Ok(mode) if meta.permissions().mode() & 0o7777 != mode => diffs.push(format!(
            "{label}: mode {:04o}, reference {:04o}",
            meta.permissions().mode() & 0o7777,
            mode
        )),
        Ok(_) => {}
        Err(e) => diffs.push(format!("{label}: manifest {e}")),
    }
    if check_owner && (meta.uid(), meta.gid()) != (entry.uid, entry.gid) {
        diffs.push(format!(
            "{label}: owner {}:{}, reference {}:{}",
            meta.uid(),
            meta.gid(),
            entry.uid,
            entry.gid
        ));
    }
    diffs
}

/// Reads both copies of one file and compares them (or only checks ours parses).
fn compare_file_at(
    label: &str,
    reference: &Path,
    ours: &Path,
    entry: &Entry,
    content: Content,
    env: EnvParser,
) -> Diffs {
    let ours = match fs::read(ours) {
        Ok(bytes) => bytes,
        Err(e) => return vec![format!("{label}: cannot read ours: {e}")],
    };
    let reference = match fs::read(reference) {
        Ok(bytes) => bytes,
        Err(_) if content == Content::ParseOnly => Vec::new(),
        Err(e) => return vec![format!("{label}: cannot read the reference copy: {e}")],
    };
    let diffs = match content {
        Content::Compare => compare_file(label, &reference, &ours, &entry.hints(), env),
        Content::ParseOnly => check_parses(label, &reference, &ours, env),
    };
    diffs.into_iter().map(|d| format!("{label}: {d}")).collect()
}

/// Pairs `X.crt`/`X.csr` with `X.key` in one directory of ours, for [`compare_key_pair`].
pub fn sibling_key_pairs(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_cert = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("crt" | "csr")
        );
        let key = path.with_extension("key");
        if is_cert && key.is_file() {
            pairs.push((path, key));
        }
    }
    pairs.sort();
    pairs
}
