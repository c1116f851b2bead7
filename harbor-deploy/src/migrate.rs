//! `harbor-deploy migrate`: upgrade a harbor.yml or a harbor.cfg, show the diff, write safely.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use harbor_deploy::Error;
use harbor_prep::Release;
use harbor_prep::migrate::{migrate, unified_diff};

use harbor_deploy::{convert_cfg, is_legacy_cfg};

/// Exit code for input that cannot be migrated.
const EXIT_INVALID: u8 = 2;

/// Migrates `config` to `to`, prints the diff, and writes `out` when given.
pub fn run(
    config: &Path,
    to: Option<&str>,
    out: Option<PathBuf>,
    in_place: bool,
) -> Result<ExitCode, Error> {
    let release = match to {
        None => Release::latest(),
        Some(v) => match Release::find(v) {
            Some(r) => r,
            None => {
                eprintln!(
                    "error: harbor version `{v}` is not supported; supported are {}",
                    Release::names()
                );
                return Ok(ExitCode::from(EXIT_INVALID));
            }
        },
    };
    let old = harbor_deploy::read_config(config)?;
    let name = config.display().to_string();

    // --in-place alone means the input is the output; a symlink is written through, to the
    // file it names, as an editor would
    let out = match (out, in_place) {
        (None, true) => Some(config.to_path_buf()),
        (out, _) => out,
    };
    let out = out.map(|o| fs::canonicalize(&o).unwrap_or(o));

    // refuse before any work: writing over the input must be asked for, and a harbor.yml
    // under a .cfg name would be read back as a harbor.cfg
    if let Some(out) = &out {
        if is_legacy_cfg(out) {
            eprintln!(
                "error: {} ends in .cfg, but the result is a harbor.yml; choose a .yml name",
                out.display()
            );
            return Ok(ExitCode::from(EXIT_INVALID));
        }
        // a device or a pipe is no place for a harbor.yml: replacing /dev/null with one
        // would hand its passwords to every program on the machine
        if fs::metadata(out).is_ok_and(|m| !m.is_file()) {
            eprintln!(
                "error: {} is not a regular file; choose a file name for --out",
                out.display()
            );
            return Ok(ExitCode::from(EXIT_INVALID));
        }
        if same_file(config, out) && !in_place {
            eprintln!(
                "error: {} is the input itself; pass --in-place to replace it, or choose another --out",
                out.display()
            );
            return Ok(ExitCode::from(1));
        }
    }

    let new = if is_legacy_cfg(config) {
        let latest = Release::latest();
        if release.schema != latest.schema {
            eprintln!(
                "error: a harbor.cfg converts to the newest schema ({}) only; pass --to {}",
                latest.schema, latest.tag
            );
            return Ok(ExitCode::from(EXIT_INVALID));
        }
        match convert_cfg(config, &old) {
            Ok((yaml, notes)) => {
                for note in &notes {
                    eprintln!("{note}");
                }
                yaml
            }
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
        }
    } else {
        match migrate(&old, release) {
            Ok(m) => {
                for step in &m.steps {
                    eprintln!("{name}: {step}");
                }
                for removed in &m.removed {
                    eprintln!("{name}: removed {removed}");
                }
                if m.steps.is_empty() {
                    eprintln!("{name}: already at schema {}; nothing to change", m.to);
                }
                m.text
            }
            Err(issues) => {
                eprintln!("{}", Error::invalid(&name, &[], issues));
                return Ok(ExitCode::from(EXIT_INVALID));
            }
        }
    };

    let target = out
        .as_ref()
        .map(|o| o.display().to_string())
        .unwrap_or_else(|| format!("{name} (migrated)"));
    print!(
        "{}",
        mask_secrets(&unified_diff(&old, &new, &name, &target))
    );

    // the problems migration cannot fix (placeholders, a hostname to set) are worth a word
    let issues = harbor_prep::check(&new, &harbor_prep::HostFiles::new(), 0, false, release);
    let remaining: Vec<_> = issues
        .iter()
        .filter(|i| {
            i.code != harbor_prep::Code::FileMissing && i.code != harbor_prep::Code::Certificate
        })
        .collect();
    for issue in &remaining {
        eprintln!("{target}: still to fix: {issue}");
    }

    if let Some(out) = out {
        // it holds passwords: keep the input's mode, and never make it readable by others;
        // a file replaced keeps its owner, so that who could read it still can
        let meta = fs::metadata(config).ok();
        let mode = meta
            .as_ref()
            .map_or(0o600, |m| m.permissions().mode() & 0o777)
            & !0o007;
        let owner = fs::metadata(&out).ok().or(meta);
        harbor_deploy::write_atomic(&out, new.as_bytes(), mode)?;
        if let Some(m) = owner
            && rustix::process::geteuid().is_root()
        {
            std::os::unix::fs::chown(&out, Some(m.uid()), Some(m.gid())).map_err(|e| {
                Error::new(
                    harbor_deploy::ErrorKind::Io,
                    format!("cannot set the owner of {}: {e}", out.display()),
                )
            })?;
        }
        eprintln!("wrote {} (schema {})", out.display(), release.schema);
    }
    Ok(ExitCode::SUCCESS)
}

/// The diff with the values of password, secret and token keys replaced by `***`, so that it
/// can be shown in a terminal or a CI log; the file written keeps the real values.
fn mask_secrets(diff: &str) -> String {
    let mut out = String::with_capacity(diff.len());
    for line in diff.split_inclusive('\n') {
        let body = line.get(1..).unwrap_or_default();
        let key_end = body.find([':', '=']);
        let secret = key_end.is_some_and(|end| {
            let key = body[..end].trim().to_ascii_lowercase();
            !key.starts_with('#')
                && ["password", "secret", "token", "passwd"]
                    .iter()
                    .any(|w| key.contains(w))
        });
        match key_end {
            Some(end) if secret && !line.starts_with("@@") => {
                let keep = 1 + end + 1;
                out.push_str(&line[..keep]);
                out.push_str(" ***");
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
