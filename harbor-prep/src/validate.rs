//! The rules a configuration must follow before anything is rendered.
//!
//! These are upstream's checks (hostname, https files, log endpoint, storage, trace, upload
//! purging, cache, quota provider) plus the gaps upstream lets through: placeholders left in,
//! hostnames with a scheme or port, URLs with a path, colliding ports, relative host paths,
//! files that are missing or do not match.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::host::{HostFiles, INTERNAL_TLS_CA, INTERNAL_TLS_NAMES, join};
use crate::issue::{Code, Issue};
use crate::model::Config;
use crate::pki::{self, CertProblem};

/// The placeholder hostname of upstream's template.
pub const PLACEHOLDER_HOSTNAME: &str = "reg.mydomain.com";
/// The placeholder certificate path of upstream's template.
pub const PLACEHOLDER_CERT: &str = "/your/certificate/path";
/// The placeholder key path of upstream's template.
pub const PLACEHOLDER_KEY: &str = "/your/private/key/path";

/// What validation needs besides the configuration.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The host files the configuration names.
    pub files: &'a HostFiles,
    /// Unix seconds, for certificate validity.
    pub now: i64,
    /// Whether Trivy is deployed.
    pub with_trivy: bool,
}

struct Checker<'c> {
    config: &'c Config,
    issues: Vec<Issue>,
}

impl Checker<'_> {
    fn add(&mut self, path: &str, code: Code, message: String) {
        let mark = self.config.mark(path).or_else(|| {
            let parent = path.rsplit_once('.').map(|(p, _)| p)?;
            self.config.mark(parent)
        });
        self.issues.push(Issue::new(path, mark, code, message));
    }
}

/// The longest value an environment variable can carry into a container: Linux takes at most
/// 128 KiB for `NAME=value` with its NUL, and the longest name is well under 1 KiB.
const ENV_VALUE_MAX: usize = 127 * 1024;

/// Applies every rule; returns all problems found, in input order.
pub fn check(config: &Config, ctx: Context<'_>) -> Vec<Issue> {
    let mut c = Checker {
        config,
        issues: Vec::new(),
    };

    hostname(&mut c);
    external_url(&mut c);
    ports(&mut c);
    https(&mut c, ctx);
    log(&mut c);
    paths(&mut c);
    host_files(&mut c, ctx);
    internal_tls(&mut c, ctx);
    storage(&mut c);
    services(&mut c);

    c.issues
        .sort_by_key(|i| i.mark.map(|m| (m.line, m.column)).unwrap_or((0, 0)));
    c.issues
}

fn hostname(c: &mut Checker<'_>) {
    let host = c.config.hostname.as_str();
    if host.is_empty() {
        if c.config.mark("hostname").is_some() {
            c.add(
                "hostname",
                Code::Missing,
                "hostname is empty; set the name clients use to reach Harbor".into(),
            );
        }
        return;
    }

    if host == PLACEHOLDER_HOSTNAME {
        c.add(
            "hostname",
            Code::Placeholder,
            format!(
                "`{host}` is the template's placeholder; set the name clients use to reach Harbor"
            ),
        );
        return;
    }

    let problem = if let Some((scheme, _)) = host.split_once("://") {
        Some(format!(
            "hostname must be a bare name, without `{scheme}://`; to publish a full url use \
             `external_url`"
        ))
    } else if let Some(problem) = ip_form_problem(host) {
        Some(problem)
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        is_loopback(ip).then(|| {
            format!(
                "{host} is a loopback address and cannot be the hostname: clients and the token \
                 service would reach themselves; use a name or address other hosts can reach"
            )
        })
    } else if host.matches(':').count() > 1 {
        Some(format!("`{host}` is not a valid IPv6 address"))
    } else if host.contains(':') {
        Some(
            "hostname must be a bare name without a port; set the port in `http.port` or \
             `https.port`, or publish a full url with `external_url`"
                .into(),
        )
    } else {
        dns_problem(host)
    };
    if let Some(problem) = problem {
        c.add("hostname", Code::InvalidValue, problem);
    }
}

/// Whether `ip` is a loopback address, an IPv4-mapped one included.
fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Why `host` is an IP address in a form a bare host field cannot take: in brackets, or with
/// an IPv6 zone.
fn ip_form_problem(host: &str) -> Option<String> {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return Some(format!(
            "write the IPv6 address without brackets: `{inner}`; brackets belong in urls only"
        ));
    }
    if let Some((addr, zone)) = host.split_once('%') {
        if addr.parse::<Ipv6Addr>().is_ok() {
            return Some(format!(
                "`{host}` has an IPv6 zone (`%{zone}`), which names a network interface of one \
                 machine only; use a global address or a DNS name"
            ));
        }
    }
    None
}

