//! `prepare`, `plan`, `up`, `status` and `down`: harbor-deploy, as Promises that run on libuv's
//! thread pool.
//!
//! Each function converts its options on the JavaScript thread, then hands a closure to a
//! [`Job`], which runs it off that thread and settles the Promise: resolved with the report,
//! or rejected with an `Error` whose `code` is the `ErrorKind` code and whose message is the
//! one the command line prints.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use harbor_deploy::ErrorKind;
use napi::bindgen_prelude::{AsyncTask, Date, Env, Result, ToNapiValue, TypeName};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Status, Task};
use napi_derive::napi;

use crate::error::{Issue, with_issues};

/// A deploy call to run off the JavaScript thread.
pub struct Job<T> {
    work: Option<Work<T>>,
}

type Work<T> = Box<dyn FnOnce() -> std::result::Result<T, harbor_deploy::Error> + Send>;

impl<T> Job<T> {
    fn new(
        work: impl FnOnce() -> std::result::Result<T, harbor_deploy::Error> + Send + 'static,
    ) -> Job<T> {
        Job {
            work: Some(Box::new(work)),
        }
    }
}

impl<T: ToNapiValue + TypeName + Send + 'static> Task for Job<T> {
    type Output = std::result::Result<T, harbor_deploy::Error>;
    type JsValue = T;

    fn compute(&mut self) -> Result<Self::Output> {
        let Some(work) = self.work.take() else {
            return Err(napi::Error::new(
                Status::GenericFailure,
                "a deploy call ran twice".to_string(),
            ));
        };

        // a panic must not unwind into libuv; it becomes a rejection
        catch_unwind(AssertUnwindSafe(work)).map_err(|_| {
            napi::Error::new(
                Status::GenericFailure,
                "internal error: the deploy call panicked".to_string(),
            )
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<T> {
        output.map_err(|e| {
            let issues = e.issues();
            let issues = (!issues.is_empty())
                .then(|| issues.iter().map(|i| Issue::from_rust(i, true)).collect());
            with_issues(&env, e.kind().code(), e.message().to_string(), issues)
        })
    }
}

/// Options of `prepare`.
#[napi(object)]
pub struct PrepareOptions<'a> {
    /// The harbor.yml (a `.cfg` name selects the harbor.cfg reader); without it the built-in
    /// default configuration.
    pub config: Option<String>,
    /// Hostname for the built-in default configuration (default: this machine's name).
    pub hostname: Option<String>,
    /// Prefix of every absolute host path harbor.yml names, the data volume included
    /// (default `/`).
    pub root: Option<String>,
    /// Deploy the Trivy scanner too.
    pub with_trivy: Option<bool>,
    /// The Harbor release to render for (default: the newest supported).
    pub harbor_version: Option<String>,
    /// Lay `HARBOR__*` variables (and the setupwrapper's names) of the process environment
    /// over the configuration. They are read on the worker thread: leave `process.env` alone
    /// until the Promise settles.
    pub env: Option<bool>,
    /// With `env`, read only `HARBOR__*` variables.
    pub env_prefix_only: Option<bool>,
    /// The installer directory (default: the config file's directory, or the current one).
    pub out: Option<String>,
    /// A file holding a 32-byte seed for a first run; later runs use the data volume's seed.
    pub seed_file: Option<String>,
    /// The time certificates start from (default: now).
    pub now: Option<Date<'a>>,
}

/// Options of `plan` and `up`.
#[napi(object)]
pub struct UpOptions {
    /// The harbor.yml (a `.cfg` name selects the harbor.cfg reader); without it the built-in
    /// default configuration.
    pub config: Option<String>,
    /// Hostname for the built-in default configuration (default: this machine's name).
    pub hostname: Option<String>,
    /// Must be `/` (the default): the containers mount the host paths the compose file names.
    pub root: Option<String>,
    /// Deploy the Trivy scanner too.
    pub with_trivy: Option<bool>,
    /// The Harbor release to deploy (default: the newest supported).
    pub harbor_version: Option<String>,
    /// Lay `HARBOR__*` variables of the process environment over the configuration. They are
    /// read on the worker thread: leave `process.env` alone until the Promise settles.
    pub env: Option<bool>,
    /// With `env`, read only `HARBOR__*` variables.
    pub env_prefix_only: Option<bool>,
    /// The installer directory (default: the config file's directory, or the current one).
    pub out: Option<String>,
    /// Project name: the network's name and the label of every container (default `harbor`).
    pub project: Option<String>,
    /// Prefix every image reference with a registry or namespace, e.g. `mirror.example/`.
    pub image_prefix: Option<String>,
    /// A YAML file mapping service names to image references, overriding the compose file's.
    pub images: Option<String>,
    /// Seconds to wait, from the start, for every container to be healthy (default 300).
    pub timeout_seconds: Option<u32>,
    /// Publish every port on 127.0.0.1 only.
    pub publish_loopback: Option<bool>,
    /// Add this to every published host port that the compose file binds on all interfaces.
    pub port_offset: Option<u16>,
}

/// Options of `down`.
#[napi(object)]
pub struct DownOptions {
    /// Also delete what the bundle created in the data volume and the rendered
    /// `common/config`: registry storage, database, secrets. Irreversible.
    pub purge: Option<bool>,
}

/// What `prepare` did.
#[napi(object)]
pub struct Prepared {
    /// The installer directory (docker-compose.yml, common/config).
    pub out: String,
    /// The data volume on the host.
    pub data: String,
    /// The release rendered for, as its image tag.
    pub release: String,
    /// The configuration's hostname.
    pub hostname: String,
    /// Files written because they were new or different; empty when nothing changed.
    pub changed: Vec<String>,
    /// How many files were already as rendered.
    pub unchanged: u32,
    /// Notes of a harbor.cfg conversion and warnings of the render.
    pub warnings: Vec<String>,
    /// Whether owners were set (only as root).
    pub owners_set: bool,
}

/// One service's part in a plan.
#[napi(object)]
pub struct Step {
    /// Compose service name.
    pub service: String,
    /// Container name.
    pub container: String,
    /// What happens to it.
    #[napi(ts_type = "'keep' | 'start' | 'create' | 'recreate' | 'restart' | 'remove'")]
    pub action: String,
    /// Why, in words.
    pub reason: String,
}

/// What `up` would do.
#[napi(object)]
pub struct Plan {
    /// The project.
    pub project: String,
    /// Every service in start order, then the containers to remove.
    pub steps: Vec<Step>,
    /// Whether anything would change: files of the bundle or containers.
    pub changed: bool,
    /// Files `prepare` would write because they are new or different.
    pub files: Vec<String>,
}

/// What `up` did.
#[napi(object)]
pub struct UpReport {
    /// The project.
    pub project: String,
    /// Every service in start order, then the removed containers.
    pub steps: Vec<Step>,
    /// Whether any container or file changed.
    pub changed: bool,
    /// The bundle written.
    pub prepared: Prepared,
    /// Milliseconds from the start to all healthy.
    pub elapsed_ms: f64,
}

/// One event of `up`'s progress.
#[napi(object)]
pub struct ProgressEvent {
    /// `planned` (with `steps`), before anything is touched; `working` (with `action`) when a
    /// step starts; `waiting` (with `state` and `health`) at every poll of a service not yet
    /// healthy; `ready` once it is; `removed` for a container no longer in the bundle;
    /// `warning` (with `message`) for something about the configuration worth reading.
    #[napi(ts_type = "'planned' | 'working' | 'waiting' | 'ready' | 'removed' | 'warning'")]
    pub kind: String,
    /// The service, for every kind but `planned`.
    pub service: Option<String>,
    /// For `working`: what is done to the service.
    #[napi(ts_type = "'keep' | 'start' | 'create' | 'recreate' | 'restart' | 'remove'")]
    pub action: Option<String>,
    /// For `waiting`: the container's state (`running`, `created`, ...).
    pub state: Option<String>,
    /// For `waiting`: its health (`starting`, `probing`, `none`, ...).
    pub health: Option<String>,
    /// For `waiting` and `ready`: milliseconds since `up` began.
    pub elapsed_ms: Option<f64>,
    /// For `planned`: every step.
    pub steps: Option<Vec<Step>>,
    /// For `warning`: the text.
    pub message: Option<String>,
}

/// One service of a project on the engine.
#[napi(object)]
pub struct ServiceStatus {
    /// Compose service name.
    pub service: String,
    /// Container name.
    pub container: String,
    /// Container ID.
    pub id: String,
    /// `running`, `exited`, ...
    pub state: String,
    /// `healthy`, `starting`, `unhealthy`, or `none` without a health check.
    pub health: String,
    /// Image reference.
    pub image: String,
    /// Published ports, as `host_ip:host_port->container_port/proto`.
    pub ports: Vec<String>,
}

/// What `down` did.
#[napi(object)]
pub struct DownReport {
    /// The project.
    pub project: String,
    /// Services whose containers were removed.
    pub removed: Vec<String>,
    /// Whether the project's network was removed.
    pub network_removed: bool,
    /// Directories deleted by a purge.
    pub purged: Vec<String>,
}

/// Renders and writes the bundle as `harbor-deploy prepare` does: the installer directory and
/// the data volume, only files that are new or differ, secrets kept from earlier runs.
#[napi(ts_return_type = "Promise<Prepared>")]
pub fn prepare(opts: Option<PrepareOptions>) -> AsyncTask<Job<Prepared>> {
    let opts = opts.map(|o| {
        let now = o
            .now
            .as_ref()
            .map(crate::prep::unix_seconds)
            .transpose()
            .map_err(|e| e.reason);
        let render = render_options(RenderFields {
            config: o.config,
            hostname: o.hostname,
            root: o.root,
            with_trivy: o.with_trivy,
            harbor_version: o.harbor_version,
            env: o.env,
            env_prefix_only: o.env_prefix_only,
        });
        (render, o.out, o.seed_file, now)
    });

    AsyncTask::new(Job::new(move || {
        let mut options = harbor_deploy::PrepareOptions::default();
        if let Some((render, out, seed_file, now)) = opts {
            options.render = render;
            options.out = out.map(PathBuf::from);
            options.seed_file = seed_file.map(PathBuf::from);
            options.now = now.map_err(|e| harbor_deploy::Error::new(ErrorKind::InvalidInput, e))?;
        }
        harbor_deploy::prepare(&options).map(prepared)
    }))
}

/// What `up` would create, recreate, restart or remove; writes nothing, to the disk or the
/// engine.
#[napi(ts_return_type = "Promise<Plan>")]
pub fn plan(opts: Option<UpOptions>) -> AsyncTask<Job<Plan>> {
    let options = up_options(opts);

    AsyncTask::new(Job::new(move || {
        let plan = harbor_deploy::plan(&options)?;
        Ok(Plan {
            project: plan.project,
            steps: plan.steps.into_iter().map(step).collect(),
            changed: plan.changed,
            files: plan.files.iter().map(|p| path(p)).collect(),
        })
    }))
}

/// Renders and writes the bundle, then brings the engine to it and resolves once every
/// container is healthy. `onProgress`, when given, is called on the JavaScript thread with
/// each event, every one before the promise settles; what it throws is an uncaught
/// exception.
#[napi(ts_return_type = "Promise<UpReport>")]
pub fn up(
    opts: Option<UpOptions>,
    on_progress: Option<ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false>>,
) -> AsyncTask<Job<UpReport>> {
    let options = up_options(opts);

    AsyncTask::new(Job::new(move || {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        // events not yet handled by JavaScript; the promise settles only after the last
        let pending = Arc::new(AtomicUsize::new(0));
        let mut report = |p: &harbor_deploy::Progress| {
            if let Some(f) = &on_progress {
                pending.fetch_add(1, Ordering::SeqCst);
                let done = pending.clone();
                let status = f.call_with_return_value(
                    progress(p),
                    ThreadsafeFunctionCallMode::NonBlocking,
                    move |_, _| {
                        done.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    },
                );
                if status != Status::Ok {
                    pending.fetch_sub(1, Ordering::SeqCst);
                }
            }
        };
        let result = harbor_deploy::up(&options, &mut report);

        let waited = std::time::Instant::now();
        while pending.load(Ordering::SeqCst) > 0 && waited.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let up = result?;
        Ok(UpReport {
            project: up.project,
            steps: up.steps.into_iter().map(step).collect(),
            changed: up.changed,
            prepared: prepared(up.prepared),
            elapsed_ms: millis(up.elapsed),
        })
    }))
}

/// The project's services with state, health, image and ports, by service name.
#[napi(ts_return_type = "Promise<Array<ServiceStatus>>")]
pub fn status(project: Option<String>) -> AsyncTask<Job<Vec<ServiceStatus>>> {
    let project = project.unwrap_or_else(default_project);

    AsyncTask::new(Job::new(move || {
        Ok(harbor_deploy::status(&project)?
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
    }))
}

/// Removes the project's containers and network; the data volume stays unless `purge`.
#[napi(ts_return_type = "Promise<DownReport>")]
pub fn down(project: Option<String>, opts: Option<DownOptions>) -> AsyncTask<Job<DownReport>> {
    let project = project.unwrap_or_else(default_project);
    let purge = opts.and_then(|o| o.purge).unwrap_or(false);

    AsyncTask::new(Job::new(move || {
        let down = harbor_deploy::down(&project, purge)?;
        Ok(DownReport {
            project: down.project,
            removed: down.removed,
            network_removed: down.network_removed,
            purged: down.purged.iter().map(|p| path(p)).collect(),
        })
    }))
}

/// The fields of `harbor_deploy::RenderOptions`, as both option objects carry them.
struct RenderFields {
    config: Option<String>,
    hostname: Option<String>,
    root: Option<String>,
    with_trivy: Option<bool>,
    harbor_version: Option<String>,
    env: Option<bool>,
    env_prefix_only: Option<bool>,
}

fn render_options(f: RenderFields) -> harbor_deploy::RenderOptions {
    let defaults = harbor_deploy::RenderOptions::default();
    harbor_deploy::RenderOptions {
        config: f.config.map(PathBuf::from),
        hostname: f.hostname,
        root: f.root.map(PathBuf::from).unwrap_or(defaults.root),
        with_trivy: f.with_trivy.unwrap_or(false),
        harbor_version: f.harbor_version,
        env: f.env.unwrap_or(false),
        env_prefix_only: f.env_prefix_only.unwrap_or(false),
    }
}

fn up_options(opts: Option<UpOptions>) -> harbor_deploy::UpOptions {
    let defaults = harbor_deploy::UpOptions::default();
    let Some(o) = opts else {
        return defaults;
    };

    harbor_deploy::UpOptions {
        render: render_options(RenderFields {
            config: o.config,
            hostname: o.hostname,
            root: o.root,
            with_trivy: o.with_trivy,
            harbor_version: o.harbor_version,
            env: o.env,
            env_prefix_only: o.env_prefix_only,
        }),
        out: o.out.map(PathBuf::from),
        project: o.project.unwrap_or(defaults.project),
        image_prefix: o.image_prefix,
        images: o.images.map(PathBuf::from),
        timeout: o
            .timeout_seconds
            .map(|secs| Duration::from_secs(u64::from(secs)))
            .unwrap_or(defaults.timeout),
        publish_loopback: o.publish_loopback.unwrap_or(false),
        port_offset: o.port_offset.unwrap_or(0),
    }
}

fn default_project() -> String {
    harbor_deploy::UpOptions::default().project
}

fn prepared(p: harbor_deploy::Prepared) -> Prepared {
    Prepared {
        out: path(&p.out),
        data: path(&p.data),
        release: p.release,
        hostname: p.hostname,
        changed: p.changed.iter().map(|c| path(c)).collect(),
        unchanged: u32::try_from(p.unchanged).unwrap_or(u32::MAX),
        warnings: p.warnings,
        owners_set: p.owners_set,
    }
}

fn step(s: harbor_deploy::Step) -> Step {
    Step {
        service: s.service,
        container: s.container,
        action: s.action.as_str().to_string(),
        reason: s.reason,
    }
}

fn progress(p: &harbor_deploy::Progress) -> ProgressEvent {
    use harbor_deploy::Progress as P;

    let mut event = ProgressEvent {
        kind: String::new(),
        service: None,
        action: None,
        state: None,
        health: None,
        elapsed_ms: None,
        steps: None,
        message: None,
    };
    match p {
        P::Planned(steps) => {
            event.kind = "planned".into();
            event.steps = Some(steps.iter().cloned().map(step).collect());
        }
        P::Working { service, action } => {
            event.kind = "working".into();
            event.service = Some(service.clone());
            event.action = Some(action.as_str().to_string());
        }
        P::Waiting {
            service,
            state,
            health,
            elapsed,
        } => {
            event.kind = "waiting".into();
            event.service = Some(service.clone());
            event.state = Some(state.clone());
            event.health = Some(health.clone());
            event.elapsed_ms = Some(millis(*elapsed));
        }
        P::Ready { service, elapsed } => {
            event.kind = "ready".into();
            event.service = Some(service.clone());
            event.elapsed_ms = Some(millis(*elapsed));
        }
        P::Removed { service } => {
            event.kind = "removed".into();
            event.service = Some(service.clone());
        }
        P::Warning(text) => {
            event.kind = "warning".into();
            event.message = Some(text.clone());
        }
    }
    event
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
