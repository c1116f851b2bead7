//! Migration of older harbor.yml files: values and comments are kept, the result checks clean.

mod support;

use std::fs;

use harbor_prep::migrate::{Migration, migrate, unified_diff};
use harbor_prep::yaml::{self, Kind, Node};
use harbor_prep::{Code, Config, HostFiles, Release};

/// A password YAML only keeps when it is quoted: `: ` and ` #` end a plain scalar.
const PASSWORD_LINE: &str = r#"harbor_admin_password: "p@ss: #w'\"rd""#;
const PASSWORD: &str = r#"p@ss: #w'"rd"#;

fn legacy(name: &str) -> String {
    let path = support::shared().join("reference/legacy").join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn latest() -> &'static Release {
    Release::find("2.15").expect("2.15 is a release")
}

/// What a user does to a stock template before using it: a real hostname, plain http (the
/// template's certificate paths are placeholders), and a password of their own.
fn as_user_would(template: &str) -> String {
    let mut out = String::new();
    let mut in_https = false;
    for line in template.split_inclusive('\n') {
        if line.starts_with("https:") {
            in_https = true;
            continue;
        }
        if in_https && line.starts_with("  ") {
            continue;
        }
        in_https = false;
        if line.starts_with("hostname: reg.mydomain.com") {
            out.push_str("hostname: harbor.example.test\n");
        } else if line.starts_with("harbor_admin_password: Harbor12345") {
            out.push_str(PASSWORD_LINE);
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    assert!(!out.contains("\nhttps:"), "the https block is gone");
    out
}

/// Every scalar of a document with its dotted path; list items are `path[i]`.
fn leaves(node: &Node, path: &str, out: &mut Vec<(String, String)>) {
    match &node.kind {
        Kind::Scalar(s, _) => out.push((path.to_string(), s.clone())),
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                leaves(item, &format!("{path}[{i}]"), out);
            }
        }
        Kind::Map(entries) => {
            for (key, value) in entries {
                let p = if path.is_empty() {
                    key.name.clone()
                } else {
                    format!("{path}.{}", key.name)
                };
                leaves(value, &p, out);
            }
        }
    }
}

fn all_leaves(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    leaves(&yaml::parse(text).expect("valid YAML"), "", &mut out);
    out
}

/// The comment lines of a text that the migration did not write itself.
fn user_comments(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('#'))
        .filter(|l| !l.trim_start().starts_with("# since "))
        .collect()
}

/// Applies a unified diff to `old`, checking every context and removed line on the way.
fn patch(old: &str, diff: &str) -> String {
    let old: Vec<&str> = old.split_inclusive('\n').collect();
    let mut out = String::new();
    let mut at = 0;
    let mut lines = diff.split_inclusive('\n').skip(2).peekable();
    while let Some(header) = lines.next() {
        let range = header
            .strip_prefix("@@ -")
            .and_then(|r| r.split(' ').next())
            .unwrap_or_else(|| panic!("bad hunk header {header:?}"));
        let (start, len) = range.split_once(',').unwrap_or((range, "1"));
        let start: usize = start.parse().unwrap();
        let first = if len == "0" { start } else { start - 1 };
        for line in &old[at..first] {
            out.push_str(line);
        }
        at = first;
        let mut previous = "";
        while let Some(line) = lines.next_if(|l| !l.starts_with("@@")) {
            let body = &line[1..];
            let sign = &line[..1];
            match sign {
                " " | "-" => {
                    let want = body.strip_suffix('\n').unwrap_or(body);
                    assert_eq!(old[at].strip_suffix('\n').unwrap_or(old[at]), want);
                    if line.starts_with(' ') {
                        out.push_str(old[at]);
                    }
                    at += 1;
                }
                "+" => out.push_str(body),
                "\\" => {
                    // the line before had no line break; it matters for what is written
                    if previous != "-" && out.ends_with('\n') {
                        out.pop();
                    }
                }
                other => panic!("bad diff line prefix {other:?}"),
            }
            previous = sign;
        }
    }
    for line in &old[at..] {
        out.push_str(line);
    }
    out
}

