//! harbor.cfg (Harbor 0.5 to 1.7) import: the stock templates, case 24, exact values, the
//! report of keys Harbor 2 has no place for, and the line-level problems.
//!
//! Needs the shared material (`reference/legacy/*.cfg`, `cases/`) beside the project root.

mod support;

use std::fs;

use harbor_prep::legacy::{self, Conversion};
use harbor_prep::value::Value;
use harbor_prep::{Code, Config, HostFiles, Issue, Release};

const TEMPLATES: [&str; 3] = ["harbor-0.5.0.cfg", "harbor-1.1.1.cfg", "harbor-1.7.6.cfg"];

/// The placeholder hostname of every stock template.
const PLACEHOLDER: &str = "reg.mydomain.com";

/// The keys whose setting lands in harbor.yml (or is the default there) for a stock template.
const MAPPED: [&str; 20] = [
    "hostname",
    "ui_url_protocol",
    "harbor_admin_password",
    "db_password",
    "db_host",
    "db_port",
    "db_user",
    "max_job_workers",
    "log_rotate_count",
    "log_rotate_size",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "redis_host",
    "redis_port",
    "redis_password",
    "redis_db_index",
    "registry_storage_provider_name",
    "registry_storage_provider_config",
    "registry_custom_ca_bundle",
];

