//! `validate`, `render` and `hostPaths`: harbor-prep itself, synchronous and without I/O.

use std::collections::{BTreeMap, HashMap};

use harbor_prep::{Config, HostFiles, Inputs, Release, Root, Secret, Seed, State};
use napi::JsString;
use napi::bindgen_prelude::{
    Buffer, BufferSlice, Date, Either, Env, JsObjectValue, JsValue, Object, Result, Unknown,
    ValueType,
};
use napi_derive::napi;

use crate::error::{Issue, invalid_arg, invalid_config};

/// A file on the host that the configuration names (a certificate, a CA bundle, ...).
#[napi(object)]
pub struct HostFile {
    /// The file's bytes.
    pub contents: Buffer,
    /// Permission bits (default `0o644`).
    pub mode: Option<u32>,
    /// Owner (default 0).
    pub uid: Option<u32>,
}

/// Options of `validate`.
#[napi(object)]
pub struct ValidateOptions<'a> {
    /// How `text` is written: a harbor.yml (the default) or a harbor.cfg of Harbor 0.5 to 1.7.
    #[napi(ts_type = "'yaml' | 'cfg'")]
    pub format: Option<String>,
    /// The time certificates are checked at (default: now).
    pub now: Option<Date<'a>>,
    /// Whether Trivy is deployed too.
    pub with_trivy: Option<bool>,
    /// The Harbor release to check for, such as `v2.14.4` or `2.14` (default: the newest).
    pub harbor_version: Option<String>,
    /// The host files the configuration names, by absolute path as harbor.yml writes them
    /// (see `hostPaths`); a named file missing here is reported as missing.
    pub files: Option<HashMap<String, HostFile>>,
}

/// Options of `render`.
#[napi(object)]
pub struct RenderOptions<'a> {
    /// 32 secret bytes every generated secret and key derives from; keep it with the data.
    pub seed: Buffer,
    /// The time certificates start from.
    pub now: Date<'a>,
    /// Secrets and keys of a previous render (its `state`), so that nothing rotates.
    #[napi(ts_type = "Record<string, string>")]
    pub state: Option<Unknown<'a>>,
    /// How `text` is written: a harbor.yml (the default) or a harbor.cfg of Harbor 0.5 to 1.7.
    #[napi(ts_type = "'yaml' | 'cfg'")]
    pub format: Option<String>,
    /// Whether Trivy is deployed too.
    pub with_trivy: Option<bool>,
    /// The Harbor release to render for, such as `v2.14.4` or `2.14` (default: the newest).
    pub harbor_version: Option<String>,
    /// The host files the configuration names, by absolute path (see `hostPaths`).
    pub files: Option<HashMap<String, HostFile>>,
}

/// Options of `hostPaths`.
#[napi(object)]
pub struct HostPathsOptions {
    /// How `text` is written: a harbor.yml (the default) or a harbor.cfg.
    #[napi(ts_type = "'yaml' | 'cfg'")]
    pub format: Option<String>,
    /// Whether Trivy is deployed too (its internal-TLS pair is then needed).
    pub with_trivy: Option<bool>,
}

/// One host path a configuration refers to.
#[napi(object)]
pub struct HostPath {
    /// The dotted key that names it, such as `https.certificate`.
    pub key: String,
    /// The absolute path.
    pub path: String,
    /// Whether the configuration cannot work without it; optional files are copied when there.
    pub required: bool,
}

/// A file of a rendered bundle.
#[napi(object)]
pub struct BundleFile<'env> {
    /// The directory `path` is relative to: the installer directory or the data volume.
    #[napi(ts_type = "'install' | 'data'")]
    pub root: String,
    /// Relative path with `/` separators.
    pub path: String,
    /// The bytes, in memory the JavaScript engine owns: the garbage collector frees them
    /// without waiting for a turn of the event loop, as memory lent from Rust would.
    pub contents: BufferSlice<'env>,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// A directory of a rendered bundle.
#[napi(object)]
pub struct BundleDirectory {
    /// The directory `path` is relative to: the installer directory or the data volume.
    #[napi(ts_type = "'install' | 'data'")]
    pub root: String,
    /// Relative path with `/` separators.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// Everything a render produces.
#[napi(object)]
pub struct Bundle<'env> {
    /// Every file, sorted by root then path.
    pub files: Vec<BundleFile<'env>>,
    /// Every directory, parents before children; create them before writing the files.
    pub directories: Vec<BundleDirectory>,
    /// The text of `docker-compose.yml` (also among `files`).
    pub compose: String,
    /// The secrets and keys the bundle holds: persist them (they are secret) and pass them as
    /// `state` next time.
    pub state: BTreeMap<String, String>,
    /// Things worth telling the user that are not errors.
    pub warnings: Vec<String>,
}

/// The configuration's text, from a string or from a file's bytes, or the issue that keeps it
/// from being text: bytes that are not UTF-8, or a string holding half of a UTF-16 surrogate
/// pair, which napi would quietly turn into U+FFFD (a changed password).
fn text_of(
    text: Either<JsString, Buffer>,
) -> Result<std::result::Result<String, harbor_prep::Issue>> {
    match text {
        Either::A(s) => strict(s),
        Either::B(b) => Ok(harbor_prep::text::from_utf8(b.to_vec())),
    }
}

