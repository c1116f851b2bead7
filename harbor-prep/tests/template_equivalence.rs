//! The proxy, portal, compose, trivy-adapter, exporter and log templates against upstream.
//!
//! Every reference case that upstream's `prepare` rendered (and that we do not reject) is
//! rendered again here, and each of these files is compared with upstream's by meaning: nginx
//! directive trees, parsed YAML trees, env values as Docker Compose reads them, and the
//! non-comment lines of the log configurations. The documented differences (syslog address,
//! ip_family and metric path in the http proxy) are applied to upstream's side and then checked
//! on ours explicitly.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use harbor_prep::{Bundle, Config, HostFile, HostFiles, Inputs, Release, Root, Seed, State};
use serde_json::Value as Json;

/// Upstream's output, next to the project (see shared/README.md).
const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/upstream-v2.15.2"
);

/// The render time: a day after the reference host certificates begin (2026-12-04 13:40 UTC).
const NOW: i64 = 1_796_428_800;

/// The syslog address upstream gives every service, and ours.
const UPSTREAM_SYSLOG: &str = "tcp://localhost:1514";
const OUR_SYSLOG: &str = "tcp://127.0.0.1:1514";

// ---------------------------------------------------------------------------------------------
// cases

struct Case {
    name: String,
    dir: PathBuf,
    config: Config,
    bundle: Result<Bundle, String>,
}

impl Case {
    fn ours(&self, path: &str) -> Option<&str> {
        self.bundle.as_ref().ok()?.text(Root::Install, path)
    }

    fn upstream(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.dir.join(path)).ok()
    }
}

/// Case names that upstream accepted but `expect.tsv` says we must reject.
fn rejected() -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(REFERENCE).join("../expect.tsv"))
        .expect("expect.tsv is readable");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            let name = cols.next()?;
            (cols.next()? == "reject").then(|| name.to_string())
        })
        .collect()
}

/// Every host file the configuration names, read from the case's `host/` tree.
fn host_files(config: &Config, with_trivy: bool, host: &Path) -> HostFiles {
    let mut files = HostFiles::new();
    for hp in config.host_paths(with_trivy) {
        let on_disk = host.join(hp.path.trim_start_matches('/'));
        match (std::fs::read(&on_disk), std::fs::metadata(&on_disk)) {
            (Ok(contents), Ok(meta)) => files.insert(
                hp.path.clone(),
                HostFile {
                    contents,
                    mode: meta.mode() & 0o7777,
                    uid: meta.uid(),
                },
            ),
            _ => files.insert_missing(hp.path.clone(), "no such file"),
        }
    }
    files
}