fn template(name: &str) -> String {
    let path = support::shared().join("reference/legacy").join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The template with its hostname line set to a real name.
fn with_hostname(text: &str, host: &str) -> String {
    let from = format!("hostname = {PLACEHOLDER}\n");
    assert!(
        text.contains(&from),
        "the template has no placeholder hostname line"
    );
    text.replace(&from, &format!("hostname = {host}\n"))
}

fn convert_ok(text: &str) -> (Conversion, Config) {
    let out = legacy::convert(text).unwrap_or_else(|issues| panic!("{issues:#?}"));
    let config = Config::from_yaml(&out.yaml).unwrap_or_else(|i| panic!("{i:#?}\n{}", out.yaml));
    (out, config)
}

fn check(yaml: &str) -> Vec<Issue> {
    harbor_prep::check(
        yaml,
        &HostFiles::new(),
        support::NOW,
        true,
        Release::latest(),
    )
}

fn lines_of(issues: &[Issue]) -> Vec<(String, Option<usize>)> {
    issues
        .iter()
        .map(|i| (i.path.clone(), i.mark.map(|m| m.line)))
        .collect()
}

/// A small 1.7-style cfg that converts; `extra` lines are appended.
fn minimal(extra: &str) -> String {
    format!(
        "_version = 1.7.0\nhostname = harbor.example.test\nui_url_protocol = http\n\
         harbor_admin_password = Adm1n-Pass\ndb_password = Db-Pass\n{extra}"
    )
}

#[test]
fn stock_templates_convert_once_the_hostname_is_set() {
    for name in TEMPLATES {
        let text = with_hostname(&template(name), "harbor.example.test");
        let cfg = legacy::parse(&text).unwrap_or_else(|i| panic!("{name}: {i:#?}"));
        let (out, config) = convert_ok(&text);

        assert_eq!(config.hostname, "harbor.example.test", "{name}");
        assert!(config.https.is_none(), "{name}");
        assert_eq!(
            config.harbor_admin_password.expose(),
            cfg.value("harbor_admin_password").unwrap(),
            "{name}"
        );
        assert_eq!(
            config.database.password.expose(),
            cfg.value("db_password").unwrap(),
            "{name}"
        );
        let workers = cfg
            .value("max_job_workers")
            .unwrap()
            .parse::<i64>()
            .unwrap();
        assert_eq!(config.jobservice.max_job_workers, workers, "{name}");
        assert!(config.external_database.is_none(), "{name}");
        assert!(config.external_redis.is_none(), "{name}");
        assert_eq!(config.storage.provider, "filesystem", "{name}");

        assert_eq!(
            check(&out.yaml),
            Vec::<Issue>::new(),
            "{name}:\n{}",
            out.yaml
        );
        assert!(out.warnings.is_empty(), "{name}: {:#?}", out.warnings);

        // the same input gives the same bytes
        assert_eq!(
            legacy::convert(&text).map(|o| o.yaml),
            Ok(out.yaml),
            "{name}"
        );
    }
}

#[test]
fn the_1_7_template_carries_log_rotation() {
    let text = with_hostname(&template("harbor-1.7.6.cfg"), "harbor.example.test");
    let cfg = legacy::parse(&text).unwrap();
    let (_, config) = convert_ok(&text);

    let count = cfg
        .value("log_rotate_count")
        .unwrap()
        .parse::<i64>()
        .unwrap();
    assert_eq!(config.log.local.rotate_count, count);
    assert_eq!(
        config.log.local.rotate_size,
        cfg.value("log_rotate_size").unwrap()
    );
    assert_eq!(config.proxy.http_proxy, "");
}

#[test]
fn placeholder_hostname_converts_but_fails_validation() {
    for name in TEMPLATES {
        let (out, config) = convert_ok(&template(name));
        assert_eq!(config.hostname, PLACEHOLDER, "{name}");

        let issues = check(&out.yaml);
        assert!(
            issues
                .iter()
                .any(|i| i.path == "hostname" && i.code == Code::Placeholder),
            "{name}: {issues:#?}"
        );
    }
}

#[test]
fn every_unmapped_key_is_reported_with_its_line() {
    for name in TEMPLATES {
        let text = with_hostname(&template(name), "harbor.example.test");
        let cfg = legacy::parse(&text).unwrap();
        let (out, _) = convert_ok(&text);

        for entry in &cfg.entries {
            let reported: Vec<_> = out.report.iter().filter(|u| u.key == entry.key).collect();
            if MAPPED.contains(&entry.key.as_str()) {
                assert!(reported.is_empty(), "{name}: {} is mapped", entry.key);
                continue;
            }
            assert_eq!(
                reported.len(),
                1,
                "{name}: {} must be reported once",
                entry.key
            );
            assert_eq!(reported[0].line, entry.line, "{name}: {}", entry.key);
            assert!(!reported[0].why.is_empty());
        }
        assert!(out.report.iter().all(|u| cfg.get(&u.key).is_some()));

        // the settings harbor 2 keeps in its web UI are named
        for key in ["auth_mode", "ldap_url", "self_registration", "email_server"] {
            let u = out.report.iter().find(|u| u.key == key).unwrap();
            assert_eq!(u.value.as_deref(), cfg.value(key), "{name}: {key}");
        }
        let shown = out.report.iter().map(|u| u.to_string()).collect::<Vec<_>>();
        assert!(shown.iter().any(|s| s.contains("web UI")), "{shown:#?}");
    }
}

#[test]
fn the_line_of_a_reported_key_is_where_it_stands() {
    let text = minimal("\n# ldap\nldap_url = ldaps://ldap.example.test\n");
    let (out, _) = convert_ok(&text);
    let line = text
        .lines()
        .position(|l| l.starts_with("ldap_url"))
        .unwrap()
        + 1;
    let u = out.report.iter().find(|u| u.key == "ldap_url").unwrap();
    assert_eq!(u.line, line);
    assert!(
        u.to_string()
            .starts_with(&format!("line {line}: ldap_url: ")),
        "{u}"
    );
    assert!(
        u.to_string()
            .ends_with("(value `ldaps://ldap.example.test`)"),
        "{u}"
    );
}

#[test]
fn passwords_come_through_exactly() {
    let admin = r#"A$dm1n#x "q" 'y' sp ace\%s:{}"#;
    let db = "Db pass #7 ; x";
    let redis = "r$d#s 'pw'";
    let text = format!(
        "hostname = harbor.example.test\nui_url_protocol = http\n\
         harbor_admin_password = {admin}\ndb_password = \"{db}\"\n_version = 1.7.0\n\
         db_host = db.example.test\ndb_port = 5433\ndb_user = harbor\n\
         redis_host = redis.example.test\nredis_port = 6380\nredis_password = {redis}\n\
         redis_db_index = 4,5,6\n"
    );
    let (out, config) = convert_ok(&text);

    assert_eq!(config.harbor_admin_password.expose(), admin);
    assert_eq!(config.database.password.expose(), db);

    let ext = config.external_database.as_ref().unwrap();
    assert_eq!(ext.password.expose(), db);
    assert_eq!(
        (ext.host.as_str(), ext.port, ext.username.as_str()),
        ("db.example.test", 5433, "harbor")
    );

    let redis_cfg = config.external_redis.as_ref().unwrap();
    assert_eq!(redis_cfg.password.expose(), redis);
    assert_eq!(redis_cfg.host, "redis.example.test:6380");
    assert_eq!(
        (
            redis_cfg.indexes.registry_db_index,
            redis_cfg.indexes.jobservice_db_index
        ),
        (4, 5)
    );

    // the quotes around db_password were removed, with a warning on its line
    assert_eq!(lines_of(&out.warnings), [("db_password".into(), Some(4))]);
    for w in &out.warnings {
        assert!(!w.to_string().contains(db));
    }
}

#[test]
fn case_24_commented_hostname_inline_comment_and_quotes() {
    let case =
        fs::read_to_string(support::shared().join("cases/24-legacy-cfg-commented-hostname.yml"))
            .unwrap();
    let doc = harbor_prep::yaml::parse(&case).unwrap();
    let body = Value::from_node(doc.get("harbor_cfg").unwrap());
    let body = body.as_text().unwrap().to_owned();
    let hostname_line = body
        .lines()
        .position(|l| l.starts_with("hostname"))
        .unwrap()
        + 1;

    // the inline comment is rejected at the hostname line; the commented copy is not read
    let issues = legacy::convert(&body).unwrap_err();
    assert_eq!(
        lines_of(&issues),
        [("hostname".into(), Some(hostname_line))]
    );
    assert_eq!(issues[0].code, Code::Syntax);
    assert!(issues[0].message.contains("comment"), "{}", issues[0]);

    // without the comment it converts: quotes dropped with a warning, nothing else missing
    let fixed = body.replace(" # primary", "");
    assert_ne!(fixed, body);
    let cfg = legacy::parse(&fixed).unwrap();
    let (out, config) = convert_ok(&fixed);
    assert_eq!(config.hostname, "registry.example.test");
    let quoted = cfg.get("db_password").unwrap();
    assert!(quoted.quoted);
    assert!(!quoted.value.contains('"'));
    assert_eq!(config.database.password.expose(), quoted.value);
    assert_eq!(
        config.harbor_admin_password.expose(),
        cfg.value("harbor_admin_password").unwrap()
    );
    assert_eq!(
        lines_of(&out.warnings),
        [("db_password".into(), Some(quoted.line))]
    );
    assert_eq!(check(&out.yaml), Vec::<Issue>::new());
}

#[test]
fn missing_options_are_named() {
    let issues =
        legacy::convert("#hostname = harbor.example.test\nauth_mode = db_auth\n").unwrap_err();
    let mut missing: Vec<&str> = issues
        .iter()
        .filter(|i| i.code == Code::Missing)
        .map(|i| i.path.as_str())
        .collect();
    missing.sort_unstable();
    assert_eq!(
        missing,
        [
            "db_password",
            "harbor_admin_password",
            "hostname",
            "ui_url_protocol"
        ]
    );
    let hostname = issues.iter().find(|i| i.path == "hostname").unwrap();
    assert!(hostname.message.contains("line 1"), "{hostname}");
}

#[test]
fn secrets_never_appear_in_the_report() {
    let secrets = [
        ("email_password", "Em@il-Secret-1"),
        ("ldap_search_pwd", "Ld@p-Secret-2"),
        ("clair_db_password", "Cl@ir-Secret-3"),
        ("uaa_clientsecret", "U@a-Secret-4"),
        ("redis_password", "R3dis-Secret-5"),
    ];
    let mut extra = String::from("redis_host = redis\nredis_port = 6379\n");
    for (key, value) in secrets {
        extra.push_str(&format!("{key} = {value}\n"));
    }
    let (out, _) = convert_ok(&minimal(&extra));

    for (key, value) in secrets {
        let u = out.report.iter().find(|u| u.key == key).unwrap();
        assert!(u.secret, "{key}");
        assert_eq!(u.value, None, "{key}");
        for text in [u.to_string(), format!("{u:?}"), format!("{:?}", out.report)] {
            assert!(!text.contains(value), "{key}: {text}");
        }
    }
    let redis = out
        .report
        .iter()
        .find(|u| u.key == "redis_password")
        .unwrap();
    assert!(redis.to_string().contains("secret value not shown"));
}

#[test]
fn secrets_never_appear_in_issues() {
    let cases = [
        "db_password = Secret-Pw #1\n",
        "db_password = a\ndb_password = Secret-Pw-2\n",
        "registry_storage_provider_name = s3\nregistry_storage_provider_config = Secret-Pw-3\n",
    ];
    for extra in cases {
        let text = format!(
            "hostname = harbor.example.test\nui_url_protocol = http\n\
                            harbor_admin_password = x\n{extra}"
        );
        let issues = legacy::convert(&text).unwrap_err();
        assert!(!issues.is_empty());
        for i in &issues {
            assert!(!format!("{i} {i:?}").contains("Secret-Pw"), "{i}");
        }
    }
}

#[test]
fn https_maps_to_the_https_block() {
    let text = minimal("ui_url_protocol = https\n").replace("ui_url_protocol = http\n", "")
        + "ssl_cert = /etc/harbor/tls/server cert.pem\nssl_cert_key = /etc/harbor/tls/key.pem\n";
    let (out, config) = convert_ok(&text);
    let https = config.https.as_ref().unwrap();
    assert_eq!(https.port, 443);
    assert_eq!(https.certificate, "/etc/harbor/tls/server cert.pem");
    assert_eq!(https.private_key, "/etc/harbor/tls/key.pem");
    assert!(out.report.iter().all(|u| !u.key.starts_with("ssl_cert")));

    // with http the certificate paths are reported instead
    let (out, config) = convert_ok(&minimal("ssl_cert = /data/cert/server.crt\n"));
    assert!(config.https.is_none());
    assert!(out.report.iter().any(|u| u.key == "ssl_cert"));

    // https without the files names them
    let text = minimal("").replace("ui_url_protocol = http", "ui_url_protocol = https");
    let issues = legacy::convert(&text).unwrap_err();
    let mut paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["ssl_cert", "ssl_cert_key"]);
}

