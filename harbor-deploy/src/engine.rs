//! `up`, `plan`, `status` and `down`: converge a Docker engine to a rendered bundle through
//! the Engine API.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, EndpointSettings,
    HealthStatusEnum, HostConfig, HostConfigLogConfig, NetworkCreateRequest, NetworkingConfig,
    PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, ListNetworksOptions, LogsOptions,
    RemoveContainerOptions, StopContainerOptions,
};
use clap::Args;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::RenderArgs;
use crate::compose::{self, ComposeFile, Port};

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

/// Inputs of `up` and `plan`.
#[derive(Args, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    render: RenderArgs,
    /// The installer directory (default: the config file's directory, or the current one).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: Option<PathBuf>,
    /// Project name: the network's name and the label of every container.
    #[arg(long, value_name = "NAME", default_value = "harbor")]
    project: String,
    /// Prefix every image reference with a registry or namespace, e.g. `mirror.example/`.
    #[arg(long, value_name = "P", conflicts_with = "images")]
    image_prefix: Option<String>,
    /// A YAML map from service name to image reference, overriding the compose file's.
    #[arg(long, value_name = "FILE")]
    images: Option<PathBuf>,
    /// Seconds to wait for every container to be healthy.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout: u64,
    /// Publish every port on 127.0.0.1 only (for tests and single-host setups behind a proxy).
    #[arg(long)]
    publish_loopback: bool,
    /// Add this to every published host port that the compose file binds on all interfaces.
    #[arg(long, value_name = "N", default_value_t = 0)]
    port_offset: u16,
}

/// Inputs of `status`.
#[derive(Args)]
pub struct StatusArgs {
    /// Project name.
    #[arg(long, value_name = "NAME", default_value = "harbor")]
    project: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Inputs of `down`.
#[derive(Args)]
pub struct DownArgs {
    /// Project name.
    #[arg(long, value_name = "NAME", default_value = "harbor")]
    project: String,
    /// Also delete the data volume's contents and the rendered secrets (needs --yes).
    #[arg(long)]
    purge: bool,
    /// Confirm --purge.
    #[arg(long)]
    yes: bool,
}

/// One container as the bundle wants it.
struct Desired {
    service: String,
    name: String,
    image: String,
    deps: Vec<String>,
    ports: Vec<Port>,
    hash: String,
    body: ContainerCreateBody,
}

/// What happens to a service.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Action {
    Keep,
    Start,
    Create,
    Recreate,
    Restart,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Keep => "unchanged",
            Action::Start => "start (stopped, unchanged)",
            Action::Create => "create",
            Action::Recreate => "recreate (inputs changed)",
            Action::Restart => "restart (a dependency is recreated)",
        }
    }
}

/// A container of the project on the engine.
struct Existing {
    id: String,
    hash: String,
    running: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Which engine the client talks to, for messages.
fn engine_address() -> String {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if !h.is_empty() => format!("DOCKER_HOST={h}"),
        _ => "unix:///var/run/docker.sock (DOCKER_HOST is not set)".to_string(),
    }
}

