//! Configuration from environment variables, laid over a harbor.yml.
//!
//! Every key of harbor.yml has a variable: `HARBOR__` and the key's path, one level per `__`,
//! in upper case. `HARBOR__DATABASE__PASSWORD` sets `database.password`,
//! `HARBOR__EXTERNAL_REDIS__TLSOPTIONS__ROOTCA` sets `external_redis.tlsOptions.rootCA` and
//! `HARBOR___VERSION` sets `_version`. The part after `HARBOR__` is matched against [`KEYS`]
//! without regard to case, so the key keeps its real spelling in the file.
//!
//! A value is read by the type of its key, never as YAML: a string is taken exactly as given
//! (`#x`, `yes` and `0123` stay those strings), an integer must be a whole number, a boolean
//! `true` or `false` (in any case), and a list is written comma separated
//! (`HARBOR__JOBSERVICE__JOB_LOGGERS=STD_OUTPUT,FILE`). Surrounding blanks are dropped from
//! numbers, booleans and list items, never from strings.
//!
//! Two mappings have keys of their own choosing: a storage driver's parameters
//! (`HARBOR__STORAGE_SERVICE__S3__BUCKET` sets `storage_service.s3.bucket`) and the trace
//! attributes. Their key is spelled as the base already spells it, else in lower case when the
//! variable writes it in upper case, else as written. Trace attributes are always strings;
//! a driver parameter is a boolean when it is exactly `true` or `false`, an integer when it is a
//! plain decimal number (`5242880`, not `0123`), and a string otherwise. Naming a storage
//! driver removes the other drivers from the base, since only one may be configured.
//!
//! A variable wins over the base. A `HARBOR__` variable that names no key is an error, with the
//! nearest variable when one is close. The variables of the setupwrapper installer of Harbor 0.5
//! and 1.1 ([`SETUPWRAPPER`]) are honoured where harbor.yml still has their setting and
//! rejected by name where it has not. Every other variable is ignored, so the whole process
//! environment can be passed in.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! let base = harbor_prep::default_config("harbor.example.test");
//! let vars = BTreeMap::from([
//!     ("HARBOR__DATABASE__PASSWORD".to_string(), "#not a comment".to_string()),
//!     ("HARBOR__JOBSERVICE__MAX_JOB_WORKERS".to_string(), "4".to_string()),
//!     ("PATH".to_string(), "/usr/bin".to_string()),
//! ]);
//! let overlay = harbor_prep::overlay::apply(&base, &vars).unwrap();
//! let config = harbor_prep::Config::from_yaml(&overlay.yaml).unwrap();
//! assert_eq!(config.database.password.expose(), "#not a comment");
//! assert_eq!(config.jobservice.max_job_workers, 4);
//! assert_eq!(overlay.applied.len(), 2);
//!
//! let bad = BTreeMap::from([("HARBOR__HTTP__PORT".to_string(), "eighty".to_string())]);
//! let issues = harbor_prep::overlay::apply(&base, &bad).unwrap_err();
//! assert_eq!(issues[0].path, "HARBOR__HTTP__PORT");
//! ```

use std::collections::BTreeMap;

use crate::decode::parse_int;
use crate::issue::{Code, Issue, did_you_mean};
use crate::model::{Config, STORAGE_PROVIDERS};
use crate::value::Value;
use crate::yaml;

/// What every variable for a harbor.yml key starts with.
pub const PREFIX: &str = "HARBOR__";

/// What separates the levels of a key in a variable's name.
pub const SEPARATOR: &str = "__";

/// How a variable's text becomes the value of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Taken exactly as given.
    Text,
    /// A whole number.
    Integer,
    /// `true` or `false`, in any case.
    Boolean,
    /// A number that may have a fraction.
    Number,
    /// A list of strings, comma separated.
    List,
    /// A mapping whose keys the user chooses; the variable names one of them below it.
    Map(Free),
}

/// How the values of a mapping with free keys are typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Free {
    /// Always strings (trace attributes, which Harbor reads as strings).
    Strings,
    /// `true`, `false` and plain decimal integers typed, the rest strings (storage driver
    /// parameters such as `secure` and `chunksize`).
    Scalars,
}

impl Type {
    /// How the type is described in docs/environment.md.
    pub fn describe(self) -> &'static str {
        match self {
            Type::Text => "string",
            Type::Integer => "integer",
            Type::Boolean => "true or false",
            Type::Number => "number",
            Type::List => "comma-separated list",
            Type::Map(Free::Strings) => "free keys: strings",
            Type::Map(Free::Scalars) => {
                "free keys: `true`, `false` and plain integers typed, the rest strings"
            }
        }
    }
}

/// One key of harbor.yml and its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The dotted path, spelled as harbor.yml spells it.
    pub path: &'static str,
    /// How a variable's text is read.
    pub ty: Type,
}

impl Key {
    /// The variable for this key: `HARBOR__DATABASE__PASSWORD` for `database.password`.
    pub fn variable(&self) -> String {
        format!("{PREFIX}{}", self.rest())
    }

