//! Import of the `harbor.cfg` files of Harbor 0.5 to 1.7 into a current harbor.yml.
//!
//! Harbor's installers up to 1.7 read `harbor.cfg` with Python's `RawConfigParser`, after
//! putting a `[configuration]` section header in front of the text. [`parse`] reads the same
//! files the same way, except where Python's reading silently changed what the user wrote;
//! those places are reported instead, each as an [`Issue`] with the key and line:
//!
//! - Blank lines, and lines whose first non-blank character is `#` or `;`, are comments. A
//!   commented-out copy of a key (`#hostname = reg.mydomain.com`) is never read as the key.
//! - Every other line is `key = value` or `key: value`, split at the first `=` or `:`. Keys are
//!   lower-cased, as Python does; the value is trimmed. `%` has no special meaning.
//! - Inline comments are rejected. Python kept ` # primary` as part of the value, so
//!   `hostname = registry.example.test # primary` made that whole text the hostname. A value
//!   that starts with `#` or `;`, or holds one right after a blank, is an error; if the text is
//!   meant, quote the whole value. A `#` inside a word (`pa#ss`) is plain text.
//! - Surrounding quotes are removed with a warning. Python kept `"Db-Pass-7"` with its quotes;
//!   here a value wrapped in one pair of matching `"` or `'` is taken as the text between them,
//!   literally (a ` #` inside is then text, not a comment), and [`Cfg::warnings`] says so.
//! - An indented line is an error: Python appends it to the previous key's value, even across
//!   blank and comment lines.
//! - A key given twice is an error (Python 2 kept the last value, Python 3 refused the file), as
//!   are section headers and lines without `=` or `:`.
//!
//! [`convert`] then maps the keys onto the built-in default harbor.yml (schema 2.15.0) and
//! reports every key that has no place there, such as the settings Harbor 2 keeps in its web
//! UI. Messages never contain the value of a key that may hold a secret ([`is_secret`]).
//!
//! Where each key goes (`->` harbor.yml):
//!
//! - `hostname`, `harbor_admin_password` -> the same keys.
//! - `ui_url_protocol` -> `https` with port 443 when `https`; nothing for `http`.
//! - `ssl_cert`, `ssl_cert_key` -> `https.certificate`, `https.private_key`; reported with http.
//! - `db_password` -> `database.password`, and `external_database.harbor.password`.
//! - `db_host`, `db_port`, `db_user` -> nothing for the bundled `postgresql` on port 5432;
//!   otherwise `external_database.harbor` with `db_name: registry` and `ssl_mode: disable`, as
//!   1.6 and 1.7 used. Reported for the bundled `mysql` of 1.5 and older; an external MySQL is
//!   an error.
//! - `max_job_workers` -> `jobservice.max_job_workers`.
//! - `log_rotate_count`, `log_rotate_size` -> `log.local.rotate_count`, `log.local.rotate_size`.
//! - `redis_host`, `redis_port`, `redis_password`, `redis_db_index` -> for the bundled
//!   `redis:6379`, `redis.registry_db_index` and `redis.jobservice_db_index` when they are not 1
//!   and 2 (a password is reported); otherwise `external_redis` with `host: <host>:<port>`. The
//!   third index (chart museum) has no place.
//! - `redis_url` (1.4, 1.5) -> `external_redis.host` and `.password`, unless it is the bundled
//!   `redis:6379`.
//! - `registry_storage_provider_name`, `registry_storage_provider_config` ->
//!   `storage_service.<name>`, one key per `key: value` pair; numbers and booleans stay
//!   unquoted, as the 1.x registry read them.
//! - `registry_custom_ca_bundle` -> `storage_service.ca_bundle`.
//! - `http_proxy`, `https_proxy`, `no_proxy` -> `proxy.*` with `components: [trivy]`, when a
//!   proxy is set (in 1.x only Clair used them).
//! - `uaa_ca_cert`, `uaa_ca_root` -> `uaa.ca_file` with `auth_mode = uaa_auth`; reported
//!   otherwise.
//! - `secretkey_path` -> `data_volume` when `admiral_url` is set (upstream then used it as the
//!   data volume); reported otherwise.
//! - Everything else (`auth_mode`, `ldap_*`, `email_*`, `uaa_*`, `self_registration`,
//!   `token_expiration`, `project_creation_restriction`, `clair_*`, `customize_crt`,
//!   `admiral_url`, `_version`, ...) is reported.
//!
//! No release's harbor.cfg had a data volume or port setting (docker-compose.yml fixed `/data`
//! and ports 80 and 443), so the defaults' stay.

use std::collections::BTreeSet;
use std::fmt;

use crate::escape::yaml_str;
use crate::issue::{Code, Issue, did_you_mean};
use crate::model::{Config, STORAGE_PROVIDERS};
use crate::value::Value;
use crate::yaml::{self, Mark, is_null_text};

/// One `key = value` line of a harbor.cfg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, lower-cased.
    pub key: String,
    /// The value: trimmed, without the quotes that wrapped it.
    pub value: String,
    /// The line, counted from 1.
    pub line: usize,
    /// Where the key starts.
    pub key_mark: Mark,
    /// Where the value starts (after the separator and any blanks).
    pub value_mark: Mark,
    /// Whether a pair of quotes around the value was removed.
    pub quoted: bool,
}

/// A harbor.cfg as read by [`parse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cfg {
    /// The entries, in file order.
    pub entries: Vec<Entry>,
    /// Readings that may differ from what Harbor 1.x did (quotes removed), one per line.
    pub warnings: Vec<Issue>,
    /// Keys that appear only in comment lines, with their line.
    commented: Vec<(String, usize)>,
    /// Keys whose line was rejected.
    rejected: Vec<String>,
}

impl Cfg {
    /// The entry for `key` (lower case), when the file sets it.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// The value of `key`, when the file sets it.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|e| e.value.as_str())
    }
}

