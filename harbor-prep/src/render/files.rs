//! The list of files and directories, with upstream's modes and owners.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::context::Secrets;
use super::{DB_UID, Entry, HARBOR_UID, Inputs, Root, templates};
use crate::host::{self, HostFiles};
use crate::issue::{Code, Issue};

/// Collects entries; the last write of a path wins, and missing parents are added.
#[derive(Default)]
pub(super) struct Out {
    entries: BTreeMap<(Root, String), Entry>,
}

impl Out {
    fn dir(&mut self, root: Root, path: &str, mode: u32, owner: u32) {
        self.entries.insert(
            (root, path.to_string()),
            Entry {
                root,
                path: path.to_string(),
                contents: None,
                mode,
                uid: owner,
                gid: owner,
            },
        );
    }

    fn file(&mut self, root: Root, path: &str, contents: Vec<u8>, mode: u32, owner: u32) {
        self.entries.insert(
            (root, path.to_string()),
            Entry {
                root,
                path: path.to_string(),
                contents: Some(contents),
                mode,
                uid: owner,
                gid: owner,
            },
        );
    }

    /// The entries, sorted, with every parent directory present (0755, root) so a writer can
    /// create them in order.
    pub(super) fn finish(mut self) -> Vec<Entry> {
        let paths: Vec<(Root, String)> = self.entries.keys().cloned().collect();
        for (root, path) in paths {
            let mut parent = path.as_str();
            while let Some((p, _)) = parent.rsplit_once('/') {
                parent = p;
                self.entries
                    .entry((root, p.to_string()))
                    .or_insert_with(|| Entry {
                        root,
                        path: p.to_string(),
                        contents: None,
                        mode: 0o755,
                        uid: 0,
                        gid: 0,
                    });
            }
        }
        self.entries.into_values().collect()
    }
}

const CONFIG: &str = "common/config";

/// Renders one template into `common/config/<name>`.
fn config_file(
    out: &mut Out,
    ctx: &Json,
    template: &str,
    path: &str,
    mode: u32,
    owner: u32,
) -> Result<(), Vec<Issue>> {
    let text = templates::render(template, ctx).map_err(|e| {
        vec![Issue::new(
            "",
            None,
            Code::Encoding,
            format!("cannot render {path}: {e}"),
        )]
    })?;
    out.file(
        Root::Install,
        &format!("{CONFIG}/{path}"),
        text.into_bytes(),
        mode,
        owner,
    );
    Ok(())
}

/// Every file and directory of the bundle.
pub(super) fn all(
    out: &mut Out,
    inputs: &Inputs<'_>,
    ctx: &Json,
    secrets: &Secrets,
) -> Result<(), Vec<Issue>> {
    let config = inputs.config;
    let h = HARBOR_UID;

    // the installer's config tree, component by component
    for (dir, owner) in [
        ("core", 0),
        ("core/certificates", 0),
        ("db", 0),
        ("jobservice", h),
        ("log", 0),
        ("nginx", 0),
        ("nginx/conf.d", h),
        ("portal", h),
        ("registry", 0),
        ("registryctl", 0),
        ("shared", 0),
        ("shared/trust-certificates", 0),
    ] {
        out.dir(Root::Install, &format!("{CONFIG}/{dir}"), 0o755, owner);
    }
    config_file(out, ctx, "portal/nginx.conf", "portal/nginx.conf", 0o640, h)?;
    config_file(
        out,
        ctx,
        "log/logrotate.conf",
        "log/logrotate.conf",
        0o640,
        h,
    )?;
    config_file(
        out,
        ctx,
        "log/rsyslog_docker.conf",
        "log/rsyslog_docker.conf",
        0o640,
        h,
    )?;
    let nginx = if config.https.is_some() {
        "nginx/nginx.https.conf"
    } else {
        "nginx/nginx.http.conf"
    };
    config_file(out, ctx, nginx, "nginx/nginx.conf", 0o640, h)?;
    config_file(out, ctx, "core/env", "core/env", 0o640, 0)?;
    config_file(out, ctx, "core/app.conf", "core/app.conf", 0o640, h)?;
    config_file(
        out,
        ctx,
        "registry/config.yml",
        "registry/config.yml",
        0o640,
        h,
    )?;
    // upstream leaves the htpasswd line world-readable; the registry (uid 10000) is its only
    // reader
    out.file(
        Root::Install,
        &format!("{CONFIG}/registry/passwd"),
        format!("{}\n", secrets.htpasswd.expose()).into_bytes(),
        0o640,
        h,
    );
    config_file(out, ctx, "registryctl/env", "registryctl/env", 0o640, 0)?;
    config_file(
        out,
        ctx,
        "registryctl/config.yml",
        "registryctl/config.yml",
        0o640,
        h,
    )?;
    config_file(out, ctx, "db/env", "db/env", 0o640, 0)?;
    config_file(out, ctx, "jobservice/env", "jobservice/env", 0o640, 0)?;
    config_file(
        out,
        ctx,
        "jobservice/config.yml",
        "jobservice/config.yml",
        0o640,
        h,
    )?;
    if config.metric.enabled {
        out.dir(Root::Install, &format!("{CONFIG}/exporter"), 0o755, h);
        config_file(out, ctx, "exporter/env", "exporter/env", 0o640, 0)?;
    }
    if inputs.with_trivy {
        out.dir(Root::Install, &format!("{CONFIG}/trivy-adapter"), 0o755, 0);
        config_file(out, ctx, "trivy-adapter/env", "trivy-adapter/env", 0o640, 0)?;
    }
    trust_certificates(out, inputs)?;

    let compose = templates::render("docker-compose.yml", ctx).map_err(|e| {
        vec![Issue::new(
            "",
            None,
            Code::Encoding,
            format!("cannot render docker-compose.yml: {e}"),
        )]
    })?;
    out.file(
        Root::Install,
        "docker-compose.yml",
        compose.into_bytes(),
        0o644,
        0,
    );

    data_volume(out, inputs, secrets)
}