async fn connect() -> Result<Docker> {
    let docker = Docker::connect_with_defaults()
        .map_err(|e| {
            anyhow!(
                "cannot reach the docker engine at {}: {e}",
                engine_address()
            )
        })?
        .with_timeout(Duration::from_secs(60));
    docker.version().await.map_err(|e| {
        anyhow!(
            "the docker engine at {} does not answer: {e}; start it or set DOCKER_HOST",
            engine_address()
        )
    })?;
    Ok(docker)
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

/// `harbor-deploy up`.
pub fn up(args: &UpArgs) -> Result<ExitCode> {
    converge(args, false)
}

/// `harbor-deploy plan`.
pub fn plan(args: &UpArgs) -> Result<ExitCode> {
    converge(args, true)
}

fn converge(args: &UpArgs, dry: bool) -> Result<ExitCode> {
    let started = Instant::now();
    let written =
        match crate::prepare::render_and_write(&args.render, args.out.clone(), None, None)? {
            Ok(w) => w,
            Err(code) => return Ok(code),
        };
    let out = std::path::absolute(&written.out)
        .with_context(|| format!("cannot resolve {}", written.out.display()))?;
    let data = std::path::absolute(&written.data)
        .with_context(|| format!("cannot resolve {}", written.data.display()))?;
    let file = ComposeFile::read(&out)?;
    let images = image_overrides(args, &file)?;

    runtime()?.block_on(async {
        let docker = connect().await?;
        let desired = desired(&docker, args, &file, &images, &out, &data, dry).await?;
        let existing = existing(&docker, &args.project).await?;
        check_names(&docker, &args.project, &desired).await?;
        let actions = actions(&desired, &existing);
        let removed: Vec<&String> = existing
            .keys()
            .filter(|s| !desired.iter().any(|d| &d.service == *s))
            .collect();

        if dry {
            for d in &desired {
                println!("{}: {}", d.service, actions[&d.service].word());
            }
            for s in &removed {
                println!("{s}: remove (no longer in the bundle)");
            }
            return Ok(ExitCode::SUCCESS);
        }

        if actions.values().all(|a| *a == Action::Keep) && removed.is_empty() {
            wait_all(&docker, &desired, args.timeout, started).await?;
            println!(
                "project {}: nothing changed; {} container(s) untouched and healthy",
                args.project,
                desired.len()
            );
            return Ok(ExitCode::SUCCESS);
        }

        missing_images(&docker, &desired).await?;
        ensure_network(&docker, &args.project).await?;

        for s in &removed {
            if let Some(e) = existing.get(*s) {
                remove(&docker, &e.id).await?;
                println!("{s}: removed");
            }
        }
        for d in desired.iter().rev() {
            if actions[&d.service] == Action::Recreate
                && let Some(e) = existing.get(&d.service)
            {
                remove(&docker, &e.id).await?;
            }
        }
        check_ports(&desired, &actions)?;

        let deadline = started + Duration::from_secs(args.timeout);
        for d in &desired {
            for dep in &d.deps {
                if let Some(dd) = desired.iter().find(|x| &x.service == dep) {
                    wait_healthy(&docker, dd, deadline).await?;
                }
            }
            let action = actions[&d.service];
            match action {
                Action::Keep => {}
                Action::Start => start(&docker, d).await?,
                Action::Restart => {
                    docker
                        .restart_container(&d.name, None)
                        .await
                        .with_context(|| format!("cannot restart {}", d.name))?;
                }
                Action::Create | Action::Recreate => {
                    let options = CreateContainerOptions {
                        name: Some(d.name.clone()),
                        ..Default::default()
                    };
                    docker
                        .create_container(Some(options), d.body.clone())
                        .await
                        .map_err(|e| anyhow!("cannot create {} ({}): {e}", d.name, d.service))?;
                    start(&docker, d).await?;
                }
            }
            println!(
                "{}: {} [{:.1}s]",
                d.service,
                action.word(),
                started.elapsed().as_secs_f64()
            );
        }
        wait_all(&docker, &desired, args.timeout, started).await?;
        println!(
            "project {}: {} container(s) healthy after {:.1}s",
            args.project,
            desired.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// Image references by service after `--images` / `--image-prefix`.
fn image_overrides(args: &UpArgs, file: &ComposeFile) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (name, s) in &file.services {
        let image = match &args.image_prefix {
            Some(p) => format!("{p}{}", s.image),
            None => s.image.clone(),
        };
        map.insert(name.clone(), image);
    }
    if let Some(path) = &args.images {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let given: BTreeMap<String, String> = serde_saphyr::from_str(&text).with_context(|| {
            format!("{} is not a map from service name to image", path.display())
        })?;
        for (service, image) in given {
            if !map.contains_key(&service) {
                return Err(crate::InputError::new(format!(
                    "{}: service `{service}` is not in the bundle; services are {}",
                    path.display(),
                    map.keys().cloned().collect::<Vec<_>>().join(", ")
                ))
                .into());
            }
            map.insert(service, image);
        }
    }
    Ok(map)
}

/// Services in an order where every dependency comes first.
fn order(file: &ComposeFile) -> Result<Vec<String>> {
    let mut done: Vec<String> = Vec::new();
    let mut left: BTreeSet<&String> = file.services.keys().collect();
    while !left.is_empty() {
        let ready: Vec<&String> = left
            .iter()
            .copied()
            .filter(|s| {
                file.services[*s]
                    .depends_on
                    .iter()
                    .all(|d| done.contains(d) || !file.services.contains_key(d))
            })
            .collect();
        if ready.is_empty() {
            bail!("the services' depends_on form a cycle");
        }
        for s in ready {
            left.remove(s);
            done.push(s.clone());
        }
    }
    Ok(done)
}

#[allow(clippy::too_many_arguments)]
async fn desired(
    docker: &Docker,
    args: &UpArgs,
    file: &ComposeFile,
    images: &BTreeMap<String, String>,
    out: &Path,
    data: &Path,
    dry: bool,
) -> Result<Vec<Desired>> {
    // a bind nested in another leaves its mount point in the outer bind's host directory
    // (registry's root.crt inside common/config/registry/, which registryctl mounts too):
    // such a file is the engine's, not an input
    let mut nested: Vec<PathBuf> = Vec::new();
    for s in file.services.values() {
        let binds = s.binds(out)?;
        for b in &binds {
            for c in &binds {
                if let Ok(rel) = Path::new(&c.target).strip_prefix(&b.target)
                    && !rel.as_os_str().is_empty()
                {
                    nested.push(b.source.join(rel));
                }
            }
        }
    }

    let mut list = Vec::new();
    for (index, service) in order(file)?.into_iter().enumerate() {
        let s = &file.services[&service];
        let image = images
            .get(&service)
            .cloned()
            .unwrap_or_else(|| s.image.clone());
        let name = s
            .container_name
            .clone()
            .unwrap_or_else(|| format!("{}-{service}", args.project));

        let mut env = Vec::new();
        for f in s.env_files() {
            let path = compose::resolve(out, &f);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the env file {}", path.display()))?;
            let vars = harbor_prep::envfile::parse(&text)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            env.extend(vars.into_iter().map(|(k, v)| format!("{k}={v}")));
        }

        let binds = s.binds(out)?;
        let mut bind_specs = Vec::new();
        let mut hasher = Sha256::new();
        for b in &binds {
            if !dry && !b.source.exists() {
                // as Compose does for a bind whose host path is missing: a directory
                std::fs::create_dir_all(&b.source)
                    .with_context(|| format!("cannot create {}", b.source.display()))?;
            }
            let src = b.source.display().to_string();
            bind_specs.push(if b.mode.is_empty() {
                format!("{src}:{}", b.target)
            } else {
                format!("{src}:{}:{}", b.target, b.mode)
            });
            if b.source.starts_with(out.join("common/config"))
                || b.source.starts_with(data.join("secret"))
            {
                hash_tree(&mut hasher, &b.source, &nested)?;
            }
        }

        let mut ports = Vec::new();
        for p in &s.ports {
            let mut port = compose::parse_port(&p.text())?;
            if port.host_ip.is_empty() {
                port.host_port =
                    port.host_port
                        .checked_add(args.port_offset)
                        .with_context(|| {
                            format!(
                                "port {} plus --port-offset {} is above 65535",
                                port.host_port, args.port_offset
                            )
                        })?;
                if args.publish_loopback {
                    port.host_ip = "127.0.0.1".into();
                }
            }
            ports.push(port);
        }
        let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
        for p in &ports {
            bindings
                .entry(format!("{}/tcp", p.container_port))
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(p.host_ip.clone()),
                    host_port: Some(p.host_port.to_string()),
                });
        }
        let mut exposed: Vec<String> = bindings.keys().cloned().collect();
        exposed.sort();

        let restart = match s.restart.as_deref() {
            None | Some("no") => RestartPolicyNameEnum::NO,
            Some("always") => RestartPolicyNameEnum::ALWAYS,
            Some("unless-stopped") => RestartPolicyNameEnum::UNLESS_STOPPED,
            Some("on-failure") => RestartPolicyNameEnum::ON_FAILURE,
            Some(other) => bail!("service {service}: restart `{other}` is not supported"),
        };
        let shm_size = match &s.shm_size {
            Some(v) => Some(compose::parse_size(&v.text())?),
            None => None,
        };
        let log_config = s.logging.as_ref().map(|l| HostConfigLogConfig {
            typ: Some(l.driver.clone()),
            config: Some(l.options.clone().into_iter().collect()),
        });
        let mut endpoints = HashMap::new();
        if !s.network_names().is_empty() {
            endpoints.insert(
                args.project.clone(),
                EndpointSettings {
                    aliases: Some(vec![service.clone()]),
                    ..Default::default()
                },
            );
        }

        let mut body = ContainerCreateBody {
            image: Some(image.clone()),
            env: Some(env),
            exposed_ports: Some(exposed),
            host_config: Some(HostConfig {
                binds: Some(bind_specs),
                cap_add: Some(s.cap_add.clone()),
                cap_drop: Some(s.cap_drop.clone()),
                restart_policy: Some(RestartPolicy {
                    name: Some(restart),
                    maximum_retry_count: None,
                }),
                shm_size,
                port_bindings: Some(bindings),
                log_config,
                network_mode: Some(args.project.clone()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(endpoints),
            }),
            ..Default::default()
        };

        // the spec, sorted (serde_json maps keep insertion order; HashMaps do not)
        let spec = serde_json::to_value(&body).context("cannot serialise a container spec")?;
        hasher.update(canonical(&spec).as_bytes());
        let image_id = match docker.inspect_image(&image).await {
            Ok(i) => i.id.unwrap_or_default(),
            Err(_) => String::new(),
        };
        hasher.update(image_id.as_bytes());
        let hash: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();

        let labels = HashMap::from([
            (LABEL_PROJECT.to_string(), args.project.clone()),
            (LABEL_SERVICE.to_string(), service.clone()),
            (LABEL_HASH.to_string(), hash.clone()),
            (LABEL_ORDER.to_string(), index.to_string()),
            (LABEL_OUT.to_string(), out.display().to_string()),
            (LABEL_DATA.to_string(), data.display().to_string()),
        ]);
        body.labels = Some(labels);

        list.push(Desired {
            service: service.clone(),
            name,
            image,
            deps: s.depends_on.clone(),
            ports,
            hash,
            body,
        });
    }
    Ok(list)
}

/// JSON with object keys sorted, for hashing.
fn canonical(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let sorted: BTreeMap<&String, String> =
                m.iter().map(|(k, v)| (k, canonical(v))).collect();
            let parts: Vec<String> = sorted.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
            format!("{{{}}}", parts.join(","))
        }
        serde_json::Value::Array(a) => {
            format!(
                "[{}]",
                a.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// Feeds the paths and bytes of a file or of every file below a directory into the hash.
fn hash_tree(hasher: &mut Sha256, path: &Path, skip: &[PathBuf]) -> Result<()> {
    if skip.iter().any(|s| s == path) {
        return Ok(());
    }
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            hash_tree(hasher, &e, skip)?;
        }
    } else if path.is_file() {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        hasher.update(path.display().to_string().as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(())
}

fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_PROJECT}={project}")],
    )])
}

