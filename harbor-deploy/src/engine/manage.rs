//! The project's containers and network on the engine: finding, checking, creating, removing,
//! listing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bollard::Docker;
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, RemoveContainerOptions, StopContainerOptions,
};

use crate::error::{Error, ErrorKind, InputError, typed};
use crate::prepare::RenderOptions;

use super::{
    Action, Desired, LABEL_DATA, LABEL_HASH, LABEL_ORDER, LABEL_OUT, LABEL_PROJECT, LABEL_RELEASE,
    LABEL_SERVICE, Step, check_project, connect, describe, engine_error, is_not_found, off_runtime,
    runtime,
};

/// A container of the project on the engine.
pub(super) struct Existing {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) hash: String,
    pub(super) running: bool,
    /// Host ports it publishes now, as (ip, port).
    pub(super) ports: Vec<(String, u16)>,
    /// Its place in the start order.
    pub(super) order: i64,
    /// The Harbor release it was made for.
    pub(super) release: Option<String>,
}

/// The engine filter for what carries the project's label.
pub(super) fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_PROJECT}={project}")],
    )])
}

/// A listed container's name, without the engine's leading `/`.
fn container_name(c: &bollard::models::ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

/// The project's containers by service, found by label.
pub(super) async fn existing(docker: &Docker, project: &str) -> Result<BTreeMap<String, Existing>> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(project_filter(project)),
        ..Default::default()
    };
    let list = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| engine_error(e, "cannot list containers".into()))?;
    let mut map = BTreeMap::new();
    for c in list {
        let name = container_name(&c);
        let labels = c.labels.unwrap_or_default();
        let (Some(service), Some(id)) = (labels.get(LABEL_SERVICE), c.id) else {
            continue;
        };
        let running = c
            .state
            .is_some_and(|s| s == bollard::models::ContainerSummaryStateEnum::RUNNING);
        let ports = c
            .ports
            .unwrap_or_default()
            .iter()
            .filter_map(|p| Some((p.ip.clone().unwrap_or_default(), p.public_port?)))
            .collect();
        map.insert(
            service.clone(),
            Existing {
                id,
                name,
                hash: labels.get(LABEL_HASH).cloned().unwrap_or_default(),
                running,
                ports,
                order: labels
                    .get(LABEL_ORDER)
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(0),
                release: labels.get(LABEL_RELEASE).cloned(),
            },
        );
    }
    Ok(map)
}

