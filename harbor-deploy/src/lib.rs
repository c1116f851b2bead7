//! Everything of harbor-prep that touches the machine: reading a configuration and the host
//! files it names, writing a rendered bundle safely, and bringing a Docker engine to it.
//!
//! The `harbor-deploy` command is a thin shell over these functions, and so are the Python
//! and Node bindings. Each returns a report of what it did, or an [`Error`] whose
//! [`ErrorKind`] a program can match on and whose message is the one the command prints.
//!
//! ```no_run
//! use harbor_deploy::{UpOptions, up};
//!
//! let mut opts = UpOptions::default();
//! opts.render.config = Some("harbor.yml".into());
//! let report = up(&opts, &mut |_| {})?;
//! println!("{} changed: {}", report.project, report.changed);
//! # Ok::<(), harbor_deploy::Error>(())
//! ```

mod compose;
mod disk;
mod engine;
mod error;
mod prepare;

pub use engine::{
    Action, DownOptions, DownReport, Plan, Progress, ServiceStatus, Step, UpOptions, UpReport,
    down, down_with, plan, status, up,
};
pub use error::{Error, ErrorKind, InputError, format_issue};
pub use prepare::{
    GencertOptions, Gencerted, PrepareOptions, Prepared, RenderOptions, Validated, convert_cfg,
    gencert, is_legacy_cfg, parse_now, plan_prepare, prepare, read_config, validate,
};

/// Writes `bytes` to `path` with `mode` through a temporary sibling and a rename, so that a
/// reader sees the old file or the new one, never half of one, and a secret is never readable
/// by others, not even briefly.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8], mode: u32) -> Result<(), Error> {
    error::typed(disk::write_atomic(path, bytes, mode))
}