#[test]
fn line_level_problems_name_key_and_line() {
    let text = minimal(
        "max_job_workers = 3 ; three\n\
         hostname = again.example.test\n\
         \x20 continued\n\
         [configuration]\n\
         no separator here\n\
         db_pasword = x\n\
         log_rotate_count = many\n",
    );
    let issues = legacy::convert(&text).unwrap_err();
    let got: Vec<(String, Option<usize>, Code)> = issues
        .iter()
        .map(|i| (i.path.clone(), i.mark.map(|m| m.line), i.code))
        .collect();
    let expect = [
        ("max_job_workers", 6, Code::Syntax),
        ("hostname", 7, Code::Conflict),
        ("hostname", 8, Code::Syntax),
        ("", 9, Code::Syntax),
        ("", 10, Code::Syntax),
        ("db_pasword", 11, Code::UnknownKey),
        ("log_rotate_count", 12, Code::WrongType),
    ];
    for (path, line, code) in expect {
        assert!(
            got.contains(&(path.to_owned(), Some(line), code)),
            "{path} line {line} {code}: {got:#?}"
        );
    }
    assert_eq!(got.len(), expect.len(), "{got:#?}");

    let typo = issues.iter().find(|i| i.path == "db_pasword").unwrap();
    assert!(
        typo.message.contains("did you mean `db_password`"),
        "{typo}"
    );
    let cont = issues
        .iter()
        .find(|i| i.mark.map(|m| m.line) == Some(8))
        .unwrap();
    assert!(cont.message.contains("line 7"), "{cont}");
}