/// Fails when a container name the bundle needs belongs to something else.
pub(super) async fn check_names(docker: &Docker, project: &str, desired: &[Desired]) -> Result<()> {
    for d in desired {
        match docker.inspect_container(&d.name, None).await {
            Ok(c) => {
                let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
                if labels.get(LABEL_PROJECT).map(String::as_str) != Some(project) {
                    let owner = match labels.get(LABEL_PROJECT) {
                        Some(p) => format!("it belongs to project {p}"),
                        None => "harbor-deploy did not create it".to_string(),
                    };
                    return Err(Error::new(
                        ErrorKind::NameConflict,
                        format!(
                            "a container named {} exists and {owner}; remove or rename it, or \
                             take that project down first (harbor-deploy never deletes what \
                             this project did not create)",
                            d.name
                        ),
                    )
                    .into());
                }
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => {
                return Err(engine_error(
                    e,
                    format!("cannot inspect container {}", d.name),
                ));
            }
        }
    }
    Ok(())
}

/// Every service's step, in start order, then the containers no longer in the bundle.
pub(super) fn steps(desired: &[Desired], existing: &BTreeMap<String, Existing>) -> Vec<Step> {
    let mut actions: BTreeMap<&str, Action> = BTreeMap::new();
    for d in desired {
        let a = match existing.get(&d.service) {
            None => Action::Create,
            Some(e) if e.hash != d.hash => Action::Recreate,
            Some(e) if !e.running => Action::Start,
            Some(_) => Action::Keep,
        };
        actions.insert(&d.service, a);
    }

    // a kept container restarts when something it depends on is replaced: nginx, for one,
    // resolves its upstreams once at start, and the syslog driver dials the log container
    // when a container starts
    for d in desired {
        if actions[d.service.as_str()] != Action::Keep {
            continue;
        }
        let replaced = d.deps.iter().any(|dep| {
            matches!(
                actions.get(dep.as_str()),
                Some(Action::Create | Action::Recreate)
            )
        });
        if replaced {
            actions.insert(&d.service, Action::Restart);
        }
    }

    let mut steps: Vec<Step> = desired
        .iter()
        .map(|d| {
            let action = actions[d.service.as_str()];
            Step {
                service: d.service.clone(),
                container: d.name.clone(),
                action,
                reason: action.reason().to_string(),
            }
        })
        .collect();
    for (service, e) in existing {
        if !desired.iter().any(|d| &d.service == service) {
            steps.push(Step {
                service: service.clone(),
                container: e.name.clone(),
                action: Action::Remove,
                reason: Action::Remove.reason().to_string(),
            });
        }
    }
    steps
}

/// Fails, naming every one, when images the bundle needs are not on the engine.
pub(super) async fn missing_images(docker: &Docker, desired: &[Desired]) -> Result<()> {
    let mut missing = Vec::new();
    for d in desired {
        if let Err(e) = docker.inspect_image(&d.image).await {
            if is_not_found(&e) {
                missing.push(format!("{} (service {})", d.image, d.service));
            } else {
                return Err(engine_error(e, format!("cannot inspect image {}", d.image)));
            }
        }
    }
    if !missing.is_empty() {
        return Err(Error::new(
            ErrorKind::ImageMissing,
            format!(
                "image(s) not present on the engine: {}; harbor-deploy does not pull, so load \
                 them (`docker load -i FILE.tar`, or `docker pull` where a registry is \
                 reachable) or point --images/--image-prefix at images that are present",
                missing.join(", ")
            ),
        )
        .into());
    }
    Ok(())
}

/// The networks named exactly `project` (the engine's name filter matches parts of names).
async fn networks_named(docker: &Docker, project: &str) -> Result<Vec<bollard::models::Network>> {
    let options = ListNetworksOptions {
        filters: Some(HashMap::from([(
            "name".to_string(),
            vec![project.to_string()],
        )])),
    };
    let nets = docker
        .list_networks(Some(options))
        .await
        .map_err(|e| engine_error(e, "cannot list networks".into()))?;
    Ok(nets
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(project))
        .collect())
}

/// Fails when the project's network name is taken by a network this project did not create,
/// or is ambiguous.
pub(super) async fn check_network(docker: &Docker, project: &str) -> Result<()> {
    let nets = networks_named(docker, project).await?;
    let foreign = nets.iter().any(|n| {
        n.labels
            .as_ref()
            .and_then(|l| l.get(LABEL_PROJECT))
            .is_none_or(|p| p != project)
    });
    if foreign {
        return Err(Error::new(
            ErrorKind::NameConflict,
            format!(
                "a network named {project} exists and harbor-deploy did not create it; choose \
                 another --project, or remove that network"
            ),
        )
        .into());
    }
    if nets.len() > 1 {
        return Err(Error::new(
            ErrorKind::NameConflict,
            format!(
                "{} networks are named {project} (left by runs of another version at the same \
                 time); `harbor-deploy down --project {project}` removes them, then run up again",
                nets.len()
            ),
        )
        .into());
    }
    Ok(())
}

/// Creates the project's network unless it exists; [`check_network`] has vetted the name.
pub(super) async fn ensure_network(docker: &Docker, project: &str) -> Result<()> {
    if !networks_named(docker, project).await?.is_empty() {
        return Ok(());
    }
    docker
        .create_network(NetworkCreateRequest {
            name: project.to_string(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([(
                LABEL_PROJECT.to_string(),
                project.to_string(),
            )])),
            ..Default::default()
        })
        .await
        .map_err(|e| engine_error(e, format!("cannot create network {project}")))?;
    Ok(())
}

