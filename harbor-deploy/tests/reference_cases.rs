//! Runs `harbor-deploy` on every upstream reference case and compares what it writes with what
//! upstream Harbor's `prepare` wrote (see `support::compare` for what "equivalent" means).
//!
//! `HARBOR_CASE=<case> cargo test -p harbor-deploy --test reference_cases` runs one case; the
//! `comparator_tests` module checks the comparators themselves and does not run the binary.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::compare::{self, Content, Diffs, EnvParser, FileKind, LineHints, Manifest, Mount};

/// The upstream reference cases, relative to the workspace root.
const REF: &str = "../shared/reference/upstream-v2.15.2";

/// Environment variable naming the one case to run.
const CASE_VAR: &str = "HARBOR_CASE";

/// The case that ran `gencert` instead of `prepare`; it has its own test.
const GENCERT_CASE: &str = "f0-gencert";

/// The clock every run is given.
const NOW: &str = "2027-01-01T00:00:00Z";

/// The seed every run is given: 32 fixed bytes.
const SEED: [u8; 32] = *b"harbor-deploy reference seed 01!";

/// How the tests read env files as Docker Compose does.
const ENV_PARSER: EnvParser = env_parser;

/// Docker Compose's reading of an env file, through harbor-prep's reader.
fn env_parser(text: &str) -> Result<Vec<(String, String)>, String> {
    harbor_prep::envfile::parse(text).map_err(|e| e.to_string())
}

/// Differences from upstream that are deliberate, each explained in COMPATIBILITY.md: a
/// difference whose text contains the pattern is printed but does not fail the case.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "data/secret/keys/seed: unexpected file",
        "the seed every secret derives from is persisted in the data volume",
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
const RUN_TIMEOUT: Duration = Duration::from_secs(900);

/// Cases run at the same time (the machine has 2 cores shared with others).
const WORKERS: usize = 2;

/// Cases where upstream exits non-zero that expect.tsv does not list: `(case, dotted key)`.
///
/// Every such case in REF is listed in expect.tsv today; a new one must be added here, with a
/// comment saying why that key is the one to name, or the test reports it.
const UPSTREAM_FAILURES: &[(&str, &str)] = &[];

/// `either` cases accepted by our tool must produce the file set (and modes) of this case.
///
/// Upstream failed on them, so there is no content to compare. The file set depends on which
/// features a harbor.yml uses, not on their values; each case named here uses the same features
/// with valid values.
const EITHER_LIKE: &[(&str, &str)] = &[
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
const HOST_MODES: &[(&str, &str, u32)] = &[
    // "storage ca_bundle file mode 0600 owned by root"
    (
        "n11-ca-bundle-unreadable",
        "etc/harbor/ca/private-ca-bundle.crt",
        0o600,
    ),
];

/// What our tool must do on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// Exit 0 with output equivalent to upstream's.
    Equiv,
    /// Exit non-zero, write nothing, name the key on stderr.
    Reject(String),
    /// Either a rejection naming the key or a complete bundle.
    Either(String),
}

/// The extra arguments of a case.
#[derive(Debug, Clone, Copy, Default)]
struct CaseArgs {
    with_trivy: bool,
    prerun: bool,
}

/// The outcome of one run of the binary.
#[derive(Debug)]
struct Run {
    /// Exit code, `None` when killed by a signal or the timeout.
    code: Option<i32>,
    stderr: String,
    command: String,
}

/// The directory holding the reference cases.
fn reference_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(REF)
}

