//! harbor-prep for Python: `validate`, `render` and the types they return.

use std::collections::BTreeMap;

use harbor_prep::{Config, HostFiles, Inputs, Release, Root, Secret, Seed, State};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::errors;

/// One problem with a configuration.
#[pyclass(frozen, eq, module = "harbor_prep")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Dotted key path, such as `https.private_key`; empty for the document itself.
    #[pyo3(get)]
    path: String,
    /// The line in the input, counted from 1; `None` when unknown.
    #[pyo3(get)]
    line: Option<usize>,
    /// The column in the input, counted from 1; `None` when unknown.
    #[pyo3(get)]
    column: Option<usize>,
    /// A stable kebab-case code, such as `out-of-range`.
    #[pyo3(get)]
    code: &'static str,
    /// What is wrong and what is allowed, in lower case.
    #[pyo3(get)]
    message: String,
}

impl Issue {
    /// The Python form of a crate issue; without its place when `marks` is false (the text it
    /// points into is the tool's own, not the caller's).
    pub fn from_issue(issue: &harbor_prep::Issue, marks: bool) -> Issue {
        let mark = issue.mark.filter(|_| marks);
        Issue {
            path: issue.path.clone(),
            line: mark.map(|m| m.line),
            column: mark.map(|m| m.column),
            code: issue.code.as_str(),
            message: issue.message.clone(),
        }
    }
}

#[pymethods]
impl Issue {
    fn __repr__(&self) -> String {
        format!(
            "Issue(path={}, line={}, column={}, code={}, message={})",
            crate::quoted(&self.path),
            optional(self.line),
            optional(self.column),
            crate::quoted(self.code),
            crate::quoted(&self.message)
        )
    }

    /// `line:column: path: message`, as the command line prints it.
    fn __str__(&self) -> String {
        let mut out = String::new();
        if let (Some(line), Some(column)) = (self.line, self.column) {
            out.push_str(&format!("{line}:{column}: "));
        }
        if !self.path.is_empty() {
            out.push_str(&format!("{}: ", self.path));
        }
        out.push_str(&self.message);
        out
    }
}

/// A number, or `None`, as Python writes it.
fn optional(n: Option<usize>) -> String {
    n.map_or_else(|| "None".to_string(), |n| n.to_string())
}

/// A file on the host that a configuration names (a certificate, a key, a CA bundle), for the
/// `files` argument of `validate` and `render` when its mode or owner matter; plain `bytes`
/// stand for a root-owned file of mode 0o644.
#[pyclass(frozen, module = "harbor_prep")]
pub struct HostFile {
    /// The file's bytes.
    #[pyo3(get)]
    contents: Py<PyBytes>,
    /// Permission bits.
    #[pyo3(get)]
    mode: u32,
    /// Owner.
    #[pyo3(get)]
    uid: u32,
}

#[pymethods]
impl HostFile {
    #[new]
    #[pyo3(signature = (contents, mode = 0o644, uid = 0))]
    fn new(contents: Py<PyBytes>, mode: u32, uid: u32) -> HostFile {
        HostFile {
            contents,
            mode,
            uid,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "HostFile(size={}, mode=0o{:o}, uid={})",
            self.contents.bind(py).as_bytes().len(),
            self.mode,
            self.uid
        )
    }
}

/// A value of the `files` argument: bytes, or a `HostFile`.
#[derive(FromPyObject)]
pub enum HostValue {
    /// Bytes of a root-owned file of mode 0o644.
    Bytes(Vec<u8>),
    /// A file with its mode and owner.
    File(Py<HostFile>),
}

/// A file of a rendered bundle.
#[pyclass(frozen, module = "harbor_prep")]
pub struct File {
    /// `"install"` (relative to the installer directory) or `"data"` (to the data volume).
    #[pyo3(get)]
    root: &'static str,
    /// The path below the root, with `/` separators.
    #[pyo3(get)]
    path: String,
    /// The file's bytes.
    #[pyo3(get)]
    contents: Py<PyBytes>,
    /// Permission bits, such as `0o600`.
    #[pyo3(get)]
    mode: u32,
    /// Owner.
    #[pyo3(get)]
    uid: u32,
    /// Group.
    #[pyo3(get)]
    gid: u32,
}

#[pymethods]
impl File {
    /// Never the contents: a file can hold secrets.
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "File(root={}, path={}, size={}, mode=0o{:o}, uid={}, gid={})",
            crate::quoted(self.root),
            crate::quoted(&self.path),
            self.contents.bind(py).as_bytes().len(),
            self.mode,
            self.uid,
            self.gid
        )
    }
}

