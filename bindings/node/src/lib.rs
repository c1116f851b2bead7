//! The Node binding of harbor-prep and harbor-deploy: the npm package `harbor-prep`.
//!
//! Thin on purpose: each function converts its JavaScript arguments, calls the Rust library
//! and converts the result back. `validate` and `render` are synchronous (they do no I/O);
//! the deploy calls (`prepare`, `up`, `plan`, `status`, `down`) return Promises and each runs
//! on a thread of its own, off the JavaScript thread and off libuv's thread pool.
//!
//! Errors carry a `code`: `InvalidArg` with an `issues` list for a configuration that does not
//! validate, or an argument that is not usable; the deploy calls reject with the codes of
//! `harbor_deploy::ErrorKind` (`ENGINE_UNREACHABLE`, `IMAGE_MISSING`, ...).

mod deploy;
mod error;
mod prep;

pub use deploy::{
    DownOptions, DownReport, Plan, PrepareOptions, Prepared, ProgressEvent, ServiceStatus, Step,
    UpOptions, UpReport, down, plan, prepare, status, up,
};
pub use error::Issue;
pub use prep::{
    Bundle, BundleDirectory, BundleFile, HostFile, HostPath, HostPathsOptions, RenderOptions,
    ValidateOptions, host_paths, render, validate,
};
