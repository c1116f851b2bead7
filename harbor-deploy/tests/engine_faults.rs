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

/// `harbor-deploy status` of this test's project against the engine DOCKER_HOST names (with
/// the other variables given): its exit code and everything it printed.
fn status_with(host: &str, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
        .args(["status", "--project", PROJECT])
        .env("DOCKER_HOST", host)
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    (out.status.code(), text(&out))
}

#[test]
fn an_engine_that_does_not_answer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/nothing.sock", dir.path().display());
    let (code, t) = status_with(&host, &[]);
    assert_eq!(code, Some(1), "{t}");
    assert!(t.contains(&format!("DOCKER_HOST={host}")), "{t}");
    assert!(t.contains("start it, or point DOCKER_HOST at it"), "{t}");
}

#[test]
fn a_password_in_docker_host_is_not_repeated() {
    // a closed port on loopback: nothing answers, and the error names the engine
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for scheme in ["tcp", "http"] {
        let host = format!("{scheme}://admin:S3cretPw@127.0.0.1:{port}");
        let (code, t) = status_with(&host, &[]);
        assert_eq!(code, Some(1), "{t}");
        assert!(!t.contains("S3cretPw") && !t.contains("admin"), "{t}");
        assert!(
            t.contains(&format!("DOCKER_HOST={scheme}://***@127.0.0.1:{port}")),
            "{t}"
        );
    }

    // a password with a `/`, and a unix socket the client names in its own error
    for host in [
        format!("tcp://alice:Sup3r/S3cretPw@127.0.0.1:{port}"),
        "unix://alice:S3cretPw@/nonexistent/engine.sock".to_string(),
    ] {
        let (code, t) = status_with(&host, &[]);
        assert_eq!(code, Some(1), "{t}");
        assert!(!t.contains("S3cretPw") && !t.contains("alice"), "{t}");
    }

    // an address harbor-deploy cannot use is refused without repeating the password either
    let (code, t) = status_with("ssh://admin:S3cretPw@127.0.0.1", &[]);
    assert_eq!(code, Some(2), "{t}");
    assert!(!t.contains("S3cretPw"), "{t}");
}

#[test]
fn calls_made_inside_a_runtime_answer_instead_of_panicking() {
    // as from a progress callback of up, which runs inside up's runtime; whichever engine
    // DOCKER_HOST names (or none), the calls answer and nothing panics
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answered = |r: Result<(), harbor_deploy::Error>| match r {
        Ok(()) => {}
        Err(e) => assert_eq!(e.kind(), harbor_deploy::ErrorKind::EngineUnreachable, "{e}"),
    };

    rt.block_on(async {
        answered(harbor_deploy::status("hpt-nested").map(|rows| assert!(rows.is_empty())));
        answered(harbor_deploy::down("hpt-nested", false).map(|r| assert!(r.removed.is_empty())));

        let mut opts = harbor_deploy::UpOptions::default();
        opts.render.hostname = Some("harbor.example.test".into());
        let up = harbor_deploy::up(&opts, &mut |_| {}).unwrap_err();
        assert_eq!(up.kind(), harbor_deploy::ErrorKind::InvalidInput);
        assert!(
            up.message().contains("progress callback"),
            "{}",
            up.message()
        );
    });
}

#[test]
fn an_images_file_is_read_only_when_it_is_a_small_file() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yml");
    std::fs::write(&big, "a".repeat(2 << 20)).unwrap();
    for (path, why) in [
        ("/dev/zero", "not a regular file"),
        (big.to_str().unwrap(), "larger than 1048576 bytes"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_harbor-deploy"))
            .args([
                "plan",
                "--hostname",
                "harbor.example.test",
                "--images",
                path,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains(why), "{t}");
    }
}

#[test]
fn an_engine_asked_to_speak_tls_is_not_spoken_to_in_clear_text() {
    // a listener that records whether anything arrived
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();

    let (code, t) = status_with(
        &format!("tcp://127.0.0.1:{port}"),
        &[("DOCKER_TLS_VERIFY", "1")],
    );
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("DOCKER_TLS_VERIFY"), "{t}");
    assert!(
        listener.accept().is_err(),
        "harbor-deploy connected to an engine that asked for TLS"
    );
}

#[test]
fn the_library_makes_no_directory_others_may_write_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;

    // a library caller's umask may be 000; the command's never is
    let old = rustix::process::umask(rustix::fs::Mode::empty());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let out = dir.path().join("a/b/out");
    let mut opts = harbor_deploy::PrepareOptions::default();
    opts.render.hostname = Some("harbor.example.test".into());
    opts.render.root = root.clone();
    opts.out = Some(out.clone());
    let result = harbor_deploy::prepare(&opts);
    rustix::process::umask(old);
    result.unwrap();

    for d in [
        dir.path().join("a"),
        dir.path().join("a/b"),
        out.clone(),
        root.join("data"),
        out.join("common"),
    ] {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o022, 0, "{} is {mode:o}", d.display());
    }
}
