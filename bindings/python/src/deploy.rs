//! harbor-deploy for Python: `check`, `prepare`, `plan`, `up`, `status` and `down`, each a
//! blocking call that releases the GIL, and the reports they return.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use harbor_deploy::{PrepareOptions, RenderOptions, UpOptions};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;

use crate::errors;
use crate::prep::unix_seconds;

/// A path as Python text.
fn text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// What `check` found, when the configuration is valid.
#[pyclass(frozen, module = "harbor_prep")]
pub struct Validated {
    /// What the configuration is called in messages.
    #[pyo3(get)]
    name: String,
    /// The release it was checked for, such as `"v2.15.2"`.
    #[pyo3(get)]
    release: String,
    /// Notes of a harbor.cfg conversion.
    #[pyo3(get)]
    warnings: Vec<String>,
}

#[pymethods]
impl Validated {
    fn __repr__(&self) -> String {
        format!(
            "Validated(name={}, release={}, warnings={})",
            crate::quoted(&self.name),
            crate::quoted(&self.release),
            self.warnings.len()
        )
    }
}

/// What `prepare` did.
#[pyclass(frozen, module = "harbor_prep")]
pub struct Prepared {
    /// The installer directory (docker-compose.yml, common/config).
    #[pyo3(get)]
    out: String,
    /// The data volume on the host.
    #[pyo3(get)]
    data: String,
    /// The release rendered for, such as `"v2.15.2"`.
    #[pyo3(get)]
    release: String,
    /// The configuration's hostname.
    #[pyo3(get)]
    hostname: String,
    /// Files written because they were new or different; empty when nothing changed.
    #[pyo3(get)]
    changed: Vec<String>,
    /// How many files were already as rendered.
    #[pyo3(get)]
    unchanged: usize,
    /// Notes of the conversion and warnings of the render.
    #[pyo3(get)]
    warnings: Vec<String>,
    /// Whether owners were set (only as root).
    #[pyo3(get)]
    owners_set: bool,
}

impl From<harbor_deploy::Prepared> for Prepared {
    fn from(p: harbor_deploy::Prepared) -> Prepared {
        Prepared {
            out: text(&p.out),
            data: text(&p.data),
            release: p.release,
            hostname: p.hostname,
            changed: p.changed.iter().map(|c| text(c)).collect(),
            unchanged: p.unchanged,
            warnings: p.warnings,
            owners_set: p.owners_set,
        }
    }
}

#[pymethods]
impl Prepared {
    fn __repr__(&self) -> String {
        format!(
            "Prepared(out={}, data={}, release={}, changed={}, unchanged={})",
            crate::quoted(&self.out),
            crate::quoted(&self.data),
            crate::quoted(&self.release),
            self.changed.len(),
            self.unchanged
        )
    }
}

/// One service's part in a plan.
#[pyclass(frozen, module = "harbor_prep")]
#[derive(Clone)]
pub struct Step {
    /// Compose service name.
    #[pyo3(get)]
    service: String,
    /// Container name.
    #[pyo3(get)]
    container: String,
    /// `"keep"`, `"start"`, `"create"`, `"recreate"`, `"restart"` or `"remove"`.
    #[pyo3(get)]
    action: &'static str,
    /// Why, in words.
    #[pyo3(get)]
    reason: String,
}

impl From<&harbor_deploy::Step> for Step {
    fn from(s: &harbor_deploy::Step) -> Step {
        Step {
            service: s.service.clone(),
            container: s.container.clone(),
            action: s.action.as_str(),
            reason: s.reason.clone(),
        }
    }
}

#[pymethods]
impl Step {
    fn __repr__(&self) -> String {
        format!(
            "Step(service={}, action={}, reason={})",
            crate::quoted(&self.service),
            crate::quoted(self.action),
            crate::quoted(&self.reason)
        )
    }
}

/// What `up` would do; computing it changes nothing.
#[pyclass(frozen, module = "harbor_prep")]
pub struct Plan {
    /// The project.
    #[pyo3(get)]
    project: String,
    /// Every service in start order, then the containers to remove.
    #[pyo3(get)]
    steps: Vec<Step>,
    /// Whether anything would change: files of the bundle or containers.
    #[pyo3(get)]
    changed: bool,
    /// Files `prepare` would write because they are new or different.
    #[pyo3(get)]
    files: Vec<String>,
    /// What `up` would warn about.
    #[pyo3(get)]
    warnings: Vec<String>,
}

