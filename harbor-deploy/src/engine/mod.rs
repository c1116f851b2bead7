//! `up`, `plan`, `status` and `down`: converge a Docker engine to a rendered bundle through
//! the Engine API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bollard::Docker;
use bollard::query_parameters::CreateContainerOptions;

mod health;
mod manage;
mod spec;

pub use manage::{DownOptions, DownReport, ServiceStatus, down, down_with, status};

use health::{Waiter, describe};
use manage::Existing;
use manage::{
    check_names, check_network, check_ports, ensure_network, existing, missing_images, remove,
    start, steps,
};
use spec::{Desired, View, create_bind_sources, desired, image_overrides};

use crate::compose::ComposeFile;
use crate::error::{Error, ErrorKind, InputError, typed};
use crate::prepare::{Prepared, RenderOptions};

/// Label holding the project a container or network belongs to.
const LABEL_PROJECT: &str = "org.harbor-prep.project";
/// Label holding the compose service name of a container.
const LABEL_SERVICE: &str = "org.harbor-prep.service";
/// Label holding the hash of a container's inputs.
const LABEL_HASH: &str = "org.harbor-prep.inputs";
/// Label holding the position of a container in the start order.
const LABEL_ORDER: &str = "org.harbor-prep.order";
/// Label holding the installer directory a container was made from.
const LABEL_OUT: &str = "org.harbor-prep.out";
/// Label holding the data volume a container was made from.
const LABEL_DATA: &str = "org.harbor-prep.data";
/// Label holding the Harbor release a container was made for.
const LABEL_RELEASE: &str = "org.harbor-prep.release";

/// Inputs of [`up`] and [`plan`].
#[derive(Clone, Debug)]
pub struct UpOptions {
    /// The configuration. Its `root` must be `/`: the containers mount the host paths the
    /// compose file names.
    pub render: RenderOptions,
    /// The installer directory (default: the config file's directory, or the current one).
    pub out: Option<PathBuf>,
    /// Project name: the network's name and the label of every container.
    pub project: String,
    /// Prefix every image reference with a registry or namespace, e.g. `mirror.example/`.
    pub image_prefix: Option<String>,
    /// A YAML map from service name to image reference, overriding the compose file's.
    pub images: Option<PathBuf>,
    /// How long to wait, from the start, for every container to be healthy.
    pub timeout: Duration,
    /// Publish every port on 127.0.0.1 only (tests, single hosts behind another proxy).
    pub publish_loopback: bool,
    /// Add this to every published host port that the compose file binds on all interfaces.
    pub port_offset: u16,
    /// Set it to make `up` stop at its next step or poll with [`ErrorKind::Interrupted`]
    /// (a binding's Ctrl-C); what was done stays, and a later `up` carries on from it.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for UpOptions {
    fn default() -> UpOptions {
        UpOptions {
            render: RenderOptions::default(),
            out: None,
            project: "harbor".to_string(),
            image_prefix: None,
            images: None,
            timeout: Duration::from_secs(300),
            publish_loopback: false,
            port_offset: 0,
            cancel: None,
        }
    }
}

/// What happens to a service.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Action {
    /// Its container is as the bundle wants it and running.
    Keep,
    /// Its container is as the bundle wants it but stopped.
    Start,
    /// It has no container yet.
    Create,
    /// Its inputs changed: the container is replaced.
    Recreate,
    /// Unchanged, but a service it depends on is replaced.
    Restart,
    /// It is no longer in the bundle.
    Remove,
}

impl Action {
    /// A stable lower-case name: `keep`, `start`, `create`, `recreate`, `restart`, `remove`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Start => "start",
            Action::Create => "create",
            Action::Recreate => "recreate",
            Action::Restart => "restart",
            Action::Remove => "remove",
        }
    }

    /// Why, in words.
    fn reason(self) -> &'static str {
        match self {
            Action::Keep => "unchanged",
            Action::Start => "stopped, unchanged",
            Action::Create => "no container yet",
            Action::Recreate => "inputs changed",
            Action::Restart => "a dependency is recreated",
            Action::Remove => "no longer in the bundle",
        }
    }
}

