//! Runs `harbor-deploy` on every upstream reference case of one release and compares what it
//! writes with what upstream Harbor's `prepare` wrote (see `support::compare` for what
//! "equivalent" means). Each `tests/reference_<release>.rs` includes this module with its
//! `RELEASE`.
//!
//! `HARBOR_CASE=<case> cargo test -p harbor-deploy --test reference_v2_15` runs one case; the
//! `comparator_tests` module checks the comparators themselves and does not run the binary.

// each release binary uses a different part of the harness
#![allow(dead_code)]

use super::RELEASE;
use super::support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::compare::{self, Content, Diffs, EnvParser, FileKind, Manifest, Mount};

/// The shared reference material, relative to the workspace root.
pub(crate) const REF: &str = "../shared/reference";

/// Environment variable naming the one case to run.
pub(crate) const CASE_VAR: &str = "HARBOR_CASE";

/// The case that ran `gencert` instead of `prepare`; it has its own test.
pub(crate) const GENCERT_CASE: &str = "f0-gencert";

/// The clock every run is given.
pub(crate) const NOW: &str = "2027-01-01T00:00:00Z";

/// The seed every run is given: 32 fixed bytes.
pub(crate) const SEED: [u8; 32] = *b"harbor-deploy reference seed 01!";

/// How the tests read env files as Docker Compose does.
pub(crate) const ENV_PARSER: EnvParser = env_parser;

/// Docker Compose's reading of an env file, through harbor-prep's reader.
pub(crate) fn env_parser(text: &str) -> Result<Vec<(String, String)>, String> {
    harbor_prep::envfile::parse(text).map_err(|e| e.to_string())
}

/// Differences from upstream that are deliberate, each explained in COMPATIBILITY.md: a
/// difference whose text contains the pattern is printed but does not fail the case.
pub(crate) const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "data/secret/keys/seed: unexpected file",
        "the seed every secret derives from is persisted in the data volume",
    ),
    (
        "data/secret/keys/created: unexpected file",
        "what the installation created is listed beside the seed, for a purge to delete",
    ),
    (
        "config/registry/passwd: mode 0640, reference 0644",
        "the htpasswd line is readable only by the registry's user",
    ),
    (
        "config/registry/passwd: owner 10000:10000, reference 0:0",
        "the htpasswd line is readable only by the registry's user",
    ),
    (
        r#"syslog-address: reference string "tcp://localhost:1514", ours string "tcp://127.0.0.1:1514""#,
        "the syslog driver dials the address the log container is published on",
    ),
    (
        r#"HARBOR_ADMIN_PASSWORD: reference "Adm1n \"quoted\" it's ", ours "Adm1n \"quoted\" it's $HOME #not-a-comment ünïcødé €""#,
        "env values are quoted so that Compose reads the configured password, not a truncated one",
    ),
    (
        "maxthreads: reference bool true, ours integer 1",
        "storage parameters keep their type; upstream turned 1 into true",
    ),
    (
        "reference `location = /metrics {}`, ours `location = /custom-metrics {}`",
        "the http proxy serves metrics on metric.path, as core and the registry do",
    ),
];

/// A run taking longer than this is killed and reported (4096-bit keys in a debug build).
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// Cases run at the same time (the machine has 2 cores shared with others).
pub(crate) const WORKERS: usize = 2;

/// Cases where upstream exits non-zero that expect.tsv does not list: `(case, dotted key)`.
///
/// Every such case in REF is listed in expect.tsv today; a new one must be added here, with a
/// comment saying why that key is the one to name, or the test reports it.
pub(crate) const UPSTREAM_FAILURES: &[(&str, &str)] = &[];

/// `either` cases accepted by our tool must produce the file set (and modes) of this case.
///
/// Upstream failed on them, so there is no content to compare. The file set depends on which
/// features a harbor.yml uses, not on their values; each case named here uses the same features
/// with valid values.
pub(crate) const EITHER_LIKE: &[(&str, &str)] = &[
    // ip_family.ipv6 only; k1 enables both families with the same https setup
    ("k2-ipv6-only-partial", "k1-ipv6"),
    // log without local: the default log settings, as in a-http-default
    ("n08-log-no-local", "a-http-default"),
    // a storage CA bundle: e2 copies it to shared/trust-certificates as this one must
    ("n11-ca-bundle-unreadable", "e2-storage-ca-bundle"),
];

