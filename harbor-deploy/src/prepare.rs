//! `prepare`, `validate` and `gencert`: render from harbor.yml and write the result safely.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use harbor_prep::overlay::{Overlay, Setupwrapper};
use harbor_prep::{Bundle, Config, Inputs, Release, Seed};

use crate::disk::{self, HostRoot};
use crate::error::{Error, InputError, typed};

/// Where the configuration comes from and how to read it: what `validate`, `prepare`, `plan`
/// and `up` share.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// The harbor.yml (a `.cfg` name selects the legacy harbor.cfg reader); without it the
    /// built-in default configuration.
    pub config: Option<PathBuf>,
    /// Hostname for the built-in default configuration (default: this machine's name).
    pub hostname: Option<String>,
    /// Prefix of every absolute host path harbor.yml names, the data volume included.
    pub root: PathBuf,
    /// Deploy the Trivy scanner too.
    pub with_trivy: bool,
    /// The Harbor release to render for (default: the newest supported).
    pub harbor_version: Option<String>,
    /// Lay `HARBOR__*` variables (and the setupwrapper's names) of this process's environment
    /// over the configuration.
    pub env: bool,
    /// With `env`, read only `HARBOR__*` variables.
    pub env_prefix_only: bool,
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions {
            config: None,
            hostname: None,
            root: PathBuf::from("/"),
            with_trivy: false,
            harbor_version: None,
            env: false,
            env_prefix_only: false,
        }
    }
}

/// Inputs of [`prepare`].
#[derive(Clone, Debug, Default)]
pub struct PrepareOptions {
    /// The configuration.
    pub render: RenderOptions,
    /// The installer directory (default: the config file's directory, or the current one).
    pub out: Option<PathBuf>,
    /// A 32-byte seed for a first run; later runs use the seed stored in the data volume.
    pub seed_file: Option<PathBuf>,
    /// The time certificates start from, in Unix seconds (default: the clock).
    pub now: Option<i64>,
}

/// What [`prepare`] did.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The installer directory (docker-compose.yml, common/config).
    pub out: PathBuf,
    /// The data volume on the host.
    pub data: PathBuf,
    /// The release rendered for, as its image tag.
    pub release: String,
    /// The configuration's hostname.
    pub hostname: String,
    /// Files written because they were new or different; empty when nothing changed.
    pub changed: Vec<PathBuf>,
    /// How many files were already as rendered.
    pub unchanged: usize,
    /// Notes of the conversion and warnings of the render, for the user to read.
    pub warnings: Vec<String>,
    /// Whether owners were set (only as root).
    pub owners_set: bool,
}

/// What [`validate`] found, when the configuration is valid.
#[derive(Clone, Debug)]
pub struct Validated {
    /// What the configuration is called in messages.
    pub name: String,
    /// The release it was checked for, as its image tag.
    pub release: String,
    /// Notes of a harbor.cfg conversion.
    pub warnings: Vec<String>,
}

/// A configuration with where it came from.
struct Source {
    /// What to call it in messages.
    name: String,
    /// Its directory, the default installer directory.
    dir: PathBuf,
    /// The harbor.yml to render.
    text: String,
    /// The variables applied on top, when `env` was given.
    overlay: Option<Overlay>,
    /// Whether lines and columns of issues point into the user's own file; not so for a
    /// converted harbor.cfg or an environment overlay, whose YAML the tool wrote.
    marks: bool,
    /// What a harbor.cfg conversion had to say.
    notes: Vec<String>,
}

/// The largest configuration file read; harbor.yml files are a few kilobytes.
const CONFIG_LIMIT: u64 = 16 << 20;

/// Reads a configuration file: text, and not larger than 16 MiB.
pub fn read_config(path: &Path) -> Result<String, Error> {
    typed(read_config_text(path))
}

