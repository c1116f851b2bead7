//! The environment overlay: variables give the same configuration as the harbor.yml written by
//! hand, the setupwrapper names are all accounted for, values arrive exactly, and every mistake
//! names its variable.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;

use harbor_prep::overlay::{self, Fate, KEYS, SETUPWRAPPER, Setupwrapper, Type};
use harbor_prep::value::Value;
use harbor_prep::{Code, Config, HostFiles, Issue, Release, Root};
use support::{NOW, keyed_state, render_config, shared};

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn base() -> String {
    harbor_prep::default_config("base.example.test")
}

/// The configuration, with the input positions (which differ between two texts) left out.
fn config(text: &str) -> Config {
    let mut config = Config::from_yaml(text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    config.marks.clear();
    config
}

fn overlaid(pairs: &[(&str, &str)]) -> overlay::Overlay {
    overlay::apply(&base(), &vars(pairs)).unwrap_or_else(|e| panic!("{e:#?}"))
}

fn issues(pairs: &[(&str, &str)]) -> Vec<Issue> {
    match overlay::apply(&base(), &vars(pairs)) {
        Ok(o) => panic!("expected problems, got:\n{}", o.yaml),
        Err(issues) => issues,
    }
}

fn issue_for<'a>(issues: &'a [Issue], var: &str) -> &'a Issue {
    issues
        .iter()
        .find(|i| i.path == var)
        .unwrap_or_else(|| panic!("no issue names {var}: {issues:#?}"))
}

const ENV_ONLY: &[(&str, &str)] = &[
    ("HARBOR___VERSION", "2.15.0"),
    ("HARBOR__HOSTNAME", "registry.example.test"),
    ("HARBOR__HTTP__PORT", "8080"),
    ("HARBOR__EXTERNAL_URL", "https://harbor.example.test"),
    ("HARBOR__HARBOR_ADMIN_PASSWORD", "S3cret: #1 'yes'"),
    ("HARBOR__DATABASE__PASSWORD", "0123"),
    ("HARBOR__DATABASE__MAX_OPEN_CONNS", " 500 "),
    ("HARBOR__STORAGE_SERVICE__S3__BUCKET", "harbor-blobs"),
    ("HARBOR__STORAGE_SERVICE__S3__REGION", "eu-west-1"),
    ("HARBOR__STORAGE_SERVICE__S3__SECURE", "false"),
    ("HARBOR__STORAGE_SERVICE__S3__CHUNKSIZE", "5242880"),
    ("HARBOR__STORAGE_SERVICE__S3__SECRETKEY", "0777"),
    ("HARBOR__STORAGE_SERVICE__REDIRECT__DISABLE", "TRUE"),
    ("HARBOR__JOBSERVICE__MAX_JOB_WORKERS", "4"),
    ("HARBOR__JOBSERVICE__JOB_LOGGERS", "STD_OUTPUT, DB"),
    ("HARBOR__LOG__LEVEL", "debug"),
    ("HARBOR__LOG__LOCAL__ROTATE_COUNT", "7"),
    ("HARBOR__EXTERNAL_REDIS__HOST", "redis.example.test:6379"),
    ("HARBOR__EXTERNAL_REDIS__PASSWORD", "r3d!s pass"),
    ("HARBOR__EXTERNAL_REDIS__REGISTRY_DB_INDEX", "3"),
    (
        "HARBOR__PROXY__HTTP_PROXY",
        "http://proxy.example.test:3128",
    ),
    ("HARBOR__PROXY__NO_PROXY", "127.0.0.1,localhost,.internal"),
    ("HARBOR__PROXY__COMPONENTS", "core,trivy"),
    ("HARBOR__METRIC__ENABLED", "true"),
    ("HARBOR__METRIC__PORT", "9191"),
    ("HARBOR__TRACE__ENABLED", "true"),
    ("HARBOR__TRACE__SAMPLE_RATE", "0.25"),
    ("HARBOR__TRACE__ATTRIBUTES__APPLICATION", "harbor"),
    ("HARBOR__TRACE__ATTRIBUTES__teamName", "true"),
    ("HARBOR__TRACE__OTEL__ENDPOINT", "otel.example.test:4318"),
    ("HARBOR__TRACE__OTEL__URL_PATH", "/v1/traces"),
    ("HARBOR__CACHE__ENABLED", "true"),
    ("HARBOR__CACHE__EXPIRE_HOURS", "12"),
    ("HARBOR__CORE__QUOTA_UPDATE_PROVIDER", "redis"),
    ("PATH", "/usr/local/bin:/usr/bin"),
    ("HOME", "/root"),
];

