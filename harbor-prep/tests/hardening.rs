//! Inputs a tester found that got through, or broke things: each test pins how they are refused
//! now (or, for merge keys and tags, how they are read).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use harbor_prep::yaml::{self, Kind};
use harbor_prep::{Code, Config, HostFile, HostFiles, Issue, Release, Secret, State};
use support::{NOW, reference};

/// The built-in default configuration, plain http.
fn base() -> String {
    harbor_prep::default_config("harbor.example.test")
}

/// Every problem `check` finds in `text`, with no host files.
fn issues(text: &str) -> Vec<Issue> {
    issues_with(text, &HostFiles::new(), NOW)
}

fn issues_with(text: &str, files: &HostFiles, now: i64) -> Vec<Issue> {
    harbor_prep::check(text, files, now, false, Release::latest())
}

/// The issues at `path`.
fn at<'a>(issues: &'a [Issue], path: &str) -> Vec<&'a Issue> {
    issues.iter().filter(|i| i.path == path).collect()
}

/// The one issue at `path` with `code`, or a failure that lists what there was.
fn one<'a>(issues: &'a [Issue], path: &str, code: Code) -> &'a Issue {
    let found: Vec<&Issue> = at(issues, path)
        .into_iter()
        .filter(|i| i.code == code)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {code} issue at {path}; all: {issues:#?}"
    );
    found[0]
}

/// The base with `old` (a whole line) replaced by `new`.
fn with(old: &str, new: &str) -> String {
    let text = base();
    assert!(text.contains(old), "the default config has `{old}`");
    text.replacen(old, new, 1)
}

fn host_file(contents: Vec<u8>) -> HostFile {
    HostFile {
        contents,
        mode: 0o644,
        uid: 0,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. alias bombs

/// Nine levels of nine aliases each: 9^8 copies of `lol` if expanded naively.
fn alias_bomb() -> String {
    let mut text = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let aliases = vec![format!("*{prev}"); 9].join(", ");
        text.push_str(&format!("{name}: &{name} [{aliases}]\n"));
    }
    text
}

#[test]
fn alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() {
    let text = alias_bomb();

    let err = yaml::parse(&text).unwrap_err();

    // a costs 10 nodes, each *a 10, each *b 91, each *c 820, each *d 7381: the first *d
    // (line 5) takes the total past 10 000
    assert_eq!(err.mark.line, 5, "{err:?}");
    assert!(err.message.contains("10000"), "{}", err.message);
    assert!(err.message.contains("billion laughs"), "{}", err.message);
}

#[test]
fn alias_bomb_renders_an_error_not_a_bundle() {
    let text = alias_bomb();

    let found = issues(&text);
    let read = Config::from_yaml(&text);

    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].code, Code::Syntax);
    assert!(found[0].message.contains("alias"), "{}", found[0].message);
    let errors = read.unwrap_err();
    assert_eq!(errors[0].code, Code::Syntax);
}

#[test]
fn aliases_below_the_limit_still_expand() {
    let text = "a: &a [x, y]\nb: [*a, *a, *a]\n";

    let doc = yaml::parse(text).unwrap();

    let Kind::Seq(items) = &doc.get("b").unwrap().kind else {
        panic!("b is a list");
    };
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|i| matches!(&i.kind, Kind::Seq(s) if s.len() == 2))
    );
}

#[test]
fn nesting_deeper_than_64_is_a_syntax_error() {
    let deep = format!("a: {}{}\n", "[".repeat(100), "]".repeat(100));
    let fine = format!("a: {}{}\n", "[".repeat(60), "]".repeat(60));

    let err = yaml::parse(&deep).unwrap_err();

    assert!(err.message.contains("64"), "{}", err.message);
    assert_eq!(err.mark.line, 1);
    assert!(yaml::parse(&fine).is_ok());
}

