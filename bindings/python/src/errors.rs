//! The exceptions the module raises: `HarborConfigError` for a configuration with problems, and
//! one `HarborDeployError` subclass per kind of harbor-deploy error.

use harbor_deploy::ErrorKind;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};

use crate::prep::Issue;

pyo3::create_exception!(
    harbor_prep,
    HarborConfigError,
    PyValueError,
    "The configuration has problems; `issues` lists every one."
);

pyo3::create_exception!(
    harbor_prep,
    HarborDeployError,
    PyException,
    "A harbor-deploy call failed. The message is the one the command line prints; `code` is \
     the kind as a stable upper-case name and `issues` the problems of an invalid configuration."
);

pyo3::create_exception!(
    harbor_prep,
    InvalidInput,
    HarborDeployError,
    "An option or file given is unusable (a bad time, an unreadable seed, an unknown service)."
);

pyo3::create_exception!(
    harbor_prep,
    EngineUnreachable,
    HarborDeployError,
    "No Docker engine answers at DOCKER_HOST (else /var/run/docker.sock)."
);

pyo3::create_exception!(
    harbor_prep,
    ImageMissing,
    HarborDeployError,
    "An image the bundle needs is not on the engine."
);

pyo3::create_exception!(
    harbor_prep,
    PortInUse,
    HarborDeployError,
    "A host port a container publishes is taken."
);

pyo3::create_exception!(
    harbor_prep,
    NameConflict,
    HarborDeployError,
    "A container or network name the bundle needs belongs to something else."
);

pyo3::create_exception!(
    harbor_prep,
    ContainerFailed,
    HarborDeployError,
    "A container exited, crash-loops or reports itself unhealthy."
);

pyo3::create_exception!(
    harbor_prep,
    HealthTimeout,
    HarborDeployError,
    "A container was still not healthy when the timeout ran out."
);

pyo3::create_exception!(
    harbor_prep,
    HarborIOError,
    HarborDeployError,
    "Reading or writing a file failed."
);

pyo3::create_exception!(
    harbor_prep,
    EngineError,
    HarborDeployError,
    "The Docker engine refused or failed a request."
);

/// `InvalidConfig`, made at import: it derives from both `HarborDeployError` and
/// `HarborConfigError`, which `create_exception!` (one base only) cannot express.
static INVALID_CONFIG: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `InvalidConfig`, created on first use.
fn invalid_config(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    INVALID_CONFIG
        .get_or_try_init(py, || {
            let bases = PyTuple::new(
                py,
                [
                    py.get_type::<HarborDeployError>(),
                    py.get_type::<HarborConfigError>(),
                ],
            )?;
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "harbor_prep")?;
            namespace.set_item(
                "__doc__",
                "The configuration does not validate; `issues` lists every problem. Both a \
                 HarborDeployError and a HarborConfigError.",
            )?;
            let made = py
                .get_type::<PyType>()
                .call1(("InvalidConfig", bases, namespace))?;
            Ok(made.cast_into::<PyType>()?.unbind())
        })
        .map(|t| t.bind(py))
}

/// Adds the exceptions that are made rather than declared to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("InvalidConfig", invalid_config(m.py())?)
}

/// A `HarborConfigError` with `message`, carrying `issues` as its `issues` attribute.
pub fn config_error(py: Python<'_>, message: String, issues: &[harbor_prep::Issue]) -> PyErr {
    let err = HarborConfigError::new_err(message);
    match set_issues(py, &err, issues) {
        Ok(()) => err,
        Err(e) => e,
    }
}

/// The exception of a harbor-deploy error: its kind's class, its message, and `code` and
/// `issues` set.
pub fn deploy_error(py: Python<'_>, e: &harbor_deploy::Error) -> PyErr {
    let message = e.to_string();
    let err = match e.kind() {
        ErrorKind::InvalidConfig => match invalid_config(py) {
            Ok(t) => PyErr::from_type(t.clone(), message),
            Err(e) => return e,
        },
        ErrorKind::InvalidInput => InvalidInput::new_err(message),
        ErrorKind::EngineUnreachable => EngineUnreachable::new_err(message),
        ErrorKind::ImageMissing => ImageMissing::new_err(message),
        ErrorKind::PortInUse => PortInUse::new_err(message),
        ErrorKind::NameConflict => NameConflict::new_err(message),
        ErrorKind::ContainerFailed => ContainerFailed::new_err(message),
        ErrorKind::HealthTimeout => HealthTimeout::new_err(message),
        ErrorKind::Io => HarborIOError::new_err(message),
        ErrorKind::Engine => EngineError::new_err(message),
        ErrorKind::Interrupted | ErrorKind::Other => HarborDeployError::new_err(message),
    };

    let set = set_issues(py, &err, e.issues())
        .and_then(|()| err.value(py).setattr("code", e.kind().code()));
    match set {
        Ok(()) => err,
        Err(e) => e,
    }
}

/// Sets `issues` on the exception `err`.
fn set_issues(py: Python<'_>, err: &PyErr, issues: &[harbor_prep::Issue]) -> PyResult<()> {
    let list = PyList::empty(py);
    for issue in issues {
        list.append(Issue::from_issue(issue, true))?;
    }
    err.value(py).setattr("issues", list)
}
