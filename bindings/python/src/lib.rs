//! The `harbor_prep` Python module: harbor-prep's validation and rendering, and harbor-deploy's
//! prepare, up, plan, status and down, for Python.
//!
//! Thin on purpose: every function converts its arguments, calls the crate, and converts the
//! result back. Calls that take long (key generation, the Docker engine) release the GIL.

mod deploy;
mod errors;
mod prep;

use pyo3::prelude::*;

/// Validate, render and deploy Harbor's installer configuration (harbor.yml).
#[pymodule(name = "harbor_prep")]
mod harbor_prep_module {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::prep::{
        Bundle, Directory, File, HostFile, Issue, default_config, host_paths, releases, render,
        validate,
    };

    #[pymodule_export]
    use crate::deploy::{
        DownReport, Plan, Prepared, Progress, ServiceStatus, Step, UpReport, Validated, check,
        down, plan, prepare, status, up,
    };

    #[pymodule_export]
    use crate::errors::{
        ContainerFailed, EngineError, EngineUnreachable, HarborConfigError, HarborDeployError,
        HarborIOError, HealthTimeout, ImageMissing, InvalidInput, NameConflict, PortInUse,
    };

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        crate::errors::register(m)
    }
}

/// `s` as Python's `repr` writes a string, for the `__repr__` of the classes.
pub(crate) fn quoted(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}
