//! `prepare`, `validate` and `gencert`: render from harbor.yml and write the result safely.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use harbor_prep::overlay::{Overlay, Setupwrapper};
use harbor_prep::{Config, Inputs, Issue, Release, Seed};

use crate::RenderArgs;
use crate::disk::{self, HostRoot};

/// Exit code for input that does not validate.
const EXIT_INVALID: u8 = 2;

/// A configuration with where it came from.
struct Source {
    /// What to call it in messages.
    name: String,
    /// Its directory, the default installer directory.
    dir: PathBuf,
    /// The harbor.yml to render.
    text: String,
    /// The variables applied on top, when `--env` was given.
    overlay: Option<Overlay>,
    /// Whether lines and columns of issues point into the user's own file; not so for a
    /// converted harbor.cfg or an environment overlay, whose YAML the tool wrote.
    marks: bool,
}

/// The largest configuration file read; harbor.yml files are a few kilobytes.
const CONFIG_LIMIT: u64 = 16 << 20;

/// Reads a configuration file: text, and not larger than [`CONFIG_LIMIT`].
pub fn read_config(path: &Path) -> Result<String> {
    use std::io::Read;

    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(CONFIG_LIMIT + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read the configuration {}", path.display()))?;
    if bytes.len() as u64 > CONFIG_LIMIT {
        return Err(crate::InputError::new(format!(
            "{} is larger than {} MiB; that is no harbor.yml",
            path.display(),
            CONFIG_LIMIT >> 20
        ))
        .into());
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        crate::InputError::new(format!(
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

/// Reads a harbor.cfg and converts it, printing what has no modern equivalent.
pub fn convert_cfg(path: &Path, text: &str) -> std::result::Result<String, ExitCode> {
    let name = path.display().to_string();
    match harbor_prep::legacy::convert(text) {
        Ok(conversion) => {
            for warning in &conversion.warnings {
                eprintln!("{name}: note: {warning}");
            }
            for unmapped in &conversion.report {
                eprintln!("{name}: not carried over: {unmapped}");
            }
            Ok(conversion.yaml)
        }
        Err(issues) => {
            print_issues(&name, &issues);
            Err(ExitCode::from(EXIT_INVALID))
        }
    }
}

fn source(args: &RenderArgs) -> Result<std::result::Result<Source, ExitCode>> {
    let (name, dir, text, mut marks) = match &args.config {
        Some(path) => {
            let text = read_config(path)?;
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."));
            let (text, marks) = if is_legacy_cfg(path) {
                match convert_cfg(path, &text) {
                    Ok(yaml) => (yaml, false),
                    Err(code) => return Ok(Err(code)),
                }
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
            return Err(crate::InputError::new(format!(
                "{} not UTF-8 text, so the value cannot be used; set it as UTF-8",
                unreadable.join(", ") + if unreadable.len() == 1 { " is" } else { " are" }
            ))
            .into());
        }
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
            Err(issues) => {
                print_issues("environment", &issues);
                return Ok(Err(ExitCode::from(EXIT_INVALID)));
            }
        }
    }

    let name = if overlay.is_some() {
        format!("{name} with the environment")
    } else {
        name
    };
    Ok(Ok(Source {
        name,
        dir,
        text,
        overlay,
        marks,
    }))
}

/// This machine's name, for the default configuration.
fn machine_name() -> Result<String> {
    let name = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    if name.is_empty() || name == "localhost" {
        bail!("this machine has no usable name; pass --hostname NAME");
    }
    Ok(name)
}

fn release(args: &RenderArgs) -> Result<&'static Release> {
    match &args.harbor_version {
        None => Ok(Release::latest()),
        Some(v) => Release::find(v).with_context(|| {
            format!(
                "harbor version `{v}` is not supported; supported are {}",
                Release::names()
            )
        }),
    }
}

/// Prints every issue as `file:line:col: key: message`, the way compilers do.
pub fn print_issues(name: &str, issues: &[Issue]) {
    for issue in issues {
        let place = match issue.mark {
            Some(m) => format!("{name}:{}:{}", m.line, m.column),
            None => name.to_string(),
        };
        let key = if issue.path.is_empty() {
            String::new()
        } else {
            format!(" {}:", issue.path)
        };
        eprintln!("{place}:{key} {} [{}]", issue.message, issue.code);
    }
    eprintln!("{} problem(s) found; nothing was written", issues.len());
}

/// The latest `--now` that leaves room for ten years of certificate validity before 9999.
const NOW_MAX: i64 = 253_086_681_599;

/// Parses the time argument, or takes the clock.
fn now(arg: Option<String>) -> Result<i64> {
    let Some(text) = arg else {
        return Ok(time::OffsetDateTime::now_utc().unix_timestamp());
    };

    let format = &time::format_description::well_known::Rfc3339;
    let t = match time::OffsetDateTime::parse(&text, format) {
        Ok(t) => t.unix_timestamp(),
        Err(e) => {
            return Err(crate::InputError::new(format!(
                "--now `{text}` is not an RFC 3339 time such as 2026-01-31T12:00:00Z ({e})"
            ))
            .into());
        }
    };
    if !(0..=NOW_MAX).contains(&t) {
        return Err(crate::InputError::new(format!(
            "--now `{text}` is out of range; certificates need a time from 1970 to 9989"
        ))
        .into());
    }
    Ok(t)
}

/// Reads the configuration and its host files and applies every rule; on any problem prints
/// them all and returns the exit code.
fn checked(
    source: &Source,
    root: &HostRoot,
    with_trivy: bool,
    now: i64,
    release: &Release,
) -> std::result::Result<(Config, harbor_prep::HostFiles), ExitCode> {
    let (partial, _) = Config::read(&source.text);
    let files = partial
        .as_ref()
        .map(|c| disk::host_files(c, root, with_trivy))
        .unwrap_or_default();
    let issues = harbor_prep::check(&source.text, &files, now, with_trivy, release);
    match (partial, issues.is_empty()) {
        (Some(config), true) => Ok((config, files)),
        _ => {
            report(source, issues);
            Err(ExitCode::from(EXIT_INVALID))
        }
    }
}

/// Prints issues of a source: attributed to the variables that set the keys, and without
/// places when the text is the tool's own.
fn report(source: &Source, issues: Vec<Issue>) {
    let mut issues = match &source.overlay {
        Some(overlay) => overlay.attribute(issues),
        None => issues,
    };
    if !source.marks {
        for issue in &mut issues {
            issue.mark = None;
        }
    }
    print_issues(&source.name, &issues);
}

/// `harbor-deploy validate`.
pub fn validate(args: &RenderArgs, now_arg: Option<String>) -> Result<ExitCode> {
    let source = match source(args)? {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let release = release(args)?;
    let root = HostRoot::new(&args.root);

    if let Err(code) = checked(&source, &root, args.with_trivy, now(now_arg)?, release) {
        return Ok(code);
    }
    println!("{}: valid for harbor {}", source.name, release.tag);
    Ok(ExitCode::SUCCESS)
}

/// `harbor-deploy prepare`.
pub fn prepare(
    args: &RenderArgs,
    out: Option<PathBuf>,
    seed_file: Option<PathBuf>,
    now_arg: Option<String>,
) -> Result<ExitCode> {
    Ok(match render_and_write(args, out, seed_file, now_arg)? {
        Ok(_) => ExitCode::SUCCESS,
        Err(code) => code,
    })
}

/// Where `render_and_write` put a bundle.
pub struct Written {
    /// The installer directory (docker-compose.yml, common/config).
    pub out: PathBuf,
    /// The data volume on the host.
    pub data: PathBuf,
}

/// Renders and writes a bundle as `prepare` does; on invalid input prints every problem and
/// returns the exit code.
pub fn render_and_write(
    args: &RenderArgs,
    out: Option<PathBuf>,
    seed_file: Option<PathBuf>,
    now_arg: Option<String>,
) -> Result<std::result::Result<Written, ExitCode>> {
    let source = match source(args)? {
        Ok(s) => s,
        Err(code) => return Ok(Err(code)),
    };
    let release = release(args)?;
    let root = HostRoot::new(&args.root);
    let now = now(now_arg)?;
    let out = out.unwrap_or_else(|| source.dir.clone());

    let (config, files) = match checked(&source, &root, args.with_trivy, now, release) {
        Ok(ok) => ok,
        Err(code) => return Ok(Err(code)),
    };
    let data = disk::data_dir(&config, &root);
    let state = disk::read_state(&data, &out)?;
    let (seed, seed_is_new) = seed(&data, seed_file.as_deref())?;

    let inputs = Inputs {
        config: &config,
        seed: &Seed::from_bytes(seed),
        now,
        state: &state,
        files: &files,
        with_trivy: args.with_trivy,
        release,
    };
    let bundle = match harbor_prep::render(&inputs) {
        Ok(b) => b,
        Err(issues) => {
            report(&source, issues.0);
            return Ok(Err(ExitCode::from(EXIT_INVALID)));
        }
    };

    // the seed goes first: if anything below fails, a re-run derives the same secrets
    if seed_is_new {
        let path = disk::seed_path(&data);
        fs::create_dir_all(path.parent().unwrap_or(&data))
            .with_context(|| format!("cannot create {}", data.display()))?;
        disk::write_atomic(&path, &seed, 0o600)?;
    }
    let written = disk::write_bundle(&bundle, &out, &data)?;

    for warning in &bundle.warnings {
        eprintln!("warning: {warning}");
    }
    if !written.owners_set {
        eprintln!(
            "warning: not running as root, so files keep your user as owner; Harbor's \
             containers need the owners upstream uses (10000, 999), so run prepare as root \
             before deploying"
        );
    }
    println!(
        "prepared harbor {} for {}: {} file(s) written, {} unchanged; installer in {}, data in {}",
        release.tag,
        config.hostname,
        written.changed,
        written.unchanged,
        out.display(),
        data.display()
    );
    Ok(Ok(Written { out, data }))
}

/// The data volume's seed, or the given one for a first run, or fresh randomness.
fn seed(data: &Path, given: Option<&Path>) -> Result<([u8; 32], bool)> {
    let persisted = disk::seed_path(data);
    if persisted.exists() {
        let seed = disk::read_seed(&persisted)?;
        if let Some(given) = given {
            if disk::read_seed(given)? != seed {
                bail!(
                    "{} differs from the seed this data volume already uses ({}); keeping both \
                     would rotate every secret, so remove --seed-file or the data volume's seed",
                    given.display(),
                    persisted.display()
                );
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

/// Where gencert writes: an absolute `-p` below `--root`, a relative one below the current
/// directory; never outside either through `..`.
fn gencert_target(dir: &Path, root: &HostRoot) -> Result<PathBuf> {
    use std::path::Component;

    if dir.components().any(|c| c == Component::ParentDir) {
        return Err(crate::InputError::new(format!(
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

/// `harbor-deploy gencert`.
pub fn gencert(
    dir: &Path,
    days: u32,
    root: &Path,
    seed_file: Option<PathBuf>,
    force: bool,
    now_arg: Option<String>,
) -> Result<ExitCode> {
    let root = HostRoot::new(root);
    let target = gencert_target(dir, &root)?;
    let now = now(now_arg)?;

    let seed = match seed_file {
        Some(path) => disk::read_seed(&path)?,
        None => {
            let persisted = disk::seed_path(&root.join("/data"));
            if persisted.exists() {
                disk::read_seed(&persisted)?
            } else {
                fresh_seed()?
            }
        }
    };
    let files = harbor_prep::pki::internal_tls_bundle(&Seed::from_bytes(seed), now, days)
        .context("cannot create the certificates")?;

    let existing: Vec<&str> = files
        .iter()
        .filter(|f| target.join(&f.name).exists())
        .map(|f| f.name.as_str())
        .collect();
    if !existing.is_empty() && !force {
        eprintln!(
            "error: {} already holds {}; nothing was written (pass --force to replace them)",
            target.display(),
            existing.join(", ")
        );
        return Ok(ExitCode::from(1));
    }

    fs::create_dir_all(&target).with_context(|| format!("cannot create {}", target.display()))?;
    for file in &files {
        disk::write_atomic(&target.join(&file.name), &file.contents, file.mode)?;
    }
    println!(
        "wrote the internal TLS CA and {} file(s) to {}, valid {days} day(s)",
        files.len(),
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}
