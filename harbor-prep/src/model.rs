//! The typed model of harbor.yml (Harbor v2.13 to v2.15), with upstream's defaults applied.
//!
//! Where upstream's `prepare` replaced an explicit zero with its default (`rotate_count: 0`
//! became 50), the model keeps the zero: see COMPATIBILITY.md.

use std::fmt;

use serde::Serialize;

use crate::decode::{Decoder, Map};
use crate::issue::{Code, Issue};
use crate::value::Value;
use crate::yaml::{self, Mark};

/// A secret string: its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for rendering.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A whole harbor.yml.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// `_version`: the schema version the file was written for.
    pub version: Option<String>,
    /// `hostname`: the name clients use to reach Harbor.
    pub hostname: String,
    /// `http`: present unless the block is removed; upstream always listens on http.
    pub http: Http,
    /// `https`: enabled when the block is there.
    pub https: Option<Https>,
    /// `ip_family`.
    pub ip_family: IpFamily,
    /// `internal_tls`, when enabled.
    pub internal_tls: Option<InternalTls>,
    /// `external_url`, when set.
    pub external_url: Option<String>,
    /// `harbor_admin_password`.
    pub harbor_admin_password: Secret,
    /// `database`: the bundled PostgreSQL.
    pub database: Database,
    /// `data_volume`: the host directory for all persistent data.
    pub data_volume: String,
    /// `storage_service`.
    pub storage: Storage,
    /// `trivy`.
    pub trivy: Trivy,
    /// `jobservice`.
    pub jobservice: Jobservice,
    /// `notification`.
    pub notification: Notification,
    /// `log`.
    pub log: Log,
    /// `external_database.harbor`, when set.
    pub external_database: Option<ExternalDatabase>,
    /// `redis`: db indexes of the bundled Redis.
    pub redis: RedisIndexes,
    /// `external_redis`, when set.
    pub external_redis: Option<ExternalRedis>,
    /// `uaa.ca_file`, when set.
    pub uaa_ca_file: Option<String>,
    /// `proxy`.
    pub proxy: Proxy,
    /// `metric`.
    pub metric: Metric,
    /// `trace`.
    pub trace: Trace,
    /// `upload_purging`.
    pub upload_purging: UploadPurging,
    /// `cache`.
    pub cache: Cache,
    /// `core.quota_update_provider`.
    pub quota_update_provider: String,
    /// Where each key stood in the input, for later checks.
    #[serde(skip)]
    pub marks: Vec<(String, Mark)>,
}

/// `http`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Http {
    /// `http.port`, default 80.
    pub port: u16,
}

/// `https`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Https {
    /// `https.port`, default 443.
    pub port: u16,
    /// `https.certificate`: host path of the certificate (chain) PEM.
    pub certificate: String,
    /// `https.private_key`: host path of the key PEM.
    pub private_key: String,
    /// `https.strong_ssl_ciphers`.
    pub strong_ssl_ciphers: bool,
}

/// `ip_family`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpFamily {
    /// `ip_family.ipv4.enabled`, default true.
    pub ipv4: bool,
    /// `ip_family.ipv6.enabled`, default false.
    pub ipv6: bool,
}

/// `internal_tls` when `enabled: true`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InternalTls {
    /// `internal_tls.dir`: host directory holding the CA and component pairs.
    pub dir: String,
    /// `internal_tls.strong_ssl_ciphers`.
    pub strong_ssl_ciphers: bool,
}

/// `database`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Database {
    /// `database.password`.
    pub password: Secret,
    /// `database.max_idle_conns`, default 2.
    pub max_idle_conns: i64,
    /// `database.max_open_conns`, default 0 (no limit).
    pub max_open_conns: i64,
    /// `database.conn_max_lifetime`, default `5m`.
    pub conn_max_lifetime: String,
    /// `database.conn_max_idle_time`, default `0`.
    pub conn_max_idle_time: String,
}

/// `external_database.harbor`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalDatabase {
    /// `host`.
    pub host: String,
    /// `port`.
    pub port: u16,
    /// `db_name`.
    pub db_name: String,
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: Secret,
    /// `ssl_mode`: one of PostgreSQL's sslmode values.
    pub ssl_mode: String,
    /// `max_idle_conns`, default 2.
    pub max_idle_conns: i64,
    /// `max_open_conns`, default 0.
    pub max_open_conns: i64,
    /// `conn_max_lifetime`, default `5m`.
    pub conn_max_lifetime: String,
    /// `conn_max_idle_time`, default `0`.
    pub conn_max_idle_time: String,
}