    /// The variable's name after [`PREFIX`].
    fn rest(&self) -> String {
        self.segments()
            .map(str::to_ascii_uppercase)
            .collect::<Vec<_>>()
            .join(SEPARATOR)
    }

    fn segments(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('.')
    }

    fn depth(&self) -> usize {
        self.segments().count()
    }
}

const fn key(path: &'static str, ty: Type) -> Key {
    Key { path, ty }
}

use Type::{Boolean as B, Integer as I, List as L, Number as N, Text as T};

const DRIVER: Type = Type::Map(Free::Scalars);

/// Every key of harbor.yml (v2.13 to v2.15) that a variable can set, in the order of Harbor's
/// template. The mappings with free keys are listed once, as [`Type::Map`].
pub const KEYS: &[Key] = &[
    key("_version", T),
    key("hostname", T),
    key("http.port", I),
    key("https.port", I),
    key("https.certificate", T),
    key("https.private_key", T),
    key("https.strong_ssl_ciphers", B),
    key("ip_family.ipv6.enabled", B),
    key("ip_family.ipv4.enabled", B),
    key("internal_tls.enabled", B),
    key("internal_tls.dir", T),
    key("internal_tls.strong_ssl_ciphers", B),
    key("external_url", T),
    key("harbor_admin_password", T),
    key("database.password", T),
    key("database.max_idle_conns", I),
    key("database.max_open_conns", I),
    key("database.conn_max_lifetime", T),
    key("database.conn_max_idle_time", T),
    key("data_volume", T),
    key("storage_service.ca_bundle", T),
    key("storage_service.filesystem", DRIVER),
    key("storage_service.azure", DRIVER),
    key("storage_service.gcs", DRIVER),
    key("storage_service.s3", DRIVER),
    key("storage_service.swift", DRIVER),
    key("storage_service.oss", DRIVER),
    key("storage_service.redirect.disable", B),
    key("trivy.ignore_unfixed", B),
    key("trivy.skip_update", B),
    key("trivy.skip_java_db_update", B),
    key("trivy.offline_scan", B),
    key("trivy.security_check", T),
    key("trivy.insecure", B),
    key("trivy.timeout", T),
    key("trivy.github_token", T),
    key("trivy.db_repository", T),
    key("trivy.java_db_repository", T),
    key("jobservice.max_job_workers", I),
    key("jobservice.max_job_duration_hours", I),
    key("jobservice.job_loggers", L),
    key("jobservice.logger_sweeper_duration", I),
    key("notification.webhook_job_max_retry", I),
    key("notification.webhook_job_http_client_timeout", I),
    key("log.level", T),
    key("log.local.rotate_count", I),
    key("log.local.rotate_size", T),
    key("log.local.location", T),
    key("log.external_endpoint.protocol", T),
    key("log.external_endpoint.host", T),
    key("log.external_endpoint.port", I),
    key("external_database.harbor.host", T),
    key("external_database.harbor.port", I),
    key("external_database.harbor.db_name", T),
    key("external_database.harbor.username", T),
    key("external_database.harbor.password", T),
    key("external_database.harbor.ssl_mode", T),
    key("external_database.harbor.max_idle_conns", I),
    key("external_database.harbor.max_open_conns", I),
    key("external_database.harbor.conn_max_lifetime", T),
    key("external_database.harbor.conn_max_idle_time", T),
    key("redis.registry_db_index", I),
    key("redis.jobservice_db_index", I),
    key("redis.trivy_db_index", I),
    key("redis.harbor_db_index", I),
    key("redis.cache_layer_db_index", I),
    key("redis.idle_timeout_seconds", I),
    key("external_redis.host", T),
    key("external_redis.password", T),
    key("external_redis.username", T),
    key("external_redis.sentinel_master_set", T),
    key("external_redis.tlsOptions.enable", B),
    key("external_redis.tlsOptions.rootCA", T),
    key("external_redis.registry_db_index", I),
    key("external_redis.jobservice_db_index", I),
    key("external_redis.trivy_db_index", I),
    key("external_redis.harbor_db_index", I),
    key("external_redis.cache_layer_db_index", I),
    key("external_redis.idle_timeout_seconds", I),
    key("uaa.ca_file", T),
    key("proxy.http_proxy", T),
    key("proxy.https_proxy", T),
    key("proxy.no_proxy", T),
    key("proxy.components", L),
    key("metric.enabled", B),
    key("metric.port", I),
    key("metric.path", T),
    key("trace.enabled", B),
    key("trace.sample_rate", N),
    key("trace.namespace", T),
    key("trace.attributes", Type::Map(Free::Strings)),
    key("trace.jaeger.endpoint", T),
    key("trace.jaeger.username", T),
    key("trace.jaeger.password", T),
    key("trace.jaeger.agent_host", T),
    key("trace.jaeger.agent_port", I),
    key("trace.otel.endpoint", T),
    key("trace.otel.url_path", T),
    key("trace.otel.compression", B),
    key("trace.otel.insecure", B),
    key("trace.otel.timeout", I),
    key("upload_purging.enabled", B),
    key("upload_purging.age", T),
    key("upload_purging.interval", T),
    key("upload_purging.dryrun", B),
    key("cache.enabled", B),
    key("cache.expire_hours", I),
    key("core.quota_update_provider", T),
];

