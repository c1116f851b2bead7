//! Files on the host that a configuration names, handed in by the caller.
//!
//! harbor-prep never reads the filesystem. The caller asks [`Config::host_paths`] which files
//! the configuration refers to, reads them (harbor-deploy does so below `--root`), and passes
//! what it found as [`HostFiles`]. Validation then checks them and rendering copies them.

use std::collections::BTreeMap;

use crate::model::Config;

/// A file read from the host.
#[derive(Clone, PartialEq, Eq)]
pub struct HostFile {
    /// The bytes.
    pub contents: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
}

impl std::fmt::Debug for HostFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostFile")
            .field("len", &self.contents.len())
            .field("mode", &format_args!("{:o}", self.mode))
            .field("uid", &self.uid)
            .finish()
    }
}

/// What the caller found at each path: a file, or why there is none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFiles {
    files: BTreeMap<String, Result<HostFile, String>>,
}

impl HostFiles {
    /// No files at all.
    pub fn new() -> HostFiles {
        HostFiles::default()
    }

    /// Records a file found at `path` (as harbor.yml writes it).
    pub fn insert(&mut self, path: impl Into<String>, file: HostFile) {
        self.files.insert(path.into(), Ok(file));
    }

    /// Records that `path` could not be read, and why (missing, a directory, permission).
    pub fn insert_missing(&mut self, path: impl Into<String>, why: impl Into<String>) {
        self.files.insert(path.into(), Err(why.into()));
    }

    /// The file at `path`, or the reason it is not there.
    pub fn get(&self, path: &str) -> Result<&HostFile, String> {
        match self.files.get(path) {
            Some(Ok(f)) => Ok(f),
            Some(Err(why)) => Err(why.clone()),
            None => Err("not provided to the renderer".into()),
        }
    }
}

/// One host path a configuration refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPath {
    /// The dotted key that names it.
    pub key: String,
    /// The absolute path.
    pub path: String,
    /// Whether the configuration cannot work without it; optional files are copied when there.
    pub required: bool,
}

/// The files of an internal-TLS directory every component needs.
pub const INTERNAL_TLS_FILES: [&str; 13] = [
    "harbor_internal_ca.crt",
    "proxy.crt",
    "proxy.key",
    "core.crt",
    "core.key",
    "job_service.crt",
    "job_service.key",
    "registryctl.crt",
    "registryctl.key",
    "registry.crt",
    "registry.key",
    "portal.crt",
    "portal.key",
];

/// The internal CA's certificate, which signed every component's certificate.
pub const INTERNAL_TLS_CA: &str = "harbor_internal_ca.crt";

/// Each internal-TLS component's file stem and the DNS name its certificate must carry, as
/// `prepare gencert` writes them (in the order it signs them): the other components reach it
/// by that name.
pub const INTERNAL_TLS_NAMES: [(&str, &str); 8] = [
    ("proxy", "proxy"),
    ("portal", "portal"),
    ("core", "core"),
    ("job_service", "jobservice"),
    ("registry", "registry"),
    ("registryctl", "registryctl"),
    ("trivy_adapter", "trivy-adapter"),
    ("harbor_db", "harbor_db"),
];

/// Extra internal-TLS files with Trivy.
pub const INTERNAL_TLS_TRIVY_FILES: [&str; 2] = ["trivy_adapter.crt", "trivy_adapter.key"];

/// Extra internal-TLS files with the bundled database.
pub const INTERNAL_TLS_DB_FILES: [&str; 2] = ["harbor_db.crt", "harbor_db.key"];

impl Config {
    /// The internal-TLS files this configuration needs, by name.
    pub fn internal_tls_files(&self, with_trivy: bool) -> Vec<&'static str> {
        let mut names = INTERNAL_TLS_FILES.to_vec();
        if with_trivy {
            names.extend(INTERNAL_TLS_TRIVY_FILES);
        }
        if self.external_database.is_none() {
            names.extend(INTERNAL_TLS_DB_FILES);
        }
        names
    }

    /// Every host file the configuration names, so that the caller can read them.
    pub fn host_paths(&self, with_trivy: bool) -> Vec<HostPath> {
        let mut paths = Vec::new();
        let mut add = |key: &str, path: &str| {
            if !path.is_empty() {
                paths.push(HostPath {
                    key: key.to_string(),
                    path: path.to_string(),
                    required: true,
                });
            }
        };

        if let Some(https) = &self.https {
            add("https.certificate", &https.certificate);
            add("https.private_key", &https.private_key);
        }
        if let Some(ca) = &self.storage.ca_bundle {
            add("storage_service.ca_bundle", ca);
        }
        if self.storage.provider == "gcs" {
            if let Some(keyfile) = self.storage.params.get("keyfile").and_then(|v| v.as_text()) {
                add("storage_service.gcs.keyfile", keyfile);
            }
        }
        if let Some(ca) = &self.uaa_ca_file {
            add("uaa.ca_file", ca);
        }
        if let Some(ca) = self
            .external_redis
            .as_ref()
            .and_then(|r| r.root_ca.as_ref())
        {
            add("external_redis.tlsOptions.rootCA", ca);
        }
        if let Some(tls) = &self.internal_tls {
            for name in self.internal_tls_files(with_trivy) {
                add("internal_tls.dir", &join(&tls.dir, name));
            }
            for name in internal_tls_extras() {
                paths.push(HostPath {
                    key: "internal_tls.dir".into(),
                    path: join(&tls.dir, &name),
                    required: false,
                });
            }
        }
        paths
    }
}

/// Files `gencert` leaves beside the pairs; copied along with them, as upstream copies the
/// whole directory.
pub fn internal_tls_extras() -> Vec<String> {
    let mut names = vec![
        "harbor_internal_ca.key".to_string(),
        "harbor_internal_ca.srl".to_string(),
        "extfile.cnf".to_string(),
    ];
    for name in INTERNAL_TLS_FILES
        .iter()
        .chain(&INTERNAL_TLS_TRIVY_FILES)
        .chain(&INTERNAL_TLS_DB_FILES)
    {
        if let Some(stem) = name.strip_suffix(".key") {
            names.push(format!("{stem}.csr"));
        }
    }
    for name in INTERNAL_TLS_TRIVY_FILES
        .iter()
        .chain(&INTERNAL_TLS_DB_FILES)
    {
        names.push(name.to_string());
    }
    names
}

/// `dir/name` with exactly one slash between them.
pub fn join(dir: &str, name: &str) -> String {
    format!("{}/{}", dir.trim_end_matches('/'), name)
}