#[pymethods]
impl Plan {
    fn __repr__(&self) -> String {
        format!(
            "Plan(project={}, steps={}, changed={}, files={})",
            crate::quoted(&self.project),
            self.steps.len(),
            if self.changed { "True" } else { "False" },
            self.files.len()
        )
    }
}

/// What `up` did.
#[pyclass(frozen, module = "harbor_prep")]
pub struct UpReport {
    /// The project.
    #[pyo3(get)]
    project: String,
    /// Every service in start order, then the removed containers.
    #[pyo3(get)]
    steps: Vec<Step>,
    /// Whether any container or file changed.
    #[pyo3(get)]
    changed: bool,
    /// The bundle written.
    #[pyo3(get)]
    prepared: Py<Prepared>,
    /// Seconds from the start to all healthy.
    #[pyo3(get)]
    elapsed: f64,
}

#[pymethods]
impl UpReport {
    fn __repr__(&self) -> String {
        format!(
            "UpReport(project={}, steps={}, changed={}, elapsed={:.1})",
            crate::quoted(&self.project),
            self.steps.len(),
            if self.changed { "True" } else { "False" },
            self.elapsed
        )
    }
}

/// One event of `up`, for a progress display.
#[pyclass(frozen, module = "harbor_prep")]
pub struct Progress {
    /// `"planned"`, `"working"`, `"waiting"`, `"ready"`, `"removed"` or `"warning"`.
    #[pyo3(get)]
    kind: &'static str,
    /// The service; `None` for `"planned"` and `"warning"`.
    #[pyo3(get)]
    service: Option<String>,
    /// For `"working"`: what is done to the service, as `Step.action`.
    #[pyo3(get)]
    action: Option<&'static str>,
    /// For `"waiting"`: the container's state (`running`, `created`, ...).
    #[pyo3(get)]
    state: Option<String>,
    /// For `"waiting"`: its health (`starting`, `probing`, `none`, ...).
    #[pyo3(get)]
    health: Option<String>,
    /// For `"waiting"` and `"ready"`: seconds since `up` began.
    #[pyo3(get)]
    elapsed: Option<f64>,
    /// For `"planned"`: every step, before anything is touched; else empty.
    #[pyo3(get)]
    steps: Vec<Step>,
    /// For `"warning"`: something about the configuration worth reading.
    #[pyo3(get)]
    message: Option<String>,
}

impl From<&harbor_deploy::Progress> for Progress {
    fn from(p: &harbor_deploy::Progress) -> Progress {
        use harbor_deploy::Progress as P;

        let mut out = Progress {
            kind: "planned",
            service: None,
            action: None,
            state: None,
            health: None,
            elapsed: None,
            steps: Vec::new(),
            message: None,
        };
        match p {
            P::Planned(steps) => out.steps = steps.iter().map(Step::from).collect(),
            P::Working { service, action } => {
                out.kind = "working";
                out.service = Some(service.clone());
                out.action = Some(action.as_str());
            }
            P::Waiting {
                service,
                state,
                health,
                elapsed,
            } => {
                out.kind = "waiting";
                out.service = Some(service.clone());
                out.state = Some(state.clone());
                out.health = Some(health.clone());
                out.elapsed = Some(elapsed.as_secs_f64());
            }
            P::Ready { service, elapsed } => {
                out.kind = "ready";
                out.service = Some(service.clone());
                out.elapsed = Some(elapsed.as_secs_f64());
            }
            P::Removed { service } => {
                out.kind = "removed";
                out.service = Some(service.clone());
            }
            P::Warning(message) => {
                out.kind = "warning";
                out.message = Some(message.clone());
            }
        }
        out
    }
}

#[pymethods]
impl Progress {
    fn __repr__(&self) -> String {
        format!(
            "Progress(kind={}, service={})",
            crate::quoted(self.kind),
            self.service
                .as_deref()
                .map_or_else(|| "None".to_string(), crate::quoted)
        )
    }
}

/// One service of a project on the engine.
#[pyclass(frozen, module = "harbor_prep")]
pub struct ServiceStatus {
    /// Compose service name.
    #[pyo3(get)]
    service: String,
    /// Container name.
    #[pyo3(get)]
    container: String,
    /// The container ID's first 12 characters.
    #[pyo3(get)]
    id: String,
    /// `running`, `exited`, `created`, ...
    #[pyo3(get)]
    state: String,
    /// `healthy`, `unhealthy`, `starting`, or `none` without a health check.
    #[pyo3(get)]
    health: String,
    /// Image reference.
    #[pyo3(get)]
    image: String,
    /// Published ports as `host_ip:host_port->port/proto`.
    #[pyo3(get)]
    ports: Vec<String>,
}