/// Host file modes the shared copy lost (it drops write bits): `(case, path under host/, mode)`.
///
/// The mode comes from the first line of the case's input.harbor.yml.
pub(crate) const HOST_MODES: &[(&str, &str, u32)] = &[
    // "storage ca_bundle file mode 0600 owned by root"
    (
        "n11-ca-bundle-unreadable",
        "etc/harbor/ca/private-ca-bundle.crt",
        0o600,
    ),
];

/// What our tool must do on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Exit 0 with output equivalent to upstream's.
    Equiv,
    /// Exit non-zero, write nothing, name the key on stderr.
    Reject(String),
    /// Either a rejection naming the key or a complete bundle.
    Either(String),
}

/// The extra arguments of a case.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CaseArgs {
    pub(crate) with_trivy: bool,
    pub(crate) prerun: bool,
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub(crate) struct Run {
    /// Exit code, `None` when killed by a signal or the timeout.
    pub(crate) code: Option<i32>,
    pub(crate) stderr: String,
    pub(crate) command: String,
}

/// The directory holding the reference cases.
pub(crate) fn reference_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(REF)
        .join(format!("upstream-{RELEASE}"))
}

/// Reads expect.tsv (beside the release directory) into case -> expectation.
pub(crate) fn load_expectations() -> Result<BTreeMap<String, Expect>, String> {
    let root = reference_root();
    let path = root
        .parent()
        .map(|p| p.join("expect.tsv"))
        .ok_or("REF has no parent")?;
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;

    let mut table = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        let expect = match fields.as_slice() {
            [_, "equiv", ..] => Expect::Equiv,
            [_, "reject", key] => Expect::Reject(key.to_string()),
            [_, "either", key] => Expect::Either(key.to_string()),
            _ => return Err(format!("expect.tsv: cannot read line {line:?}")),
        };
        table.insert(fields[0].to_string(), expect);
    }
    Ok(table)
}

/// The expectation of a case: expect.tsv, else exit 0 = equivalent, else [`UPSTREAM_FAILURES`].
pub(crate) fn expectation(
    case: &str,
    manifest: &Manifest,
    table: &BTreeMap<String, Expect>,
) -> Result<Expect, String> {
    if let Some(expect) = table.get(case) {
        return Ok(expect.clone());
    }
    if manifest.exit_code == 0 {
        return Ok(Expect::Equiv);
    }
    match UPSTREAM_FAILURES.iter().find(|(c, _)| *c == case) {
        Some((_, key)) => Ok(Expect::Reject(key.to_string())),
        None => Err(format!(
            "upstream exited {} and neither expect.tsv nor UPSTREAM_FAILURES says what to expect",
            manifest.exit_code
        )),
    }
}

/// Reads a case's `args` file.
pub(crate) fn read_args(dir: &Path) -> Result<CaseArgs, String> {
    let text = fs::read_to_string(dir.join("args")).unwrap_or_default();
    let mut args = CaseArgs::default();
    for token in text.split_whitespace() {
        match token {
            "--with-trivy" => args.with_trivy = true,
            "prerun" => args.prerun = true,
            other => return Err(format!("args: unknown token {other:?}")),
        }
    }
    Ok(args)
}

/// The case directories of REF, sorted, restricted to `HARBOR_CASE` when it is set.
pub(crate) fn case_dirs() -> Result<Vec<(String, PathBuf)>, String> {
    let root = reference_root();
    let entries =
        fs::read_dir(&root).map_err(|e| format!("cannot list {}: {e}", root.display()))?;
    let mut cases: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    cases.sort();
    Ok(cases)
}

/// The case `HARBOR_CASE` names, if set.
pub(crate) fn only_case() -> Option<String> {
    std::env::var(CASE_VAR).ok().filter(|v| !v.is_empty())
}