async fn existing(docker: &Docker, project: &str) -> Result<BTreeMap<String, Existing>> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(project_filter(project)),
        ..Default::default()
    };
    let list = docker
        .list_containers(Some(options))
        .await
        .context("cannot list containers")?;
    let mut map = BTreeMap::new();
    for c in list {
        let labels = c.labels.unwrap_or_default();
        let (Some(service), Some(id)) = (labels.get(LABEL_SERVICE), c.id) else {
            continue;
        };
        let running = c
            .state
            .is_some_and(|s| s == bollard::models::ContainerSummaryStateEnum::RUNNING);
        map.insert(
            service.clone(),
            Existing {
                id,
                hash: labels.get(LABEL_HASH).cloned().unwrap_or_default(),
                running,
            },
        );
    }
    Ok(map)
}

async fn check_names(docker: &Docker, project: &str, desired: &[Desired]) -> Result<()> {
    for d in desired {
        match docker.inspect_container(&d.name, None).await {
            Ok(c) => {
                let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
                if labels.get(LABEL_PROJECT).map(String::as_str) != Some(project) {
                    bail!(
                        "a container named {} exists and does not belong to project {project}; \
                         remove or rename it (harbor-deploy never deletes what it did not create)",
                        d.name
                    );
                }
            }
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(anyhow!("cannot inspect container {}: {e}", d.name)),
        }
    }
    Ok(())
}