/// What harbor-prep does with a variable of the setupwrapper installer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Sets this key, typed as the key is.
    Key(&'static str),
    /// `UI_URL_PROTOCOL`: `https` adds the `https` block, with the certificate and key from
    /// `SSL_CERT` and `SSL_CERT_KEY` or else the old defaults; `http` removes the block.
    Protocol,
    /// Sets this key of the `https` block, which must be enabled.
    Https(&'static str),
    /// Has no harbor.yml key; the text says where the setting lives now.
    Removed(&'static str),
}

/// A variable of the setupwrapper installer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OldName {
    /// The variable.
    pub name: &'static str,
    /// Which installer read it.
    pub origin: &'static str,
    /// What becomes of it.
    pub fate: Fate,
}

/// The certificate `ui_url_protocol = https` used when `ssl_cert` was left alone.
pub const OLD_CERTIFICATE: &str = "/data/cert/server.crt";

/// The key `ui_url_protocol = https` used when `ssl_cert_key` was left alone.
pub const OLD_PRIVATE_KEY: &str = "/data/cert/server.key";

const WRAPPER: &str = "setupwrapper 0.5.0, 1.1.1";
const FORK: &str = "setupwrapper fork (disaster37)";

const EMAIL: &str = "Harbor 2.7 removed the email settings, which served password-reset mail; \
                     nothing replaces them";
const LDAP: &str = "Harbor 2 sets LDAP in the web UI (Administration > Configuration > \
                    Authentication, auth mode LDAP) or with the configurations API";
const CRT: &str = "the token certificate of Harbor 2 has no subject (only core and the registry \
                   read it); there is nothing to set";
const CLAIR: &str = "Harbor 2.2 removed Clair; the scanner is Trivy, rendered with --with-trivy";
const CONTENT: &str = "harbor-prep reads certificates from files only; write the PEM to a file \
                       and set SSL_CERT or SSL_CERT_KEY (or HARBOR__HTTPS__CERTIFICATE, \
                       HARBOR__HTTPS__PRIVATE_KEY) to its path";

const fn old(name: &'static str, origin: &'static str, fate: Fate) -> OldName {
    OldName { name, origin, fate }
}

/// The variables of the setupwrapper installer (mreferre/harbor-setupwrapper, which fed
/// Harbor 0.5.0 and 1.1.1's harbor.cfg from the environment), and of the fork that added a few.
pub const SETUPWRAPPER: &[OldName] = &[
    old("HARBORHOSTNAME", WRAPPER, Fate::Key("hostname")),
    old("UI_URL_PROTOCOL", WRAPPER, Fate::Protocol),
    old("EMAIL_IDENTITY", WRAPPER, Fate::Removed(EMAIL)),
    old("EMAIL_SERVER", WRAPPER, Fate::Removed(EMAIL)),
    old("EMAIL_SERVER_PORT", WRAPPER, Fate::Removed(EMAIL)),
    old("EMAIL_USERNAME", WRAPPER, Fate::Removed(EMAIL)),
    old("EMAIL_PASSWORD", WRAPPER, Fate::Removed(EMAIL)),
    old("EMAIL_FROM", WRAPPER, Fate::Removed(EMAIL)),
    old("EMAIL_SSL", WRAPPER, Fate::Removed(EMAIL)),
    old(
        "HARBOR_ADMIN_PASSWORD",
        WRAPPER,
        Fate::Key("harbor_admin_password"),
    ),
    old(
        "AUTH_MODE",
        WRAPPER,
        Fate::Removed(
            "Harbor 2 sets the authentication mode in the web UI (Administration > \
             Configuration > Authentication) or with the configurations API, while no user \
             but admin exists",
        ),
    ),
    old("LDAP_URL", WRAPPER, Fate::Removed(LDAP)),
    old("LDAP_BASEDN", WRAPPER, Fate::Removed(LDAP)),
    old("LDAP_UID", WRAPPER, Fate::Removed(LDAP)),
    old(
        "LDAP_SCOPE",
        WRAPPER,
        Fate::Removed(
            "Harbor 2 sets LDAP in the web UI (Administration > Configuration > \
             Authentication, auth mode LDAP) or with the configurations API; it numbers the \
             scopes 0 (base), 1 (one level) and 2 (subtree), where Harbor 0.5 and 1.1 used 1 \
             to 3",
        ),
    ),
    old("DB_PASSWORD", WRAPPER, Fate::Key("database.password")),
    old(
        "SELF_REGISTRATION",
        WRAPPER,
        Fate::Removed(
            "Harbor 2 sets self-registration in the web UI (Administration > Configuration > \
             Authentication, with the database auth mode)",
        ),
    ),
    old(
        "USE_COMPRESSED_JS",
        WRAPPER,
        Fate::Removed("the Harbor 2 portal is always served minified; there is nothing to set"),
    ),
    old(
        "MAX_JOB_WORKERS",
        WRAPPER,
        Fate::Key("jobservice.max_job_workers"),
    ),
    old(
        "TOKEN_EXPIRATION",
        WRAPPER,
        Fate::Removed(
            "Harbor 2 sets the token expiration in the web UI (Administration > Configuration \
             > System Settings)",
        ),
    ),
    old(
        "VERIFY_REMOTE_CERT",
        WRAPPER,
        Fate::Removed(
            "Harbor 2 verifies remote certificates per registry endpoint (Administration > \
             Registries, \"Verify Remote Cert\")",
        ),
    ),
    old(
        "CUSTOMIZE_CRT",
        WRAPPER,
        Fate::Removed(
            "the token signing key and certificate are always made on the first render and \
             kept afterwards; there is nothing to switch",
        ),
    ),
    old("CRT_COUNTRY", WRAPPER, Fate::Removed(CRT)),
    old("CRT_STATE", WRAPPER, Fate::Removed(CRT)),
    old("CRT_LOCATION", WRAPPER, Fate::Removed(CRT)),
    old("CRT_ORGANIZATION", WRAPPER, Fate::Removed(CRT)),
    old("CRT_ORGANIZATIONALUNIT", WRAPPER, Fate::Removed(CRT)),
    old("CRT_COMMONNAME", WRAPPER, Fate::Removed(CRT)),
    old("CRT_EMAIL", WRAPPER, Fate::Removed(CRT)),
    old(
        "PROJECT_CREATION_RESTRICTION",
        WRAPPER,
        Fate::Removed(
            "Harbor 2 sets who may create projects in the web UI (Administration > \
             Configuration > System Settings > Project Creation)",
        ),
    ),
    old("SSL_CERT", WRAPPER, Fate::Https("certificate")),
    old("SSL_CERT_KEY", WRAPPER, Fate::Https("private_key")),
    old("LDAP_USER", FORK, Fate::Removed(LDAP)),
    old("LDAP_PASSWORD", FORK, Fate::Removed(LDAP)),
    old("SSL_CERT_CONTEND", FORK, Fate::Removed(CONTENT)),
    old("SSL_CERT_KEY_CONTEND", FORK, Fate::Removed(CONTENT)),
    old("CLAIR_DB_PASSWORD", FORK, Fate::Removed(CLAIR)),
    old("WITH_CLAIR", FORK, Fate::Removed(CLAIR)),
];

/// Whether the setupwrapper variables count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Setupwrapper {
    /// Map them or reject them by name, as [`SETUPWRAPPER`] says.
    #[default]
    Honour,
    /// Ignore them like any other variable without the [`PREFIX`]; for environments where
    /// names such as `DB_PASSWORD` or `LDAP_URL` belong to something else.
    Ignore,
}