/// Whether this process runs as root (so owners can be compared).
pub(crate) fn running_as_root(probe: &Path) -> bool {
    fs::metadata(probe).map(|m| m.uid() == 0).unwrap_or(false)
}

/// Copies a directory tree, keeping file modes; directories keep theirs plus owner-write, so
/// the temporary tree can be removed by a non-root user.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let meta = fs::symlink_metadata(from).map_err(|e| format!("{}: {e}", from.display()))?;
    if meta.is_dir() {
        fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
        let entries = fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        let mode = (meta.permissions().mode() & 0o7777) | 0o200;
        fs::set_permissions(to, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", to.display()))
    } else {
        fs::copy(from, to).map_err(|e| format!("copy {}: {e}", from.display()))?;
        let mode = meta.permissions().mode() & 0o7777;
        fs::set_permissions(to, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", to.display()))
    }
}

/// Every path below `root`, relative to it (empty when `root` does not exist).
pub(crate) fn list_tree(root: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let Ok(entries) = fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let child = rel.join(entry.file_name());
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                pending.push(child.clone());
            }
            found.insert(child.to_string_lossy().into_owned());
        }
    }
    found
}

/// Runs the binary with `args`, stdout and stderr going to files in `work`.
pub(crate) fn run_binary(args: &[OsString], work: &Path, label: &str) -> Result<Run, String> {
    let command = format!(
        "harbor-deploy {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let stdout_path = work.join(format!("{label}.stdout"));
    let stderr_path = work.join(format!("{label}.stderr"));
    let stdout =
        fs::File::create(&stdout_path).map_err(|e| format!("{}: {e}", stdout_path.display()))?;
    let stderr =
        fs::File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;

    let mut child = Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {command}: {e}"))?;

    // wait with a timeout, so one hanging case cannot hold up the report
    let started = Instant::now();
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.code(),
            Ok(None) if started.elapsed() > RUN_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{command}: still running after {RUN_TIMEOUT:?}, killed"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("{command}: cannot wait: {e}")),
        }
    };

    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    Ok(Run {
        code,
        stderr,
        command,
    })
}

/// The last lines of stderr, for a message.
pub(crate) fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n      | ")
}

/// Whether `text` names the dotted `key`: not inside a longer key, though `key.sub` counts.
pub(crate) fn names_key(text: &str, key: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(key).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + key.len()..].chars().next();
        !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident)
    })
}

/// A crash: killed, a panic's exit code 101, or a panic message.
pub(crate) fn crashed(run: &Run) -> bool {
    run.code.is_none() || run.code == Some(101) || run.stderr.contains("panicked at")
}

/// The paths of a case: the output dir, the root, the data volume inside the root.
pub(crate) struct Layout {
    pub(crate) out: PathBuf,
    pub(crate) root: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) data_rel: String,
}

/// Checks a rejection: non-zero exit without a crash, the key named, nothing written.
pub(crate) fn check_reject(run: &Run, key: &str, layout: &Layout) -> Diffs {
    let mut diffs = Vec::new();
    if run.code == Some(0) {
        diffs.push(format!("exited 0; expected a rejection naming {key}"));
    } else if crashed(run) {
        diffs.push(format!(
            "crashed (exit {:?}):\n      | {}",
            run.code,
            tail(&run.stderr)
        ));
    }
    if run.code != Some(0) && !names_key(&run.stderr, key) {
        diffs.push(format!(
            "stderr does not name {key}:\n      | {}",
            tail(&run.stderr)
        ));
    }

    let written: Vec<String> = list_tree(&layout.out.join("common")).into_iter().collect();
    if !written.is_empty() {
        diffs.push(format!(
            "wrote {} entries under OUT/common, e.g. {}",
            written.len(),
            written[0]
        ));
    }
    let written: Vec<String> = list_tree(&layout.data).into_iter().collect();
    if !written.is_empty() {
        diffs.push(format!(
            "wrote {} entries under ROOT/{}, e.g. {}",
            written.len(),
            layout.data_rel,
            written[0]
        ));
    }
    if layout.data.exists() && written.is_empty() {
        diffs.push(format!("created ROOT/{}", layout.data_rel));
    }
    if layout.out.join("docker-compose.yml").exists() {
        diffs.push("wrote OUT/docker-compose.yml".to_string());
    }
    diffs
}

