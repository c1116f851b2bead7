//! The values every template sees, computed once from the configuration and the secrets.
//!
//! The names follow upstream's `prepare` (`public_url`, `harbor_db_host`, `redis_url_reg`, ...)
//! so that the templates can be checked against upstream's side by side.

use serde_json::{Value as Json, json};

use super::Inputs;
use crate::escape;
use crate::issue::{Code, Issue};
use crate::model::{Config, RedisIndexes, Secret};
use crate::state::{State, keys};
use crate::{bcrypt, pki};

/// The registry's basic-auth user, fixed by Harbor.
pub const REGISTRY_USER: &str = "harbor_registry_user";

/// bcrypt cost of the registry's htpasswd line, as upstream's `htpasswd -B` uses.
const HTPASSWD_COST: u32 = 5;

/// Hosts every component reaches without a proxy.
const INTERNAL_NO_PROXY: [&str; 16] = [
    "127.0.0.1",
    "localhost",
    ".local",
    ".internal",
    "log",
    "db",
    "redis",
    "nginx",
    "core",
    "portal",
    "postgresql",
    "jobservice",
    "registry",
    "registryctl",
    "trivy-adapter",
    "exporter",
];

/// The generated secrets of one render.
#[derive(Clone)]
pub struct Secrets {
    /// The 16-character key core encrypts stored passwords with.
    pub secretkey: Secret,
    /// `CORE_SECRET`.
    pub core_secret: Secret,
    /// `JOBSERVICE_SECRET`.
    pub jobservice_secret: Secret,
    /// `REGISTRY_CREDENTIAL_PASSWORD`.
    pub registry_password: Secret,
    /// The registry's htpasswd line for `harbor_registry_user`.
    pub htpasswd: Secret,
    /// `CSRF_KEY`.
    pub csrf_key: Secret,
    /// `ROBOT_SCANNER_NAME_PREFIX`.
    pub robot_prefix: Secret,
    /// The token signing key, PKCS#1 PEM.
    pub token_key: Secret,
    /// The token signing certificate, PEM.
    pub token_cert: Secret,
}

/// Takes every secret from the state, or derives it from the seed; returns them with the state
/// to persist.
pub(super) fn secrets(inputs: &Inputs<'_>) -> Result<(Secrets, State), pki::PkiError> {
    let state = inputs.state;
    let seed = inputs.seed;
    let mut out = state.clone();
    let mut take = |name: &str, make: &dyn Fn() -> String| -> Secret {
        let value = state
            .get(name)
            .cloned()
            .unwrap_or_else(|| Secret::new(make()));
        out.set(name, value.clone());
        value
    };

    let secretkey = take(keys::SECRETKEY, &|| seed.alphanumeric("secretkey", 16));
    let core_secret = take(keys::CORE_SECRET, &|| seed.alphanumeric("core-secret", 16));
    let jobservice_secret = take(keys::JOBSERVICE_SECRET, &|| {
        seed.alphanumeric("jobservice-secret", 16)
    });
    let registry_password = take(keys::REGISTRY_PASSWORD, &|| {
        seed.alphanumeric("registry-password", 32)
    });
    let csrf_key = take(keys::CSRF_KEY, &|| seed.alphanumeric("csrf-key", 32));
    let robot_prefix = take(keys::ROBOT_PREFIX, &|| seed.alphanumeric("robot-prefix", 8));

    // the key is the slow part: make it only when the state has none, and keep a cert that
    // belongs to an existing key
    let (token_key, token_cert) = match (state.get(keys::TOKEN_KEY), state.get(keys::TOKEN_CERT)) {
        (Some(key), Some(cert)) => (key.clone(), cert.clone()),
        (Some(key), None) => {
            let cert = pki::token_cert_for_key(seed, key.expose(), inputs.now)?;
            (key.clone(), Secret::new(cert))
        }
        _ => {
            let pair = pki::token_pair(seed, inputs.now)?;
            (Secret::new(pair.key_pem), Secret::new(pair.cert_pem))
        }
    };
    out.set(keys::TOKEN_KEY, token_key.clone());
    out.set(keys::TOKEN_CERT, token_cert.clone());

    let salt = seed.bytes::<16>("registry-htpasswd-salt");
    let htpasswd = bcrypt::htpasswd_line(
        REGISTRY_USER,
        registry_password.expose(),
        HTPASSWD_COST,
        salt,
    )
    .map_err(|e| pki::PkiError::KeyParse(e.to_string()))?;

    let secrets = Secrets {
        secretkey,
        core_secret,
        jobservice_secret,
        registry_password,
        htpasswd: Secret::new(htpasswd),
        csrf_key,
        robot_prefix,
        token_key,
        token_cert,
    };
    Ok((secrets, out))
}

