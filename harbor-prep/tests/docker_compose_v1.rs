//! Reads env files written by `escape::env_portable` back through the real docker-compose v1.
//!
//! Needs the `docker-compose` binary (Debian: `apt-get install docker-compose`, 1.29.2); the
//! tests fail when it is missing. `docker-compose config` needs no Docker daemon.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use harbor_prep::{envfile, escape};

#[derive(serde::Deserialize)]
struct Config {
    services: BTreeMap<String, Service>,
}

#[derive(serde::Deserialize)]
struct Service {
    #[serde(default)]
    environment: BTreeMap<String, Option<String>>,
}

/// Runs `docker-compose config` on a service whose `env_file:` holds `env`, and returns the
/// environment it resolved, with the `$$` that `config` writes for `$` turned back into `$`.
fn compose_v1_environment(
    name: &str,
    env: &str,
    vars: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("create test dir");
    std::fs::write(dir.join("test.env"), env).expect("write env file");
    let compose = "version: \"3\"\nservices:\n  s:\n    image: busybox\n    env_file: ./test.env\n";
    std::fs::write(dir.join("compose.yml"), compose).expect("write compose file");

    let output = Command::new("docker-compose")
        .args(["--no-ansi", "-f", "compose.yml", "config"])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(vars.iter().copied())
        .output()
        .expect("docker-compose (v1) must be installed: apt-get install docker-compose");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "docker-compose config failed: {stderr}"
    );

    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    let config: Config = serde_saphyr::from_str(&stdout).expect("config output is YAML");
    let service = config.services.into_values().next().expect("one service");
    service
        .environment
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default().replace("$$", "$")))
        .collect()
}

/// Values beyond [`escape::TRICKY`] that this reader is checked with.
const EXTRA: &[&str] = &[
    "a\\",
    "a\\'b",
    "a\\\\b",
    "a\\\\b c",
    "'\\n'",
    "x\r\ny",
    "$a\nb",
    "\\\"",
    "\" #",
    "a'b\"c$d",
    "${:}",
    "$ {X}",
    "export X=1",
    "\u{a0}x\u{85}",
    "p\\q $ x",
    "a\\tb",
    "\\$X",
    "a b\\",
    "$\\\\",
];

/// Every value this test reads back.
fn values() -> Vec<&'static str> {
    escape::TRICKY.iter().chain(EXTRA).copied().collect()
}

/// Reads `env` with the function docker-compose v1 uses for `env_file:`
/// (`compose.config.environment.env_vars_from_file`), run by the interpreter named in the
/// `docker-compose` script. Unlike `config`, this shows the values before YAML output.
fn compose_v1_env_vars_from_file(name: &str, env: &str) -> BTreeMap<String, String> {
    let script = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("docker-compose"))
        .find(|path| path.is_file())
        .expect("docker-compose (v1) must be installed: apt-get install docker-compose");
    let text = std::fs::read_to_string(&script).expect("read the docker-compose script");
    let python = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .expect("docker-compose v1 is a Python script")
        .trim();

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("create test dir");
    let path = dir.join("direct.env");
    std::fs::write(&path, env).expect("write env file");
    let code = "import sys\n\
        from compose.config.environment import env_vars_from_file\n\
        for k, v in env_vars_from_file(sys.argv[1]).items():\n    \
        print(k, (v or '').encode().hex())\n";
    let output = Command::new(python)
        .args(["-c", code])
        .arg(&path)
        .env_clear()
        .env("X", "expanded")
        .output()
        .expect("run docker-compose's python");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "env_vars_from_file failed: {stderr}"
    );

    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(k, hex)| (k.to_owned(), from_hex(hex)))
        .collect()
}

fn from_hex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect();
    String::from_utf8(bytes).expect("utf-8 value")
}

/// Writes every encodable value of [`values()`] into one env file, so that a value running into
/// the next line shows up too; returns the file, the expected variables and the refused values.
fn encode_all() -> (String, BTreeMap<String, String>, Vec<&'static str>) {
    let mut file = String::new();
    let mut expected = BTreeMap::new();
    let mut refused = Vec::new();
    for (i, v) in values().iter().enumerate() {
        match escape::env_portable(v) {
            Ok(encoded) => {
                file.push_str(&format!("V{i}={encoded}\n"));
                expected.insert(format!("V{i}"), v.to_string());
            }
            Err(_) => refused.push(*v),
        }
    }
    (file, expected, refused)
}