/// What an administrator would write by hand for the same settings. The driver parameters are
/// in the order of the variables' names, since the model keeps the order they are written in.
const BY_HAND: &str = r#"
_version: 2.15.0
hostname: registry.example.test
http:
  port: 8080
external_url: https://harbor.example.test
harbor_admin_password: "S3cret: #1 'yes'"
database:
  password: "0123"
  max_idle_conns: 100
  max_open_conns: 500
  conn_max_lifetime: 5m
  conn_max_idle_time: 0
data_volume: /data
storage_service:
  s3:
    bucket: harbor-blobs
    chunksize: 5242880
    region: eu-west-1
    secretkey: "0777"
    secure: false
  redirect:
    disable: true
trivy:
  ignore_unfixed: false
  skip_update: false
  skip_java_db_update: false
  db_repository: ghcr.io/aquasecurity/trivy-db
  java_db_repository: ghcr.io/aquasecurity/trivy-java-db
  offline_scan: false
  security_check: vuln
  insecure: false
  timeout: 5m0s
jobservice:
  max_job_workers: 4
  max_job_duration_hours: 24
  job_loggers:
    - STD_OUTPUT
    - DB
  logger_sweeper_duration: 1
notification:
  webhook_job_max_retry: 3
  webhook_job_http_client_timeout: 3
log:
  level: debug
  local:
    rotate_count: 7
    rotate_size: 200M
    location: /var/log/harbor
external_redis:
  host: redis.example.test:6379
  password: r3d!s pass
  registry_db_index: 3
proxy:
  http_proxy: http://proxy.example.test:3128
  https_proxy:
  no_proxy: 127.0.0.1,localhost,.internal
  components:
    - core
    - trivy
metric:
  enabled: true
  port: 9191
trace:
  enabled: true
  sample_rate: 0.25
  attributes:
    application: harbor
    teamName: "true"
  otel:
    endpoint: otel.example.test:4318
    url_path: /v1/traces
upload_purging:
  enabled: true
  age: 168h
  interval: 24h
  dryrun: false
cache:
  enabled: true
  expire_hours: 12
core:
  quota_update_provider: redis
"#;

#[test]
fn env_only_configuration_equals_the_file_written_by_hand() {
    let overlay = overlaid(ENV_ONLY);
    let from_env = config(&overlay.yaml);
    let by_hand = config(BY_HAND);
    assert_eq!(from_env, by_hand, "merged text:\n{}", overlay.yaml);

    // every HARBOR__ variable was applied, PATH and HOME were not
    let applied: BTreeSet<&str> = overlay.applied.iter().map(|(v, _)| v.as_str()).collect();
    let given: BTreeSet<&str> = ENV_ONLY
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| v.starts_with("HARBOR__"))
        .collect();
    assert_eq!(applied, given);
    assert!(
        harbor_prep::check(
            &overlay.yaml,
            &HostFiles::new(),
            NOW,
            false,
            Release::latest()
        )
        .is_empty()
    );

    let state = keyed_state();
    let files = HostFiles::new();
    let ours = render_config(&from_env, &files, false, &state).unwrap_or_else(|e| panic!("{e}"));
    let theirs = render_config(&by_hand, &files, false, &state).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours, theirs);
    let core = ours
        .text(Root::Install, "common/config/core/env")
        .unwrap_or_default();
    assert!(
        core.contains("EXT_ENDPOINT=https://harbor.example.test\n"),
        "{core}"
    );
}

#[test]
fn values_are_typed_by_their_key() {
    let c = config(&overlaid(ENV_ONLY).yaml);
    assert_eq!(c.database.password.expose(), "0123");
    assert_eq!(c.database.max_open_conns, 500);
    assert!(c.storage.redirect_disable);
    assert_eq!(c.jobservice.job_loggers, ["STD_OUTPUT", "DB"]);
    assert_eq!(c.proxy.components, ["core", "trivy"]);
    assert!((c.trace.sample_rate - 0.25).abs() < f64::EPSILON);

    // driver parameters: exact booleans and plain integers typed, the rest strings
    let s3 = &c.storage.params;
    assert_eq!(s3.get("secure"), Some(&Value::Plain("false".into())));
    assert_eq!(s3.get("chunksize"), Some(&Value::Plain("5242880".into())));
    assert_eq!(s3.get("secretkey"), Some(&Value::Str("0777".into())));
    assert_eq!(
        s3.get("bucket").and_then(Value::as_text),
        Some("harbor-blobs")
    );

    // attributes are strings, whatever they look like
    let attributes = &c.trace.attributes;
    assert_eq!(attributes.get("teamName"), Some(&Value::Str("true".into())));
    assert_eq!(
        attributes.get("application").and_then(Value::as_text),
        Some("harbor")
    );
}