fn actions(desired: &[Desired], existing: &BTreeMap<String, Existing>) -> BTreeMap<String, Action> {
    let mut actions = BTreeMap::new();
    for d in desired {
        let a = match existing.get(&d.service) {
            None => Action::Create,
            Some(e) if e.hash != d.hash => Action::Recreate,
            Some(e) if !e.running => Action::Start,
            Some(_) => Action::Keep,
        };
        actions.insert(d.service.clone(), a);
    }
    // a kept container restarts when something it depends on is replaced: nginx, for one,
    // resolves its upstreams once at start, and the syslog driver dials the log container
    // when a container starts
    {
        for d in desired {
            if actions[&d.service] != Action::Keep {
                continue;
            }
            let replaced = d
                .deps
                .iter()
                .any(|dep| matches!(actions.get(dep), Some(Action::Create | Action::Recreate)));
            if replaced {
                actions.insert(d.service.clone(), Action::Restart);
            }
        }
    }
    actions
}

async fn missing_images(docker: &Docker, desired: &[Desired]) -> Result<()> {
    let mut missing = Vec::new();
    for d in desired {
        if let Err(e) = docker.inspect_image(&d.image).await {
            if is_not_found(&e) {
                missing.push(format!("{} (service {})", d.image, d.service));
            } else {
                return Err(anyhow!("cannot inspect image {}: {e}", d.image));
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "image(s) not present on the engine: {}; harbor-deploy does not pull, so load them \
             (`docker load -i FILE.tar`, or `docker pull` where a registry is reachable) or \
             point --images/--image-prefix at images that are present",
            missing.join(", ")
        );
    }
    Ok(())
}

async fn ensure_network(docker: &Docker, project: &str) -> Result<()> {
    let options = ListNetworksOptions {
        filters: Some(HashMap::from([(
            "name".to_string(),
            vec![project.to_string()],
        )])),
    };
    let nets = docker
        .list_networks(Some(options))
        .await
        .context("cannot list networks")?;
    if let Some(n) = nets.iter().find(|n| n.name.as_deref() == Some(project)) {
        let ours = n
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_PROJECT))
            .is_some_and(|p| p == project);
        if !ours {
            bail!("a network named {project} exists and does not belong to project {project}");
        }
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
        .map_err(|e| anyhow!("cannot create network {project}: {e}"))?;
    Ok(())
}