fn read_config_text(path: &Path) -> Result<String> {
    let bytes = disk::read_limited(path, CONFIG_LIMIT).map_err(|e| {
        InputError::new(format!(
            "cannot read the configuration {}: {}",
            path.display(),
            disk::describe(&e)
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        InputError::new(format!(
            "{}:{line}: the file is not UTF-8 text (byte {at}); save it as UTF-8",
            path.display()
        ))
        .into()
    })
}

/// Whether `path` names a legacy harbor.cfg.
pub fn is_legacy_cfg(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "cfg")
}

/// A converted harbor.cfg: the harbor.yml text, and one line for every note and for every
/// setting that has no modern home.
pub fn convert_cfg(path: &Path, text: &str) -> Result<(String, Vec<String>), Error> {
    let name = path.display().to_string();
    match harbor_prep::legacy::convert(text) {
        Ok(conversion) => {
            let mut notes: Vec<String> = conversion
                .warnings
                .iter()
                .map(|w| format!("{name}: note: {w}"))
                .collect();
            notes.extend(
                conversion
                    .report
                    .iter()
                    .map(|u| format!("{name}: not carried over: {u}")),
            );
            Ok((conversion.yaml, notes))
        }
        Err(issues) => Err(Error::invalid(&name, &[], issues)),
    }
}

fn source(args: &RenderOptions) -> Result<Source> {
    let mut notes = Vec::new();
    let (name, dir, text, mut marks) = match &args.config {
        Some(path) => {
            let text = read_config_text(path)?;
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            let (text, marks) = if is_legacy_cfg(path) {
                let (yaml, cfg_notes) = convert_cfg(path, &text)?;
                notes = cfg_notes;
                (yaml, false)
            } else {
                (text, true)
            };
            (path.display().to_string(), dir, text, marks)
        }
        None => {
            let hostname = match &args.hostname {
                Some(h) => h.clone(),
                None => machine_name()?,
            };
            let text = harbor_prep::default_config(&hostname);
            (
                "<built-in default>".to_string(),
                PathBuf::from("."),
                text,
                true,
            )
        }
    };

    let mut overlay = None;
    let mut text = text;
    if args.env {
        let vars = environment()?;
        let mode = if args.env_prefix_only {
            Setupwrapper::Ignore
        } else {
            Setupwrapper::Honour
        };
        match harbor_prep::overlay::apply_with(&text, &vars, mode) {
            Ok(o) => {
                text = o.yaml.clone();
                overlay = Some(o);
                marks = false;
            }
            Err(issues) => return Err(Error::invalid("environment", &notes, issues).into()),
        }
    }

    let name = if overlay.is_some() {
        format!("{name} with the environment")
    } else {
        name
    };
    Ok(Source {
        name,
        dir,
        text,
        overlay,
        marks,
        notes,
    })
}

/// This process's environment as text; a variable of ours that is not UTF-8 is an error
/// rather than silently left out.
fn environment() -> Result<BTreeMap<String, String>> {
    let mut vars = BTreeMap::new();
    let mut unreadable = Vec::new();
    for (key, value) in std::env::vars_os() {
        match (key.into_string(), value.into_string()) {
            (Ok(k), Ok(v)) => {
                vars.insert(k, v);
            }
            (key, _) => {
                let name = match key {
                    Ok(k) => k,
                    Err(k) => k.to_string_lossy().into_owned(),
                };
                let ours = name.starts_with("HARBOR")
                    || harbor_prep::overlay::SETUPWRAPPER
                        .iter()
                        .any(|o| o.name == name);
                if ours {
                    unreadable.push(name);
                }
            }
        }
    }
    if !unreadable.is_empty() {
        return Err(InputError::new(format!(
            "{} not UTF-8 text, so the value cannot be used; set it as UTF-8",
            unreadable.join(", ") + if unreadable.len() == 1 { " is" } else { " are" }
        ))
        .into());
    }
    Ok(vars)
}

/// This machine's name, for the default configuration.
fn machine_name() -> Result<String> {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if name.is_empty() || name == "localhost" {
        return Err(
            InputError::new("this machine has no usable name; pass --hostname NAME").into(),
        );
    }
    Ok(name)
}

fn release(args: &RenderOptions) -> Result<&'static Release> {
    match &args.harbor_version {
        None => Ok(Release::latest()),
        Some(v) => Release::find(v).ok_or_else(|| {
            InputError::new(format!(
                "harbor version `{v}` is not supported; supported are {}",
                Release::names()
            ))
            .into()
        }),
    }
}