/// Stops and removes a container with its anonymous volumes.
pub(super) async fn remove(docker: &Docker, id: &str) -> Result<()> {
    let stopped = docker
        .stop_container(
            id,
            Some(StopContainerOptions {
                t: Some(10),
                ..Default::default()
            }),
        )
        .await;
    if let Err(e) = stopped
        && !matches!(e, bollard::errors::Error::DockerResponseServerError { .. })
    {
        return Err(engine_error(e, format!("cannot stop container {id}")));
    }
    docker
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| engine_error(e, format!("cannot remove container {id}")))
}

/// The error for a host port that is taken.
pub(super) fn port_in_use(message: String) -> anyhow::Error {
    Error::new(ErrorKind::PortInUse, message).into()
}

/// Fails when a host port a new container publishes is taken by anything but a container of
/// the project that is about to be replaced. Checked before anything is removed, and only
/// for an engine on this machine (a unix socket): another host's ports cannot be tried from
/// here.
pub(super) fn check_ports(
    desired: &[Desired],
    actions: &BTreeMap<&str, Action>,
    existing: &BTreeMap<String, Existing>,
) -> Result<()> {
    if super::docker_host().is_some_and(|h| !h.starts_with("unix://")) {
        return Ok(());
    }
    let replaced: Vec<&(String, u16)> = existing
        .iter()
        .filter(|(s, _)| {
            matches!(
                actions.get(s.as_str()),
                Some(Action::Recreate | Action::Remove) | None
            )
        })
        .flat_map(|(_, e)| &e.ports)
        .collect();
    for d in desired {
        if !matches!(
            actions[d.service.as_str()],
            Action::Create | Action::Recreate
        ) {
            continue;
        }
        for p in &d.ports {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            let ours = replaced.iter().any(|(hip, hport)| {
                *hport == p.host_port && (hip == ip || hip == "0.0.0.0" || ip == "0.0.0.0")
            });
            if ours {
                continue;
            }
            // only a port in use is a refusal: a port below 1024 that this user may not bind
            // is the engine's to bind, and a taken one is still named when its container starts
            if let Err(e) = std::net::TcpListener::bind((ip, p.host_port))
                && e.kind() != std::io::ErrorKind::PermissionDenied
            {
                return Err(port_in_use(format!(
                    "host port {ip}:{} for service {} is already in use ({e}); free it, or \
                     change the port in harbor.yml (or --port-offset)",
                    p.host_port, d.service
                )));
            }
        }
    }
    Ok(())
}

/// Starts a container; a taken port is named as such.
pub(super) async fn start(docker: &Docker, d: &Desired) -> Result<()> {
    if let Err(e) = docker.start_container(&d.name, None).await {
        let text = e.to_string();
        if text.contains("port is already allocated") || text.contains("address already in use") {
            let ports: Vec<String> = d
                .ports
                .iter()
                .map(|p| format!("{}:{}", p.host_ip, p.host_port))
                .collect();
            return Err(port_in_use(format!(
                "cannot start {}: a host port it publishes ({}) is already in use: {text}",
                d.name,
                ports.join(", ")
            )));
        }
        return Err(engine_error(
            e,
            format!("cannot start {} ({})", d.name, d.service),
        ));
    }
    Ok(())
}

/// One service of a project on the engine.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServiceStatus {
    /// Compose service name.
    pub service: String,
    /// Container name.
    pub container: String,
    /// The container ID's first 12 characters.
    pub id: String,
    /// `running`, `exited`, `created`, ...
    pub state: String,
    /// `healthy`, `unhealthy`, `starting`, or `none` without a health check.
    pub health: String,
    /// Image reference.
    pub image: String,
    /// Published ports as `host_ip:host_port->port/proto`.
    pub ports: Vec<String>,
}