/// The merged configuration and what the variables did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// The base harbor.yml with the variables applied (comments of the base are not kept).
    pub yaml: String,
    /// Each variable that was applied and the dotted key it set, in the order of the names.
    pub applied: Vec<(String, String)>,
    /// Blocks that only variables made, with the first variable that made each.
    blocks: Vec<(String, String)>,
}

impl Overlay {
    /// Rewrites the issues of the merged text (from [`crate::check`], say) that concern a key
    /// a variable set, so that they name the variable; a required key missing from a block
    /// that only variables made names the variable that would set it. Other issues stay.
    pub fn attribute(&self, issues: Vec<Issue>) -> Vec<Issue> {
        issues
            .into_iter()
            .map(|issue| self.attribution(&issue).unwrap_or(issue))
            .collect()
    }

    fn attribution(&self, issue: &Issue) -> Option<Issue> {
        let under = |path: &str| {
            issue.path == path
                || issue.path.starts_with(&format!("{path}."))
                || issue.path.starts_with(&format!("{path}["))
        };
        let setter = self
            .applied
            .iter()
            .filter(|(_, path)| under(path))
            .max_by_key(|(_, path)| path.len());
        if let Some((var, _)) = setter {
            return Some(Issue::new(
                var.clone(),
                None,
                issue.code,
                format!("`{}`: {}", issue.path, issue.message),
            ));
        }

        if issue.code != Code::Missing {
            return None;
        }
        let (parent, _) = issue.path.rsplit_once('.')?;
        let (maker, _) = self.blocks.iter().find(|(_, block)| block == parent)?;
        let missing = variable_of(&issue.path);
        Some(Issue::new(
            missing.clone(),
            None,
            Code::Missing,
            format!(
                "`{}` is required once {maker} makes the `{parent}` block; set {missing}",
                issue.path
            ),
        ))
    }
}

/// Applies the variables in `vars` to `base` (a harbor.yml, or [`crate::default_config`]).
///
/// Fails with every problem of the variables at once; each issue's path is the variable's name.
/// Problems of the base that no variable touches are left for [`crate::check`].
pub fn apply(base: &str, vars: &BTreeMap<String, String>) -> Result<Overlay, Vec<Issue>> {
    apply_with(base, vars, Setupwrapper::Honour)
}