/// Reads a harbor.cfg; every line-level problem is returned at once.
///
/// ```
/// let cfg = harbor_prep::legacy::parse("#hostname = a\nhostname = b.example.test\n").unwrap();
/// assert_eq!(cfg.value("hostname"), Some("b.example.test"));
///
/// let issues = harbor_prep::legacy::parse("hostname = b.example.test # main\n").unwrap_err();
/// assert_eq!((issues[0].path.as_str(), issues[0].mark.map(|m| m.line)), ("hostname", Some(1)));
/// ```
pub fn parse(text: &str) -> Result<Cfg, Vec<Issue>> {
    let (cfg, errors) = read(text);
    if errors.is_empty() {
        Ok(cfg)
    } else {
        Err(errors)
    }
}

fn read(text: &str) -> (Cfg, Vec<Issue>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cfg = Cfg::default();
    let mut errors = Vec::new();
    // the last `key = value` line, accepted or not: python appends indented lines to it
    let mut last: Option<(String, usize)> = None;

    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix(['#', ';']) {
            if let Some(key) = commented_key(comment) {
                cfg.commented.push((key, line));
            }
            continue;
        }

        let indent = raw.len() - raw.trim_start().len();
        let mark = Mark {
            line,
            column: raw[..indent].chars().count() + 1,
        };
        if indent > 0 {
            errors.push(continuation(last.as_ref(), mark));
            continue;
        }
        if trimmed.starts_with('[') {
            let message = "section headers are not part of harbor.cfg (harbor's installer \
                           read every key from one implicit section); remove the line";
            errors.push(Issue::new("", Some(mark), Code::Syntax, message.into()));
            continue;
        }

        match read_line(trimmed, line, &mut cfg, &mut errors) {
            Ok(entry) => {
                last = Some((entry.key.clone(), line));
                cfg.entries.push(entry);
            }
            Err(Some(key)) => {
                last = Some((key.clone(), line));
                cfg.rejected.push(key);
            }
            Err(None) => last = None,
        }
    }

    (cfg, errors)
}

/// Reads one unindented, non-comment line (`text` is the trimmed line); on failure, the key
/// when the line had one.
fn read_line(
    text: &str,
    line: usize,
    cfg: &mut Cfg,
    errors: &mut Vec<Issue>,
) -> Result<Entry, Option<String>> {
    let key_mark = Mark { line, column: 1 };
    let Some(sep) = text.find(['=', ':']) else {
        let message = "not a `key = value` line; harbor's installer refused such lines";
        errors.push(Issue::new("", Some(key_mark), Code::Syntax, message.into()));
        return Err(None);
    };

    let key = text[..sep].trim().to_lowercase();
    if key.is_empty() {
        let message = "the line has a value but no key";
        errors.push(Issue::new("", Some(key_mark), Code::Syntax, message.into()));
        return Err(None);
    }

    let after = &text[sep + 1..];
    let raw_value = after.trim();
    let value_start = sep + 1 + (after.len() - after.trim_start().len());
    let value_mark = Mark {
        line,
        column: text[..value_start].chars().count() + 1,
    };

    if let Some(first) = cfg.get(&key) {
        let message = format!(
            "set again; first set on line {} (python 2's configparser silently used the last \
             value, python 3's refused the file); keep one",
            first.line
        );
        errors.push(Issue::new(
            key.clone(),
            Some(key_mark),
            Code::Conflict,
            message,
        ));
        return Err(Some(key));
    }

    let (value, quoted) = match unquote(raw_value) {
        Some(inner) => (inner, true),
        None => (raw_value, false),
    };
    if quoted {
        let message = "the quotes around the value were removed and the text between them \
                       taken literally; harbor 1.x kept the quotes as part of the value, so if \
                       the installation runs with the quoted text, add the quotes back in \
                       harbor.yml";
        cfg.warnings.push(Issue::new(
            key.clone(),
            Some(value_mark),
            Code::Syntax,
            message.into(),
        ));
    } else if has_inline_comment(raw_value) {
        let message = "the value holds what looks like a comment (`#` or `;` at its start or \
                       after a blank), which harbor's installer kept as part of the value; \
                       remove the comment, or wrap the whole value in double quotes if the \
                       text belongs to it";
        errors.push(Issue::new(
            key.clone(),
            Some(value_mark),
            Code::Syntax,
            message.into(),
        ));
        return Err(Some(key));
    }

    Ok(Entry {
        key,
        value: value.to_owned(),
        line,
        key_mark,
        value_mark,
        quoted,
    })
}

/// The issue for an indented line, which Python joins to the previous value.
fn continuation(previous: Option<&(String, usize)>, mark: Mark) -> Issue {
    match previous {
        Some((key, line)) => Issue::new(
            key.clone(),
            Some(mark),
            Code::Syntax,
            format!(
                "the indented line {} would continue this value (set on line {line}), as \
                 python's configparser reads it; remove the indentation or join the lines",
                mark.line
            ),
        ),
        None => Issue::new(
            "",
            Some(mark),
            Code::Syntax,
            "indented line before the first key; remove the indentation".into(),
        ),
    }
}

/// The text between one pair of matching quotes that wraps all of `v`.
fn unquote(v: &str) -> Option<&str> {
    let quote = v.chars().next().filter(|c| matches!(c, '"' | '\''))?;
    let inner = v.strip_prefix(quote)?.strip_suffix(quote)?;
    (v.len() >= 2).then_some(inner)
}

/// Whether `v` holds `#` or `;` at its start or right after a blank.
fn has_inline_comment(v: &str) -> bool {
    v.char_indices()
        .any(|(i, c)| matches!(c, '#' | ';') && (i == 0 || v[..i].ends_with(char::is_whitespace)))
}

/// The key of a commented-out `key = value` line, when the comment looks like one.
fn commented_key(comment: &str) -> Option<String> {
    let comment = comment.trim_start_matches(['#', ';']).trim_start();
    let sep = comment.find(['=', ':'])?;
    let key = comment[..sep].trim();
    let word = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    word.then(|| key.to_lowercase())
}

/// A harbor.cfg key that has no place in the converted harbor.yml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// The key.
    pub key: String,
    /// The line it was set on.
    pub line: usize,
    /// Why it has no place in harbor.yml, and where its setting went, in lower case.
    pub why: String,
    /// Whether the value may be a secret (a password, a key, a URL with credentials).
    pub secret: bool,
    /// The value, so it can be entered elsewhere; `None` exactly when `secret` is set.
    pub value: Option<String>,
}

