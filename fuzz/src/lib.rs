//! Fixed inputs the fuzz targets share: host files, seed, time and a prebuilt state.
//!
//! Everything here is built once per process, so a fuzz input costs a parse, a validation and
//! at most a few template renders, never an RSA key generation.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use harbor_prep::{HostFile, HostFiles, Inputs, Release, Seed, State};

/// The time every target renders and validates at: inside the reference certificates' validity.
pub const NOW: i64 = 1_796_342_400;

/// The seed every render uses.
pub const SEED: [u8; 32] = [7; 32];

/// Where the host files come from unless `HARBOR_FUZZ_HOST` names another directory: the
/// reference case with every kind of host file (certificates, CA bundles, internal TLS).
const DEFAULT_HOST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/upstream-v2.15.2/f1-internal-tls/host"
);

/// Every file below the host directory, at its absolute path (`host/etc/x` is `/etc/x`).
///
/// A missing directory gives no files, which still lets plain-http configurations render; a
/// note is printed once so that the smaller coverage does not go unnoticed.
pub fn host_files() -> &'static HostFiles {
    static FILES: OnceLock<HostFiles> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = std::env::var_os("HARBOR_FUZZ_HOST")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_HOST));

        let mut files = HostFiles::new();
        let mut found = Vec::new();
        walk(&root, &mut found);
        if found.is_empty() {
            eprintln!(
                "harbor-prep-fuzz: no host files under {}; set HARBOR_FUZZ_HOST",
                root.display()
            );
        }

        for path in found {
            let Ok(rel) = path.strip_prefix(&root) else {
                continue;
            };
            let Ok(contents) = std::fs::read(&path) else {
                continue;
            };
            let name = format!("/{}", rel.to_string_lossy());
            let mode = mode_of(&path);
            files.insert(
                name,
                HostFile {
                    contents,
                    mode,
                    uid: 0,
                },
            );
        }
        files
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;

    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644)
}

/// A state that already holds every secret and the token key and certificate, so renders
/// reuse them instead of generating an RSA-4096 key each time.
///
/// It is the state of one render of the built-in default configuration (about a second, once
/// per process).
pub fn state() -> &'static State {
    static STATE: OnceLock<State> = OnceLock::new();
    STATE.get_or_init(|| {
        let text = harbor_prep::default_config("harbor.example.test");
        let config = match harbor_prep::Config::from_yaml(&text) {
            Ok(c) => c,
            Err(issues) => panic!("the default configuration does not parse: {issues:?}"),
        };
        let inputs = Inputs {
            config: &config,
            seed: &Seed::from_bytes(SEED),
            now: NOW,
            state: &State::new(),
            files: &HostFiles::new(),
            with_trivy: true,
            release: Release::latest(),
        };
        match harbor_prep::render(&inputs) {
            Ok(bundle) => bundle.state,
            Err(issues) => panic!("the default configuration does not render: {issues:?}"),
        }
    })
}

/// Whether a rendered path is a YAML file.
pub fn is_yaml(path: &str) -> bool {
    path.ends_with(".yml") || path.ends_with(".yaml")
}

/// Whether a rendered path is an env file for Compose's `env_file:`.
pub fn is_env(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "env" || name.ends_with(".env")
}

/// Whether `HARBOR_FUZZ_REPORT` is set: the render target then prints, for every input, how
/// many entries it rendered or why it was rejected (for checking what a corpus reaches).
pub fn report() -> bool {
    static REPORT: OnceLock<bool> = OnceLock::new();
    *REPORT.get_or_init(|| std::env::var_os("HARBOR_FUZZ_REPORT").is_some())
}