/// The case's `env:` block, as the variables a user would set.
fn case_env(name: &str) -> BTreeMap<String, String> {
    let path = shared().join("cases").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = Value::from_node(&harbor_prep::yaml::parse(&text).expect("case parses"));
    root.get("env")
        .map(Value::entries)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_text().unwrap_or_default().to_string()))
        .collect()
}

#[test]
fn the_setupwrapper_case_gives_the_https_configuration() {
    let env = case_env("26-setupwrapper-env.yml");
    assert_eq!(env.len(), 6, "{env:?}");
    let overlay = overlay::apply(&base(), &env).unwrap_or_else(|e| panic!("{e:#?}"));

    let by_hand = harbor_prep::default_config("registry.example.test")
        .replace(
            "harbor_admin_password: Harbor12345",
            "harbor_admin_password: \"Adm1n pass/with&amp\"",
        )
        .replace("  password: root123", "  password: Db-Pass-7")
        .replace(
            "http:\n  port: 80\n",
            "http:\n  port: 80\nhttps:\n  port: 443\n  certificate: /data/cert/server.crt\n  \
             private_key: /data/cert/server.key\n",
        );
    assert_eq!(config(&overlay.yaml), config(&by_hand));

    let applied: BTreeSet<&str> = overlay.applied.iter().map(|(v, _)| v.as_str()).collect();
    let given: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(applied, given, "{:?}", overlay.applied);

    // the added block stands where Harbor's template has it, after `http`
    let at = |key: &str| {
        overlay
            .yaml
            .find(&format!("\n{key}:\n"))
            .unwrap_or(usize::MAX)
    };
    assert!(
        at("http") < at("https") && at("https") < at("database"),
        "{}",
        overlay.yaml
    );
}

/// Every variable mreferre/harbor-setupwrapper's `harbor-setupwrapper.sh` (0.5.0 and 1.1.1)
/// reads, then the ones the disaster37 fork added.
const WRAPPER_SCRIPT: &[&str] = &[
    "HARBORHOSTNAME",
    "UI_URL_PROTOCOL",
    "EMAIL_IDENTITY",
    "EMAIL_SERVER",
    "EMAIL_SERVER_PORT",
    "EMAIL_USERNAME",
    "EMAIL_PASSWORD",
    "EMAIL_FROM",
    "EMAIL_SSL",
    "HARBOR_ADMIN_PASSWORD",
    "AUTH_MODE",
    "LDAP_URL",
    "LDAP_BASEDN",
    "LDAP_UID",
    "LDAP_SCOPE",
    "DB_PASSWORD",
    "SELF_REGISTRATION",
    "USE_COMPRESSED_JS",
    "MAX_JOB_WORKERS",
    "TOKEN_EXPIRATION",
    "VERIFY_REMOTE_CERT",
    "CUSTOMIZE_CRT",
    "CRT_COUNTRY",
    "CRT_STATE",
    "CRT_LOCATION",
    "CRT_ORGANIZATION",
    "CRT_ORGANIZATIONALUNIT",
    "CRT_COMMONNAME",
    "CRT_EMAIL",
    "PROJECT_CREATION_RESTRICTION",
    "SSL_CERT",
    "SSL_CERT_KEY",
];
const FORK_SCRIPT: &[&str] = &[
    "LDAP_USER",
    "LDAP_PASSWORD",
    "SSL_CERT_CONTEND",
    "SSL_CERT_KEY_CONTEND",
    "CLAIR_DB_PASSWORD",
    "WITH_CLAIR",
];