impl fmt::Display for Unmapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.key, self.why)?;
        match &self.value {
            None => f.write_str(" (secret value not shown)"),
            Some(v) if v.is_empty() => f.write_str(" (empty)"),
            Some(v) => write!(f, " (value `{v}`)"),
        }
    }
}

/// A harbor.cfg converted to harbor.yml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// A complete harbor.yml for schema 2.15.0, which [`Config::from_yaml`] accepts. It holds
    /// the passwords, so treat it as a secret.
    pub yaml: String,
    /// Every key with no place in harbor.yml, in file order.
    pub report: Vec<Unmapped>,
    /// Readings to double-check (quotes removed from a value), in file order.
    pub warnings: Vec<Issue>,
}

/// Converts a harbor.cfg of Harbor 0.5 to 1.7 into a harbor.yml for schema 2.15.0.
///
/// The result is the built-in default ([`crate::default_config`]) with every key of the cfg
/// that has a place in harbor.yml written over it; keys without one are listed in
/// [`Conversion::report`]. The file must set `hostname`, `ui_url_protocol`,
/// `harbor_admin_password` and `db_password` (every release required them), and `ssl_cert` and
/// `ssl_cert_key` with https; other missing keys keep the defaults.
///
/// The result is not validated: a hostname left at the template's `reg.mydomain.com` converts,
/// and [`crate::check`] then rejects it.
///
/// # Errors
///
/// Every problem at once: those of [`parse`], keys no release had, missing or malformed
/// values, and settings Harbor 2 cannot take (an external MySQL database). Each names the cfg
/// key and its line.
///
/// ```
/// let cfg = "hostname = harbor.example.test\nui_url_protocol = http\n\
///            harbor_admin_password = Adm1n\ndb_password = \"Db #7\"\nauth_mode = db_auth\n";
/// let out = harbor_prep::legacy::convert(cfg).unwrap();
/// let config = harbor_prep::Config::from_yaml(&out.yaml).unwrap();
/// assert_eq!(config.database.password.expose(), "Db #7");
/// assert_eq!((out.report[0].key.as_str(), out.report[0].line), ("auth_mode", 5));
/// assert_eq!(out.warnings[0].path, "db_password");
/// ```
pub fn convert(text: &str) -> Result<Conversion, Vec<Issue>> {
    let (cfg, mut errors) = read(text);
    check_keys(&cfg, &mut errors);

    let hostname = cfg.value("hostname").unwrap_or_default();
    let mut b = match Builder::new(&cfg, hostname) {
        Ok(b) => b,
        Err(issue) => {
            errors.push(issue);
            return Err(errors);
        }
    };
    b.general();
    b.protocol();
    b.database();
    b.redis();
    b.storage();
    b.proxy();
    b.uaa();
    b.data_volume();
    b.report_rest();

    errors.append(&mut b.errors);
    if !errors.is_empty() {
        errors.sort_by_key(|i| i.mark.map(|m| (m.line, m.column)));
        return Err(errors);
    }

    let yaml = b.emit();
    if let Err(issues) = Config::from_yaml(&yaml) {
        return Err(issues.into_iter().map(|i| b.trace_back(i)).collect());
    }

    let mut report = b.report;
    report.sort_by_key(|u| u.line);
    Ok(Conversion {
        yaml,
        report,
        warnings: cfg.warnings.clone(),
    })
}