/// The migrated text is a clean harbor.yml of the target release.
fn assert_checks_clean(m: &Migration, release: &Release) {
    let doc = yaml::parse(&m.text).expect("the migrated text parses");
    assert_eq!(
        doc.get("_version").map(|n| &n.kind),
        Some(&Kind::Scalar(release.schema.into(), yaml::Style::Plain))
    );
    assert!(
        m.text
            .contains(&format!("\n_version: {}\n", release.schema))
    );
    if let Err(issues) = Config::from_yaml(&m.text) {
        panic!("migrated text does not read: {issues:#?}\n{}", m.text);
    }
    let issues = harbor_prep::check(&m.text, &HostFiles::new(), support::NOW, true, release);
    assert!(issues.is_empty(), "{issues:#?}\n{}", m.text);
}

#[test]
fn harbor_1_10_reaches_2_15_with_values_and_comments() {
    let old = as_user_would(&legacy("harbor-1.10.0.yml"));
    let m = migrate(&old, latest()).expect("migrates");

    assert_eq!((m.from.as_str(), m.to.as_str()), ("1.10.0", "2.15.0"));
    assert_eq!(m.steps.len(), 16);
    assert!(m.steps[0].starts_with("1.10.0 -> 2.0.0: added trivy"));
    assert_checks_clean(&m, latest());

    // comments: all of them, in order, but the ones inside the blocks that went away
    let gone = [
        "# Clair configuration",
        "  # The interval of clair updaters, the unit is hour, set to 0 to disable the updaters.",
        "  # Change the value of absolute_url to enabled can enable absolute url in chart",
    ];
    let kept: Vec<&str> = user_comments(&old)
        .into_iter()
        .filter(|c| !gone.contains(c))
        .collect();
    assert_eq!(user_comments(&m.text), kept);
    for line in [
        "# DO NOT use localhost or 127.0.0.1, because Harbor needs to be accessed by external clients.",
        "#This attribute is for migrator to detect the version of the .cfg file, DO NOT MODIFY!",
        "  # Uncomment following lines to enable external syslog endpoint.",
        "#     host: notary_server_db_host",
    ] {
        assert!(m.text.lines().any(|l| l == line), "lost comment {line:?}");
    }

    // values: every key in both has the same value, but the pool sizes upstream also raises
    let new = all_leaves(&m.text);
    let mut common = 0;
    for (path, value) in all_leaves(&old) {
        let now = new
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, v)| v.as_str());
        match path.as_str() {
            "_version" => assert_eq!(now, Some("2.15.0")),
            "database.max_idle_conns" => assert_eq!(now, Some("100")),
            "database.max_open_conns" => assert_eq!(now, Some("900")),
            p if p.starts_with("clair.") || p.starts_with("chart.") => assert_eq!(now, None),
            "proxy.components[2]" => assert_eq!((value.as_str(), now), ("clair", None)),
            _ => {
                assert_eq!(now, Some(value.as_str()), "value of {path}");
                common += 1;
            }
        }
    }
    assert!(common >= 15, "only {common} values compared");

    // the password is the same line and the same string
    assert!(m.text.lines().any(|l| l == PASSWORD_LINE));
    let config = Config::from_yaml(&m.text).expect("reads");
    assert_eq!(config.harbor_admin_password.expose(), PASSWORD);
    assert!(
        config.upload_purging.enabled,
        "upstream's migration enables purging"
    );

    let removed: Vec<&str> = m
        .removed
        .iter()
        .map(|r| r.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(removed, ["clair", "proxy.components", "chart"]);

    let diff = unified_diff(&old, &m.text, "harbor.yml", "harbor.yml.new");
    assert!(diff.starts_with("--- harbor.yml\n+++ harbor.yml.new\n@@ "));
    assert!(diff.contains("\n-_version: 1.10.0\n+_version: 2.15.0\n"));
    assert_eq!(patch(&old, &diff), m.text);
}