/// One service's part in a plan.
#[derive(Clone, Debug)]
pub struct Step {
    /// Compose service name.
    pub service: String,
    /// Container name.
    pub container: String,
    /// What happens.
    pub action: Action,
    /// Why, in words.
    pub reason: String,
}

/// What [`up`] would do, computed without touching the engine or the disk.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The project.
    pub project: String,
    /// Every service in start order, then the containers to remove.
    pub steps: Vec<Step>,
    /// Whether anything would change: files of the bundle or containers.
    pub changed: bool,
    /// Files `prepare` would write because they are new or different.
    pub files: Vec<PathBuf>,
    /// What `up` would warn about: the configuration's notes and the render's warnings.
    pub warnings: Vec<String>,
}

/// What [`up`] did.
#[derive(Clone, Debug)]
pub struct UpReport {
    /// The project.
    pub project: String,
    /// Every service in start order, then the removed containers.
    pub steps: Vec<Step>,
    /// Whether any container or file changed.
    pub changed: bool,
    /// The bundle written.
    pub prepared: Prepared,
    /// From the start to all healthy.
    pub elapsed: Duration,
}

/// What [`up`] is doing, for a progress display.
#[derive(Clone, Debug)]
pub enum Progress {
    /// The steps, before anything is touched.
    Planned(Vec<Step>),
    /// A step has started.
    Working {
        /// The service.
        service: String,
        /// What is done to it.
        action: Action,
    },
    /// A service is not healthy yet; sent at every poll.
    Waiting {
        /// The service.
        service: String,
        /// The container's state (`running`, `created`, ...).
        state: String,
        /// Its health (`starting`, `probing`, `none`, ...).
        health: String,
        /// Since `up` began.
        elapsed: Duration,
    },
    /// A service is healthy.
    Ready {
        /// The service.
        service: String,
        /// Since `up` began.
        elapsed: Duration,
    },
    /// A container no longer in the bundle was removed.
    Removed {
        /// The service.
        service: String,
    },
    /// Something about the configuration worth reading, as soon as the bundle is written.
    Warning(String),
}

/// A runtime for one call. A thread already inside a runtime cannot start another: that is a
/// progress callback of `up` calling `up` (the other calls move to a thread of their own, see
/// [`off_runtime`]), or an async caller, which should call from a blocking task.
fn runtime() -> Result<tokio::runtime::Runtime> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(InputError::new(
            "up cannot run inside a progress callback of another up, or inside an async \
             runtime; call it after that up returns, or from a thread of its own",
        )
        .into());
    }
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs `work`, which starts a runtime of its own, on this thread, or on a thread of its own
/// when this one is inside a runtime already (a progress callback of `up` asking for the
/// status, an async caller), where a second runtime cannot start.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|s| match s.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The engine address from DOCKER_HOST; unset and empty both mean the local socket, as for
/// the docker command.
fn docker_host() -> Option<String> {
    std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty())
}

/// Which engine the client talks to, for messages.
fn engine_address() -> String {
    match docker_host() {
        Some(h) => format!("DOCKER_HOST={}", shown_host(&h)),
        None => "unix:///var/run/docker.sock (DOCKER_HOST is not set)".to_string(),
    }
}

/// An engine address as messages may show it: a user and password in it (`tcp://u:p@host`)
/// are replaced by `***`.
fn shown_host(host: &str) -> String {
    match userinfo(host) {
        Some(info) => host.replacen(info, "***", 1),
        None => host.to_string(),
    }
}

/// The `user:password` part of an engine address, up to its last `@` (a password may hold a
/// `/`).
fn userinfo(host: &str) -> Option<&str> {
    let (_, rest) = host.split_once("://")?;
    let at = rest.rfind('@')?;
    Some(&rest[..at]).filter(|i| !i.is_empty())
}

/// An engine client's error text, with DOCKER_HOST's user and password masked: the client
/// repeats the address it failed to reach.
fn redacted(text: &str) -> String {
    match docker_host().as_deref().and_then(userinfo) {
        Some(info) => text.replace(info, "***"),
        None => text.to_string(),
    }
}