fn mismatches(got: &BTreeMap<String, String>, expected: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = expected
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .map(|(k, v)| format!("{k}: want {v:?}, got {:?}", got.get(k)))
        .collect();
    out.extend(
        got.keys()
            .filter(|k| !expected.contains_key(*k))
            .map(|k| format!("extra {k}")),
    );
    out
}

#[test]
fn env_values_round_trip_through_docker_compose_v1_config() {
    let (file, mut expected, refused) = encode_all();
    assert_eq!(refused, ["${X}", "a b\\", "$\\\\"]);

    // `config` prints through PyYAML, whose emitter writes U+0085 as a raw line break that
    // every reader then folds; the value itself is checked by the test below
    expected.retain(|_, v| !v.contains('\u{85}'));
    let got = compose_v1_environment("round-trip", &file, &[("X", "expanded"), ("HOME", "/h")]);
    let got = got
        .into_iter()
        .filter(|(k, _)| expected.contains_key(k))
        .collect();
    assert_eq!(
        mismatches(&got, &expected),
        Vec::<String>::new(),
        "file:\n{file}"
    );
}

#[test]
fn env_values_round_trip_through_docker_compose_v1_reader() {
    let (file, expected, _) = encode_all();
    let got = compose_v1_env_vars_from_file("round-trip-direct", &file);
    assert_eq!(
        mismatches(&got, &expected),
        Vec::<String>::new(),
        "file:\n{file}"
    );

    let v2: BTreeMap<String, String> = envfile::parse(&file)
        .expect("v2 reads it")
        .into_iter()
        .collect();
    assert_eq!(
        mismatches(&v2, &expected),
        Vec::<String>::new(),
        "file:\n{file}"
    );
}

#[test]
fn raw_values_as_upstream_writes_them_do_not_survive() {
    let file = "A=Adm$1nPass$HOME\nB=Db pass #7\nC=${X}\n";
    let got = compose_v1_environment("raw", file, &[("X", "expanded")]);
    assert_eq!(got.get("A").map(String::as_str), Some("Adm$1nPass$HOME"));
    assert_eq!(got.get("B").map(String::as_str), Some("Db pass"));
    assert_eq!(got.get("C").map(String::as_str), Some("expanded"));

    // Compose v2 drops `$HOME` (unset here) and keeps `$1`, which is no variable name
    let v2 = envfile::parse(file).expect("v2 reads it");
    assert_eq!(v2[0].1, "Adm$1nPass");
    assert_eq!(v2[1].1, "Db pass");
    assert_eq!(v2[2].1, "");
}

/// Each line is read one way by docker-compose v1 and another by Compose v2 (envfile::parse).
#[test]
fn v1_and_v2_disagree_where_the_encoder_says() {
    let cases: &[(&str, &str, &str)] = &[
        // (file line, v1 reads, v2 reads)
        ("A='${X}'\n", "expanded", "${X}"),
        ("A='a\\\\b'\n", "a\\b", "a\\\\b"),
        ("A=\"$$\"\n", "$$", "$"),
        ("A=\"\\$\"\n", "\\$", "$"),
        ("A=\"\\'\"\n", "'", "\\'"),
        ("A=x\t#c\n", "x", "x\t#c"),
        ("A='x\ry'\n", "x\ny", "x\ry"),
    ];
    for (i, (line, v1, v2)) in cases.iter().enumerate() {
        let got = compose_v1_environment(&format!("disagree-{i}"), line, &[("X", "expanded")]);
        assert_eq!(
            got.get("A").map(String::as_str),
            Some(*v1),
            "v1 on {line:?}"
        );
        let parsed = envfile::parse(line).expect("v2 reads it");
        assert_eq!(parsed, [("A".to_owned(), v2.to_string())], "v2 on {line:?}");
    }

    // a double-quoted value ending in a backslash runs on to the next double quote in v1, which
    // then cannot read either line and drops both variables
    let file = "A=\"a\\\\\"\nB=\"b\"\n";
    let got = compose_v1_environment("trailing-backslash", file, &[]);
    assert_eq!((got.get("A"), got.get("B")), (None, None));
    let parsed = envfile::parse(file).expect("v2 reads it");
    assert_eq!(parsed[0], ("A".to_owned(), "a\\".to_owned()));
}