#[test]
fn harbor_2_10_template_reaches_2_15_touching_only_new_keys() {
    let old = as_user_would(&legacy("harbor-2.10.0.yml.tmpl"));
    let m = migrate(&old, latest()).expect("migrates");

    assert_eq!(m.from, "2.10.0");
    assert_eq!(m.steps.len(), 5);
    assert!(m.removed.is_empty(), "{:?}", m.removed);
    assert_checks_clean(&m, latest());

    assert_eq!(user_comments(&m.text), user_comments(&old));
    let new = all_leaves(&m.text);
    for (path, value) in all_leaves(&old)
        .into_iter()
        .filter(|(p, _)| p != "_version")
    {
        let now = new
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, v)| v.as_str());
        assert_eq!(now, Some(value.as_str()), "value of {path}");
    }
    assert!(new.contains(&(
        "trivy.db_repository".into(),
        "ghcr.io/aquasecurity/trivy-db".into()
    )));
    assert!(new.contains(&("jobservice.max_job_duration_hours".into(), "24".into())));

    // only lines were added, but the one `_version` line
    let diff = unified_diff(&old, &m.text, "a", "b");
    let removed: Vec<&str> = diff
        .lines()
        .filter(|l| l.starts_with('-') && !l.starts_with("---"))
        .collect();
    assert_eq!(removed, ["-_version: 2.10.0"]);
    assert_eq!(patch(&old, &diff), m.text);
}

#[test]
fn the_1_9_schema_is_the_oldest_accepted() {
    let old =
        as_user_would(&legacy("harbor-1.10.0.yml")).replace("_version: 1.10.0", "_version: 1.9.0");
    let m = migrate(&old, latest()).expect("migrates");
    assert_eq!(m.from, "1.9.0");
    assert_eq!(m.steps.len(), 17);
    assert_checks_clean(&m, latest());

    let older = old.replace("_version: 1.9.0", "_version: 1.8.0");
    let issues = migrate(&older, latest()).expect_err("1.8.0 is too old");
    assert_eq!(issues.len(), 1);
    assert_eq!(
        (issues[0].path.as_str(), issues[0].code),
        ("_version", Code::SchemaVersion)
    );
    assert!(
        issues[0].message.contains("1.9.0, 1.10.0, 2.0.0"),
        "{}",
        issues[0].message
    );
    assert!(
        issues[0].message.contains("`_version: 1.8.0`"),
        "{}",
        issues[0].message
    );
}

/// Case 15: a release number in `_version`, merged onto the 2.15 template's base.
#[test]
fn a_release_number_in_version_reads_as_its_schema() {
    let case = fs::read_to_string(support::shared().join("cases/15-migrate-version-mismatch.yml"))
        .expect("case 15");
    let body = yaml::parse(&case).expect("case parses");
    let Some(Kind::Scalar(version, _)) = body.get("_version").map(|n| &n.kind) else {
        panic!("case 15 sets `_version`");
    };
    let base = as_user_would(&legacy("harbor-2.15.2.yml.tmpl"));
    let old = base.replace("\n_version: 2.15.0\n", &format!("\n_version: {version}\n"));
    assert_ne!(old, base);
    let before = harbor_prep::check(&old, &HostFiles::new(), support::NOW, true, latest());
    assert!(
        before.iter().any(|i| i.code == Code::SchemaVersion),
        "{before:#?}"
    );

    let m = migrate(&old, latest()).expect("migrates");
    assert_eq!(m.from, "2.11.0");
    assert_eq!(m.steps.len(), 5);
    assert!(
        m.steps[0].starts_with(&format!("{version} -> 2.11.0: ")),
        "{:?}",
        m.steps
    );
    assert_checks_clean(&m, latest());
    // the 2.15 template has every key already: only `_version` changed back
    assert_eq!(m.text, base);
}

#[test]
fn a_current_file_is_left_alone() {
    let text = as_user_would(&legacy("harbor-2.15.2.yml.tmpl"));
    let m = migrate(&text, latest()).expect("migrates");
    assert_eq!((m.from.as_str(), m.to.as_str()), ("2.15.0", "2.15.0"));
    assert_eq!(m.text, text);
    assert!(m.steps.is_empty() && m.removed.is_empty());
    assert_eq!(unified_diff(&text, &m.text, "a", "b"), "");

    let default = harbor_prep::default_config("harbor.example.test");
    assert_eq!(migrate(&default, latest()).map(|m| m.text), Ok(default));
}