#[test]
fn every_setupwrapper_variable_is_mapped_or_rejected_by_name() {
    let table: BTreeSet<&str> = SETUPWRAPPER.iter().map(|o| o.name).collect();
    let scripts: BTreeSet<&str> = WRAPPER_SCRIPT.iter().chain(FORK_SCRIPT).copied().collect();
    assert_eq!(table, scripts);
    assert_eq!(table.len(), SETUPWRAPPER.len(), "a name is listed twice");

    for old in SETUPWRAPPER {
        match old.fate {
            Fate::Key(path) => {
                let key = KEYS.iter().find(|k| k.path == path).expect("a known key");
                let value = if key.ty == Type::Integer { "7" } else { "v-1" };
                let o = overlaid(&[(old.name, value)]);
                assert!(
                    o.applied
                        .contains(&(old.name.to_string(), path.to_string())),
                    "{}: {:?}",
                    old.name,
                    o.applied
                );
                let yaml = harbor_prep::yaml::parse(&o.yaml).expect("merged text parses");
                let mut node = Value::from_node(&yaml);
                for seg in path.split('.') {
                    node = node
                        .get(seg)
                        .cloned()
                        .expect("the key is in the merged text");
                }
                assert_eq!(node.as_text(), Some(value), "{}", old.name);
            }
            Fate::Protocol => {
                let o = overlaid(&[(old.name, "https")]);
                assert!(config(&o.yaml).https.is_some(), "{}", old.name);
            }
            Fate::Https(key) => {
                let o = overlaid(&[(old.name, "/etc/harbor/pem"), ("UI_URL_PROTOCOL", "https")]);
                let https = config(&o.yaml).https.expect("https on");
                let got = if key == "certificate" {
                    https.certificate
                } else {
                    https.private_key
                };
                assert_eq!(got, "/etc/harbor/pem", "{}", old.name);
            }
            Fate::Removed(why) => {
                let found = issues(&[(old.name, "anything")]);
                let issue = issue_for(&found, old.name);
                assert_eq!(issue.code, Code::UnknownKey);
                assert!(issue.message.contains(old.name), "{}", issue.message);
                assert!(issue.message.contains(why), "{}", issue.message);
                assert!(issue.message.starts_with('`'), "{}", issue.message);
            }
        }
    }
}

#[test]
fn removed_settings_say_where_they_live_now() {
    let found = issues(&[
        ("AUTH_MODE", "ldap_auth"),
        ("EMAIL_SERVER", "smtp.example.test"),
        ("LDAP_SCOPE", "3"),
        ("HARBORHOSTNAME", "registry.example.test"),
    ]);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        issue_for(&found, "AUTH_MODE")
            .message
            .contains("Administration > Configuration")
    );
    assert!(
        issue_for(&found, "EMAIL_SERVER")
            .message
            .contains("2.7 removed")
    );
    assert!(
        issue_for(&found, "LDAP_SCOPE")
            .message
            .contains("2 (subtree)")
    );
}

#[test]
fn the_old_protocol_switch_adds_or_removes_https() {
    // http over a base with https removes the block
    let with_https = base().replace(
        "http:\n  port: 80\n",
        "http:\n  port: 80\nhttps:\n  port: 443\n  certificate: /c.pem\n  private_key: /k.pem\n",
    );
    assert!(config(&with_https).https.is_some());
    let o = overlay::apply(&with_https, &vars(&[("UI_URL_PROTOCOL", "http")])).unwrap();
    assert!(config(&o.yaml).https.is_none());

    // SSL_CERT over a base with https replaces the certificate only
    let o = overlay::apply(&with_https, &vars(&[("SSL_CERT", "/new.pem")])).unwrap();
    let https = config(&o.yaml).https.expect("still https");
    assert_eq!(
        (https.certificate.as_str(), https.private_key.as_str()),
        ("/new.pem", "/k.pem")
    );

    // a modern variable beats the old default
    let o = overlaid(&[
        ("UI_URL_PROTOCOL", "HTTPS"),
        ("HARBOR__HTTPS__CERTIFICATE", "/modern.pem"),
    ]);
    let https = config(&o.yaml).https.expect("https on");
    assert_eq!(https.certificate, "/modern.pem");
    assert_eq!(https.private_key, overlay::OLD_PRIVATE_KEY);

    // mistakes
    let found = issues(&[("SSL_CERT", "/c.pem")]);
    assert!(
        issue_for(&found, "SSL_CERT")
            .message
            .contains("UI_URL_PROTOCOL=https")
    );
    let found = issues(&[("UI_URL_PROTOCOL", "ftp")]);
    assert_eq!(
        issue_for(&found, "UI_URL_PROTOCOL").code,
        Code::InvalidValue
    );
    let found = issues(&[("UI_URL_PROTOCOL", "http"), ("HARBOR__HTTPS__PORT", "8443")]);
    assert_eq!(issue_for(&found, "UI_URL_PROTOCOL").code, Code::Conflict);
}

#[test]
fn setupwrapper_names_can_be_ignored() {
    let env = vars(&[("DB_PASSWORD", "other-app"), ("AUTH_MODE", "ldap_auth")]);
    let o = overlay::apply_with(&base(), &env, Setupwrapper::Ignore).unwrap();
    assert!(o.applied.is_empty());
    assert_eq!(config(&o.yaml), config(&base()));
    assert!(overlay::apply(&base(), &env).is_err());
}