/// A previous render's `state`: a plain object of strings, as `render` returned it. Checked
/// here rather than by napi, whose messages repeat the value (a secret); a string that is not
/// text is refused rather than changed.
fn state_of(env: &Env, state: Option<Unknown>) -> Result<State> {
    let mut out = State::new();
    let Some(state) = state else {
        return Ok(out);
    };
    let shape = || invalid_arg("`state` must be a plain object of strings, as render returned it");
    match state.get_type()? {
        ValueType::Undefined | ValueType::Null => return Ok(out),
        ValueType::Object => {}
        _ => return Err(shape()),
    }
    let map = env.get_global()?.get_named_property::<Unknown>("Map")?;
    if state.is_array()? || state.instanceof(map)? {
        return Err(shape());
    }

    let object: Object = state.coerce_to_object()?;
    for name in Object::keys(&object)? {
        let value = object.get_named_property::<Unknown>(&name)?;
        if value.get_type()? != ValueType::String {
            return Err(invalid_arg(format!(
                "state.{name} must be a string, as render returned it"
            )));
        }
        let text = strict(value.coerce_to_string()?)?.map_err(|_| {
            invalid_arg(format!(
                "state.{name} holds a lone UTF-16 surrogate, half of a character that no file \
                 can hold; pass the state render returned"
            ))
        })?;
        out.set(name, Secret::new(text));
    }
    Ok(out)
}

/// A JavaScript string as Rust text, or the issue of a lone surrogate in it.
fn strict(s: JsString) -> Result<std::result::Result<String, harbor_prep::Issue>> {
    let utf16 = s.into_utf16()?;
    let units = utf16.as_slice();
    Ok(harbor_prep::text::from_utf16(
        units.strip_suffix(&[0]).unwrap_or(units),
    ))
}

/// Checks a configuration and returns every problem; an empty list means it renders.
///
/// Throws (code `InvalidArg`) only for unusable options, never for a bad configuration.
#[napi]
pub fn validate(
    text: Either<JsString, Buffer>,
    opts: Option<ValidateOptions>,
) -> Result<Vec<Issue>> {
    let text = match text_of(text)? {
        Ok(t) => t,
        Err(issue) => return Ok(convert(&[issue], true)),
    };
    let (format, now, with_trivy, version, files) = match opts {
        Some(o) => (o.format, o.now, o.with_trivy, o.harbor_version, o.files),
        None => (None, None, None, None, None),
    };
    let release = release(version.as_deref())?;
    let now = match now {
        Some(date) => unix_seconds(&date)?,
        None => clock(),
    };
    let files = host_files(files);

    let source = match source(&text, format.as_deref())? {
        Ok(s) => s,
        Err(issues) => return Ok(convert(&issues, true)),
    };
    let issues = harbor_prep::check(
        &source.yaml,
        &files,
        now,
        with_trivy.unwrap_or(false),
        release,
    );
    Ok(issues
        .iter()
        .map(|i| Issue::from_rust(i, source.marks))
        .collect())
}

/// Validates, then renders every file Harbor needs. Equal arguments give equal bytes.
///
/// Throws an `Error` with code `InvalidArg` and an `issues` array when the configuration does
/// not validate, or with code `InvalidArg` alone when an option is unusable.
#[napi]
pub fn render<'env>(
    env: &'env Env,
    text: Either<JsString, Buffer>,
    opts: RenderOptions,
) -> Result<Bundle<'env>> {
    let text = match text_of(text)? {
        Ok(t) => t,
        Err(issue) => return Err(invalid_config(env, vec![issue], true)),
    };
    let release = release(opts.harbor_version.as_deref())?;
    let now = unix_seconds(&opts.now)?;
    let seed = seed(&opts.seed)?;
    let with_trivy = opts.with_trivy.unwrap_or(false);
    let files = host_files(opts.files);
    let state = state_of(env, opts.state)?;

    let source = match source(&text, opts.format.as_deref())? {
        Ok(s) => s,
        Err(issues) => return Err(invalid_config(env, issues, true)),
    };
    let (config, _) = Config::read(&source.yaml);
    let issues = harbor_prep::check(&source.yaml, &files, now, with_trivy, release);
    let config = match config {
        Some(c) if issues.is_empty() => c,
        _ => return Err(invalid_config(env, issues, source.marks)),
    };

    let inputs = Inputs {
        config: &config,
        seed: &seed,
        now,
        state: &state,
        files: &files,
        with_trivy,
        release,
    };
    let bundle = harbor_prep::render(&inputs)
        .map_err(|issues| invalid_config(env, issues.0, source.marks))?;

    let compose = bundle
        .text(Root::Install, "docker-compose.yml")
        .unwrap_or_default()
        .to_string();
    let mut files = Vec::new();
    let mut directories = Vec::new();
    for entry in bundle.entries {
        let root = root_name(entry.root).to_string();
        match entry.contents {
            Some(contents) => files.push(BundleFile {
                root,
                path: entry.path,
                contents: BufferSlice::copy_from(env, contents)?,
                mode: entry.mode,
                uid: entry.uid,
                gid: entry.gid,
            }),
            None => directories.push(BundleDirectory {
                root,
                path: entry.path,
                mode: entry.mode,
                uid: entry.uid,
                gid: entry.gid,
            }),
        }
    }
    let state = bundle
        .state
        .iter()
        .map(|(k, v)| (k.to_string(), v.expose().to_string()))
        .collect();

    let mut warnings = source.notes;
    warnings.extend(bundle.warnings);
    Ok(Bundle {
        files,
        directories,
        compose,
        state,
        warnings,
    })
}