#[test]
fn going_back_is_refused() {
    let text = as_user_would(&legacy("harbor-2.15.2.yml.tmpl"));
    let target = Release::find("2.13").expect("2.13 is a release");
    let issues = migrate(&text, target).expect_err("no downgrade");
    assert_eq!(issues[0].path, "_version");
    assert!(
        issues[0].message.contains("newer than the target `2.13.0`"),
        "{}",
        issues[0].message
    );

    let m = migrate(&as_user_would(&legacy("harbor-2.10.0.yml.tmpl")), target).expect("up to 2.13");
    assert_checks_clean(&m, target);
    assert!(
        !m.text.contains("db_repository:"),
        "2.15 keys stay out of a 2.13 file"
    );
}

#[test]
fn a_missing_or_unreadable_version_says_what_to_write() {
    let text = as_user_would(&legacy("harbor-2.10.0.yml.tmpl")).replace("_version: 2.10.0\n", "");
    let issues = migrate(&text, latest()).expect_err("no version");
    assert_eq!(issues.len(), 1);
    assert_eq!(
        (issues[0].path.as_str(), issues[0].code),
        ("_version", Code::Missing)
    );
    assert!(
        issues[0].message.contains("2.10.0, 2.11.0"),
        "{}",
        issues[0].message
    );

    for bad in [
        "_version: 3.0.0",
        "_version:",
        "_version: [2, 10]",
        "_version: two",
    ] {
        let issues =
            migrate(&format!("hostname: h.example.test\n{bad}\n"), latest()).expect_err(bad);
        assert_eq!(issues[0].path, "_version", "{bad}");
        assert!(
            issues[0].message.contains("1.9.0"),
            "{bad}: {}",
            issues[0].message
        );
    }

    let issues = migrate("a: [1\n", latest()).expect_err("not yaml");
    assert_eq!(issues[0].code, Code::Syntax);
}