#[test]
fn typed_errors_name_the_variable_all_at_once() {
    let found = issues(&[
        ("HARBOR__HTTP__PORT", "abc"),
        ("HARBOR__METRIC__ENABLED", "yes"),
        ("HARBOR__TRACE__SAMPLE_RATE", "fast"),
        ("HARBOR__REDIS__TRIVY_DB_INDEX", "1.5"),
        ("HARBOR__HTTPS__STRONG_SSL_CIPHERS", "1"),
        ("MAX_JOB_WORKERS", "many"),
    ]);
    for (var, key, value) in [
        ("HARBOR__HTTP__PORT", "http.port", "abc"),
        ("HARBOR__METRIC__ENABLED", "metric.enabled", "yes"),
        ("HARBOR__TRACE__SAMPLE_RATE", "trace.sample_rate", "fast"),
        (
            "HARBOR__REDIS__TRIVY_DB_INDEX",
            "redis.trivy_db_index",
            "1.5",
        ),
        (
            "HARBOR__HTTPS__STRONG_SSL_CIPHERS",
            "https.strong_ssl_ciphers",
            "1",
        ),
        ("MAX_JOB_WORKERS", "jobservice.max_job_workers", "many"),
    ] {
        let issue = issue_for(&found, var);
        assert_eq!(issue.code, Code::WrongType, "{issue}");
        assert!(issue.message.contains(&format!("`{key}`")), "{issue}");
        assert!(issue.message.contains(&format!("`{value}`")), "{issue}");
        assert!(issue.mark.is_none());
    }
    assert_eq!(found.len(), 6, "{found:#?}");
}

#[test]
fn values_harbor_yml_refuses_name_the_variable() {
    let found = issues(&[
        ("HARBOR__HTTP__PORT", "70000"),
        ("HARBOR__LOG__LEVEL", "INFO"),
        ("HARBOR__JOBSERVICE__JOB_LOGGERS", "STD_OUTPUT,SYSLOG"),
        ("HARBOR__METRIC__ENABLED", "maybe"),
    ]);
    assert_eq!(found.len(), 4, "{found:#?}");
    assert_eq!(
        issue_for(&found, "HARBOR__METRIC__ENABLED").code,
        Code::WrongType
    );
    let port = issue_for(&found, "HARBOR__HTTP__PORT");
    assert_eq!(port.code, Code::OutOfRange);
    assert!(port.message.starts_with("`http.port`:"), "{port}");
    assert!(
        issue_for(&found, "HARBOR__LOG__LEVEL")
            .message
            .contains("lower case")
    );
    let loggers = issue_for(&found, "HARBOR__JOBSERVICE__JOB_LOGGERS");
    assert!(loggers.message.contains("SYSLOG"), "{loggers}");
}

#[test]
fn a_block_made_by_variables_names_the_variables_it_still_needs() {
    let found = issues(&[("HARBOR__EXTERNAL_DATABASE__HARBOR__HOST", "pg.example.test")]);
    for missing in ["PORT", "DB_NAME", "USERNAME", "PASSWORD", "SSL_MODE"] {
        let var = format!("HARBOR__EXTERNAL_DATABASE__HARBOR__{missing}");
        let issue = issue_for(&found, &var);
        assert_eq!(issue.code, Code::Missing);
        assert!(
            issue
                .message
                .contains("HARBOR__EXTERNAL_DATABASE__HARBOR__HOST"),
            "{issue}"
        );
    }

    let found = issues(&[("HARBOR__HTTPS__CERTIFICATE", "/c.pem")]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, "HARBOR__HTTPS__PRIVATE_KEY");

    let o = overlaid(&[
        ("HARBOR__HTTPS__CERTIFICATE", "/c.pem"),
        ("HARBOR__HTTPS__PRIVATE_KEY", "/k.pem"),
    ]);
    assert_eq!(config(&o.yaml).https.map(|h| h.port), Some(443));
}

#[test]
fn check_issues_are_attributed_to_variables() {
    let o = overlaid(&[
        ("UI_URL_PROTOCOL", "https"),
        ("SSL_CERT", "/etc/harbor/c.pem"),
    ]);
    let found = harbor_prep::check(&o.yaml, &HostFiles::new(), NOW, false, Release::latest());
    let cert = found
        .iter()
        .find(|i| i.path == "https.certificate")
        .expect("the certificate file is not there");
    assert_eq!(cert.code, Code::FileMissing);

    let attributed = o.attribute(found.clone());
    assert_eq!(attributed.len(), found.len());
    assert_eq!(issue_for(&attributed, "SSL_CERT").code, Code::FileMissing);
    // the key came from the old default, which the protocol switch put there
    assert!(
        issue_for(&attributed, "UI_URL_PROTOCOL")
            .message
            .contains("https.private_key")
    );
}

