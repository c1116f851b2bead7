//! The part of a rendered docker-compose.yml that `up` turns into Engine API calls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The compose file: its services by name.
#[derive(Deserialize)]
pub struct ComposeFile {
    /// Services by compose name.
    pub services: BTreeMap<String, Service>,
}

/// One service as the rendered file writes it.
#[derive(Deserialize)]
pub struct Service {
    /// Image reference.
    pub image: String,
    /// Fixed container name.
    pub container_name: Option<String>,
    /// Env files, relative to the installer directory.
    #[serde(default)]
    pub env_file: Option<OneOrMany>,
    /// Restart policy name.
    pub restart: Option<String>,
    /// Capabilities dropped.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// Capabilities added.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// Volumes, short or long syntax.
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// Published ports, short syntax.
    #[serde(default)]
    pub ports: Vec<Scalar>,
    /// Networks, as a list or a map.
    pub networks: Option<Networks>,
    /// Services this one starts after.
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Logging driver and options.
    pub logging: Option<Logging>,
    /// Size of /dev/shm.
    pub shm_size: Option<Scalar>,
}

/// A string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// A scalar written as a string or a number.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub enum Scalar {
    /// A string.
    Text(String),
    /// A number.
    Number(i64),
}

impl Scalar {
    /// The scalar as text.
    pub fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Number(n) => n.to_string(),
        }
    }
}

/// A volume entry.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Volume {
    /// `source:target[:mode]`.
    Short(String),
    /// `type: bind` with source and target.
    Long {
        /// Mount type; only `bind` is supported.
        #[serde(rename = "type")]
        kind: String,
        /// Host path.
        source: String,
        /// Container path.
        target: String,
        /// Read-only mount.
        #[serde(default)]
        read_only: bool,
    },
}

/// The networks of a service.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Networks {
    /// `- harbor`.
    List(Vec<String>),
    /// `harbor:` with (ignored) settings.
    Map(BTreeMap<String, serde::de::IgnoredAny>),
}

/// Logging settings.
#[derive(Deserialize)]
pub struct Logging {
    /// Driver name.
    pub driver: String,
    /// Driver options.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

/// A bind mount resolved against the installer directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Bind {
    /// Absolute host path.
    pub source: PathBuf,
    /// Container path.
    pub target: String,
    /// Mode suffix for the engine (`z`, `ro`, ...), empty for none.
    pub mode: String,
}

impl ComposeFile {
    /// Parses the text of a docker-compose.yml.
    pub fn parse(text: &str) -> Result<ComposeFile> {
        Ok(serde_saphyr::from_str(text)?)
    }
}

impl Service {
    /// The env files, in order.
    pub fn env_files(&self) -> Vec<String> {
        match &self.env_file {
            None => Vec::new(),
            Some(OneOrMany::One(s)) => vec![s.clone()],
            Some(OneOrMany::Many(v)) => v.clone(),
        }
    }

    /// The network names.
    pub fn network_names(&self) -> Vec<String> {
        match &self.networks {
            None => Vec::new(),
            Some(Networks::List(v)) => v.clone(),
            Some(Networks::Map(m)) => m.keys().cloned().collect(),
        }
    }

    /// Every volume as a bind with an absolute source.
    pub fn binds(&self, out: &Path) -> Result<Vec<Bind>> {
        let mut binds = Vec::new();
        for v in &self.volumes {
            let (source, target, mode) = match v {
                Volume::Short(s) => {
                    let parts: Vec<&str> = s.split(':').collect();
                    match parts.as_slice() {
                        [src, dst] => (src.to_string(), dst.to_string(), String::new()),
                        [src, dst, mode] => (src.to_string(), dst.to_string(), mode.to_string()),
                        _ => bail!("volume `{s}` is not source:target[:mode]"),
                    }
                }
                Volume::Long {
                    kind,
                    source,
                    target,
                    read_only,
                } => {
                    if kind != "bind" {
                        bail!("volume type `{kind}` is not supported; only bind mounts are");
                    }
                    let mode = if *read_only { "ro" } else { "" };
                    (source.clone(), target.clone(), mode.to_string())
                }
            };
            binds.push(Bind {
                source: resolve(out, &source),
                target,
                mode,
            });
        }
        Ok(binds)
    }
}

/// A host path of the compose file made absolute: `./x` and `x` against `out`.
pub fn resolve(out: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        out.join(p.strip_prefix("./").unwrap_or(p))
    };
    let text = joined.to_string_lossy();
    let trimmed = text.trim_end_matches('/');
    if trimmed.is_empty() {
        PathBuf::from("/")
    } else {
        PathBuf::from(trimmed)
    }
}

/// Parses a size such as `1gb`, `512m` or `1073741824` into bytes.
pub fn parse_size(text: &str) -> Result<i64> {
    let t = text.trim().to_ascii_lowercase();
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    let unit = t[digits.len()..].trim_end_matches('b');
    let n: i64 = digits
        .parse()
        .with_context(|| format!("size `{text}` is not a number with a unit"))?;
    let mult: i64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => bail!("size `{text}` has an unknown unit"),
    };
    n.checked_mul(mult)
        .with_context(|| format!("size `{text}` is too large"))
}

/// A published port: host address, host port, container port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    /// Host address; empty for every interface.
    pub host_ip: String,
    /// Host port.
    pub host_port: u16,
    /// Container port.
    pub container_port: u16,
}

/// Parses `[ip:]host:container` (TCP only).
pub fn parse_port(text: &str) -> Result<Port> {
    let spec = text.strip_suffix("/tcp").unwrap_or(text);
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let num = |s: &str| -> Result<u16> {
        s.parse()
            .with_context(|| format!("port `{text}` is not [ip:]host:container"))
    };
    match parts.as_slice() {
        [c, h] => Ok(Port {
            host_ip: String::new(),
            host_port: num(h)?,
            container_port: num(c)?,
        }),
        [c, h, ip] => Ok(Port {
            host_ip: ip.to_string(),
            host_port: num(h)?,
            container_port: num(c)?,
        }),
        _ => bail!("port `{text}` is not [ip:]host:container"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_sizes_paths() {
        assert_eq!(
            parse_port("127.0.0.1:1514:10514").ok(),
            Some(Port {
                host_ip: "127.0.0.1".into(),
                host_port: 1514,
                container_port: 10514
            })
        );
        assert_eq!(parse_port("80:8080").ok().map(|p| p.host_port), Some(80));
        assert!(parse_port("x:80").is_err());
        assert_eq!(parse_size("1gb").ok(), Some(1 << 30));
        assert!(parse_size("1qb").is_err());
        assert_eq!(
            resolve(Path::new("/o"), "./common/config/"),
            PathBuf::from("/o/common/config")
        );
        assert_eq!(resolve(Path::new("/o"), "/data/"), PathBuf::from("/data"));
    }
}