#[test]
fn an_alias_that_would_nest_too_deep_is_refused_at_the_alias() {
    let inner = format!("{}x{}", "[".repeat(40), "]".repeat(40));
    let text = format!("a: &a {inner}\nb: {}*a{}\n", "[".repeat(30), "]".repeat(30));

    let err = yaml::parse(&text).unwrap_err();

    assert_eq!(err.mark.line, 2);
    assert!(err.message.contains("64"), "{}", err.message);
}

// ---------------------------------------------------------------------------------------------
// 2. merge keys

#[test]
fn merge_key_fills_in_keys_and_explicit_keys_win() {
    let text = with(
        "jobservice:\n",
        "jobservice:\n  <<: {max_job_workers: 3, logger_sweeper_duration: 7}\n",
    );

    let config = Config::from_yaml(&text).unwrap();

    assert_eq!(config.jobservice.max_job_workers, 10);
    assert_eq!(config.jobservice.logger_sweeper_duration, 1);
    assert!(issues(&text).is_empty(), "{:#?}", issues(&text));
}

#[test]
fn merge_key_with_an_alias_supplies_missing_keys() {
    let text =
        "a: &base {port: 80, path: /m}\nb:\n  <<: *base\n  path: /metrics\n  enabled: true\n";

    let doc = yaml::parse(text).unwrap();

    let b = doc.get("b").unwrap();
    let names: Vec<&str> = b.entries().iter().map(|(k, _)| k.name.as_str()).collect();
    assert_eq!(names, ["port", "path", "enabled"]);
    assert_eq!(
        b.get("path").unwrap().kind,
        Kind::Scalar("/metrics".into(), yaml::Style::Plain)
    );
    assert_eq!(
        b.get("port").unwrap().kind,
        Kind::Scalar("80".into(), yaml::Style::Plain)
    );
}

#[test]
fn merge_list_prefers_earlier_mappings() {
    let doc =
        yaml::parse("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n").unwrap();

    let c = doc.get("c").unwrap();

    assert_eq!(
        c.get("x").unwrap().kind,
        Kind::Scalar("1".into(), yaml::Style::Plain)
    );
    assert_eq!(
        c.get("y").unwrap().kind,
        Kind::Scalar("2".into(), yaml::Style::Plain)
    );
    assert_eq!(
        c.get("z").unwrap().kind,
        Kind::Scalar("3".into(), yaml::Style::Plain)
    );
    assert!(c.get("<<").is_none());
}

#[test]
fn merge_key_in_a_config_block_is_not_an_unknown_key() {
    let text = with(
        "log:\n  level: info\n",
        "log:\n  <<: {level: debug}\n  level: info\n",
    );

    let found = issues(&text);
    let config = Config::from_yaml(&text).unwrap();

    assert!(
        found.iter().all(|i| i.code != Code::UnknownKey),
        "{found:#?}"
    );
    assert_eq!(config.log.level, "info");
}

#[test]
fn quoted_double_angle_is_an_ordinary_key_and_bad_merges_are_errors() {
    let quoted = yaml::parse("a:\n  '<<': {x: 1}\n").unwrap();
    let scalar = yaml::parse("a:\n  <<: 5\n").unwrap_err();
    let list_of_scalars = yaml::parse("a:\n  <<: [x]\n").unwrap_err();

    assert!(quoted.get("a").unwrap().get("<<").is_some());
    assert!(scalar.message.contains("merge key"), "{}", scalar.message);
    assert_eq!(scalar.mark.line, 2);
    assert!(
        list_of_scalars.message.contains("merge key"),
        "{}",
        list_of_scalars.message
    );
}

// ---------------------------------------------------------------------------------------------
// 3. NUL characters