/// Every character class a password can hold; none may be read as YAML.
const AWKWARD: &[&str] = &[
    "#x",
    "a #b",
    "yes",
    "No",
    "on",
    "null",
    "~",
    "",
    " lead",
    "trail ",
    "a: b",
    "- x",
    "[a, b]",
    "{a: 1}",
    "&anchor",
    "*alias",
    "!tag",
    "|",
    ">-",
    "%YAML",
    "@at",
    "`tick`",
    "'single'",
    "\"double\"",
    "back\\slash",
    "line\nbreak",
    "tab\there",
    "cr\r\n",
    "0123",
    "1e3",
    "0x1F",
    ".inf",
    "12:30",
    "2001-12-14",
    "${HOME}",
    "$(id)",
    "Adm1n pass/with&amp",
    "a,b",
    "日本語",
    "emoji 🚀",
    "nel\u{85}x",
    "bom\u{feff}",
    "--- ",
    "...",
    "?",
];

#[test]
fn awkward_values_arrive_exactly() {
    for value in AWKWARD {
        let o = overlaid(&[
            ("HARBOR__HARBOR_ADMIN_PASSWORD", value),
            ("HARBOR__DATABASE__PASSWORD", value),
            ("HARBOR__TRACE__ATTRIBUTES__NOTE", value),
            ("HARBOR__STORAGE_SERVICE__S3__SECRETKEY", value),
            ("HARBOR__STORAGE_SERVICE__S3__BUCKET", "b"),
        ]);
        let c = config(&o.yaml);
        assert_eq!(
            c.harbor_admin_password.expose(),
            *value,
            "{value:?}\n{}",
            o.yaml
        );
        assert_eq!(c.database.password.expose(), *value, "{value:?}");
        assert_eq!(
            c.trace.attributes.get("note").and_then(Value::as_text),
            Some(*value)
        );
        assert_eq!(
            c.storage.params.get("secretkey").and_then(Value::as_text),
            Some(*value)
        );

        // and another YAML reader agrees
        let json: serde_json::Value =
            serde_saphyr::from_str(&o.yaml).unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(
            json["harbor_admin_password"],
            serde_json::json!(value),
            "{value:?}"
        );
        assert_eq!(
            json["storage_service"]["s3"]["secretkey"],
            serde_json::json!(value)
        );
    }
}

#[test]
fn names_match_without_case_and_keep_the_real_spelling() {
    let o = overlaid(&[
        ("HARBOR__EXTERNAL_REDIS__HOST", "redis.example.test:6379"),
        (
            "HARBOR__external_redis__tlsoptions__rootca",
            "/etc/harbor/redis-ca.pem",
        ),
        ("HARBOR__External_Redis__TlsOptions__Enable", "true"),
    ]);
    assert!(o.applied.contains(&(
        "HARBOR__external_redis__tlsoptions__rootca".into(),
        "external_redis.tlsOptions.rootCA".into()
    )));
    let redis = config(&o.yaml).external_redis.expect("external redis");
    assert!(redis.tls);
    assert_eq!(redis.root_ca.as_deref(), Some("/etc/harbor/redis-ca.pem"));

    let o = overlaid(&[("HARBOR___VERSION", "2.14.0")]);
    assert_eq!(config(&o.yaml).version.as_deref(), Some("2.14.0"));
}