/// The three places the manifest describes, mapped onto our output.
pub(crate) fn mounts(reference: &Path, layout: &Layout) -> Vec<Mount> {
    vec![
        Mount {
            prefix: "config".into(),
            reference: reference.join("config"),
            ours: layout.out.join("common/config"),
        },
        Mount {
            prefix: "data".into(),
            reference: reference.join("data"),
            ours: layout.data.clone(),
        },
        Mount {
            prefix: "docker-compose.yml".into(),
            reference: reference.join("docker-compose.yml"),
            ours: layout.out.join("docker-compose.yml"),
        },
    ]
}

/// Files in OUT other than harbor.yml, docker-compose.yml and common/config.
pub(crate) fn extra_in_out(out: &Path) -> Diffs {
    list_tree(out)
        .into_iter()
        .filter(|p| {
            !matches!(
                p.as_str(),
                "harbor.yml" | "docker-compose.yml" | "common" | "common/config"
            ) && !p.starts_with("common/config/")
        })
        .map(|p| {
            format!(
                "OUT/{p}: unexpected (upstream writes only common/config and docker-compose.yml)"
            )
        })
        .collect()
}

/// Paths created in ROOT outside the data volume (and its parents) that upstream did not write;
/// only the topmost of each new subtree is reported.
pub(crate) fn outside_writes(
    before: &BTreeSet<String>,
    layout: &Layout,
    allowed: &BTreeSet<String>,
) -> Diffs {
    let data = layout.data_rel.as_str();
    let new: BTreeSet<String> = list_tree(&layout.root)
        .into_iter()
        .filter(|p| !before.contains(p))
        .filter(|p| {
            p != data && !p.starts_with(&format!("{data}/")) && !data.starts_with(&format!("{p}/"))
        })
        .filter(|p| !allowed.contains(p))
        .collect();
    new.iter()
        .filter(|p| {
            !p.rsplit_once('/')
                .is_some_and(|(parent, _)| new.contains(parent))
        })
        .map(|p| format!("ROOT/{p}: written outside the data volume (upstream did not)"))
        .collect()
}

/// Key pair and shared-secret checks on our bundle.
pub(crate) fn bundle_checks(reference: &Path, manifest: &Manifest, layout: &Layout) -> Diffs {
    let mut diffs = Vec::new();

    // each certificate belongs to its key
    let mut pairs = compare::sibling_key_pairs(&layout.data.join("secret/cert"));
    pairs.extend(compare::sibling_key_pairs(&layout.data.join("secret/tls")));
    let token = (
        layout.data.join("secret/registry/root.crt"),
        layout.data.join("secret/core/private_key.pem"),
    );
    if token.0.is_file() && token.1.is_file() {
        pairs.push(token);
    }
    let label = |p: &Path| match p.strip_prefix(&layout.data) {
        Ok(rest) => format!("data/{}", rest.display()),
        Err(_) => p.display().to_string(),
    };
    for (cert, key) in pairs {
        let pair = format!("{} + {}", label(&cert), label(&key));
        match (fs::read(&cert), fs::read(&key)) {
            (Ok(c), Ok(k)) => diffs.extend(
                compare::compare_key_pair(&c, &k)
                    .into_iter()
                    .map(|d| format!("{pair}: {d}")),
            ),
            _ => diffs.push(format!("{pair}: cannot read")),
        }
    }

    // secrets shared between env files in the reference are shared in ours
    let (mut ref_envs, mut our_envs, mut hints) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for entry in manifest
        .entries
        .iter()
        .filter(|e| e.path.starts_with("config/"))
    {
        if compare::file_kind(&entry.path, b"") != FileKind::Env {
            continue;
        }
        let rest = &entry.path["config/".len()..];
        if let (Ok(r), Ok(o)) = (
            fs::read_to_string(reference.join(&entry.path)),
            fs::read_to_string(layout.out.join("common/config").join(rest)),
        ) {
            ref_envs.insert(entry.path.clone(), r);
            our_envs.insert(entry.path.clone(), o);
            hints.insert(entry.path.clone(), entry.hints());
        }
    }
    diffs.extend(compare::compare_shared_secrets(
        &ref_envs, &our_envs, &hints, ENV_PARSER,
    ));
    diffs
}

