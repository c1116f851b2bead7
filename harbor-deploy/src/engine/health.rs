//! Waiting for containers to be healthy: the image's health check, or a probe run inside the
//! container.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::Result;
use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;

use crate::error::{Error, ErrorKind};

use super::{Desired, Progress, check_cancel, engine_error};

/// The container's last 20 log lines, indented, for an error message.
pub(super) async fn last_logs(docker: &Docker, name: &str) -> String {
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
    if text.trim().is_empty() {
        return "    (none)\n".to_string();
    }
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// State words of a container, and whether it has a health check.
pub(super) fn describe(c: &ContainerInspectResponse) -> (String, Option<HealthStatusEnum>, i64) {
    let state = c.state.as_ref();
    let status = state
        .and_then(|s| s.status)
        .map(|s| s.to_string())
        .unwrap_or_else(|| "unknown".into());
    let health = state.and_then(|s| s.health.as_ref()).and_then(|h| h.status);
    (status, health, c.restart_count.unwrap_or(0))
}

/// Where a service listens in its container, for a readiness probe when its image has no
/// health check (upstream's exporter has none): the port, and an HTTP path to expect a 2xx
/// or 3xx from, or none for a plain TCP connect.
pub(super) const PROBES: &[(&str, u16, Option<&str>)] = &[
    ("log", 10514, None),
    ("registry", 5000, Some("/")),
    ("registryctl", 8080, Some("/api/health")),
    ("postgresql", 5432, None),
    ("core", 8080, Some("/api/v2.0/ping")),
    ("portal", 8080, Some("/")),
    ("jobservice", 8080, Some("/api/v1/stats")),
    ("redis", 6379, None),
    ("proxy", 8080, None),
    ("trivy-adapter", 8080, Some("/probe/healthy")),
    ("exporter", 8080, Some("/metrics")),
];

/// The probe of a service: a bash script run inside its container that connects to the
/// service on the container's own loopback, so that nothing is reached from the host.
pub(super) fn probe_script(service: &str, env: &[String]) -> Option<String> {
    let &(_, mut port, mut path) = PROBES.iter().find(|(s, _, _)| *s == service)?;
    let var = |name: &str| {
        env.iter()
            .find_map(|e| e.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    if service == "exporter" {
        if let Some(p) = var("HARBOR_EXPORTER_PORT").and_then(|p| p.parse().ok()) {
            port = p;
        }
        path = Some("/metrics");
    }
    if var("INTERNAL_TLS_ENABLED").as_deref() == Some("true") && port == 8080 {
        // behind internal TLS the service speaks https on 8443: a connect is what can be
        // checked without the client certificate
        port = 8443;
        path = None;
    }
    Some(match path {
        None => format!("exec 3<>/dev/tcp/127.0.0.1/{port}"),
        Some(path) => format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port} || exit 1; \
             printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3; \
             read -r -t 5 version code rest <&3; \
             case \"$code\" in 2??|3??) exit 0;; esac; exit 1"
        ),
    })
}

/// What a probe found.
pub(super) enum Probed {
    Ready,
    NotYet,
    /// The container cannot run it (no bash): running is all that can be known.
    Impossible,
}

/// Runs a probe script inside the container and reads its exit code.
pub(super) async fn probe(docker: &Docker, container: &str, script: &str) -> Result<Probed> {
    Ok(
        match exec(docker, container, vec!["bash", "-c", script], Vec::new()).await? {
            Ran::Exited(0) => Probed::Ready,
            // 126 and 127: the shell cannot be run or is not there
            Ran::Exited(126 | 127) | Ran::Refused => Probed::Impossible,
            Ran::Exited(_) | Ran::Unknown => Probed::NotYet,
        },
    )
}

/// How a command run inside a container ended.
pub(super) enum Ran {
    /// It ran and exited with this code.
    Exited(i64),
    /// The container is not running (yet), or the engine does not know how the command ended.
    Unknown,
    /// The engine would not start it.
    Refused,
}

/// Runs `cmd` inside a running container with `env` added to its environment (which, unlike
/// arguments, no process listing shows), and waits for its exit code.
pub(super) async fn exec(
    docker: &Docker,
    container: &str,
    cmd: Vec<&str>,
    env: Vec<String>,
) -> Result<Ran> {
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd),
                env: Some(env.iter().map(String::as_str).collect()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await;
    let exec = match exec {
        Ok(e) => e,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 409, ..
        }) => return Ok(Ran::Unknown),
        Err(e) => {
            return Err(engine_error(
                e,
                format!("cannot run a command in {container}"),
            ));
        }
    };
    match docker.start_exec(&exec.id, None).await {
        Ok(StartExecResults::Attached { mut output, .. }) => {
            while let Some(chunk) = output.next().await {
                if chunk.is_err() {
                    break;
                }
            }
        }
        Ok(StartExecResults::Detached) => {}
        Err(bollard::errors::Error::DockerResponseServerError { .. }) => return Ok(Ran::Refused),
        Err(e) => {
            return Err(engine_error(
                e,
                format!("cannot run a command in {container}"),
            ));
        }
    }
    let inspected = docker
        .inspect_exec(&exec.id)
        .await
        .map_err(|e| engine_error(e, format!("cannot run a command in {container}")))?;
    Ok(match inspected.exit_code {
        Some(code) => Ran::Exited(code),
        None => Ran::Unknown,
    })
}