#[test]
fn free_keys_follow_the_base_spelling_then_lower_case() {
    let base = base() + "storage_service:\n  filesystem:\n    maxthreads: 100\n";
    let with_s3 = base.replace(
        "  filesystem:\n    maxthreads: 100\n",
        "  s3:\n    bucket: old\n    MixedKey: a\n",
    );
    let env = vars(&[
        ("HARBOR__STORAGE_SERVICE__S3__BUCKET", "new"),
        ("HARBOR__STORAGE_SERVICE__S3__MIXEDKEY", "b"),
        (
            "HARBOR__STORAGE_SERVICE__S3__REGIONENDPOINT",
            "http://minio:9000",
        ),
        ("HARBOR__STORAGE_SERVICE__S3__newParam", "c"),
    ]);
    let o = overlay::apply(&with_s3, &env).unwrap();
    let paths: BTreeSet<&str> = o.applied.iter().map(|(_, p)| p.as_str()).collect();
    let expected: BTreeSet<&str> = [
        "storage_service.s3.bucket",
        "storage_service.s3.MixedKey",
        "storage_service.s3.regionendpoint",
        "storage_service.s3.newParam",
    ]
    .into();
    assert_eq!(paths, expected);
    let params = config(&o.yaml).storage.params;
    assert_eq!(params.entries().len(), 4, "{params:?}");

    // naming a driver replaces the base's driver
    let o = overlay::apply(&base, &env).unwrap();
    let storage = config(&o.yaml).storage;
    assert_eq!(storage.provider, "s3");
    assert!(storage.params.get("maxthreads").is_none());

    // two drivers cannot both be configured
    let mut two = env.clone();
    two.insert(
        "HARBOR__STORAGE_SERVICE__AZURE__ACCOUNTNAME".into(),
        "acct".into(),
    );
    let found = overlay::apply(&base, &two).unwrap_err();
    let issue = issue_for(&found, "HARBOR__STORAGE_SERVICE__S3__BUCKET");
    assert_eq!(issue.code, Code::Conflict);
}

#[test]
fn lists_are_given_whole() {
    let c = config(&overlaid(&[("HARBOR__PROXY__COMPONENTS", " core , ,jobservice,")]).yaml);
    assert_eq!(c.proxy.components, ["core", "jobservice"]);
    let c = config(&overlaid(&[("HARBOR__PROXY__COMPONENTS", "")]).yaml);
    assert!(c.proxy.components.is_empty());

    let found = issues(&[("HARBOR__JOBSERVICE__JOB_LOGGERS__0", "FILE")]);
    let issue = issue_for(&found, "HARBOR__JOBSERVICE__JOB_LOGGERS__0");
    assert!(issue.message.contains("comma separated"), "{issue}");
    assert!(
        issue.message.contains("HARBOR__JOBSERVICE__JOB_LOGGERS="),
        "{issue}"
    );
}

#[test]
fn conflicting_variables_are_refused() {
    let found = issues(&[
        ("HARBORHOSTNAME", "a.example.test"),
        ("HARBOR__HOSTNAME", "b.example.test"),
    ]);
    assert_eq!(issue_for(&found, "HARBORHOSTNAME").code, Code::Conflict);

    let same = overlaid(&[
        ("HARBORHOSTNAME", "a.example.test"),
        ("HARBOR__HOSTNAME", "a.example.test"),
    ]);
    assert_eq!(config(&same.yaml).hostname, "a.example.test");

    let found = issues(&[
        ("HARBOR__TRACE__ATTRIBUTES__A", "x"),
        ("HARBOR__TRACE__ATTRIBUTES__A__B", "y"),
    ]);
    assert_eq!(found[0].code, Code::Conflict, "{found:#?}");
}

#[test]
fn unknown_variables_get_a_did_you_mean() {
    for (var, wanted) in [
        (
            "HARBOR__DATABSE__PASSWORD",
            "did you mean HARBOR__DATABASE__PASSWORD?",
        ),
        ("HARBOR__HOSTNAM", "did you mean HARBOR__HOSTNAME?"),
        (
            "HARBOR__DATABASE_PASSWORD",
            "did you mean HARBOR__DATABASE__PASSWORD?",
        ),
        (
            "HARBOR__STORAGE_SERVICE__S4__BUCKET",
            "did you mean HARBOR__STORAGE_SERVICE__S3__BUCKET?",
        ),
        (
            "HARBOR__DB_PASSWORD",
            "did you mean HARBOR__DATABASE__PASSWORD?",
        ),
        ("HARBOR__AUTH_MODE", "web UI"),
        ("HARBOR__DATABASE", "password"),
        ("HARBOR__HTTP__PORT__X", "single value"),
        (
            "HARBOR__STORAGE_SERVICE__S3",
            "HARBOR__STORAGE_SERVICE__S3__<NAME>",
        ),
        ("HARBOR__", "empty"),
        ("HARBOR__LOG____LEVEL", "did you mean HARBOR__LOG__LEVEL?"),
        ("HARBOR__TOTALLY__UNRELATED", "docs/environment.md"),
    ] {
        let found = issues(&[(var, "1")]);
        let issue = issue_for(&found, var);
        assert!(issue.message.contains(wanted), "{var}: {issue}");
        assert!(
            matches!(issue.code, Code::UnknownKey | Code::WrongType),
            "{var}: {issue}"
        );
    }

    // names without the prefix are somebody else's
    let o = overlaid(&[
        ("HARBOR_DATABASE_PASSWORD", "x"),
        ("harbor__database__password", "x"),
        ("PATH", "/bin"),
    ]);
    assert!(o.applied.is_empty());
    assert_eq!(config(&o.yaml), config(&base()));
}

