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

/// The largest host file read (a certificate, a CA bundle); such files are kilobytes.
const HOST_FILE_LIMIT: u64 = 16 << 20;

fn read_host_file(path: &Path) -> io::Result<HostFile> {
    let contents = read_limited(path, HOST_FILE_LIMIT)?;
    let meta = fs::metadata(path)?;
    Ok(HostFile {
        contents,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
    })
}

/// Reads a regular file of at most `limit` bytes. A directory, a FIFO or a device (which may
/// block, or never end) and anything larger are refused with a reason.
pub(crate) fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;

    let meta = fs::metadata(path)?;
    if meta.is_dir() {
        return Err(io::Error::other("it is a directory, not a file"));
    }
    if !meta.is_file() {
        return Err(io::Error::other(
            "it is not a regular file (a pipe or a device)",
        ));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::other(format!("it is larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// Creates a directory and its missing parents, each `rwxr-xr-x` whatever the process's umask
/// (a library caller's may be 000); the bundle then sets its own directories' modes.
pub fn make_dirs(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;

    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
}

/// `path` made absolute against the current directory, without resolving symlinks.
pub(crate) fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// Bytes as lower-case hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
    // a seed is tiny: a regular file of a few bytes, never a device or a pipe
    let bytes = read_limited(path, 1024).map_err(|e| {
        crate::error::InputError::new(format!(
            "cannot read seed {}: {}",
            path.display(),
            describe(&e)
        ))
    })?;
    bytes.as_slice().try_into().map_err(|_| {
        crate::error::InputError::new(format!(
            "seed {} holds {} bytes; a seed is exactly 32 bytes",
            path.display(),
            bytes.len()
        ))
        .into()
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
        match read_limited(&path, STATE_FILE_LIMIT) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|_| {
                    let advice = if name == keys::SECRETKEY {
                        "restore the original: it encrypts stored passwords, so a new one loses them"
                    } else {
                        "restore it, or remove it to have a new one made"
                    };
                    crate::error::InputError::new(format!("{} is not text; {advice}", path.display()))
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
        let bytes = match read_limited(&path, STATE_FILE_LIMIT) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => bail!("cannot read {}: {}", path.display(), describe(&e)),
        };
        let Ok(pairs) = String::from_utf8(bytes)
            .map_err(drop)
            .and_then(|text| harbor_prep::envfile::parse(&text).map_err(drop))
        else {
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
pub(crate) fn target(entry: &harbor_prep::Entry, out: &Path, data: &Path) -> PathBuf {
    match entry.root {
        Root::Install => out.join(&entry.path),
        Root::Data => data.join(&entry.path),
    }
}

/// What a write did.
#[derive(Debug, Default)]
pub struct Written {
    /// Files whose bytes changed or that are new.
    pub changed: Vec<PathBuf>,
    /// Files already as rendered.
    pub unchanged: usize,
    /// Whether owners were set.
    pub owners_set: bool,
}

/// Writes the bundle in two phases, under a lock on the installer directory: first every
/// directory and every changed file's temporary sibling, then the renames. A failure in the
/// first phase (a full disk, a directory where a file belongs) changes no file; a reader sees
/// each file old or new, never half of one. Temporaries a killed run left behind are removed.
pub fn write_bundle(bundle: &Bundle, out: &Path, data: &Path, _lock: &DirLock) -> Result<Written> {
    let owners = is_root();
    let mut written = Written {
        owners_set: owners,
        ..Written::default()
    };
    remove_leftovers(out);

    let mut staged: Vec<(PathBuf, PathBuf, &harbor_prep::Entry)> = Vec::new();
    let result = (|| -> Result<()> {
        for entry in &bundle.entries {
            let path = target(entry, out, data);
            match &entry.contents {
                None => {
                    if path.exists() && !path.is_dir() {
                        bail!(
                            "{} is not a directory, but harbor needs a directory there",
                            path.display()
                        );
                    }
                    make_dirs(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    fs::set_permissions(&path, fs::Permissions::from_mode(entry.mode))
                        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
                    remove_leftovers(&path);
                }
                Some(bytes) => {
                    if path.is_dir() {
                        bail!(
                            "{} is a directory, but harbor needs a file there",
                            path.display()
                        );
                    }
                    // reading a pipe would wait for a writer forever
                    if fs::symlink_metadata(&path)
                        .is_ok_and(|m| !m.file_type().is_file() && !m.file_type().is_symlink())
                    {
                        bail!(
                            "{} is not a regular file (a pipe or a device), but harbor needs a \
                             file there; remove it",
                            path.display()
                        );
                    }
                    if holds(&path, bytes) {
                        written.unchanged += 1;
                        staged.push((path.clone(), path, entry));
                    } else {
                        let tmp = temporary(&path)?;
                        write_new(&tmp, bytes, entry.mode)
                            .with_context(|| format!("cannot write {}", path.display()))?;
                        written.changed.push(path.clone());
                        staged.push((tmp, path, entry));
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        for (tmp, path, _) in &staged {
            if tmp != path {
                let _ = fs::remove_file(tmp);
            }
        }
        return Err(e);
    }

    for (tmp, path, entry) in &staged {
        if tmp != path {
            fs::rename(tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
        } else {
            fs::set_permissions(path, fs::Permissions::from_mode(entry.mode))
                .with_context(|| format!("cannot set the mode of {}", path.display()))?;
        }
    }
    if owners {
        for entry in &bundle.entries {
            let path = target(entry, out, data);
            std::os::unix::fs::chown(&path, Some(entry.uid), Some(entry.gid))
                .with_context(|| format!("cannot set the owner of {}", path.display()))?;
        }
    }
    Ok(written)
}

/// Whether `path` is a regular file (or a link to one) holding exactly `bytes`; a pipe or a
/// device is never read.
pub(crate) fn holds(path: &Path, bytes: &[u8]) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file()) && fs::read(path).is_ok_and(|old| old == bytes)
}

/// The largest secret or env file of an earlier bundle read back (keys and env files are a
/// few kilobytes).
const STATE_FILE_LIMIT: u64 = 1 << 20;

/// An exclusive lock on an installer directory, held from reading the state to the end of
/// a run, so that two runs on one installation take turns instead of interleaving their
/// files, seeds or containers; `down` takes it too.
pub struct DirLock {
    _file: fs::File,
    held: PathBuf,
}

/// The installer directories this process holds locked, and the thread holding each: a second
/// lock on one of them from that thread (a progress callback of `up` calling `prepare` or
/// `down` on the same installation) would wait for itself forever, so it is refused instead.
/// Other threads wait their turn, as other processes do.
static HELD: std::sync::Mutex<std::collections::BTreeMap<PathBuf, std::thread::ThreadId>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

impl Drop for DirLock {
    fn drop(&mut self) {
        HELD.lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.held);
    }
}

/// Locks the installer directory itself (no lock file is left behind), creating it first;
/// waits while another run holds it.
pub fn lock(out: &Path) -> Result<DirLock> {
    make_dirs(out).with_context(|| format!("cannot create {}", out.display()))?;
    lock_dir(out)
}

/// Locks an installer directory that exists, as [`lock`] does; None when it does not exist.
pub fn lock_if_exists(out: &Path) -> Result<Option<DirLock>> {
    if !out.is_dir() {
        return Ok(None);
    }
    lock_dir(out).map(Some)
}

fn lock_dir(out: &Path) -> Result<DirLock> {
    let held =
        fs::canonicalize(out).with_context(|| format!("cannot resolve {}", out.display()))?;
    let this = std::thread::current().id();
    if HELD.lock().unwrap_or_else(|p| p.into_inner()).get(&held) == Some(&this) {
        return Err(crate::error::InputError::new(format!(
            "{} is being deployed by this process (by the up whose progress callback this \
             is?); run this after that up returns",
            out.display()
        ))
        .into());
    }
    let file = fs::File::open(out).with_context(|| format!("cannot open {}", out.display()))?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
        .with_context(|| format!("cannot lock {}", out.display()))?;
    HELD.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(held.clone(), this);
    Ok(DirLock { _file: file, held })
}

/// Runs `work` under the lock of the installer directory `out`. When the run fails and the
/// directory did not exist before it, the directory goes again (if empty), so that a refused
/// run leaves nothing behind.
pub fn locked<T>(out: &Path, work: impl FnOnce(&DirLock) -> Result<T>) -> Result<T> {
    let existed = out.exists();
    let lock = lock(out)?;
    let result = work(&lock);
    drop(lock);
    if result.is_err() && !existed {
        let _ = fs::remove_dir(out);
    }
    result
}

/// Sets `path` to `mode` when its mode gives more away (to the group or others); returns the
/// mode it had then, None when it was as strict already or the file is missing.
pub fn tighten_mode(path: &Path, mode: u32) -> Result<Option<u32>> {
    let Ok(meta) = fs::metadata(path) else {
        return Ok(None);
    };
    let had = meta.mode() & 0o7777;
    if had & !mode == 0 {
        return Ok(None);
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    Ok(Some(had))
}

/// The temporary sibling a file is written to before it replaces `path`.
fn temporary(path: &Path) -> Result<PathBuf> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(dir.join(format!(".{name}{TEMP_MARK}")))
}

/// What marks a temporary file of ours.
const TEMP_MARK: &str = ".harbor-prep-tmp";

/// Removes temporaries a killed run left in `dir` (today's name, and the older per-process one).
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".harbor-prep-") && entry.path().is_file() {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates `path` anew with its final mode, so a secret is never readable by others, not even
/// briefly, and writes it to disk.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(bytes)?;
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.sync_all()
}

/// Writes `bytes` to `path` with `mode` through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = temporary(path)?;
    let result = write_new(&tmp, bytes, mode).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

/// Where, in a data volume, harbor-deploy lists what it created (beside the seed), so that a
/// purge deletes what the installation made and nothing that was there before it: one entry
/// a line, `data <path relative to the data volume>` (`.` for the data volume itself) or
/// `install <absolute path>` for what it made in an installer directory.
pub(crate) fn created_path(data: &Path) -> PathBuf {
    data.join("secret/keys/created")
}

/// What creating `path` creates below `base`: the first directory or file between them that
/// does not exist yet. None when `path` exists or is not below `base`.
fn first_missing(base: &Path, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(base).ok()?;
    let mut at = PathBuf::new();
    for part in rel.components() {
        at.push(part);
        if fs::symlink_metadata(base.join(&at)).is_err() {
            return Some(at);
        }
    }
    None
}

/// What harbor-deploy made of an installation, as listed in its data volume.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Created {
    /// Below the data volume, relative; `.` for the data volume itself.
    pub data: Vec<PathBuf>,
    /// In the installer directory, absolute.
    pub install: Vec<PathBuf>,
}

/// Records, before they are made, the paths below `out` and `data` that making `paths` will
/// create, adding them to the list the data volume holds.
pub(crate) fn record_created(out: &Path, data: &Path, paths: &[PathBuf]) -> Result<()> {
    // absolute, so that a purge run from elsewhere finds the same places
    let (out, data) = (&absolute(out)?, &absolute(data)?);
    let paths = paths
        .iter()
        .map(|p| absolute(p))
        .collect::<Result<Vec<_>>>()?;
    let mut list = created(data)?;
    let before = (list.data.len(), list.install.len());
    if fs::symlink_metadata(data).is_err() {
        // a purge deletes what was made in a data volume it made too, one entry at a time,
        // and the volume itself only once it is empty: what the user put there later stays
        list.data.push(PathBuf::from("."));
    }
    list.data
        .extend(paths.iter().filter_map(|p| first_missing(data, p)));
    list.install.extend(
        paths
            .iter()
            .filter(|p| !p.starts_with(data))
            .filter_map(|p| first_missing(out, p))
            .map(|rel| out.join(rel)),
    );
    list.data.sort();
    list.data.dedup();
    list.install.sort();
    list.install.dedup();
    if (list.data.len(), list.install.len()) == before {
        return Ok(());
    }

    let text: String = list
        .data
        .iter()
        .map(|p| format!("data {}\n", p.display()))
        .chain(
            list.install
                .iter()
                .map(|p| format!("install {}\n", p.display())),
        )
        .collect();
    let path = created_path(data);
    if let Some(dir) = path.parent() {
        make_dirs(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomic(&path, text.as_bytes(), 0o600)
}

/// What harbor-deploy recorded as created for the installation whose data volume is `data`.
/// Only plain relative data paths and absolute install paths without `..` count, so that an
/// edited list cannot point a purge elsewhere.
pub(crate) fn created(data: &Path) -> Result<Created> {
    let path = created_path(data);
    // a list of a few dozen lines; anything else is not ours
    let text = match read_limited(&path, 1 << 20).map(String::from_utf8) {
        Ok(Ok(t)) => t,
        Ok(Err(_)) => bail!("{} is not a list harbor-deploy wrote", path.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Created::default()),
        Err(e) => bail!("cannot read {}: {}", path.display(), describe(&e)),
    };
    let plain = |p: &Path| {
        p.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::RootDir
            )
        })
    };
    let mut list = Created::default();
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("data", p)) if p == "." => list.data.push(PathBuf::from(p)),
            Some(("data", p)) if Path::new(p).is_relative() && plain(Path::new(p)) => {
                list.data.push(PathBuf::from(p));
            }
            Some(("install", p)) if Path::new(p).is_absolute() && plain(Path::new(p)) => {
                list.install.push(PathBuf::from(p));
            }
            _ => {}
        }
    }
    Ok(list)
}

/// Where a data volume keeps a digest of the password its database last accepted, so that a
/// change is noticed even when the containers and the old env file are gone.
fn db_password_path(data: &Path) -> PathBuf {
    data.join("secret/keys/database")
}

/// The digest of a database password: keyed by the seed, so that it tells nothing without it.
fn db_password_digest(seed: &[u8; 32], password: &str) -> String {
    use sha2::{Digest, Sha256};

    let mut h = Sha256::new();
    h.update(b"harbor-deploy database password\0");
    h.update(seed);
    h.update(password.as_bytes());
    hex(&h.finalize())
}

/// Records that the data volume's database accepts `password`.
pub(crate) fn record_db_password(
    out: &Path,
    data: &Path,
    seed: &[u8; 32],
    password: &str,
) -> Result<()> {
    write_record(
        out,
        data,
        &db_password_path(data),
        &db_password_digest(seed, password),
    )
}

/// Whether `password` is the one the data volume's database last accepted; None when no
/// record says.
pub(crate) fn db_password_recorded(data: &Path, seed: &[u8; 32], password: &str) -> Option<bool> {
    let recorded = read_record(&db_password_path(data))?;
    Some(recorded == db_password_digest(seed, password))
}

/// Where a data volume keeps the newest Harbor release that ran on it: the database a release
/// migrated cannot go back to an older one.
fn release_path(data: &Path) -> PathBuf {
    data.join("secret/keys/release")
}

/// Records that `tag` ran on the data volume, unless a newer one did.
pub(crate) fn record_release(out: &Path, data: &Path, tag: &str) -> Result<()> {
    let rank = harbor_prep::Release::rank;
    if recorded_release(data).is_some_and(|old| rank(&old) >= rank(tag)) {
        return Ok(());
    }
    write_record(out, data, &release_path(data), tag)
}

/// The newest release recorded to have run on the data volume.
pub(crate) fn recorded_release(data: &Path) -> Option<String> {
    read_record(&release_path(data))
}

/// Writes a one-line record of the data volume (0600), listed as created, unless it holds
/// `value` already.
fn write_record(out: &Path, data: &Path, path: &Path, value: &str) -> Result<()> {
    if read_record(path).as_deref() == Some(value) {
        return Ok(());
    }
    record_created(out, data, &[path.to_path_buf()])?;
    write_atomic(path, format!("{value}\n").as_bytes(), 0o600)
}

/// A one-line record's value; None when it is missing or is no such record.
fn read_record(path: &Path) -> Option<String> {
    let text = String::from_utf8(read_limited(path, 1024).ok()?).ok()?;
    Some(text.trim().to_string())
}
