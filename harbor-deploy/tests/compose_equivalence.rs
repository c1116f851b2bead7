//! `up` deploys what `docker-compose up` deploys from the same rendered file: the two
//! deployments' `docker inspect` agree on image, environment, mounts, capabilities, restart
//! policy, network aliases, logging, ports and shm size. Compose (Debian's v1) runs second,
//! under another project name, because container names and the log port are fixed.

mod deploy;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use deploy::{Env, text};
use serde_json::{Value, json};

const PROJECT: &str = "hpt-ours";
const COMPOSE_PROJECT: &str = "hptcompose";
const OFFSET: u16 = 18300;

/// What a deployment decides about a container, with names left out.
fn essentials(c: &Value) -> Value {
    let id = c["Id"].as_str().unwrap_or_default();
    let name = c["Name"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('/');
    let sorted = |v: &Value| -> Value {
        let mut list: Vec<String> = v
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        list.sort();
        json!(list)
    };
    let mut mounts: Vec<Value> = c["Mounts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| {
            // an image's anonymous volume gets a fresh name each time
            let source = if m["Type"] == "volume" {
                json!("(anonymous)")
            } else {
                m["Source"].clone()
            };
            json!({
                "type": m["Type"],
                "source": source,
                "destination": m["Destination"],
                "rw": m["RW"],
                "propagation": m["Propagation"],
            })
        })
        .collect();
    mounts.sort_by_key(|m| m["destination"].to_string());

    // one network each; its name is the project's, its aliases the service's
    let networks = c["NetworkSettings"]["Networks"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let aliases: Vec<Value> = networks
        .values()
        .map(|n| {
            let mut list: Vec<String> = n["Aliases"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str())
                        .filter(|a| !id.starts_with(a) && *a != name)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            list.sort();
            json!(list)
        })
        .collect();

    let host = &c["HostConfig"];
    let ports: BTreeMap<String, Value> = host["PortBindings"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .collect();
    json!({
        "image": c["Config"]["Image"],
        "env": sorted(&c["Config"]["Env"]),
        "entrypoint": c["Config"]["Entrypoint"],
        "cmd": c["Config"]["Cmd"],
        "user": c["Config"]["User"],
        "mounts": mounts,
        "cap_add": sorted(&host["CapAdd"]),
        "cap_drop": sorted(&host["CapDrop"]),
        "restart": host["RestartPolicy"]["Name"],
        "log": host["LogConfig"],
        "ports": ports,
        "shm_size": host["ShmSize"],
        "privileged": host["Privileged"],
        "readonly_rootfs": host["ReadonlyRootfs"],
        "security_opt": sorted(&host["SecurityOpt"]),
        "networks": networks.len(),
        "aliases": aliases,
        "state": c["State"]["Status"],
    })
}

/// `essentials` of every container of a project, by container name.
fn deployment(env: &Env, label: &str) -> BTreeMap<String, Value> {
    let ids = env.docker(&["ps", "-aq", "--filter", &format!("label={label}")]);
    let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
        .split_whitespace()
        .map(String::from)
        .collect();
    assert!(!ids.is_empty(), "no containers with label {label}");
    let mut args = vec!["inspect"];
    args.extend(ids.iter().map(String::as_str));
    let out = env.docker(&args);
    assert!(out.status.success(), "{}", text(&out));
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).expect("inspect json");
    list.iter()
        .map(|c| {
            let name = c["Name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches('/');
            (name.to_string(), essentials(c))
        })
        .collect()
}

fn compose(env: &Env, file: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new("docker-compose")
        .arg("-f")
        .arg(file)
        .args(["-p", COMPOSE_PROJECT])
        .args(args)
        .env("DOCKER_HOST", &env.host)
        .output()
        .expect("run docker-compose (apt-get install docker-compose)")
}

#[test]
fn up_deploys_what_docker_compose_deploys() {
    let env = Env::new(PROJECT, OFFSET);
    let work = env.work();

    let out = env.up(&[]);
    assert!(out.status.success(), "up: {}", text(&out));
    let ours = deployment(&env, &format!("org.harbor-prep.project={PROJECT}"));
    assert_eq!(ours.len(), 9, "{:?}", ours.keys());
    let out = env.deploy(&["down", "--project", PROJECT]);
    assert!(out.status.success(), "down: {}", text(&out));

    // compose from the same rendered file: the log container first, as upstream's users
    // learn to, since the syslog driver needs it listening when the others start
    let rendered = std::fs::read_to_string(work.join("harbor/docker-compose.yml")).unwrap();
    let file = work.join("harbor/docker-compose.loopback.yml");
    std::fs::write(&file, deploy::shared::loopback(&rendered, OFFSET)).unwrap();
    let out = compose(&env, &file, &["up", "-d", "log"]);
    assert!(out.status.success(), "compose up log: {}", text(&out));
    let t = Instant::now();
    loop {
        let h = env.docker(&["inspect", "-f", "{{.State.Health.Status}}", "harbor-log"]);
        if String::from_utf8_lossy(&h.stdout).trim() == "healthy" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "harbor-log never healthy"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let out = compose(&env, &file, &["up", "-d"]);
    let theirs = deployment(
        &env,
        &format!("com.docker.compose.project={COMPOSE_PROJECT}"),
    );
    let down = compose(&env, &file, &["down"]);
    assert!(out.status.success(), "compose up: {}", text(&out));
    assert!(down.status.success(), "compose down: {}", text(&down));

    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    let mut differences = Vec::new();
    for (name, mine) in &ours {
        let other = &theirs[name];
        for (key, value) in mine.as_object().unwrap() {
            if key == "state" {
                continue;
            }
            if &other[key] != value {
                differences.push(format!(
                    "{name} {key}:\n  up:      {value}\n  compose: {}",
                    other[key]
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "up and docker-compose differ:\n{}",
        differences.join("\n")
    );
}