async fn connect() -> Result<Docker> {
    let unreachable = |e: &dyn std::fmt::Display, what: &str| {
        Error::new(
            ErrorKind::EngineUnreachable,
            format!(
                "the docker engine at {} {what}: {}; start it, or point DOCKER_HOST at it",
                engine_address(),
                redacted(&e.to_string())
            ),
        )
    };
    let docker = match docker_host() {
        None => Docker::connect_with_unix_defaults(),
        Some(h) => {
            // the environment asks for TLS, which this client does not speak: sending the
            // containers' environment (passwords) in clear text instead would be worse than
            // not connecting
            if ["DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"]
                .iter()
                .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
                && !h.starts_with("unix://")
            {
                return Err(InputError::new(format!(
                    "DOCKER_TLS_VERIFY or DOCKER_CERT_PATH asks for TLS to the engine at {}, \
                     and harbor-deploy speaks to engines without TLS; run it on the engine's \
                     host with its unix socket, or reach that socket through an ssh tunnel \
                     (ssh -L /tmp/docker.sock:/var/run/docker.sock HOST, then \
                     DOCKER_HOST=unix:///tmp/docker.sock)",
                    shown_host(&h)
                ))
                .into());
            }
            let supported = ["unix://", "tcp://", "http://"];
            if !supported.iter().any(|p| h.starts_with(p)) {
                return Err(InputError::new(format!(
                    "DOCKER_HOST={} is not an address harbor-deploy can use; it takes \
                     unix:///path/to/docker.sock, tcp://host:port or http://host:port",
                    shown_host(&h)
                ))
                .into());
            }
            Docker::connect_with_defaults()
        }
    }
    .map_err(|e| unreachable(&e, "cannot be reached"))?
    .with_timeout(Duration::from_secs(60));

    // an engine that takes the connection and never answers is as good as none
    match tokio::time::timeout(Duration::from_secs(10), docker.version()).await {
        Ok(Ok(_)) => Ok(docker),
        Ok(Err(e)) => Err(unreachable(&e, "does not answer").into()),
        Err(_) => Err(unreachable(&"no answer within 10 s", "does not answer").into()),
    }
}

/// An engine call's error: a lost connection says the engine went away, anything else what
/// the engine answered.
fn engine_error(e: bollard::errors::Error, what: String) -> anyhow::Error {
    use bollard::errors::Error as E;

    match e {
        E::DockerResponseServerError { .. } | E::JsonDataError { .. } => anyhow!(e).context(what),
        other => Error::new(
            ErrorKind::EngineUnreachable,
            format!(
                "{what}: the docker engine at {} stopped answering ({}); start it and run up \
                 again, which carries on from where this run stopped",
                engine_address(),
                redacted(&other.to_string())
            ),
        )
        .into(),
    }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// What `up` and `plan` converge to: the rendered bundle and the compose file it holds.
struct Target {
    view: View,
    file: ComposeFile,
    images: BTreeMap<String, String>,
    out: PathBuf,
    data: PathBuf,
    release: &'static harbor_prep::Release,
    /// The password the bundle gives the bundled database; None with an external one.
    db_password: Option<String>,
    /// The one the previous bundle in the installer directory gave it.
    previous_db_password: Option<String>,
    /// Whether the data volume holds a database cluster already.
    db_cluster: bool,
    /// The data volume's seed, which keys the record of the database's password.
    seed: [u8; 32],
}

/// The error of an `up` asked to stop, once it has been.
fn check_cancel(cancel: Option<&AtomicBool>) -> Result<()> {
    if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
        return Err(Error::new(
            ErrorKind::Interrupted,
            "up was interrupted; what it did stays, and up carries on from there when run again",
        )
        .into());
    }
    Ok(())
}

/// Refuses a `--root`: the containers mount the host paths as the compose file names them.
fn check_root(opts: &UpOptions) -> Result<()> {
    if opts.render.root != Path::new("/") {
        return Err(InputError::new(format!(
            "--root {} cannot be deployed: the containers mount the host paths the compose file \
             names, so up and plan take harbor.yml's paths as they are; set data_volume and \
             log.local.location to where the files should live instead",
            opts.render.root.display()
        ))
        .into());
    }
    Ok(())
}