#[test]
fn nul_in_a_scalar_is_an_encoding_issue_at_read_time() {
    let text = with(
        "harbor_admin_password: Harbor12345",
        "harbor_admin_password: \"Harbor\\0secret\"",
    );

    let found = issues(&text);
    let read = Config::from_yaml(&text);

    let issue = one(&found, "harbor_admin_password", Code::Encoding);
    assert!(
        issue
            .message
            .contains("contains a NUL character, which no file or environment can carry"),
        "{}",
        issue.message
    );
    assert!(issue.message.contains("harbor_admin_password"));
    assert!(
        !issue.message.contains("secret"),
        "never echo the value: {}",
        issue.message
    );
    let line = text
        .lines()
        .position(|l| l.starts_with("harbor_admin_password"))
        .map(|i| i + 1);
    assert_eq!(issue.mark.map(|m| m.line), line);

    // check and render agree: the configuration does not even read
    let errors = read.unwrap_err();
    assert!(errors.iter().any(|i| i.code == Code::Encoding));
}

#[test]
fn nul_is_found_in_lists_and_pass_through_values() {
    let text = with("    - FILE\n", "    - \"FI\\0LE\"\n")
        + "storage_service:\n  s3:\n    bucket: \"b\\0\"\n    region: us-east-1\n";

    let found = issues(&text);

    one(&found, "jobservice.job_loggers[1]", Code::Encoding);
    one(&found, "storage_service.s3.bucket", Code::Encoding);
}

// ---------------------------------------------------------------------------------------------
// 4. https certificate without subjectAltName

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("hardening-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An EC key and a self-signed certificate for `cn`, made by openssl; (cert, key).
fn self_signed(dir: &Path, cn: &str, san: Option<&str>) -> (Vec<u8>, Vec<u8>) {
    let subj = format!("/CN={cn}");
    let mut args = vec![
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "k.pem",
        "-out",
        "c.pem",
        "-days",
        "30",
        "-subj",
        &subj,
    ];
    let ext = san.map(|s| format!("subjectAltName={s}"));
    if let Some(ext) = &ext {
        args.extend(["-addext", ext]);
    }
    let out = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("openssl is on PATH");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read(dir.join("c.pem")).unwrap(),
        std::fs::read(dir.join("k.pem")).unwrap(),
    )
}

fn https_issues(cert: Vec<u8>, key: Vec<u8>) -> Vec<Issue> {
    let now = harbor_prep::pki::cert_info(&cert).unwrap().not_before + 60;
    let text = with(
        "http:\n  port: 80\n",
        "http:\n  port: 80\nhttps:\n  port: 443\n  certificate: /c.pem\n  private_key: /k.pem\n",
    );
    let mut files = HostFiles::new();
    files.insert("/c.pem", host_file(cert));
    files.insert("/k.pem", host_file(key));
    issues_with(&text, &files, now)
}

#[test]
fn certificate_with_only_a_common_name_is_rejected() {
    let dir = temp_dir("cn-only");
    let (cert, key) = self_signed(&dir, "harbor.example.test", None);

    let found = https_issues(cert, key);

    let issue = one(&found, "https.certificate", Code::Certificate);
    assert!(
        issue.message.contains("subjectAltName"),
        "{}",
        issue.message
    );
    assert!(issue.message.contains("go 1.15"), "{}", issue.message);
    assert_eq!(found.len(), 1, "{found:#?}");
}

#[test]
fn certificate_with_a_subject_alt_name_passes() {
    let dir = temp_dir("with-san");
    let (cert, key) = self_signed(&dir, "harbor.example.test", Some("DNS:harbor.example.test"));

    let found = https_issues(cert, key);

    assert!(found.is_empty(), "{found:#?}");
}

// ---------------------------------------------------------------------------------------------
// 5. internal TLS pairs

const TLS_DIR: &str = "/etc/harbor/tls/internal";

/// upstream's gencert output
fn gencert() -> PathBuf {
    reference("v2.15.2").join("f0-gencert/hostfs/etc/harbor/tls/internal")
}

fn tls_text() -> String {
    base() + &format!("internal_tls:\n  enabled: true\n  dir: {TLS_DIR}\n")
}