/// Runs one prepare case and returns its differences.
pub(crate) fn run_prepare_case(case: &str, dir: &Path, table: &BTreeMap<String, Expect>) -> Diffs {
    match prepare_case(case, dir, table) {
        Ok(diffs) => diffs,
        Err(e) => vec![format!("harness: {e}")],
    }
}

/// [`run_prepare_case`] with setup failures as `Err`.
pub(crate) fn prepare_case(
    case: &str,
    dir: &Path,
    table: &BTreeMap<String, Expect>,
) -> Result<Diffs, String> {
    let manifest = Manifest::load(&dir.join("manifest.json"))?;
    let expect = expectation(case, &manifest, table)?;
    let args = read_args(dir)?;
    let data_rel = manifest.data_volume.trim_start_matches('/').to_string();
    if data_rel.is_empty() || !manifest.data_volume.starts_with('/') {
        return Err(format!(
            "data_volume {:?} is not an absolute path",
            manifest.data_volume
        ));
    }

    // ROOT holds the host files, OUT the config; the seed and logs sit beside them
    let work = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let layout = Layout {
        out: work.path().join("out"),
        root: work.path().join("root"),
        data: work.path().join("root").join(&data_rel),
        data_rel,
    };
    fs::create_dir_all(&layout.out).map_err(|e| format!("mkdir OUT: {e}"))?;
    fs::create_dir_all(&layout.root).map_err(|e| format!("mkdir ROOT: {e}"))?;
    if dir.join("host").is_dir() {
        copy_tree(&dir.join("host"), &layout.root)?;
    }
    for (_, path, mode) in HOST_MODES.iter().filter(|(c, ..)| *c == case) {
        fs::set_permissions(layout.root.join(path), fs::Permissions::from_mode(*mode))
            .map_err(|e| format!("chmod host {path}: {e}"))?;
    }
    let seed = work.path().join("seed");
    fs::write(&seed, SEED).map_err(|e| format!("seed: {e}"))?;
    let config = layout.out.join("harbor.yml");
    fs::copy(dir.join("input.harbor.yml"), &config)
        .map_err(|e| format!("input.harbor.yml: {e}"))?;
    let before = list_tree(&layout.root);

    let mut argv: Vec<OsString> = vec!["prepare".into(), "--config".into(), config.into()];
    argv.extend([
        "--out".into(),
        layout.out.clone().into(),
        "--root".into(),
        layout.root.clone().into(),
    ]);
    argv.extend([
        "--seed-file".into(),
        seed.into(),
        "--now".into(),
        NOW.into(),
        "--harbor-version".into(),
        RELEASE.into(),
    ]);
    if args.with_trivy {
        argv.push("--with-trivy".into());
    }

    // "prerun": upstream ran prepare once before on the same volume and captured the second run
    let mut diffs = Vec::new();
    if args.prerun {
        let first = run_binary(&argv, work.path(), "prerun")?;
        if first.code != Some(0) {
            diffs.push(format!(
                "first run exited {:?}:\n      | {}",
                first.code,
                tail(&first.stderr)
            ));
            return Ok(finish(diffs, &first.command, work));
        }
    }
    let run = run_binary(&argv, work.path(), "run")?;

    match expect {
        Expect::Reject(key) => diffs.extend(check_reject(&run, &key, &layout)),
        Expect::Either(key) if run.code != Some(0) => {
            diffs.extend(check_reject(&run, &key, &layout))
        }
        Expect::Either(_) => diffs.extend(check_complete_bundle(case, &layout, &before)?),
        Expect::Equiv if run.code != Some(0) => {
            diffs.push(format!(
                "exited {:?}; upstream exited 0:\n      | {}",
                run.code,
                tail(&run.stderr)
            ));
        }
        Expect::Equiv => {
            let as_root = running_as_root(work.path());
            diffs.extend(compare::compare_tree(
                &manifest,
                &mounts(dir, &layout),
                Content::Compare,
                as_root,
                ENV_PARSER,
            ));
            diffs.extend(bundle_checks(dir, &manifest, &layout));
            diffs.extend(extra_in_out(&layout.out));
            diffs.extend(outside_writes(&before, &layout, &manifest.hostfs_written()));
        }
    }
    Ok(finish(diffs, &run.command, work))
}