#[pymethods]
impl ServiceStatus {
    fn __repr__(&self) -> String {
        format!(
            "ServiceStatus(service={}, state={}, health={})",
            crate::quoted(&self.service),
            crate::quoted(&self.state),
            crate::quoted(&self.health)
        )
    }
}

/// What `down` did.
#[pyclass(frozen, module = "harbor_prep")]
pub struct DownReport {
    /// The project.
    #[pyo3(get)]
    project: String,
    /// Services whose containers were removed, in reverse start order.
    #[pyo3(get)]
    removed: Vec<String>,
    /// Whether the project's network was removed.
    #[pyo3(get)]
    network_removed: bool,
    /// What a purge deleted: what the installation created.
    #[pyo3(get)]
    purged: Vec<String>,
    /// Directories of the data volume a purge left: they were there before the installation.
    #[pyo3(get)]
    kept: Vec<String>,
}

#[pymethods]
impl DownReport {
    fn __repr__(&self) -> String {
        format!(
            "DownReport(project={}, removed={}, network_removed={}, purged={})",
            crate::quoted(&self.project),
            self.removed.len(),
            if self.network_removed {
                "True"
            } else {
                "False"
            },
            self.purged.len()
        )
    }
}

/// The options every call that reads a configuration shares.
#[allow(clippy::too_many_arguments)]
fn render_options(
    config: Option<PathBuf>,
    root: PathBuf,
    hostname: Option<String>,
    with_trivy: bool,
    harbor_version: Option<String>,
    env: bool,
    env_prefix_only: bool,
) -> RenderOptions {
    RenderOptions {
        config,
        hostname,
        root,
        with_trivy,
        harbor_version,
        env,
        env_prefix_only,
    }
}

/// Checks a configuration file and the host files it names (below `root`), as
/// `harbor-deploy validate` does; raises `InvalidConfig` with every problem.
///
/// Without `config` the built-in default for `hostname` is checked. A name ending in `.cfg`
/// is read as a legacy harbor.cfg. `env` lays `HARBOR__*` variables over the configuration.
#[pyfunction]
#[pyo3(
    signature = (config = None, *, root = PathBuf::from("/"), hostname = None, with_trivy = false, harbor_version = None, env = false, env_prefix_only = false, now = None),
    text_signature = "(config=None, *, root='/', hostname=None, with_trivy=False, harbor_version=None, env=False, env_prefix_only=False, now=None)"
)]
#[allow(clippy::too_many_arguments)]
pub fn check(
    py: Python<'_>,
    config: Option<PathBuf>,
    root: PathBuf,
    hostname: Option<String>,
    with_trivy: bool,
    harbor_version: Option<String>,
    env: bool,
    env_prefix_only: bool,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<Validated> {
    let now = now.map(unix_seconds).transpose()?;
    let opts = render_options(
        config,
        root,
        hostname,
        with_trivy,
        harbor_version,
        env,
        env_prefix_only,
    );

    let validated = py
        .detach(|| harbor_deploy::validate(&opts, now))
        .map_err(|e| errors::deploy_error(py, &e))?;
    Ok(Validated {
        name: validated.name,
        release: validated.release,
        warnings: validated.warnings,
    })
}

/// Renders a configuration file and writes the installer tree to `out` and the data volume's
/// secrets, as `harbor-deploy prepare` does; a second run with the same inputs changes no
/// file (`Prepared.changed` is empty).
///
/// `out` defaults to the configuration's directory; `root` prefixes every absolute host path
/// harbor.yml names, the data volume included. `seed_file` (32 bytes) seeds a first run; later
/// runs use the seed stored in the data volume. `now` (an aware datetime, default the clock)
/// is when certificates start. With `dry_run`, nothing is written: `Prepared.changed` lists
/// what would be. Raises `InvalidConfig` with every problem, or another `HarborDeployError`
/// with the command line's message.
#[pyfunction]
#[pyo3(
    signature = (config = None, out = None, *, root = PathBuf::from("/"), hostname = None, with_trivy = false, harbor_version = None, env = false, env_prefix_only = false, seed_file = None, now = None, dry_run = false),
    text_signature = "(config=None, out=None, *, root='/', hostname=None, with_trivy=False, harbor_version=None, env=False, env_prefix_only=False, seed_file=None, now=None, dry_run=False)"
)]
#[allow(clippy::too_many_arguments)]
pub fn prepare(
    py: Python<'_>,
    config: Option<PathBuf>,
    out: Option<PathBuf>,
    root: PathBuf,
    hostname: Option<String>,
    with_trivy: bool,
    harbor_version: Option<String>,
    env: bool,
    env_prefix_only: bool,
    seed_file: Option<PathBuf>,
    now: Option<&Bound<'_, PyAny>>,
    dry_run: bool,
) -> PyResult<Prepared> {
    let opts = PrepareOptions {
        render: render_options(
            config,
            root,
            hostname,
            with_trivy,
            harbor_version,
            env,
            env_prefix_only,
        ),
        out,
        seed_file,
        now: now.map(unix_seconds).transpose()?,
    };

    py.detach(|| {
        if dry_run {
            harbor_deploy::plan_prepare(&opts)
        } else {
            harbor_deploy::prepare(&opts)
        }
    })
    .map(Prepared::from)
    .map_err(|e| errors::deploy_error(py, &e))
}