async fn remove(docker: &Docker, id: &str) -> Result<()> {
    let _ = docker
        .stop_container(
            id,
            Some(StopContainerOptions {
                t: Some(10),
                ..Default::default()
            }),
        )
        .await;
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
        .map_err(|e| anyhow!("cannot remove container {id}: {e}"))
}

/// Fails when a host port a new container publishes is taken.
fn check_ports(desired: &[Desired], actions: &BTreeMap<String, Action>) -> Result<()> {
    for d in desired {
        if !matches!(actions[&d.service], Action::Create | Action::Recreate) {
            continue;
        }
        for p in &d.ports {
            let ip = if p.host_ip.is_empty() {
                "0.0.0.0"
            } else {
                &p.host_ip
            };
            if let Err(e) = std::net::TcpListener::bind((ip, p.host_port)) {
                bail!(
                    "host port {ip}:{} for service {} is already in use ({e}); free it, or \
                     change the port in harbor.yml",
                    p.host_port,
                    d.service
                );
            }
        }
    }
    Ok(())
}

async fn start(docker: &Docker, d: &Desired) -> Result<()> {
    if let Err(e) = docker.start_container(&d.name, None).await {
        let text = e.to_string();
        if text.contains("port is already allocated") || text.contains("address already in use") {
            let ports: Vec<String> = d
                .ports
                .iter()
                .map(|p| format!("{}:{}", p.host_ip, p.host_port))
                .collect();
            bail!(
                "cannot start {}: a host port it publishes ({}) is already in use: {text}",
                d.name,
                ports.join(", ")
            );
        }
        bail!("cannot start {} ({}): {text}", d.name, d.service);
    }
    Ok(())
}