/// [`apply`], saying whether the setupwrapper variables count.
pub fn apply_with(
    base: &str,
    vars: &BTreeMap<String, String>,
    setupwrapper: Setupwrapper,
) -> Result<Overlay, Vec<Issue>> {
    let mut root = read_base(base)?;
    let mut issues = Vec::new();

    // the variables, resolved and typed
    let mut sets = Vec::new();
    let mut old = Vec::new();
    for (name, text) in vars {
        if let Some(rest) = name.strip_prefix(PREFIX) {
            match assignment(name, rest, text) {
                Ok(set) => sets.push(set),
                Err(issue) => issues.push(issue),
            }
        } else if let Some(entry) = SETUPWRAPPER.iter().find(|o| o.name == name.as_str()) {
            if setupwrapper == Setupwrapper::Honour {
                old.push((entry, text.as_str()));
            }
        }
    }

    let mut removals = Vec::new();
    let mut notes = Vec::new();
    old_names(
        &root,
        &old,
        &mut sets,
        &mut removals,
        &mut notes,
        &mut issues,
    );
    conflicts(&sets, &mut issues);
    storage_driver(&sets, &mut removals, &mut issues);

    // the merge, also after problems, so that those of the values show in the same run
    for path in &removals {
        remove(&mut root, path);
    }
    let mut applied = notes;
    let mut blocks = Vec::new();
    for set in &sets {
        let path = merge(&mut root, set, &mut blocks);
        applied.push((set.var.clone(), path));
    }
    applied.sort_by(|a, b| a.0.cmp(&b.0));
    let overlay = Overlay {
        yaml: emit(root),
        applied,
        blocks,
    };

    // what the typed reading says about keys the variables set, unless a variable is wrong
    // already
    let wrong: Vec<String> = issues.iter().map(|i| i.path.clone()).collect();
    let (_, found) = Config::read(&overlay.yaml);
    issues.extend(
        found
            .iter()
            .filter_map(|issue| overlay.attribution(issue))
            .filter(|issue| !wrong.contains(&issue.path)),
    );
    if issues.is_empty() {
        Ok(overlay)
    } else {
        Err(sorted(issues))
    }
}

/// The variable tables of docs/environment.md, generated from [`KEYS`] and [`SETUPWRAPPER`].
pub fn markdown() -> String {
    let mut out = String::from("| Variable | harbor.yml key | Value |\n| --- | --- | --- |\n");
    for key in KEYS {
        let (var, path) = match key.ty {
            Type::Map(_) => (
                format!("{}{SEPARATOR}<NAME>", key.variable()),
                format!("{}.<name>", key.path),
            ),
            _ => (key.variable(), key.path.to_string()),
        };
        out.push_str(&format!("| `{var}` | `{path}` | {} |\n", key.ty.describe()));
    }

    out.push_str("\n| Setupwrapper variable | Read by | Becomes |\n| --- | --- | --- |\n");
    for o in SETUPWRAPPER {
        let fate = match o.fate {
            Fate::Key(path) => format!("`{path}`"),
            Fate::Protocol => format!(
                "`https` adds the `https` block (certificate and key from `SSL_CERT` and \
                 `SSL_CERT_KEY`, else `{OLD_CERTIFICATE}` and `{OLD_PRIVATE_KEY}`); `http` \
                 removes it"
            ),
            Fate::Https(key) => format!("`https.{key}`, with https enabled"),
            Fate::Removed(why) => format!("rejected: {why}"),
        };
        out.push_str(&format!("| `{}` | {} | {fate} |\n", o.name, o.origin));
    }
    out
}

/// One key a variable sets.
struct Set {
    var: String,
    key: &'static Key,
    /// The segments below a mapping with free keys, as the variable writes them.
    free: Vec<String>,
    value: Value,
}

impl Set {
    /// The key's path with free segments in lower case, for comparing.
    fn canonical(&self) -> String {
        let mut path = self.key.path.to_string();
        for seg in &self.free {
            path.push('.');
            path.push_str(&seg.to_ascii_lowercase());
        }
        path
    }
}

fn read_base(base: &str) -> Result<Value, Vec<Issue>> {
    let node = yaml::parse(base).map_err(|e| {
        vec![Issue::new(
            "",
            Some(e.mark),
            Code::Syntax,
            format!("the base harbor.yml is not valid YAML: {}", e.message),
        )]
    })?;
    let root = Value::from_node(&node);
    match root {
        Value::Map(_) => Ok(root),
        _ if root.is_null() => Ok(Value::Map(Vec::new())),
        _ => Err(vec![Issue::new(
            "",
            Some(node.mark),
            Code::WrongType,
            "the base harbor.yml must be a mapping of keys".into(),
        )]),
    }
}

fn sorted(mut issues: Vec<Issue>) -> Vec<Issue> {
    issues.sort_by(|a, b| a.path.cmp(&b.path));
    issues
}

/// The variable for a dotted path, free keys included.
fn variable_of(path: &str) -> String {
    let rest: Vec<String> = path.split('.').map(str::to_ascii_uppercase).collect();
    format!("{PREFIX}{}", rest.join(SEPARATOR))
}

/// Resolves and types one `HARBOR__` variable.
fn assignment(var: &str, rest: &str, text: &str) -> Result<Set, Issue> {
    let (key, free) = resolve(var, rest)?;
    let value = typed(key, text).map_err(|m| Issue::new(var, None, Code::WrongType, m))?;
    Ok(Set {
        var: var.to_string(),
        key,
        free,
        value,
    })
}