/// A directory of a rendered bundle.
#[pyclass(frozen, module = "harbor_prep")]
pub struct Directory {
    /// `"install"` or `"data"`, as for [`File`].
    #[pyo3(get)]
    root: &'static str,
    /// The path below the root, with `/` separators.
    #[pyo3(get)]
    path: String,
    /// Permission bits, such as `0o755`.
    #[pyo3(get)]
    mode: u32,
    /// Owner.
    #[pyo3(get)]
    uid: u32,
    /// Group.
    #[pyo3(get)]
    gid: u32,
}

#[pymethods]
impl Directory {
    fn __repr__(&self) -> String {
        format!(
            "Directory(root={}, path={}, mode=0o{:o}, uid={}, gid={})",
            crate::quoted(self.root),
            crate::quoted(&self.path),
            self.mode,
            self.uid,
            self.gid
        )
    }
}

/// Everything a render produces: the files, the compose file, and the secrets to keep.
#[pyclass(frozen, module = "harbor_prep")]
pub struct Bundle {
    /// Every file, sorted by root then path.
    #[pyo3(get)]
    files: Vec<Py<File>>,
    /// Every directory, parents before children.
    #[pyo3(get)]
    directories: Vec<Py<Directory>>,
    /// The text of `docker-compose.yml` (also in `files`).
    #[pyo3(get)]
    compose: String,
    /// Secrets and keys by name: pass them as `state` to the next render so nothing rotates.
    #[pyo3(get)]
    state: BTreeMap<String, String>,
    /// Things worth telling the user that are not errors.
    #[pyo3(get)]
    warnings: Vec<String>,
}

#[pymethods]
impl Bundle {
    /// The file at `path` below `root` (`"install"` or `"data"`), or `None`.
    #[pyo3(signature = (path, root = "install"))]
    fn get(&self, py: Python<'_>, path: &str, root: &str) -> Option<Py<File>> {
        self.files
            .iter()
            .find(|f| f.get().root == root && f.get().path == path)
            .map(|f| f.clone_ref(py))
    }

    /// Counts only: the state and files hold secrets.
    fn __repr__(&self) -> String {
        format!(
            "Bundle(files={}, directories={}, state={} key(s), warnings={})",
            self.files.len(),
            self.directories.len(),
            self.state.len(),
            self.warnings.len()
        )
    }
}

/// The name of a root in Python.
fn root_name(root: Root) -> &'static str {
    match root {
        Root::Install => "install",
        Root::Data => "data",
    }
}

impl Bundle {
    fn from_bundle(py: Python<'_>, bundle: harbor_prep::Bundle) -> PyResult<Bundle> {
        let compose = bundle
            .text(Root::Install, "docker-compose.yml")
            .unwrap_or_default()
            .to_string();

        let mut files = Vec::new();
        let mut directories = Vec::new();
        for entry in bundle.entries {
            let root = root_name(entry.root);
            match entry.contents {
                Some(bytes) => files.push(Py::new(
                    py,
                    File {
                        root,
                        path: entry.path,
                        contents: PyBytes::new(py, &bytes).unbind(),
                        mode: entry.mode,
                        uid: entry.uid,
                        gid: entry.gid,
                    },
                )?),
                None => directories.push(Py::new(
                    py,
                    Directory {
                        root,
                        path: entry.path,
                        mode: entry.mode,
                        uid: entry.uid,
                        gid: entry.gid,
                    },
                )?),
            }
        }

        let state = bundle
            .state
            .iter()
            .map(|(k, v)| (k.to_string(), v.expose().to_string()))
            .collect();
        Ok(Bundle {
            files,
            directories,
            compose,
            state,
            warnings: bundle.warnings,
        })
    }
}

/// A configuration in harbor.yml form, and whether issue places point into the caller's text.
struct Source {
    yaml: String,
    marks: bool,
}

/// The harbor.yml of `text`: itself, or a legacy harbor.cfg converted.
fn source(text: &str, format: &str) -> PyResult<Result<Source, Vec<harbor_prep::Issue>>> {
    match format {
        "yaml" => Ok(Ok(Source {
            yaml: text.to_string(),
            marks: true,
        })),
        "cfg" => Ok(harbor_prep::legacy::convert(text).map(|c| Source {
            yaml: c.yaml,
            marks: false,
        })),
        other => Err(PyValueError::new_err(format!(
            "format `{other}` is not known; use \"yaml\" (harbor.yml) or \"cfg\" (a legacy harbor.cfg)"
        ))),
    }
}