#[test]
fn values_out_of_range_point_at_the_cfg_line() {
    let text = minimal("max_job_workers = 0\n");
    let issues = legacy::convert(&text).unwrap_err();
    assert_eq!(lines_of(&issues), [("max_job_workers".into(), Some(6))]);
    assert!(
        issues[0].message.contains("jobservice.max_job_workers"),
        "{}",
        issues[0]
    );
}

#[test]
fn storage_settings_keep_their_types() {
    let text = minimal(
        "registry_storage_provider_name = s3\n\
         registry_storage_provider_config = region: us-east-1, bucket: harbor-blobs, \
         regionendpoint: http://minio.example.test:9000, secure: true, chunksize: 5242880, \
         rootdirectory: 0123\n\
         registry_custom_ca_bundle = /etc/harbor/ca.pem\n",
    );
    let (_, config) = convert_ok(&text);
    assert_eq!(config.storage.provider, "s3");
    assert_eq!(
        config.storage.ca_bundle.as_deref(),
        Some("/etc/harbor/ca.pem")
    );

    let params = config.storage.params.to_json();
    assert_eq!(params["region"], "us-east-1");
    assert_eq!(params["regionendpoint"], "http://minio.example.test:9000");
    assert_eq!(params["secure"], true);
    assert_eq!(params["chunksize"], 5_242_880);
    assert_eq!(params["rootdirectory"], "0123");

    // a provider other than filesystem needs its settings
    let issues = legacy::convert(&minimal("registry_storage_provider_name = gcs\n")).unwrap_err();
    assert_eq!(
        lines_of(&issues),
        [("registry_storage_provider_name".into(), Some(6))]
    );
}

