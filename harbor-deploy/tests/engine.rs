//! `up`, `plan`, `status` and `down` against a real Docker engine (started by
//! scripts/dockerd.sh when none answers) and the locally built test images: end to end,
//! idempotence, a change, readiness probes, faults and `down`.

mod deploy;

use std::net::TcpListener;
use std::process::Command;
use std::time::Instant;

use deploy::{Env, text};

const PROJECT: &str = "hpt-engine";
const OFFSET: u16 = 18100;

#[test]
fn up_plan_status_down_on_a_real_engine() {
    let env = Env::new(PROJECT, OFFSET);
    let work = env.work();
    let config = env.config.clone();

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

    // a crash that the restart policy healed before this run is history, not a failure
    let pid = env.docker(&["inspect", "-f", "{{.State.Pid}}", "harbor-portal"]);
    let pid = String::from_utf8_lossy(&pid.stdout).trim().to_string();
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    let t = Instant::now();
    loop {
        let out = env.docker(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Health.Status}}",
            "harbor-portal",
        ]);
        if String::from_utf8_lossy(&out.stdout).trim() == "1 healthy" {
            break;
        }
        assert!(
            t.elapsed().as_secs() < 60,
            "portal not back after a restart"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let out = env.up(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing changed"), "{}", text(&out));

    // a log level change: plan says so, up recreates exactly those containers
    std::fs::write(
        work.join("harbor.yml"),
        config.replace("\n  level: info\n", "\n  level: debug\n"),
    )
    .unwrap();
    let before: Vec<u8> = std::fs::read(work.join("harbor/common/config/core/env")).unwrap();
    let plan = env.plan(&[]);
    let plan_text = text(&plan);
    assert!(plan_text.contains("core: recreate"), "{plan_text}");
    assert!(plan_text.contains("log: keep"), "{plan_text}");
    assert_eq!(env.ids(), ids, "plan changed containers");
    assert_eq!(
        std::fs::read(work.join("harbor/common/config/core/env")).unwrap(),
        before,
        "plan wrote the bundle"
    );
    assert!(
        plan_text.contains("common/config/core/env: write"),
        "{plan_text}"
    );
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

    // a new host port that is taken: plan and up refuse before anything is removed or
    // written, and the deployment keeps running as it was
    let moved = config.replace("http:\n  port: 80\n", "http:\n  port: 81\n");
    assert_ne!(moved, config);
    std::fs::write(work.join("harbor.yml"), &moved).unwrap();
    let compose_before = std::fs::read(work.join("harbor/docker-compose.yml")).unwrap();
    let before = env.ids();
    let taken = TcpListener::bind(("127.0.0.1", 81 + OFFSET)).expect("bind port 81 + offset");
    let plan = env.plan(&[]);
    assert_eq!(plan.status.code(), Some(1), "{}", text(&plan));
    assert!(text(&plan).contains("already in use"), "{}", text(&plan));
    let out = env.up(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("127.0.0.1:{}", 81 + OFFSET)),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("removing"), "{}", text(&out));
    drop(taken);
    assert_eq!(env.ids(), before, "a refused up changed containers");
    assert_eq!(
        std::fs::read(work.join("harbor/docker-compose.yml")).unwrap(),
        compose_before,
        "a refused up wrote the bundle"
    );
    std::fs::write(work.join("harbor.yml"), &config).unwrap();

    // images without a health check are probed from inside their container: a portal that
    // serves is found ready, one that never listens fails `up` within its timeout, named
    env.build(
        "hpt-test/portal-nocheck:1",
        "FROM goharbor/harbor-portal:v2.15.2\nHEALTHCHECK NONE\n",
    );
    env.build(
        "hpt-test/portal-silent:1",
        "FROM goharbor/harbor-portal:v2.15.2\nHEALTHCHECK NONE\nENTRYPOINT [\"sleep\", \"3600\"]\n",
    );
    let images = work.join("images.yml");
    std::fs::write(&images, "portal: hpt-test/portal-nocheck:1\n").unwrap();
    let out = env.up(&["--images", images.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let portal = env
        .status()
        .into_iter()
        .find(|r| r["service"] == "portal")
        .expect("portal in status");
    assert_eq!(portal["health"], "none", "{portal}");
    assert_eq!(portal["state"], "running", "{portal}");
    std::fs::write(&images, "portal: hpt-test/portal-silent:1\n").unwrap();
    let out = env.up(&["--images", images.to_str().unwrap(), "--timeout", "25"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(
        t.contains("service portal (container harbor-portal) is not healthy within the timeout"),
        "{t}"
    );
    assert!(t.contains("health probing"), "{t}");
    let out = env.up(&[]);
    assert!(out.status.success(), "{}", text(&out));
    let _ = env.docker(&[
        "rmi",
        "-f",
        "hpt-test/portal-nocheck:1",
        "hpt-test/portal-silent:1",
    ]);

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

    // images that are not on the engine are named, with how to get them, before anything
    // is created; --image-prefix and --images both count
    let out = env.up(&["--image-prefix", "mirror.invalid/"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("mirror.invalid/goharbor/harbor-log:v2.15.2 (service log)"),
        "{t}"
    );
    assert!(t.contains("docker load"), "{t}");
    std::fs::write(&images, "core: hpt-test/no-such-core:1\n").unwrap();
    let out = env.up(&["--images", images.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("hpt-test/no-such-core:1 (service core)"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("harbor-log:v2.15.2 (service log)"));
    assert!(env.labelled().is_empty(), "up created containers");
    std::fs::write(&images, "nosuch: hpt-test/x:1\n").unwrap();
    let out = env.up(&["--images", images.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("service `nosuch` is not in the bundle"),
        "{}",
        text(&out)
    );

    // a container of someone else's under a name the bundle needs: refused and left alone,
    // and nothing of the project is created
    let foreign = env.docker(&[
        "create",
        "--name",
        "harbor-log",
        "goharbor/harbor-log:v2.15.2",
    ]);
    assert!(foreign.status.success(), "{}", text(&foreign));
    let out = env.up(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out)
            .contains("a container named harbor-log exists and harbor-deploy did not create it"),
        "{}",
        text(&out)
    );
    assert!(env.labelled().is_empty(), "up created containers");
    assert!(env.docker(&["inspect", "harbor-log"]).status.success());
    assert!(env.docker(&["rm", "harbor-log"]).status.success());

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
    env.build(
        "hpt-test/jobservice-exits:1",
        "FROM goharbor/harbor-jobservice:v2.15.2\nENV STANDIN_EXIT_AFTER=1\n",
    );
    std::fs::write(&images, "jobservice: hpt-test/jobservice-exits:1\n").unwrap();
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

#[test]
fn the_data_is_never_pulled_from_under_a_deployment() {
    let env = Env::new(PROJECT_DATA, OFFSET_DATA);
    let work = env.work();
    let config = env.config.clone();
    let harbor_yml = work.join("harbor.yml");
    let out_dir = work.join("harbor");
    let purge_by_config = |project: &str, config: &std::path::Path| {
        env.deploy(&[
            "down",
            "--project",
            project,
            "--purge",
            "--yes",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ])
    };

    // a directory Harbor uses that is there before the installation, with a file of the
    // user's, and a file of the user's in the data volume itself
    std::fs::create_dir_all(work.join("data/redis")).unwrap();
    std::fs::write(work.join("data/redis/mine.rdb"), "the user's").unwrap();
    std::fs::write(work.join("data/notes.txt"), "the user's").unwrap();

    let out = env.up(&[]);
    assert!(out.status.success(), "up: {}", text(&out));
    let ids = env.ids();

    // a purge through another project, naming this installation (also through a symlink
    // to it), is refused while its containers run, and touches nothing
    std::os::unix::fs::symlink(&work, work.join("link")).unwrap();
    let linked = work.join("linked.yml");
    std::fs::write(
        &linked,
        config.replace(
            &format!("data_volume: {}/data\n", work.display()),
            &format!("data_volume: {}/link/data\n", work.display()),
        ),
    )
    .unwrap();
    for via in [&harbor_yml, &linked] {
        let out = purge_by_config("hpt-other", via);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains("still use its data"), "{}", text(&out));
        assert!(text(&out).contains("harbor-db"), "{}", text(&out));
        assert!(work.join("data/secret/keys/seed").exists());
        assert_eq!(env.ids(), ids);
    }

    // a new database password the database does not know: plan and up refuse, and nothing
    // is recreated, even once prepare has written it into the bundle
    let changed = config.replace("  password: root123\n", "  password: N3w-db pass\n");
    assert_ne!(changed, config);
    std::fs::write(&harbor_yml, &changed).unwrap();
    let refused = |when: &str| {
        for verb in ["plan", "up"] {
            let args = env.up_args(verb, &[]);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = env.deploy(&refs);
            assert_eq!(out.status.code(), Some(2), "{when}, {verb}: {}", text(&out));
            assert!(
                text(&out).contains("does not accept the new one"),
                "{when}, {verb}: {}",
                text(&out)
            );
            assert!(!text(&out).contains("N3w-db"), "{}", text(&out));
        }
        assert_eq!(env.ids(), ids, "{when}");
    };
    let db_env = std::fs::read(out_dir.join("common/config/db/env")).unwrap();
    refused("before prepare");
    assert_eq!(
        std::fs::read(out_dir.join("common/config/db/env")).unwrap(),
        db_env
    );
    let out = env.deploy(&[
        "prepare",
        "--config",
        harbor_yml.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("keeps the password"), "{}", text(&out));
    refused("after prepare");

    // once the database has it, up goes ahead, and core logs in with it
    let alter = env.docker(&[
        "exec",
        "-i",
        "harbor-db",
        "psql",
        "-U",
        "postgres",
        "-c",
        "ALTER USER postgres WITH PASSWORD 'N3w-db pass'",
    ]);
    assert!(alter.status.success(), "{}", text(&alter));
    let out = env.up(&[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("keeps the password"), "{}", text(&out));
    assert_eq!(
        env.env_of("harbor-core", "POSTGRESQL_PASSWORD"),
        "N3w-db pass"
    );

    // an older release than the one running is refused before anything changes, and so it
    // is once the containers are gone: the database stays migrated
    let ids = env.ids();
    let out = env.up(&["--harbor-version", "v2.13.5"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("has run Harbor v2.15.2"),
        "{}",
        text(&out)
    );
    assert_eq!(env.ids(), ids);

    // down takes its turn after an up running on the installation, so that the up reports
    // what is true when it ends
    let out = env.deploy(&["down", "--project", PROJECT_DATA]);
    assert!(out.status.success(), "{}", text(&out));
    let args = env.up_args("up", &[]);
    let up = env
        .deploy_cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("up");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let down = env.deploy(&["down", "--project", PROJECT_DATA]);
    let up = up.wait_with_output().expect("up");
    assert!(up.status.success(), "{}", text(&up));
    assert!(
        text(&up).contains("9 container(s) healthy"),
        "{}",
        text(&up)
    );
    assert!(down.status.success(), "{}", text(&down));
    let removed = text(&down)
        .lines()
        .filter(|l| l.ends_with(": removed") && !l.starts_with("network "))
        .count();
    assert_eq!(removed, 9, "{}", text(&down));
    assert!(env.labelled().is_empty());
    let out = env.up(&["--harbor-version", "v2.13.5"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("has run Harbor v2.15.2"),
        "{}",
        text(&out)
    );
    assert!(env.labelled().is_empty());

    // an edited list of what was created cannot send the purge outside the installation,
    // nor through a symlink in the data volume
    std::fs::create_dir_all(work.join("outside")).unwrap();
    std::fs::write(work.join("outside/x"), "the user's").unwrap();
    std::fs::create_dir_all(work.join("victim")).unwrap();
    std::os::unix::fs::symlink(work.join("outside"), work.join("data/linked")).unwrap();
    let list = work.join("data/secret/keys/created");
    let mut text_list = std::fs::read_to_string(&list).unwrap();
    text_list.push_str(&format!(
        "install {}/victim\ndata linked/x\ndata ../victim\n",
        work.display()
    ));
    std::fs::write(&list, text_list).unwrap();

    // the purge, with no container left, through the configuration: it deletes what the
    // installation made, and keeps and names what was there before it
    let out = purge_by_config(PROJECT_DATA, &harbor_yml);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("kept {}", work.join("data/redis").display())),
        "{t}"
    );
    assert!(
        t.contains(&format!("kept {}", work.join("data/notes.txt").display())),
        "{t}"
    );
    assert!(
        t.contains(&format!("kept {}/victim", work.display())),
        "{t}"
    );
    assert!(!work.join("data/secret").exists(), "{t}");
    assert!(!work.join("data/database").exists(), "{t}");
    assert!(!out_dir.join("common").exists(), "{t}");
    for kept in ["data/redis/mine.rdb", "data/notes.txt", "outside/x"] {
        assert_eq!(
            std::fs::read_to_string(work.join(kept)).unwrap(),
            "the user's",
            "{kept}"
        );
    }
    assert!(work.join("victim").exists());
    assert!(harbor_yml.exists());
}

const PROJECT_DATA: &str = "hpt-data";
const OFFSET_DATA: u16 = 18500;