/// How the converter treats a key.
enum Home {
    /// Handled by the converter: written to harbor.yml, or reported for a reason it works out.
    Converter,
    /// No place in harbor.yml, for this reason.
    Reported(&'static str),
}

/// A key of some harbor.cfg release.
struct KeySpec {
    name: &'static str,
    secret: bool,
    home: Home,
}

const fn mapped(name: &'static str, secret: bool) -> KeySpec {
    KeySpec {
        name,
        secret,
        home: Home::Converter,
    }
}

const fn reported(name: &'static str, secret: bool, why: &'static str) -> KeySpec {
    KeySpec {
        name,
        secret,
        home: Home::Reported(why),
    }
}

const AUTH: &str = "harbor 2 sets the authentication mode in the web UI \
                    (administration > configuration > authentication)";
const LDAP: &str = "harbor 2 sets ldap in the web UI (configuration > authentication, with auth \
                    mode ldap)";
const LDAP_SCOPE: &str = "harbor 2 sets ldap in the web UI (configuration > authentication); \
                          it numbers the scopes 0 base, 1 one level, 2 subtree, where harbor 1.2 \
                          and older used 1 to 3";
const EMAIL: &str = "harbor 2 has no email settings";
const UAA: &str = "harbor 2 sets uaa in the web UI (configuration > authentication, with auth \
                   mode uaa)";
const SYSTEM: &str = "harbor 2 sets this in the web UI (configuration > system settings)";
const CLAIR: &str = "harbor 2 has no clair; trivy, set up by the default harbor.yml, scans images";
const CRT: &str = "harbor 2 creates its token certificate without these subject fields";
const RELOAD: &str = "harbor 2 keeps web UI settings in its database and never reloads them \
                      from the installer's file";
const SECRET_KEY: &str = "harbor 2 keeps the secret key in <data_volume>/secret/keys/secretkey; \
                          copy the old key file there so settings harbor 1 encrypted stay \
                          readable";

/// Every key of the harbor.cfg of Harbor 0.5 to 1.7 (and the few 0.4 had besides).
const KEYS: &[KeySpec] = &[
    reported(
        "_version",
        false,
        "the version of the cfg format; the converted file is written for schema 2.15.0",
    ),
    reported("admiral_url", false, "harbor 2 has no admiral integration"),
    reported("auth_mode", false, AUTH),
    reported("clair_db", false, CLAIR),
    reported("clair_db_host", false, CLAIR),
    reported("clair_db_password", true, CLAIR),
    reported("clair_db_port", false, CLAIR),
    reported("clair_db_username", false, CLAIR),
    reported("clair_updaters_interval", false, CLAIR),
    reported("crt_commonname", false, CRT),
    reported("crt_country", false, CRT),
    reported("crt_email", false, CRT),
    reported("crt_location", false, CRT),
    reported("crt_organization", false, CRT),
    reported("crt_organizationalunit", false, CRT),
    reported("crt_state", false, CRT),
    reported(
        "customize_crt",
        false,
        "harbor 2 always creates the token signing key and certificate when they are missing \
         (`off` meant using the pair shipped with the installer)",
    ),
    mapped("db_host", false),
    mapped("db_password", true),
    mapped("db_port", false),
    mapped("db_user", false),
    reported("email_from", false, EMAIL),
    reported("email_identity", false, EMAIL),
    reported("email_insecure", false, EMAIL),
    reported("email_password", true, EMAIL),
    reported("email_server", false, EMAIL),
    reported("email_server_port", false, EMAIL),
    reported("email_ssl", false, EMAIL),
    reported("email_username", false, EMAIL),
    mapped("harbor_admin_password", true),
    mapped("hostname", false),
    mapped("http_proxy", false),
    mapped("https_proxy", false),
    reported("ldap_basedn", false, LDAP),
    reported("ldap_filter", false, LDAP),
    reported("ldap_group_admin_dn", false, LDAP),
    reported("ldap_group_basedn", false, LDAP),
    reported("ldap_group_filter", false, LDAP),
    reported("ldap_group_gid", false, LDAP),
    reported("ldap_group_scope", false, LDAP_SCOPE),
    reported("ldap_scope", false, LDAP_SCOPE),
    reported("ldap_search_pwd", true, LDAP),
    reported("ldap_searchdn", false, LDAP),
    reported("ldap_timeout", false, LDAP),
    reported("ldap_uid", false, LDAP),
    reported("ldap_url", false, LDAP),
    reported("ldap_verify_cert", false, LDAP),
    mapped("log_rotate_count", false),
    mapped("log_rotate_size", false),
    mapped("max_job_workers", false),
    mapped("no_proxy", false),
    reported("project_creation_restriction", false, SYSTEM),
    mapped("redis_db_index", false),
    mapped("redis_host", false),
    mapped("redis_password", true),
    mapped("redis_port", false),
    mapped("redis_url", true),
    mapped("registry_custom_ca_bundle", false),
    mapped("registry_storage_provider_config", true),
    mapped("registry_storage_provider_name", false),
    reported("reload_config", false, RELOAD),
    reported("secret_key", true, SECRET_KEY),
    mapped("secretkey_path", false),
    reported(
        "self_registration",
        false,
        "harbor 2 sets self-registration in the web UI (configuration > authentication)",
    ),
    reported("skip_reload_env_pattern", false, RELOAD),
    mapped("ssl_cert", false),
    mapped("ssl_cert_key", false),
    reported("token_expiration", false, SYSTEM),
    mapped("uaa_ca_cert", false),
    mapped("uaa_ca_root", false),
    reported("uaa_clientid", false, UAA),
    reported("uaa_clientsecret", true, UAA),
    reported("uaa_endpoint", false, UAA),
    reported("uaa_verify_cert", false, UAA),
    mapped("ui_url_protocol", false),
    reported(
        "use_compressed_js",
        false,
        "harbor 2's portal has no such switch; it always serves its built files",
    ),
    reported(
        "verify_remote_cert",
        false,
        "harbor 2 sets certificate verification per registry endpoint in the web UI",
    ),
];

fn spec(key: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|k| k.name == key)
}

/// Whether harbor.cfg's `key` may hold a secret; such values never appear in messages.
pub fn is_secret(key: &str) -> bool {
    spec(key).is_some_and(|k| k.secret)
}

/// Keys every release required, with what to write.
const REQUIRED: [(&str, &str); 4] = [
    ("hostname", "the name clients reach harbor by"),
    ("ui_url_protocol", "http or https"),
    ("harbor_admin_password", "the admin password"),
    ("db_password", "the database password"),
];

/// Unknown keys and missing required ones.
fn check_keys(cfg: &Cfg, errors: &mut Vec<Issue>) {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    for entry in &cfg.entries {
        if spec(&entry.key).is_some() {
            continue;
        }
        let hint = match did_you_mean(&entry.key, &names) {
            Some(near) => format!("; did you mean `{near}`?"),
            None => "; remove the line".into(),
        };
        errors.push(Issue::new(
            entry.key.clone(),
            Some(entry.key_mark),
            Code::UnknownKey,
            format!("not a harbor.cfg key of any release from 0.5 to 1.7{hint}"),
        ));
    }

    for (key, what) in REQUIRED {
        if cfg.get(key).is_some() || cfg.rejected.iter().any(|k| k == key) {
            continue;
        }
        let commented = cfg
            .commented
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, line)| format!("; line {line} has it commented out"))
            .unwrap_or_default();
        errors.push(Issue::new(
            key,
            None,
            Code::Missing,
            format!(
                "missing: every harbor release required it (its installer stopped with \
                 NoOptionError) and harbor.yml needs it; add `{key} = ` with {what}{commented}"
            ),
        ));
    }
}

/// The order of the top-level keys in the converted file.
const ORDER: [&str; 19] = [
    "_version",
    "hostname",
    "http",
    "https",
    "harbor_admin_password",
    "database",
    "data_volume",
    "storage_service",
    "trivy",
    "jobservice",
    "notification",
    "log",
    "external_database",
    "redis",
    "external_redis",
    "uaa",
    "proxy",
    "upload_purging",
    "cache",
];

const HEADER: &str = "# harbor.yml converted by harbor-prep from a harbor.cfg of harbor 1.x.\n\
                      # Settings harbor 2 keeps in its web UI (authentication, ldap, uaa, \
                      project creation,\n# token expiration) were not carried over: see the \
                      conversion report.\n";

/// The converted document being built, with what is known about each key.
struct Builder<'c> {
    cfg: &'c Cfg,
    doc: Vec<(String, Value)>,
    /// Which harbor.yml path each cfg entry was written to.
    origins: Vec<(String, &'c Entry)>,
    /// Keys written to harbor.yml or deliberately left to a default.
    mapped: BTreeSet<&'c str>,
    report: Vec<Unmapped>,
    errors: Vec<Issue>,
}

