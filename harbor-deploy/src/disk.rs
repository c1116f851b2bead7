//! Everything `prepare` reads from and writes to the host's disk.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use harbor_prep::state::keys;
use harbor_prep::{Bundle, Config, HostFile, HostFiles, Root, Secret, State};

/// Where absolute paths of harbor.yml live: `/` normally, a scratch dir in tests.
#[derive(Debug, Clone)]
pub struct HostRoot(PathBuf);

impl HostRoot {
    /// A root directory.
    pub fn new(dir: impl Into<PathBuf>) -> HostRoot {
        HostRoot(dir.into())
    }

    /// `path` (absolute, as harbor.yml writes it) below the root.
    pub fn join(&self, path: &str) -> PathBuf {
        self.0.join(path.trim_start_matches('/'))
    }
}

/// Reads every host file the configuration names; absent ones are recorded as absent.
pub fn host_files(config: &Config, root: &HostRoot, with_trivy: bool) -> HostFiles {
    let mut files = HostFiles::new();
    for host_path in config.host_paths(with_trivy) {
        if !host_path.path.starts_with('/') {
            continue;
        }
        let on_disk = root.join(&host_path.path);
        match read_host_file(&on_disk) {
            Ok(file) => files.insert(host_path.path, file),
            Err(e) => files.insert_missing(host_path.path, describe(&e)),
        }
    }
    files
}

fn read_host_file(path: &Path) -> io::Result<HostFile> {
    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        return Err(io::Error::other("it is a directory, not a file"));
    }
    Ok(HostFile {
        contents: fs::read(path)?,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
    })
}

/// An io error as a short lower-case reason.
pub fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string().to_lowercase(),
    }
}

/// The data volume's directory below the root.
pub fn data_dir(config: &Config, root: &HostRoot) -> PathBuf {
    root.join(&config.data_volume)
}

/// The persisted seed of a data volume.
pub fn seed_path(data: &Path) -> PathBuf {
    data.join("secret/keys/seed")
}

/// Reads a 32-byte seed file.
pub fn read_seed(path: &Path) -> Result<[u8; 32]> {
    let bytes = fs::read(path).with_context(|| format!("cannot read seed {}", path.display()))?;
    bytes.as_slice().try_into().map_err(|_| {
        anyhow::anyhow!(
            "seed {} holds {} bytes; a seed is exactly 32 bytes",
            path.display(),
            bytes.len()
        )
    })
}

/// Secrets a previous render (ours or upstream's) left: the data volume's files, and the
/// generated values in the old env files, so that re-running rotates nothing.
pub fn read_state(data: &Path, out: &Path) -> Result<State> {
    let mut state = State::new();

    let files = [
        (keys::SECRETKEY, "secret/keys/secretkey"),
        (keys::TOKEN_KEY, "secret/core/private_key.pem"),
        (keys::TOKEN_CERT, "secret/registry/root.crt"),
    ];
    for (name, rel) in files {
        let path = data.join(rel);
        match fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    anyhow::anyhow!("{} is not text; restore it or remove it", path.display())
                })?;
                state.set(name, Secret::new(text));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => bail!("cannot read {}: {}", path.display(), describe(&e)),
        }
    }

    let env_values = [
        ("common/config/core/env", "CORE_SECRET", keys::CORE_SECRET),
        (
            "common/config/core/env",
            "JOBSERVICE_SECRET",
            keys::JOBSERVICE_SECRET,
        ),
        (
            "common/config/core/env",
            "REGISTRY_CREDENTIAL_PASSWORD",
            keys::REGISTRY_PASSWORD,
        ),
        ("common/config/core/env", "CSRF_KEY", keys::CSRF_KEY),
        (
            "common/config/core/env",
            "ROBOT_SCANNER_NAME_PREFIX",
            keys::ROBOT_PREFIX,
        ),
    ];
    for (rel, var, name) in env_values {
        let path = out.join(rel);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => bail!("cannot read {}: {}", path.display(), describe(&e)),
        };
        let Ok(pairs) = harbor_prep::envfile::parse(&text) else {
            bail!(
                "{} is not a readable env file; fix it or remove it to generate new secrets",
                path.display()
            );
        };
        if let Some((_, value)) = pairs.into_iter().rev().find(|(k, _)| k == var) {
            if !value.is_empty() {
                state.set(name, Secret::new(value));
            }
        }
    }

    Ok(state)
}

/// Whether this process may hand files to other users.
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Where an entry goes on disk.
fn target(entry: &harbor_prep::Entry, out: &Path, data: &Path) -> PathBuf {
    match entry.root {
        Root::Install => out.join(&entry.path),
        Root::Data => data.join(&entry.path),
    }
}

/// What a write did.
#[derive(Debug, Default)]
pub struct Written {
    /// Files whose bytes changed or that are new.
    pub changed: usize,
    /// Files already as rendered.
    pub unchanged: usize,
    /// Whether owners were set.
    pub owners_set: bool,
}

/// Writes the bundle: directories first, then each file through a temporary file renamed over
/// the target, so a reader sees the old file or the new one, never half of one.
pub fn write_bundle(bundle: &Bundle, out: &Path, data: &Path) -> Result<Written> {
    let owners = is_root();
    let mut written = Written {
        owners_set: owners,
        ..Written::default()
    };

    for entry in &bundle.entries {
        let path = target(entry, out, data);
        match &entry.contents {
            None => {
                if path.is_file() {
                    bail!(
                        "{} is a file, but harbor needs a directory there",
                        path.display()
                    );
                }
                fs::create_dir_all(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                fs::set_permissions(&path, fs::Permissions::from_mode(entry.mode))
                    .with_context(|| format!("cannot set the mode of {}", path.display()))?;
            }
            Some(bytes) => {
                let same = fs::read(&path).is_ok_and(|old| old == *bytes);
                if same {
                    written.unchanged += 1;
                    fs::set_permissions(&path, fs::Permissions::from_mode(entry.mode))
                        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
                } else {
                    write_atomic(&path, bytes, entry.mode)?;
                    written.changed += 1;
                }
            }
        }
        if owners {
            std::os::unix::fs::chown(&path, Some(entry.uid), Some(entry.gid))
                .with_context(|| format!("cannot set the owner of {}", path.display()))?;
        }
    }
    Ok(written)
}

/// Writes `bytes` to `path` with `mode` through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.harbor-prep-{}", std::process::id()));

    let _ = fs::remove_file(&tmp);

    // created with its final mode, so a secret is never readable by others, not even briefly
    let result = (|| -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}