/// Waits for containers to be healthy, reporting progress, each service once.
pub(super) struct Waiter<'a, 'p> {
    docker: &'a Docker,
    deadline: Instant,
    timeout: Duration,
    started: Instant,
    ready: BTreeSet<String>,
    answering: BTreeSet<String>,
    /// Restart counts from before this run, which are history, not failures.
    baseline: BTreeMap<String, i64>,
    /// Set when the caller wants `up` to stop.
    cancel: Option<&'a AtomicBool>,
    pub(super) progress: &'p mut dyn FnMut(&Progress),
}

impl<'a, 'p> Waiter<'a, 'p> {
    /// A waiter whose deadline is `timeout` after `started`.
    pub(super) fn new(
        docker: &'a Docker,
        started: Instant,
        timeout: Duration,
        cancel: Option<&'a AtomicBool>,
        progress: &'p mut dyn FnMut(&Progress),
    ) -> Waiter<'a, 'p> {
        Waiter {
            docker,
            deadline: started + timeout,
            timeout,
            started,
            ready: BTreeSet::new(),
            answering: BTreeSet::new(),
            baseline: BTreeMap::new(),
            cancel,
            progress,
        }
    }

    /// Marks a container as (re)started by this run: every restart it shows counts.
    pub(super) fn fresh(&mut self, service: &str) {
        self.baseline.insert(service.to_string(), 0);
        self.ready.remove(service);
        self.answering.remove(service);
    }

    /// Returns once `d` is healthy: its image's health check passes, or, without one, its
    /// probe answers (or, when nothing can be probed, it has run for two seconds without a
    /// restart).
    pub(super) async fn healthy(&mut self, d: &Desired) -> Result<()> {
        self.wait(d, false).await
    }

    /// Returns once `d` can serve those that depend on it: healthy, or, while its health
    /// check is still starting, answering its probe. An image's first health check comes
    /// only after its interval (30 s for most of upstream's), so waiting for it at every
    /// level of the dependency order would add up; `up` still waits for every health check
    /// before it reports success.
    pub(super) async fn answers(&mut self, d: &Desired) -> Result<()> {
        self.wait(d, true).await
    }

    async fn wait(&mut self, d: &Desired, early: bool) -> Result<()> {
        if self.ready.contains(&d.service) || (early && self.answering.contains(&d.service)) {
            return Ok(());
        }
        let docker = self.docker;
        let script = d
            .body
            .env
            .as_deref()
            .and_then(|env| probe_script(&d.service, env));
        let mut probe_possible = script.is_some();
        let mut running_since: Option<Instant> = None;
        loop {
            let c = docker
                .inspect_container(&d.name, None)
                .await
                .map_err(|e| engine_error(e, format!("cannot inspect {}", d.name)))?;
            let (status, health, count) = describe(&c);
            let restarts = count - *self.baseline.entry(d.service.clone()).or_insert(count);
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
            let mut shown = health.map_or_else(|| "none".to_string(), |h| h.to_string());
            if failed {
                let code = c.state.as_ref().and_then(|s| s.exit_code).unwrap_or(0);
                return Err(Error::new(
                    ErrorKind::ContainerFailed,
                    format!(
                        "service {} (container {}) is not healthy: state {status}, health \
                         {shown}, exit code {code}, {restarts} restart(s) during this run; last \
                         log lines:\n{}",
                        d.service,
                        d.name,
                        last_logs(docker, &d.name).await
                    ),
                )
                .into());
            }

            let running = st == Some(ContainerStateStatusEnum::RUNNING);
            let ready = match health {
                Some(HealthStatusEnum::HEALTHY) => running,
                Some(HealthStatusEnum::STARTING) => {
                    if let Some(script) = script.as_ref().filter(|_| early && probe_possible) {
                        match probe(docker, &d.name, script).await? {
                            Probed::Ready => {
                                self.answering.insert(d.service.clone());
                                (self.progress)(&Progress::Waiting {
                                    service: d.service.clone(),
                                    state: status.clone(),
                                    health: "starting, answers its probe".into(),
                                    elapsed: self.started.elapsed(),
                                });
                                return Ok(());
                            }
                            Probed::NotYet => {}
                            Probed::Impossible => probe_possible = false,
                        }
                    }
                    false
                }
                _ if !running => false,
                _ => {
                    let since = *running_since.get_or_insert_with(Instant::now);
                    match &script {
                        Some(script) if probe_possible => {
                            shown = "probing".into();
                            match probe(docker, &d.name, script).await? {
                                Probed::Ready => true,
                                Probed::NotYet => false,
                                Probed::Impossible => {
                                    probe_possible = false;
                                    false
                                }
                            }
                        }
                        // nothing to ask: running without a restart for two seconds
                        _ => since.elapsed() >= Duration::from_secs(2),
                    }
                }
            };
            if ready {
                self.ready.insert(d.service.clone());
                (self.progress)(&Progress::Ready {
                    service: d.service.clone(),
                    elapsed: self.started.elapsed(),
                });
                return Ok(());
            }

            (self.progress)(&Progress::Waiting {
                service: d.service.clone(),
                state: status.clone(),
                health: shown.clone(),
                elapsed: self.started.elapsed(),
            });
            if Instant::now() >= self.deadline {
                return Err(Error::new(
                    ErrorKind::HealthTimeout,
                    format!(
                        "service {} (container {}) is not healthy within the timeout ({} s, \
                         --timeout): state {status}, health {shown}; last log lines:\n{}",
                        d.service,
                        d.name,
                        self.timeout.as_secs(),
                        last_logs(docker, &d.name).await
                    ),
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            check_cancel(self.cancel)?;
        }
    }
}