/// `storage_service`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Storage {
    /// `storage_service.ca_bundle`: host path of a CA bundle the registry trusts.
    pub ca_bundle: Option<String>,
    /// The one provider configured, `filesystem` when none is.
    pub provider: String,
    /// The provider's parameters as written.
    pub params: Value,
    /// `storage_service.redirect.disable`.
    pub redirect_disable: bool,
}

/// The storage drivers Harbor's registry image ships.
pub const STORAGE_PROVIDERS: [&str; 6] = ["filesystem", "azure", "gcs", "s3", "swift", "oss"];

/// `trivy`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trivy {
    /// `ignore_unfixed`.
    pub ignore_unfixed: bool,
    /// `skip_update`.
    pub skip_update: bool,
    /// `skip_java_db_update`.
    pub skip_java_db_update: bool,
    /// `db_repository`.
    pub db_repository: String,
    /// `java_db_repository`.
    pub java_db_repository: String,
    /// `offline_scan`.
    pub offline_scan: bool,
    /// `security_check`.
    pub security_check: String,
    /// `insecure`.
    pub insecure: bool,
    /// `timeout`, a Go duration.
    pub timeout: String,
    /// `github_token`.
    pub github_token: Secret,
}

/// `jobservice`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Jobservice {
    /// `max_job_workers`.
    pub max_job_workers: i64,
    /// `max_job_duration_hours`, at least 24.
    pub max_job_duration_hours: i64,
    /// `job_loggers`: STD_OUTPUT, FILE and/or DB.
    pub job_loggers: Vec<String>,
    /// `logger_sweeper_duration` in days.
    pub logger_sweeper_duration: i64,
}

/// `notification`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// `webhook_job_max_retry`.
    pub webhook_job_max_retry: i64,
    /// `webhook_job_http_client_timeout` in seconds.
    pub webhook_job_http_client_timeout: i64,
}

/// `log`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Log {
    /// `level`: debug, info, warning, error or fatal.
    pub level: String,
    /// `local`.
    pub local: LocalLog,
    /// `external_endpoint`, when set.
    pub external: Option<ExternalLog>,
}

/// `log.local`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalLog {
    /// `rotate_count`, default 50.
    pub rotate_count: i64,
    /// `rotate_size`, default `200M`.
    pub rotate_size: String,
    /// `location`, default `/var/log/harbor`.
    pub location: String,
}

/// `log.external_endpoint`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalLog {
    /// `protocol`: tcp or udp.
    pub protocol: String,
    /// `host`.
    pub host: String,
    /// `port`.
    pub port: u16,
}

/// `redis` (db indexes of the bundled Redis); also the defaults for `external_redis`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedisIndexes {
    /// `registry_db_index`, default 1.
    pub registry_db_index: i64,
    /// `jobservice_db_index`, default 2.
    pub jobservice_db_index: i64,
    /// `trivy_db_index`, default 5.
    pub trivy_db_index: i64,
    /// `harbor_db_index`, optional.
    pub harbor_db_index: Option<i64>,
    /// `cache_layer_db_index`, optional.
    pub cache_layer_db_index: Option<i64>,
    /// `idle_timeout_seconds`, default 30.
    pub idle_timeout_seconds: i64,
}

/// `external_redis`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalRedis {
    /// `host`: `host:port`, or a comma-separated sentinel list.
    pub host: String,
    /// `password`.
    pub password: Secret,
    /// `username` (Redis 6 ACL).
    pub username: Option<String>,
    /// `sentinel_master_set`.
    pub sentinel_master_set: Option<String>,
    /// `tlsOptions.enable`.
    pub tls: bool,
    /// `tlsOptions.rootCA`: host path of the CA to trust.
    pub root_ca: Option<String>,
    /// The db indexes.
    pub indexes: RedisIndexes,
}

/// `proxy`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proxy {
    /// `http_proxy`.
    pub http_proxy: String,
    /// `https_proxy`.
    pub https_proxy: String,
    /// `no_proxy`, split on commas and trimmed.
    pub no_proxy: Vec<String>,
    /// `components` that use the proxy: core, jobservice, trivy.
    pub components: Vec<String>,
}

/// `metric`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// `enabled`.
    pub enabled: bool,
    /// `port`, default 9090.
    pub port: u16,
    /// `path`, default `/metrics`.
    pub path: String,
}

/// `trace`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trace {
    /// `enabled`.
    pub enabled: bool,
    /// `sample_rate`, 0 to 1, default 1.
    pub sample_rate: f64,
    /// `namespace`.
    pub namespace: String,
    /// `attributes` as written.
    pub attributes: Value,
    /// `jaeger`, when set.
    pub jaeger: Option<Jaeger>,
    /// `otel`, when set.
    pub otel: Option<Otel>,
}

