//! Reads `escape::nginx_str` and `escape::rsyslog_str` output back through real nginx and rsyslog.
//!
//! Needs `nginx` and `rsyslogd` (Debian: `apt-get install nginx-light rsyslog`); the tests fail
//! when either is missing. Both run in the foreground as children of the test, nginx listening
//! on 127.0.0.1 only, and are killed by the test when it is done.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use harbor_prep::escape;

/// Values beyond [`escape::TRICKY`] that this reader is checked with.
const EXTRA: &[&str] = &[
    ";",
    "a;b",
    "{",
    "}",
    "/metrics; return 200",
    "\\\"",
    "\\n",
    "\\t",
    "'\"",
    "a\\",
    "/m{1}",
];

/// Every value the rsyslog test reads back.
fn values() -> Vec<&'static str> {
    escape::TRICKY.iter().chain(EXTRA).copied().collect()
}

/// The values nginx can carry: it refuses `$` and control characters, which `nginx_str`
/// rejects.
fn nginx_values() -> Vec<&'static str> {
    escape::TRICKY
        .iter()
        .filter(|v| !v.contains('$') && !v.chars().any(char::is_control))
        .chain(EXTRA)
        .copied()
        .collect()
}

fn test_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create test dir");
    dir
}

/// Kills the child when dropped, so that a failing assertion leaves no server behind.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(port: u16, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has a header");
    response.split_off(body + 4)
}

#[test]
fn nginx_return_text_is_the_value() {
    let dir = test_dir("nginx");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();

    let mut locations = String::new();
    for (i, v) in nginx_values().iter().enumerate() {
        let text = escape::nginx_str(v).expect("value nginx can carry");
        locations.push_str(&format!("    location = /v{i} {{ return 200 {text}; }}\n"));
    }
    let conf = format!(
        "daemon off;\nmaster_process off;\npid {pid};\nevents {{ worker_connections 16; }}\n\
         http {{\n  access_log off;\n  default_type text/plain;\n  server {{\n    \
         listen 127.0.0.1:{port};\n{locations}  }}\n}}\n",
        pid = dir.join("nginx.pid").display(),
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, &conf).expect("write nginx.conf");

    let check = nginx(&dir, &conf_path)
        .arg("-t")
        .output()
        .expect("nginx must be installed: apt-get install nginx-light");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "nginx -t failed: {stderr}\n{conf}");

    let child = nginx(&dir, &conf_path).spawn().expect("start nginx");
    let _server = Server(child);
    wait_for("nginx", || TcpStream::connect(("127.0.0.1", port)).is_ok());
    for (i, v) in nginx_values().iter().enumerate() {
        let body = http_get(port, &format!("/v{i}"));
        assert_eq!(
            String::from_utf8_lossy(&body),
            *v,
            "written as {:?}",
            escape::nginx_str(v)
        );
    }
}

fn nginx(dir: &Path, conf: &Path) -> Command {
    let mut cmd = Command::new("nginx");
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .arg("-e")
        .arg(dir.join("error.log"));
    cmd.stdin(Stdio::null());
    cmd
}

#[test]
fn rsyslog_strings_are_the_value_in_expressions_and_parameters() {
    let dir = test_dir("rsyslog");
    let values: Vec<&str> = values()
        .iter()
        .copied()
        .chain(["$", "$.x", "a\tb\nc", "\u{1}\u{7f}"])
        .collect();

    // each value once in an expression (`set`), printed by a template, and once as a parameter,
    // the name of the file an action writes, where the value can be a file name
    let socket = dir.join("log.sock");
    let mut conf = format!(
        "global(workDirectory=\"{dir}\")\nmodule(load=\"imuxsock\" SysSock.Use=\"off\")\n\
         input(type=\"imuxsock\" Socket=\"{sock}\")\n",
        dir = dir.display(),
        sock = socket.display(),
    );
    for (i, v) in values.iter().enumerate() {
        let s = escape::rsyslog_str(v);
        conf.push_str(&format!(
            "template(name=\"t{i}\" type=\"list\") {{ property(name=\"$.v{i}\") constant(value=\"|\") }}\n\
             set $.v{i} = \"{s}\";\n\
             action(type=\"omfile\" file=\"{dir}/expr-{i}\" template=\"t{i}\")\n",
            dir = dir.display(),
        ));
        if !v.contains('/') {
            let name = escape::rsyslog_str(&format!("{}/param-{v}", dir.display()));
            conf.push_str(&format!(
                "action(type=\"omfile\" file=\"{name}\" template=\"t0\")\n"
            ));
        }
    }
    let conf_path = dir.join("rsyslog.conf");
    std::fs::write(&conf_path, &conf).expect("write rsyslog.conf");

    let check = rsyslogd(&dir, &conf_path)
        .arg("-N1")
        .output()
        .expect("rsyslogd must be installed: apt-get install rsyslog");
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        check.status.success(),
        "rsyslogd -N1 failed: {stderr}\n{conf}"
    );

    // one message on the test's own socket runs through every action above
    let child = rsyslogd(&dir, &conf_path).spawn().expect("start rsyslogd");
    let _server = Server(child);
    wait_for("rsyslogd socket", || socket.exists());
    let sender = UnixDatagram::unbound().expect("unix socket");
    sender
        .send_to(b"<14>escape-test: hello", &socket)
        .expect("send to rsyslogd");
    let last = dir.join(format!("expr-{}", values.len() - 1));
    wait_for("rsyslogd output", || {
        std::fs::read(&last).is_ok_and(|b| b.ends_with(b"|"))
    });

    for (i, v) in values.iter().enumerate() {
        let written = std::fs::read(dir.join(format!("expr-{i}"))).expect("expression output");
        let want = format!("{v}|");
        assert!(
            written.starts_with(want.as_bytes()),
            "{v:?} as {}: {written:?}",
            escape::rsyslog_str(v)
        );
        if !v.contains('/') {
            let path = dir.join(format!("param-{v}"));
            assert!(
                path.is_file(),
                "no file named after {v:?} ({})",
                escape::rsyslog_str(v)
            );
        }
    }
}

fn rsyslogd(dir: &Path, conf: &Path) -> Command {
    let mut cmd = Command::new("rsyslogd");
    cmd.arg("-n")
        .arg("-f")
        .arg(conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"));
    cmd.stdin(Stdio::null());
    cmd
}
