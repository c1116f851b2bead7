//! What the engine-bound tests share: the private engine and its test images, a working
//! directory with a harbor.yml whose host paths stay inside it, and the commands.
//!
//! Container names are fixed by the compose file and the log port is 127.0.0.1:1514, so one
//! deployment fits on an engine at a time: every test binary that deploys holds the engine
//! lock (`/tmp/harbor-engine.lock`, the one scripts and bindings take too) while it runs.

// each test binary uses a different part of the harness
#![allow(dead_code)]

pub mod shared;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The engine lock, held until dropped.
pub struct EngineLock(#[allow(dead_code)] std::fs::File);

pub fn lock_engine() -> EngineLock {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/harbor-engine.lock")
        .expect("open the engine lock");
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).expect("lock the engine");
    EngineLock(file)
}

/// Starts or finds the engine and builds the test images; returns its DOCKER_HOST.
pub fn engine() -> String {
    let out = Command::new("bash")
        .arg(repo().join("scripts/dockerd.sh"))
        .output()
        .expect("run scripts/dockerd.sh");
    assert!(
        out.status.success(),
        "dockerd.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let host = line
        .trim()
        .strip_prefix("export DOCKER_HOST=")
        .expect("dockerd.sh prints export DOCKER_HOST=...")
        .trim_matches('\'')
        .to_string();
    let built = Command::new("bash")
        .arg(repo().join("scripts/build-test-images.sh"))
        .env("DOCKER_HOST", &host)
        .output()
        .expect("run build-test-images.sh");
    assert!(
        built.status.success(),
        "build-test-images.sh: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    host
}

/// The container names a bundle fixes.
const FIXED_NAMES: [&str; 11] = [
    "harbor-log",
    "registry",
    "registryctl",
    "harbor-db",
    "harbor-core",
    "harbor-portal",
    "harbor-jobservice",
    "redis",
    "nginx",
    "harbor-exporter",
    "trivy-adapter",
];

/// The engine, locked, once no container holds a name the bundle needs: someone else's
/// deployment on a shared test engine is waited out (for up to 30 minutes), never removed.
fn free_engine() -> (EngineLock, String) {
    let started = std::time::Instant::now();
    loop {
        let lock = lock_engine();
        let host = engine();
        let names = Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}"])
            .env("DOCKER_HOST", &host)
            .output()
            .expect("run docker ps");
        let taken: Vec<String> = String::from_utf8_lossy(&names.stdout)
            .lines()
            .filter(|n| FIXED_NAMES.contains(n))
            .map(str::to_string)
            .collect();
        if taken.is_empty() {
            return (lock, host);
        }
        drop(lock);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1800),
            "containers {taken:?} of another deployment kept the engine for 30 minutes"
        );
        eprintln!("waiting for another deployment to leave the engine: {taken:?}");
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

/// A deployment's working directory, its engine and its project.
pub struct Env {
    pub host: String,
    pub dir: tempfile::TempDir,
    pub project: &'static str,
    pub offset: u16,
    pub config: String,
    _lock: EngineLock,
}

impl Env {
    /// Locks the engine, and writes the default configuration with every host path below a
    /// fresh directory.
    pub fn new(project: &'static str, offset: u16) -> Env {
        let (lock, host) = free_engine();
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().to_path_buf();
        std::fs::set_permissions(&work, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let default = std::fs::read_to_string(repo().join("harbor-prep/src/default.yml")).unwrap();
        let config = shared::confined(
            &default.replace("{{HOSTNAME}}", "harbor.example.test"),
            &work,
        );
        assert!(config.contains(&format!("{}/data", work.display())));
        std::fs::write(work.join("harbor.yml"), &config).unwrap();
        Env {
            host,
            dir,
            project,
            offset,
            config,
            _lock: lock,
        }
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", &self.host)
            .output()
            .expect("run docker")
    }

    pub fn deploy(&self, args: &[&str]) -> Output {
        self.deploy_cmd(args).output().expect("run harbor-deploy")
    }

    pub fn deploy_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_harbor-deploy"));
        cmd.args(args).env("DOCKER_HOST", &self.host);
        cmd
    }

    /// The arguments of `up` and `plan` for this deployment, then `extra`.
    pub fn up_args(&self, verb: &str, extra: &[&str]) -> Vec<String> {
        let work = self.work();
        let mut args: Vec<String> = [
            verb,
            "--config",
            work.join("harbor.yml").to_str().unwrap(),
            "--out",
            work.join("harbor").to_str().unwrap(),
            "--project",
            self.project,
            "--publish-loopback",
            "--port-offset",
            &self.offset.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if verb == "up" && !extra.contains(&"--timeout") {
            args.extend(["--timeout".to_string(), "150".to_string()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    pub fn up(&self, extra: &[&str]) -> Output {
        let args = self.up_args("up", extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.deploy(&refs)
    }

    pub fn plan(&self, extra: &[&str]) -> Output {
        let args = self.up_args("plan", extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.deploy(&refs)
    }

    /// Container ID by service, from `status --json`.
    pub fn ids(&self) -> BTreeMap<String, String> {
        self.status()
            .iter()
            .map(|r| {
                (
                    r["service"].as_str().unwrap().to_string(),
                    r["id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// `status --json`, parsed.
    pub fn status(&self) -> Vec<serde_json::Value> {
        let out = self.deploy(&["status", "--project", self.project, "--json"]);
        assert!(out.status.success(), "status: {}", text(&out));
        serde_json::from_slice(&out.stdout).expect("status json")
    }

    /// IDs of every container carrying this project's label, running or not.
    pub fn labelled(&self) -> Vec<String> {
        let out = self.docker(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=org.harbor-prep.project={}", self.project),
        ]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Runs a command in a throwaway container of `image` on the project network.
    pub fn probe(&self, image: &str, cmd: &[&str]) -> String {
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            self.project,
            "--entrypoint",
            cmd[0],
            image,
        ];
        args.extend_from_slice(&cmd[1..]);
        let out = self.docker(&args);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn env_of(&self, container: &str, key: &str) -> String {
        let out = self.docker(&[
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            container,
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
            .unwrap_or_default()
    }

    /// Builds a throwaway image from a Dockerfile text.
    pub fn build(&self, tag: &str, dockerfile: &str) {
        use std::io::Write;

        let mut child = Command::new("docker")
            .args(["build", "-q", "-t", tag, "-"])
            .env("DOCKER_HOST", &self.host)
            .env("DOCKER_BUILDKIT", "0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("docker build");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dockerfile.as_bytes())
            .unwrap();
        let out = child.wait_with_output().expect("docker build");
        assert!(out.status.success(), "docker build: {}", text(&out));
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.deploy(&["down", "--project", self.project, "--purge", "--yes"]);
        let _ = self.deploy(&["down", "--project", self.project]);
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