/// `trace.jaeger`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Jaeger {
    /// `endpoint` (collector mode).
    pub endpoint: Option<String>,
    /// `username`.
    pub username: Option<String>,
    /// `password`.
    pub password: Secret,
    /// `agent_host` (agent mode).
    pub agent_host: Option<String>,
    /// `agent_port`.
    pub agent_port: Option<u16>,
}

/// `trace.otel`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Otel {
    /// `endpoint`: `host:port`.
    pub endpoint: String,
    /// `url_path`.
    pub url_path: String,
    /// `compression`.
    pub compression: bool,
    /// `insecure`.
    pub insecure: bool,
    /// `timeout` in seconds, default 10.
    pub timeout: i64,
}

/// `upload_purging`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UploadPurging {
    /// `enabled`.
    pub enabled: bool,
    /// `age`, like `168h`.
    pub age: String,
    /// `interval`, like `24h`.
    pub interval: String,
    /// `dryrun`.
    pub dryrun: bool,
}

/// `cache`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cache {
    /// `enabled`.
    pub enabled: bool,
    /// `expire_hours`.
    pub expire_hours: i64,
}

const PORT_MAX: i64 = 65535;

impl Config {
    /// Reads a harbor.yml. Every problem the typed reading finds is returned at once; the
    /// semantic rules are applied by [`crate::validate`].
    pub fn from_yaml(text: &str) -> Result<Config, Vec<Issue>> {
        match Config::read(text) {
            (Some(config), issues) if issues.is_empty() => Ok(config),
            (_, issues) => Err(issues),
        }
    }

    /// Reads a harbor.yml as far as it can: the configuration (with defaults where values were
    /// wrong) unless the YAML itself is broken, and the problems found on the way. Lets a caller
    /// apply the semantic rules too, and so report every problem in one go.
    pub fn read(text: &str) -> (Option<Config>, Vec<Issue>) {
        match yaml::parse(text) {
            Ok(root) => {
                let (config, issues) = Config::read_node(&root);
                (Some(config), issues)
            }
            Err(e) => (
                None,
                vec![Issue::new(
                    "",
                    Some(e.mark),
                    Code::Syntax,
                    format!("not valid YAML: {}", e.message),
                )],
            ),
        }
    }

    /// Reads an already parsed document.
    pub fn from_node(root: &yaml::Node) -> Result<Config, Vec<Issue>> {
        let (config, issues) = Config::read_node(root);
        if issues.is_empty() {
            Ok(config)
        } else {
            Err(issues)
        }
    }

    /// Reads a parsed document as far as it can, with the problems found.
    pub fn read_node(root: &yaml::Node) -> (Config, Vec<Issue>) {
        let decoder = Decoder::default();
        let top = decoder.map(root, "");
        let config = read(&top);
        top.finish();
        (config, decoder.into_issues())
    }

    /// Where the key at `path` stood in the input, when it was written.
    pub fn mark(&self, path: &str) -> Option<Mark> {
        self.marks.iter().find(|(p, _)| p == path).map(|(_, m)| *m)
    }

    /// Whether https is enabled.
    pub fn https_enabled(&self) -> bool {
        self.https.is_some()
    }
}

fn port(m: &Map<'_>, key: &'static str, default: u16) -> u16 {
    m.opt_int(key, 1, PORT_MAX)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(default)
}