/// Parses an RFC 3339 time such as `2026-01-31T12:00:00Z` into Unix seconds, as `--now` takes
/// it.
pub fn parse_now(text: &str) -> Result<i64, Error> {
    let format = &time::format_description::well_known::Rfc3339;
    match time::OffsetDateTime::parse(text, format) {
        Ok(t) => typed(checked_now(t.unix_timestamp(), text)),
        Err(e) => Err(Error::new(
            crate::ErrorKind::InvalidInput,
            format!("--now `{text}` is not an RFC 3339 time such as 2026-01-31T12:00:00Z ({e})"),
        )),
    }
}

/// The given time, range-checked, or the clock.
fn now(given: Option<i64>) -> Result<i64> {
    match given {
        None => Ok(time::OffsetDateTime::now_utc().unix_timestamp()),
        Some(t) => checked_now(t, &t.to_string()),
    }
}

fn checked_now(t: i64, shown: &str) -> Result<i64> {
    if !(0..=harbor_prep::pki::NOW_MAX).contains(&t) {
        return Err(InputError::new(format!(
            "--now `{shown}` is out of range; certificates need a time from 1970 to 9989"
        ))
        .into());
    }
    Ok(t)
}

/// Reads the configuration and its host files and applies every rule.
fn checked(
    source: &Source,
    root: &HostRoot,
    with_trivy: bool,
    now: i64,
    release: &Release,
) -> Result<(Config, harbor_prep::HostFiles)> {
    let (partial, _) = Config::read(&source.text);
    let files = partial
        .as_ref()
        .map(|c| disk::host_files(c, root, with_trivy))
        .unwrap_or_default();
    let issues = harbor_prep::check(&source.text, &files, now, with_trivy, release);
    match (partial, issues.is_empty()) {
        (Some(config), true) => Ok((config, files)),
        _ => Err(invalid(source, issues).into()),
    }
}

/// The error for issues of a source: attributed to the variables that set the keys, and
/// without places when the text is the tool's own.
fn invalid(source: &Source, issues: Vec<harbor_prep::Issue>) -> Error {
    let mut issues = match &source.overlay {
        Some(overlay) => overlay.attribute(issues),
        None => issues,
    };
    if !source.marks {
        for issue in &mut issues {
            issue.mark = None;
        }
    }
    Error::invalid(&source.name, &source.notes, issues)
}

/// Checks a configuration and the host files it names (certificates, CA bundles), reporting
/// every problem at once.
pub fn validate(args: &RenderOptions, now_given: Option<i64>) -> Result<Validated, Error> {
    typed((|| {
        let source = source(args)?;
        let release = release(args)?;
        let root = HostRoot::new(&args.root);

        checked(&source, &root, args.with_trivy, now(now_given)?, release)?;
        Ok(Validated {
            name: source.name,
            release: release.tag.to_string(),
            warnings: source.notes,
        })
    })())
}

/// A bundle rendered in memory, with where it belongs on the host.
pub(crate) struct Rendered {
    pub bundle: Bundle,
    pub out: PathBuf,
    pub data: PathBuf,
    pub seed: [u8; 32],
    pub seed_is_new: bool,
    pub release: &'static Release,
    pub hostname: String,
    pub warnings: Vec<String>,
}

impl Rendered {
    /// The files of the bundle `prepare` would write because they are new or differ (the
    /// seed, written on its own, is not one of them).
    pub(crate) fn changed_files(&self) -> Vec<PathBuf> {
        self.bundle
            .entries
            .iter()
            .filter_map(|e| {
                let bytes = e.contents.as_ref()?;
                let path = disk::target(e, &self.out, &self.data);
                let same = disk::holds(&path, bytes);
                (!same).then_some(path)
            })
            .collect()
    }
}

