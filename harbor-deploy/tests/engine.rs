//! `up`, `plan`, `status` and `down` against a real Docker engine (started by
//! scripts/dockerd.sh when none answers) and the locally built test images.
//!
//! One test: container names are fixed by the compose file and the log port is
//! 127.0.0.1:1514, so deployments on one engine run one after the other.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

const PROJECT: &str = "hpt-engine";
const OFFSET: u16 = 18100;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts or finds the engine; returns its DOCKER_HOST.
fn engine() -> String {
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

struct Env {
    host: String,
    dir: tempfile::TempDir,
}

impl Env {
    fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", &self.host)
            .output()
            .expect("run docker")
    }

    fn deploy(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
            .args(args)
            .env("DOCKER_HOST", &self.host)
            .output()
            .expect("run harbor-deploy")
    }

    fn up(&self, extra: &[&str]) -> Output {
        let config = self.dir.path().join("harbor.yml");
        let out = self.dir.path().join("harbor");
        let offset = OFFSET.to_string();
        let mut args = vec![
            "up",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--project",
            PROJECT,
            "--publish-loopback",
            "--port-offset",
            &offset,
            "--timeout",
            "150",
        ];
        args.extend_from_slice(extra);
        self.deploy(&args)
    }

    /// Container ID by service, from `status --json`.
    fn ids(&self) -> BTreeMap<String, String> {
        let out = self.deploy(&["status", "--project", PROJECT, "--json"]);
        assert!(out.status.success());
        let rows: Vec<serde_json::Value> =
            serde_json::from_slice(&out.stdout).expect("status json");
        rows.iter()
            .map(|r| {
                (
                    r["service"].as_str().unwrap().to_string(),
                    r["id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Runs a command in a throwaway container of `image` on the project network.
    fn probe(&self, image: &str, cmd: &[&str]) -> String {
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            PROJECT,
            "--entrypoint",
            cmd[0],
            image,
        ];
        args.extend_from_slice(&cmd[1..]);
        let out = self.docker(&args);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn env_of(&self, container: &str, key: &str) -> String {
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
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.deploy(&["down", "--project", PROJECT, "--purge", "--yes"]);
        let _ = self.deploy(&["down", "--project", PROJECT]);
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn up_plan_status_down_on_a_real_engine() {
    let host = engine();
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().to_path_buf();
    std::fs::set_permissions(&work, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let default = std::fs::read_to_string(repo().join("harbor-prep/src/default.yml")).unwrap();
    let config = default
        .replace("{{HOSTNAME}}", "harbor.example.test")
        .replace(
            "data_volume: /data\n",
            &format!("data_volume: {}/data\n", work.display()),
        )
        .replace(
            "    location: /var/log/harbor\n",
            &format!("    location: {}/log\n", work.display()),
        );
    assert!(config.contains(&format!("{}/data", work.display())));
    std::fs::write(work.join("harbor.yml"), &config).unwrap();
    let env = Env { host, dir };

    // from nothing
    let t = Instant::now();
    let out = env.up(&[]);
    let first = t.elapsed();
    assert!(out.status.success(), "up: {}", text(&out));
    let ids = env.ids();
    assert_eq!(ids.len(), 9, "{ids:?}");
    let status = text(&env.deploy(&["status", "--project", PROJECT]));
    assert_eq!(status.matches(" healthy ").count(), 9, "{status}");

    // the proxy on loopback serves our nginx.conf: portal page, core's ping, 404 for /v1/
    let port = 80 + OFFSET;
    let curl = |path: &str| {
        let o = Command::new("curl")
            .args([
                "-s",
                "-w",
                "\n%{http_code}",
                &format!("http://127.0.0.1:{port}{path}"),
            ])
            .output()
            .expect("curl");
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert!(curl("/").contains("harbor-prep test portal"));
    assert!(curl("/api/v2.0/ping").starts_with("Pong"));
    assert!(curl("/v1/").ends_with("404"));

    // from the network: registry, redis, postgres with the rendered secrets
    let reg = "goharbor/registry-photon:v2.15.2";
    let code = |auth: Option<String>| {
        let mut cmd = vec!["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"];
        let a;
        if let Some(x) = auth {
            a = x;
            cmd.extend(["-u", a.as_str()]);
        }
        cmd.push("http://registry:5000/v2/");
        env.probe(reg, &cmd)
    };
    let user = env.env_of("harbor-core", "REGISTRY_CREDENTIAL_USERNAME");
    let pass = env.env_of("harbor-core", "REGISTRY_CREDENTIAL_PASSWORD");
    assert!(!pass.is_empty());
    assert_eq!(code(None), "401");
    assert_eq!(code(Some(format!("{user}:{pass}"))), "200");
    assert_eq!(code(Some(format!("{user}:wrong{pass}"))), "401");
    assert_eq!(
        env.probe(
            "goharbor/valkey-photon:v2.15.2",
            &["redis-cli", "-h", "redis", "PING"]
        ),
        "PONG"
    );
    let db_pass = env.env_of("harbor-db", "POSTGRES_PASSWORD");
    let pg = |p: &str| {
        env.probe(
            "goharbor/harbor-db:v2.15.2",
            &[
                "env",
                &format!("PGPASSWORD={p}"),
                "psql",
                "-h",
                "postgresql",
                "-U",
                "postgres",
                "-tAc",
                "SELECT 7*6",
            ],
        )
    };
    assert_eq!(pg(&db_pass), "42");
    assert_ne!(pg(&format!("wrong{db_pass}")), "42");

    // the log container writes the other services' lines into the host log directory
    std::thread::sleep(std::time::Duration::from_secs(2));
    for tag in ["core", "registry", "proxy", "postgresql"] {
        let p = work.join("log").join(format!("{tag}.log"));
        assert!(
            std::fs::metadata(&p).map(|m| m.len() > 0).unwrap_or(false),
            "no lines in {}",
            p.display()
        );
    }

    // a second up touches nothing
    let t = Instant::now();
    let out = env.up(&[]);
    let noop = t.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing changed"), "{}", text(&out));
    assert_eq!(env.ids(), ids);
    eprintln!("timings: up from nothing {first:?}, no-op up {noop:?}");

    // a log level change: plan says so, up recreates exactly those containers
    std::fs::write(
        work.join("harbor.yml"),
        config.replace("\n  level: info\n", "\n  level: debug\n"),
    )
    .unwrap();
    let cfg = work.join("harbor.yml");
    let outdir = work.join("harbor");
    let plan = env.deploy(&[
        "plan",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        outdir.to_str().unwrap(),
        "--project",
        PROJECT,
        "--publish-loopback",
        "--port-offset",
        &OFFSET.to_string(),
    ]);
    let plan_text = text(&plan);
    assert!(plan_text.contains("core: recreate"), "{plan_text}");
    assert!(plan_text.contains("log: unchanged"), "{plan_text}");
    assert_eq!(env.ids(), ids, "plan changed containers");
    let out = env.up(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let after = env.ids();
    let recreated: Vec<&String> = after.keys().filter(|s| after[*s] != ids[*s]).collect();
    let planned: Vec<String> = plan_text
        .lines()
        .filter(|l| l.contains(": recreate"))
        .filter_map(|l| l.split(':').next().map(str::to_string))
        .collect();
    assert!(!planned.is_empty());
    assert_eq!(
        recreated
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .len(),
        planned.len()
    );
    for s in ["log", "redis", "postgresql", "portal"] {
        assert_eq!(after[s], ids[s], "{s} was recreated");
    }
    assert_ne!(after["core"], ids["core"]);
    assert_eq!(env.env_of("harbor-core", "LOG_LEVEL"), "debug");

    // down keeps the data; a taken port is named; down again
    let out = env.deploy(&["down", "--project", PROJECT]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(env.ids().is_empty());
    assert!(work.join("data/secret/keys/seed").exists() || work.join("data/secret").exists());
    assert!(
        work.join("data/database")
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(false)
    );
    let taken = TcpListener::bind(("127.0.0.1", port)).expect("bind the proxy port");
    let out = env.up(&[]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains(&format!("127.0.0.1:{port}")),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("already in use"), "{}", text(&out));
    drop(taken);

    // a stand-in made to exit: the error names it with its logs
    let build = Command::new("docker")
        .args(["build", "-q", "-t", "hpt-test/jobservice-exits:1", "-"])
        .env("DOCKER_HOST", &env.host)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(
                b"FROM goharbor/harbor-jobservice:v2.15.2\nENV STANDIN_EXIT_AFTER=1\n",
            )?;
            c.wait_with_output()
        })
        .expect("docker build");
    assert!(build.status.success());
    std::fs::write(
        work.join("images.yml"),
        "jobservice: hpt-test/jobservice-exits:1\n",
    )
    .unwrap();
    let images = work.join("images.yml");
    let out = env.up(&["--images", images.to_str().unwrap()]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("service jobservice (container harbor-jobservice) is not healthy"),
        "{t}"
    );
    assert!(t.contains("last log lines"), "{t}");
    let _ = env.docker(&["rmi", "-f", "hpt-test/jobservice-exits:1"]);

    // purge
    let out = env.deploy(&["down", "--project", PROJECT, "--purge", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!work.join("data/secret").exists());
    assert!(!work.join("data/database").exists());
    assert!(work.join("harbor.yml").exists());
    let nets = env.docker(&[
        "network",
        "ls",
        "--filter",
        &format!("name={PROJECT}"),
        "-q",
    ]);
    assert!(String::from_utf8_lossy(&nets.stdout).trim().is_empty());
}