/// The gencert directory as host files, with `swap` replacing files by other reference files.
fn tls_files(swap: &[(&str, PathBuf)]) -> HostFiles {
    let config = Config::from_yaml(&tls_text()).unwrap();
    let mut files = HostFiles::new();
    for p in config.host_paths(false) {
        let name = p.path.rsplit('/').next().unwrap().to_string();
        let source = swap
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| gencert().join(&name));
        match std::fs::read(&source) {
            Ok(contents) => files.insert(p.path, host_file(contents)),
            Err(_) => files.insert_missing(p.path, "no such file"),
        }
    }
    files
}

fn tls_messages(swap: &[(&str, PathBuf)], now: i64) -> Vec<String> {
    let found = issues_with(&tls_text(), &tls_files(swap), now);
    for issue in &found {
        assert_eq!(issue.path, "internal_tls.dir", "{found:#?}");
        assert_eq!(issue.code, Code::Certificate, "{found:#?}");
    }
    found.into_iter().map(|i| i.message).collect()
}

#[test]
fn gencerts_own_directory_passes() {
    assert_eq!(tls_messages(&[], NOW), Vec::<String>::new());
}

#[test]
fn internal_tls_key_of_another_component_is_reported() {
    let messages = tls_messages(&[("proxy.key", gencert().join("core.key"))], NOW);

    assert_eq!(messages, ["`proxy.key` does not belong to `proxy.crt`"]);
}

#[test]
fn internal_tls_certificate_for_another_name_is_reported() {
    let swap = [
        ("job_service.crt", gencert().join("portal.crt")),
        ("job_service.key", gencert().join("portal.key")),
    ];

    let messages = tls_messages(&swap, NOW);

    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(messages[0].starts_with("`job_service.crt` must name `jobservice`"));
    assert!(messages[0].ends_with("names portal"), "{}", messages[0]);
}

#[test]
fn expired_internal_tls_certificates_are_reported_by_file() {
    let later = NOW + 400 * 86_400;

    let messages = tls_messages(&[], later);

    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("`core.crt` expired at 2027-"))
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("`harbor_db.crt` expired at"))
    );
    assert_eq!(
        messages.len(),
        7,
        "the seven pairs without trivy: {messages:#?}"
    );
}

#[test]
fn internal_tls_certificate_of_another_ca_is_reported() {
    let other = reference("v2.15.2").join("b-https/host/etc/harbor/certs");
    let swap = [
        ("registry.crt", other.join("harbor.example.test.crt")),
        ("registry.key", other.join("harbor.example.test.key")),
    ];

    let messages = tls_messages(&swap, NOW);

    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("`registry.crt` was not issued by `harbor_internal_ca.crt`")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("`registry.crt` must name `registry`"))
    );
}

// ---------------------------------------------------------------------------------------------
// 6. persisted token pair

fn token_state(key_case: &str, cert_case: &str) -> State {
    let read = |case: &str, path: &str| {
        let file = reference("v2.15.2")
            .join(case)
            .join("data/secret")
            .join(path);
        Secret::new(std::fs::read_to_string(file).unwrap())
    };
    let mut state = State::new();
    state.set(
        harbor_prep::state::keys::TOKEN_KEY,
        read(key_case, "core/private_key.pem"),
    );
    state.set(
        harbor_prep::state::keys::TOKEN_CERT,
        read(cert_case, "registry/root.crt"),
    );
    state
}

#[test]
fn root_crt_of_another_key_is_reported() {
    let found = token_state("a-http-default", "b-https").check();

    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, "secret/registry/root.crt");
    assert_eq!(found[0].code, Code::Certificate);
    assert!(
        found[0].message.contains("remove root.crt"),
        "{}",
        found[0].message
    );
    assert!(
        !found[0].message.contains("remove private_key"),
        "{}",
        found[0].message
    );
}

