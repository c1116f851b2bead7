//! What the harbor-prep tests share: where the shared material is, fixed inputs, host files.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use harbor_prep::value::Value;
use harbor_prep::{Bundle, Config, HostFile, HostFiles, Inputs, Issues, Release, Seed, State};

/// The shared material beside the checkout; the one place that knows where it is.
pub fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// Upstream's output for one release.
pub fn reference(release: &str) -> PathBuf {
    shared()
        .join("reference")
        .join(format!("upstream-{release}"))
}

/// 2027-01-01T00:00:00Z, after the reference certificates were made.
pub const NOW: i64 = 1_798_761_600;

/// The seed every test renders with.
pub fn seed() -> Seed {
    Seed::from_bytes([7; 32])
}

/// Host files the configuration names, read from `root` (a case's `host/` directory).
pub fn host_files(config: &Config, root: &Path, with_trivy: bool) -> HostFiles {
    let mut files = HostFiles::new();
    for p in config.host_paths(with_trivy) {
        let path = root.join(p.path.trim_start_matches('/'));
        match (fs::read(&path), fs::metadata(&path)) {
            (Ok(contents), Ok(meta)) => files.insert(
                p.path,
                HostFile {
                    contents,
                    mode: meta.mode() & 0o7777,
                    uid: meta.uid(),
                },
            ),
            _ => files.insert_missing(p.path, "no such file"),
        }
    }
    files
}

/// Renders `text` with the fixed seed and time, no host files, the latest release.
pub fn render_text(text: &str, with_trivy: bool, state: &State) -> Result<Bundle, Issues> {
    let config = Config::from_yaml(text).map_err(Issues)?;
    let files = HostFiles::new();
    render_config(&config, &files, with_trivy, state)
}

/// Renders a parsed configuration with the fixed seed and time.
pub fn render_config(
    config: &Config,
    files: &HostFiles,
    with_trivy: bool,
    state: &State,
) -> Result<Bundle, Issues> {
    harbor_prep::render(&Inputs {
        config,
        seed: &seed(),
        now: NOW,
        state,
        files,
        with_trivy,
        release: Release::latest(),
    })
}

/// A state holding a token pair, so that a render makes no RSA key; made once per process.
pub fn keyed_state() -> State {
    use std::sync::OnceLock;
    static STATE: OnceLock<State> = OnceLock::new();
    STATE
        .get_or_init(|| {
            render_text(
                &harbor_prep::default_config("keys.example.test"),
                false,
                &State::new(),
            )
            .map(|b| b.state)
            .unwrap_or_default()
        })
        .clone()
}

/// The base the field cases merge onto: v2.15.2's template, hostname set, https removed.
pub fn case_base() -> Value {
    let text = fs::read_to_string(shared().join("reference/legacy/harbor-2.15.2.yml.tmpl"))
        .expect("the v2.15.2 template is in shared/reference/legacy");
    let mut base = Value::from_node(&harbor_prep::yaml::parse(&text).expect("template parses"));
    if let Value::Map(entries) = &mut base {
        entries.retain(|(k, _)| k != "https");
        for (k, v) in entries.iter_mut() {
            if k == "hostname" {
                *v = Value::Plain("registry.example.test".into());
            }
        }
    }
    base
}

/// Deep merge as the field cases define it: maps merge, other values replace, `__DELETE__`
/// removes the key.
pub fn merge(base: &mut Value, overlay: &Value) {
    let (Value::Map(into), Value::Map(from)) = (&mut *base, overlay) else {
        *base = overlay.clone();
        return;
    };
    for (key, value) in from {
        let delete = value.as_text() == Some("__DELETE__");
        match into.iter().position(|(k, _)| k == key) {
            Some(i) if delete => {
                into.remove(i);
            }
            Some(i) => merge(&mut into[i].1, value),
            None if delete => {}
            None => into.push((key.clone(), value.clone())),
        }
    }
}

/// A field case's fragment merged onto the base, as harbor.yml text.
pub fn case_text(name: &str) -> String {
    let path = shared().join("cases").join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fragment = Value::from_node(&harbor_prep::yaml::parse(&text).expect("case parses"));
    let mut base = case_base();
    merge(&mut base, &fragment);
    base.to_yaml(0)
}

/// An env file as Compose reads it, as a map.
pub fn env(bundle: &Bundle, path: &str) -> std::collections::BTreeMap<String, String> {
    let text = bundle
        .text(harbor_prep::Root::Install, path)
        .unwrap_or_else(|| panic!("{path} was not rendered"));
    harbor_prep::envfile::parse(text)
        .unwrap_or_else(|e| panic!("{path} is not a valid env file: {e}"))
        .into_iter()
        .collect()
}

/// The issue paths of a failed render.
pub fn issue_paths(result: &Result<Bundle, Issues>) -> Vec<String> {
    match result {
        Ok(_) => Vec::new(),
        Err(issues) => issues.0.iter().map(|i| i.path.clone()).collect(),
    }
}