fn render(config: &Config, with_trivy: bool, host: &Path) -> Result<Bundle, String> {
    let files = host_files(config, with_trivy, host);
    let inputs = Inputs {
        config,
        seed: &Seed::from_bytes([7; 32]),
        now: NOW,
        state: &State::new(),
        files: &files,
        with_trivy,
        release: Release::latest(),
    };
    harbor_prep::render(&inputs).map_err(|issues| {
        issues
            .0
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn load(dir: &Path) -> Option<Case> {
    let name = dir.file_name()?.to_str()?.to_string();
    let exit = std::fs::read_to_string(dir.join("exit_code")).ok()?;
    let args = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
    if exit.trim() != "0" || args.contains("gencert") {
        return None;
    }

    let text = std::fs::read_to_string(dir.join("input.harbor.yml")).ok()?;
    let config = match Config::from_yaml(&text) {
        Ok(c) => c,
        Err(issues) => panic!("{name}: input does not parse: {issues:?}"),
    };
    let with_trivy = args.split_whitespace().any(|a| a == "--with-trivy");
    let host = dir.join("host");
    let (config, bundle) = match (render(&config, with_trivy, &host), known_reject(&name)) {
        (Err(e), Some(k)) if e.contains(k.key) => {
            // compare the rest of the case with the one value made acceptable
            let edited = text.replace(k.from, k.to);
            assert_ne!(edited, text, "{name}: the edit does not apply");
            let config = Config::from_yaml(&edited).expect("the edited input parses");
            let bundle = render(&config, with_trivy, &host);
            (config, bundle)
        }
        (bundle, _) => (config, bundle),
    };
    Some(Case {
        name,
        dir: dir.to_path_buf(),
        config,
        bundle,
    })
}

/// A reference case upstream accepted that we may reject on purpose, and how to make it
/// acceptable; whether we reject it is not this file's business.
struct KnownReject {
    case: &'static str,
    key: &'static str,
    from: &'static str,
    to: &'static str,
}

/// A database password ending in a backslash may be refused for env files; it lands in core/env
/// and db/env only, so the files compared here are unaffected by the edit.
const KNOWN_REJECTS: [KnownReject; 1] = [KnownReject {
    case: "m-ports-passwords",
    key: "database.password",
    from: r#":/\\""#,
    to: r#":/\\x""#,
}];

fn known_reject(name: &str) -> Option<&'static KnownReject> {
    KNOWN_REJECTS.iter().find(|k| k.case == name)
}

/// The cases, rendered once for every test of this file (two at a time: keys are slow).
fn cases() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let skip = rejected();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(REFERENCE)
            .expect("the reference directory is readable")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !skip.contains(n))
            })
            .collect();
        dirs.sort();

        let (even, odd): (Vec<_>, Vec<_>) = dirs.iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let mut out: Vec<Case> = std::thread::scope(|s| {
            let a = s.spawn(|| even.iter().filter_map(|(_, d)| load(d)).collect::<Vec<_>>());
            let b = s.spawn(|| odd.iter().filter_map(|(_, d)| load(d)).collect::<Vec<_>>());
            let mut v = a.join().expect("render thread");
            v.extend(b.join().expect("render thread"));
            v
        });
        out.sort_by(|x, y| x.name.cmp(&y.name));
        assert!(out.len() >= 20, "only {} reference cases found", out.len());
        out
    })
}

