//! What the bundle wants of each container: the Engine API spec read from the compose file,
//! and the hash of its inputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, HostConfigLogConfig, NetworkingConfig,
    PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use sha2::{Digest, Sha256};

use crate::compose::{self, ComposeFile, Port};
use crate::error::InputError;

use super::{
    LABEL_DATA, LABEL_HASH, LABEL_ORDER, LABEL_OUT, LABEL_PROJECT, LABEL_RELEASE, LABEL_SERVICE,
    Target, UpOptions,
};

/// One container as the bundle wants it.
pub(super) struct Desired {
    pub(super) service: String,
    pub(super) name: String,
    pub(super) image: String,
    pub(super) deps: Vec<String>,
    pub(super) ports: Vec<Port>,
    pub(super) hash: String,
    pub(super) body: ContainerCreateBody,
}

/// The host files a deployment reads: the rendered bundle's files over what is on disk, so
/// that `plan` sees what `up` will see without writing anything.
pub(super) struct View {
    pub(super) files: BTreeMap<PathBuf, Vec<u8>>,
}

impl View {
    pub(super) fn new(rendered: &crate::prepare::Rendered) -> View {
        let mut files = BTreeMap::new();
        for e in &rendered.bundle.entries {
            if let Some(bytes) = &e.contents {
                let path = crate::disk::target(e, &rendered.out, &rendered.data);
                files.insert(path, bytes.clone());
            }
        }
        View { files }
    }