fn read(top: &Map<'_>) -> Config {
    let mut marks = Vec::new();
    for (key, _) in [
        "hostname",
        "external_url",
        "data_volume",
        "harbor_admin_password",
        "_version",
    ]
    .iter()
    .map(|k| (*k, ()))
    {
        if top.has(key) {
            marks.push((key.to_string(), top.mark_of(key)));
        }
    }

    let version = top.opt_str("_version");
    let hostname = top.req_str("hostname");

    let http = match top.map("http") {
        Some(m) => {
            marks.push(("http.port".into(), m.mark_of("port")));
            let http = Http {
                port: port(&m, "port", 80),
            };
            m.finish();
            http
        }
        None => Http { port: 80 },
    };

    let https = top.map("https").map(|m| {
        for key in ["port", "certificate", "private_key"] {
            marks.push((m.path_of(key), m.mark_of(key)));
        }
        let https = Https {
            port: port(&m, "port", 443),
            certificate: m.req_str("certificate"),
            private_key: m.req_str("private_key"),
            strong_ssl_ciphers: m.bool_or("strong_ssl_ciphers", false),
        };
        m.finish();
        https
    });

    let ip_family = read_ip_family(top, &mut marks);

    let internal_tls = top.map("internal_tls").and_then(|m| {
        let enabled = m.bool_or("enabled", false);
        let dir = if enabled {
            marks.push(("internal_tls.dir".into(), m.mark_of("dir")));
            m.req_str("dir")
        } else {
            m.str_or("dir", "")
        };
        let tls = InternalTls {
            dir,
            strong_ssl_ciphers: m.bool_or("strong_ssl_ciphers", false),
        };
        m.finish();
        enabled.then_some(tls)
    });

    let external_url = top.opt_str("external_url").map(|url| lower_scheme(&url));
    let harbor_admin_password = Secret(top.req_str("harbor_admin_password"));

    let database = read_database(top, &mut marks);
    let data_volume = top.req_str("data_volume");
    let storage = read_storage(top, &mut marks);
    let trivy = read_trivy(top);
    let jobservice = read_jobservice(top);
    let notification = read_notification(top);
    let log = read_log(top, &mut marks);
    let external_database = read_external_database(top);

    let redis = match top.map("redis") {
        Some(m) => {
            marks.push(("redis".into(), top.mark_of("redis")));
            let r = read_indexes(&m);
            m.finish();
            r
        }
        None => default_indexes(),
    };
    let external_redis = read_external_redis(top, &mut marks);

    let uaa_ca_file = top.map("uaa").and_then(|m| {
        marks.push(("uaa.ca_file".into(), m.mark_of("ca_file")));
        let f = m.opt_str("ca_file");
        m.finish();
        f
    });

    let proxy = read_proxy(top);
    let metric = read_metric(top, &mut marks);
    let trace = read_trace(top, &mut marks);
    let upload_purging = read_upload_purging(top, &mut marks);
    let cache = read_cache(top, &mut marks);

    let quota_update_provider = match top.map("core") {
        Some(m) => {
            marks.push((
                "core.quota_update_provider".into(),
                m.mark_of("quota_update_provider"),
            ));
            let p = m.str_or("quota_update_provider", "db");
            m.finish();
            p
        }
        None => "db".into(),
    };

    Config {
        version,
        hostname,
        http,
        https,
        ip_family,
        internal_tls,
        external_url,
        harbor_admin_password,
        database,
        data_volume,
        storage,
        trivy,
        jobservice,
        notification,
        log,
        external_database,
        redis,
        external_redis,
        uaa_ca_file,
        proxy,
        metric,
        trace,
        upload_purging,
        cache,
        quota_update_provider,
        marks,
    }
}

fn read_ip_family(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> IpFamily {
    let Some(m) = top.map("ip_family") else {
        return IpFamily {
            ipv4: true,
            ipv6: false,
        };
    };

    marks.push(("ip_family".into(), m.mark()));
    let enabled = |key: &'static str, default: bool| match m.map(key) {
        Some(f) => {
            let e = f.bool_or("enabled", default);
            f.finish();
            e
        }
        None => default,
    };
    let family = IpFamily {
        ipv6: enabled("ipv6", false),
        ipv4: enabled("ipv4", true),
    };
    m.finish();
    family
}