/// Renders as `prepare` does, reusing the data volume's seed and secrets, and writes nothing.
pub(crate) fn render(
    args: &RenderOptions,
    out: Option<PathBuf>,
    seed_file: Option<&Path>,
    now_given: Option<i64>,
) -> Result<Rendered> {
    let source = source(args)?;
    let release = release(args)?;
    let root = HostRoot::new(&args.root);
    let now = now(now_given)?;
    let out = out.unwrap_or_else(|| source.dir.clone());

    let (config, files) = checked(&source, &root, args.with_trivy, now, release)?;
    let data = disk::data_dir(&config, &root);
    let state = disk::read_state(&data, &out)?;
    let (seed, seed_is_new) = seed(&data, seed_file)?;

    let inputs = Inputs {
        config: &config,
        seed: &Seed::from_bytes(seed),
        now,
        state: &state,
        files: &files,
        with_trivy: args.with_trivy,
        release,
    };
    let bundle = harbor_prep::render(&inputs).map_err(|issues| invalid(&source, issues.0))?;

    let mut warnings = source.notes.clone();
    warnings.extend(bundle.warnings.iter().cloned());
    Ok(Rendered {
        bundle,
        out,
        data,
        seed,
        seed_is_new,
        release,
        hostname: config.hostname.clone(),
        warnings,
    })
}

/// The installer directory of a run: the one given, else the config file's directory, else
/// the current one.
pub(crate) fn out_dir(args: &RenderOptions, out: Option<PathBuf>) -> PathBuf {
    out.unwrap_or_else(|| {
        args.config
            .as_deref()
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    })
}

/// The installer directory and data volume a configuration names, absolute, without
/// rendering anything.
pub(crate) fn locate(args: &RenderOptions, out: Option<PathBuf>) -> Result<(PathBuf, PathBuf)> {
    let source = source(args)?;
    let (config, issues) = Config::read(&source.text);
    let Some(config) = config else {
        return Err(invalid(&source, issues).into());
    };
    let data = disk::data_dir(&config, &HostRoot::new(&args.root));
    let out = out_dir(args, out);
    Ok((disk::absolute(&out)?, disk::absolute(&data)?))
}

/// Validates the configuration as `render` will, without its keys: a configuration that
/// does not validate is refused before the installer directory is created or locked.
pub(crate) fn precheck(args: &RenderOptions, now_given: Option<i64>) -> Result<()> {
    let source = source(args)?;
    let release = release(args)?;
    checked(
        &source,
        &HostRoot::new(&args.root),
        args.with_trivy,
        now(now_given)?,
        release,
    )?;
    Ok(())
}

/// Writes a rendered bundle, the seed first, under the installer directory's lock.
pub(crate) fn write(rendered: Rendered, lock: &disk::DirLock) -> Result<Prepared> {
    let Rendered {
        bundle,
        out,
        data,
        seed,
        seed_is_new,
        release,
        hostname,
        mut warnings,
    } = rendered;

    // what this run creates is on the list before it exists, so that a purge finds it even
    // after a run killed halfway
    let mut paths: Vec<PathBuf> = bundle
        .entries
        .iter()
        .map(|e| disk::target(e, &out, &data))
        .collect();
    paths.push(disk::seed_path(&data));
    disk::record_created(&out, &data, &paths)?;

    // the seed goes first: if anything below fails, a re-run derives the same secrets
    let path = disk::seed_path(&data);
    if seed_is_new {
        disk::make_dirs(path.parent().unwrap_or(&data))
            .with_context(|| format!("cannot create {}", data.display()))?;
        disk::write_atomic(&path, &seed, 0o600)?;
    } else if let Some(mode) = disk::tighten_mode(&path, 0o600)? {
        // every secret derives from it: it is as secret as all of them
        warnings.push(format!(
            "{} was readable by others (mode {mode:04o}); it is 0600 again",
            path.display()
        ));
    }
    let written = disk::write_bundle(&bundle, &out, &data, lock)?;

    Ok(Prepared {
        out,
        data,
        release: release.tag.to_string(),
        hostname,
        changed: written.changed,
        unchanged: written.unchanged,
        warnings,
        owners_set: written.owners_set,
    })
}