/// The project's services with state, health, image and ports, in start order.
pub fn status(project: &str) -> Result<Vec<ServiceStatus>, Error> {
    off_runtime(|| {
        typed(
            check_project(project)
                .and_then(|()| runtime())
                .and_then(|rt| {
                    rt.block_on(async {
                        let docker = connect().await?;
                        let mut rows = Vec::new();
                        let mut found: Vec<(String, Existing)> =
                            existing(&docker, project).await?.into_iter().collect();
                        found.sort_by_key(|(_, e)| e.order);
                        for (service, e) in found {
                            let c = docker.inspect_container(&e.id, None).await.map_err(|err| {
                                engine_error(err, format!("cannot inspect {service}"))
                            })?;
                            let (state, health, _) = describe(&c);
                            let mut ports = Vec::new();
                            if let Some(b) = c
                                .host_config
                                .as_ref()
                                .and_then(|h| h.port_bindings.as_ref())
                            {
                                for (cport, list) in b {
                                    for pb in list.iter().flatten() {
                                        ports.push(format!(
                                            "{}:{}->{cport}",
                                            pb.host_ip.clone().unwrap_or_default(),
                                            pb.host_port.clone().unwrap_or_default()
                                        ));
                                    }
                                }
                            }
                            ports.sort();
                            rows.push(ServiceStatus {
                                service,
                                container: e.name,
                                id: e.id.chars().take(12).collect(),
                                state,
                                health: health
                                    .map(|h| h.to_string())
                                    .unwrap_or_else(|| "none".into()),
                                image: c.config.and_then(|c| c.image).unwrap_or_default(),
                                ports,
                            });
                        }
                        Ok(rows)
                    })
                }),
        )
    })
}

/// What [`down`] did.
#[derive(Clone, Debug)]
pub struct DownReport {
    /// The project.
    pub project: String,
    /// Services whose containers were removed, in reverse start order.
    pub removed: Vec<String>,
    /// Whether the project's network was removed.
    pub network_removed: bool,
    /// What a purge deleted: what the installation created in the data volume and the
    /// installer directory.
    pub purged: Vec<PathBuf>,
    /// Directories of the data volume a purge left because they were there before the
    /// installation created anything (an earlier installer's, or made by hand).
    pub kept: Vec<PathBuf>,
}

/// Removes the project's containers and network. The data volume stays, unless `purge`:
/// then what the installation created in it (registry storage, database, secrets, ...) and
/// the rendered `common/config` go too, for every installation the project's containers
/// were made from. Nothing the installation did not create is touched, and nothing at all
/// while containers of other projects use the data.
pub fn down(project: &str, purge: bool) -> Result<DownReport, Error> {
    down_with(&DownOptions {
        project: project.to_string(),
        purge,
        installation: None,
    })
}

/// Inputs of [`down_with`].
#[derive(Clone, Debug)]
pub struct DownOptions {
    /// The project.
    pub project: String,
    /// Also delete the data and the rendered configuration.
    pub purge: bool,
    /// An installation to purge besides those the containers name: its configuration (for
    /// the data volume) and its installer directory. Needed when no container is left.
    pub installation: Option<(RenderOptions, Option<PathBuf>)>,
}

impl DownOptions {
    /// The options of `down` for `project`, naming, when `config` is given, the installation
    /// that harbor.yml (and `out`, when `up` was given one) describes.
    pub fn naming(
        project: &str,
        purge: bool,
        config: Option<PathBuf>,
        out: Option<PathBuf>,
    ) -> DownOptions {
        DownOptions {
            project: project.to_string(),
            purge,
            installation: config.map(|c| {
                let render = RenderOptions {
                    config: Some(c),
                    ..RenderOptions::default()
                };
                (render, out)
            }),
        }
    }
}

/// [`down`], with an installation named by its configuration as well.
pub fn down_with(opts: &DownOptions) -> Result<DownReport, Error> {
    off_runtime(|| typed(down_now(opts)))
}

fn down_now(opts: &DownOptions) -> Result<DownReport> {
    check_project(&opts.project)?;
    let mut named = Vec::new();
    if let Some((render, out)) = &opts.installation {
        named.push(crate::prepare::locate(render, out.clone())?);
    }
    runtime()?.block_on(take_down(&opts.project, opts.purge, &named))
}