fn read_database(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> Database {
    let m = top.map("database");
    if let Some(m) = m.as_ref().filter(|m| m.has("password")) {
        marks.push(("database.password".into(), m.mark_of("password")));
    }
    let password = m
        .as_ref()
        .map(|m| m.req_str("password"))
        .unwrap_or_default();
    let db = Database {
        password: Secret(password),
        max_idle_conns: m
            .as_ref()
            .map_or(2, |m| m.int_or("max_idle_conns", 2, i64::MIN, i64::MAX)),
        max_open_conns: m
            .as_ref()
            .map_or(0, |m| m.int_or("max_open_conns", 0, i64::MIN, i64::MAX)),
        conn_max_lifetime: m
            .as_ref()
            .map_or("5m".into(), |m| duration(m, "conn_max_lifetime", "5m")),
        conn_max_idle_time: m
            .as_ref()
            .map_or("0".into(), |m| duration(m, "conn_max_idle_time", "0")),
    };
    if let Some(m) = m {
        m.finish();
    }
    db
}

fn read_storage(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> Storage {
    let Some(m) = top.map("storage_service") else {
        return Storage {
            ca_bundle: None,
            provider: "filesystem".into(),
            params: Value::Map(Vec::new()),
            redirect_disable: false,
        };
    };

    marks.push(("storage_service.ca_bundle".into(), m.mark_of("ca_bundle")));
    let ca_bundle = m.opt_str("ca_bundle").filter(|s| !s.is_empty());

    let mut configured = Vec::new();
    for name in STORAGE_PROVIDERS {
        if let Some(node) = m.node(name) {
            configured.push((name, node));
        }
    }
    if configured.len() > 1 {
        let names: Vec<&str> = configured.iter().map(|(n, _)| *n).collect();
        m.report(
            configured[1].0,
            Code::Conflict,
            format!(
                "only one storage provider may be configured, found {}; keep one",
                names.join(" and ")
            ),
        );
    }

    let (provider, params) = match configured.first() {
        Some((name, node)) => {
            let params = Value::from_node(node);
            let empty =
                params.is_null() || !matches!(params, Value::Map(_)) || params.entries().is_empty();
            if empty && *name != "filesystem" {
                m.report(
                    name,
                    Code::Missing,
                    format!(
                        "storage provider `{name}` needs its parameters (bucket, credentials, \
                         ...); remove the block to use the filesystem"
                    ),
                );
            }
            let params = match params {
                Value::Map(_) => params,
                _ => Value::Map(Vec::new()),
            };
            marks.push((m.path_of(name), m.mark_of(name)));
            (name.to_string(), params)
        }
        None => ("filesystem".to_string(), Value::Map(Vec::new())),
    };

    let redirect_disable = match m.map("redirect") {
        Some(r) => {
            let d = r.bool_or("disable", false);
            r.finish();
            d
        }
        None => false,
    };
    m.finish();

    Storage {
        ca_bundle,
        provider,
        params,
        redirect_disable,
    }
}

fn read_trivy(top: &Map<'_>) -> Trivy {
    let m = top.map("trivy");
    let s = |key: &'static str, default: &str| {
        m.as_ref()
            .map_or(default.to_string(), |m| m.str_or(key, default))
    };
    let b = |key: &'static str| m.as_ref().is_some_and(|m| m.bool_or(key, false));
    let trivy = Trivy {
        ignore_unfixed: b("ignore_unfixed"),
        skip_update: b("skip_update"),
        skip_java_db_update: b("skip_java_db_update"),
        db_repository: s("db_repository", "ghcr.io/aquasecurity/trivy-db"),
        java_db_repository: s("java_db_repository", "ghcr.io/aquasecurity/trivy-java-db"),
        offline_scan: b("offline_scan"),
        security_check: s("security_check", "vuln"),
        insecure: b("insecure"),
        timeout: s("timeout", "5m0s"),
        github_token: Secret(s("github_token", "")),
    };
    if let Some(m) = m {
        m.finish();
    }
    trivy
}

fn read_jobservice(top: &Map<'_>) -> Jobservice {
    let Some(m) = top.map("jobservice") else {
        top.report(
            "jobservice",
            Code::Missing,
            "the `jobservice` block (max_job_workers, job_loggers, logger_sweeper_duration) \
             is required"
                .into(),
        );
        return Jobservice {
            max_job_workers: 10,
            max_job_duration_hours: 24,
            job_loggers: vec!["STD_OUTPUT".into(), "FILE".into()],
            logger_sweeper_duration: 1,
        };
    };

    let js = Jobservice {
        max_job_workers: m.req_int("max_job_workers", 1, 1024),
        max_job_duration_hours: m.int_or("max_job_duration_hours", 24, 24, i64::from(u32::MAX)),
        job_loggers: m.str_list("job_loggers").unwrap_or_else(|| {
            if !m.has("job_loggers") {
                m.report(
                    "job_loggers",
                    Code::Missing,
                    "`job_loggers` is required: a list of STD_OUTPUT, FILE and/or DB".into(),
                );
            }
            Vec::new()
        }),
        logger_sweeper_duration: m.req_int("logger_sweeper_duration", 1, 36500),
    };
    if m.has("job_loggers") && js.job_loggers.is_empty() {
        m.report(
            "job_loggers",
            Code::Missing,
            "jobservice needs at least one job logger: STD_OUTPUT, FILE and/or DB".into(),
        );
    }
    for (i, logger) in js.job_loggers.iter().enumerate() {
        if js.job_loggers[..i].contains(logger) {
            m.decoder().report(
                &format!("jobservice.job_loggers[{i}]"),
                Some(m.mark_of("job_loggers")),
                Code::Conflict,
                format!("job logger `{logger}` is listed twice; name each once"),
            );
            continue;
        }
        if !["STD_OUTPUT", "FILE", "DB"].contains(&logger.as_str()) {
            m.decoder().report(
                &format!("jobservice.job_loggers[{i}]"),
                Some(m.mark_of("job_loggers")),
                Code::InvalidValue,
                format!("unknown job logger `{logger}`; allowed are STD_OUTPUT, FILE and DB"),
            );
        }
    }
    m.finish();
    js
}

fn read_notification(top: &Map<'_>) -> Notification {
    let Some(m) = top.map("notification") else {
        top.report(
            "notification",
            Code::Missing,
            "the `notification` block (webhook_job_max_retry, webhook_job_http_client_timeout) \
             is required"
                .into(),
        );
        return Notification {
            webhook_job_max_retry: 3,
            webhook_job_http_client_timeout: 3,
        };
    };
    let n = Notification {
        webhook_job_max_retry: m.req_int("webhook_job_max_retry", 0, 1000),
        webhook_job_http_client_timeout: m.req_int("webhook_job_http_client_timeout", 1, 86400),
    };
    m.finish();
    n
}

fn read_log(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> Log {
    let Some(m) = top.map("log") else {
        top.report(
            "log",
            Code::Missing,
            "the `log` block (level, local) is required".into(),
        );
        return Log {
            level: "info".into(),
            local: default_local_log(),
            external: None,
        };
    };

    marks.push(("log.level".into(), m.mark_of("level")));
    let level = m.req_str("level");
    if !level.is_empty() && !LOG_LEVELS.contains(&level.as_str()) {
        let hint = if LOG_LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            format!("; write it in lower case: `{}`", level.to_ascii_lowercase())
        } else {
            String::new()
        };
        m.report(
            "level",
            Code::InvalidValue,
            format!("log level `{level}` is not one of debug, info, warning, error, fatal{hint}"),
        );
    }

    let local = match m.map("local") {
        Some(l) => {
            marks.push(("log.local.location".into(), l.mark_of("location")));
            marks.push(("log.local.rotate_size".into(), l.mark_of("rotate_size")));
            let local = LocalLog {
                rotate_count: l.int_or("rotate_count", 50, 0, 100_000),
                rotate_size: l.str_or("rotate_size", "200M"),
                location: l.str_or("location", "/var/log/harbor"),
            };
            l.finish();
            local
        }
        None => default_local_log(),
    };

    let external = m.map("external_endpoint").map(|e| {
        for key in ["protocol", "host", "port"] {
            marks.push((e.path_of(key), e.mark_of(key)));
        }
        let ext = ExternalLog {
            protocol: e.req_str("protocol"),
            host: e.req_str("host"),
            port: u16::try_from(e.req_int("port", 1, PORT_MAX)).unwrap_or(1),
        };
        if !ext.protocol.is_empty() && !["tcp", "udp"].contains(&ext.protocol.as_str()) {
            e.report(
                "protocol",
                Code::InvalidValue,
                format!("protocol `{}` is not allowed; use tcp or udp", ext.protocol),
            );
        }
        e.finish();
        ext
    });
    m.finish();

    Log {
        level,
        local,
        external,
    }
}

/// The log levels harbor.yml accepts.
pub const LOG_LEVELS: [&str; 5] = ["debug", "info", "warning", "error", "fatal"];

fn default_local_log() -> LocalLog {
    LocalLog {
        rotate_count: 50,
        rotate_size: "200M".into(),
        location: "/var/log/harbor".into(),
    }
}

fn read_external_database(top: &Map<'_>) -> Option<ExternalDatabase> {
    let outer = top.map("external_database")?;
    let Some(m) = outer.map("harbor") else {
        outer.report(
            "harbor",
            Code::Missing,
            "`external_database` needs a `harbor` block with host, port, db_name, username, \
             password and ssl_mode"
                .into(),
        );
        outer.finish();
        return None;
    };

    let db = ExternalDatabase {
        host: m.req_str("host"),
        port: u16::try_from(m.req_int("port", 1, PORT_MAX)).unwrap_or(5432),
        db_name: m.req_str("db_name"),
        username: m.req_str("username"),
        password: Secret(m.req_str("password")),
        ssl_mode: m.req_str("ssl_mode"),
        max_idle_conns: m.int_or("max_idle_conns", 2, i64::MIN, i64::MAX),
        max_open_conns: m.int_or("max_open_conns", 0, i64::MIN, i64::MAX),
        conn_max_lifetime: duration(&m, "conn_max_lifetime", "5m"),
        conn_max_idle_time: duration(&m, "conn_max_idle_time", "0"),
    };
    const SSL_MODES: [&str; 6] = [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];
    if !db.ssl_mode.is_empty() && !SSL_MODES.contains(&db.ssl_mode.as_str()) {
        m.report(
            "ssl_mode",
            Code::InvalidValue,
            format!(
                "`{}` is not a PostgreSQL sslmode; allowed are {}",
                db.ssl_mode,
                SSL_MODES.join(", ")
            ),
        );
    }
    m.finish();
    outer.finish();
    Some(db)
}

fn default_indexes() -> RedisIndexes {
    RedisIndexes {
        registry_db_index: 1,
        jobservice_db_index: 2,
        trivy_db_index: 5,
        harbor_db_index: None,
        cache_layer_db_index: None,
        idle_timeout_seconds: 30,
    }
}

fn read_indexes(m: &Map<'_>) -> RedisIndexes {
    let index = |key: &'static str, default: i64| m.int_or(key, default, 0, 15);
    RedisIndexes {
        registry_db_index: index("registry_db_index", 1),
        jobservice_db_index: index("jobservice_db_index", 2),
        trivy_db_index: index("trivy_db_index", 5),
        harbor_db_index: m.opt_int("harbor_db_index", 0, 15).filter(|i| *i != 0),
        cache_layer_db_index: m.opt_int("cache_layer_db_index", 0, 15).filter(|i| *i != 0),
        idle_timeout_seconds: m.int_or("idle_timeout_seconds", 30, 0, i64::from(u32::MAX)),
    }
}

fn read_external_redis(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> Option<ExternalRedis> {
    let m = top.map("external_redis")?;

    marks.push(("external_redis".into(), m.mark()));
    let (tls, root_ca) = match m.map("tlsOptions") {
        Some(t) => {
            marks.push((
                "external_redis.tlsOptions.rootCA".into(),
                t.mark_of("rootCA"),
            ));
            let r = (t.bool_or("enable", false), t.opt_str("rootCA"));
            t.finish();
            r
        }
        None => (false, None),
    };
    let redis = ExternalRedis {
        host: m.req_str("host"),
        password: Secret(m.str_or("password", "")),
        username: m.opt_str("username").filter(|u| !u.is_empty()),
        sentinel_master_set: m.opt_str("sentinel_master_set").filter(|s| !s.is_empty()),
        tls,
        root_ca: root_ca.filter(|r| !r.is_empty()),
        indexes: read_indexes(&m),
    };
    m.finish();
    Some(redis)
}

fn read_proxy(top: &Map<'_>) -> Proxy {
    let Some(m) = top.map("proxy") else {
        return Proxy {
            http_proxy: String::new(),
            https_proxy: String::new(),
            no_proxy: Vec::new(),
            components: Vec::new(),
        };
    };

    let proxy = Proxy {
        http_proxy: m.str_or("http_proxy", ""),
        https_proxy: m.str_or("https_proxy", ""),
        no_proxy: m
            .str_or("no_proxy", "")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        components: m.str_list("components").unwrap_or_default(),
    };
    for (key, url) in [
        ("http_proxy", &proxy.http_proxy),
        ("https_proxy", &proxy.https_proxy),
    ] {
        if !url.is_empty() && !is_proxy_url(url) {
            // the value is not repeated: proxy urls often carry a password
            m.report(
                key,
                Code::InvalidValue,
                format!(
                    "`proxy.{key}` must be empty or an absolute url starting with http:// or \
                     https://, like http://proxy.example.com:3128"
                ),
            );
        }
    }
    for (i, c) in proxy.components.iter().enumerate() {
        if !["core", "jobservice", "trivy"].contains(&c.as_str()) {
            m.decoder().report(
                &format!("proxy.components[{i}]"),
                Some(m.mark_of("components")),
                Code::InvalidValue,
                format!("unknown proxy component `{c}`; allowed are core, jobservice and trivy"),
            );
        }
    }
    m.finish();
    proxy
}

/// Whether `url` is `http://` or `https://` (any case) followed by a host.
fn is_proxy_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = ["http://", "https://"]
        .into_iter()
        .find(|s| lower.starts_with(s))
        .map(|s| &url[s.len()..])
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    !host.is_empty() && !host.starts_with(':') && !url.chars().any(char::is_whitespace)
}

/// `url` with its scheme in lower case, so that `HTTPS://` reaches every component as
/// `https://`.
fn lower_scheme(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) if scheme.is_ascii() => {
            format!("{}://{rest}", scheme.to_ascii_lowercase())
        }
        _ => url.to_string(),
    }
}