/// Renders the configuration and writes the installer tree and the data volume's secrets,
/// in two phases under a lock; a second run with the same inputs changes no file.
pub fn prepare(opts: &PrepareOptions) -> Result<Prepared, Error> {
    typed((|| {
        precheck(&opts.render, opts.now)?;
        if let Some(path) = &opts.seed_file {
            disk::read_seed(path)?;
        }
        let out = out_dir(&opts.render, opts.out.clone());
        disk::locked(&out, |lock| {
            let rendered = render(
                &opts.render,
                Some(out.clone()),
                opts.seed_file.as_deref(),
                opts.now,
            )?;
            let warning = password_change(&rendered.bundle, &rendered.out, &rendered.data);
            let mut prepared = write(rendered, lock)?;
            prepared.warnings.extend(warning);
            Ok(prepared)
        })
    })())
}

/// What [`prepare`] would do, without writing anything: the files of the bundle it would
/// write because they are new or differ, how many it would leave as they are, and its
/// warnings.
pub fn plan_prepare(opts: &PrepareOptions) -> Result<Prepared, Error> {
    typed((|| {
        let out = out_dir(&opts.render, opts.out.clone());
        let rendered = render(&opts.render, Some(out), opts.seed_file.as_deref(), opts.now)?;
        let changed = rendered.changed_files();
        let total = rendered
            .bundle
            .entries
            .iter()
            .filter(|e| e.contents.is_some())
            .count();
        let mut warnings = rendered.warnings.clone();
        warnings.extend(password_change(
            &rendered.bundle,
            &rendered.out,
            &rendered.data,
        ));
        Ok(Prepared {
            unchanged: total - changed.len(),
            changed,
            out: rendered.out,
            data: rendered.data,
            release: rendered.release.tag.to_string(),
            hostname: rendered.hostname,
            warnings,
            owners_set: disk::is_root(),
        })
    })())
}

/// A warning when the database password changes over a database that exists: PostgreSQL
/// keeps the password its cluster was created with, so the new one reaches the containers
/// but not the database.
fn password_change(bundle: &Bundle, out: &Path, data: &Path) -> Option<String> {
    let changed = db_password(bundle)? != previous_db_password(out)?;
    (changed && has_cluster(data)).then(|| {
        format!(
            "database.password changed, but the database in {} keeps the password it was created \
         with; set the new one inside PostgreSQL too (ALTER USER postgres PASSWORD ...), or \
         core will be refused by the database",
            data.join("database").display()
        )
    })
}

/// The password the bundle gives the bundled database; None with an external one.
pub(crate) fn db_password(bundle: &Bundle) -> Option<String> {
    bundle
        .entries
        .iter()
        .find(|e| e.root == harbor_prep::Root::Install && e.path == DB_ENV)
        .and_then(|e| e.contents.as_deref())
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(postgres_password)
}

/// The password the bundle already in `out` gave the database.
pub(crate) fn previous_db_password(out: &Path) -> Option<String> {
    fs::read_to_string(out.join(DB_ENV))
        .ok()
        .and_then(|t| postgres_password(&t))
}

/// Whether the data volume holds a database cluster, which keeps the password it was made with.
pub(crate) fn has_cluster(data: &Path) -> bool {
    fs::read_dir(data.join("database")).is_ok_and(|mut d| d.next().is_some())
}

const DB_ENV: &str = "common/config/db/env";

fn postgres_password(env_file: &str) -> Option<String> {
    harbor_prep::envfile::parse(env_file)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "POSTGRES_PASSWORD")
        .map(|(_, v)| v)
}