/// The release `harbor_version` names, the newest when `None`.
pub fn release(harbor_version: Option<&str>) -> PyResult<&'static Release> {
    match harbor_version {
        None => Ok(Release::latest()),
        Some(v) => Release::find(v).ok_or_else(|| {
            PyValueError::new_err(format!(
                "harbor version `{v}` is not supported; supported are {}",
                Release::names()
            ))
        }),
    }
}

/// Unix seconds of an aware `datetime`, in the range the command line's `--now` accepts.
pub fn unix_seconds(now: &Bound<'_, PyAny>) -> PyResult<i64> {
    let py = now.py();
    let datetime = py.import("datetime")?.getattr("datetime")?;
    if !now.is_instance(&datetime)? {
        return Err(PyTypeError::new_err(
            "now must be a datetime.datetime, such as datetime.now(timezone.utc)",
        ));
    }
    if now.call_method0("utcoffset")?.is_none() {
        return Err(PyValueError::new_err(
            "now must be an aware datetime: give it a tzinfo, such as timezone.utc",
        ));
    }

    let seconds: i64 = py
        .import("calendar")?
        .call_method1("timegm", (now.call_method0("utctimetuple")?,))?
        .extract()?;
    if !(0..=harbor_prep::pki::NOW_MAX).contains(&seconds) {
        return Err(PyValueError::new_err(
            "now is out of range; certificates need a time from 1970 to 9989",
        ));
    }
    Ok(seconds)
}

/// Unix seconds of `now`, or of the clock when it is `None`.
fn seconds_or_clock(now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    match now {
        Some(now) => unix_seconds(now),
        None => {
            let clock = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_err(|_| PyValueError::new_err("the clock is before 1970"))?;
            i64::try_from(clock.as_secs())
                .map_err(|_| PyValueError::new_err("the clock is out of range"))
        }
    }
}

/// Host files from `{path: bytes | HostFile}`.
fn host_files(py: Python<'_>, files: Option<BTreeMap<String, HostValue>>) -> HostFiles {
    let mut host = HostFiles::new();
    for (path, value) in files.unwrap_or_default() {
        let file = match value {
            HostValue::Bytes(contents) => harbor_prep::HostFile {
                contents,
                mode: 0o644,
                uid: 0,
            },
            HostValue::File(f) => {
                let f = f.get();
                harbor_prep::HostFile {
                    contents: f.contents.bind(py).as_bytes().to_vec(),
                    mode: f.mode,
                    uid: f.uid,
                }
            }
        };
        host.insert(path, file);
    }
    host
}

/// The configuration's text, or the issue that keeps it from being a file's UTF-8: a `str`
/// holding lone surrogates, placed by line and column, without repeating the text.
fn text_of(text: &Bound<'_, PyString>) -> PyResult<Result<String, harbor_prep::Issue>> {
    if let Ok(t) = text.to_cow() {
        return Ok(Ok(t.into_owned()));
    }
    // its UTF-16, lone surrogates included, for the place of the first one
    let bytes: Vec<u8> = text
        .call_method1("encode", ("utf-16-le", "surrogatepass"))?
        .extract()?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .collect();
    Ok(harbor_prep::text::from_utf16(&units))
}

/// Every problem of a configuration; an empty list when it renders.
///
/// `format` is `"yaml"` (harbor.yml) or `"cfg"` (a legacy harbor.cfg, converted first; its
/// issues then carry no line and column unless they are about the cfg itself). `now` (an aware
/// datetime, default the clock) is when certificates are checked. `files` maps the absolute
/// host paths the configuration names (certificates, CA bundles; see `host_paths`) to their
/// bytes (or a `HostFile`, when mode and owner matter); a path not given is reported as
/// missing. Bad input never raises.
#[pyfunction]
#[pyo3(signature = (text, *, format = "yaml", now = None, with_trivy = false, harbor_version = None, files = None))]
pub fn validate(
    py: Python<'_>,
    text: &Bound<'_, PyString>,
    format: &str,
    now: Option<&Bound<'_, PyAny>>,
    with_trivy: bool,
    harbor_version: Option<&str>,
    files: Option<BTreeMap<String, HostValue>>,
) -> PyResult<Vec<Issue>> {
    let text = match text_of(text)? {
        Ok(t) => t,
        Err(issue) => return Ok(vec![Issue::from_issue(&issue, true)]),
    };
    let now = seconds_or_clock(now)?;
    let release = release(harbor_version)?;
    let files = host_files(py, files);

    let source = match source(&text, format)? {
        Ok(s) => s,
        Err(issues) => return Ok(issues.iter().map(|i| Issue::from_issue(i, true)).collect()),
    };
    let issues = py.detach(|| harbor_prep::check(&source.yaml, &files, now, with_trivy, release));
    Ok(issues
        .iter()
        .map(|i| Issue::from_issue(i, source.marks))
        .collect())
}