fn resolve(var: &str, rest: &str) -> Result<(&'static Key, Vec<String>), Issue> {
    let segs: Vec<&str> = rest.split(SEPARATOR).collect();
    let unknown = |message: String| Issue::new(var, None, Code::UnknownKey, message);
    if segs.iter().any(|s| s.is_empty()) {
        return Err(unknown(format!(
            "names no harbor.yml key: a level is empty; levels are separated by exactly \
             `{SEPARATOR}`{}",
            hint(&segs)
        )));
    }

    let matches = |key: &Key, n: usize| {
        key.segments()
            .zip(&segs)
            .take(n)
            .all(|(k, s)| k.eq_ignore_ascii_case(s))
    };
    for key in KEYS {
        let depth = key.depth();
        if segs.len() < depth || !matches(key, depth) {
            continue;
        }
        let below = &segs[depth..];
        return match (key.ty, below.is_empty()) {
            (Type::Map(_), false) => Ok((key, below.iter().map(|s| s.to_string()).collect())),
            (_, true) if !matches!(key.ty, Type::Map(_)) => Ok((key, Vec::new())),
            (Type::Map(_), true) => Err(Issue::new(
                var,
                None,
                Code::WrongType,
                format!(
                    "`{}` is a mapping of names you choose; set one of them, as \
                     {var}{SEPARATOR}<NAME>",
                    key.path
                ),
            )),
            (Type::List, false) => Err(Issue::new(
                var,
                None,
                Code::WrongType,
                format!(
                    "`{}` is a list; give it whole, comma separated, as {}=A,B",
                    key.path,
                    key.variable()
                ),
            )),
            _ => Err(Issue::new(
                var,
                None,
                Code::WrongType,
                format!(
                    "`{}` is a single value with no keys below it; set {}",
                    key.path,
                    key.variable()
                ),
            )),
        };
    }

    // a block rather than a key
    let children: Vec<&str> = KEYS
        .iter()
        .filter(|k| k.depth() > segs.len() && matches(k, segs.len()))
        .filter_map(|k| k.segments().nth(segs.len()))
        .fold(Vec::new(), |mut acc, c| {
            if !acc.contains(&c) {
                acc.push(c);
            }
            acc
        });
    if !children.is_empty() {
        return Err(Issue::new(
            var,
            None,
            Code::WrongType,
            format!(
                "names a block, not a value; set one of its keys ({}) as {var}{SEPARATOR}<KEY>",
                children.join(", ")
            ),
        ));
    }

    Err(unknown(format!(
        "names no harbor.yml key `{}`{}",
        segs.join(".").to_ascii_lowercase(),
        hint(&segs)
    )))
}

/// A did-you-mean for a variable that names no key.
fn hint(segs: &[&str]) -> String {
    let rest = segs.join(SEPARATOR);
    let upper = rest.to_ascii_uppercase();

    // an old setupwrapper name given the prefix
    if let Some(o) = SETUPWRAPPER.iter().find(|o| o.name == upper) {
        return match o.fate {
            Fate::Key(path) => format!("; did you mean {}?", variable_of(path)),
            Fate::Protocol | Fate::Https(_) => {
                format!(
                    "; https is set with the HARBOR__HTTPS__ variables or {}",
                    o.name
                )
            }
            Fate::Removed(why) => format!("; {why}"),
        };
    }

    // a misspelt mapping with free keys: keep the name below it
    let maps: Vec<&Key> = KEYS
        .iter()
        .filter(|k| matches!(k.ty, Type::Map(_)) && k.depth() < segs.len())
        .collect();
    for depth in (1..segs.len()).rev() {
        let names: Vec<String> = maps
            .iter()
            .filter(|k| k.depth() == depth)
            .map(|k| k.rest())
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        if let Some(near) = did_you_mean(&segs[..depth].join(SEPARATOR), &refs) {
            return format!(
                "; did you mean {PREFIX}{near}{SEPARATOR}{}?",
                segs[depth..].join(SEPARATOR)
            );
        }
    }

    let rests: Vec<String> = KEYS.iter().map(Key::rest).collect();
    let refs: Vec<&str> = rests.iter().map(String::as_str).collect();
    if let Some(near) = did_you_mean(&rest, &refs) {
        return format!("; did you mean {PREFIX}{near}?");
    }
    "; docs/environment.md lists the variables".into()
}