#[test]
fn a_broken_base_is_reported() {
    let found = overlay::apply("hostname: [", &vars(&[])).unwrap_err();
    assert_eq!(found[0].code, Code::Syntax);
    let found = overlay::apply("- a\n- b\n", &vars(&[])).unwrap_err();
    assert_eq!(found[0].code, Code::WrongType);
}

#[test]
fn the_table_is_unambiguous() {
    let mut names = BTreeSet::new();
    for key in KEYS {
        assert!(names.insert(key.variable()), "{} twice", key.variable());
        for other in KEYS {
            assert!(
                !other.path.starts_with(&format!("{}.", key.path)),
                "{} is below {}",
                other.path,
                key.path
            );
        }
    }
    for old in SETUPWRAPPER {
        if let Fate::Key(path) = old.fate {
            assert!(KEYS.iter().any(|k| k.path == path), "{}", old.name);
        }
    }
}

/// The keys the model reads in the mapping at `path`, from the message it gives for a key it
/// does not know.
fn model_keys(path: &str) -> BTreeSet<String> {
    const PROBE: &str = "zzzzzzzzzzzzzzzzzzzzzzzzzzzz";
    let mut text = String::new();
    let segs: Vec<&str> = path.split('.').filter(|s| !s.is_empty()).collect();
    for (depth, seg) in segs.iter().enumerate() {
        text.push_str(&format!("{}{seg}:\n", "  ".repeat(depth)));
    }
    text.push_str(&format!("{}{PROBE}: 1\n", "  ".repeat(segs.len())));

    let (_, found) = Config::read(&text);
    let probe_path = if path.is_empty() {
        PROBE.to_string()
    } else {
        format!("{path}.{PROBE}")
    };
    let issue = found
        .iter()
        .find(|i| i.path == probe_path && i.code == Code::UnknownKey)
        .unwrap_or_else(|| panic!("the model does not read `{path}`: {found:#?}"));
    let (_, known) = issue
        .message
        .split_once("known keys here: ")
        .unwrap_or_else(|| panic!("{}", issue.message));
    known.split(", ").map(String::from).collect()
}

#[test]
fn the_table_holds_every_key_the_model_reads() {
    // every mapping on the way to a key, the document itself included
    let mut mappings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for key in KEYS {
        let segs: Vec<&str> = key.path.split('.').collect();
        for depth in 0..segs.len() {
            mappings
                .entry(segs[..depth].join("."))
                .or_default()
                .insert(segs[depth].to_string());
        }
    }
    assert!(mappings.len() > 25, "{mappings:?}");
    for (path, children) in &mappings {
        assert_eq!(&model_keys(path), children, "keys of `{path}`");
    }

    // and the mappings with free keys take any key
    for key in KEYS.iter().filter(|k| matches!(k.ty, Type::Map(_))) {
        let o = overlaid(&[(&format!("{}__ANY_NAME", key.variable()), "x")]);
        let (_, found) = Config::read(&o.yaml);
        assert!(
            !found.iter().any(|i| i.code == Code::UnknownKey),
            "{}: {found:#?}",
            key.path
        );
    }
}

fn docs_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/environment.md")
}

const BEGIN: &str = "<!-- BEGIN GENERATED: harbor_prep::overlay::markdown() -->\n";
const END: &str = "<!-- END GENERATED -->";

#[test]
fn the_documented_tables_are_the_code_tables() {
    let path = docs_path();
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = text
        .find(BEGIN)
        .expect("docs/environment.md has the begin marker")
        + BEGIN.len();
    let end = text[start..].find(END).expect("and the end marker") + start;
    let generated = overlay::markdown();

    if std::env::var_os("UPDATE_DOCS").is_some() {
        let updated = format!("{}{generated}{}", &text[..start], &text[end..]);
        fs::write(&path, updated).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    assert_eq!(
        &text[start..end],
        generated,
        "docs/environment.md is out of date; run UPDATE_DOCS=1 cargo test -p harbor-prep \
         --test env_overlay"
    );

    // every variable has its row
    for key in KEYS {
        assert!(
            text.contains(&format!("| `{}", key.variable())),
            "{}",
            key.path
        );
    }
    for old in SETUPWRAPPER {
        assert!(
            text.contains(&format!("| `{}` |", old.name)),
            "{}",
            old.name
        );
    }
}