#[test]
fn an_unreadable_token_key_is_reported() {
    let mut state = State::new();
    state.set(
        harbor_prep::state::keys::TOKEN_KEY,
        Secret::new("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
    );

    let found = state.check();

    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].path, "secret/core/private_key.pem");
    assert!(
        found[0].message.contains("not a readable RSA private key"),
        "{}",
        found[0].message
    );
    assert!(!found[0].message.contains("AAAA"), "{}", found[0].message);
}

#[test]
fn matching_token_pair_passes() {
    assert!(token_state("b-https", "b-https").check().is_empty());
}

#[test]
fn short_secret_key_keeps_its_message() {
    let mut state = State::new();
    state.set(harbor_prep::state::keys::SECRETKEY, Secret::new("short"));

    let found = state.check();

    assert_eq!(found.len(), 1);
    assert!(
        found[0]
            .message
            .starts_with("the existing secret key holds 5 bytes")
    );
}

#[test]
fn blank_or_broken_persisted_strings_are_refused_by_name() {
    use harbor_prep::state::keys;

    for (name, var) in [
        (keys::CORE_SECRET, "CORE_SECRET"),
        (keys::JOBSERVICE_SECRET, "JOBSERVICE_SECRET"),
        (keys::REGISTRY_PASSWORD, "REGISTRY_CREDENTIAL_PASSWORD"),
        (keys::CSRF_KEY, "CSRF_KEY"),
        (keys::ROBOT_PREFIX, "ROBOT_SCANNER_NAME_PREFIX"),
    ] {
        for value in ["", "robot$\nEVIL=1", "cr\rhere", "tab\there", "a\u{0}b"] {
            let mut state = State::new();
            state.set(name, Secret::new(value));

            let found = state.check();

            assert_eq!(found.len(), 1, "{name} = {value:?}: {found:#?}");
            assert_eq!(found[0].path, name);
            assert_eq!(found[0].code, Code::InvalidValue);
            assert!(found[0].message.contains(var), "{}", found[0].message);
            assert!(
                value.is_empty() || !found[0].message.contains(value),
                "{}",
                found[0].message
            );
        }

        // what a caller persisted may hold any printable character
        let mut state = State::new();
        state.set(name, Secret::new("AbCd 'Ef' \"$x\" #y 0123456789ABCD"));
        assert!(state.check().is_empty(), "{name}");
    }

    // core replaces a CSRF key of another length by a random one at every start
    let mut state = State::new();
    state.set(keys::CSRF_KEY, Secret::new("AbCdEf0123456789"));
    let found = state.check();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].message.contains("not 32 bytes"),
        "{}",
        found[0].message
    );
}

#[test]
fn unknown_state_names_are_kept_and_warned_about() {
    let text = base();
    let mut state = State::new();
    state.set("core_secrett", Secret::new("AbCdEf0123456789"));

    let bundle = support::render_text(&text, false, &state).unwrap();

    assert!(
        bundle
            .warnings
            .iter()
            .any(|w| w.contains("`core_secrett`") && !w.contains("AbCdEf")),
        "{:#?}",
        bundle.warnings
    );
    assert!(bundle.state.get("core_secrett").is_some());
    assert_ne!(
        bundle.state.get("core_secret").map(Secret::expose),
        Some("AbCdEf0123456789")
    );
}

// ---------------------------------------------------------------------------------------------
// 7. external_url

fn url_issues(url: &str) -> Vec<Issue> {
    let text = with(
        "data_volume: /data\n",
        &format!("data_volume: /data\nexternal_url: \"{url}\"\n"),
    );
    issues(&text)
}

fn url_problem(url: &str) -> String {
    let found = url_issues(url);
    let at_url = at(&found, "external_url");
    assert_eq!(at_url.len(), 1, "{url}: {found:#?}");
    assert_eq!(at_url[0].code, Code::InvalidValue);
    at_url[0].message.clone()
}