#[test]
fn an_external_mysql_database_is_refused() {
    let text = minimal("db_host = mysql.example.test\ndb_port = 3306\ndb_user = root\n")
        .replace("_version = 1.7.0", "_version = 1.5.0");
    let issues = legacy::convert(&text).unwrap_err();
    assert_eq!(lines_of(&issues), [("db_host".into(), Some(6))]);

    // the bundled mysql of 1.5 becomes harbor 2's bundled database, with a report entry
    let text = minimal("db_host = mysql\ndb_port = 3306\ndb_user = root\n")
        .replace("_version = 1.7.0", "_version = 1.5.0");
    let (out, config) = convert_ok(&text);
    assert!(config.external_database.is_none());
    let keys: Vec<&str> = out.report.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(keys, ["_version", "db_host", "db_port", "db_user"]);
}

#[test]
fn bundled_redis_indexes_move_to_the_redis_block() {
    let (_, config) = convert_ok(&minimal(
        "redis_host = redis\nredis_port = 6379\nredis_db_index = 3,4,5\n",
    ));
    assert!(config.external_redis.is_none());
    assert_eq!(
        (
            config.redis.registry_db_index,
            config.redis.jobservice_db_index
        ),
        (3, 4)
    );

    let issues =
        legacy::convert(&minimal("redis_host = redis\nredis_db_index = 1,2\n")).unwrap_err();
    assert_eq!(lines_of(&issues), [("redis_db_index".into(), Some(7))]);
}

#[test]
fn clair_proxy_settings_go_to_trivy() {
    let (_, config) = convert_ok(&minimal(
        "http_proxy = http://proxy.example.test:3128\nhttps_proxy =\n\
         no_proxy = 127.0.0.1,localhost\n",
    ));
    assert_eq!(config.proxy.http_proxy, "http://proxy.example.test:3128");
    assert_eq!(config.proxy.https_proxy, "");
    assert_eq!(config.proxy.no_proxy, ["127.0.0.1", "localhost"]);
    assert_eq!(config.proxy.components, ["trivy"]);

    // without a proxy the template's no_proxy list has no effect and is not written
    let (_, config) = convert_ok(&minimal("http_proxy =\nno_proxy = 127.0.0.1,localhost\n"));
    assert!(config.proxy.no_proxy.is_empty());
    assert_eq!(config.proxy.components, ["core", "jobservice", "trivy"]);
}

#[test]
fn uaa_ca_file_only_with_uaa_auth() {
    let (out, config) = convert_ok(&minimal(
        "auth_mode = uaa_auth\nuaa_ca_cert = /etc/uaa/ca.pem\n",
    ));
    assert_eq!(config.uaa_ca_file.as_deref(), Some("/etc/uaa/ca.pem"));
    assert!(out.report.iter().all(|u| u.key != "uaa_ca_cert"));

    let (out, config) = convert_ok(&minimal(
        "auth_mode = db_auth\nuaa_ca_cert = /etc/uaa/ca.pem\n",
    ));
    assert_eq!(config.uaa_ca_file, None);
    assert!(out.report.iter().any(|u| u.key == "uaa_ca_cert"));
}

#[test]
fn a_harbor_yml_version_is_not_a_cfg() {
    let issues = legacy::convert(&minimal("").replace("1.7.0", "1.8.0")).unwrap_err();
    assert_eq!(lines_of(&issues), [("_version".into(), Some(1))]);
    assert_eq!(issues[0].code, Code::SchemaVersion);
}

#[test]
fn keys_are_read_as_python_reads_them() {
    // python lower-cases keys, takes `:` as a separator and reads crlf files
    let text = minimal("Max_Job_Workers: 7\n").replace('\n', "\r\n");
    let cfg = legacy::parse(&text).unwrap();
    assert_eq!(cfg.value("max_job_workers"), Some("7"));
    assert_eq!(cfg.value("hostname"), Some("harbor.example.test"));
    let (_, config) = convert_ok(&text);
    assert_eq!(config.jobservice.max_job_workers, 7);
}