/// The value of `text` for `key`, or what is wrong with it.
fn typed(key: &Key, text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    match key.ty {
        Type::Text => Ok(Value::Str(text.to_string())),
        Type::Integer => parse_int(trimmed)
            .map(|n| Value::Plain(n.to_string()))
            .ok_or_else(|| format!("`{}` takes a whole number, found `{text}`", key.path)),
        Type::Boolean => {
            if trimmed.eq_ignore_ascii_case("true") {
                Ok(Value::Plain("true".into()))
            } else if trimmed.eq_ignore_ascii_case("false") {
                Ok(Value::Plain("false".into()))
            } else {
                Err(format!(
                    "`{}` takes true or false, found `{text}`",
                    key.path
                ))
            }
        }
        Type::Number => trimmed
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(|f| Value::Plain(format!("{f}")))
            .ok_or_else(|| format!("`{}` takes a number, found `{text}`", key.path)),
        Type::List => Ok(Value::Seq(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::Str(s.to_string()))
                .collect(),
        )),
        Type::Map(Free::Strings) => Ok(Value::Str(text.to_string())),
        Type::Map(Free::Scalars) => {
            if text == "true" || text == "false" || plain_integer(text) {
                Ok(Value::Plain(text.to_string()))
            } else {
                Ok(Value::Str(text.to_string()))
            }
        }
    }
}

/// A decimal integer every YAML reader types the same: no leading zero, no `+`, 18 digits at
/// most.
fn plain_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && s != "-0"
}

/// The setupwrapper variables, after the `HARBOR__` ones are known.
fn old_names(
    root: &Value,
    old: &[(&OldName, &str)],
    sets: &mut Vec<Set>,
    removals: &mut Vec<Vec<String>>,
    notes: &mut Vec<(String, String)>,
    issues: &mut Vec<Issue>,
) {
    let protocol = old
        .iter()
        .find(|(o, _)| o.fate == Fate::Protocol)
        .map(|(o, text)| (o.name, text.trim().to_ascii_lowercase()));
    let modern_https: Vec<(String, &'static str)> = sets
        .iter()
        .filter(|s| s.key.path.starts_with("https."))
        .map(|s| (s.var.clone(), s.key.path))
        .collect();
    let base_https = root
        .get("https")
        .is_some_and(|h| matches!(h, Value::Map(_)));

    let https_on = match &protocol {
        Some((name, p)) if p == "https" => {
            notes.push((name.to_string(), "https".into()));
            true
        }
        Some((name, p)) if p == "http" => {
            if let Some((var, path)) = modern_https.first() {
                issues.push(Issue::new(
                    *name,
                    None,
                    Code::Conflict,
                    format!("`http` turns https off, but {var} sets `{path}`"),
                ));
            }
            notes.push((name.to_string(), "https".into()));
            removals.push(vec!["https".to_string()]);
            false
        }
        Some((name, p)) => {
            issues.push(Issue::new(
                *name,
                None,
                Code::InvalidValue,
                format!("the protocol is http or https, found `{p}`"),
            ));
            base_https || !modern_https.is_empty()
        }
        None => base_https || !modern_https.is_empty(),
    };

    let mut given = Vec::new();
    for (o, text) in old {
        let path = match o.fate {
            Fate::Key(path) => path,
            Fate::Protocol => continue,
            Fate::Https(key) if https_on => {
                given.push(key);
                match key {
                    "certificate" => "https.certificate",
                    _ => "https.private_key",
                }
            }
            Fate::Https(_) => {
                issues.push(Issue::new(
                    o.name,
                    None,
                    Code::Conflict,
                    "takes effect only with https; set UI_URL_PROTOCOL=https as well, or use \
                     the HARBOR__HTTPS__ variables"
                        .into(),
                ));
                continue;
            }
            Fate::Removed(why) => {
                issues.push(Issue::new(
                    o.name,
                    None,
                    Code::UnknownKey,
                    format!(
                        "`{}` was read by the setupwrapper installer and has no harbor.yml key: \
                         {why}",
                        o.name
                    ),
                ));
                continue;
            }
        };
        let Some(key) = KEYS.iter().find(|k| k.path == path) else {
            continue;
        };
        match typed(key, text) {
            Ok(value) => sets.push(Set {
                var: o.name.to_string(),
                key,
                free: Vec::new(),
                value,
            }),
            Err(message) => issues.push(Issue::new(o.name, None, Code::WrongType, message)),
        }
    }

    // `ui_url_protocol = https` alone used the old default files
    let Some((name, p)) = protocol else {
        return;
    };
    if p != "https" {
        return;
    }
    let https = root.get("https");
    for (key, default) in [
        ("certificate", OLD_CERTIFICATE),
        ("private_key", OLD_PRIVATE_KEY),
    ] {
        let path = format!("https.{key}");
        let in_base = https.and_then(|h| h.get(key)).is_some_and(|v| !v.is_null());
        let by_var = modern_https.iter().any(|(_, p)| *p == path);
        if given.contains(&key) || in_base || by_var {
            continue;
        }
        if let Some(k) = KEYS.iter().find(|k| k.path == path) {
            sets.push(Set {
                var: name.to_string(),
                key: k,
                free: Vec::new(),
                value: Value::Str(default.to_string()),
            });
        }
    }
}

/// Two variables for one key, or for a key and a key below it.
fn conflicts(sets: &[Set], issues: &mut Vec<Issue>) {
    for (i, later) in sets.iter().enumerate() {
        let path = later.canonical();
        for earlier in &sets[..i] {
            let other = earlier.canonical();
            let message = if other == path && earlier.value != later.value {
                format!(
                    "sets `{path}`, which {} sets to another value; keep one",
                    earlier.var
                )
            } else if path.starts_with(&format!("{other}."))
                || other.starts_with(&format!("{path}."))
            {
                format!(
                    "sets `{path}`, which overlaps `{other}` that {} sets; keep one",
                    earlier.var
                )
            } else {
                continue;
            };
            issues.push(Issue::new(later.var.clone(), None, Code::Conflict, message));
            break;
        }
    }
}

/// One storage driver at most; naming one drops the others from the base.
fn storage_driver(sets: &[Set], removals: &mut Vec<Vec<String>>, issues: &mut Vec<Issue>) {
    let mut chosen: Option<(&str, &str)> = None;
    for set in sets {
        let Some(driver) = set.key.path.strip_prefix("storage_service.") else {
            continue;
        };
        if !STORAGE_PROVIDERS.contains(&driver) {
            continue;
        }
        match chosen {
            None => chosen = Some((driver, &set.var)),
            Some((first, by)) if first != driver => issues.push(Issue::new(
                set.var.clone(),
                None,
                Code::Conflict,
                format!(
                    "sets storage driver `{driver}` while {by} sets `{first}`; only one may be \
                     configured"
                ),
            )),
            Some(_) => {}
        }
    }

    if let Some((driver, _)) = chosen {
        for other in STORAGE_PROVIDERS.iter().filter(|p| **p != driver) {
            removals.push(vec!["storage_service".into(), other.to_string()]);
        }
    }
}

fn remove(root: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for seg in parents {
        let Value::Map(entries) = node else {
            return;
        };
        let Some((_, child)) = entries.iter_mut().find(|(k, _)| k == seg) else {
            return;
        };
        node = child;
    }
    if let Value::Map(entries) = node {
        entries.retain(|(k, _)| k != last);
    }
}

/// Sets one key; returns its dotted path as written into the file.
fn merge(root: &mut Value, set: &Set, blocks: &mut Vec<(String, String)>) -> String {
    let mut segs: Vec<Segment<'_>> = set.key.segments().map(Segment::Schema).collect();
    segs.extend(set.free.iter().map(|s| Segment::Free(s)));

    let value = std::mem::replace(root, Value::Map(Vec::new()));
    let mut path = Vec::new();
    *root = set_in(value, &segs, set.value.clone(), &mut path, &set.var, blocks);
    path.join(".")
}

#[derive(Clone, Copy)]
enum Segment<'a> {
    Schema(&'static str),
    Free(&'a str),
}

impl Segment<'_> {
    fn name(self, entries: &[(String, Value)]) -> String {
        match self {
            Segment::Schema(name) => name.to_string(),
            Segment::Free(seg) => {
                if let Some((k, _)) = entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(seg)) {
                    k.clone()
                } else if seg.bytes().any(|b| b.is_ascii_lowercase()) {
                    seg.to_string()
                } else {
                    seg.to_ascii_lowercase()
                }
            }
        }
    }
}

