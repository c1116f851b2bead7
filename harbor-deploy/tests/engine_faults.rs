//! Faults in the middle of `up` on a real engine: the engine going away, and `up` itself
//! killed. Either way a later `up` must converge to the same healthy deployment, with no
//! container left over or doubled.

mod deploy;

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deploy::{Env, text};

const PROJECT: &str = "hpt-faults";
const OFFSET: u16 = 18200;

/// A Unix socket in front of the engine's: what the client sees of the engine. Cutting it
/// closes every connection and stops listening, as an engine that stops does.
struct Door {
    path: PathBuf,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<UnixStream>>>,
}

impl Door {
    fn new(dir: &Path, engine: &str) -> Door {
        let engine = engine
            .strip_prefix("unix://")
            .expect("a unix:// DOCKER_HOST")
            .to_string();
        let path = dir.join("door.sock");
        let listener = UnixListener::bind(&path).expect("bind the door");
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let (c, o) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if c.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { break };
                let Ok(server) = UnixStream::connect(&engine) else {
                    break;
                };
                let mut list = o.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                drop(list);
                pump(client.try_clone().unwrap(), server.try_clone().unwrap());
                pump(server, client);
            }
        });
        Door { path, cut, open }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let _ = std::fs::remove_file(&self.path);
        for s in self.open.lock().unwrap().iter() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        // wake the accept loop so that it sees the cut and drops the listener
        let _ = UnixStream::connect(&self.path);
    }
}

fn pump(mut from: UnixStream, mut to: UnixStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// Polls until `at_least` containers of the project exist, or panics after a minute.
fn wait_for_containers(env: &Env, at_least: usize) {
    let t = Instant::now();
    while env.labelled().len() < at_least {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no {at_least} containers after a minute"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn up_converges_after_the_engine_goes_away_and_after_being_killed() {
    let env = Env::new(PROJECT, OFFSET);

    // the engine goes away while up creates containers: a clear error naming the address
    let door = Door::new(&env.work(), &env.host);
    let args = env.up_args("up", &[]);
    let child = env
        .deploy_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .env("DOCKER_HOST", door.host())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start up");
    wait_for_containers(&env, 2);
    door.cut();
    let out = child.wait_with_output().expect("wait for up");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("stopped answering"), "{t}");
    assert!(t.contains(&door.host()), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    let after_cut = env.labelled().len();
    assert!(
        (2..9).contains(&after_cut),
        "{after_cut} containers after the cut"
    );

    // up is killed while it carries on
    let mut child = env
        .deploy_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start up");
    wait_for_containers(&env, after_cut + 1);
    child.kill().expect("kill up");
    let _ = child.wait();
    assert!(env.labelled().len() < 9, "up finished before it was killed");

    // and a plain up converges: nine healthy containers, none twice
    let out = env.up(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let rows = env.status();
    assert_eq!(rows.len(), 9, "{rows:?}");
    for r in &rows {
        assert_eq!(r["state"], "running", "{r}");
        assert_eq!(r["health"], "healthy", "{r}");
    }
    assert_eq!(env.labelled().len(), 9);
    let again = env.up(&[]);
    assert!(text(&again).contains("nothing changed"), "{}", text(&again));

    // two runs at once on one installation take turns: one network, nine containers
    let out = env.deploy(&["down", "--project", PROJECT]);
    assert!(out.status.success(), "{}", text(&out));
    let spawn = || {
        env.deploy_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start up")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a));
    assert!(b.status.success(), "{}", text(&b));
    let nets = env.docker(&[
        "network",
        "ls",
        "-q",
        "--filter",
        &format!("label=org.harbor-prep.project={PROJECT}"),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&nets.stdout).lines().count(),
        1,
        "networks of the project"
    );
    assert_eq!(env.labelled().len(), 9);

    // down, then down --purge naming the installation: no container is left to say where
    // the data is, so the configuration says it
    let out = env.deploy(&["down", "--project", PROJECT]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.deploy(&["down", "--project", PROJECT, "--purge", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("pass --config"), "{}", text(&out));
    assert!(env.work().join("data/secret").exists());
    let work = env.work();
    let out = env.deploy(&[
        "down",
        "--project",
        PROJECT,
        "--purge",
        "--yes",
        "--config",
        work.join("harbor.yml").to_str().unwrap(),
        "--out",
        work.join("harbor").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!work.join("data/secret").exists());
    assert!(!work.join("harbor/common/config").exists());
    assert!(work.join("harbor.yml").exists());
}

#[test]
fn an_engine_that_does_not_answer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/nothing.sock", dir.path().display());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
        .args(["status", "--project", PROJECT])
        .env("DOCKER_HOST", &host)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains(&format!("DOCKER_HOST={host}")), "{t}");
    assert!(t.contains("start it, or point DOCKER_HOST at it"), "{t}");
}