/// The options of `plan` and `up`.
#[allow(clippy::too_many_arguments)]
fn up_options(
    config: Option<PathBuf>,
    out: Option<PathBuf>,
    project: &str,
    hostname: Option<String>,
    with_trivy: bool,
    harbor_version: Option<String>,
    env: bool,
    env_prefix_only: bool,
    image_prefix: Option<String>,
    images: Option<PathBuf>,
    timeout: f64,
    publish_loopback: bool,
    port_offset: u16,
) -> PyResult<UpOptions> {
    let timeout = Duration::try_from_secs_f64(timeout).map_err(|_| {
        PyValueError::new_err(format!(
            "timeout {timeout} is not a usable number of seconds"
        ))
    })?;
    Ok(UpOptions {
        render: render_options(
            config,
            PathBuf::from("/"),
            hostname,
            with_trivy,
            harbor_version,
            env,
            env_prefix_only,
        ),
        out,
        project: project.to_string(),
        image_prefix,
        images,
        timeout,
        publish_loopback,
        port_offset,
        cancel: None,
    })
}

/// What `up` would create, recreate, restart or remove, and which files `prepare` would
/// write; writes nothing, to the disk or the engine. Arguments as for `up`.
#[pyfunction]
#[pyo3(signature = (config = None, out = None, *, project = "harbor", hostname = None, with_trivy = false, harbor_version = None, env = false, env_prefix_only = false, image_prefix = None, images = None, publish_loopback = false, port_offset = 0))]
#[allow(clippy::too_many_arguments)]
pub fn plan(
    py: Python<'_>,
    config: Option<PathBuf>,
    out: Option<PathBuf>,
    project: &str,
    hostname: Option<String>,
    with_trivy: bool,
    harbor_version: Option<String>,
    env: bool,
    env_prefix_only: bool,
    image_prefix: Option<String>,
    images: Option<PathBuf>,
    publish_loopback: bool,
    port_offset: u16,
) -> PyResult<Plan> {
    let opts = up_options(
        config,
        out,
        project,
        hostname,
        with_trivy,
        harbor_version,
        env,
        env_prefix_only,
        image_prefix,
        images,
        300.0,
        publish_loopback,
        port_offset,
    )?;

    let plan = py
        .detach(|| harbor_deploy::plan(&opts))
        .map_err(|e| errors::deploy_error(py, &e))?;
    Ok(Plan {
        project: plan.project,
        steps: plan.steps.iter().map(Step::from).collect(),
        changed: plan.changed,
        files: plan.files.iter().map(|f| text(f)).collect(),
        warnings: plan.warnings,
    })
}