/// Why `host` is not a DNS name, if it is not.
fn dns_problem(host: &str) -> Option<String> {
    if !host.is_ascii() {
        return Some(format!(
            "`{host}` holds characters outside ASCII; write an internationalized name in its \
             punycode form (`xn--...`)"
        ));
    }
    if host.len() > 253 {
        return Some(format!("`{host}` is longer than 253 characters"));
    }

    let labels: Vec<&str> = host.strip_suffix('.').unwrap_or(host).split('.').collect();
    for label in &labels {
        if label.len() > 63 {
            return Some(format!(
                "`{host}` has a label of {} characters; each dot-separated part of a DNS name \
                 holds at most 63",
                label.len()
            ));
        }
        let ok = !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Some(format!(
                "`{host}` is not a valid DNS name or IP address: labels hold letters, digits \
                 and inner hyphens only (no `_`, `/` or spaces)"
            ));
        }
    }

    // a numeric last label makes url parsers read the whole name as an IPv4 address
    let last = labels.last().copied().unwrap_or("");
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex || last.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "`{host}` looks like an IP address but is not one; write four numbers from 0 to 255 \
             (like 192.0.2.10) or a DNS name"
        ));
    }
    None
}

fn external_url(c: &mut Checker<'_>) {
    let Some(url) = c.config.external_url.clone() else {
        return;
    };

    // a url with credentials is never repeated back
    let shown = if url.contains('@') {
        "the url".to_string()
    } else {
        format!("`{url}`")
    };
    let lower = url.to_ascii_lowercase();
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| lower.starts_with(s));
    let Some(scheme) = scheme else {
        c.add(
            "external_url",
            Code::InvalidValue,
            format!("{shown} must be an absolute url starting with http:// or https://"),
        );
        return;
    };
    let rest = &url[scheme.len()..];
    let (authority, tail) = rest.split_at(rest.find(['/', '?', '#']).unwrap_or(rest.len()));

    if authority.contains('@') {
        c.add(
            "external_url",
            Code::InvalidValue,
            "external_url must not hold a user name or password (`user:password@`): Harbor \
             publishes this url to every client; remove them"
                .into(),
        );
        return;
    }
    if !tail.is_empty() && tail != "/" {
        c.add(
            "external_url",
            Code::InvalidValue,
            format!(
                "{shown} must not have a path, query or fragment: Harbor is served at the root \
                 of its url"
            ),
        );
    }
    if let Some(problem) = authority_problem(authority) {
        c.add("external_url", Code::InvalidValue, problem);
    }
}

/// Why the `host[:port]` of a url is not usable, if it is not.
fn authority_problem(authority: &str) -> Option<String> {
    if authority.is_empty() {
        return Some("the url has no host".into());
    }

    let (host_problem, port) = if let Some(after) = authority.strip_prefix('[') {
        let Some((inner, rest)) = after.split_once(']') else {
            return Some(format!("`{authority}` opens `[` but never closes it"));
        };
        let problem = inner
            .parse::<Ipv6Addr>()
            .is_err()
            .then(|| format!("`[{inner}]` is not a valid IPv6 address"));
        match rest.strip_prefix(':') {
            Some(port) => (problem, Some(port)),
            None if rest.is_empty() => (problem, None),
            None => return Some(format!("`{authority}` has `{rest}` after the IPv6 address")),
        }
    } else if authority.matches(':').count() > 1 {
        return Some(format!(
            "`{authority}` looks like an IPv6 address; in a url it must be in brackets, like \
             https://[2001:db8::1]:8443"
        ));
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let problem = if host.is_empty() {
            Some("the url has no host".into())
        } else if host.parse::<Ipv4Addr>().is_ok() {
            None
        } else {
            dns_problem(host)
        };
        (problem, port)
    };
    if host_problem.is_some() {
        return host_problem;
    }

    let port = port?;
    let valid = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p));
    (!valid).then(|| format!("port `{port}` in the url is not a port number from 1 to 65535"))
}