/// Runs `check` on every case; fails with every case's problem at once.
fn each_case(check: impl Fn(&Case) -> Result<(), String>) {
    let mut failures = Vec::new();
    for case in cases() {
        let result = match &case.bundle {
            Err(e) => Err(format!("render failed: {e}")),
            Ok(_) => check(case),
        };
        if let Err(e) = result {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Both files or neither; `Some` with both texts.
fn pair(case: &Case, ours: &str, upstream: &str) -> Result<Option<(String, String)>, String> {
    match (case.ours(ours), case.upstream(upstream)) {
        (Some(a), Some(b)) => Ok(Some((a.to_string(), b))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(format!("{ours} is rendered but upstream wrote none")),
        (None, Some(_)) => Err(format!("{ours} is missing")),
    }
}

// ---------------------------------------------------------------------------------------------
// nginx

#[derive(Debug, Clone, PartialEq)]
struct Directive {
    name: String,
    args: Vec<String>,
    block: Option<Vec<Directive>>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Open,
    Close,
    End,
}

fn nginx_tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '{' | '}' | ';' => {
                chars.next();
                out.push(match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    _ => Token::End,
                });
            }
            '"' | '\'' => {
                chars.next();
                let mut word = String::new();
                loop {
                    match chars.next() {
                        None => return Err("unterminated quoted string".into()),
                        Some('\\') => match chars.next() {
                            Some(e) if e == c || e == '\\' => word.push(e),
                            Some(e) => {
                                word.push('\\');
                                word.push(e);
                            }
                            None => return Err("unterminated quoted string".into()),
                        },
                        Some(q) if q == c => break,
                        Some(other) => word.push(other),
                    }
                }
                out.push(Token::Word(word));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '{' | '}' | ';') {
                        break;
                    }
                    chars.next();
                    if c == '\\' {
                        if let Some(e) = chars.next() {
                            word.push(e);
                        }
                    } else {
                        word.push(c);
                    }
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

fn nginx_block(
    tokens: &mut std::iter::Peekable<std::vec::IntoIter<Token>>,
    nested: bool,
) -> Result<Vec<Directive>, String> {
    let mut out = Vec::new();
    loop {
        let name = match tokens.next() {
            None if nested => return Err("unclosed block".into()),
            None => return Ok(out),
            Some(Token::Close) if nested => return Ok(out),
            Some(Token::Word(w)) => w,
            Some(t) => return Err(format!("unexpected {t:?}")),
        };
        let mut args = Vec::new();
        let block = loop {
            match tokens.next() {
                Some(Token::Word(w)) => args.push(w),
                Some(Token::End) => break None,
                Some(Token::Open) => break Some(nginx_block(tokens, true)?),
                Some(Token::Close) | None => {
                    return Err(format!("directive `{name}` is not terminated"));
                }
            }
        };
        out.push(Directive { name, args, block });
    }
}

fn nginx_parse(text: &str) -> Result<Vec<Directive>, String> {
    let mut tokens = nginx_tokens(text)?.into_iter().peekable();
    nginx_block(&mut tokens, false)
}

/// The tree as indented lines, for readable differences.
fn nginx_lines(tree: &[Directive], depth: usize, out: &mut Vec<String>) {
    for d in tree {
        let mut line = format!("{}{}", "  ".repeat(depth), d.name);
        for a in &d.args {
            line.push_str(&format!(" «{a}»"));
        }
        out.push(line + if d.block.is_some() { " {" } else { ";" });
        if let Some(b) = &d.block {
            nginx_lines(b, depth + 1, out);
            out.push(format!("{}}}", "  ".repeat(depth)));
        }
    }
}

fn first_difference(ours: &[String], theirs: &[String]) -> String {
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let from = at.saturating_sub(2);
    format!(
        "first difference at line {at}\n  ours:     {:?}\n  upstream: {:?}",
        &ours[from..(at + 3).min(ours.len())],
        &theirs[from..(at + 3).min(theirs.len())]
    )
}

fn same_nginx(ours: &[Directive], theirs: &[Directive]) -> Result<(), String> {
    if ours == theirs {
        return Ok(());
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    nginx_lines(ours, 0, &mut a);
    nginx_lines(theirs, 0, &mut b);
    Err(first_difference(&a, &b))
}

fn find<'t>(tree: &'t [Directive], name: &str) -> impl Iterator<Item = &'t Directive> {
    tree.iter().filter(move |d| d.name == name)
}

/// Upstream's http proxy with our two documented changes: the listeners follow `ip_family`
/// and the metrics location is `metric.path`.
fn expected_http_proxy(mut tree: Vec<Directive>, config: &Config) -> Vec<Directive> {
    let mut listen = Vec::new();
    if config.ip_family.ipv4 {
        listen.push("8080".to_string());
    }
    if config.ip_family.ipv6 {
        listen.push("[::]:8080".to_string());
    }
    for http in tree.iter_mut().filter(|d| d.name == "http") {
        for server in http
            .block
            .iter_mut()
            .flatten()
            .filter(|d| d.name == "server")
        {
            let Some(body) = server.block.as_mut() else {
                continue;
            };
            if body
                .iter()
                .any(|d| d.name == "listen" && d.args == ["8080"])
            {
                let at = body.iter().position(|d| d.name == "listen").unwrap_or(0);
                body.retain(|d| d.name != "listen");
                for (i, port) in listen.iter().enumerate() {
                    body.insert(
                        at + i,
                        Directive {
                            name: "listen".into(),
                            args: vec![port.clone()],
                            block: None,
                        },
                    );
                }
            }
            for loc in body.iter_mut().filter(|d| d.name == "location") {
                if loc.args == ["=", "/metrics"] {
                    loc.args[1] = config.metric.path.clone();
                }
            }
        }
    }
    tree
}

#[test]
fn nginx_proxy_matches_upstream() {
    each_case(|case| {
        let Some((ours, theirs)) = pair(
            case,
            "common/config/nginx/nginx.conf",
            "config/nginx/nginx.conf",
        )?
        else {
            return Err("neither side has nginx.conf".into());
        };
        let ours = nginx_parse(&ours).map_err(|e| format!("ours does not parse: {e}"))?;
        let mut theirs = nginx_parse(&theirs).map_err(|e| format!("upstream's: {e}"))?;
        if case.config.https.is_none() {
            theirs = expected_http_proxy(theirs, &case.config);
        }
        same_nginx(&ours, &theirs)
    });
}

#[test]
fn portal_nginx_matches_upstream() {
    each_case(|case| {
        let Some((ours, theirs)) = pair(
            case,
            "common/config/portal/nginx.conf",
            "config/portal/nginx.conf",
        )?
        else {
            return Err("neither side has portal/nginx.conf".into());
        };
        let ours = nginx_parse(&ours).map_err(|e| format!("ours does not parse: {e}"))?;
        let theirs = nginx_parse(&theirs).map_err(|e| format!("upstream's: {e}"))?;
        same_nginx(&ours, &theirs)
    });
}

#[test]
fn nginx_tokenizer_sees_structure() {
    let tree = nginx_parse(
        "a 'x y' \"q\\\"z\";\n# c { ;\nb {\n  if ($v = 1) { return 404; }\n  c d#e;\n}\n",
    )
    .expect("parses");
    assert_eq!(tree.len(), 2);
    assert_eq!(tree[0].args, ["x y", "q\"z"]);
    let b = tree[1].block.as_ref().expect("block");
    assert_eq!(b[0].name, "if");
    assert_eq!(b[0].args, ["($v", "=", "1)"]);
    assert_eq!(b[1].args, ["d#e"]);
    assert!(nginx_parse("a { b;").is_err());
    assert!(nginx_parse("a b").is_err());
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

fn yaml(text: &str) -> Result<Json, String> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    serde_saphyr::from_str_with_options::<Json>(text, options).map_err(|e| e.to_string())
}

/// Where two JSON trees differ, as `path: ours != upstream` lines.
fn json_diff(path: &str, ours: &Json, theirs: &Json, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Json::Object(a), Json::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => json_diff(&p, x, y, out),
                    (Some(x), None) => out.push(format!("{p}: only ours has {x}")),
                    (None, Some(y)) => out.push(format!("{p}: only upstream has {y}")),
                    (None, None) => {}
                }
            }
        }
        (Json::Array(a), Json::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: ours {a} != upstream {b}")),
        _ => {}
    }
}