#[test]
fn external_url_scheme_is_case_insensitive() {
    let text = with(
        "data_volume: /data\n",
        "data_volume: /data\nexternal_url: HTTPS://registry.example.com\n",
    );

    assert!(issues(&text).is_empty(), "{:#?}", issues(&text));
    let config = Config::from_yaml(&text).unwrap();
    assert_eq!(
        config.external_url.as_deref(),
        Some("https://registry.example.com")
    );
}

#[test]
fn external_url_with_credentials_is_rejected_without_echoing_them() {
    let message = url_problem("https://admin:s3cr3t@registry.example.com/x?y");

    assert!(message.contains("user name or password"), "{message}");
    assert!(
        !message.contains("s3cr3t") && !message.contains("admin"),
        "{message}"
    );
}

#[test]
fn external_url_hosts_follow_the_hostname_rules() {
    let cases = [
        ("https://2001:db8::1", "in brackets"),
        ("https://[2001:db8::zz]", "not a valid IPv6 address"),
        ("https://b\u{fc}cher.example", "punycode"),
        ("https://reg_istry.example.com", "not a valid DNS name"),
        (
            "https://1.2.3.256",
            "looks like an IP address but is not one",
        ),
        ("https://registry.example.com:0", "1 to 65535"),
        ("https://registry.example.com:65536", "1 to 65535"),
        ("https://registry.example.com:", "1 to 65535"),
        ("https://registry.example.com:x", "1 to 65535"),
        ("https://", "no host"),
    ];
    for (url, wanted) in cases {
        let message = url_problem(url);
        assert!(message.contains(wanted), "{url}: {message}");
    }
}

#[test]
fn external_url_accepts_ip_literals_and_ports() {
    for url in [
        "https://[2001:db8::1]:8443",
        "http://192.0.2.10:8080",
        "https://registry.example.com/",
        "https://registry.example.com:65535",
    ] {
        assert!(at(&url_issues(url), "external_url").is_empty(), "{url}");
    }
}

#[test]
fn external_url_query_and_fragment_are_a_path_problem() {
    for url in [
        "https://registry.example.com?x=1",
        "https://registry.example.com#frag",
        "https://registry.example.com/harbor",
    ] {
        let message = url_problem(url);
        assert!(
            message.contains("must not have a path, query or fragment"),
            "{url}: {message}"
        );
        assert!(!message.contains("no valid host"), "{url}: {message}");
    }
}

// ---------------------------------------------------------------------------------------------
// 8. hostname and the syslog host

fn hostname_problem(host: &str) -> Option<String> {
    let found = issues(&harbor_prep::default_config(host));
    let at_host = at(&found, "hostname");
    assert!(at_host.len() <= 1, "{host}: {found:#?}");
    at_host.first().map(|i| {
        assert_eq!(i.code, Code::InvalidValue, "{host}");
        i.message.clone()
    })
}

#[test]
fn loopback_hostnames_are_rejected() {
    for host in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
        let message = hostname_problem(host).unwrap_or_default();
        assert!(message.contains("loopback"), "{host}: {message}");
    }
}

#[test]
fn hostname_problems_have_their_own_reasons() {
    let long = format!("{}.example.test", "a".repeat(64));
    let cases = [
        ("[::1]", "write the IPv6 address without brackets"),
        ("[2001:db8::1]", "write the IPv6 address without brackets"),
        ("fe80::1%eth0", "IPv6 zone"),
        ("999", "looks like an IP address but is not one"),
        ("1.2.3.256", "looks like an IP address but is not one"),
        ("0x7f.1", "looks like an IP address but is not one"),
        ("harbor.0x1f", "looks like an IP address but is not one"),
        (long.as_str(), "at most 63"),
        ("2001:db8::zz", "not a valid IPv6 address"),
        ("harbor.example.test:8443", "without a port"),
        ("h\u{e4}rbor.example.test", "punycode"),
    ];
    for (host, wanted) in cases {
        let message = hostname_problem(host).unwrap_or_default();
        assert!(message.contains(wanted), "{host}: {message}");
    }
}