fn ports(c: &mut Checker<'_>) {
    let config = c.config;
    let mut listeners = vec![("http.port", config.http.port)];
    if let Some(https) = &config.https {
        listeners.push(("https.port", https.port));
    }
    if config.metric.enabled {
        listeners.push(("metric.port", config.metric.port));
    }
    for (i, (key, port)) in listeners.iter().enumerate() {
        if let Some((other, _)) = listeners[..i].iter().find(|(_, p)| p == port) {
            c.add(
                key,
                Code::PortCollision,
                format!(
                    "port {port} is already used by `{other}`; each listener needs its own port"
                ),
            );
        }
    }

    // core, registry and jobservice serve their APIs on these ports inside their containers,
    // and the metrics listener shares the container
    if config.metric.enabled && [8080, 8443, 5000, 5001, 5443].contains(&config.metric.port) {
        c.add(
            "metric.port",
            Code::PortCollision,
            format!(
                "port {} is an api port inside the core, registry or jobservice container; \
                 pick another, such as 9090",
                config.metric.port
            ),
        );
    }
    if config.metric.enabled && !config.metric.path.starts_with('/') {
        c.add(
            "metric.path",
            Code::InvalidValue,
            format!("metric path `{}` must start with `/`", config.metric.path),
        );
    }
    if config.metric.enabled
        && !config
            .metric
            .path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
    {
        c.add(
            "metric.path",
            Code::InvalidValue,
            format!(
                "metric path `{}` may hold letters, digits and / - _ . ~ only",
                config.metric.path
            ),
        );
    }
}

