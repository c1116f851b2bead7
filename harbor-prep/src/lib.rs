//! Harbor's installer configuration: model, validation and rendering, with no I/O.
//!
//! harbor-prep reads a harbor.yml, checks it, and renders every file Harbor's own `prepare`
//! writes, byte for byte the same for the same inputs: secrets and keys come from a seed, and
//! the current time is an argument. Reading and writing files is the caller's business
//! (harbor-deploy does it).
//!
//! ```
//! use harbor_prep::{Config, HostFiles, Inputs, Release, Root, Seed, State};
//!
//! let text = harbor_prep::default_config("harbor.example.test");
//! let config = Config::from_yaml(&text).map_err(harbor_prep::Issues)?;
//! let (seed, state, files) = (Seed::from_bytes([7; 32]), State::new(), HostFiles::new());
//! let inputs = Inputs {
//!     config: &config,
//!     seed: &seed,
//!     now: 1_798_761_600,
//!     state: &state,
//!     files: &files,
//!     with_trivy: false,
//!     release: Release::latest(),
//! };
//! let bundle = harbor_prep::render(&inputs)?;
//! let env = bundle.text(Root::Install, "common/config/core/env").unwrap();
//! assert!(env.contains("EXT_ENDPOINT=http://harbor.example.test\n"));
//!
//! // the same inputs give the same bytes, keys included
//! assert_eq!(harbor_prep::render(&inputs)?, bundle);
//! # Ok::<(), harbor_prep::Issues>(())
//! ```

pub mod bcrypt;
mod decode;
pub mod envfile;
pub mod escape;
pub mod host;
pub mod issue;
pub mod legacy;
pub mod migrate;
pub mod model;
pub mod overlay;
pub mod pki;
pub mod release;
pub mod render;
pub mod seed;
pub mod state;
pub mod text;
pub mod validate;
pub mod value;
pub mod yaml;

pub use host::{HostFile, HostFiles};
pub use issue::{Code, Issue, Issues};
pub use model::{Config, Secret};
pub use release::{RELEASES, Release, SCHEMA_VERSIONS};
pub use render::{Bundle, Entry, Inputs, Root, render};
pub use seed::Seed;
pub use state::State;

/// The built-in default harbor.yml for `hostname`: the release template's settings, plain http.
///
/// ```
/// let text = harbor_prep::default_config("harbor.example.test");
/// let config = harbor_prep::Config::from_yaml(&text).unwrap();
/// assert_eq!(config.hostname, "harbor.example.test");
/// assert!(config.https.is_none());
/// ```
pub fn default_config(hostname: &str) -> String {
    include_str!("default.yml").replace("{{HOSTNAME}}", &escape::yaml_str(hostname))
}

/// Parses, validates and reports every problem of a harbor.yml; empty when it renders.
///
/// Host files the configuration names are checked against `files`; pass the current time as
/// unix seconds for certificate checks. A rule is applied even where reading found a problem,
/// unless the problem is at the same key, so one run shows everything that needs fixing.
pub fn check(
    text: &str,
    files: &HostFiles,
    now: i64,
    with_trivy: bool,
    _release: &Release,
) -> Vec<Issue> {
    let (config, mut issues) = Config::read(text);
    let Some(config) = config else {
        return issues;
    };

    let ctx = validate::Context {
        files,
        now,
        with_trivy,
    };
    let mut rules = validate::check(&config, ctx);
    rules.retain(|rule| {
        !issues.iter().any(|i| {
            i.path == rule.path
                || rule.path.starts_with(&format!("{}.", i.path))
                || i.path.starts_with(&format!("{}.", rule.path))
        })
    });
    issues.extend(rules);
    issues.sort_by_key(|i| i.mark.map(|m| (m.line, m.column)).unwrap_or((0, 0)));
    issues
}