impl<'c> Builder<'c> {
    fn new(cfg: &'c Cfg, hostname: &str) -> Result<Builder<'c>, Issue> {
        let default = crate::default_config(hostname);
        let root = yaml::parse(&default).map_err(|e| {
            let message = format!("the built-in default harbor.yml is broken: {}", e.message);
            Issue::new("", None, Code::Syntax, message)
        })?;
        let doc = match Value::from_node(&root) {
            Value::Map(entries) => entries,
            _ => Vec::new(),
        };

        Ok(Builder {
            cfg,
            doc,
            origins: Vec::new(),
            mapped: BTreeSet::new(),
            report: Vec::new(),
            errors: Vec::new(),
        })
    }

    fn entry(&self, key: &str) -> Option<&'c Entry> {
        self.cfg.get(key)
    }

    /// Writes `value` at the dotted `path` of harbor.yml, as the conversion of `from`.
    fn set(&mut self, path: &str, value: Value, from: &'c Entry) {
        let parts: Vec<&str> = path.split('.').collect();
        set_path(&mut self.doc, &parts, value);
        self.origins.push((path.to_owned(), from));
        self.mapped.insert(from.key.as_str());
    }

    /// Marks `key` as converted without writing anything (its value is the default's).
    fn keep_default(&mut self, key: &str) {
        if let Some(entry) = self.entry(key) {
            self.mapped.insert(entry.key.as_str());
        }
    }

    fn unmapped(&mut self, key: &str, why: impl Into<String>) {
        let Some(entry) = self.entry(key) else {
            return;
        };
        if self.report.iter().any(|u| u.key == entry.key) {
            return;
        }
        let secret = is_secret(key);
        self.report.push(Unmapped {
            key: entry.key.clone(),
            line: entry.line,
            why: why.into(),
            secret,
            value: (!secret).then(|| entry.value.clone()),
        });
    }

    fn error(&mut self, entry: &Entry, code: Code, message: String) {
        self.errors.push(Issue::new(
            entry.key.clone(),
            Some(entry.value_mark),
            code,
            message,
        ));
    }

    /// The value shown in a message: the value itself, or a mask for secrets.
    fn shown(entry: &Entry) -> String {
        if is_secret(&entry.key) {
            "the value".into()
        } else {
            format!("`{}`", entry.value)
        }
    }

    /// The value as an integer, or an issue.
    fn int(&mut self, entry: &Entry) -> Option<i64> {
        let v = entry.value.trim();
        match crate::decode::parse_int(v) {
            Some(n) => Some(n),
            None => {
                let message = format!("{} is not a whole number", Builder::shown(entry));
                self.error(entry, Code::WrongType, message);
                None
            }
        }
    }

