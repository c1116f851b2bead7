//! Times `up` from nothing and a no-op `up` against `docker-compose up -d` on the same
//! images and the same rendered file, and prints the medians and their ratios.
//!
//! `cargo bench -p harbor-benches --bench deploy` with an engine in DOCKER_HOST (see
//! scripts/dockerd.sh), the test images built (scripts/build-test-images.sh) and
//! docker-compose installed. HPT_BENCH_RUNS sets the runs of each (default 3). Outside
//! `cargo bench` (as under `cargo test --all-targets`) it only says how to run it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../../harbor-deploy/tests/deploy/shared.rs"]
mod shared;

const PROJECT: &str = "hpt-bench";
const COMPOSE_PROJECT: &str = "hptbench";
const OFFSET: u16 = 18400;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("run docker");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn compose(file: &Path, args: &[&str]) {
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(file)
        .args(["-p", COMPOSE_PROJECT])
        .args(args)
        .output()
        .expect("run docker-compose");
    assert!(
        out.status.success(),
        "docker-compose {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until every container of the compose project reports healthy (or runs, without a
/// health check).
fn compose_healthy() {
    let label = format!("label=com.docker.compose.project={COMPOSE_PROJECT}");
    let t = Instant::now();
    loop {
        let ids = docker(&["ps", "-aq", "--filter", &label]);
        let states = docker(
            &[
                "inspect",
                "-f",
                "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}",
            ]
            .into_iter()
            .chain(ids.split_whitespace())
            .collect::<Vec<_>>(),
        );
        if !ids.is_empty()
            && states
                .lines()
                .all(|s| s == "running/healthy" || s == "running/none")
        {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "compose never healthy: {states}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn config(work: &Path) -> PathBuf {
    let text = shared::confined(&harbor_prep::default_config("harbor.example.test"), work);
    let path = work.join("harbor.yml");
    std::fs::write(&path, text).expect("write harbor.yml");
    path
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("deploy bench: run it with `cargo bench -p harbor-benches --bench deploy`");
        return;
    }
    let runs: usize = std::env::var("HPT_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/tmp/harbor-engine.lock")
        .expect("open the engine lock");
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).expect("lock");

    let dir = std::env::temp_dir().join(format!("harbor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let mut opts = harbor_deploy::UpOptions::default();
    opts.render.config = Some(config(&dir));
    opts.out = Some(dir.join("harbor"));
    opts.project = PROJECT.to_string();
    opts.publish_loopback = true;
    opts.port_offset = OFFSET;

    let (mut ours_fresh, mut ours_noop) = (Vec::new(), Vec::new());
    let (mut compose_fresh, mut compose_healthy_fresh, mut compose_noop) =
        (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let t = Instant::now();
        harbor_deploy::up(&opts, &mut |_| {}).expect("up");
        ours_fresh.push(t.elapsed());
        let t = Instant::now();
        let report = harbor_deploy::up(&opts, &mut |_| {}).expect("no-op up");
        ours_noop.push(t.elapsed());
        assert!(!report.changed, "the second up changed something");
        harbor_deploy::down(PROJECT, false).expect("down");

        let rendered =
            std::fs::read_to_string(dir.join("harbor/docker-compose.yml")).expect("compose file");
        let file = dir.join("harbor/docker-compose.bench.yml");
        std::fs::write(&file, shared::loopback(&rendered, OFFSET)).expect("write");
        // the log container first: the syslog driver of the others needs it listening
        let t = Instant::now();
        compose(&file, &["up", "-d", "log"]);
        compose_healthy();
        compose(&file, &["up", "-d"]);
        compose_fresh.push(t.elapsed());
        compose_healthy();
        compose_healthy_fresh.push(t.elapsed());
        let t = Instant::now();
        compose(&file, &["up", "-d"]);
        compose_noop.push(t.elapsed());
        compose(&file, &["down"]);
        eprintln!("run {}/{runs} done", run + 1);
    }
    let _ = std::fs::remove_dir_all(&dir);

    let (of, on) = (median(ours_fresh), median(ours_noop));
    let (cf, ch, cn) = (
        median(compose_fresh),
        median(compose_healthy_fresh),
        median(compose_noop),
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("medians of {runs} run(s):");
    println!("  up from nothing, all healthy         {:>8.2?}", of);
    println!("  docker-compose up -d from nothing    {:>8.2?}", cf);
    println!("  docker-compose up -d, then healthy   {:>8.2?}", ch);
    println!("  no-op up                             {:>8.2?}", on);
    println!("  no-op docker-compose up -d           {:>8.2?}", cn);
    println!(
        "ratios: up/compose from nothing {:.2} (to healthy {:.2}); no-op up/compose {:.3}",
        ratio(of, cf),
        ratio(of, ch),
        ratio(on, cn)
    );
}