/// Every rename, merge, move and removal on one file that has all of them.
#[test]
fn renamed_moved_and_removed_keys_keep_their_values() {
    let old = r#"hostname: harbor.example.test
harbor_admin_password: "p@ss: #w'\"rd"
https:
  port: 443
  certificate: /etc/harbor/certs/server.crt
  private_key: /etc/harbor/certs/server.key
internal_tls:
  enabled: false
  strong_ssl_ciphers: true # was set here before 2.10
database:
  password: 'root: #1'
  max_idle_conns: 20
  max_open_conns: 50
data_volume: /data
storage_service:
  filesystem:
    maxthreads: 100
  redirect:
    disabled: true  # keep redirects off
clair:
  updaters_interval: 12
jobservice:
  max_job_workers: 10
notification:
  webhook_job_max_retry: 10
chart:
  absolute_url: disabled
log:
  level: info
  local:
    rotate_count: 50
    rotate_size: 200M
    location: /var/log/harbor
_version: 1.10.0
external_database:
  harbor:
    host: db.example.test
    port: 5432
    db_name: registry
    username: harbor
    password: "db: #pw"
    ssl_mode: disable
    max_idle_conns: 2
    max_open_conns: 0
  clair:
    host: db.example.test
    port: 5432
    db_name: clair
    username: clair
    password: clairpw
    ssl_mode: disable
  notary_signer:
    host: db.example.test
    port: 5432
    db_name: notarysigner
    username: signer
    password: signerpw
    ssl_mode: disable
  notary_server:
    host: db.example.test
    port: 5432
    db_name: notaryserver
    username: server
    password: serverpw
    ssl_mode: disable
external_redis:
  host: redis.example.test
  port: 6380
  password: "r3d!s: #x"
  registry_db_index: 1
  jobservice_db_index: 2
  chartmuseum_db_index: 3
  clair_db_index: 4
proxy:
  http_proxy:
  https_proxy:
  no_proxy:
  components: [core, clair, jobservice]
"#;
    let m = migrate(old, latest()).expect("migrates");
    let config = Config::from_yaml(&m.text).unwrap_or_else(|i| panic!("{i:#?}\n{}", m.text));

    assert_eq!(config.harbor_admin_password.expose(), PASSWORD);
    assert_eq!(config.database.password.expose(), "root: #1");
    assert_eq!(
        (
            config.database.max_idle_conns,
            config.database.max_open_conns
        ),
        (20, 50)
    );
    assert!(config.storage.redirect_disable);
    assert!(
        m.text
            .contains("\n    disable: true  # keep redirects off\n")
    );
    assert!(config.https.as_ref().is_some_and(|h| h.strong_ssl_ciphers));
    assert!(
        m.text
            .contains("\n  strong_ssl_ciphers: true # was set here before 2.10\n")
    );
    assert_eq!(m.text.matches("strong_ssl_ciphers").count(), 1);

    let db = config
        .external_database
        .as_ref()
        .expect("external database");
    assert_eq!(
        (db.host.as_str(), db.password.expose()),
        ("db.example.test", "db: #pw")
    );
    for gone in [
        "clairpw",
        "signerpw",
        "serverpw",
        "chartmuseum_db_index",
        "clair_db_index",
    ] {
        assert!(!m.text.contains(gone), "{gone} is still there");
    }
    let redis = config.external_redis.as_ref().expect("external redis");
    assert_eq!(redis.host, "redis.example.test:6380");
    assert_eq!(redis.password.expose(), "r3d!s: #x");
    assert_eq!(
        (
            redis.indexes.trivy_db_index,
            redis.indexes.idle_timeout_seconds
        ),
        (5, 30)
    );
    assert_eq!(config.proxy.components, ["core", "jobservice"]);
    assert!(m.text.contains("\n  components: [core, jobservice]\n"));

    let mut removed: Vec<&str> = m
        .removed
        .iter()
        .map(|r| r.split(':').next().unwrap_or(""))
        .collect();
    removed.sort_unstable();
    assert_eq!(
        removed,
        [
            "chart",
            "clair",
            "external_database.clair",
            "external_database.notary_server",
            "external_database.notary_signer",
            "external_redis.chartmuseum_db_index",
            "external_redis.clair_db_index",
            "proxy.components",
        ]
    );
    let steps = m.steps.join("\n");
    for change in [
        "merged external_redis.port into external_redis.host",
        "renamed storage_service.redirect.disabled to disable",
        "moved internal_tls.strong_ssl_ciphers to https.strong_ssl_ciphers",
    ] {
        assert!(steps.contains(change), "{change}: {steps}");
    }

    // nothing is wrong with it but the certificate files this test does not provide
    let issues = harbor_prep::check(&m.text, &HostFiles::new(), support::NOW, true, latest());
    assert!(!issues.is_empty());
    assert!(
        issues.iter().all(|i| i.path.starts_with("https.")),
        "{issues:#?}"
    );
}

#[test]
fn upstream_raises_the_old_connection_pool_defaults() {
    let old = as_user_would(&legacy("harbor-1.10.0.yml"));
    let m = migrate(
        &old.replace("max_open_conns: 100", "max_open_conns: 500"),
        latest(),
    )
    .expect("migrates");
    let config = Config::from_yaml(&m.text).expect("reads");
    // 2.1.0 raises 100..=999 to 1000; 2.3.0 turns 50/1000 into 100/900
    assert_eq!(
        (
            config.database.max_idle_conns,
            config.database.max_open_conns
        ),
        (100, 900)
    );

    let m = migrate(
        &old.replace("max_idle_conns: 50", "max_idle_conns: 40"),
        latest(),
    )
    .expect("migrates");
    let config = Config::from_yaml(&m.text).expect("reads");
    assert_eq!(
        (
            config.database.max_idle_conns,
            config.database.max_open_conns
        ),
        (40, 1000)
    );
    assert!(
        m.steps[1].contains("max_open_conns from 100 to 1000"),
        "{}",
        m.steps[1]
    );
}

#[test]
fn a_flow_mapping_that_needs_a_key_is_refused_by_name() {
    let text = "hostname: h.example.test\ntrivy: {ignore_unfixed: false}\n_version: 2.14.0\n";
    let issues = migrate(text, latest()).expect_err("flow mapping");
    assert_eq!(
        (issues[0].path.as_str(), issues[0].code),
        ("trivy", Code::WrongType)
    );
    assert_eq!(issues[0].mark.map(|m| m.line), Some(2));
}