#[test]
fn ordinary_hostnames_still_pass() {
    for host in [
        "harbor.example.test",
        "localhost",
        "192.0.2.10",
        "2001:db8::1",
        "0x7f.example.test",
        "harbor.example.test.",
    ] {
        assert_eq!(hostname_problem(host), None, "{host}");
    }
}

fn syslog_issues(host: &str) -> Vec<Issue> {
    let text = with(
        "log:\n  level: info\n",
        &format!(
            "log:\n  level: info\n  external_endpoint:\n    protocol: tcp\n    host: {host}\n    \
             port: 5140\n"
        ),
    );
    at(&issues(&text), "log.external_endpoint.host")
        .into_iter()
        .cloned()
        .collect()
}

#[test]
fn syslog_host_follows_the_dns_rules() {
    let cases = [
        (
            "syslog.example.test:514",
            Code::InvalidValue,
            "no port here, use log.external_endpoint.port",
        ),
        ("\"\"", Code::Missing, "empty"),
        ("\"[2001:db8::1]\"", Code::InvalidValue, "without brackets"),
        ("\"999\"", Code::InvalidValue, "looks like an IP address"),
        (
            "sys_log.example.test",
            Code::InvalidValue,
            "not a valid DNS name",
        ),
    ];
    for (host, code, wanted) in cases {
        let found = syslog_issues(host);
        assert_eq!(found.len(), 1, "{host}: {found:#?}");
        assert_eq!(found[0].code, code, "{host}");
        assert!(
            found[0].message.contains(wanted),
            "{host}: {}",
            found[0].message
        );
    }
    for host in ["syslog.example.test", "192.0.2.7", "\"2001:db8::7\""] {
        assert!(syslog_issues(host).is_empty(), "{host}");
    }
}

// ---------------------------------------------------------------------------------------------
// 9. paths, durations, proxies and tags

#[test]
fn data_volume_root_is_rejected() {
    let found = issues(&with("data_volume: /data", "data_volume: /"));

    let issue = one(&found, "data_volume", Code::InvalidValue);
    assert!(
        issue.message.contains("whole host filesystem"),
        "{}",
        issue.message
    );
}

#[test]
fn rootdirectory_with_dot_dot_is_rejected() {
    let text = base() + "storage_service:\n  filesystem:\n    rootdirectory: /storage/../etc\n";

    let found = issues(&text);

    let issue = one(
        &found,
        "storage_service.filesystem.rootdirectory",
        Code::InvalidValue,
    );
    assert!(issue.message.contains("`..`"), "{}", issue.message);
    assert!(issue.mark.is_some());
}

fn lifetime_issues(value: &str) -> Vec<Issue> {
    let text = with(
        "  conn_max_lifetime: 5m",
        &format!("  conn_max_lifetime: {value}"),
    );
    at(&issues(&text), "database.conn_max_lifetime")
        .into_iter()
        .cloned()
        .collect()
}

#[test]
fn connection_lifetimes_are_go_durations() {
    for good in [
        "0", "5m", "1h30m", "300ms", "-1.5h", "+2s", ".5s", "1\u{b5}s", "2us", "3ns",
    ] {
        assert!(lifetime_issues(good).is_empty(), "{good}");
    }
    for bad in ["5", "5 m", "1d", "\"\"", "m", "1.2.3s", "5m-1s", "abc"] {
        let found = lifetime_issues(bad);
        assert_eq!(found.len(), 1, "{bad}: {found:#?}");
        assert_eq!(found[0].code, Code::InvalidValue);
        assert!(
            found[0].message.contains("not a duration"),
            "{}",
            found[0].message
        );
    }
}