/// Every service's syslog address, by service.
fn syslog_addresses(compose: &Json) -> BTreeMap<String, Option<String>> {
    compose["services"]
        .as_object()
        .map(|services| {
            services
                .iter()
                .filter(|(_, s)| s.get("logging").is_some())
                .map(|(name, s)| {
                    let addr = s["logging"]["options"]["syslog-address"]
                        .as_str()
                        .map(str::to_string);
                    (name.clone(), addr)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn set_syslog(compose: &mut Json, from: &str, to: &str) {
    if let Some(services) = compose["services"].as_object_mut() {
        for s in services.values_mut() {
            if let Some(addr) = s.pointer_mut("/logging/options/syslog-address") {
                if addr.as_str() == Some(from) {
                    *addr = Json::String(to.to_string());
                }
            }
        }
    }
}

#[test]
fn compose_matches_upstream() {
    each_case(|case| {
        let Some((ours, theirs)) = pair(case, "docker-compose.yml", "docker-compose.yml")? else {
            return Err("neither side has docker-compose.yml".into());
        };
        let ours = yaml(&ours).map_err(|e| format!("ours does not parse: {e}"))?;
        let mut theirs = yaml(&theirs).map_err(|e| format!("upstream's: {e}"))?;

        // the one documented difference, checked on its own below
        set_syslog(&mut theirs, UPSTREAM_SYSLOG, OUR_SYSLOG);

        let mut diff = Vec::new();
        json_diff("", &ours, &theirs, &mut diff);
        if diff.is_empty() {
            Ok(())
        } else {
            Err(diff.join("\n  "))
        }
    });
}

#[test]
fn compose_logs_to_the_ipv4_loopback() {
    each_case(|case| {
        let text = case
            .ours("docker-compose.yml")
            .ok_or("no docker-compose.yml")?;
        let compose = yaml(text)?;
        let addresses = syslog_addresses(&compose);
        if addresses.len() < 7 {
            return Err(format!("only {} services log to syslog", addresses.len()));
        }
        for (service, addr) in addresses {
            if addr.as_deref() != Some(OUR_SYSLOG) {
                return Err(format!("{service} logs to {addr:?}"));
            }
        }
        let log_ports = &compose["services"]["log"]["ports"];
        if log_ports != &serde_json::json!(["127.0.0.1:1514:10514"]) {
            return Err(format!("the log service publishes {log_ports}"));
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// env files

/// `$$` becomes `$`; any other `$` would make Compose interpolate (or reject the file), so a
/// value that holds one cannot be said to read back as written.
fn compose_dollars(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
        } else if chars.next_if_eq(&'$').is_some() {
            out.push('$');
        } else {
            return Err(format!("`{s}` would be interpolated"));
        }
    }
    Ok(out)
}

/// Docker Compose v2's escapes inside double quotes (`\n`, `\t`, `\\`, `\$`, octal ...);
/// anything else keeps its backslash.
fn compose_escapes(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let simple = match chars.peek() {
            Some('a') => Some('\u{7}'),
            Some('b') => Some('\u{8}'),
            Some('f') => Some('\u{c}'),
            Some('n') => Some('\n'),
            Some('r') => Some('\r'),
            Some('t') => Some('\t'),
            Some('v') => Some('\u{b}'),
            Some('"') => Some('"'),
            Some('\\') => Some('\\'),
            _ => None,
        };
        match (simple, chars.peek()) {
            (Some(e), _) => {
                chars.next();
                out.push(e);
            }
            (None, Some('$')) => {
                chars.next();
                out.push_str("$$");
            }
            (None, Some('0')) => return Err(format!("octal escape in `{s}`")),
            _ => out.push('\\'),
        }
    }
    Ok(out)
}

/// An env file as Docker Compose v2 reads it (compose-go's dotenv rules): `#` lines are
/// comments; unquoted values end at the line or at ` #` and lose trailing blanks; quoted values
/// may span lines, `\` before the quote escapes it and otherwise stays; double-quoted values
/// then take escapes. Values that would be interpolated are errors.
fn env_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        if rest.starts_with('#') {
            rest = rest.split_once('\n').map_or("", |(_, r)| r);
            continue;
        }

        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("no `=` in `{}`", rest.lines().next().unwrap_or("")))?;
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("bad key `{key}`"));
        }
        let after = after.trim_start_matches([' ', '\t']);

        let (value, tail) = match after.chars().next() {
            Some(quote @ ('\'' | '"')) => {
                let mut value = String::new();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in after.char_indices().skip(1) {
                    if c == quote && !escaped {
                        end = Some(i);
                        break;
                    }
                    if escaped && c != quote {
                        value.push('\\');
                    }
                    if !escaped && c == '\\' {
                        escaped = true;
                        continue;
                    }
                    escaped = false;
                    value.push(c);
                }
                let end = end.ok_or_else(|| format!("{key}: unterminated quoted value"))?;
                let tail = &after[end + 1..];
                let trailing = tail.split_once('\n').map_or(tail, |(l, _)| l).trim();
                if !trailing.is_empty() && !trailing.starts_with('#') {
                    return Err(format!("{key}: text after the closing quote: `{trailing}`"));
                }
                let value = if quote == '"' {
                    compose_dollars(&compose_escapes(&value)?)?
                } else {
                    value
                };
                (value, tail)
            }
            _ => {
                let (line, tail) = after.split_once('\n').unwrap_or((after, ""));
                let line = line.split_once(" #").map_or(line, |(v, _)| v);
                (compose_dollars(line.trim_end())?, tail)
            }
        };
        if out.insert(key.to_string(), value).is_some() {
            return Err(format!("{key} is set twice"));
        }
        rest = tail;
    }
}

fn env_value(raw: &str) -> Result<String, String> {
    let map = env_map(&format!("K={raw}\n"))?;
    map.get("K").cloned().ok_or_else(|| "no value".into())
}

/// Keys whose value is a comma list in Python set order.
const UNORDERED: [&str; 1] = ["NO_PROXY"];

fn same_env(ours: &str, theirs: &str) -> Result<(), String> {
    let ours = env_map(ours).map_err(|e| format!("ours: {e}"))?;
    let theirs = env_map(theirs).map_err(|e| format!("upstream's: {e}"))?;
    let mut diff = Vec::new();
    let keys: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for k in keys {
        let (a, b) = (ours.get(k), theirs.get(k));
        let same = match (a, b) {
            (Some(a), Some(b)) if UNORDERED.contains(&k.as_str()) => {
                a.split(',').collect::<BTreeSet<_>>() == b.split(',').collect::<BTreeSet<_>>()
            }
            (a, b) => a == b,
        };
        if !same {
            diff.push(format!("{k}: ours {a:?} != upstream {b:?}"));
        }
    }
    if diff.is_empty() {
        Ok(())
    } else {
        Err(diff.join("\n  "))
    }
}

#[test]
fn trivy_adapter_env_matches_upstream() {
    each_case(|case| {
        let Some((ours, theirs)) = pair(
            case,
            "common/config/trivy-adapter/env",
            "config/trivy-adapter/env",
        )?
        else {
            return Ok(());
        };
        same_env(&ours, &theirs)
    });
    let seen = cases()
        .iter()
        .filter(|c| c.ours("common/config/trivy-adapter/env").is_some())
        .count();
    assert!(seen >= 4, "only {seen} cases run trivy");
}

#[test]
fn exporter_env_matches_upstream() {
    each_case(|case| {
        let Some((ours, theirs)) = pair(case, "common/config/exporter/env", "config/exporter/env")?
        else {
            return Ok(());
        };
        same_env(&ours, &theirs)
    });
    let seen = cases()
        .iter()
        .filter(|c| c.ours("common/config/exporter/env").is_some())
        .count();
    assert!(seen >= 2, "only {seen} cases have an exporter");
}

#[test]
fn env_reader_follows_compose() {
    assert_eq!(env_value("plain").as_deref(), Ok("plain"));
    assert_eq!(env_value("a\\b #c").as_deref(), Ok("a\\b"));
    assert_eq!(env_value("a#b").as_deref(), Ok("a#b"));
    assert_eq!(
        env_value("'a $b #c \\' \\x'").as_deref(),
        Ok("a $b #c ' \\x")
    );
    assert_eq!(
        env_value("\"a \\\"b\\\" \\\\ \\t $$c \\$d\"").as_deref(),
        Ok("a \"b\" \\ \t $c $d")
    );
    assert_eq!(env_value("'two\nlines'").as_deref(), Ok("two\nlines"));
    assert_eq!(env_value("a$$b").as_deref(), Ok("a$b"));
    assert!(env_value("a$b").is_err());
    assert!(env_value("\"${X}\"").is_err());
    assert!(env_value("'open").is_err());
    assert!(env_value("'a'b").is_err());
    let two = env_map("# c\nA='x\ny'\nB=2 # note\n").expect("parses");
    assert_eq!(two.get("A").map(String::as_str), Some("x\ny"));
    assert_eq!(two.get("B").map(String::as_str), Some("2"));
}

// ---------------------------------------------------------------------------------------------
// log configuration

fn content_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn log_confs_match_upstream() {
    each_case(|case| {
        for name in ["log/logrotate.conf", "log/rsyslog_docker.conf"] {
            let Some((ours, theirs)) = pair(
                case,
                &format!("common/config/{name}"),
                &format!("config/{name}"),
            )?
            else {
                return Err(format!("neither side has {name}"));
            };
            let (a, b) = (content_lines(&ours), content_lines(&theirs));
            if a != b {
                return Err(format!("{name}: {}", first_difference(&a, &b)));
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// configurations the reference does not cover

/// Renders a reference case's input after `edit`, with that case's host files.
fn render_edited(case: &str, with_trivy: bool, edit: impl Fn(String) -> String) -> Bundle {
    let dir = Path::new(REFERENCE).join(case);
    let text = std::fs::read_to_string(dir.join("input.harbor.yml")).expect("input is readable");
    let text = edit(text);
    let config = Config::from_yaml(&text).unwrap_or_else(|e| panic!("edited input: {e:?}\n{text}"));
    render(&config, with_trivy, &dir.join("host")).unwrap_or_else(|e| panic!("render: {e}"))
}

fn text<'b>(bundle: &'b Bundle, path: &str) -> &'b str {
    bundle
        .text(Root::Install, path)
        .unwrap_or_else(|| panic!("{path} is not rendered"))
}

fn main_server(tree: &[Directive]) -> Vec<Directive> {
    let http = find(tree, "http").next().expect("http block");
    let body = http.block.as_ref().expect("http body");
    find(body, "server")
        .next()
        .and_then(|s| s.block.clone())
        .expect("a server")
}

fn listens(server: &[Directive]) -> Vec<Vec<String>> {
    find(server, "listen").map(|d| d.args.clone()).collect()
}

#[test]
fn http_proxy_listens_per_ip_family() {
    let family = |v4: bool, v6: bool| {
        move |t: String| {
            format!("{t}\nip_family:\n  ipv4:\n    enabled: {v4}\n  ipv6:\n    enabled: {v6}\n")
        }
    };

    let both = render_edited("a-http-default", false, family(true, true));
    let tree = nginx_parse(text(&both, "common/config/nginx/nginx.conf")).expect("parses");
    assert_eq!(listens(&main_server(&tree)), [["8080"], ["[::]:8080"]]);

    let v6 = render_edited("a-http-default", false, family(false, true));
    let tree = nginx_parse(text(&v6, "common/config/nginx/nginx.conf")).expect("parses");
    assert_eq!(listens(&main_server(&tree)), [["[::]:8080"]]);
}

#[test]
fn metrics_location_follows_metric_path() {
    let bundle = render_edited("a-http-default", false, |t| {
        format!("{t}\nmetric:\n  enabled: true\n  port: 9099\n  path: /prom/x_1\n")
    });
    let tree = nginx_parse(text(&bundle, "common/config/nginx/nginx.conf")).expect("parses");
    let http = find(&tree, "http")
        .next()
        .and_then(|h| h.block.clone())
        .expect("http");
    let metrics = find(&http, "server")
        .filter_map(|s| s.block.as_ref())
        .find(|b| listens(b) == [["9090"]])
        .expect("a metrics server");
    let location = find(metrics, "location")
        .next()
        .expect("a metrics location");
    assert_eq!(location.args, ["=", "/prom/x_1"]);

    let upstreams: Vec<_> = find(&http, "upstream")
        .filter(|u| u.args[0].ends_with("_metrics"))
        .map(|u| u.block.as_ref().map(|b| b[0].args.clone()))
        .collect();
    assert_eq!(upstreams.len(), 3);
    assert!(
        upstreams
            .iter()
            .all(|a| a.as_ref().is_some_and(|a| a[0].ends_with(":9099")))
    );

    let compose = yaml(text(&bundle, "docker-compose.yml")).expect("compose parses");
    assert!(
        compose["services"]["proxy"]["ports"]
            .as_array()
            .is_some_and(|p| p.contains(&Json::String("9099:9090".into())))
    );
    assert!(compose["services"]["exporter"].is_object());
}

/// The bind mounts of a service, target to source.
fn binds(compose: &Json, service: &str) -> BTreeMap<String, String> {
    compose["services"][service]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| {
            Some((
                v["target"].as_str()?.to_string(),
                v["source"].as_str()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn gcs_keyfile_is_mounted_into_both_registry_services() {
    let bundle = render_edited("b-https", false, |t| {
        format!(
            "{t}\nstorage_service:\n  gcs:\n    bucket: b\n    keyfile: /etc/harbor/gcs/keyfile.json\n"
        )
    });
    let compose = yaml(text(&bundle, "docker-compose.yml")).expect("compose parses");
    for service in ["registry", "registryctl"] {
        assert_eq!(
            binds(&compose, service)
                .get("/etc/registry/gcs.key")
                .map(String::as_str),
            Some("/etc/harbor/gcs/keyfile.json"),
            "{service}"
        );
    }
    assert!(!binds(&compose, "core").contains_key("/etc/registry/gcs.key"));
}

/// A compose string as Compose uses it: `$$` is a literal `$`, any other `$` interpolates.
fn interpolated(value: &Json) -> String {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a string"));
    compose_dollars(s).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn user_paths_read_back_from_compose() {
    // a space or `#` ends a plain YAML scalar early, and Compose interpolates `$`
    let data = "/srv/harbor data #1 it's $HOME";
    let logs = "/var/log/harbor logs #2 $x";
    let bundle = render_edited("a-http-default", false, |t| {
        t.replace("data_volume: /data", &format!("data_volume: \"{data}\""))
            .replace(
                "location: /var/log/harbor",
                &format!("location: \"{logs}\""),
            )
    });
    let compose = yaml(text(&bundle, "docker-compose.yml")).expect("compose parses");
    let services = &compose["services"];

    assert_eq!(
        interpolated(&services["registry"]["volumes"][0]),
        format!("{data}/registry:/storage:z")
    );
    let root_crt = services["registry"]["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|m| m["target"] == "/etc/registry/root.crt"))
        .expect("the token certificate is mounted");
    assert_eq!(
        interpolated(&root_crt["source"]),
        format!("{data}/secret/registry/root.crt")
    );
    assert_eq!(
        interpolated(&services["log"]["volumes"][0]),
        format!("{logs}/:/var/log/docker/:z")
    );
    assert_eq!(
        interpolated(&services["core"]["volumes"][1]),
        format!("{data}/:/data/:z")
    );
    assert_eq!(
        interpolated(&services["redis"]["volumes"][0]),
        format!("{data}/redis:/var/lib/redis")
    );
}

#[test]
fn env_values_read_back_as_compose_sees_them() {
    let token = "gh p#1 $HOME 'q' \"d\" \\x";
    let bundle = render_edited("h-trivy-options", true, |t| {
        let line = t
            .lines()
            .find(|l| l.trim_start().starts_with("github_token:"))
            .map(str::to_string);
        let yaml_token = format!("'{}'", token.replace('\'', "''"));
        match line {
            Some(l) => {
                let indent = &l[..l.len() - l.trim_start().len()];
                t.replace(&l, &format!("{indent}github_token: {yaml_token}"))
            }
            None => t.replace(
                "trivy:\n",
                &format!("trivy:\n  github_token: {yaml_token}\n"),
            ),
        }
    });
    let env = env_map(text(&bundle, "common/config/trivy-adapter/env")).expect("env decodes");
    assert_eq!(
        env.get("SCANNER_TRIVY_GITHUB_TOKEN").map(String::as_str),
        Some(token)
    );
}

#[test]
fn exporter_env_carries_the_database_password_intact() {
    let password = "p@ss w0rd$#'\"%&*=:/\\x";
    let bundle = render_edited("g1-metric-trace-jaeger", false, |t| {
        t.replace(
            "password: root123",
            &format!("password: '{}'", password.replace('\'', "''")),
        )
    });
    let env = env_map(text(&bundle, "common/config/exporter/env")).expect("env decodes");
    assert_eq!(
        env.get("HARBOR_DATABASE_PASSWORD").map(String::as_str),
        Some(password)
    );
}

#[test]
fn rsyslog_forwarding_follows_the_external_endpoint() {
    let bundle = render_edited("j1-log-syslog", false, |t| {
        t.replace("protocol: tcp", "protocol: udp")
            .replace("host: syslog.example.test", "host: 10.1.2.3")
            .replace("port: 5140", "port: 6514")
    });
    let lines = content_lines(text(&bundle, "common/config/log/rsyslog_docker.conf"));
    let action = lines
        .iter()
        .find(|l| l.starts_with("action("))
        .expect("an action");
    assert!(action.contains("type=\"omfwd\""), "{action}");
    assert!(action.contains("Target=\"10.1.2.3\""), "{action}");
    assert!(action.contains("Port=\"6514\""), "{action}");
    assert!(action.contains("Protocol=\"udp\""), "{action}");
    assert!(!lines.iter().any(|l| l.contains("omfile")));
}