/// The host files a configuration names, so that the caller can read them and pass them as
/// `files` to `validate` and `render`. Empty when the configuration cannot be read.
#[napi]
pub fn host_paths(
    text: Either<JsString, Buffer>,
    opts: Option<HostPathsOptions>,
) -> Result<Vec<HostPath>> {
    let Ok(text) = text_of(text)? else {
        return Ok(Vec::new());
    };
    let (format, with_trivy) = match opts {
        Some(o) => (o.format, o.with_trivy.unwrap_or(false)),
        None => (None, false),
    };
    let Ok(source) = source(&text, format.as_deref())? else {
        return Ok(Vec::new());
    };
    let (config, _) = Config::read(&source.yaml);

    Ok(config
        .map(|c| c.host_paths(with_trivy))
        .unwrap_or_default()
        .into_iter()
        .map(|p| HostPath {
            key: p.key,
            path: p.path,
            required: p.required,
        })
        .collect())
}

/// A configuration as harbor.yml text.
struct Source {
    /// The harbor.yml.
    yaml: String,
    /// Whether lines and columns in `yaml` are the caller's own (not so for a converted cfg).
    marks: bool,
    /// What the conversion of a harbor.cfg has to say: unmapped keys, removed quotes.
    notes: Vec<String>,
}

/// The harbor.yml of `text`, converting a harbor.cfg; the conversion's problems otherwise.
fn source(
    text: &str,
    format: Option<&str>,
) -> Result<std::result::Result<Source, Vec<harbor_prep::Issue>>> {
    match format.unwrap_or("yaml") {
        "yaml" => Ok(Ok(Source {
            yaml: text.to_string(),
            marks: true,
            notes: Vec::new(),
        })),
        "cfg" => Ok(match harbor_prep::legacy::convert(text) {
            Ok(conversion) => {
                let mut notes: Vec<String> = conversion
                    .warnings
                    .iter()
                    .map(|w| format!("note: {w}"))
                    .collect();
                notes.extend(
                    conversion
                        .report
                        .iter()
                        .map(|u| format!("not carried over: {u}")),
                );
                Ok(Source {
                    yaml: conversion.yaml,
                    marks: false,
                    notes,
                })
            }
            Err(issues) => Err(issues),
        }),
        other => Err(invalid_arg(format!(
            "format `{other}` is not known; use `yaml` or `cfg`"
        ))),
    }
}

fn convert(issues: &[harbor_prep::Issue], marks: bool) -> Vec<Issue> {
    issues.iter().map(|i| Issue::from_rust(i, marks)).collect()
}

fn release(name: Option<&str>) -> Result<&'static Release> {
    match name {
        None => Ok(Release::latest()),
        Some(v) => Release::find(v).ok_or_else(|| {
            invalid_arg(format!(
                "harbor version `{v}` is not supported; supported are {}",
                Release::names()
            ))
        }),
    }
}

fn seed(bytes: &[u8]) -> Result<Seed> {
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
        invalid_arg(format!(
            "the seed holds {} bytes; a seed is exactly 32 bytes",
            bytes.len()
        ))
    })?;
    Ok(Seed::from_bytes(bytes))
}

/// A `Date` as unix seconds, within what certificates can take.
pub(crate) fn unix_seconds(date: &Date) -> Result<i64> {
    let ms = date
        .value_of()
        .map_err(|_| invalid_arg("`now` must be a Date"))?;
    if !ms.is_finite() {
        return Err(invalid_arg("`now` is an invalid Date"));
    }

    let seconds = (ms / 1000.0).floor();
    if !(0.0..=harbor_prep::pki::NOW_MAX as f64).contains(&seconds) {
        return Err(invalid_arg(
            "`now` is out of range; certificates need a time from 1970 to 9989",
        ));
    }
    Ok(seconds as i64)
}

fn clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(harbor_prep::pki::NOW_MAX))
        .unwrap_or(0)
}

fn host_files(files: Option<HashMap<String, HostFile>>) -> HostFiles {
    let mut out = HostFiles::new();
    for (path, file) in files.unwrap_or_default() {
        out.insert(
            path,
            harbor_prep::HostFile {
                contents: file.contents.to_vec(),
                mode: file.mode.unwrap_or(0o644),
                uid: file.uid.unwrap_or(0),
            },
        );
    }
    out
}

fn root_name(root: Root) -> &'static str {
    match root {
        Root::Install => "install",
        Root::Data => "data",
    }
}