#[test]
fn external_database_durations_are_checked_too() {
    let text = base()
        + "external_database:\n  harbor:\n    host: pg.example.test\n    port: 5432\n    \
           db_name: registry\n    username: harbor\n    password: pw\n    ssl_mode: disable\n    \
           conn_max_idle_time: 10x\n";

    let found = issues(&text);

    let issue = one(
        &found,
        "external_database.harbor.conn_max_idle_time",
        Code::InvalidValue,
    );
    assert!(
        issue.message.contains("`10x` is not a duration"),
        "{}",
        issue.message
    );
}

#[test]
fn proxies_must_be_http_urls_and_are_never_echoed() {
    let text = with(
        "  http_proxy:\n  https_proxy:\n",
        "  http_proxy: proxy.example.com:3128\n  https_proxy: socks5://u:t0pSecret@proxy.example.com\n",
    );

    let found = issues(&text);

    let http = one(&found, "proxy.http_proxy", Code::InvalidValue);
    let https = one(&found, "proxy.https_proxy", Code::InvalidValue);
    assert!(
        http.message.contains("http:// or https://"),
        "{}",
        http.message
    );
    assert!(!https.message.contains("t0pSecret"), "{}", https.message);
}

#[test]
fn proxies_with_credentials_are_fine() {
    let text = with(
        "  http_proxy:\n  https_proxy:\n",
        "  http_proxy: http://proxy.example.com:3128\n  https_proxy: HTTPS://u:pw@proxy.example.com:3129\n",
    );

    let found = issues(&text);

    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn str_tag_counts_as_quoted_like_a_quoted_port() {
    let tagged = issues(&with("  port: 80", "  port: !!str 80"));
    let quoted = issues(&with("  port: 80", "  port: \"80\""));

    let tagged = one(&tagged, "http.port", Code::WrongType);
    let quoted = one(&quoted, "http.port", Code::WrongType);
    assert_eq!(tagged.message, quoted.message);
}

#[test]
fn int_tag_reads_the_text_as_a_number() {
    let config = Config::from_yaml(&with("  port: 80", "  port: !!int \"8080\"")).unwrap();

    assert_eq!(config.http.port, 8080);
}

#[test]
fn empty_passwords_that_lock_everyone_out_are_refused() {
    let found = issues(&with(
        "harbor_admin_password: Harbor12345",
        "harbor_admin_password: \"\"",
    ));
    let issue = one(&found, "harbor_admin_password", Code::InvalidValue);
    assert!(issue.message.contains("empty"), "{}", issue.message);
    assert_eq!(issue.mark.map(|m| m.line), Some(11));

    let found = issues(&with("  password: root123", "  password: \"\""));
    let issue = one(&found, "database.password", Code::InvalidValue);
    assert!(
        issue.message.contains("needs a password"),
        "{}",
        issue.message
    );

    // an external database may take other kinds of authentication
    let text = with("  password: root123", "  password: \"\"")
        + "external_database:\n  harbor:\n    host: pg.example.test\n    port: 5432\n    \
           db_name: registry\n    username: harbor\n    password: \"\"\n    ssl_mode: disable\n";
    assert!(at(&issues(&text), "database.password").is_empty());
}

#[test]
fn values_too_long_for_an_environment_variable_are_refused() {
    let long = "x".repeat(200 * 1024);
    let found = issues(&with(
        "harbor_admin_password: Harbor12345",
        &format!("harbor_admin_password: {long}"),
    ));
    let issue = one(&found, "harbor_admin_password", Code::OutOfRange);
    assert!(issue.message.contains("204800 bytes"), "{}", issue.message);
    assert!(!issue.message.contains("xxxx"));

    // as long as an environment variable may be is fine
    let fits = "x".repeat(100 * 1024);
    let found = issues(&with(
        "harbor_admin_password: Harbor12345",
        &format!("harbor_admin_password: {fits}"),
    ));
    assert!(at(&found, "harbor_admin_password").is_empty(), "{found:#?}");
}