/// Reads expect.tsv (beside the release directory) into case -> expectation.
fn load_expectations() -> Result<BTreeMap<String, Expect>, String> {
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
fn expectation(
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
fn read_args(dir: &Path) -> Result<CaseArgs, String> {
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
fn case_dirs() -> Result<Vec<(String, PathBuf)>, String> {
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
fn only_case() -> Option<String> {
    std::env::var(CASE_VAR).ok().filter(|v| !v.is_empty())
}

/// Whether this process runs as root (so owners can be compared).
fn running_as_root(probe: &Path) -> bool {
    fs::metadata(probe).map(|m| m.uid() == 0).unwrap_or(false)
}

/// Copies a directory tree, keeping file modes; directories keep theirs plus owner-write, so
/// the temporary tree can be removed by a non-root user.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
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
fn list_tree(root: &Path) -> BTreeSet<String> {
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
fn run_binary(args: &[OsString], work: &Path, label: &str) -> Result<Run, String> {
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
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n      | ")
}

/// Whether `text` names the dotted `key`: not inside a longer key, though `key.sub` counts.
fn names_key(text: &str, key: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(key).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + key.len()..].chars().next();
        !before.is_some_and(|c| ident(c) || c == '.') && !after.is_some_and(ident)
    })
}

/// A crash: killed, a panic's exit code 101, or a panic message.
fn crashed(run: &Run) -> bool {
    run.code.is_none() || run.code == Some(101) || run.stderr.contains("panicked at")
}

/// The paths of a case: the output dir, the root, the data volume inside the root.
struct Layout {
    out: PathBuf,
    root: PathBuf,
    data: PathBuf,
    data_rel: String,
}

/// Checks a rejection: non-zero exit without a crash, the key named, nothing written.
fn check_reject(run: &Run, key: &str, layout: &Layout) -> Diffs {
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
fn mounts(reference: &Path, layout: &Layout) -> Vec<Mount> {
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
fn extra_in_out(out: &Path) -> Diffs {
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
fn outside_writes(before: &BTreeSet<String>, layout: &Layout, allowed: &BTreeSet<String>) -> Diffs {
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
fn bundle_checks(reference: &Path, manifest: &Manifest, layout: &Layout) -> Diffs {
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
fn run_prepare_case(case: &str, dir: &Path, table: &BTreeMap<String, Expect>) -> Diffs {
    match prepare_case(case, dir, table) {
        Ok(diffs) => diffs,
        Err(e) => vec![format!("harness: {e}")],
    }
}

/// [`run_prepare_case`] with setup failures as `Err`.
fn prepare_case(case: &str, dir: &Path, table: &BTreeMap<String, Expect>) -> Result<Diffs, String> {
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
fn finish(diffs: Diffs, command: &str, work: tempfile::TempDir) -> Diffs {
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
fn check_complete_bundle(
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
fn run_parallel<T: Sync, R: Send>(items: &[T], job: impl Fn(&T) -> R + Sync) -> Vec<R> {
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
fn report(results: &[(String, Diffs)]) -> Vec<String> {
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
fn prepare_matches_upstream() {
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
fn gencert_args(dir: &Path, root: &Path) -> Result<(Vec<OsString>, PathBuf), String> {
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
fn run_gencert_case(dir: &Path) -> Result<Diffs, String> {
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

/// `gencert` against upstream's f0-gencert output.
#[test]
fn gencert_matches_upstream() {
    if only_case().is_some_and(|c| c != GENCERT_CASE) {
        println!("{CASE_VAR} names another case; skipped");
        return;
    }
    let diffs = run_gencert_case(&reference_root().join(GENCERT_CASE))
        .unwrap_or_else(|e| vec![format!("harness: {e}")]);
    let failures = report(&[(GENCERT_CASE.to_string(), diffs)]);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Tests of the comparators on the reference data; none of them runs the binary.
mod comparator_tests {
    use super::*;

    /// A reference file of a case as text.
    fn text(case: &str, path: &str) -> String {
        let file = reference_root().join(case).join(path);
        fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }

    /// A reference file of a case as bytes.
    fn bytes(case: &str, path: &str) -> Vec<u8> {
        let file = reference_root().join(case).join(path);
        fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    }

    /// The line hints of a file from its case's manifest.
    fn hints_of(case: &str, path: &str) -> LineHints {
        let manifest = Manifest::load(&reference_root().join(case).join("manifest.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        manifest.entry(path).map(|e| e.hints()).unwrap_or_default()
    }

    /// Replaces the first occurrence of `from`, failing the test when it is absent.
    fn replace_once(text: &str, from: &str, to: &str) -> String {
        assert!(text.contains(from), "{from:?} not found");
        text.replacen(from, to, 1)
    }

    /// Asserts that some difference mentions every one of `words`.
    fn assert_mentions(diffs: &Diffs, words: &[&str]) {
        assert!(
            diffs.iter().any(|d| words.iter().all(|w| d.contains(w))),
            "no difference mentions {words:?}: {diffs:#?}"
        );
    }

    // --- YAML ----------------------------------------------------------------------------

    /// Every YAML file of every case, as (case, manifest path).
    fn all_yaml() -> Vec<(String, String)> {
        let mut files = Vec::new();
        for (case, dir) in case_dirs().unwrap_or_default() {
            let Ok(manifest) = Manifest::load(&dir.join("manifest.json")) else {
                continue;
            };
            for entry in &manifest.entries {
                if compare::file_kind(&entry.path, b"") == FileKind::Yaml
                    && dir.join(&entry.path).is_file()
                {
                    files.push((case.clone(), entry.path.clone()));
                }
            }
        }
        files
    }

    #[test]
    fn yaml_equal_to_itself_reemitted_as_json_and_as_yaml() {
        let files = all_yaml();
        assert!(files.len() > 50, "only {} YAML files found", files.len());
        for (case, path) in files {
            let original = text(&case, &path);
            let tree =
                compare::load_yaml(&original).unwrap_or_else(|e| panic!("{case}/{path}: {e}"));

            // JSON is YAML: sorted keys, flow style, every string quoted
            let json = serde_json::to_string_pretty(&tree).unwrap_or_default();
            let diffs = compare::compare_yaml(&path, &original, &json);
            assert!(
                diffs.is_empty(),
                "{case}/{path} vs its JSON form: {diffs:#?}"
            );

            let yaml = serde_saphyr::to_string(&tree).unwrap_or_default();
            let diffs = compare::compare_yaml(&path, &original, &yaml);
            assert!(
                diffs.is_empty(),
                "{case}/{path} vs its re-emitted YAML: {diffs:#?}"
            );
        }
    }

    #[test]
    fn yaml_changed_port_is_reported() {
        let original = text("a-http-default", "config/jobservice/config.yml");
        let changed = replace_once(&original, "port: 8080", "port: 8081");
        let diffs = compare::compare_yaml("config/jobservice/config.yml", &original, &changed);
        assert_mentions(&diffs, &["port", "integer 8080", "integer 8081"]);
        assert_eq!(diffs.len(), 1, "{diffs:#?}");
    }

    #[test]
    fn yaml_number_turned_string_is_reported() {
        let original = text("a-http-default", "config/jobservice/config.yml");
        let changed = replace_once(&original, "port: 8080", "port: \"8080\"");
        let diffs = compare::compare_yaml("config/jobservice/config.yml", &original, &changed);
        assert_mentions(&diffs, &["port", "integer 8080", "string \"8080\""]);

        let changed = replace_once(&original, "workers: 10", "workers: 10.0");
        let diffs = compare::compare_yaml("config/jobservice/config.yml", &original, &changed);
        assert_mentions(&diffs, &["worker_pool.workers", "integer 10", "float 10"]);
    }

    #[test]
    fn yaml_null_equals_empty_string_only_where_documented() {
        let path = "config/registry/config.yml";
        let original = text("a-http-default", path);
        let quoted = replace_once(&original, "password: \n", "password: \"\"\n");
        assert!(compare::compare_yaml(path, &original, &quoted).is_empty());

        let diffs = compare::compare_yaml("config/registryctl/config.yml", &original, &quoted);
        assert_mentions(&diffs, &["redis.password", "null", "string \"\""]);

        let missing = replace_once(&original, "  password: \n", "");
        assert_mentions(
            &compare::compare_yaml(path, &original, &missing),
            &["redis.password", "missing"],
        );
    }

    #[test]
    fn compose_networks_list_and_map_forms_are_equal() {
        let path = "docker-compose.yml";
        let original = text("a-http-default", path);
        let mut tree = compare::load_yaml(&original).unwrap_or_else(|e| panic!("{e}"));
        let core = tree
            .pointer_mut("/services/core/networks")
            .unwrap_or_else(|| panic!("no core networks"));
        assert!(
            core.is_object(),
            "core networks should be in map form upstream"
        );
        *core = serde_json::json!(["harbor"]);
        let json = serde_json::to_string(&tree).unwrap_or_default();
        assert!(compare::compare_yaml(path, &original, &json).is_empty());

        *tree
            .pointer_mut("/services/core/networks")
            .unwrap_or_else(|| panic!("gone")) = serde_json::json!(["harbor", "other"]);
        let json = serde_json::to_string(&tree).unwrap_or_default();
        assert_mentions(
            &compare::compare_yaml(path, &original, &json),
            &["services.core.networks.other", "unexpected"],
        );
    }

    #[test]
    fn yaml_list_order_is_kept() {
        let path = "docker-compose.yml";
        let original = text("a-http-default", path);
        let swapped = replace_once(
            &original,
            "      - CHOWN\n      - DAC_OVERRIDE\n",
            "      - DAC_OVERRIDE\n      - CHOWN\n",
        );
        assert_mentions(
            &compare::compare_yaml(path, &original, &swapped),
            &["services.log.cap_add", "different order"],
        );

        let dropped = replace_once(&original, "      - DAC_OVERRIDE\n", "");
        assert_mentions(
            &compare::compare_yaml(path, &original, &dropped),
            &["services.log.cap_add[1]", "missing", "DAC_OVERRIDE"],
        );
    }

    #[test]
    fn yaml_syntax_error_is_a_difference_not_a_panic() {
        let original = text("a-http-default", "docker-compose.yml");
        let diffs = compare::compare_yaml(
            "docker-compose.yml",
            &original,
            "services: [unclosed\n  - :",
        );
        assert_mentions(&diffs, &["does not parse as YAML"]);
    }

    // --- env -----------------------------------------------------------------------------

    /// Replaces a value by another of the same shape (each character rotated in its class).
    fn same_shape(value: &str) -> String {
        value
            .chars()
            .map(|c| match c {
                'a'..='y' | 'A'..='Y' | '0'..='8' => char::from(c as u8 + 1),
                'z' => 'a',
                'Z' => 'A',
                '9' => '0',
                other => other,
            })
            .collect()
    }

    /// The env file with random lines given new values of the same shape, lines reversed, and
    /// comments and blank lines added.
    fn reshuffled_env(original: &str, hints: &LineHints) -> String {
        let mut lines: Vec<String> = original
            .lines()
            .enumerate()
            .map(|(i, line)| match line.split_once('=') {
                Some((k, v)) if hints.random.contains(&(i + 1)) => format!("{k}={}", same_shape(v)),
                Some((k, v)) if hints.order_only.contains(&(i + 1)) => {
                    let mut items: Vec<&str> = v.split(',').collect();
                    items.reverse();
                    format!("{k}={}", items.join(","))
                }
                _ => line.to_string(),
            })
            .collect();
        lines.reverse();
        format!("# reshuffled\n\n{}\n", lines.join("\n\n"))
    }

    #[test]
    fn env_equal_to_itself_reordered_with_new_random_values() {
        let path = "config/core/env";
        let original = text("a-http-default", path);
        let hints = hints_of("a-http-default", path);
        assert_eq!(hints.random.len(), 5, "manifest random lines of core/env");
        let shuffled = reshuffled_env(&original, &hints);
        assert_ne!(shuffled, original);
        let diffs = compare::compare_env(&original, &shuffled, compare::fallback_env_parse, &hints);
        assert!(diffs.is_empty(), "{diffs:#?}");
    }

    #[test]
    fn env_value_changes_are_reported() {
        let path = "config/core/env";
        let original = text("a-http-default", path);
        let hints = hints_of("a-http-default", path);
        let parse = compare::fallback_env_parse;

        let port = replace_once(&original, "POSTGRESQL_PORT=5432", "POSTGRESQL_PORT=5433");
        assert_mentions(
            &compare::compare_env(&original, &port, parse, &hints),
            &["POSTGRESQL_PORT", "5433"],
        );

        let secret = original
            .lines()
            .find(|l| l.starts_with("CORE_SECRET="))
            .unwrap_or_default()
            .to_string();
        let shorter = replace_once(&original, &secret, &secret[..secret.len() - 1]);
        assert_mentions(
            &compare::compare_env(&original, &shorter, parse, &hints),
            &["CORE_SECRET", "length 15"],
        );

        let dashed = replace_once(
            &original,
            &secret,
            &format!("{}-", &secret[..secret.len() - 1]),
        );
        assert_mentions(
            &compare::compare_env(&original, &dashed, parse, &hints),
            &["CORE_SECRET", "alphanumeric"],
        );

        let no_proxy = replace_once(&original, ",trivy-adapter,", ",");
        assert_mentions(
            &compare::compare_env(&original, &no_proxy, parse, &hints),
            &["NO_PROXY", "missing", "trivy-adapter"],
        );

        let removed = replace_once(&original, "READ_ONLY=false\n", "");
        assert_mentions(
            &compare::compare_env(&original, &removed, parse, &hints),
            &["READ_ONLY", "missing"],
        );

        let added = format!("{original}\nEXTRA=1\n");
        assert_mentions(
            &compare::compare_env(&original, &added, parse, &hints),
            &["EXTRA", "unexpected"],
        );
    }

    #[test]
    fn env_duplicate_key_last_wins() {
        let path = "config/core/env";
        let original = text("a-http-default", path);
        let hints = hints_of("a-http-default", path);
        let parse = compare::fallback_env_parse;

        let overridden = format!("{original}\nLOG_LEVEL=debug\n");
        assert_mentions(
            &compare::compare_env(&original, &overridden, parse, &hints),
            &["LOG_LEVEL", "debug"],
        );

        let shadowed = format!("LOG_LEVEL=debug\n{original}");
        assert!(compare::compare_env(&original, &shadowed, parse, &hints).is_empty());
    }

    #[test]
    fn env_order_only_lines_are_sets() {
        let path = "config/trivy-adapter/env";
        let original = text("i-proxy", path);
        let hints = hints_of("i-proxy", path);
        assert_eq!(hints.order_only.len(), 1);
        let diffs = compare::compare_env(
            &original,
            &reshuffled_env(&original, &hints),
            compare::fallback_env_parse,
            &hints,
        );
        assert!(diffs.is_empty(), "{diffs:#?}");
    }

    #[test]
    fn shared_secrets_must_stay_shared() {
        let case = "a-http-default";
        let files = [
            "config/core/env",
            "config/jobservice/env",
            "config/registryctl/env",
        ];
        let reference: BTreeMap<String, String> = files
            .iter()
            .map(|f| (f.to_string(), text(case, f)))
            .collect();
        let hints: BTreeMap<String, LineHints> = files
            .iter()
            .map(|f| (f.to_string(), hints_of(case, f)))
            .collect();
        let parse = compare::fallback_env_parse;

        // all files get the same new values: still shared
        let ours: BTreeMap<String, String> = reference
            .iter()
            .map(|(f, t)| (f.clone(), reshuffled_env(t, &hints[f])))
            .collect();
        assert!(compare::compare_shared_secrets(&reference, &ours, &hints, parse).is_empty());

        // jobservice alone gets another CORE_SECRET
        let mut broken = reference.clone();
        let job = &reference["config/jobservice/env"];
        let line = job
            .lines()
            .find(|l| l.starts_with("CORE_SECRET="))
            .unwrap_or_default();
        let secret = &line["CORE_SECRET=".len()..];
        broken.insert(
            "config/jobservice/env".into(),
            replace_once(job, secret, &same_shape(secret)),
        );
        let diffs = compare::compare_shared_secrets(&reference, &broken, &hints, parse);
        assert_mentions(
            &diffs,
            &[
                "config/jobservice/env:CORE_SECRET",
                "config/core/env:CORE_SECRET",
            ],
        );
    }

    // --- app.conf ------------------------------------------------------------------------

    #[test]
    fn app_conf_reformatted_is_equal_and_changes_are_reported() {
        let original = text("a-http-default", "config/core/app.conf");
        let reformatted = "# comment\n; other comment\nAPPNAME=\"Harbor\"\n  runmode   =   prod\nenablegzip = true\n\n[PROD]\nhttpport=8080\n";
        let diffs = compare::compare_app_conf(&original, reformatted);
        assert!(diffs.is_empty(), "{diffs:#?}");

        let port = replace_once(&original, "httpport = 8080", "httpport = 8081");
        assert_mentions(
            &compare::compare_app_conf(&original, &port),
            &["[prod] httpport", "8081"],
        );

        let moved = replace_once(&original, "enablegzip = true\n", "")
            .replace("[prod]\n", "[prod]\nenablegzip = true\n");
        let diffs = compare::compare_app_conf(&original, &moved);
        assert_mentions(&diffs, &["[default] enablegzip", "missing"]);
        assert_mentions(&diffs, &["[prod] enablegzip", "unexpected"]);

        assert_mentions(
            &compare::compare_app_conf(&original, "no equals sign"),
            &["does not parse"],
        );
    }

    // --- nginx ---------------------------------------------------------------------------

    /// Writes a directive tree back as nginx text in another layout: one line, every argument
    /// double-quoted.
    fn print_nginx(directives: &[compare::Directive]) -> String {
        let quote = |w: &String| format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = String::new();
        for d in directives {
            let words: Vec<String> = std::iter::once(&d.name).chain(&d.args).map(quote).collect();
            out.push_str(&words.join(" "));
            match &d.block {
                Some(children) => out.push_str(&format!(" {{ {} }} ", print_nginx(children))),
                None => out.push_str("; "),
            }
        }
        out
    }

    /// Every nginx conf of every case, as (case, manifest path).
    fn all_nginx() -> Vec<(String, String)> {
        let mut files = Vec::new();
        for (case, dir) in case_dirs().unwrap_or_default() {
            let Ok(manifest) = Manifest::load(&dir.join("manifest.json")) else {
                continue;
            };
            for entry in &manifest.entries {
                if compare::file_kind(&entry.path, b"") == FileKind::Nginx
                    && dir.join(&entry.path).is_file()
                {
                    files.push((case.clone(), entry.path.clone()));
                }
            }
        }
        files
    }

    #[test]
    fn nginx_equal_to_itself_reformatted() {
        let files = all_nginx();
        assert!(files.len() > 40, "only {} nginx files", files.len());
        for (case, path) in files {
            let original = text(&case, &path);
            let tree =
                compare::parse_nginx(&original).unwrap_or_else(|e| panic!("{case}/{path}: {e}"));
            let printed = print_nginx(&tree);
            // an empty file (k2: upstream crashed while rendering) has nothing to re-lay-out
            assert!(
                tree.is_empty() || printed != original,
                "{case}/{path} was not re-laid-out"
            );
            let diffs = compare::compare_nginx(&original, &printed);
            assert!(diffs.is_empty(), "{case}/{path}: {diffs:#?}");
        }
    }

    #[test]
    fn nginx_missing_location_is_reported() {
        let original = text("b-https", "config/nginx/nginx.conf");
        let cut = replace_once(
            &original,
            "    location /v1/ {\n      return 404;\n    }\n",
            "",
        );
        let diffs = compare::compare_nginx(&original, &cut);
        assert_mentions(&diffs, &["http > server#1", "missing", "location /v1/"]);
        assert_eq!(diffs.len(), 1, "{diffs:#?}");
    }

    #[test]
    fn nginx_swapped_locations_are_reported() {
        let original = text("b-https", "config/nginx/nginx.conf");
        let tree = compare::parse_nginx(&original).unwrap_or_else(|e| panic!("{e}"));
        let mut swapped = tree.clone();
        let server = swapped
            .iter_mut()
            .find(|d| d.name == "http")
            .and_then(|h| h.block.as_mut())
            .and_then(|b| b.iter_mut().find(|d| d.name == "server"))
            .and_then(|s| s.block.as_mut())
            .unwrap_or_else(|| panic!("no http > server"));
        let c = server
            .iter()
            .position(|d| d.args == ["/c/"])
            .unwrap_or_else(|| panic!("no /c/"));
        let api = server
            .iter()
            .position(|d| d.args == ["/api/"])
            .unwrap_or_else(|| panic!("no /api/"));
        server.swap(c, api);
        let diffs = compare::compare_nginx(&original, &print_nginx(&swapped));
        assert_mentions(&diffs, &["out of order", "location"]);
    }

    #[test]
    fn nginx_changed_argument_and_nested_change_are_reported() {
        let original = text("b-https", "config/nginx/nginx.conf");
        let listen = replace_once(&original, "listen 8443 ssl;", "listen 8444 ssl;");
        assert_mentions(
            &compare::compare_nginx(&original, &listen),
            &["reference `listen 8443 ssl`", "ours `listen 8444 ssl`"],
        );

        let nested = replace_once(
            &original,
            "proxy_send_timeout 900;",
            "proxy_send_timeout 901;",
        );
        assert_mentions(
            &compare::compare_nginx(&original, &nested),
            &["location /v2/", "proxy_send_timeout 901"],
        );

        let comment = replace_once(
            &original,
            "proxy_send_timeout 900;",
            "proxy_send_timeout 900; # moved comment",
        );
        assert!(compare::compare_nginx(&original, &comment).is_empty());

        assert_mentions(
            &compare::compare_nginx(&original, "http { server {"),
            &["does not parse", "end of file"],
        );
        assert_mentions(
            &compare::compare_nginx(&original, "a 'b'c;"),
            &["does not parse", "after a quoted"],
        );
    }

    #[test]
    fn nginx_tokenizer_follows_nginx_rules() {
        let tree = compare::parse_nginx("a ${x}y \"q\\\"uoted;\" 'two words';#c\nb x#y;\n")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tree.len(), 2);
        assert_eq!(tree[0].args, ["${x}y", "q\"uoted;", "two words"]);
        assert_eq!(tree[1].args, ["x#y"]);
    }

    // --- log confs -----------------------------------------------------------------------

    #[test]
    fn log_conf_ignores_comments_and_spacing_but_not_content() {
        for path in [
            "config/log/logrotate.conf",
            "config/log/rsyslog_docker.conf",
        ] {
            let original = text("j1-log-syslog", path);
            let spaced: String = original
                .lines()
                .map(|l| {
                    format!(
                        "  {}   \n# note\n\n",
                        l.split_whitespace().collect::<Vec<_>>().join("   ")
                    )
                })
                .collect();
            let diffs = compare::compare_log_conf(&original, &spaced);
            assert!(diffs.is_empty(), "{path}: {diffs:#?}");
        }

        let original = text("a-http-default", "config/log/logrotate.conf");
        let changed = replace_once(&original, "rotate 50", "rotate 5");
        let diffs = compare::compare_log_conf(&original, &changed);
        assert_mentions(&diffs, &["missing", "rotate 50"]);
        assert_mentions(&diffs, &["unexpected", "rotate 5\""]);

        let swapped = replace_once(
            &original,
            "copytruncate\n        compress",
            "compress\n        copytruncate",
        );
        assert_mentions(
            &compare::compare_log_conf(&original, &swapped),
            &["out of order"],
        );
    }

    // --- PEM -----------------------------------------------------------------------------

    /// Standard base64 with padding.
    fn base64(data: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for k in 0..4 {
                if k <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// PEM text with the given label, wrapped at `width` columns.
    fn pem(label: &str, der: &[u8], width: usize) -> String {
        let body = base64(der);
        let lines: Vec<String> = body
            .as_bytes()
            .chunks(width)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// The decoded blocks of a PEM file, with labels.
    fn pem_blocks(data: &[u8]) -> Vec<(String, Vec<u8>)> {
        x509_parser::pem::Pem::iter_from_buffer(data)
            .map(|p| p.unwrap_or_else(|e| panic!("{e}")))
            .map(|p| (p.label, p.contents))
            .collect()
    }

    /// DER length bytes.
    fn der_length(len: usize) -> Vec<u8> {
        if len < 0x80 {
            return vec![len as u8];
        }
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }

    /// Splits DER content into (tag, content) items; only short tags, as in RSA keys.
    fn der_items(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut items = Vec::new();
        while !data.is_empty() {
            let tag = data[0];
            let (len, header) = if data[1] < 0x80 {
                (usize::from(data[1]), 2)
            } else {
                let n = usize::from(data[1] & 0x7f);
                (
                    data[2..2 + n]
                        .iter()
                        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
                    2 + n,
                )
            };
            items.push((tag, data[header..header + len].to_vec()));
            data = &data[header + len..];
        }
        items
    }

    /// Encodes one DER item.
    fn der_item(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend(der_length(content.len()));
        out.extend(content);
        out
    }

    /// A PKCS#1 key with its modulus cut to `bits` bits (structure only: not a usable key).
    fn shrink_rsa_key(pkcs1: &[u8], bits: usize) -> Vec<u8> {
        let outer = der_items(pkcs1);
        let mut items = der_items(&outer[0].1);
        let modulus = &items[1].1;
        let mut cut = modulus[modulus.len() - bits / 8..].to_vec();
        cut[0] |= 0x80;
        cut.insert(0, 0);
        items[1].1 = cut;
        let content: Vec<u8> = items.iter().flat_map(|(t, c)| der_item(*t, c)).collect();
        der_item(0x30, &content)
    }

    #[test]
    fn pem_equal_to_itself_rewrapped_and_to_another_random_run() {
        let token_key = bytes("a-http-default", "data/secret/core/private_key.pem");
        let blocks = pem_blocks(&token_key);
        let rewrapped = pem(&blocks[0].0, &blocks[0].1, 76);
        assert!(compare::compare_pem(&token_key, rewrapped.as_bytes(), true).is_empty());

        // two independent upstream runs made these: same structure, other keys
        for path in [
            "data/secret/core/private_key.pem",
            "data/secret/registry/root.crt",
        ] {
            let (a, b) = (bytes("a-http-default", path), bytes("tmpl-http", path));
            assert_ne!(a, b);
            let diffs = compare::compare_pem(&a, &b, false);
            assert!(diffs.is_empty(), "{path}: {diffs:#?}");
            assert_mentions(&compare::compare_pem(&a, &b, true), &["content differs"]);
        }
    }

    #[test]
    fn pem_rsa_2048_and_4096_differ() {
        let token_key = bytes("a-http-default", "data/secret/core/private_key.pem");
        let blocks = pem_blocks(&token_key);
        assert_eq!(blocks[0].0, "RSA PRIVATE KEY");
        let small = pem("RSA PRIVATE KEY", &shrink_rsa_key(&blocks[0].1, 2048), 64);
        let diffs = compare::compare_pem(&token_key, small.as_bytes(), false);
        assert_mentions(&diffs, &["key bits", "4096", "2048"]);
        assert_eq!(diffs.len(), 1, "{diffs:#?}");

        // certificates: the host redis CA has a 2048-bit key, the token certificate 4096 bits
        let ca = bytes("a-http-default", "host/etc/harbor/ca/redis-ca.crt");
        let token = bytes("a-http-default", "data/secret/registry/root.crt");
        assert_mentions(
            &compare::compare_pem(&token, &ca, false),
            &["key bits", "4096", "2048"],
        );
    }

    #[test]
    fn pem_flavour_subject_and_san_differences_are_reported() {
        let pkcs1 = bytes("a-http-default", "data/secret/core/private_key.pem");
        let pkcs8 = bytes(GENCERT_CASE, "hostfs/etc/harbor/tls/internal/core.key");
        assert_mentions(
            &compare::compare_pem(&pkcs1, &pkcs8, false),
            &["label", "RSA PRIVATE KEY", "PRIVATE KEY"],
        );

        let dir = "hostfs/etc/harbor/tls/internal";
        let core = bytes(GENCERT_CASE, &format!("{dir}/core.crt"));
        let portal = bytes(GENCERT_CASE, &format!("{dir}/portal.crt"));
        let diffs = compare::compare_pem(&core, &portal, false);
        assert_mentions(&diffs, &["subject", "CN=core", "CN=portal"]);
        assert_mentions(&diffs, &["subjectAltName value", "DNS:core", "DNS:portal"]);
        assert!(!diffs.iter().any(|d| d.contains("validity")), "{diffs:#?}");

        let ca = bytes(GENCERT_CASE, &format!("{dir}/harbor_internal_ca.crt"));
        let diffs = compare::compare_pem(&ca, &core, false);
        assert_mentions(&diffs, &["extension basicConstraints", "missing"]);

        let token = bytes("a-http-default", "data/secret/registry/root.crt");
        assert_mentions(
            &compare::compare_pem(&ca, &token, false),
            &["validity length", "31536000 s"],
        );

        let csr = bytes(GENCERT_CASE, &format!("{dir}/core.csr"));
        assert_mentions(
            &compare::compare_pem(&core, &csr, false),
            &["label", "CERTIFICATE REQUEST"],
        );
        assert!(compare::compare_pem(&csr, &csr, true).is_empty());

        assert_mentions(
            &compare::compare_pem(&core, b"not pem", false),
            &["not readable PEM"],
        );
    }

    #[test]
    fn key_pairs_and_issuers_are_checked() {
        let dir = "hostfs/etc/harbor/tls/internal";
        let file = |name: &str| bytes(GENCERT_CASE, &format!("{dir}/{name}"));
        assert!(compare::compare_key_pair(&file("core.crt"), &file("core.key")).is_empty());
        assert!(compare::compare_key_pair(&file("core.csr"), &file("core.key")).is_empty());
        assert_mentions(
            &compare::compare_key_pair(&file("core.crt"), &file("portal.key")),
            &["does not match"],
        );

        let token = bytes("a-http-default", "data/secret/registry/root.crt");
        let token_key = bytes("a-http-default", "data/secret/core/private_key.pem");
        assert!(compare::compare_key_pair(&token, &token_key).is_empty());

        let ca = file("harbor_internal_ca.crt");
        assert!(compare::compare_issued_by(&file("core.crt"), &ca).is_empty());
        assert_mentions(&compare::compare_issued_by(&token, &ca), &["issuer"]);
    }

    // --- random values, htpasswd, text ---------------------------------------------------

    #[test]
    fn random_shapes() {
        let hash = "$2y$05$AyUU9uI7u5e8err5rg9Itu2Ilk9ZWqNP6FASwQHqtc/99ZjHN9Y9K";
        assert_eq!(
            compare::shape_difference(hash, &hash.replacen("$05$", "$10$", 1)),
            Some("bcrypt variant/cost \"$2y$10$\", reference has \"$2y$05$\"".to_string())
        );
        let other_salt = format!("$2y$05${}", same_shape(&hash[7..]));
        assert_eq!(compare::shape_difference(hash, &other_salt), None);
        assert!(compare::shape_difference(hash, &hash.replace("$2y$", "$2b$")).is_some());
        assert!(compare::shape_difference(hash, "Harbor12345").is_some());

        assert_eq!(
            compare::shape_difference("MU4XGOBZ5xB5DCyg", "abcdefghijklmnop"),
            None
        );
        assert!(compare::shape_difference("MU4XGOBZ5xB5DCyg", "abcdefghijklmno").is_some());
        assert!(compare::shape_difference("MU4XGOBZ5xB5DCyg", "abcdefghijklmno+").is_some());
        assert!(
            compare::shape_difference(
                "49D88E725F15323BE99621AFA2600E850B87ECA7",
                "49d88e725f15323be99621afa2600e850b87eca7"
            )
            .is_some()
        );
        assert_eq!(
            compare::shape_difference(
                "49D88E725F15323BE99621AFA2600E850B87ECA7",
                "0123456789ABCDEF0123456789ABCDEF01234567"
            ),
            None
        );
    }

    #[test]
    fn htpasswd_and_text_compare_random_lines_by_shape() {
        let path = "config/registry/passwd";
        let (a, b) = (text("a-http-default", path), text("tmpl-http", path));
        let hints = hints_of("a-http-default", path);
        assert_ne!(a, b);
        assert!(compare::compare_htpasswd(&a, &b, &hints).is_empty());
        assert_mentions(
            &compare::compare_htpasswd(&a, &b.replacen("harbor_registry_user", "admin", 1), &hints),
            &["user"],
        );
        assert_mentions(
            &compare::compare_htpasswd(&a, &b, &LineHints::default()),
            &["hash differs"],
        );

        let path = "data/secret/keys/secretkey";
        let (a, b) = (text("a-http-default", path), text("tmpl-http", path));
        let hints = hints_of("a-http-default", path);
        assert!(compare::compare_text(&a, &b, &hints).is_empty());
        assert_mentions(
            &compare::compare_text(&a, &format!("{b}\n"), &hints),
            &["lines"],
        );
    }

    // --- trees ---------------------------------------------------------------------------

    /// Writes a case's reference output into OUT/ROOT as our tool would, with manifest modes
    /// (and owners when root), from `source` case's files.
    fn materialize(source: &str, out: &Path, data: &Path) {
        let dir = reference_root().join(source);
        let manifest = Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
        let as_root = out.parent().is_some_and(running_as_root);
        let mut entries: Vec<&compare::Entry> = manifest.entries.iter().collect();
        entries.sort_by_key(|e| e.path.len());
        for entry in entries {
            let target = if let Some(rest) = entry.path.strip_prefix("config/") {
                out.join("common/config").join(rest)
            } else if let Some(rest) = entry.path.strip_prefix("data/") {
                data.join(rest)
            } else {
                out.join(&entry.path)
            };
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
            }
            match entry.kind {
                compare::EntryKind::Dir => {
                    fs::create_dir_all(&target).unwrap_or_else(|e| panic!("{e}"))
                }
                compare::EntryKind::File => {
                    fs::copy(dir.join(&entry.path), &target)
                        .unwrap_or_else(|e| panic!("{}: {e}", entry.path));
                }
            }
            let mode = entry.mode_bits().unwrap_or_else(|e| panic!("{e}"));
            if as_root {
                std::os::unix::fs::chown(&target, Some(entry.uid), Some(entry.gid))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            // directories stay writable until the end, so children can be added
            let mode = if entry.kind == compare::EntryKind::Dir {
                mode | 0o700
            } else {
                mode
            };
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for entry in manifest
            .entries
            .iter()
            .filter(|e| e.kind == compare::EntryKind::Dir)
        {
            let rest = entry
                .path
                .split_once('/')
                .map(|(_, r)| r)
                .unwrap_or_default();
            let target = if entry.path.starts_with("config/") {
                out.join("common/config").join(rest)
            } else {
                data.join(rest)
            };
            let mode = entry.mode_bits().unwrap_or_else(|e| panic!("{e}"));
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Layout and mounts of a temporary "ours" for a case.
    fn temp_layout(work: &Path, manifest: &Manifest) -> Layout {
        let data_rel = manifest.data_volume.trim_start_matches('/').to_string();
        Layout {
            out: work.join("out"),
            root: work.join("root"),
            data: work.join("root").join(&data_rel),
            data_rel,
        }
    }

    /// Makes every directory below `path` writable again so the temp dir can be removed.
    fn unlock(path: &Path) {
        for rel in list_tree(path) {
            let p = path.join(rel);
            if p.is_dir() {
                let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o755));
            }
        }
    }

    #[test]
    fn every_upstream_bundle_equals_itself() {
        let mut checked = 0;
        for (case, dir) in case_dirs().unwrap_or_default() {
            let manifest =
                Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
            if case == GENCERT_CASE || manifest.exit_code != 0 {
                continue;
            }
            let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let layout = temp_layout(work.path(), &manifest);
            materialize(&case, &layout.out, &layout.data);
            let as_root = running_as_root(work.path());
            let mut diffs = compare::compare_tree(
                &manifest,
                &mounts(&dir, &layout),
                Content::Compare,
                as_root,
                compare::fallback_env_parse,
            );
            diffs.extend(bundle_checks(&dir, &manifest, &layout));
            unlock(work.path());
            assert!(diffs.is_empty(), "{case}: {diffs:#?}");
            checked += 1;
        }
        assert!(checked > 20, "only {checked} cases checked");
    }

    #[test]
    fn two_upstream_runs_of_one_input_are_equivalent() {
        // a-http-default and tmpl-http have the same input; their random values all differ
        let dir = reference_root().join("a-http-default");
        let manifest = Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
        let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let layout = temp_layout(work.path(), &manifest);
        materialize("tmpl-http", &layout.out, &layout.data);
        let as_root = running_as_root(work.path());
        let mut diffs = compare::compare_tree(
            &manifest,
            &mounts(&dir, &layout),
            Content::Compare,
            as_root,
            compare::fallback_env_parse,
        );
        diffs.extend(bundle_checks(&dir, &manifest, &layout));
        unlock(work.path());
        assert!(diffs.is_empty(), "{diffs:#?}");
    }

    #[test]
    fn tree_reports_missing_extra_and_mode_differences() {
        let dir = reference_root().join("a-http-default");
        let manifest = Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
        let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let layout = temp_layout(work.path(), &manifest);
        materialize("a-http-default", &layout.out, &layout.data);
        unlock(work.path());

        let config = layout.out.join("common/config");
        fs::remove_file(config.join("core/app.conf")).unwrap_or_else(|e| panic!("{e}"));
        fs::write(config.join("core/extra.conf"), "x").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(config.join("db/env"), fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        fs::remove_dir(config.join("core/certificates")).unwrap_or_else(|e| panic!("{e}"));
        fs::write(config.join("registry/config.yml"), "version: 0.1\n")
            .unwrap_or_else(|e| panic!("{e}"));

        let diffs = compare::compare_tree(
            &manifest,
            &mounts(&dir, &layout),
            Content::Compare,
            false,
            compare::fallback_env_parse,
        );
        assert_mentions(&diffs, &["config/core/app.conf", "missing file"]);
        assert_mentions(&diffs, &["config/core/extra.conf", "unexpected"]);
        assert_mentions(&diffs, &["config/db/env", "mode 0644, reference 0640"]);
        assert_mentions(&diffs, &["config/core/certificates", "missing directory"]);
        assert_mentions(&diffs, &["config/registry/config.yml", "storage: missing"]);

        let outside = fs::create_dir_all(layout.root.join("var/log/harbor"));
        assert!(outside.is_ok());
        assert_mentions(
            &outside_writes(&BTreeSet::new(), &layout, &BTreeSet::new()),
            &["ROOT/var", "outside"],
        );
        assert!(outside_writes(&list_tree(&layout.root), &layout, &BTreeSet::new()).is_empty());
    }

    // --- harness helpers -----------------------------------------------------------------

    #[test]
    fn stderr_must_name_the_whole_key() {
        assert!(names_key(
            "error: hostname: must not be 127.0.0.1",
            "hostname"
        ));
        assert!(names_key(
            "invalid trace.jaeger and trace.otel together",
            "trace"
        ));
        assert!(names_key(
            "https.certificate: /x does not exist",
            "https.certificate"
        ));
        assert!(!names_key("error: my_hostname is bad", "hostname"));
        assert!(!names_key("see backtrace", "trace"));
        assert!(!names_key("log.levels wrong", "log.level"));
        assert!(!names_key(
            "external_endpoint.protocol",
            "log.external_endpoint.protocol"
        ));
    }

    #[test]
    fn every_case_has_an_expectation_and_args() {
        let table = load_expectations().unwrap_or_else(|e| panic!("{e}"));
        for (case, dir) in case_dirs().unwrap_or_default() {
            let manifest =
                Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
            if case != GENCERT_CASE {
                assert!(expectation(&case, &manifest, &table).is_ok(), "{case}");
                assert!(read_args(&dir).is_ok(), "{case}");
            }
        }
        for (case, like) in EITHER_LIKE {
            assert!(
                matches!(table.get(*case), Some(Expect::Either(_))),
                "{case} is not an either case"
            );
            assert!(
                reference_root().join(like).join("manifest.json").is_file(),
                "{like}"
            );
        }
        for (case, _) in UPSTREAM_FAILURES {
            assert!(
                !table.contains_key(*case),
                "{case} is in expect.tsv already"
            );
        }
        for (case, path, _) in HOST_MODES {
            assert!(
                reference_root()
                    .join(case)
                    .join("host")
                    .join(path)
                    .is_file(),
                "{case}/{path}"
            );
        }
    }
}