    pub(super) fn read(&self, path: &Path) -> Result<Vec<u8>> {
        match self.files.get(path) {
            Some(b) => Ok(b.clone()),
            None => std::fs::read(path).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    pub(super) fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(path) || path.is_file()
    }

    /// The entries directly below `dir`, on disk or in the bundle, sorted.
    pub(super) fn children(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut set = BTreeSet::new();
        if dir.is_dir() {
            let entries =
                std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
            for e in entries.flatten() {
                set.insert(e.path());
            }
        }
        for path in self.files.keys() {
            if let Ok(rel) = path.strip_prefix(dir)
                && let Some(first) = rel.components().next()
            {
                set.insert(dir.join(first));
            }
        }
        Ok(set.into_iter().collect())
    }
}

/// Image references by service after `--images` / `--image-prefix`.
pub(super) fn image_overrides(
    opts: &UpOptions,
    file: &ComposeFile,
) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (name, s) in &file.services {
        let image = match &opts.image_prefix {
            Some(p) => format!("{p}{}", s.image),
            None => s.image.clone(),
        };
        map.insert(name.clone(), image);
    }
    if let Some(path) = &opts.images {
        // a map of a dozen image references: a few hundred bytes
        let text = crate::disk::read_limited(path, 1 << 20)
            .map_err(|e| {
                InputError::new(format!(
                    "cannot read the --images file {}: {}",
                    path.display(),
                    crate::disk::describe(&e)
                ))
            })
            .and_then(|b| {
                String::from_utf8(b)
                    .map_err(|_| InputError::new(format!("{} is not UTF-8 text", path.display())))
            })?;
        let shape = || {
            InputError::new(format!(
                "{} must be a YAML map from service name to image reference, one per line, \
                 such as `core: mirror.example/goharbor/harbor-core:v2.15.2`",
                path.display()
            ))
        };
        let given: BTreeMap<String, String> = if text.trim().is_empty() {
            BTreeMap::new()
        } else {
            serde_saphyr::from_str(&text).map_err(|_| shape())?
        };
        for (service, image) in given {
            if let Some(why) = bad_reference(&image) {
                return Err(InputError::new(format!(
                    "{}: `{image}` for service `{service}` is not an image reference: {why}",
                    path.display()
                ))
                .into());
            }
            if !map.contains_key(&service) {
                return Err(InputError::new(format!(
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

/// Why `image` is no reference the engine takes, if it is not: Docker's rules in short, so
/// that a typo is an input error rather than an engine's 400.
fn bad_reference(image: &str) -> Option<&'static str> {
    if image.is_empty() {
        return Some("it is empty");
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it holds a space or a control character");
    }
    // the repository (before any tag or digest) is lower case; a registry host may be mixed
    let repo = image.split('@').next().unwrap_or(image);
    let repo = match repo.rfind(':') {
        Some(i) if !repo[i..].contains('/') => &repo[..i],
        _ => repo,
    };
    let path = match repo.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => rest,
        _ => repo,
    };
    if path.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("the repository must be lower case");
    }
    None
}

/// Services in an order where every dependency comes first.
pub(super) fn order(file: &ComposeFile) -> Result<Vec<String>> {
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

/// Every container as the bundle wants it, in start order, with the hash of its inputs.
pub(super) async fn desired(docker: &Docker, opts: &UpOptions, t: &Target) -> Result<Vec<Desired>> {
    // a bind nested in another leaves its mount point in the outer bind's host directory
    // (registry's root.crt inside common/config/registry/, which registryctl mounts too):
    // such a file is the engine's, not an input
    let (file, out, data) = (&t.file, t.out.as_path(), t.data.as_path());
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
        let image = t
            .images
            .get(&service)
            .cloned()
            .unwrap_or_else(|| s.image.clone());
        let name = s
            .container_name
            .clone()
            .unwrap_or_else(|| format!("{}-{service}", opts.project));

        let mut env = Vec::new();
        for f in s.env_files() {
            let path = compose::resolve(out, &f);
            let text = String::from_utf8(t.view.read(&path)?)
                .with_context(|| format!("the env file {} is not UTF-8", path.display()))?;
            let vars = harbor_prep::envfile::parse(&text)
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            env.extend(vars.into_iter().map(|(k, v)| format!("{k}={v}")));
        }

        let binds = s.binds(out)?;
        let mut bind_specs = Vec::new();
        let mut hasher = Sha256::new();
        for b in &binds {
            let src = b.source.display().to_string();
            bind_specs.push(if b.mode.is_empty() {
                format!("{src}:{}", b.target)
            } else {
                format!("{src}:{}:{}", b.target, b.mode)
            });
            if b.source.starts_with(out.join("common/config"))
                || b.source.starts_with(data.join("secret"))
            {
                hash_tree(&mut hasher, &t.view, &b.source, &nested)?;
            }
        }

        let mut ports = Vec::new();
        for p in &s.ports {
            let mut port = compose::parse_port(&p.text())?;
            if port.host_ip.is_empty() {
                port.host_port = port
                    .host_port
                    .checked_add(opts.port_offset)
                    .ok_or_else(|| {
                        InputError::new(format!(
                            "service {service}: port {} plus --port-offset {} is above 65535; \
                         choose a smaller offset",
                            port.host_port, opts.port_offset
                        ))
                    })?;
                if opts.publish_loopback {
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
                opts.project.clone(),
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
                network_mode: Some(opts.project.clone()),
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
        let hash = crate::disk::hex(&hasher.finalize());

        let labels = HashMap::from([
            (LABEL_PROJECT.to_string(), opts.project.clone()),
            (LABEL_SERVICE.to_string(), service.clone()),
            (LABEL_HASH.to_string(), hash.clone()),
            (LABEL_ORDER.to_string(), index.to_string()),
            (LABEL_OUT.to_string(), out.display().to_string()),
            (LABEL_DATA.to_string(), data.display().to_string()),
            (LABEL_RELEASE.to_string(), t.release.tag.to_string()),
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

/// Creates, as Compose does, a directory for every bind whose host path is missing; those
/// below the data volume or the installer directory go on the list a purge deletes.
pub(super) fn create_bind_sources(t: &Target) -> Result<()> {
    let mut sources = Vec::new();
    for s in t.file.services.values() {
        sources.extend(s.binds(&t.out)?.into_iter().map(|b| b.source));
    }
    crate::disk::record_created(&t.out, &t.data, &sources)?;

    for s in t.file.services.values() {
        for b in s.binds(&t.out)? {
            if !b.source.exists() {
                crate::disk::make_dirs(&b.source)
                    .with_context(|| format!("cannot create {}", b.source.display()))?;
            }
        }
    }
    Ok(())
}

/// JSON with object keys sorted, for hashing.
pub(super) fn canonical(v: &serde_json::Value) -> String {
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
pub(super) fn hash_tree(
    hasher: &mut Sha256,
    view: &View,
    path: &Path,
    skip: &[PathBuf],
) -> Result<()> {
    if skip.iter().any(|s| s == path) {
        return Ok(());
    }
    if view.is_file(path) {
        let bytes = view.read(path)?;
        hasher.update(path.display().to_string().as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    } else {
        for child in view.children(path)? {
            hash_tree(hasher, view, &child, skip)?;
        }
    }
    Ok(())
}