fn target(opts: &UpOptions) -> Result<(crate::prepare::Rendered, Target)> {
    let mut rendered = crate::prepare::render(&opts.render, opts.out.clone(), None, None)?;
    rendered.out = crate::disk::absolute(&rendered.out)?;
    rendered.data = crate::disk::absolute(&rendered.data)?;
    let view = View::new(&rendered);
    let compose_path = rendered.out.join("docker-compose.yml");
    let text = String::from_utf8(view.read(&compose_path)?)
        .with_context(|| format!("{} is not UTF-8", compose_path.display()))?;
    let file = ComposeFile::parse(&text)
        .with_context(|| format!("cannot parse {}", compose_path.display()))?;
    let images = image_overrides(opts, &file)?;
    let target = Target {
        out: rendered.out.clone(),
        data: rendered.data.clone(),
        release: rendered.release,
        db_password: crate::prepare::db_password(&rendered.bundle),
        previous_db_password: crate::prepare::previous_db_password(&rendered.out),
        db_cluster: crate::prepare::has_cluster(&rendered.data),
        seed: rendered.seed,
        view,
        file,
        images,
    };
    Ok((rendered, target))
}

/// A project name the engine takes as a network name, and that labels can carry.
fn check_project(project: &str) -> Result<()> {
    let ok = project
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && project.len() <= 63
        && project
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !ok {
        return Err(InputError::new(format!(
            "--project `{project}` is not a usable name: 1 to 63 letters, digits, `_`, `.` or \
             `-`, starting with a letter or digit"
        ))
        .into());
    }
    Ok(())
}

/// What the engine holds of the project and what `up` would do to it, after every check
/// that can refuse the run: names, images, the network, host ports. Nothing is changed.
struct Preflight {
    desired: Vec<Desired>,
    existing: BTreeMap<String, Existing>,
    steps: Vec<Step>,
}

async fn preflight(docker: &Docker, opts: &UpOptions, t: &Target) -> Result<Preflight> {
    let desired = desired(docker, opts, t).await?;
    let existing = existing(docker, &opts.project).await?;
    check_names(docker, &opts.project, &desired).await?;
    let steps = steps(&desired, &existing);
    check_release(opts, t, &existing)?;
    if let Some(password) = t.db_password.as_deref().filter(|_| t.db_cluster)
        && db_password_known(docker, t, &existing, password).await? == Some(false)
    {
        check_db_password(docker, &existing, password).await?;
    }

    if steps.iter().any(|s| s.action != Action::Keep) {
        missing_images(docker, &desired).await?;
        check_network(docker, &opts.project).await?;
        let action_of: BTreeMap<&str, Action> = steps
            .iter()
            .map(|s| (s.service.as_str(), s.action))
            .collect();
        check_ports(&desired, &action_of, &existing)?;
    }
    Ok(Preflight {
        desired,
        existing,
        steps,
    })
}

/// Refuses to go back to an older release than the project's containers run, or than has run
/// on the data volume: a newer release migrates the database on its first start, and an older
/// one cannot read it.
fn check_release(
    opts: &UpOptions,
    t: &Target,
    existing: &BTreeMap<String, Existing>,
) -> Result<()> {
    let rank = harbor_prep::Release::rank;
    let Some(target) = rank(t.release.tag) else {
        return Ok(());
    };
    let recorded = crate::disk::recorded_release(&t.data);
    let newest = existing
        .values()
        .filter_map(|e| e.release.as_deref())
        .chain(recorded.as_deref())
        .filter_map(|tag| Some((rank(tag)?, tag)))
        .max();
    if let Some((running, tag)) = newest
        && running > target
    {
        return Err(InputError::new(format!(
            "project {} has run Harbor {tag} on {}, and {} is older: Harbor migrates its \
             database forward when a release first starts, and an older release cannot use \
             it; deploy {tag} (or newer), or restore the data volume from a backup made before \
             the upgrade",
            opts.project,
            t.data.display(),
            t.release.tag
        ))
        .into());
    }
    Ok(())
}