/// What `down` does, once the runtime is up.
pub(super) async fn take_down(
    project: &str,
    purge: bool,
    installations: &[(PathBuf, PathBuf)],
) -> Result<DownReport> {
    let docker = connect().await?;

    // an up running on one of the installations finishes first: taking its containers down
    // under it would leave it reporting a deployment that is gone
    let mut outs: BTreeSet<PathBuf> = installations.iter().map(|(o, _)| o.clone()).collect();
    outs.extend(
        project_containers(&docker, project)
            .await?
            .iter()
            .filter_map(|c| c.labels.as_ref()?.get(LABEL_OUT).map(PathBuf::from)),
    );
    let mut locks = Vec::new();
    for out in &outs {
        locks.extend(crate::disk::lock_if_exists(out)?);
    }
    let list = project_containers(&docker, project).await?;

    let mut report = DownReport {
        project: project.to_string(),
        removed: Vec::new(),
        network_removed: false,
        purged: Vec::new(),
        kept: Vec::new(),
    };

    // every installation a container was made from, and those named by the caller; a purge
    // that would pull data from under other containers is refused before anything is removed
    let mut paths: BTreeSet<(PathBuf, PathBuf)> = installations.iter().cloned().collect();
    for c in &list {
        let labels = c.labels.clone().unwrap_or_default();
        if let (Some(out), Some(data)) = (labels.get(LABEL_OUT), labels.get(LABEL_DATA)) {
            paths.insert((PathBuf::from(out), PathBuf::from(data)));
        }
    }
    if purge {
        check_unused(&docker, project, &paths).await?;
    }

    for c in &list {
        let labels = c.labels.clone().unwrap_or_default();
        if let Some(id) = &c.id {
            remove(&docker, id).await?;
            report.removed.push(
                labels
                    .get(LABEL_SERVICE)
                    .cloned()
                    .unwrap_or_else(|| id.clone()),
            );
        }
    }
    let nets = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(project_filter(project)),
        }))
        .await
        .map_err(|e| engine_error(e, "cannot list networks".into()))?;
    for n in nets {
        let Some(id) = n.id else { continue };
        if let Err(e) = docker.remove_network(&id).await {
            let attached = attached(&docker, &id).await;
            if attached.is_empty() {
                return Err(engine_error(e, format!("cannot remove network {project}")));
            }
            return Err(Error::new(
                ErrorKind::NameConflict,
                format!(
                    "removed {} container(s) of project {project}, but its network is still \
                     used by containers it did not create: {}; disconnect them (docker network \
                     disconnect {project} NAME) and run down again",
                    report.removed.len(),
                    attached.join(", ")
                ),
            )
            .into());
        }
        report.network_removed = true;
    }

    if purge {
        if paths.is_empty() {
            return Err(InputError::new(format!(
                "project {project} has no containers left, so where its data lives is unknown; \
                 nothing was purged (pass --config, and --out if it was given to up, to name \
                 the installation)"
            ))
            .into());
        }
        let datas: BTreeSet<&PathBuf> = paths.iter().map(|(_, d)| d).collect();
        for data in datas {
            let outs: Vec<&Path> = paths
                .iter()
                .filter(|(_, d)| d == data)
                .map(|(o, _)| o.as_path())
                .collect();
            purge_installation(&outs, data, &mut report.purged, &mut report.kept)?;
        }
    }
    Ok(report)
}

/// The project's containers, last started first.
async fn project_containers(
    docker: &Docker,
    project: &str,
) -> Result<Vec<bollard::models::ContainerSummary>> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(project_filter(project)),
        ..Default::default()
    };
    let mut list = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| engine_error(e, "cannot list containers".into()))?;
    let order_of = |c: &bollard::models::ContainerSummary| -> i64 {
        c.labels
            .as_ref()
            .and_then(|l| l.get(LABEL_ORDER))
            .and_then(|o| o.parse().ok())
            .unwrap_or(0)
    };
    list.sort_by_key(|c| std::cmp::Reverse(order_of(c)));
    Ok(list)
}