/// Warnings worth printing once.
pub(super) fn warnings(config: &Config, release: &crate::release::Release) -> Vec<String> {
    let mut warnings = release.warnings(config);
    for (key, value) in env_values(config) {
        if escape::env_portable(value).is_err() {
            warnings.push(format!(
                "`{key}` holds characters that only Docker Compose v2 (and harbor-deploy up) \
                 read back exactly; docker-compose v1 would change the value"
            ));
        }
    }
    if config.https.is_none() {
        warnings.push(
            "harbor is served over plain http; add an `https` block for production use".into(),
        );
    }
    warnings
}

/// Python's rendering of a boolean, which upstream's env files carry.
fn py(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// JSON the way Python's `json.dumps` writes it (`", "` and `": "` separators), which upstream's
/// `TRACE_ATTRIBUTES` carries.
fn py_json(value: &Json) -> String {
    match value {
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(py_json).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", Json::String(k.clone()), py_json(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// The host part of a url: IPv6 literals get brackets.
fn url_host(host: &str) -> String {
    if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Where Harbor is reached from outside.
pub(super) fn public_url(config: &Config) -> String {
    if let Some(url) = &config.external_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = url_host(&config.hostname);
    match &config.https {
        Some(https) if https.port == 443 => format!("https://{host}"),
        Some(https) => format!("https://{host}:{}", https.port),
        None if config.http.port == 80 => format!("http://{host}"),
        None => format!("http://{host}:{}", config.http.port),
    }
}

/// The redis connection every component shares.
struct Redis {
    host: String,
    password: String,
    username: String,
    sentinel: Option<String>,
    tls: bool,
    indexes: RedisIndexes,
}

impl Redis {
    fn of(config: &Config) -> Redis {
        match &config.external_redis {
            Some(r) => Redis {
                host: r.host.clone(),
                password: r.password.expose().to_string(),
                username: r.username.clone().unwrap_or_default(),
                sentinel: r.sentinel_master_set.clone(),
                tls: r.tls,
                indexes: r.indexes.clone(),
            },
            None => Redis {
                host: "redis:6379".into(),
                password: String::new(),
                username: String::new(),
                sentinel: None,
                tls: false,
                indexes: config.redis.clone(),
            },
        }
    }

    /// `redis[s][+sentinel]://[user][:password@]host[/master][/db]?idle_timeout_seconds=N`
    fn url(&self, db: i64) -> String {
        let scheme = match (self.tls, self.sentinel.is_some()) {
            (false, false) => "redis",
            (true, false) => "rediss",
            (false, true) => "redis+sentinel",
            (true, true) => "rediss+sentinel",
        };
        let user = escape::url_userinfo(&self.username);
        let auth = match (user.is_empty(), self.password.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("{user}@"),
            (_, false) => format!("{user}:{}@", escape::url_userinfo(&self.password)),
        };
        let sentinel = self
            .sentinel
            .as_ref()
            .map(|s| format!("/{}", escape::url_userinfo(s)))
            .unwrap_or_default();
        let db = if db == 0 {
            String::new()
        } else {
            format!("/{db}")
        };
        format!(
            "{scheme}://{auth}{}{sentinel}{db}?idle_timeout_seconds={}",
            self.host, self.indexes.idle_timeout_seconds
        )
    }
}

/// Builds the template context; problems are values that cannot be written where they go.
pub(super) fn build(inputs: &Inputs<'_>, secrets: &Secrets) -> Result<Json, Vec<Issue>> {
    let config = inputs.config;
    let release = inputs.release;
    let tls = config.internal_tls.is_some();

    check_encodable(config)?;

    let scheme = if tls { "https" } else { "http" };
    let port = |plain: u16, secure: u16| if tls { secure } else { plain };
    let url =
        |host: &str, plain: u16, secure: u16| format!("{scheme}://{host}:{}", port(plain, secure));

    let db = match &config.external_database {
        Some(x) => json!({
            "host": x.host, "port": x.port, "name": x.db_name, "username": x.username,
            "password": x.password.expose(), "sslmode": x.ssl_mode,
            "max_idle_conns": x.max_idle_conns, "max_open_conns": x.max_open_conns,
            "conn_max_lifetime": x.conn_max_lifetime, "conn_max_idle_time": x.conn_max_idle_time,
        }),
        None => json!({
            "host": "postgresql", "port": 5432, "name": "registry", "username": "postgres",
            "password": config.database.password.expose(), "sslmode": "disable",
            "max_idle_conns": config.database.max_idle_conns,
            "max_open_conns": config.database.max_open_conns,
            "conn_max_lifetime": config.database.conn_max_lifetime,
            "conn_max_idle_time": config.database.conn_max_idle_time,
        }),
    };

    let redis = Redis::of(config);
    let redis_urls = json!({
        "core": redis.url(0),
        "reg": redis.url(redis.indexes.registry_db_index),
        "js": redis.url(redis.indexes.jobservice_db_index),
        "trivy": redis.url(redis.indexes.trivy_db_index),
        "harbor": redis.indexes.harbor_db_index.map(|i| redis.url(i)),
        "cache_layer": redis.indexes.cache_layer_db_index.map(|i| redis.url(i)),
    });

    let mut no_proxy: Vec<String> = INTERNAL_NO_PROXY.iter().map(|s| s.to_string()).collect();
    for entry in &config.proxy.no_proxy {
        if !no_proxy.contains(entry) {
            no_proxy.push(entry.clone());
        }
    }
    let proxy_for = |component: &str| {
        if config.proxy.components.iter().any(|c| c == component) {
            json!({
                "http": config.proxy.http_proxy,
                "https": config.proxy.https_proxy,
                "no": no_proxy.join(","),
            })
        } else {
            json!({"http": "", "https": "", "no": ""})
        }
    };

    let trace = &config.trace;
    let jaeger = trace.jaeger.as_ref();
    let otel = trace.otel.as_ref();
    let sample_rate = if trace.sample_rate.fract() == 0.0 {
        format!("{}", trace.sample_rate as i64)
    } else {
        format!("{}", trace.sample_rate)
    };

    let https = config.https.as_ref();
    let strong_ciphers = https.is_some_and(|h| h.strong_ssl_ciphers)
        || config
            .internal_tls
            .as_ref()
            .is_some_and(|t| t.strong_ssl_ciphers);

    let gcs_keyfile = (config.storage.provider == "gcs")
        .then(|| {
            config
                .storage
                .params
                .get("keyfile")
                .and_then(|v| v.as_text())
        })
        .flatten();

    Ok(json!({
        "release": {
            "tag": release.tag,
            "sync_quota": release.sync_quota,
            "max_job_duration_seconds": release.max_job_duration_seconds,
            "replication_adapter_whitelist": release.replication_adapter_whitelist,
            "proxy_cache_quay": release.proxy_cache_quay,
            "registry_redis_username": release.registry_redis_username,
            "trivy_db_repository": release.trivy_db_repository,
            "redis_image": format!("{}:{}", release.redis_image, release.tag),
        },
        "hostname": config.hostname,
        "protocol": if https.is_some() { "https" } else { "http" },
        "http_port": config.http.port,
        "https_port": https.map(|h| h.port),
        "public_url": public_url(config),
        "with_trivy": inputs.with_trivy,
        "with_trivy_py": py(inputs.with_trivy),
        "data_volume": config.data_volume.trim_end_matches('/'),
        "harbor_admin_password": config.harbor_admin_password.expose(),
        "urls": {
            "portal": url("portal", 8080, 8443),
            "registry": url("registry", 5000, 5443),
            "registry_controller": url("registryctl", 8080, 8443),
            "core": url("core", 8080, 8443),
            "core_local": if tls { "https://core:8443".to_string() } else { "http://127.0.0.1:8080".to_string() },
            "token_service": format!("{}/service/token", url("core", 8080, 8443)),
            "jobservice": url("jobservice", 8080, 8443),
            "trivy_adapter": url("trivy-adapter", 8080, 8443),
        },
        "db": db,
        "external_database": config.external_database.is_some(),
        "external_redis": config.external_redis.is_some(),
        "redis_url": redis_urls,
        "redis": {
            "host": redis.host,
            "password": redis.password,
            "username": redis.username,
            "sentinel_master_set": redis.sentinel,
            "db_index_reg": redis.indexes.registry_db_index,
            "enable_tls": redis.tls,
            "custom_tls_ca": config.external_redis.as_ref().filter(|r| r.tls).and_then(|r| r.root_ca.clone()),
        },
        "storage": {
            "provider": config.storage.provider,
            "block": storage_block(config),
            "redirect_disabled": config.storage.redirect_disable,
            "ca_bundle": config.storage.ca_bundle,
            "gcs_keyfile": gcs_keyfile,
        },
        "proxy": {
            "core": proxy_for("core"),
            "jobservice": proxy_for("jobservice"),
            "trivy": proxy_for("trivy"),
        },
        "trivy": {
            "github_token": config.trivy.github_token.expose(),
            "skip_update": py(config.trivy.skip_update),
            "skip_java_db_update": py(config.trivy.skip_java_db_update),
            "db_repository": config.trivy.db_repository,
            "java_db_repository": config.trivy.java_db_repository,
            "offline_scan": py(config.trivy.offline_scan),
            "security_check": config.trivy.security_check,
            "ignore_unfixed": py(config.trivy.ignore_unfixed),
            "insecure": py(config.trivy.insecure),
            "timeout": config.trivy.timeout,
        },
        "jobservice": {
            "max_job_workers": config.jobservice.max_job_workers,
            "max_job_duration_hours": config.jobservice.max_job_duration_hours,
            "job_loggers": config.jobservice.job_loggers,
            "logger_sweeper_duration": config.jobservice.logger_sweeper_duration,
        },
        "notification": {
            "webhook_job_max_retry": config.notification.webhook_job_max_retry,
            "webhook_job_http_client_timeout": config.notification.webhook_job_http_client_timeout,
        },
        "log": {
            "level": config.log.level,
            "registry_level": if config.log.level == "warning" { "warn" } else { config.log.level.as_str() },
            "upper_level": config.log.level.to_ascii_uppercase(),
            "location": config.log.local.location.trim_end_matches('/'),
            "rotate_count": config.log.local.rotate_count,
            "rotate_size": config.log.local.rotate_size,
            "external": config.log.external.as_ref().map(|e| json!({
                "protocol": e.protocol, "host": e.host, "port": e.port,
            })),
        },
        "secrets": {
            "core": secrets.core_secret.expose(),
            "jobservice": secrets.jobservice_secret.expose(),
            "registry_username": REGISTRY_USER,
            "registry_password": secrets.registry_password.expose(),
            "csrf_key": secrets.csrf_key.expose(),
            "robot_prefix": secrets.robot_prefix.expose(),
        },
        "internal_tls": {
            "enabled": tls,
            "verify_client_cert": false,
        },
        "strong_ssl_ciphers": strong_ciphers,
        "ip_family": {"ipv4": config.ip_family.ipv4, "ipv6": config.ip_family.ipv6},
        "metric": {
            "enabled": config.metric.enabled,
            "port": config.metric.port,
            "path": config.metric.path,
        },
        "trace": {
            "enabled": trace.enabled,
            "sample_rate": sample_rate,
            "namespace": trace.namespace,
            "attributes": py_json(&trace.attributes.to_json()),
            "jaeger": {
                "enabled": jaeger.is_some(),
                "endpoint": jaeger.and_then(|j| j.endpoint.clone()).unwrap_or_default(),
                "username": jaeger.and_then(|j| j.username.clone()).unwrap_or_default(),
                "password": jaeger.map(|j| j.password.expose().to_string()).unwrap_or_default(),
                "agent_host": jaeger.and_then(|j| j.agent_host.clone()).unwrap_or_default(),
                "agent_port": jaeger.and_then(|j| j.agent_port).map(|p| p.to_string()).unwrap_or_default(),
            },
            "otel": {
                "enabled": otel.is_some(),
                "endpoint": otel.map(|o| o.endpoint.clone()).unwrap_or_default(),
                "url_path": otel.map(|o| o.url_path.clone()).unwrap_or_default(),
                "compression": py(otel.is_some_and(|o| o.compression)),
                "insecure": py(otel.is_some_and(|o| o.insecure)),
                "timeout": otel.map_or(10, |o| o.timeout),
            },
        },
        "purge_upload": {
            "enabled": config.upload_purging.enabled,
            "age": config.upload_purging.age,
            "interval": config.upload_purging.interval,
            "dryrun": config.upload_purging.dryrun,
        },
        "cache": {
            "enabled": config.cache.enabled,
            "expire_hours": config.cache.expire_hours,
        },
        "quota_update_provider": config.quota_update_provider,
        "uaa_ca_file": config.uaa_ca_file,
    }))
}

/// The storage driver's block of the registry's config, indented for `storage:`. The filesystem
/// root defaults to /storage and a gcs keyfile is mounted at a fixed path.
fn storage_block(config: &Config) -> String {
    use crate::value::Value;

    let mut entries = config.storage.params.entries().to_vec();
    match config.storage.provider.as_str() {
        "filesystem" if !entries.iter().any(|(k, _)| k == "rootdirectory") => {
            entries.push(("rootdirectory".into(), Value::Plain("/storage".into())));
        }
        "gcs" => {
            for (k, v) in &mut entries {
                if k == "keyfile" {
                    *v = Value::Plain("/etc/registry/gcs.key".into());
                }
            }
        }
        _ => {}
    }
    Value::Map(vec![(config.storage.provider.clone(), Value::Map(entries))])
        .to_yaml(2)
        .trim_end_matches('\n')
        .to_string()
}

/// Refuses values that no env-file reader takes back intact.
fn check_encodable(config: &Config) -> Result<(), Vec<Issue>> {
    let issues: Vec<Issue> = env_values(config)
        .into_iter()
        .filter_map(|(key, value)| {
            escape::env_value(value).err().map(|e| {
                Issue::new(
                    key,
                    config.mark(key),
                    Code::Encoding,
                    format!("this value cannot be written to an env file: {e}"),
                )
            })
        })
        .collect();
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues)
    }
}

/// The user's values that land in env files, by key.
pub(crate) fn env_values(config: &Config) -> Vec<(&'static str, &str)> {
    let mut values: Vec<(&'static str, &str)> = vec![
        (
            "harbor_admin_password",
            config.harbor_admin_password.expose(),
        ),
        ("database.password", config.database.password.expose()),
        ("proxy.http_proxy", &config.proxy.http_proxy),
        ("proxy.https_proxy", &config.proxy.https_proxy),
        ("trivy.github_token", config.trivy.github_token.expose()),
        ("trivy.timeout", &config.trivy.timeout),
        (
            "database.conn_max_lifetime",
            &config.database.conn_max_lifetime,
        ),
        (
            "database.conn_max_idle_time",
            &config.database.conn_max_idle_time,
        ),
        ("trace.namespace", &config.trace.namespace),
    ];
    if let Some(db) = &config.external_database {
        values.push(("external_database.harbor.password", db.password.expose()));
        values.push(("external_database.harbor.host", &db.host));
        values.push(("external_database.harbor.username", &db.username));
        values.push(("external_database.harbor.db_name", &db.db_name));
    }
    if let Some(j) = &config.trace.jaeger {
        values.push(("trace.jaeger.password", j.password.expose()));
    }
    values
}
