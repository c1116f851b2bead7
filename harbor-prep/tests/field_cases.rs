//! The field cases of `shared/cases/` that concern parsing, validation, escaping and secrets:
//! each is a real user's broken input, and each test pins the behaviour the case expects.

mod support;

use harbor_prep::{Code, Config, Root, State};
use support::{case_text, env, issue_paths, keyed_state, render_text};

/// Renders a merged case with Trivy, as the cases' base has it.
fn render_case(name: &str) -> Result<harbor_prep::Bundle, harbor_prep::Issues> {
    render_text(&case_text(name), true, &keyed_state())
}

#[test]
fn admin_password_with_dollar_reaches_core_exactly() {
    let bundle = render_case("01-admin-password-dollar.yml").unwrap();
    let core = env(&bundle, "common/config/core/env");
    assert_eq!(core["HARBOR_ADMIN_PASSWORD"], "Adm$1nPass$HOME");
}

#[test]
fn database_password_with_inline_comment_reaches_every_service() {
    let bundle = render_case("03-password-env-inline-comment.yml").unwrap();
    let wanted = "Db pass #7 &<>\"'";
    assert_eq!(
        env(&bundle, "common/config/core/env")["POSTGRESQL_PASSWORD"],
        wanted
    );
    assert_eq!(
        env(&bundle, "common/config/db/env")["POSTGRES_PASSWORD"],
        wanted
    );
}

#[test]
fn database_password_reaches_the_exporter_too() {
    let text = case_text("03-password-env-inline-comment.yml")
        + "metric:\n  enabled: true\n  port: 9090\n  path: /metrics\n";
    let bundle = render_text(&text, true, &keyed_state()).unwrap();
    let exporter = env(&bundle, "common/config/exporter/env");
    assert_eq!(exporter["HARBOR_DATABASE_PASSWORD"], "Db pass #7 &<>\"'");
}

#[test]
fn redis_password_with_yaml_specials_stays_one_string() {
    let bundle = render_case("04-redis-password-yaml-special.yml").unwrap();
    let registry = bundle
        .text(Root::Install, "common/config/registry/config.yml")
        .unwrap();
    let tree = harbor_prep::yaml::parse(registry).expect("registry config.yml parses");
    let password = tree.get("redis").and_then(|r| r.get("password")).unwrap();
    assert_eq!(
        password.kind,
        harbor_prep::yaml::Kind::Scalar("*Rd/pw: x #1".into(), harbor_prep::yaml::Style::Quoted)
    );

    // percent-encoded exactly once in every url
    let core = env(&bundle, "common/config/core/env");
    assert_eq!(
        core["_REDIS_URL_REG"],
        "redis://:%2ARd%2Fpw%3A%20x%20%231@redis.example.test:6379/1?idle_timeout_seconds=30"
    );
}

#[test]
fn hostname_with_port_is_rejected() {
    let result = render_case("06-hostname-with-port.yml");
    assert_eq!(issue_paths(&result), ["hostname"]);
    let message = &result.unwrap_err().0[0].message;
    assert!(message.contains("http.port"), "{message}");
}

#[test]
fn hostname_with_scheme_or_empty_is_rejected() {
    for hostname in [
        "https://registry.example.test",
        "\"\"",
        "reg_istry.example.test",
    ] {
        let text = case_text("11-secrets-stable-across-reruns.yml").replace(
            "hostname: registry.example.test",
            &format!("hostname: {hostname}"),
        );
        let result = render_text(&text, true, &keyed_state());
        assert_eq!(issue_paths(&result), ["hostname"], "hostname {hostname}");
    }
}

#[test]
fn ipv6_hostname_is_bracketed_in_urls() {
    let text = case_text("11-secrets-stable-across-reruns.yml").replace(
        "hostname: registry.example.test",
        "hostname: \"2001:db8::10\"",
    );
    let bundle = render_text(&text, true, &keyed_state()).unwrap();
    let core = env(&bundle, "common/config/core/env");
    assert_eq!(core["EXT_ENDPOINT"], "http://[2001:db8::10]");
}

#[test]
fn https_files_missing_are_named_before_anything_is_written() {
    let result = render_case("08-https-cert-missing.yml");
    let issues = result.unwrap_err().0;
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert_eq!(paths, ["https.certificate", "https.private_key"]);
    assert!(issues.iter().all(|i| i.code == Code::FileMissing));
    assert!(
        issues[0]
            .message
            .contains("/etc/harbor-certs/registry.example.test.crt")
    );
}

