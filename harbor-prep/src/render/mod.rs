//! Rendering: from a validated configuration to every file Harbor needs.
//!
//! One context, built once from the configuration and the secrets, feeds every template, so no
//! file depends on the order in which files are rendered. Each component has its own module.

mod context;
mod files;
mod templates;

pub(crate) use context::env_values;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::host::HostFiles;
use crate::issue::{Code, Issue, Issues};
use crate::model::Config;
use crate::release::Release;
use crate::seed::Seed;
use crate::state::State;
use crate::validate;

pub use context::Secrets;

/// Upstream's service user and group.
pub const HARBOR_UID: u32 = 10000;
/// The PostgreSQL and Redis user and group in Harbor's images.
pub const DB_UID: u32 = 999;

/// Which directory an entry's path is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Root {
    /// The installer directory (`--out`): `docker-compose.yml` and `common/config/...`.
    Install,
    /// The data volume (`data_volume` in harbor.yml): `secret/...`, `database`, ...
    Data,
}

/// A file or directory of the bundle.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The directory `path` is relative to.
    pub root: Root,
    /// Relative path with `/` separators.
    pub path: String,
    /// The file's bytes; `None` for a directory.
    pub contents: Option<Vec<u8>>,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("root", &self.root)
            .field("path", &self.path)
            .field("len", &self.contents.as_ref().map(Vec::len))
            .field("mode", &format_args!("{:04o}", self.mode))
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .finish()
    }
}

impl Entry {
    /// Whether the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.contents.is_none()
    }
}

/// Everything a render produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Files and directories, sorted by root then path; parents come before children.
    pub entries: Vec<Entry>,
    /// The secrets and keys the bundle holds, to persist and hand back next time.
    pub state: State,
    /// Things worth telling the user that are not errors.
    pub warnings: Vec<String>,
}

impl Bundle {
    /// The entry at `path` under `root`.
    pub fn get(&self, root: Root, path: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| e.root == root && e.path == path)
    }

    /// The contents of the file at `path` under `root`, as text.
    pub fn text(&self, root: Root, path: &str) -> Option<&str> {
        self.get(root, path)
            .and_then(|e| e.contents.as_deref())
            .and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Everything a render depends on. Equal inputs give byte-equal bundles.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// The seed all secrets and keys derive from.
    pub seed: &'a Seed,
    /// The current time, unix seconds: certificates start here.
    pub now: i64,
    /// Secrets and keys from a previous render; whatever it holds is reused.
    pub state: &'a State,
    /// The host files the configuration names.
    pub files: &'a HostFiles,
    /// Whether Trivy is deployed.
    pub with_trivy: bool,
    /// The Harbor release to render for.
    pub release: &'a Release,
}

/// Validates, then renders. On any problem nothing is rendered and every problem is returned.
pub fn render(inputs: &Inputs<'_>) -> Result<Bundle, Issues> {
    let ctx = validate::Context {
        files: inputs.files,
        now: inputs.now,
        with_trivy: inputs.with_trivy,
    };
    let mut issues = validate::check(inputs.config, ctx);
    issues.extend(inputs.state.check());
    if !issues.is_empty() {
        return Err(Issues(issues));
    }

    let (secrets, state) = context::secrets(inputs).map_err(|e| {
        Issues(vec![Issue::new(
            "",
            None,
            Code::Certificate,
            format!("cannot create keys: {e}"),
        )])
    })?;
    let context = context::build(inputs, &secrets).map_err(Issues)?;

    let mut out = files::Out::default();
    files::all(&mut out, inputs, &context, &secrets).map_err(Issues)?;

    Ok(Bundle {
        entries: out.finish(),
        state,
        warnings: context::warnings(inputs.config, inputs.release)
            .into_iter()
            .chain(inputs.state.unknown().map(|name| {
                format!(
                    "the state holds `{name}`, which is no secret harbor-prep keeps (a typo of \
                     one would get a new value); it is passed on unused"
                )
            }))
            .collect(),
    })
}

/// Files keyed by path for tests and bindings: `install:` or `data:` then the path.
pub fn by_path(bundle: &Bundle) -> BTreeMap<String, &Entry> {
    bundle
        .entries
        .iter()
        .map(|e| {
            let root = match e.root {
                Root::Install => "install",
                Root::Data => "data",
            };
            (format!("{root}:{}", e.path), e)
        })
        .collect()
}