/// Renders and writes the bundle as `prepare` does, then brings the Docker engine (found as
/// the command line finds it: `DOCKER_HOST`, else /var/run/docker.sock) to it, and returns
/// once every container is healthy. A second call with nothing changed touches nothing.
///
/// `project` names the network and labels every container. `images` is a YAML file mapping
/// service names to image references; `image_prefix` prefixes every image. `timeout` is in
/// seconds. `publish_loopback` and `port_offset` keep a test deployment on 127.0.0.1.
/// `progress`, when given, is called with each `Progress` event; an exception it raises is
/// reported as unraisable and does not stop the deployment, but a `KeyboardInterrupt` or
/// `SystemExit` (from the callback or Ctrl-C) stops `up` at its next step or poll and is
/// raised once it has.
#[pyfunction]
#[pyo3(signature = (config = None, out = None, *, project = "harbor", hostname = None, with_trivy = false, harbor_version = None, env = false, env_prefix_only = false, image_prefix = None, images = None, timeout = 300.0, publish_loopback = false, port_offset = 0, progress = None))]
#[allow(clippy::too_many_arguments)]
pub fn up(
    py: Python<'_>,
    config: Option<PathBuf>,
    out: Option<PathBuf>,
    project: &str,
    hostname: Option<String>,
    with_trivy: bool,
    harbor_version: Option<String>,
    env: bool,
    env_prefix_only: bool,
    image_prefix: Option<String>,
    images: Option<PathBuf>,
    timeout: f64,
    publish_loopback: bool,
    port_offset: u16,
    progress: Option<Py<PyAny>>,
) -> PyResult<UpReport> {
    let opts = up_options(
        config,
        out,
        project,
        hostname,
        with_trivy,
        harbor_version,
        env,
        env_prefix_only,
        image_prefix,
        images,
        timeout,
        publish_loopback,
        port_offset,
    )?;

    // Ctrl-C (or another signal whose handler raises) stops up at its next step or poll: each
    // event takes the GIL to run the callback and Python's signal handlers, nothing more
    let cancel = Arc::new(AtomicBool::new(false));
    let opts = UpOptions {
        cancel: Some(cancel.clone()),
        ..opts
    };
    let mut raised: Option<PyErr> = None;
    let report = py.detach(|| {
        harbor_deploy::up(&opts, &mut |event| {
            Python::attach(|py| {
                if let Some(callback) = &progress {
                    let result = Py::new(py, Progress::from(event))
                        .and_then(|event| callback.call1(py, (event,)));
                    match result {
                        Ok(_) => {}
                        // KeyboardInterrupt and SystemExit are not errors of the callback
                        Err(e) if !e.is_instance_of::<PyException>(py) => {
                            raised.get_or_insert(e);
                        }
                        Err(e) => e.write_unraisable(py, Some(callback.bind(py))),
                    }
                }
                if let Err(e) = py.check_signals() {
                    raised.get_or_insert(e);
                }
                if raised.is_some() {
                    cancel.store(true, Ordering::SeqCst);
                }
            });
        })
    });

    // an interrupt stands even when it came with the last event and up had nothing left to do
    if let Some(signal) = raised {
        return Err(signal);
    }
    let report = report.map_err(|e| errors::deploy_error(py, &e))?;
    Ok(UpReport {
        project: report.project,
        steps: report.steps.iter().map(Step::from).collect(),
        changed: report.changed,
        prepared: Py::new(py, Prepared::from(report.prepared))?,
        elapsed: report.elapsed.as_secs_f64(),
    })
}

/// The project's services with state, health, image and ports.
#[pyfunction]
#[pyo3(signature = (project = "harbor"))]
pub fn status(py: Python<'_>, project: &str) -> PyResult<Vec<ServiceStatus>> {
    let rows = py
        .detach(|| harbor_deploy::status(project))
        .map_err(|e| errors::deploy_error(py, &e))?;
    Ok(rows
        .into_iter()
        .map(|s| ServiceStatus {
            service: s.service,
            container: s.container,
            id: s.id,
            state: s.state,
            health: s.health,
            image: s.image,
            ports: s.ports,
        })
        .collect())
}

/// Removes the project's containers and network; the data volume stays unless `purge`, which
/// also deletes what the installation created in it (registry storage, database, secrets) and
/// the rendered `common/config`, and keeps what was there before it. With no container left,
/// `config` (and `out`, when `up` was given one) names the installation to purge.
#[pyfunction]
#[pyo3(signature = (project = "harbor", *, purge = false, config = None, out = None))]
pub fn down(
    py: Python<'_>,
    project: &str,
    purge: bool,
    config: Option<PathBuf>,
    out: Option<PathBuf>,
) -> PyResult<DownReport> {
    let opts = harbor_deploy::DownOptions::naming(project, purge, config, out);
    let report = py
        .detach(|| harbor_deploy::down_with(&opts))
        .map_err(|e| errors::deploy_error(py, &e))?;
    Ok(DownReport {
        project: report.project,
        removed: report.removed,
        network_removed: report.network_removed,
        purged: report.purged.iter().map(|p| text(p)).collect(),
        kept: report.kept.iter().map(|p| text(p)).collect(),
    })
}