#[test]
fn relative_internal_tls_dir_is_rejected() {
    let result = render_case("10-internal-tls-relative-dir.yml");
    assert!(issue_paths(&result).contains(&"internal_tls.dir".to_string()));
}

#[test]
fn secrets_are_stable_across_reruns() {
    let text = case_text("11-secrets-stable-across-reruns.yml");
    let first = render_text(&text, true, &State::new()).unwrap();
    let second = render_text(&text, true, &first.state).unwrap();
    assert_eq!(first.entries, second.entries);

    // and with no state at all, the seed alone gives the same bytes
    let again = render_text(&text, true, &State::new()).unwrap();
    assert_eq!(first.entries, again.entries);
}

#[test]
fn old_schema_names_every_missing_key() {
    let result = render_case("13-old-jobservice-section.yml");
    let paths = issue_paths(&result);
    assert!(
        paths.contains(&"jobservice.job_loggers".to_string()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"jobservice.logger_sweeper_duration".to_string()),
        "{paths:?}"
    );
}

#[test]
fn old_redirect_spelling_points_to_the_new_key() {
    let issues = render_case("14-redirect-disabled-old-key.yml")
        .unwrap_err()
        .0;
    assert_eq!(issues[0].path, "storage_service.redirect.disabled");
    assert_eq!(issues[0].code, Code::UnknownKey);
    assert!(issues[0].message.contains("did you mean `disable`"));
}

#[test]
fn two_storage_providers_and_unknown_storage_keys_are_reported() {
    let issues = render_case("17-storage-two-providers-extra-keys.yml")
        .unwrap_err()
        .0;
    let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    assert!(paths.contains(&"storage_service.s3"), "{paths:?}");
    assert!(paths.contains(&"storage_service.delete"), "{paths:?}");
    assert!(paths.contains(&"storage_service.maintenance"), "{paths:?}");
    let conflict = issues.iter().find(|i| i.code == Code::Conflict).unwrap();
    assert!(conflict.message.contains("filesystem and s3"));
}

#[test]
fn filesystem_root_outside_the_mount_is_rejected_and_numbers_stay_numbers() {
    let result = render_case("18-filesystem-rootdirectory.yml");
    assert_eq!(issue_paths(&result), ["storage_service.filesystem"]);

    let text = case_text("18-filesystem-rootdirectory.yml")
        .replace("/mnt/registry-store", "/storage/blobs");
    let bundle = render_text(&text, true, &keyed_state()).unwrap();
    let registry = bundle
        .text(Root::Install, "common/config/registry/config.yml")
        .unwrap();
    assert!(registry.contains("    maxthreads: 1\n"), "{registry}");
}

#[test]
fn both_ip_families_disabled_is_rejected() {
    let result = render_case("20-ip-family-both-disabled.yml");
    assert!(issue_paths(&result).contains(&"ip_family.ipv4".to_string()));
}

#[test]
fn syslog_driver_dials_the_published_loopback_address() {
    let bundle = render_case("21-syslog-localhost-ipv6.yml").unwrap();
    let compose = bundle.text(Root::Install, "docker-compose.yml").unwrap();
    assert!(compose.contains("127.0.0.1:1514:10514"));
    assert!(compose.contains("tcp://127.0.0.1:1514"));
    assert!(!compose.contains("localhost:1514"));
}

#[test]
fn data_volume_with_inline_comment_is_the_path_alone() {
    // applied raw: the comment must survive into the text the parser sees
    let body = "data_volume: /srv/harbor-data  # big disk";
    let text: String = case_text("11-secrets-stable-across-reruns.yml")
        .lines()
        .map(|l| {
            if l.starts_with("data_volume:") {
                body
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let config = Config::from_yaml(&text).unwrap();
    assert_eq!(config.data_volume, "/srv/harbor-data");
}

#[test]
fn unknown_top_level_key_suggests_the_right_one() {
    let issues = render_case("27-unknown-top-level-key.yml").unwrap_err().0;
    assert_eq!(issues[0].path, "external_databases");
    assert!(
        issues[0]
            .message
            .contains("did you mean `external_database`")
    );
}

#[test]
fn unquoted_hash_password_is_null_and_named() {
    let text = case_text("11-secrets-stable-across-reruns.yml").replace(
        "harbor_admin_password: Harbor12345",
        "harbor_admin_password: #secret",
    );
    let issues = render_text(&text, true, &keyed_state()).unwrap_err().0;
    assert_eq!(issues[0].path, "harbor_admin_password");
    assert_eq!(issues[0].code, Code::Null);
    assert!(issues[0].message.contains("quoted"));
}