/// Adds how to reproduce a failing case; with [`CASE_VAR`] set the work dir is kept for a look.
pub(crate) fn finish(diffs: Diffs, command: &str, work: tempfile::TempDir) -> Diffs {
    let (known, diffs): (Diffs, Diffs) = diffs.into_iter().partition(|d| {
        KNOWN_DIFFERENCES
            .iter()
            .any(|(pattern, _)| d.contains(pattern))
    });
    for d in &known {
        println!("      known difference: {d}");
    }
    // notes in parentheses explain a result; alone they are no difference
    let diffs = if diffs.iter().all(|d| d.starts_with('(')) {
        for d in &diffs {
            println!("      note: {d}");
        }
        Vec::new()
    } else {
        diffs
    };
    if only_case().is_some() {
        let kept = work.keep();
        println!("work dir kept: {}", kept.display());
    }
    let mut diffs = diffs;
    if !diffs.is_empty() {
        diffs.insert(0, format!("(ran: {command})"));
    }
    diffs
}

/// An accepted `either` case: the file set and modes of the similar case, every file parses.
pub(crate) fn check_complete_bundle(
    case: &str,
    layout: &Layout,
    before: &BTreeSet<String>,
) -> Result<Diffs, String> {
    let Some((_, like)) = EITHER_LIKE.iter().find(|(c, _)| *c == case) else {
        return Ok(vec![format!(
            "accepted, and EITHER_LIKE names no similar case to check completeness against"
        )]);
    };
    let like_dir = reference_root().join(like);
    let like_manifest = Manifest::load(&like_dir.join("manifest.json"))?;
    let as_root = running_as_root(&layout.root);

    let mut diffs = Vec::new();
    let tree = compare::compare_tree(
        &like_manifest,
        &mounts(&like_dir, layout),
        Content::ParseOnly,
        as_root,
        ENV_PARSER,
    );
    diffs.extend(tree);
    diffs.extend(bundle_checks(&like_dir, &like_manifest, layout));
    diffs.extend(extra_in_out(&layout.out));
    diffs.extend(outside_writes(before, layout, &BTreeSet::new()));
    if !diffs.is_empty() {
        diffs.insert(
            0,
            format!("(accepted; checked against the file set of {like})"),
        );
    }
    Ok(diffs)
}