async fn last_logs(docker: &Docker, name: &str) -> String {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: "20".into(),
        ..Default::default()
    };
    let mut stream = docker.logs(name, Some(options));
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => text.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
            Err(e) => {
                text.push_str(&format!("(logs unavailable: {e})"));
                break;
            }
        }
    }
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// State words of a container, and whether it has a health check.
fn describe(c: &ContainerInspectResponse) -> (String, Option<HealthStatusEnum>, i64) {
    let state = c.state.as_ref();
    let status = state
        .and_then(|s| s.status)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".into());
    let health = state.and_then(|s| s.health.as_ref()).and_then(|h| h.status);
    (status, health, c.restart_count.unwrap_or(0))
}

async fn wait_healthy(docker: &Docker, d: &Desired, deadline: Instant) -> Result<()> {
    let mut running_since: Option<Instant> = None;
    loop {
        let c = docker
            .inspect_container(&d.name, None)
            .await
            .map_err(|e| anyhow!("cannot inspect {}: {e}", d.name))?;
        let (status, health, restarts) = describe(&c);
        let st = c.state.as_ref().and_then(|s| s.status);
        let failed = matches!(
            st,
            Some(
                ContainerStateStatusEnum::EXITED
                    | ContainerStateStatusEnum::DEAD
                    | ContainerStateStatusEnum::RESTARTING
            )
        ) || restarts > 0
            || health == Some(HealthStatusEnum::UNHEALTHY);
        let shown = health.map_or_else(|| "none".to_string(), |h| h.to_string());
        if failed {
            let code = c.state.as_ref().and_then(|s| s.exit_code).unwrap_or(0);
            bail!(
                "service {} (container {}) is not healthy: state {status}, health {}, exit code \
                 {code}, {restarts} restart(s); last log lines:\n{}",
                d.service,
                d.name,
                shown,
                last_logs(docker, &d.name).await
            );
        }
        let running = st == Some(ContainerStateStatusEnum::RUNNING);
        match health {
            Some(HealthStatusEnum::HEALTHY) if running => return Ok(()),
            Some(HealthStatusEnum::STARTING) => {}
            _ if running => {
                // no health check in the image: running and not restarting for two seconds
                let since = *running_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_secs(2) {
                    return Ok(());
                }
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            bail!(
                "service {} (container {}) is not healthy within the timeout: state {status}, \
                 health {}; last log lines:\n{}",
                d.service,
                d.name,
                shown,
                last_logs(docker, &d.name).await
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn wait_all(
    docker: &Docker,
    desired: &[Desired],
    timeout: u64,
    started: Instant,
) -> Result<()> {
    let deadline = started + Duration::from_secs(timeout);
    for d in desired {
        wait_healthy(docker, d, deadline).await?;
    }
    Ok(())
}

/// One line of `status`.
#[derive(serde::Serialize)]
struct Row {
    service: String,
    container: String,
    id: String,
    state: String,
    health: String,
    image: String,
    ports: Vec<String>,
}

/// `harbor-deploy status`.
pub fn status(args: &StatusArgs) -> Result<ExitCode> {
    runtime()?.block_on(async {
        let docker = connect().await?;
        let mut rows = Vec::new();
        for (service, e) in existing(&docker, &args.project).await? {
            let c = docker
                .inspect_container(&e.id, None)
                .await
                .map_err(|err| anyhow!("cannot inspect {service}: {err}"))?;
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
            rows.push(Row {
                service,
                container: c
                    .name
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
                id: e.id.chars().take(12).collect(),
                state,
                health: health
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "none".into()),
                image: c.config.and_then(|c| c.image).unwrap_or_default(),
                ports,
            });
        }
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).context("cannot format json")?
            );
        } else if rows.is_empty() {
            println!("project {}: no containers", args.project);
        } else {
            for r in &rows {
                println!(
                    "{:<14} {:<18} {:<8} {:<10} {:<40} {}",
                    r.service,
                    r.container,
                    r.state,
                    r.health,
                    r.image,
                    r.ports.join(",")
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Subdirectories of the data volume the bundle creates and `down --purge` deletes.
const DATA_DIRS: [&str; 7] = [
    "secret",
    "registry",
    "database",
    "redis",
    "job_logs",
    "ca_download",
    "trivy-adapter",
];

/// `harbor-deploy down`.
pub fn down(args: &DownArgs) -> Result<ExitCode> {
    if args.purge && !args.yes {
        return Err(crate::InputError::new(
            "--purge deletes the data volume and the secrets; add --yes to confirm",
        )
        .into());
    }
    runtime()?.block_on(async {
        let docker = connect().await?;
        let options = ListContainersOptions {
            all: true,
            filters: Some(project_filter(&args.project)),
            ..Default::default()
        };
        let mut list = docker
            .list_containers(Some(options))
            .await
            .context("cannot list containers")?;
        let order_of = |c: &bollard::models::ContainerSummary| -> i64 {
            c.labels
                .as_ref()
                .and_then(|l| l.get(LABEL_ORDER))
                .and_then(|o| o.parse().ok())
                .unwrap_or(0)
        };
        list.sort_by_key(|c| std::cmp::Reverse(order_of(c)));
        let mut paths: Option<(PathBuf, PathBuf)> = None;
        for c in &list {
            let labels = c.labels.clone().unwrap_or_default();
            if let (Some(out), Some(data)) = (labels.get(LABEL_OUT), labels.get(LABEL_DATA)) {
                paths = Some((PathBuf::from(out), PathBuf::from(data)));
            }
            if let Some(id) = &c.id {
                remove(&docker, id).await?;
                println!(
                    "{}: removed",
                    labels
                        .get(LABEL_SERVICE)
                        .cloned()
                        .unwrap_or_else(|| id.clone())
                );
            }
        }
        let nets = docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(project_filter(&args.project)),
            }))
            .await
            .context("cannot list networks")?;
        for n in nets {
            if let Some(id) = n.id {
                docker
                    .remove_network(&id)
                    .await
                    .map_err(|e| anyhow!("cannot remove network {}: {e}", args.project))?;
                println!("network {}: removed", n.name.unwrap_or(id));
            }
        }

        if args.purge {
            let Some((out, data)) = paths else {
                bail!(
                    "project {} has no containers left, so where its data lives is unknown; \
                     nothing was purged",
                    args.project
                );
            };
            for d in DATA_DIRS {
                let p = data.join(d);
                if p.exists() {
                    std::fs::remove_dir_all(&p)
                        .with_context(|| format!("cannot delete {}", p.display()))?;
                }
            }
            // the data directory itself goes only when nothing else is left in it
            let _ = std::fs::remove_dir(&data);
            let config = out.join("common/config");
            if config.exists() {
                std::fs::remove_dir_all(&config)
                    .with_context(|| format!("cannot delete {}", config.display()))?;
            }
            let _ = std::fs::remove_dir(out.join("common"));
            println!(
                "purged the data volume {} and the rendered configuration {}",
                data.display(),
                config.display()
            );
        } else {
            println!("project {}: down; the data volume is kept", args.project);
        }
        Ok(ExitCode::SUCCESS)
    })
}