/// CA certificates every component trusts, gathered in `shared/trust-certificates`.
fn trust_certificates(out: &mut Out, inputs: &Inputs<'_>) -> Result<(), Vec<Issue>> {
    let config = inputs.config;
    let mut sources = Vec::new();
    if let Some(tls) = &config.internal_tls {
        sources.push((
            "internal_tls.dir",
            host::join(&tls.dir, "harbor_internal_ca.crt"),
            "harbor_internal_ca.crt",
        ));
    }
    if let Some(ca) = &config.storage.ca_bundle {
        sources.push((
            "storage_service.ca_bundle",
            ca.clone(),
            "storage_ca_bundle.crt",
        ));
    }
    if let Some(ca) = config
        .external_redis
        .as_ref()
        .filter(|r| r.tls)
        .and_then(|r| r.root_ca.clone())
    {
        sources.push(("external_redis.tlsOptions.rootCA", ca, "redis_tls_ca.crt"));
    }

    for (key, path, name) in sources {
        let file = required(inputs.files, key, &path)?;
        out.file(
            Root::Install,
            &format!("{CONFIG}/shared/trust-certificates/{name}"),
            file.contents.clone(),
            0o644,
            HARBOR_UID,
        );
    }
    Ok(())
}

fn required<'f>(
    files: &'f HostFiles,
    key: &str,
    path: &str,
) -> Result<&'f host::HostFile, Vec<Issue>> {
    files.get(path).map_err(|why| {
        vec![Issue::new(
            key,
            None,
            Code::FileMissing,
            format!("cannot read `{path}`: {why}"),
        )]
    })
}

/// The data volume: directories the services own, and the secrets.
fn data_volume(out: &mut Out, inputs: &Inputs<'_>, secrets: &Secrets) -> Result<(), Vec<Issue>> {
    let config = inputs.config;
    let h = HARBOR_UID;

    out.dir(Root::Data, "ca_download", 0o755, h);
    out.dir(Root::Data, "database", 0o700, DB_UID);
    out.dir(Root::Data, "job_logs", 0o755, h);
    out.dir(Root::Data, "redis", 0o755, DB_UID);
    out.dir(Root::Data, "registry", 0o755, h);
    for dir in ["secret", "secret/core", "secret/keys", "secret/registry"] {
        out.dir(Root::Data, dir, 0o755, 0);
    }
    out.file(
        Root::Data,
        "secret/keys/secretkey",
        secrets.secretkey.expose().as_bytes().to_vec(),
        0o600,
        h,
    );
    out.file(
        Root::Data,
        "secret/core/private_key.pem",
        secrets.token_key.expose().as_bytes().to_vec(),
        0o600,
        h,
    );
    out.file(
        Root::Data,
        "secret/registry/root.crt",
        secrets.token_cert.expose().as_bytes().to_vec(),
        0o600,
        h,
    );

    if let Some(https) = &config.https {
        out.dir(Root::Data, "secret/cert", 0o755, h);
        let cert = required(inputs.files, "https.certificate", &https.certificate)?;
        let key = required(inputs.files, "https.private_key", &https.private_key)?;
        out.file(
            Root::Data,
            "secret/cert/server.crt",
            cert.contents.clone(),
            0o600,
            h,
        );
        out.file(
            Root::Data,
            "secret/cert/server.key",
            key.contents.clone(),
            0o600,
            h,
        );
    }

    if config.internal_tls.is_some() {
        out.dir(Root::Data, "secret/tls", 0o755, 0);
        for host_path in config.host_paths(inputs.with_trivy) {
            if host_path.key != "internal_tls.dir" {
                continue;
            }
            let Ok(file) = inputs.files.get(&host_path.path) else {
                if host_path.required {
                    return Err(vec![Issue::new(
                        "internal_tls.dir",
                        None,
                        Code::FileMissing,
                        format!("cannot read `{}`", host_path.path),
                    )]);
                }
                continue;
            };
            let name = host_path.path.rsplit('/').next().unwrap_or_default();
            let mode = if name.ends_with(".key") { 0o600 } else { 0o644 };
            let owner = if host::INTERNAL_TLS_DB_FILES.contains(&name) {
                DB_UID
            } else {
                h
            };
            out.file(
                Root::Data,
                &format!("secret/tls/{name}"),
                file.contents.clone(),
                mode,
                owner,
            );
        }
    }

    if inputs.with_trivy {
        out.dir(Root::Data, "trivy-adapter", 0o755, 0);
        out.dir(Root::Data, "trivy-adapter/reports", 0o755, h);
        out.dir(Root::Data, "trivy-adapter/trivy", 0o755, h);
    }
    Ok(())
}