/// Renders every file Harbor needs from a configuration; raises `HarborConfigError` with every
/// problem when it has any.
///
/// `seed` (32 bytes) is what every secret and key derives from, `now` (an aware datetime) is
/// when certificates start: equal arguments give equal bytes. `state` is a previous bundle's
/// `state`: whatever it holds is reused rather than created. `files` and `format` are as for
/// `validate`. Key generation runs without the GIL.
#[pyfunction]
#[pyo3(signature = (text, *, seed, now, state = None, with_trivy = false, harbor_version = None, files = None, format = "yaml"))]
#[allow(clippy::too_many_arguments)]
pub fn render(
    py: Python<'_>,
    text: &Bound<'_, PyString>,
    seed: &[u8],
    now: &Bound<'_, PyAny>,
    state: Option<BTreeMap<String, String>>,
    with_trivy: bool,
    harbor_version: Option<&str>,
    files: Option<BTreeMap<String, HostValue>>,
    format: &str,
) -> PyResult<Bundle> {
    let seed: [u8; 32] = seed.try_into().map_err(|_| {
        PyValueError::new_err(format!(
            "seed holds {} bytes; a seed is exactly 32 bytes",
            seed.len()
        ))
    })?;
    let now = unix_seconds(now)?;
    let release = release(harbor_version)?;
    let files = host_files(py, files);
    let mut persisted = State::new();
    for (name, value) in state.unwrap_or_default() {
        persisted.set(name, Secret::new(value));
    }

    let text = text_of(text)?.map_err(|issue| config_error(py, vec![issue], true))?;
    let source = match source(&text, format)? {
        Ok(s) => s,
        Err(issues) => return Err(config_error(py, issues, true)),
    };
    let rendered = py.detach(|| {
        let issues = harbor_prep::check(&source.yaml, &files, now, with_trivy, release);
        if !issues.is_empty() {
            return Err(issues);
        }
        let config = Config::from_yaml(&source.yaml)?;
        let seed = Seed::from_bytes(seed);
        let inputs = Inputs {
            config: &config,
            seed: &seed,
            now,
            state: &persisted,
            files: &files,
            with_trivy,
            release,
        };
        harbor_prep::render(&inputs).map_err(|e| e.0)
    });

    match rendered {
        Ok(bundle) => Bundle::from_bundle(py, bundle),
        Err(issues) => Err(config_error(py, issues, source.marks)),
    }
}

/// A `HarborConfigError` for `issues`, with the crate's summary as its message.
fn config_error(py: Python<'_>, issues: Vec<harbor_prep::Issue>, marks: bool) -> PyErr {
    let mut issues = issues;
    if !marks {
        for issue in &mut issues {
            issue.mark = None;
        }
    }
    let issues = harbor_prep::Issues(issues);
    errors::config_error(py, issues.to_string(), &issues.0)
}

/// The built-in default harbor.yml for `hostname`: the release template's settings, plain http.
#[pyfunction]
pub fn default_config(hostname: &str) -> String {
    harbor_prep::default_config(hostname)
}

/// The absolute host paths a configuration names (certificates, keys, CA bundles, the internal
/// TLS directory's files), so that the caller can read them and pass them as `files`; empty
/// when the text cannot be read.
#[pyfunction]
#[pyo3(signature = (text, *, with_trivy = false, format = "yaml"))]
pub fn host_paths(
    text: &Bound<'_, PyString>,
    with_trivy: bool,
    format: &str,
) -> PyResult<Vec<String>> {
    let Ok(text) = text_of(text)? else {
        return Ok(Vec::new());
    };
    let Ok(source) = source(&text, format)? else {
        return Ok(Vec::new());
    };
    let (config, _) = Config::read(&source.yaml);
    Ok(config
        .map(|c| {
            c.host_paths(with_trivy)
                .into_iter()
                .map(|p| p.path)
                .filter(|p| p.starts_with('/'))
                .collect()
        })
        .unwrap_or_default())
}

/// The Harbor releases this module renders for, oldest first, such as `"v2.15.2"`.
#[pyfunction]
pub fn releases() -> Vec<&'static str> {
    harbor_prep::RELEASES.iter().map(|r| r.tag).collect()
}