fn https(c: &mut Checker<'_>, ctx: Context<'_>) {
    let Some(https) = c.config.https.clone() else {
        let family = &c.config.ip_family;
        if !family.ipv4 && !family.ipv6 {
            c.add(
                "ip_family.ipv4",
                Code::Conflict,
                "at least one of ip_family.ipv4 and ip_family.ipv6 must be enabled".into(),
            );
        }
        return;
    };

    let family = &c.config.ip_family;
    if !family.ipv4 && !family.ipv6 {
        c.add(
            "ip_family.ipv4",
            Code::Conflict,
            "at least one of ip_family.ipv4 and ip_family.ipv6 must be enabled".into(),
        );
    }

    let mut placeholder = false;
    for (key, value) in [
        ("https.certificate", &https.certificate),
        ("https.private_key", &https.private_key),
    ] {
        if value == PLACEHOLDER_CERT || value == PLACEHOLDER_KEY {
            placeholder = true;
            c.add(
                key,
                Code::Placeholder,
                format!(
                    "`{value}` is the template's placeholder; point it at your file, or remove \
                     the `https` block to serve plain http"
                ),
            );
        }
    }
    if placeholder || https.certificate.is_empty() || https.private_key.is_empty() {
        return;
    }

    let cert = ctx.files.get(&https.certificate);
    let key = ctx.files.get(&https.private_key);
    let (Ok(cert), Ok(key)) = (cert, key) else {
        return;
    };
    let names = c.config.hostname.clone();
    for problem in pki::check_server_cert(&cert.contents, &key.contents, &names, ctx.now) {
        let (path, message) = match problem {
            CertProblem::Unreadable(why) => (
                "https.certificate",
                format!("`{}` is not a PEM certificate: {why}", https.certificate),
            ),
            CertProblem::KeyUnreadable(why) => (
                "https.private_key",
                format!("`{}` is not a PEM private key: {why}", https.private_key),
            ),
            CertProblem::KeyMismatch => (
                "https.private_key",
                format!(
                    "`{}` does not belong to the certificate `{}`",
                    https.private_key, https.certificate
                ),
            ),
            CertProblem::HostnameNotCovered { hostname, names } => (
                "https.certificate",
                format!(
                    "the certificate does not cover hostname `{hostname}`; it names {}",
                    if names.is_empty() {
                        "nothing".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            ),
            CertProblem::Expired { not_after } => (
                "https.certificate",
                format!("the certificate expired at {}", format_time(not_after)),
            ),
            CertProblem::NotYetValid { not_before } => (
                "https.certificate",
                format!(
                    "the certificate is not valid before {}",
                    format_time(not_before)
                ),
            ),
        };
        c.add(path, Code::Certificate, message);
    }

    // go clients (docker among them) match names against subjectAltName only since go 1.15
    if let Ok(info) = pki::cert_info(&cert.contents) {
        if !info.extensions.iter().any(|e| e.oid == SUBJECT_ALT_NAME) {
            c.add(
                "https.certificate",
                Code::Certificate,
                format!(
                    "the certificate names its host only in the common name and has no \
                     subjectAltName; docker and other go clients ignore the common name since \
                     go 1.15, so reissue it with a subjectAltName for `{names}`"
                ),
            );
        }
    }
}

/// The subjectAltName extension (RFC 5280).
const SUBJECT_ALT_NAME: &str = "2.5.29.17";

/// The component pairs of the internal-TLS directory: each key must match its certificate,
/// each certificate must name its component, be valid now and be issued by the directory's CA.
fn internal_tls(c: &mut Checker<'_>, ctx: Context<'_>) {
    let Some(tls) = c.config.internal_tls.clone() else {
        return;
    };
    if !tls.dir.starts_with('/') {
        return;
    }
    let needed = c.config.internal_tls_files(ctx.with_trivy);

    let ca_subject = match ctx.files.get(&join(&tls.dir, INTERNAL_TLS_CA)) {
        Ok(file) => match pki::cert_info(&file.contents) {
            Ok(info) => Some(info.subject_der),
            Err(e) => {
                c.add(
                    "internal_tls.dir",
                    Code::Certificate,
                    format!("`{INTERNAL_TLS_CA}` is not a usable certificate: {e}"),
                );
                None
            }
        },
        Err(_) => None,
    };

    for (stem, server) in INTERNAL_TLS_NAMES {
        let (crt, key) = (format!("{stem}.crt"), format!("{stem}.key"));
        if !needed.contains(&crt.as_str()) {
            continue;
        }
        let cert = ctx.files.get(&join(&tls.dir, &crt));
        let key_file = ctx.files.get(&join(&tls.dir, &key));
        let (Ok(cert), Ok(key_file)) = (cert, key_file) else {
            continue;
        };

        for problem in pki::check_server_cert(&cert.contents, &key_file.contents, server, ctx.now) {
            let message = match problem {
                CertProblem::Unreadable(why) => format!("`{crt}` is not a PEM certificate: {why}"),
                CertProblem::KeyUnreadable(why) => {
                    format!("`{key}` is not a PEM private key: {why}")
                }
                CertProblem::KeyMismatch => format!("`{key}` does not belong to `{crt}`"),
                CertProblem::HostnameNotCovered { names, .. } => format!(
                    "`{crt}` must name `{server}`, the name the other components reach it by, \
                     but it names {}",
                    if names.is_empty() {
                        "nothing".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
                CertProblem::Expired { not_after } => {
                    format!("`{crt}` expired at {}", format_time(not_after))
                }
                CertProblem::NotYetValid { not_before } => {
                    format!("`{crt}` is not valid before {}", format_time(not_before))
                }
            };
            c.add("internal_tls.dir", Code::Certificate, message);
        }

        let issuer = pki::cert_info(&cert.contents).map(|info| info.issuer_der);
        if let (Some(ca), Ok(issuer)) = (&ca_subject, issuer) {
            if issuer != *ca {
                c.add(
                    "internal_tls.dir",
                    Code::Certificate,
                    format!(
                        "`{crt}` was not issued by `{INTERNAL_TLS_CA}`, so the other components \
                         would not trust it; sign it with that CA or make a new set with \
                         `harbor-deploy gencert -p {}`",
                        tls.dir
                    ),
                );
            }
        }
    }
}

fn log(c: &mut Checker<'_>) {
    let log = &c.config.log;
    let size = log.local.rotate_size.as_str();
    let digits = size.strip_suffix(['k', 'M', 'G']).unwrap_or(size);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        c.add(
            "log.local.rotate_size",
            Code::InvalidValue,
            format!("`{size}` is not a size; write a number of bytes, optionally followed by k, M or G, like 200M"),
        );
    }
    if let Some(ext) = &log.external {
        let host = ext.host.as_str();
        let problem = if host.is_empty() {
            c.add(
                "log.external_endpoint.host",
                Code::Missing,
                "the syslog host is empty; set the name or address of the syslog server".into(),
            );
            None
        } else if let Some(problem) = ip_form_problem(host) {
            Some(problem)
        } else if host.parse::<IpAddr>().is_ok() {
            None
        } else if host.matches(':').count() > 1 {
            Some(format!("`{host}` is not a valid IPv6 address"))
        } else if host.contains(':') {
            Some(format!(
                "`{host}` holds a port; no port here, use log.external_endpoint.port"
            ))
        } else {
            dns_problem(host)
        };
        if let Some(problem) = problem {
            c.add("log.external_endpoint.host", Code::InvalidValue, problem);
        }
    }
}

fn paths(c: &mut Checker<'_>) {
    let config = c.config;
    let mut absolute = vec![
        ("data_volume", config.data_volume.clone()),
        ("log.local.location", config.log.local.location.clone()),
    ];
    if let Some(https) = &config.https {
        absolute.push(("https.certificate", https.certificate.clone()));
        absolute.push(("https.private_key", https.private_key.clone()));
    }
    if let Some(tls) = &config.internal_tls {
        absolute.push(("internal_tls.dir", tls.dir.clone()));
    }
    if let Some(ca) = &config.storage.ca_bundle {
        absolute.push(("storage_service.ca_bundle", ca.clone()));
    }
    if let Some(ca) = &config.uaa_ca_file {
        absolute.push(("uaa.ca_file", ca.clone()));
    }

    for (key, path) in absolute {
        if path.is_empty() {
            if key == "data_volume" || key == "log.local.location" {
                c.add(
                    key,
                    Code::Missing,
                    "an empty path would put Harbor's files at the root of the host; give an \
                     absolute directory such as /data"
                        .into(),
                );
            }
            continue;
        }
        let root = path.bytes().all(|b| b == b'/');
        if root && (key == "data_volume" || key == "log.local.location") {
            c.add(
                key,
                Code::InvalidValue,
                "`/` cannot be used here: the containers would mount the whole host filesystem \
                 and relabel it for SELinux (`:z`); choose a directory of its own, such as /data \
                 or /var/log/harbor"
                    .into(),
            );
        } else if !path.starts_with('/') {
            c.add(
                key,
                Code::InvalidValue,
                format!("`{path}` must be an absolute path on the docker host"),
            );
        } else if path.contains(['\n', '\r', '\0']) || path.split('/').any(|s| s == "..") {
            c.add(
                key,
                Code::InvalidValue,
                format!("`{}` is not a usable path", path.escape_debug()),
            );
        } else if path.contains([':', ',']) {
            c.add(
                key,
                Code::InvalidValue,
                format!(
                    "`{path}` holds `:` or `,`, which docker cannot take in a bind mount; \
                     choose a path without them"
                ),
            );
        }
    }
}

fn host_files(c: &mut Checker<'_>, ctx: Context<'_>) {
    let mut missing_tls = Vec::new();
    for host_path in c.config.host_paths(ctx.with_trivy) {
        if !host_path.path.starts_with('/') || !host_path.required {
            continue;
        }
        match ctx.files.get(&host_path.path) {
            Ok(file) if host_path.key == "storage_service.ca_bundle" => {
                let readable = if file.uid == 10000 {
                    file.mode & 0o400 != 0
                } else {
                    file.mode & 0o004 != 0
                };
                if !readable {
                    c.add(
                        &host_path.key,
                        Code::FileMissing,
                        format!(
                            "`{}` must be readable by uid 10000 (the registry's user): make it \
                             owned by 10000 or readable by others",
                            host_path.path
                        ),
                    );
                }
            }
            Ok(_) => {}
            Err(_) if host_path.key == "internal_tls.dir" => {
                missing_tls.push(host_path.path.rsplit('/').next().unwrap_or("").to_string())
            }
            Err(why) => c.add(
                &host_path.key,
                Code::FileMissing,
                format!("cannot read `{}`: {why}", host_path.path),
            ),
        }
    }

    if let (false, Some(tls)) = (missing_tls.is_empty(), &c.config.internal_tls) {
        c.add(
            "internal_tls.dir",
            Code::FileMissing,
            format!(
                "`{}` lacks {}; `harbor-deploy gencert -p {}` creates a complete set",
                tls.dir,
                missing_tls.join(", "),
                tls.dir
            ),
        );
    }
}

fn storage(c: &mut Checker<'_>) {
    let storage = &c.config.storage;
    if storage.provider != "filesystem" {
        return;
    }
    if let Some(root) = storage
        .params
        .get("rootdirectory")
        .and_then(|v| v.as_text())
    {
        if root.split('/').any(|s| s == "..") {
            c.add(
                "storage_service.filesystem.rootdirectory",
                Code::InvalidValue,
                format!(
                    "rootdirectory `{root}` has a `..` segment, which leaves the /storage mount \
                     the registry keeps its blobs in; write the directory without `..`"
                ),
            );
        } else if root != "/storage" && !root.starts_with("/storage/") {
            c.add(
                "storage_service.filesystem",
                Code::InvalidValue,
                format!(
                    "rootdirectory `{root}` is inside the registry container, where only \
                     /storage is mounted (from <data_volume>/registry); use /storage or a \
                     directory below it, or change data_volume"
                ),
            );
        }
    }
}

fn services(c: &mut Checker<'_>) {
    let config = c.config;

    // the kernel passes a container no environment variable longer than 128 KiB
    for (key, value) in crate::render::env_values(config) {
        if value.len() > ENV_VALUE_MAX {
            c.add(
                key,
                Code::OutOfRange,
                format!(
                    "is {} bytes long, but it is passed to the containers as an environment \
                     variable, which Linux limits to {ENV_VALUE_MAX} bytes; shorten it",
                    value.len()
                ),
            );
        }
    }

    if config.harbor_admin_password.expose().is_empty() {
        c.add(
            "harbor_admin_password",
            Code::InvalidValue,
            "the admin password is empty, so nobody could log in as admin; set the password \
             of the first login (it can be changed in the portal afterwards)"
                .into(),
        );
    }

    // the bundled database sets its password from a file it reads up to the first line break
    let password = config.database.password.expose();
    if config.external_database.is_none() && password.is_empty() {
        c.add(
            "database.password",
            Code::InvalidValue,
            "the bundled database needs a password: it accepts connections by password only, \
             so core could never log in with an empty one"
                .into(),
        );
    }
    if config.external_database.is_none() && password.contains(['\n', '\r']) {
        c.add(
            "database.password",
            Code::InvalidValue,
            "the bundled database takes its password up to the first line break, so core \
             could never log in; use a password without line breaks"
                .into(),
        );
    }

    if config.external_redis.is_some() && c.config.mark("redis").is_some() {
        c.add(
            "redis",
            Code::Conflict,
            "`redis` tunes the bundled redis and `external_redis` replaces it; keep only \
             `external_redis` (its db indexes go there)"
                .into(),
        );
    }

    let trace = &config.trace;
    if trace.enabled {
        match (&trace.jaeger, &trace.otel) {
            (None, None) => c.add(
                "trace",
                Code::Missing,
                "tracing is enabled but no exporter is set; add `jaeger` or `otel`".into(),
            ),
            (Some(_), Some(_)) => c.add(
                "trace",
                Code::Conflict,
                "only one trace exporter may be set; keep `jaeger` or `otel`".into(),
            ),
            (Some(j), None) => match (&j.endpoint, &j.agent_host) {
                (None, None) => c.add(
                    "trace.jaeger",
                    Code::Missing,
                    "jaeger needs `endpoint` (collector mode) or `agent_host` (agent mode)".into(),
                ),
                (Some(_), Some(_)) => c.add(
                    "trace.jaeger",
                    Code::Conflict,
                    "set either `endpoint` (collector mode) or `agent_host` (agent mode), not \
                     both"
                        .into(),
                ),
                _ => {}
            },
            (None, Some(o)) => {
                if o.endpoint.is_empty() {
                    c.add(
                        "trace.otel",
                        Code::Missing,
                        "otel needs `endpoint` (host:port)".into(),
                    );
                }
                if o.url_path.is_empty() {
                    c.add(
                        "trace.otel",
                        Code::Missing,
                        "otel needs `url_path`, such as /v1/traces".into(),
                    );
                }
            }
        }
    }

    let purging = &config.upload_purging;
    if purging.enabled {
        for (key, value) in [
            ("upload_purging.age", &purging.age),
            ("upload_purging.interval", &purging.interval),
        ] {
            let hours = value.strip_suffix('h').and_then(|n| n.parse::<u32>().ok());
            if hours.is_none_or(|h| h < 2) {
                c.add(
                    key,
                    Code::InvalidValue,
                    format!("`{value}` must be a number of hours of at least 2, like `168h`"),
                );
            }
        }
    }

    if !["db", "redis"].contains(&config.quota_update_provider.as_str()) {
        c.add(
            "core.quota_update_provider",
            Code::InvalidValue,
            format!(
                "`{}` is not a quota update provider; use db or redis",
                config.quota_update_provider
            ),
        );
    }

    if let Some(version) = &config.version {
        if !crate::SCHEMA_VERSIONS.contains(&version.as_str()) {
            c.add(
                "_version",
                Code::SchemaVersion,
                format!(
                    "harbor.yml schema `{version}` is not one this tool renders ({}); run \
                     `harbor-deploy migrate` to upgrade the file",
                    crate::SCHEMA_VERSIONS.join(", ")
                ),
            );
        }
    }
}

/// A unix time as `YYYY-MM-DD HH:MM:SS UTC`.
fn format_time(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