/// Whether `password` is the one the existing database was last given: by its container's
/// environment, else by the data volume's record, else by the previous bundle; None when
/// nothing tells (a database made by another installer).
async fn db_password_known(
    docker: &Docker,
    t: &Target,
    existing: &BTreeMap<String, Existing>,
    password: &str,
) -> Result<Option<bool>> {
    if let Some(db) = existing.get("postgresql") {
        let c = docker
            .inspect_container(&db.id, None)
            .await
            .map_err(|e| engine_error(e, format!("cannot inspect {}", db.name)))?;
        let env = c.config.and_then(|c| c.env).unwrap_or_default();
        let given = env
            .iter()
            .find_map(|e| e.strip_prefix("POSTGRES_PASSWORD="));
        return Ok(Some(given == Some(password)));
    }
    Ok(
        crate::disk::db_password_recorded(&t.data, &t.seed, password)
            .or_else(|| t.previous_db_password.as_deref().map(|p| p == password)),
    )
}

/// Refuses a new `database.password` the existing database does not accept yet: PostgreSQL
/// keeps the password its cluster was made with, so recreating the containers with another
/// one locks core out. Once the password is changed inside the database too, it is accepted.
async fn check_db_password(
    docker: &Docker,
    existing: &BTreeMap<String, Existing>,
    password: &str,
) -> Result<()> {
    let how = "set it in the database first (docker exec -it harbor-db psql -U postgres, then \
               ALTER USER postgres WITH PASSWORD '...';), then run up again";
    let db = existing.get("postgresql").filter(|e| e.running);
    let Some(db) = db else {
        return Err(InputError::new(format!(
            "database.password changed, and the database in the data volume keeps the password \
             it was made with; with its container not running, the new one cannot be checked: \
             start the deployment as it was, then {how}"
        ))
        .into());
    };

    let cmd = vec![
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-Atqc",
        "select 1",
    ];
    let env = vec![
        format!("PGPASSWORD={password}"),
        "PGCONNECT_TIMEOUT=5".into(),
    ];
    match health::exec(docker, &db.id, cmd, env).await? {
        health::Ran::Exited(0) => Ok(()),
        health::Ran::Exited(126 | 127) => Err(InputError::new(format!(
            "database.password changed, and the database image of {} has no psql to check \
             whether the database accepts the new one; {how}",
            db.name
        ))
        .into()),
        _ => Err(InputError::new(format!(
            "database.password changed, but the database ({}) does not accept the new one; \
             {how}",
            db.name
        ))
        .into()),
    }
}

/// What `up` would create, recreate or remove, after the same checks `up` makes (names,
/// images, network, host ports); writes nothing, to the disk or the engine.
pub fn plan(opts: &UpOptions) -> Result<Plan, Error> {
    off_runtime(|| typed(plan_now(opts)))
}

fn plan_now(opts: &UpOptions) -> Result<Plan> {
    check_project(&opts.project)?;
    check_root(opts)?;
    let (rendered, t) = target(opts)?;
    let mut files = rendered.changed_files();
    if rendered.seed_is_new {
        files.push(crate::disk::seed_path(&rendered.data));
    }

    runtime()?.block_on(async {
        let docker = connect().await?;
        let p = preflight(&docker, opts, &t).await?;
        let changed = !files.is_empty() || p.steps.iter().any(|s| s.action != Action::Keep);
        Ok(Plan {
            project: opts.project.clone(),
            steps: p.steps,
            changed,
            files,
            warnings: rendered.warnings.clone(),
        })
    })
}

/// Renders the bundle as `prepare` does, checks everything that can refuse the run, then
/// writes the bundle and brings the engine to it: creates, recreates, restarts or keeps each
/// container, in dependency order, each started once what it depends on answers, and
/// returns once all are healthy. Two runs on one installer directory take turns.
pub fn up(opts: &UpOptions, progress: &mut dyn FnMut(&Progress)) -> Result<UpReport, Error> {
    typed(converge(opts, progress))
}

