//! `prepare`, `plan`, `up`, `status` and `down`: harbor-deploy, as Promises settled from a
//! thread of their own.
//!
//! Each function converts its options on the JavaScript thread, then hands a closure to
//! [`spawn`], which runs it on a new thread and settles the Promise: resolved with the report,
//! or rejected with an `Error` whose `code` is the `ErrorKind` code and whose message is the
//! one the command line prints. A deploy call waits on the engine for minutes; on libuv's
//! thread pool (four threads by default) it would hold up every `fs` and `dns` call of the
//! process for that long.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harbor_deploy::ErrorKind;
use napi::bindgen_prelude::{Date, Env, Object, Result, ToNapiValue};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{JsDeferred, Status};
use napi_derive::napi;

use crate::error::{Issue, with_issues};

/// What settles a Promise on the JavaScript thread.
type Settle<T> = Box<dyn FnOnce(Env) -> Result<T> + Send>;

/// A Promise's settling end, taken by whichever settles it first.
type Slot<T> = Mutex<Option<JsDeferred<T, Settle<T>>>>;

/// Runs a deploy call on a thread of its own and returns the Promise it settles.
fn spawn<'env, T, W>(env: &'env Env, work: W) -> Result<Object<'env>>
where
    T: ToNapiValue + Send + 'static,
    W: FnOnce() -> std::result::Result<T, harbor_deploy::Error> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred::<T, Settle<T>>()?;

    // kept outside the thread too, so that a thread that cannot start still settles it
    let slot: Arc<Slot<T>> = Arc::new(Mutex::new(Some(deferred)));
    let take = |slot: &Slot<T>| {
        slot.lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    };
    let theirs = slot.clone();
    let started = std::thread::Builder::new()
        .name("harbor-deploy".into())
        .spawn(move || {
            // a panic must not end the process; it becomes a rejection
            let outcome = catch_unwind(AssertUnwindSafe(work));
            let settle: Settle<T> = Box::new(move |env| match outcome {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err(rejection(&env, &e)),
                Err(_) => Err(napi::Error::new(
                    Status::GenericFailure,
                    "internal error: the deploy call panicked".to_string(),
                )),
            });
            if let Some(deferred) = take(&theirs) {
                deferred.resolve(settle);
            }
        });
    if let Err(e) = started
        && let Some(deferred) = take(&slot)
    {
        deferred.reject(napi::Error::new(
            Status::GenericFailure,
            format!("cannot start a thread for the deploy call: {e}"),
        ));
    }
    Ok(promise)
}

/// The `Error` a deploy call rejects with: its kind's code, the command's message and, for an
/// invalid configuration, the issues.
fn rejection(env: &Env, e: &harbor_deploy::Error) -> napi::Error {
    let issues = e.issues();
    let issues =
        (!issues.is_empty()).then(|| issues.iter().map(|i| Issue::from_rust(i, true)).collect());
    with_issues(env, e.kind().code(), e.message().to_string(), issues)
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
    pub timeout_seconds: Option<f64>,
    /// Publish every port on 127.0.0.1 only.
    pub publish_loopback: Option<bool>,
    /// Add this to every published host port that the compose file binds on all interfaces
    /// (a whole number, 0 to 65535).
    pub port_offset: Option<f64>,
}

/// Options of `down`.
#[napi(object)]
pub struct DownOptions {
    /// Also delete what the bundle created in the data volume and the rendered
    /// `common/config`: registry storage, database, secrets. Irreversible.
    pub purge: Option<bool>,
    /// With `purge`: the harbor.yml of an installation to purge even when none of its
    /// containers is left (after an `up` that failed early, or a second `down`).
    pub config: Option<String>,
    /// With `config`: the installer directory, when `up` was given one.
    pub out: Option<String>,
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
    /// What `up` would warn about: the configuration's notes and the render's warnings.
    pub warnings: Vec<String>,
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
    /// The service, for every kind but `planned` and `warning`.
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
    /// What a purge deleted: what the installation created.
    pub purged: Vec<String>,
    /// Directories of the data volume a purge left: they were there before the installation.
    pub kept: Vec<String>,
}

/// Renders and writes the bundle as `harbor-deploy prepare` does: the installer directory and
/// the data volume, only files that are new or differ, secrets kept from earlier runs.
#[napi(ts_return_type = "Promise<Prepared>")]
pub fn prepare<'env>(env: &'env Env, opts: Option<PrepareOptions>) -> Result<Object<'env>> {
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

    spawn(env, move || {
        let mut options = harbor_deploy::PrepareOptions::default();
        if let Some((render, out, seed_file, now)) = opts {
            options.render = render;
            options.out = out.map(PathBuf::from);
            options.seed_file = seed_file.map(PathBuf::from);
            options.now = now.map_err(|e| harbor_deploy::Error::new(ErrorKind::InvalidInput, e))?;
        }
        harbor_deploy::prepare(&options).map(prepared)
    })
}