/// The data volume's seed, or the given one for a first run, or fresh randomness.
fn seed(data: &Path, given: Option<&Path>) -> Result<([u8; 32], bool)> {
    let persisted = disk::seed_path(data);
    if persisted.exists() {
        let seed = disk::read_seed(&persisted)?;
        if let Some(given) = given {
            if disk::read_seed(given)? != seed {
                return Err(InputError::new(format!(
                    "{} differs from the seed this data volume already uses ({}); keeping both \
                     would rotate every secret, so remove --seed-file or the data volume's seed",
                    given.display(),
                    persisted.display()
                ))
                .into());
            }
        }
        return Ok((seed, false));
    }
    if let Some(given) = given {
        return Ok((disk::read_seed(given)?, true));
    }
    Ok((fresh_seed()?, true))
}

fn fresh_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for a new seed: {e}"))?;
    Ok(seed)
}

/// Inputs of [`gencert`].
#[derive(Clone, Debug)]
pub struct GencertOptions {
    /// The directory to write the CA and the pairs into: an absolute one below `root`, a
    /// relative one below the current directory.
    pub path: PathBuf,
    /// Validity of the certificates in days.
    pub days: u32,
    /// Prefix for absolute paths, as for prepare.
    pub root: PathBuf,
    /// A 32-byte seed to derive the keys from (default: the data volume's seed when
    /// `<root>/data/secret/keys/seed` exists, else fresh randomness).
    pub seed_file: Option<PathBuf>,
    /// Replace files that already exist.
    pub force: bool,
    /// The time certificates start from, in Unix seconds (default: the clock).
    pub now: Option<i64>,
}

/// What [`gencert`] wrote.
#[derive(Clone, Debug)]
pub struct Gencerted {
    /// The directory written to.
    pub dir: PathBuf,
    /// The files' names.
    pub files: Vec<String>,
}

/// Where gencert writes: an absolute `-p` below `--root`, a relative one below the current
/// directory; never outside either through `..`.
fn gencert_target(dir: &Path, root: &HostRoot) -> Result<PathBuf> {
    use std::path::Component;

    if dir.components().any(|c| c == Component::ParentDir) {
        return Err(InputError::new(format!(
            "-p {} holds `..`; give the directory without it",
            dir.display()
        ))
        .into());
    }
    if dir.is_absolute() {
        Ok(root.join(&dir.to_string_lossy()))
    } else {
        Ok(dir.to_path_buf())
    }
}

/// Creates the internal-TLS CA and a certificate for every component; refuses to replace
/// files unless `force`.
pub fn gencert(opts: &GencertOptions) -> Result<Gencerted, Error> {
    typed((|| {
        let root = HostRoot::new(&opts.root);
        let target = gencert_target(&opts.path, &root)?;
        let now = now(opts.now)?;

        let seed = match &opts.seed_file {
            Some(path) => disk::read_seed(path)?,
            None => {
                let persisted = disk::seed_path(&root.join("/data"));
                if persisted.exists() {
                    disk::read_seed(&persisted)?
                } else {
                    fresh_seed()?
                }
            }
        };
        if opts.days == 0 {
            return Err(InputError::new(
                "--days 0: a certificate must be valid for at least one day",
            )
            .into());
        }
        // what fails here is the validity: an end past what a certificate can carry
        let files = harbor_prep::pki::internal_tls_bundle(&Seed::from_bytes(seed), now, opts.days)
            .map_err(|e| {
                InputError::new(format!(
                    "cannot create the certificates for --days {}: {e}; choose fewer days",
                    opts.days
                ))
            })?;

        let existing: Vec<&str> = files
            .iter()
            .filter(|f| target.join(&f.name).exists())
            .map(|f| f.name.as_str())
            .collect();
        if !existing.is_empty() && !opts.force {
            bail!(
                "{} already holds {}; nothing was written (pass --force to replace them)",
                target.display(),
                existing.join(", ")
            );
        }

        disk::make_dirs(&target).with_context(|| format!("cannot create {}", target.display()))?;
        for file in &files {
            disk::write_atomic(&target.join(&file.name), &file.contents, file.mode)?;
        }
        Ok(Gencerted {
            dir: target,
            files: files.iter().map(|f| f.name.clone()).collect(),
        })
    })())
}