/// The names of the containers attached to a network.
async fn attached(docker: &Docker, network: &str) -> Vec<String> {
    let inspected = docker
        .inspect_network(
            network,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await;
    let mut names: Vec<String> = inspected
        .ok()
        .and_then(|n| n.containers)
        .unwrap_or_default()
        .values()
        .filter_map(|c| c.name.clone())
        .collect();
    names.sort();
    names
}

/// Deletes what harbor-deploy recorded as created in a data volume and an installer
/// directory (the data volume's subdirectories, the secrets, `common/config`), and nothing
/// else; what the bundle uses but found already there is kept and reported.
fn purge_installation(
    outs: &[&Path],
    data: &Path,
    purged: &mut Vec<PathBuf>,
    kept: &mut Vec<PathBuf>,
) -> Result<()> {
    let list = crate::disk::created(data)?;

    // only what lies below the data volume or one of the installation's installer
    // directories, reached without following a symlink: an edited list, or a directory
    // replaced by a link since, cannot point a purge elsewhere
    let mut made: Vec<PathBuf> = Vec::new();
    for p in &list.install {
        match outs.iter().find(|o| p.starts_with(o)) {
            Some(base) if no_link_below(base, p) => made.push(p.clone()),
            // made for an installer directory this purge was not given: named, not touched
            _ if std::fs::symlink_metadata(p).is_ok() => kept.push(p.clone()),
            _ => {}
        }
    }
    for rel in list.data.iter().filter(|r| *r != Path::new(".")) {
        let p = data.join(rel);
        if no_link_below(data, &p) {
            made.push(p);
        }
    }
    for p in made {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        }
        .with_context(|| format!("cannot delete {}", p.display()))?;
        purged.push(p);
    }
    let record = crate::disk::created_path(data);
    if record.exists() {
        std::fs::remove_file(&record)
            .with_context(|| format!("cannot delete {}", record.display()))?;
    }

    // the data volume itself goes when the installation made it and nothing else is left;
    // what is left is named
    if list.data.iter().any(|r| r == Path::new(".")) {
        let _ = std::fs::remove_dir(data);
    }
    if let Ok(entries) = std::fs::read_dir(data) {
        let mut left: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        left.sort();
        kept.extend(left);
    }
    Ok(())
}

/// Whether `path` lies below `base` with no symlink on the way (the last part may be one: it
/// is removed as a link, never followed).
fn no_link_below(base: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(base) else {
        return false;
    };
    let parts: Vec<_> = rel.components().collect();
    if parts.is_empty()
        || !parts
            .iter()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return false;
    }
    let mut at = base.to_path_buf();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return false,
            _ => {}
        }
    }
    true
}

/// `path` with every symlink resolved, as far as it exists; the rest as given.
fn resolved(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut at = path;
    loop {
        if let Ok(real) = std::fs::canonicalize(at) {
            return missing.iter().rev().fold(real, |p, part| p.join(part));
        }
        match (at.parent(), at.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_owned());
                at = parent;
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Refuses a purge while containers the purge does not remove still mount part of an
/// installation (another project deployed from the same data volume, or containers made by
/// hand): deleting their data under them would break them.
async fn check_unused(
    docker: &Docker,
    project: &str,
    installations: &BTreeSet<(PathBuf, PathBuf)>,
) -> Result<()> {
    let all = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            ..Default::default()
        }))
        .await
        .map_err(|e| engine_error(e, "cannot list containers".into()))?;
    // compared as the filesystem resolves them: a data volume named through a symlink is
    // still that data volume
    let places: Vec<PathBuf> = installations
        .iter()
        .flat_map(|(out, data)| [resolved(data), resolved(&out.join("common"))])
        .collect();
    let mut users = BTreeSet::new();
    for c in all {
        let labels = c.labels.clone().unwrap_or_default();
        if labels.get(LABEL_PROJECT).map(String::as_str) == Some(project) {
            continue;
        }
        let uses = c
            .mounts
            .iter()
            .flatten()
            .filter_map(|m| m.source.as_deref())
            .any(|src| {
                let src = resolved(Path::new(src));
                places.iter().any(|p| src.starts_with(p))
            });
        if uses {
            let name = container_name(&c);
            let owner = labels
                .get(LABEL_PROJECT)
                .map(|p| format!(" (project {p})"))
                .unwrap_or_default();
            users.insert(format!("{name}{owner}"));
        }
    }
    if !users.is_empty() {
        return Err(Error::new(
            ErrorKind::NameConflict,
            format!(
                "nothing was removed or purged: containers outside project {project} still use \
                 its data: {}; take them down first (harbor-deploy down --project NAME)",
                users.into_iter().collect::<Vec<_>>().join(", ")
            ),
        )
        .into());
    }
    Ok(())
}
