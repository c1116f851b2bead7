//! `harbor-deploy prepare`, `validate` and `gencert` as a user runs them: exit codes, messages,
//! what lands on disk, and what must never be touched.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A scratch installation: ROOT stands for `/`, OUT for the installer directory.
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
    out: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        let out = dir.path().join("out");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&out).unwrap();
        Scratch {
            _dir: dir,
            root,
            out,
        }
    }

    fn config(&self, text: &str) -> PathBuf {
        let path = self.out.join("harbor.yml");
        fs::write(&path, text).unwrap();
        path
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
            .args(args)
            .output()
            .expect("harbor-deploy runs")
    }

    fn prepare(&self, extra: &[&str]) -> Output {
        let out = self.out.to_str().unwrap();
        let root = self.root.to_str().unwrap();
        let config = self.out.join("harbor.yml");
        let mut args = vec!["prepare", "--out", out, "--root", root];
        if config.exists() {
            args.extend(["--config", config.to_str().unwrap()]);
        }
        args.extend(extra);
        self.run(&args)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }
}

/// Every file below `dir` with its bytes, sorted.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn default_yml() -> String {
    harbor_prep::default_config("harbor.example.test")
}

#[test]
fn default_config_prepares_without_a_config_file() {
    let s = Scratch::new();
    let o = s.prepare(&["--hostname", "harbor.example.test"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let env = fs::read_to_string(s.out.join("common/config/core/env")).unwrap();
    assert!(env.contains("EXT_ENDPOINT=http://harbor.example.test\n"));
    assert!(s.out.join("docker-compose.yml").is_file());
    assert!(s.data().join("secret/core/private_key.pem").is_file());
}

#[test]
fn second_prepare_writes_identical_bytes() {
    let s = Scratch::new();
    s.config(&default_yml());
    let first = s.prepare(&[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = (snapshot(&s.out), snapshot(&s.data()));

    let second = s.prepare(&[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(before, (snapshot(&s.out), snapshot(&s.data())));
    assert!(String::from_utf8_lossy(&second.stdout).contains("0 file(s) written"));
}

#[test]
fn seed_file_makes_two_installations_identical() {
    let seed = tempfile::NamedTempFile::new().unwrap();
    fs::write(seed.path(), [42u8; 32]).unwrap();
    let seed = seed.path().to_str().unwrap();

    let a = Scratch::new();
    let b = Scratch::new();
    for s in [&a, &b] {
        s.config(&default_yml());
        let o = s.prepare(&["--seed-file", seed, "--now", "2027-01-01T00:00:00Z"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // the list of what was created names each installation's own directories
    let strip = |s: &Scratch, files: Vec<(PathBuf, Vec<u8>)>| -> Vec<(PathBuf, Vec<u8>)> {
        files
            .into_iter()
            .map(|(p, b)| {
                (
                    p.strip_prefix(&s.root)
                        .or(p.strip_prefix(&s.out))
                        .unwrap()
                        .to_path_buf(),
                    b,
                )
            })
            .filter(|(p, _)| !p.ends_with("secret/keys/created"))
            .collect()
    };
    assert_eq!(strip(&a, snapshot(&a.out)), strip(&b, snapshot(&b.out)));
    assert_eq!(
        strip(&a, snapshot(&a.data())),
        strip(&b, snapshot(&b.data()))
    );
}

#[test]
fn invalid_config_exits_2_lists_every_problem_and_writes_nothing() {
    let s = Scratch::new();
    let text = default_yml()
        .replace(
            "hostname: harbor.example.test",
            "hostname: harbor.example.test:8080",
        )
        .replace("level: info", "level: loud")
        .replace("  port: 80\n", "  port: 0\n");
    let config = s.config(&text);
    let o = s.prepare(&[]);

    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let name = config.display().to_string();
    assert!(err.contains(&format!("{name}:5:1: hostname:")), "{err}");
    assert!(err.contains(": http.port:"), "{err}");
    assert!(err.contains(": log.level:"), "{err}");
    assert!(
        err.contains("3 problem(s) found; nothing was written"),
        "{err}"
    );
    assert!(!s.out.join("common").exists());
    assert!(!s.out.join("docker-compose.yml").exists());
    assert!(!s.data().exists());
}

#[test]
fn a_failed_run_leaves_the_previous_bundle_alone() {
    let s = Scratch::new();
    s.config(&default_yml());
    assert!(s.prepare(&[]).status.success());
    let before = (snapshot(&s.out), snapshot(&s.data()));

    s.config(&default_yml().replace("level: info", "level: INFO"));
    let o = s.prepare(&[]);
    assert_eq!(o.status.code(), Some(2));
    s.config(&default_yml());
    assert_eq!(before, (snapshot(&s.out), snapshot(&s.data())));
}

#[test]
fn existing_secrets_are_reused_not_rotated() {
    let s = Scratch::new();
    s.config(&default_yml());
    assert!(s.prepare(&[]).status.success());
    let key = fs::read(s.data().join("secret/keys/secretkey")).unwrap();
    let token = fs::read(s.data().join("secret/core/private_key.pem")).unwrap();

    // a new seed must not rotate what is on disk: pretend an older install wrote them
    fs::remove_file(s.data().join("secret/keys/seed")).unwrap();
    assert!(s.prepare(&[]).status.success());
    assert_eq!(
        fs::read(s.data().join("secret/keys/secretkey")).unwrap(),
        key
    );
    assert_eq!(
        fs::read(s.data().join("secret/core/private_key.pem")).unwrap(),
        token
    );

    let env = fs::read_to_string(s.out.join("common/config/core/env")).unwrap();
    let core_secret = env
        .lines()
        .find(|l| l.starts_with("CORE_SECRET="))
        .unwrap()
        .to_string();
    assert!(s.prepare(&[]).status.success());
    let env = fs::read_to_string(s.out.join("common/config/core/env")).unwrap();
    assert!(env.contains(&core_secret));
}

#[test]
fn a_broken_secret_key_stops_the_run_before_writing() {
    let s = Scratch::new();
    s.config(&default_yml());
    assert!(s.prepare(&[]).status.success());
    fs::write(s.data().join("secret/keys/secretkey"), "seventeen-bytes!!").unwrap();
    let env_before = fs::read(s.out.join("common/config/core/env")).unwrap();

    let o = s.prepare(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("secret/keys/secretkey"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read(s.out.join("common/config/core/env")).unwrap(),
        env_before
    );
}

#[test]
fn a_different_seed_file_is_refused_once_a_seed_exists() {
    let s = Scratch::new();
    s.config(&default_yml());
    assert!(s.prepare(&[]).status.success());
    let other = tempfile::NamedTempFile::new().unwrap();
    fs::write(other.path(), [1u8; 32]).unwrap();

    let o = s.prepare(&["--seed-file", other.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("would rotate every secret"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn secrets_are_not_readable_by_others_and_never_printed() {
    let s = Scratch::new();
    s.config(&default_yml().replace("Harbor12345", "S3cret-Admin-Pass"));
    let o = s.prepare(&[]);
    assert!(o.status.success());

    for rel in [
        "secret/keys/seed",
        "secret/keys/secretkey",
        "secret/core/private_key.pem",
    ] {
        let mode = fs::metadata(s.data().join(rel))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{rel} has mode {mode:o}");
    }
    for rel in [
        "common/config/core/env",
        "common/config/db/env",
        "common/config/registry/passwd",
    ] {
        let mode = fs::metadata(s.out.join(rel)).unwrap().permissions().mode();
        assert_eq!(mode & 0o007, 0, "{rel} has mode {mode:o}");
    }
    let printed = format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(&o));
    assert!(!printed.contains("S3cret-Admin-Pass"));
    assert!(!printed.contains("root123"));
}

#[test]
fn validate_reports_problems_and_accepts_good_files() {
    let s = Scratch::new();
    let good = s.config(&default_yml());
    let o = s.run(&["validate", "--config", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let bad = s.config(&default_yml().replace("data_volume: /data", "data_volum: /data"));
    let o = s.run(&["validate", "--config", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("data_volum: unknown key `data_volum`; did you mean `data_volume`?"),
        "{err}"
    );
    assert!(
        err.contains("data_volume: `data_volume` is required here"),
        "{err}"
    );
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let s = Scratch::new();
    let o = s.run(&["prepare", "--config", "/nonexistent/harbor.yml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the configuration /nonexistent/harbor.yml: no such file")
    );

    // a directory, a pipe (which would block) and a device (which never ends) are no files
    let fifo = s.root.join("fifo.yml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (path, why) in [
        (s.root.to_str().unwrap(), "a directory"),
        (fifo.to_str().unwrap(), "not a regular file"),
        ("/dev/zero", "not a regular file"),
    ] {
        let o = s.run(&["validate", "--config", path]);
        assert_eq!(o.status.code(), Some(2), "{path}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{path}: {}", stderr(&o));
    }

    // nor are they certificates
    let text = harbor_prep::default_config("harbor.example.test").replace(
        "http:\n  port: 80\n",
        "http:\n  port: 80\nhttps:\n  port: 443\n  certificate: /dev/zero\n  private_key: /dev/zero\n",
    );
    assert!(text.contains("/dev/zero"));
    std::fs::write(s.root.join("harbor.yml"), text).unwrap();
    let o = s.run(&[
        "validate",
        "--config",
        s.root.join("harbor.yml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
}

#[test]
fn gencert_writes_a_complete_set_and_leaves_existing_files_alone() {
    let s = Scratch::new();
    let root = s.root.to_str().unwrap();
    let o = s.run(&["gencert", "-p", "/etc/harbor/tls/internal", "--root", root]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = s.root.join("etc/harbor/tls/internal");
    let before = snapshot(&dir);
    assert!(
        before
            .iter()
            .any(|(p, _)| p.ends_with("harbor_internal_ca.crt"))
    );
    assert!(before.iter().any(|(p, _)| p.ends_with("harbor_db.key")));
    let key_mode = fs::metadata(dir.join("core.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(key_mode & 0o777, 0o600);

    let again = s.run(&["gencert", "-p", "/etc/harbor/tls/internal", "--root", root]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"));
    assert_eq!(before, snapshot(&dir));

    // and prepare accepts the set for internal TLS
    let text = default_yml().replace(
        "data_volume: /data",
        "data_volume: /data\ninternal_tls:\n  enabled: true\n  dir: /etc/harbor/tls/internal",
    );
    s.config(&text);
    let o = s.prepare(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s.data().join("secret/tls/core.key").is_file());
}

#[test]
fn gencert_with_a_seed_is_reproducible() {
    let seed = tempfile::NamedTempFile::new().unwrap();
    fs::write(seed.path(), [9u8; 32]).unwrap();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let s = Scratch::new();
            let o = s.run(&[
                "gencert",
                "-p",
                "/tls",
                "--root",
                s.root.to_str().unwrap(),
                "--seed-file",
                seed.path().to_str().unwrap(),
                "--now",
                "2027-01-01T00:00:00Z",
            ]);
            assert!(o.status.success(), "{}", stderr(&o));
            snapshot(&s.root.join("tls"))
                .into_iter()
                .map(|(p, b)| (p.file_name().unwrap().to_owned(), b))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(runs[0], runs[1]);
}

#[test]
fn rendered_compose_file_is_read_by_real_docker_compose() {
    let s = Scratch::new();
    s.config(&default_yml().replace("Harbor12345", "\"Adm1n $HOME #x 'q' \\\"dq\\\" ü\""));
    let o = s.prepare(&["--with-trivy"]);
    assert!(o.status.success(), "{}", stderr(&o));

    // docker-compose v1 needs no engine for `config`: it reads every env_file and prints the
    // environment each container would get
    let o = Command::new("docker-compose")
        .args(["-f", "docker-compose.yml", "-p", "harbortest", "config"])
        .current_dir(&s.out)
        .output()
        .expect("docker-compose (Debian package) is installed; scripts/deps.sh installs it");
    assert!(o.status.success(), "{}", stderr(&o));
    let config = String::from_utf8_lossy(&o.stdout);
    let parsed: serde_json::Value = serde_saphyr::from_str(&config).expect("compose output parses");
    let env = &parsed["services"]["core"]["environment"];
    // docker-compose v1 prints `$` doubled in `config` output
    assert_eq!(
        env["HARBOR_ADMIN_PASSWORD"]
            .as_str()
            .map(|s| s.replace("$$", "$")),
        Some("Adm1n $HOME #x 'q' \"dq\" ü".to_string())
    );
    assert_eq!(env["POSTGRESQL_PASSWORD"], "root123");
    for service in [
        "log",
        "registry",
        "registryctl",
        "postgresql",
        "core",
        "portal",
        "jobservice",
        "redis",
        "proxy",
        "trivy-adapter",
    ] {
        assert!(
            parsed["services"][service].is_object(),
            "service {service} missing"
        );
    }
}

#[test]
fn environment_alone_configures_the_same_bundle_as_a_file() {
    let seed = tempfile::NamedTempFile::new().unwrap();
    fs::write(seed.path(), [5u8; 32]).unwrap();
    let common = [
        "--seed-file",
        seed.path().to_str().unwrap(),
        "--now",
        "2027-01-01T00:00:00Z",
    ];

    let by_file = Scratch::new();
    by_file.config(
        &default_yml()
            .replace("password: root123", "password: \"Db pass #7 $x\"")
            .replace("max_job_workers: 10", "max_job_workers: 4"),
    );
    assert!(by_file.prepare(&common).status.success());

    let by_env = Scratch::new();
    let o = Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
        .args(["prepare", "--env", "--out", by_env.out.to_str().unwrap()])
        .args(["--root", by_env.root.to_str().unwrap()])
        .args(common)
        .env("HARBOR__HOSTNAME", "harbor.example.test")
        .env("HARBOR__DATABASE__PASSWORD", "Db pass #7 $x")
        .env("MAX_JOB_WORKERS", "4")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let rel = |s: &Scratch, dir: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        snapshot(dir)
            .into_iter()
            .map(|(p, b)| {
                (
                    p.strip_prefix(&s.root)
                        .or(p.strip_prefix(&s.out))
                        .unwrap()
                        .to_path_buf(),
                    b,
                )
            })
            .filter(|(p, _)| !p.ends_with("harbor.yml"))
            // the list of what was created names each installation's own directories
            .filter(|(p, _)| !p.ends_with("secret/keys/created"))
            .collect()
    };
    assert_eq!(rel(&by_file, &by_file.out), rel(&by_env, &by_env.out));
    assert_eq!(rel(&by_file, &by_file.data()), rel(&by_env, &by_env.data()));
}

#[test]
fn environment_errors_name_the_variable() {
    let s = Scratch::new();
    let o = Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
        .args(["prepare", "--env", "--hostname", "h.example.test"])
        .args([
            "--out",
            s.out.to_str().unwrap(),
            "--root",
            s.root.to_str().unwrap(),
        ])
        .env("HARBOR__HTTP__PORT", "abc")
        .env("AUTH_MODE", "ldap_auth")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("HARBOR__HTTP__PORT"), "{err}");
    assert!(err.contains("AUTH_MODE"), "{err}");
    assert!(!s.out.join("common").exists());
}

#[test]
fn legacy_cfg_prepares_and_reports_what_has_no_home() {
    let s = Scratch::new();
    let cfg = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/reference/legacy/harbor-1.7.6.cfg"),
    )
    .unwrap()
    .replace(
        "hostname = reg.mydomain.com",
        "hostname = harbor.example.test",
    );
    let path = s.out.join("harbor.cfg");
    fs::write(&path, cfg).unwrap();
    let o = s.run(&[
        "prepare",
        "--config",
        path.to_str().unwrap(),
        "--out",
        s.out.to_str().unwrap(),
        "--root",
        s.root.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("not carried over"), "{}", stderr(&o));
    let env = fs::read_to_string(s.out.join("common/config/core/env")).unwrap();
    assert!(env.contains("EXT_ENDPOINT=http://harbor.example.test\n"));
}

#[test]
fn migrate_prints_a_diff_keeps_comments_and_never_overwrites_unasked() {
    let s = Scratch::new();
    let old = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/reference/legacy/harbor-1.10.0.yml"),
    )
    .unwrap()
    .replace(
        "hostname: reg.mydomain.com",
        "hostname: harbor.example.test",
    )
    .replace("password: root123", "password: \"p@ss: #w'rd\"");
    let input = s.out.join("harbor.yml");
    fs::write(&input, &old).unwrap();
    let new = s.out.join("harbor.new.yml");

    let o = s.run(&[
        "migrate",
        "--config",
        input.to_str().unwrap(),
        "--out",
        new.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let diff = String::from_utf8_lossy(&o.stdout);
    assert!(
        diff.contains("+_version: 2.15.0") || diff.contains("+_version: \"2.15.0\""),
        "{diff}"
    );
    let migrated = fs::read_to_string(&new).unwrap();
    assert!(migrated.contains("password: \"p@ss: #w'rd\""));
    assert!(
        migrated.contains("# The IP address or hostname to access admin UI and registry service.")
    );
    let config = harbor_prep::Config::from_yaml(&migrated).unwrap();
    assert_eq!(config.database.password.expose(), "p@ss: #w'rd");

    let o = s.run(&[
        "migrate",
        "--config",
        input.to_str().unwrap(),
        "--out",
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(fs::read_to_string(&input).unwrap(), old);
}

#[test]
fn leftovers_of_a_killed_run_are_removed() {
    let s = Scratch::new();
    s.config(&default_yml());
    assert!(s.prepare(&[]).status.success());
    let stale = [
        s.out.join("common/config/core/.env.harbor-prep-1234"),
        s.out.join(".docker-compose.yml.harbor-prep-tmp"),
        s.data().join("secret/keys/.secretkey.harbor-prep-99"),
    ];
    for path in &stale {
        fs::write(path, "half a secret").unwrap();
    }

    assert!(s.prepare(&[]).status.success());
    for path in &stale {
        assert!(!path.exists(), "{} survived", path.display());
    }
}

#[test]
fn a_write_that_cannot_finish_changes_no_file() {
    let s = Scratch::new();
    s.config(&default_yml());
    assert!(s.prepare(&[]).status.success());
    let env_before = fs::read(s.out.join("common/config/core/env")).unwrap();

    // the compose file cannot be written where a directory stands
    fs::remove_file(s.out.join("docker-compose.yml")).unwrap();
    fs::create_dir(s.out.join("docker-compose.yml")).unwrap();
    s.config(&default_yml().replace("password: root123", "password: changed-pw"));
    let o = s.prepare(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("docker-compose.yml is a directory"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read(s.out.join("common/config/core/env")).unwrap(),
        env_before
    );
    let leftovers: Vec<_> = snapshot(&s.out)
        .into_iter()
        .filter(|(p, _)| p.to_string_lossy().contains(".harbor-prep-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_flags_and_unreadable_input_exit_2_with_a_reason() {
    let s = Scratch::new();
    s.config(&default_yml());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--now", "2026-13-01T00:00:00Z"],
            "--now `2026-13-01T00:00:00Z` is not an RFC 3339 time",
        ),
        (vec!["--now", "1969-12-31T23:59:59Z"], "out of range"),
        (vec!["--seed-file", "/dev/zero"], "not a regular file"),
        (vec!["--seed-file", "/nonexistent/seed"], "no such file"),
        (vec!["--seed-file", "/"], "a directory"),
    ];
    let fifo = s.root.join("seed.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fifo.to_str().unwrap().to_string();
    let mut cases = cases;
    cases.push((vec!["--seed-file", &fifo], "not a regular file"));
    let big = s.root.join("seed.big");
    fs::write(&big, [7u8; 40]).unwrap();
    let big = big.to_str().unwrap().to_string();
    cases.push((vec!["--seed-file", &big], "holds 40 bytes"));
    for (args, wanted) in cases {
        let o = s.prepare(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(wanted), "{args:?}: {err}");
        assert!(err.matches("month must be").count() <= 1, "{err}");
    }

    fs::write(s.out.join("harbor.yml"), b"hostname: \xff\n").unwrap();
    let o = s.prepare(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("harbor.yml:1: the file is not UTF-8 text"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn gencert_paths_stay_where_they_are_meant_to() {
    let s = Scratch::new();
    let root = s.root.to_str().unwrap();
    let o = s.run(&["gencert", "-p", "/../escaped", "--root", root]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("holds `..`"));
    assert!(!s.root.parent().unwrap().join("escaped").exists());

    // a relative directory is the current directory's, not the root's
    let o = Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
        .args(["gencert", "-p", "tls-here", "--root", root])
        .current_dir(&s.out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(s.out.join("tls-here/harbor_internal_ca.crt").is_file());
    assert!(!s.root.join("tls-here").exists());
}

#[test]
fn environment_values_that_cannot_work_are_refused() {
    use std::os::unix::ffi::OsStrExt;

    let s = Scratch::new();
    let run = |vars: &[(&str, &std::ffi::OsStr)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_harbor-deploy"));
        cmd.args(["prepare", "--env", "--out", s.out.to_str().unwrap()])
            .args(["--root", s.root.to_str().unwrap()])
            .env_clear()
            .env("HARBOR__HOSTNAME", "h.example.test");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let empty = std::ffi::OsStr::new("");
    let cases: Vec<(Vec<(&str, &std::ffi::OsStr)>, &str)> = vec![
        (vec![("HARBOR__DATA_VOLUME", empty)], "root of the host"),
        (
            vec![("HARBOR__JOBSERVICE__JOB_LOGGERS", empty)],
            "at least one job logger",
        ),
        (
            vec![(
                "HARBOR__JOBSERVICE__JOB_LOGGERS",
                std::ffi::OsStr::new("FILE,FILE"),
            )],
            "listed twice",
        ),
        (
            vec![(
                "HARBOR__DATABASE__PASSWORD",
                std::ffi::OsStr::from_bytes(b"ab\xff"),
            )],
            "HARBOR__DATABASE__PASSWORD is not UTF-8",
        ),
    ];
    for (vars, wanted) in cases {
        let o = run(&vars);
        assert_eq!(o.status.code(), Some(2), "{vars:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(wanted), "{vars:?}: {}", stderr(&o));
        assert!(!s.out.join("common").exists());
    }
}

#[test]
fn migrate_in_place_masks_secrets_in_the_diff_and_refuses_cfg_names() {
    let s = Scratch::new();
    let old = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/reference/legacy/harbor-1.10.0.yml"),
    )
    .unwrap()
    .replace("password: root123", "password: \"Very-Secret-1\"");
    let input = s.out.join("harbor.yml");
    fs::write(&input, &old).unwrap();

    let o = s.run(&["migrate", "--config", input.to_str().unwrap(), "--in-place"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let diff = String::from_utf8_lossy(&o.stdout);
    assert!(!diff.contains("Very-Secret-1"), "{diff}");
    assert!(diff.contains("password: ***"), "{diff}");
    let migrated = fs::read_to_string(&input).unwrap();
    assert!(migrated.contains("password: \"Very-Secret-1\""));
    assert!(migrated.contains("_version: 2.15.0"));

    let out = s.out.join("new.cfg");
    let o = s.run(&[
        "migrate",
        "--config",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

#[test]
fn migrate_writes_only_files_keeps_owners_and_follows_a_link() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    let s = Scratch::new();
    let old = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/reference/legacy/harbor-1.10.0.yml"),
    )
    .unwrap();
    let real = s.out.join("real.yml");
    fs::write(&real, &old).unwrap();

    // a pipe (and so a device such as /dev/null) is never replaced by the migrated file
    let fifo = s.out.join("pipe.yml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let o = s.run(&[
        "migrate",
        "--config",
        real.to_str().unwrap(),
        "--out",
        fifo.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());

    // --in-place through a symlink migrates the file it names, and keeps the link and the
    // file's owner
    let link = s.out.join("harbor.yml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let is_root = rustix::process::geteuid().is_root();
    if is_root {
        std::os::unix::fs::chown(&real, Some(65534), Some(65534)).unwrap();
    }
    let before = fs::metadata(&real).unwrap();
    let o = s.run(&["migrate", "--config", link.to_str().unwrap(), "--in-place"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        fs::read_to_string(&real)
            .unwrap()
            .contains("_version: 2.15.0")
    );
    let after = fs::metadata(&real).unwrap();
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
}

#[test]
fn a_pipe_where_the_bundle_writes_a_file_is_refused_not_waited_on() {
    let s = Scratch::new();
    s.config(&default_yml());
    let o = s.prepare(&[]);
    assert!(o.status.success(), "{}", stderr(&o));

    let compose = s.out.join("docker-compose.yml");
    fs::remove_file(&compose).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&compose)
            .status()
            .unwrap()
            .success()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
        .args([
            "prepare",
            "--config",
            s.out.join("harbor.yml").to_str().unwrap(),
            "--out",
            s.out.to_str().unwrap(),
            "--root",
            s.root.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("prepare waited on the pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not a regular file"),
        "{}",
        stderr(&out)
    );
}