/// What `up` would create, recreate, restart or remove; writes nothing, to the disk or the
/// engine.
#[napi(ts_return_type = "Promise<Plan>")]
pub fn plan<'env>(env: &'env Env, opts: Option<UpOptions>) -> Result<Object<'env>> {
    let options = up_options(opts);

    spawn(env, move || {
        let plan = harbor_deploy::plan(&options?)?;
        Ok(Plan {
            project: plan.project,
            steps: plan.steps.into_iter().map(step).collect(),
            changed: plan.changed,
            files: plan.files.iter().map(|p| path(p)).collect(),
            warnings: plan.warnings,
        })
    })
}

/// Renders and writes the bundle, then brings the engine to it and resolves once every
/// container is healthy. `onProgress`, when given, is called on the JavaScript thread with
/// each event, every one before the promise settles; what it throws is an uncaught
/// exception (`process.on('uncaughtException')` sees it), and `up` goes on.
#[napi(ts_return_type = "Promise<UpReport>")]
pub fn up<'env>(
    env: &'env Env,
    opts: Option<UpOptions>,
    on_progress: Option<ThreadsafeFunction<ProgressEvent, (), ProgressEvent, Status, false>>,
) -> Result<Object<'env>> {
    let options = up_options(opts);

    spawn(env, move || {
        use std::sync::atomic::{AtomicUsize, Ordering};

        let options = options?;

        // events not yet handled by JavaScript; the promise settles only after the last
        let pending = Arc::new(AtomicUsize::new(0));
        let mut report = |p: &harbor_deploy::Progress| {
            if let Some(f) = &on_progress {
                pending.fetch_add(1, Ordering::SeqCst);
                let done = pending.clone();
                let status = f.call_with_return_value(
                    progress(p),
                    ThreadsafeFunctionCallMode::NonBlocking,
                    move |returned, _| {
                        done.fetch_sub(1, Ordering::SeqCst);
                        // an Err here is raised as an uncaught exception by napi
                        returned
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
    })
}

/// The project's services with state, health, image and ports, by service name.
#[napi(ts_return_type = "Promise<Array<ServiceStatus>>")]
pub fn status<'env>(env: &'env Env, project: Option<String>) -> Result<Object<'env>> {
    let project = project.unwrap_or_else(default_project);

    spawn(env, move || {
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
            .collect::<Vec<_>>())
    })
}

/// Removes the project's containers and network; the data volume stays unless `purge`, which
/// deletes what the installation created in it and keeps what was there before.
#[napi(ts_return_type = "Promise<DownReport>")]
pub fn down<'env>(
    env: &'env Env,
    project: Option<String>,
    opts: Option<DownOptions>,
) -> Result<Object<'env>> {
    let project = project.unwrap_or_else(default_project);
    let (purge, config, out) = match opts {
        Some(o) => (o.purge.unwrap_or(false), o.config, o.out),
        None => (false, None, None),
    };
    let options = harbor_deploy::DownOptions::naming(
        &project,
        purge,
        config.map(PathBuf::from),
        out.map(PathBuf::from),
    );

    spawn(env, move || {
        let down = harbor_deploy::down_with(&options)?;
        Ok(DownReport {
            project: down.project,
            removed: down.removed,
            network_removed: down.network_removed,
            purged: down.purged.iter().map(|p| path(p)).collect(),
            kept: down.kept.iter().map(|p| path(p)).collect(),
        })
    })
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

/// The options of `plan` and `up`; a number out of range is an input error, for the Promise to
/// reject with (napi would wrap it into range, a port offset of NaN becoming 0).
fn up_options(
    opts: Option<UpOptions>,
) -> std::result::Result<harbor_deploy::UpOptions, harbor_deploy::Error> {
    let defaults = harbor_deploy::UpOptions::default();
    let Some(o) = opts else {
        return Ok(defaults);
    };
    let invalid = |message: String| harbor_deploy::Error::new(ErrorKind::InvalidInput, message);
    let port_offset = match o.port_offset {
        None => 0,
        Some(n) if n.fract() == 0.0 && (0.0..=65535.0).contains(&n) => n as u16,
        Some(n) => {
            return Err(invalid(format!(
                "portOffset {n} is out of range; it takes a whole number from 0 to 65535"
            )));
        }
    };
    let timeout = match o.timeout_seconds {
        None => defaults.timeout,
        Some(n) if n.is_finite() && n > 0.0 => Duration::try_from_secs_f64(n)
            .map_err(|_| invalid(format!("timeoutSeconds {n} is too large")))?,
        Some(n) => {
            return Err(invalid(format!(
                "timeoutSeconds {n} must be a positive number of seconds"
            )));
        }
    };

    Ok(harbor_deploy::UpOptions {
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
        timeout,
        publish_loopback: o.publish_loopback.unwrap_or(false),
        port_offset,
        cancel: None,
    })
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