fn converge(opts: &UpOptions, progress: &mut dyn FnMut(&Progress)) -> Result<UpReport> {
    let started = Instant::now();
    check_project(&opts.project)?;
    let rt = runtime()?;

    // the configuration must be valid and the engine answer before anything is written
    check_root(opts)?;
    crate::prepare::precheck(&opts.render, None)?;
    let docker = rt.block_on(connect())?;
    let out = crate::prepare::out_dir(&opts.render, opts.out.clone());
    crate::disk::locked(&out, |lock| {
        converge_locked(opts, progress, &rt, &docker, lock, started)
    })
}

fn converge_locked(
    opts: &UpOptions,
    progress: &mut dyn FnMut(&Progress),
    rt: &tokio::runtime::Runtime,
    docker: &Docker,
    lock: &crate::disk::DirLock,
    started: Instant,
) -> Result<UpReport> {
    let (rendered, t) = target(opts)?;

    rt.block_on(async {
        let Preflight {
            desired,
            existing,
            steps,
        } = preflight(docker, opts, &t).await?;
        progress(&Progress::Planned(steps.clone()));

        // every refusal is behind: now the bundle, and the host directories Compose would
        // create for binds whose source is missing
        let prepared = crate::prepare::write(rendered, lock)?;
        for w in &prepared.warnings {
            progress(&Progress::Warning(w.clone()));
        }
        create_bind_sources(&t)?;
        // before any container of the release starts (and may migrate the database)
        crate::disk::record_release(&t.out, &t.data, t.release.tag)?;

        let action_of: BTreeMap<&str, Action> = steps
            .iter()
            .map(|s| (s.service.as_str(), s.action))
            .collect();
        let cancel = opts.cancel.as_deref();
        let mut waiter = Waiter::new(docker, started, opts.timeout, cancel, progress);
        let untouched = steps.iter().all(|s| s.action == Action::Keep);
        if !untouched {
            ensure_network(docker, &opts.project).await?;

            for s in steps.iter().filter(|s| s.action == Action::Remove) {
                if let Some(e) = existing.get(&s.service) {
                    remove(docker, &e.id).await?;
                    (waiter.progress)(&Progress::Removed {
                        service: s.service.clone(),
                    });
                }
            }
            for d in desired.iter().rev() {
                if action_of[d.service.as_str()] == Action::Recreate
                    && let Some(e) = existing.get(&d.service)
                {
                    (waiter.progress)(&Progress::Working {
                        service: d.service.clone(),
                        action: Action::Remove,
                    });
                    remove(docker, &e.id).await?;
                }
            }

            for d in &desired {
                check_cancel(cancel)?;
                for dep in &d.deps {
                    if let Some(dd) = desired.iter().find(|x| &x.service == dep) {
                        waiter.answers(dd).await?;
                    }
                }
                let action = action_of[d.service.as_str()];
                if action == Action::Keep {
                    continue;
                }
                (waiter.progress)(&Progress::Working {
                    service: d.service.clone(),
                    action,
                });
                // restarts before this run are history; from here on, one is a failure
                waiter.fresh(&d.service);
                match action {
                    Action::Keep | Action::Remove => {}
                    Action::Start => start(docker, d).await?,
                    Action::Restart => {
                        docker
                            .restart_container(&d.name, None)
                            .await
                            .map_err(|e| engine_error(e, format!("cannot restart {}", d.name)))?;
                    }
                    Action::Create | Action::Recreate => {
                        let options = CreateContainerOptions {
                            name: Some(d.name.clone()),
                            ..Default::default()
                        };
                        docker
                            .create_container(Some(options), d.body.clone())
                            .await
                            .map_err(|e| {
                                engine_error(e, format!("cannot create {} ({})", d.name, d.service))
                            })?;
                        start(docker, d).await?;
                    }
                }
            }
        }
        for d in &desired {
            waiter.healthy(d).await?;
        }
        // the database runs with this password now: a later change is noticed even when
        // the containers and the old env file are gone
        if let Some(password) = &t.db_password {
            crate::disk::record_db_password(&t.out, &t.data, &t.seed, password)?;
        }

        let changed = !untouched || !prepared.changed.is_empty();
        Ok(UpReport {
            project: opts.project.clone(),
            steps,
            changed,
            prepared,
            elapsed: started.elapsed(),
        })
    })
}