#[test]
fn windows_line_ends_stay_windows_line_ends() {
    let text = "hostname: h.example.test\r\ntrivy:\r\n  insecure: false\r\n_version: 2.14.0\r\n";
    let m = migrate(text, latest()).expect("migrates");
    assert!(
        m.text
            .contains("  db_repository: ghcr.io/aquasecurity/trivy-db\r\n")
    );
    assert!(m.text.contains("_version: 2.15.0\r\n"));
    assert!(!m.text.replace("\r\n", "").contains('\n'), "{:?}", m.text);
}

/// The 2.0.0 step writes `trivy` right where the keys it adds to `external_redis` go too.
#[test]
fn keys_added_to_a_block_stay_in_it_when_a_new_block_follows() {
    let text = "hostname: h.example.test\n_version: 1.10.0\nexternal_redis:\n  host: redis\n  \
                port: 6379\njobservice:\n  max_job_workers: 10\n";
    let m = migrate(text, latest()).expect("migrates");
    let doc = yaml::parse(&m.text).expect("parses");
    let keys = |block: &str| -> Vec<String> {
        let node = doc
            .get(block)
            .unwrap_or_else(|| panic!("{block} in {}", m.text));
        node.entries().iter().map(|(k, _)| k.name.clone()).collect()
    };
    assert_eq!(
        keys("external_redis"),
        ["host", "trivy_db_index", "idle_timeout_seconds"]
    );
    assert!(
        !keys("trivy").iter().any(|k| k.contains("db_index")),
        "{}",
        m.text
    );
    assert_eq!(keys("jobservice")[0], "max_job_workers");
}

#[test]
fn a_file_without_a_final_line_break_gets_one_break() {
    let text = "hostname: h.example.test\n_version: 2.10.0\ntrivy:\n  insecure: false";
    let m = migrate(text, latest()).expect("migrates");
    assert!(
        m.text.contains("\n  insecure: false\n  # since 2.0.0: "),
        "{}",
        m.text
    );
    assert!(m.text.contains("  expire_hours: 24\n"), "{}", m.text);
    assert!(!m.text.contains("\n\n"), "{:?}", m.text);
    let doc = yaml::parse(&m.text).expect("parses");
    let names = |node: &Node| -> Vec<String> {
        node.entries().iter().map(|(k, _)| k.name.clone()).collect()
    };
    let top = names(&doc);
    assert_eq!(
        doc.get("cache").map(names),
        Some(vec!["enabled".into(), "expire_hours".into()])
    );
    assert_eq!(doc.get("trivy").map(|t| t.entries().len()), Some(9));
    assert_eq!(
        top,
        ["hostname", "_version", "trivy", "upload_purging", "cache"]
    );
}

#[test]
fn a_diff_marks_a_missing_final_line_break() {
    let diff = unified_diff("a\nb", "a\nb\n", "old", "new");
    assert_eq!(
        diff,
        "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"
    );
    assert_eq!(patch("a\nb", &diff), "a\nb\n");

    let diff = unified_diff("x\n", "new\nx\n", "old", "new");
    assert_eq!(diff, "--- old\n+++ new\n@@ -1 +1,2 @@\n+new\n x\n");
    assert_eq!(patch("x\n", &diff), "new\nx\n");

    let diff = unified_diff("", "new\n", "old", "new");
    assert_eq!(diff, "--- old\n+++ new\n@@ -0,0 +1 @@\n+new\n");
    assert_eq!(patch("", &diff), "new\n");
}

#[test]
fn a_diff_keeps_far_apart_changes_in_separate_hunks() {
    let old: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    let new = old
        .replace("line 2\n", "line two\n")
        .replace("line 25\n", "");
    let diff = unified_diff(&old, &new, "a", "b");
    let headers: Vec<&str> = diff.lines().filter(|l| l.starts_with("@@")).collect();
    assert_eq!(headers, ["@@ -1,5 +1,5 @@", "@@ -22,7 +22,6 @@"]);
    assert_eq!(patch(&old, &diff), new);
}