/// A Go duration (`5m`, `1h30m`, `0`), as Harbor's components parse it; anything else is
/// reported and the default used.
fn duration(m: &Map<'_>, key: &'static str, default: &str) -> String {
    let value = m.str_or(key, default);
    if is_go_duration(&value) {
        return value;
    }
    m.report(
        key,
        Code::InvalidValue,
        format!(
            "`{value}` is not a duration; write numbers with units (ns, us, ms, s, m, h), like \
             5m, 1h30m or 300ms, or 0 for no limit"
        ),
    );
    default.to_string()
}

/// Whether Go's `time.ParseDuration` accepts `s`: an optional sign, then one or more numbers
/// (with an optional fraction) each followed by a unit, or a bare `0`.
fn is_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    if s.is_empty() {
        return false;
    }

    let mut rest = s;
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|ch: char| !ch.is_ascii_digit() && ch != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return false;
        }
        let unit_len = after
            .find(|ch: char| ch.is_ascii_digit() || ch == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return false,
        };
        let value: f64 = format!("0{whole}.{fraction}0")
            .parse()
            .unwrap_or(f64::INFINITY);
        nanos += value * scale;
        rest = next;
    }
    nanos <= i64::MAX as f64
}

fn read_metric(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> Metric {
    let Some(m) = top.map("metric") else {
        return Metric {
            enabled: false,
            port: 9090,
            path: "/metrics".into(),
        };
    };

    marks.push(("metric.port".into(), m.mark_of("port")));
    marks.push(("metric.path".into(), m.mark_of("path")));
    let metric = Metric {
        enabled: m.bool_or("enabled", false),
        port: port(&m, "port", 9090),
        path: m.str_or("path", "/metrics"),
    };
    m.finish();
    metric
}

fn read_trace(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> Trace {
    let Some(m) = top.map("trace") else {
        return Trace {
            enabled: false,
            sample_rate: 1.0,
            namespace: String::new(),
            attributes: Value::Map(Vec::new()),
            jaeger: None,
            otel: None,
        };
    };

    marks.push(("trace".into(), m.mark()));
    let jaeger = m.map("jaeger").map(|j| {
        marks.push(("trace.jaeger".into(), j.mark()));
        let jaeger = Jaeger {
            endpoint: j.opt_str("endpoint").filter(|s| !s.is_empty()),
            username: j.opt_str("username").filter(|s| !s.is_empty()),
            password: Secret(j.str_or("password", "")),
            agent_host: j.opt_str("agent_host").filter(|s| !s.is_empty()),
            agent_port: j
                .opt_int("agent_port", 1, PORT_MAX)
                .and_then(|p| u16::try_from(p).ok()),
        };
        j.finish();
        jaeger
    });
    let otel = m.map("otel").map(|o| {
        marks.push(("trace.otel".into(), o.mark()));
        let otel = Otel {
            endpoint: o.str_or("endpoint", ""),
            url_path: o.str_or("url_path", ""),
            compression: o.bool_or("compression", false),
            insecure: o.bool_or("insecure", false),
            timeout: o.int_or("timeout", 10, 1, 86400),
        };
        o.finish();
        otel
    });

    let sample_rate = m.opt_float("sample_rate").unwrap_or(1.0);
    if !(0.0..=1.0).contains(&sample_rate) {
        m.report(
            "sample_rate",
            Code::OutOfRange,
            format!("sample rate {sample_rate} is out of range; allowed is 0 to 1"),
        );
    }
    let attributes = m.value("attributes").unwrap_or(Value::Map(Vec::new()));
    let attributes = if attributes.is_null() {
        Value::Map(Vec::new())
    } else {
        attributes
    };
    if !matches!(attributes, Value::Map(_)) {
        m.report(
            "attributes",
            Code::WrongType,
            "expected a mapping of attribute names to values".into(),
        );
    }
    let trace = Trace {
        enabled: m.bool_or("enabled", false),
        sample_rate,
        namespace: m.str_or("namespace", ""),
        attributes,
        jaeger,
        otel,
    };
    m.finish();
    trace
}

fn read_upload_purging(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> UploadPurging {
    let Some(m) = top.map("upload_purging") else {
        return UploadPurging {
            enabled: false,
            age: "168h".into(),
            interval: "24h".into(),
            dryrun: false,
        };
    };

    marks.push(("upload_purging.age".into(), m.mark_of("age")));
    marks.push(("upload_purging.interval".into(), m.mark_of("interval")));
    let purging = UploadPurging {
        enabled: m.bool_or("enabled", false),
        age: m.str_or("age", "168h"),
        interval: m.str_or("interval", "24h"),
        dryrun: m.bool_or("dryrun", false),
    };
    m.finish();
    purging
}

fn read_cache(top: &Map<'_>, marks: &mut Vec<(String, Mark)>) -> Cache {
    let Some(m) = top.map("cache") else {
        return Cache {
            enabled: false,
            expire_hours: 24,
        };
    };

    marks.push(("cache.expire_hours".into(), m.mark_of("expire_hours")));
    let enabled = m.bool_or("enabled", false);
    let expire_hours = if enabled {
        m.int_or("expire_hours", 0, i64::MIN, i64::MAX)
    } else {
        m.int_or("expire_hours", 24, i64::MIN, i64::MAX)
    };
    if enabled && expire_hours <= 0 {
        m.report(
            "expire_hours",
            Code::OutOfRange,
            format!("cache expiry must be a positive number of hours, found {expire_hours}"),
        );
    }
    m.finish();
    Cache {
        enabled,
        expire_hours,
    }
}