    /// A required value that must not be empty.
    fn non_empty(&mut self, key: &str) -> Option<&'c Entry> {
        let entry = self.entry(key)?;
        if entry.value.is_empty() {
            self.error(entry, Code::Missing, "is empty".into());
            return None;
        }
        Some(entry)
    }

    /// hostname, admin password, job workers, log rotation.
    fn general(&mut self) {
        if let Some(e) = self.non_empty("hostname") {
            self.set("hostname", Value::Str(e.value.clone()), e);
        }
        if let Some(e) = self.non_empty("harbor_admin_password") {
            self.set("harbor_admin_password", Value::Str(e.value.clone()), e);
        }

        for (key, path) in [
            ("max_job_workers", "jobservice.max_job_workers"),
            ("log_rotate_count", "log.local.rotate_count"),
        ] {
            let Some(e) = self.entry(key) else {
                continue;
            };
            if let Some(n) = self.int(e) {
                self.set(path, Value::Plain(n.to_string()), e);
            }
        }
        if let Some(e) = self.entry("log_rotate_size") {
            self.set("log.local.rotate_size", Value::Str(e.value.clone()), e);
        }
    }

    /// ui_url_protocol with ssl_cert and ssl_cert_key.
    fn protocol(&mut self) {
        let Some(protocol) = self.entry("ui_url_protocol") else {
            return;
        };
        match protocol.value.as_str() {
            "http" => {
                self.keep_default("ui_url_protocol");
                for key in ["ssl_cert", "ssl_cert_key"] {
                    self.unmapped(key, "used only when ui_url_protocol is https");
                }
            }
            "https" => {
                self.mapped.insert(protocol.key.as_str());
                let cert = self.https_file("ssl_cert", "the certificate file", protocol);
                let key = self.https_file("ssl_cert_key", "the private key file", protocol);
                if let (Some(cert), Some(key)) = (cert, key) {
                    self.set("https.port", Value::Plain("443".into()), protocol);
                    self.set("https.certificate", Value::Str(cert.value.clone()), cert);
                    self.set("https.private_key", Value::Str(key.value.clone()), key);
                }
            }
            other => {
                let hint = if matches!(other.to_ascii_lowercase().as_str(), "http" | "https") {
                    "; write it in lower case"
                } else {
                    ""
                };
                let message = format!(
                    "`{other}` is not a protocol harbor serves: use http or \
                                       https{hint}"
                );
                self.error(protocol, Code::InvalidValue, message);
            }
        }
    }

    fn https_file(&mut self, key: &str, what: &str, protocol: &Entry) -> Option<&'c Entry> {
        match self.entry(key) {
            Some(e) if !e.value.is_empty() => Some(e),
            Some(e) => {
                let message = format!("is empty, but ui_url_protocol is https; give {what}");
                self.error(e, Code::Missing, message);
                None
            }
            None => {
                let message = format!(
                    "missing: ui_url_protocol is https (line {}), so harbor.cfg needs `{key}` \
                     with {what}",
                    protocol.line
                );
                self.errors
                    .push(Issue::new(key, None, Code::Missing, message));
                None
            }
        }
    }

    /// The major and minor release of `_version`, when the file has a usable one.
    fn version(&mut self) -> Option<(u64, u64)> {
        let e = self.entry("_version")?;
        let mut parts = e.value.split('.').map(|p| p.trim().parse::<u64>().ok());
        match (parts.next().flatten(), parts.next().flatten()) {
            (Some(1), Some(minor)) if minor <= 7 => Some((1, minor)),
            (Some(major), Some(minor)) if (major, minor) >= (1, 8) => {
                let message = format!(
                    "`{}` is a harbor.yml release: harbor.cfg ends with 1.7, and 1.8 and later \
                     read harbor.yml, which the harbor.yml migration upgrades",
                    e.value
                );
                self.error(e, Code::SchemaVersion, message);
                None
            }
            _ => {
                let message = format!("`{}` is not a harbor.cfg version (1.5.0 to 1.7.0)", e.value);
                self.error(e, Code::InvalidValue, message);
                None
            }
        }
    }

    /// db_password with db_host, db_port and db_user (1.3 and later).
    fn database(&mut self) {
        let version = self.version();
        let Some(password) = self.non_empty("db_password") else {
            return;
        };
        self.set(
            "database.password",
            Value::Str(password.value.clone()),
            password,
        );

        // 1.2 and older had no db_host: their database was always the bundled one
        let Some(host) = self.entry("db_host") else {
            return;
        };
        if host.value.is_empty() {
            let message = "is empty; give the database host (`postgresql` for the bundled one)";
            self.error(host, Code::Missing, message.into());
            return;
        }
        let port = self.entry("db_port");
        let user = self.entry("db_user");
        let port_value = port.map_or("5432", |p| p.value.as_str());
        let postgres_era = version.is_some_and(|v| v >= (1, 6)) || host.value == "postgresql";

        if host.value == "mysql" {
            let why = "harbor 1.5 and older kept their data in a bundled mysql; harbor 2 bundles \
                       postgresql, with user postgres on port 5432 (the data moves over only \
                       through the upgrade to 1.6)";
            for key in ["db_host", "db_port", "db_user"] {
                self.unmapped(key, why);
            }
            return;
        }

        if host.value == "postgresql" && port_value == "5432" {
            self.keep_default("db_host");
            self.keep_default("db_port");
            match user {
                Some(u) if u.value != "postgres" => self.unmapped(
                    "db_user",
                    "harbor 2's bundled database user is always postgres",
                ),
                _ => self.keep_default("db_user"),
            }
            return;
        }

        if !postgres_era {
            let message = "points to an external mysql database (harbor 1.5 and older); harbor 2 \
                           needs postgresql, so move the data and write external_database by \
                           hand";
            self.error(host, Code::InvalidValue, message.into());
            return;
        }

        self.external_database(host, port, user, password);
    }

    fn external_database(
        &mut self,
        host: &'c Entry,
        port: Option<&'c Entry>,
        user: Option<&'c Entry>,
        password: &'c Entry,
    ) {
        let p = "external_database.harbor";
        self.set(&format!("{p}.host"), Value::Str(host.value.clone()), host);

        let port_number = match port {
            Some(e) => self.int(e),
            None => Some(5432),
        };
        if let Some(n) = port_number {
            let from = port.unwrap_or(host);
            self.set(&format!("{p}.port"), Value::Plain(n.to_string()), from);
        }

        // harbor 1.6 and 1.7 always used the database `registry`, without tls
        self.set(&format!("{p}.db_name"), Value::Str("registry".into()), host);
        let username = user.map_or("postgres", |u| u.value.as_str());
        self.set(
            &format!("{p}.username"),
            Value::Str(username.into()),
            user.unwrap_or(host),
        );
        self.set(
            &format!("{p}.password"),
            Value::Str(password.value.clone()),
            password,
        );
        self.set(&format!("{p}.ssl_mode"), Value::Str("disable".into()), host);
        self.set(
            &format!("{p}.max_idle_conns"),
            Value::Plain("2".into()),
            host,
        );
        self.set(
            &format!("{p}.max_open_conns"),
            Value::Plain("0".into()),
            host,
        );
    }

    /// redis_host, redis_port, redis_password, redis_db_index (1.6, 1.7) or redis_url (1.4, 1.5).
    fn redis(&mut self) {
        if self.entry("redis_url").is_some() {
            self.redis_url();
        }
        let Some(host) = self.entry("redis_host") else {
            for key in ["redis_port", "redis_password", "redis_db_index"] {
                self.unmapped(key, "used only together with redis_host");
            }
            return;
        };
        if host.value.is_empty() {
            let message = "is empty; give the redis server (`redis` for the bundled one)";
            self.error(host, Code::Missing, message.into());
            return;
        }

        let port = self.entry("redis_port");
        let port_number = match port {
            Some(e) => self.int(e),
            None => Some(6379),
        };
        let indexes = self.redis_indexes();
        let bundled = host.value == "redis" && port_number == Some(6379);

        if bundled {
            self.keep_default("redis_host");
            self.keep_default("redis_port");
            match self.entry("redis_password") {
                Some(pw) if !pw.value.is_empty() => {
                    self.unmapped("redis_password", "harbor 2's bundled redis has no password")
                }
                _ => self.keep_default("redis_password"),
            }
            if let Some((registry, jobservice, from)) = indexes {
                if (registry, jobservice) != (1, 2) {
                    self.set(
                        "redis.registry_db_index",
                        Value::Plain(registry.to_string()),
                        from,
                    );
                    let v = Value::Plain(jobservice.to_string());
                    self.set("redis.jobservice_db_index", v, from);
                }
                self.keep_default("redis_db_index");
            }
            return;
        }

        let Some(port_number) = port_number else {
            return;
        };
        let address = if host.value.contains(':') && !host.value.starts_with('[') {
            format!("[{}]:{port_number}", host.value)
        } else {
            format!("{}:{port_number}", host.value)
        };
        self.set("external_redis.host", Value::Str(address), host);
        if let Some(p) = port {
            self.mapped.insert(p.key.as_str());
        }
        let password = self.entry("redis_password");
        let pw = password.map_or(String::new(), |p| p.value.clone());
        self.set(
            "external_redis.password",
            Value::Str(pw),
            password.unwrap_or(host),
        );
        let (registry, jobservice, from) = indexes.unwrap_or((1, 2, host));
        let base = "external_redis";
        self.set(
            &format!("{base}.registry_db_index"),
            Value::Plain(registry.to_string()),
            from,
        );
        let v = Value::Plain(jobservice.to_string());
        self.set(&format!("{base}.jobservice_db_index"), v, from);
        self.set(
            &format!("{base}.trivy_db_index"),
            Value::Plain("5".into()),
            host,
        );
        self.set(
            &format!("{base}.idle_timeout_seconds"),
            Value::Plain("30".into()),
            host,
        );
    }

    /// redis_db_index `registry,jobservice,chartmuseum`: the first two, when well formed.
    fn redis_indexes(&mut self) -> Option<(i64, i64, &'c Entry)> {
        let e = self.entry("redis_db_index")?;
        let parts: Vec<Option<i64>> = e
            .value
            .split(',')
            .map(|p| crate::decode::parse_int(p.trim()))
            .collect();
        match parts.as_slice() {
            [Some(r), Some(j), Some(c)] if [r, j, c].iter().all(|i| (0..=15).contains(*i)) => {
                Some((*r, *j, e))
            }
            _ => {
                let message = format!(
                    "`{}` is not three redis database numbers from 0 to 15 (registry, \
                     jobservice, chart museum), such as `1,2,3`",
                    e.value
                );
                self.error(e, Code::InvalidValue, message);
                None
            }
        }
    }

    /// redis_url `host:port[,weight,password,db_index]` of 1.4 and 1.5's high-availability setup.
    fn redis_url(&mut self) {
        let Some(e) = self.entry("redis_url") else {
            return;
        };
        let mut fields = e.value.split(',').map(str::trim);
        let address = fields.next().unwrap_or_default();
        let password = fields.nth(1).unwrap_or_default();

        if address.is_empty() || (address == "redis:6379" && password.is_empty()) {
            self.keep_default("redis_url");
            return;
        }
        if !address.contains(':') {
            let message = "is not `host:port[,weight,password,db_index]`";
            self.error(e, Code::InvalidValue, message.into());
            return;
        }
        self.set("external_redis.host", Value::Str(address.into()), e);
        self.set("external_redis.password", Value::Str(password.into()), e);
        self.set(
            "external_redis.registry_db_index",
            Value::Plain("1".into()),
            e,
        );
        self.set(
            "external_redis.jobservice_db_index",
            Value::Plain("2".into()),
            e,
        );
        self.set("external_redis.trivy_db_index", Value::Plain("5".into()), e);
    }

    /// registry_storage_provider_name and _config, registry_custom_ca_bundle.
    fn storage(&mut self) {
        if let Some(e) = self.entry("registry_custom_ca_bundle") {
            if e.value.is_empty() {
                self.keep_default("registry_custom_ca_bundle");
            } else {
                self.set("storage_service.ca_bundle", Value::Str(e.value.clone()), e);
            }
        }

        let Some(name) = self.entry("registry_storage_provider_name") else {
            self.unmapped(
                "registry_storage_provider_config",
                "used only together with registry_storage_provider_name",
            );
            return;
        };
        let provider = name.value.trim();
        if !STORAGE_PROVIDERS.contains(&provider) {
            let message = format!(
                "`{provider}` is not a storage provider harbor supports; use one of {}",
                STORAGE_PROVIDERS.join(", ")
            );
            self.error(name, Code::InvalidValue, message);
            return;
        }

        let config = self.entry("registry_storage_provider_config");
        let params = match config {
            Some(c) => match self.storage_params(c) {
                Some(p) => p,
                None => return,
            },
            None => Vec::new(),
        };
        if params.is_empty() {
            if provider != "filesystem" {
                let message = format!(
                    "storage provider `{provider}` needs its settings in \
                     registry_storage_provider_config"
                );
                self.error(name, Code::Missing, message);
                return;
            }
            self.keep_default("registry_storage_provider_name");
            self.keep_default("registry_storage_provider_config");
            return;
        }

        let from = config.unwrap_or(name);
        self.set(
            &format!("storage_service.{provider}"),
            Value::Map(params),
            from,
        );
        self.mapped.insert(name.key.as_str());
    }

    /// `key: value, key: value` as a mapping; values typed the way the registry read them.
    fn storage_params(&mut self, e: &'c Entry) -> Option<Vec<(String, Value)>> {
        let mut params: Vec<(String, Value)> = Vec::new();
        for (n, item) in e.value.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                continue;
            }
            let Some((key, value)) = item.split_once(':') else {
                let message = format!(
                    "setting {} is not `key: value` (the settings are comma-separated \
                     `key: value` pairs)",
                    n + 1
                );
                self.error(e, Code::InvalidValue, message);
                return None;
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() || params.iter().any(|(k, _)| k == key) {
                let message = format!("setting {} has an empty or repeated key", n + 1);
                self.error(e, Code::InvalidValue, message);
                return None;
            }
            params.push((key.to_owned(), storage_value(value)));
        }
        Some(params)
    }

    /// http_proxy, https_proxy and no_proxy: Clair's proxy in 1.5 to 1.7, Trivy's in harbor 2.
    ///
    /// no_proxy counts only when a proxy is set; the templates set it without one.
    fn proxy(&mut self) {
        let set: Vec<&'c Entry> = ["http_proxy", "https_proxy"]
            .into_iter()
            .filter_map(|key| self.entry(key))
            .filter(|e| !e.value.is_empty())
            .collect();
        let Some(first) = set.first().copied() else {
            for key in ["http_proxy", "https_proxy", "no_proxy"] {
                self.keep_default(key);
            }
            return;
        };

        for key in ["http_proxy", "https_proxy", "no_proxy"] {
            match self.entry(key) {
                Some(e) if !e.value.is_empty() => {
                    self.set(&format!("proxy.{key}"), Value::Str(e.value.clone()), e);
                }
                _ => self.keep_default(key),
            }
        }

        // only clair, whose place trivy took, used the proxy in harbor 1
        let components = Value::Seq(vec![Value::Str("trivy".into())]);
        self.set("proxy.components", components, first);
    }

    /// uaa_ca_cert (1.4 to 1.7) or uaa_ca_root (1.3), which counted only with uaa_auth.
    fn uaa(&mut self) {
        let uaa_auth = self.cfg.value("auth_mode") == Some("uaa_auth");
        for key in ["uaa_ca_cert", "uaa_ca_root"] {
            let Some(e) = self.entry(key) else {
                continue;
            };
            if uaa_auth && !e.value.is_empty() {
                self.set("uaa.ca_file", Value::Str(e.value.clone()), e);
            } else {
                self.unmapped(key, "used only when auth_mode is uaa_auth");
            }
        }
    }

    /// secretkey_path: the data volume when admiral_url is set, as upstream treated it.
    fn data_volume(&mut self) {
        let Some(path) = self.entry("secretkey_path") else {
            return;
        };
        let admiral = self
            .cfg
            .value("admiral_url")
            .is_some_and(|a| !a.is_empty() && a != "NA");
        if admiral && !path.value.is_empty() {
            self.set("data_volume", Value::Str(path.value.clone()), path);
        } else {
            self.unmapped("secretkey_path", SECRET_KEY);
        }
    }

    /// Reports every entry the steps above neither converted nor reported.
    fn report_rest(&mut self) {
        let cfg = self.cfg;
        for entry in &cfg.entries {
            if self.mapped.contains(entry.key.as_str()) {
                continue;
            }
            match spec(&entry.key).map(|s| &s.home) {
                Some(Home::Reported(why)) => self.unmapped(&entry.key, *why),
                Some(Home::Converter) => self.unmapped(&entry.key, "harbor 2 has no equivalent"),
                None => {}
            }
        }
    }

    /// The finished harbor.yml text.
    fn emit(&self) -> String {
        let mut doc: Vec<&(String, Value)> = self.doc.iter().collect();
        doc.sort_by_key(|(k, _)| ORDER.iter().position(|o| o == k).unwrap_or(ORDER.len()));

        let mut out = String::from(HEADER);
        for (key, value) in doc {
            out.push('\n');
            let key = if ORDER.contains(&key.as_str()) {
                key.clone()
            } else {
                yaml_str(key)
            };
            match value {
                Value::Map(m) if !m.is_empty() => {
                    out.push_str(&format!("{key}:\n{}", value.to_yaml(2)));
                }
                Value::Seq(s) if !s.is_empty() => {
                    out.push_str(&format!("{key}:\n{}", value.to_yaml(2)));
                }
                Value::Map(_) => out.push_str(&format!("{key}: {{}}\n")),
                Value::Seq(_) => out.push_str(&format!("{key}: []\n")),
                Value::Plain(s) if is_null_text(s) => out.push_str(&format!("{key}:\n")),
                Value::Plain(s) => out.push_str(&format!("{key}: {s}\n")),
                Value::Str(s) => out.push_str(&format!("{key}: {}\n", yaml_str(s))),
            }
        }
        out
    }

    /// An issue of the converted harbor.yml, pinned to the cfg key it came from.
    fn trace_back(&self, issue: Issue) -> Issue {
        let origin = self
            .origins
            .iter()
            .filter(|(path, _)| {
                issue.path == *path
                    || issue.path.starts_with(&format!("{path}."))
                    || issue.path.starts_with(&format!("{path}["))
                    || path.starts_with(&format!("{}.", issue.path))
            })
            .max_by_key(|(path, _)| path.len());
        match origin {
            Some((_, entry)) => Issue::new(
                entry.key.clone(),
                Some(entry.value_mark),
                issue.code,
                format!("as `{}` in harbor.yml: {}", issue.path, issue.message),
            ),
            None => Issue::new(
                issue.path,
                None,
                issue.code,
                format!("in the converted harbor.yml: {}", issue.message),
            ),
        }
    }
}