/// Runs `job` over `items` on [`WORKERS`] threads, keeping the order of the results.
pub(crate) fn run_parallel<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(index) else { break };
                    let result = job(item);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((index, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Prints the per-case report and returns the failing cases' text.
pub(crate) fn report(results: &[(String, Diffs)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (case, diffs) in results {
        if diffs.is_empty() {
            println!("ok    {case}");
            continue;
        }
        let mut text = format!(
            "FAIL  {case}: {} differences",
            diffs.iter().filter(|d| !d.starts_with('(')).count()
        );
        for diff in diffs {
            text.push_str(&format!("\n    - {diff}"));
        }
        println!("{text}");
        failures.push(text);
    }
    failures
}

/// Every prepare case of REF against upstream's output; one report, one failure at the end.
#[test]
pub(crate) fn prepare_matches_upstream() {
    let only = only_case();
    if only.as_deref() == Some(GENCERT_CASE) {
        println!("{CASE_VAR}={GENCERT_CASE}: run by gencert_matches_upstream");
        return;
    }
    let (cases, table) = match (case_dirs(), load_expectations()) {
        (Ok(c), Ok(t)) => (c, t),
        (c, t) => panic!("cannot load the reference: {:?} {:?}", c.err(), t.err()),
    };
    let cases: Vec<(String, PathBuf)> = cases
        .into_iter()
        .filter(|(name, _)| name != GENCERT_CASE)
        .filter(|(name, _)| only.as_ref().is_none_or(|o| o == name))
        .collect();
    assert!(
        !cases.is_empty(),
        "no case named {only:?} in {}",
        reference_root().display()
    );

    let results = run_parallel(&cases, |(name, dir)| {
        (name.clone(), run_prepare_case(name, dir, &table))
    });
    let failures = report(&results);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from upstream:\n\n{}",
        failures.len(),
        results.len(),
        failures.join("\n\n")
    );
}

/// The arguments for gencert: upstream's `args` minus the command; `-p` is resolved under
/// `--root` by the tool itself.
pub(crate) fn gencert_args(dir: &Path, root: &Path) -> Result<(Vec<OsString>, PathBuf), String> {
    let text = fs::read_to_string(dir.join("args")).map_err(|e| format!("args: {e}"))?;
    let tokens: Vec<&str> = text.split_whitespace().collect();
    if tokens.first() != Some(&"gencert") {
        return Err(format!("args {text:?} do not start with gencert"));
    }
    let path = tokens
        .iter()
        .position(|t| *t == "-p")
        .and_then(|i| tokens.get(i + 1))
        .ok_or("args have no -p PATH")?;
    let target = root.join(path.trim_start_matches('/'));
    let argv = vec![
        "gencert".into(),
        "-p".into(),
        (*path).into(),
        "--root".into(),
        root.to_path_buf().into(),
    ];
    Ok((argv, target))
}

/// Runs the gencert case and returns its differences.
pub(crate) fn run_gencert_case(dir: &Path) -> Result<Diffs, String> {
    let manifest = Manifest::load(&dir.join("manifest.json"))?;
    let work = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
    let root = work.path().join("root");
    fs::create_dir_all(&root).map_err(|e| format!("mkdir ROOT: {e}"))?;
    let (argv, target) = gencert_args(dir, &root)?;

    let run = run_binary(&argv, work.path(), "gencert")?;
    let mut diffs = Vec::new();
    if run.code != Some(0) {
        diffs.push(format!(
            "exited {:?}; upstream exited 0:\n      | {}",
            run.code,
            tail(&run.stderr)
        ));
        return Ok(finish(diffs, &run.command, work));
    }

    // names, PEM structure and modes of everything written, against hostfs/ of the case
    let mount = Mount {
        prefix: "hostfs".into(),
        reference: dir.join("hostfs"),
        ours: root.clone(),
    };
    let as_root = running_as_root(work.path());
    diffs.extend(compare::compare_tree(
        &manifest,
        &[mount],
        Content::Compare,
        as_root,
        ENV_PARSER,
    ));

    // each certificate and request belongs to its key; each leaf is issued by the CA
    for (cert, key) in compare::sibling_key_pairs(&target) {
        if let (Ok(c), Ok(k)) = (fs::read(&cert), fs::read(&key)) {
            let name = cert
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            diffs.extend(
                compare::compare_key_pair(&c, &k)
                    .into_iter()
                    .map(|d| format!("{name}: {d}")),
            );
        }
    }
    if let Ok(ca) = fs::read(target.join("harbor_internal_ca.crt")) {
        for (cert, _) in compare::sibling_key_pairs(&target) {
            let name = cert
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.ends_with(".crt") || name == "harbor_internal_ca.crt" {
                continue;
            }
            match fs::read(&cert) {
                Ok(c) => diffs.extend(
                    compare::compare_issued_by(&c, &ca)
                        .into_iter()
                        .map(|d| format!("{name}: {d}")),
                ),
                Err(e) => diffs.push(format!("{name}: cannot read: {e}")),
            }
        }
    }

    Ok(finish(diffs, &run.command, work))
}

/// `gencert` against upstream's f0-gencert output (only v2.15.2's reference has the case).
pub fn gencert_matches_upstream() {
    if only_case().is_some_and(|c| c != GENCERT_CASE) {
        println!("{CASE_VAR} names another case; skipped");
        return;
    }
    let diffs = run_gencert_case(&reference_root().join(GENCERT_CASE))
        .unwrap_or_else(|e| vec![format!("harness: {e}")]);
    let failures = report(&[(GENCERT_CASE.to_string(), diffs)]);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