fn set_in(
    node: Value,
    segs: &[Segment<'_>],
    leaf: Value,
    path: &mut Vec<String>,
    var: &str,
    blocks: &mut Vec<(String, String)>,
) -> Value {
    let Some((first, rest)) = segs.split_first() else {
        return leaf;
    };
    let mut entries = match node {
        Value::Map(entries) => entries,
        _ => {
            if !path.is_empty() {
                blocks.push((var.to_string(), path.join(".")));
            }
            Vec::new()
        }
    };

    let name = first.name(&entries);
    path.push(name.clone());
    match entries.iter().position(|(k, _)| *k == name) {
        Some(i) => {
            let child = std::mem::replace(&mut entries[i].1, Value::Plain(String::new()));
            entries[i].1 = set_in(child, rest, leaf, path, var, blocks);
        }
        None => {
            let at = match first {
                Segment::Schema(_) => new_position(&entries, path),
                Segment::Free(_) => entries.len(),
            };
            let child = set_in(Value::Plain(String::new()), rest, leaf, path, var, blocks);
            entries.insert(at, (name, child));
        }
    }
    Value::Map(entries)
}

/// Where a new key at `path` goes among `entries`: before the first key that Harbor's template
/// puts after it, so that an added block reads where a hand-written one would be.
fn new_position(entries: &[(String, Value)], path: &[String]) -> usize {
    let rank = |full: &str| {
        KEYS.iter()
            .position(|k| k.path == full || k.path.starts_with(&format!("{full}.")))
    };
    let parent = path[..path.len().saturating_sub(1)].join(".");
    let Some(own) = rank(&path.join(".")) else {
        return entries.len();
    };
    entries
        .iter()
        .position(|(k, _)| {
            let full = if parent.is_empty() {
                k.clone()
            } else {
                format!("{parent}.{k}")
            };
            rank(&full).is_some_and(|r| r > own)
        })
        .unwrap_or(entries.len())
}

fn emit(root: Value) -> String {
    let mut out = String::from(
        "# harbor.yml written by harbor-prep: the base configuration with environment variables \
         applied\n",
    );
    for entry in root.entries() {
        out.push('\n');
        out.push_str(&Value::Map(vec![entry.clone()]).to_yaml(0));
    }
    out
}