/// A storage setting as the 1.x registry read it: the text went into its YAML unquoted.
fn storage_value(v: &str) -> Value {
    let typed = crate::decode::parse_bool(v).is_some()
        || (crate::decode::parse_int(v).is_some() && !has_leading_zero(v))
        || is_decimal(v);
    if typed {
        Value::Plain(v.to_owned())
    } else if is_null_text(v) {
        Value::Plain(String::new())
    } else {
        Value::Str(v.to_owned())
    }
}

fn has_leading_zero(v: &str) -> bool {
    let digits = v.trim_start_matches(['+', '-']);
    digits.len() > 1 && digits.starts_with('0')
}

/// `12.5`-style numbers, which every YAML reader types as floats.
fn is_decimal(v: &str) -> bool {
    let digits = v.trim_start_matches(['+', '-']);
    match digits.split_once('.') {
        Some((whole, frac)) => {
            !whole.is_empty()
                && !frac.is_empty()
                && !has_leading_zero(whole)
                && whole
                    .bytes()
                    .chain(frac.bytes())
                    .all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn set_path(map: &mut Vec<(String, Value)>, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let index = map.iter().position(|(k, _)| k == first);
    if rest.is_empty() {
        match index {
            Some(i) => map[i].1 = value,
            None => map.push(((*first).to_owned(), value)),
        }
        return;
    }

    let i = match index {
        Some(i) => i,
        None => {
            map.push(((*first).to_owned(), Value::Map(Vec::new())));
            map.len() - 1
        }
    };
    if !matches!(map[i].1, Value::Map(_)) {
        map[i].1 = Value::Map(Vec::new());
    }
    if let Value::Map(child) = &mut map[i].1 {
        set_path(child, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_need_a_blank_or_the_start() {
        assert!(has_inline_comment("a #b"));
        assert!(has_inline_comment("#b"));
        assert!(has_inline_comment("a\t;b"));
        assert!(!has_inline_comment("pa#ss;word"));
    }

    #[test]
    fn only_one_wrapping_pair_is_removed() {
        assert_eq!(unquote("\"a # b\""), Some("a # b"));
        assert_eq!(unquote("'x'"), Some("x"));
        assert_eq!(unquote("\"\""), Some(""));
        assert_eq!(unquote("\""), None);
        assert_eq!(unquote("\"a'"), None);
        assert_eq!(unquote("a\"b\""), None);
    }

    #[test]
    fn storage_values_keep_their_yaml_type() {
        assert_eq!(storage_value("1"), Value::Plain("1".into()));
        assert_eq!(storage_value("true"), Value::Plain("true".into()));
        assert_eq!(storage_value("2.5"), Value::Plain("2.5".into()));
        assert_eq!(storage_value("0123"), Value::Str("0123".into()));
        assert_eq!(storage_value("1e3"), Value::Str("1e3".into()));
        assert_eq!(storage_value("us-east-1"), Value::Str("us-east-1".into()));
    }

    #[test]
    fn every_key_is_listed_once() {
        let mut names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }

    #[test]
    fn set_path_creates_and_replaces() {
        let mut doc = vec![("a".to_owned(), Value::Plain("1".into()))];
        set_path(&mut doc, &["a", "b"], Value::Plain("2".into()));
        set_path(&mut doc, &["c"], Value::Str("x".into()));
        assert_eq!(Value::Map(doc).to_yaml(0), "a:\n  b: 2\nc: x\n");
    }
}
