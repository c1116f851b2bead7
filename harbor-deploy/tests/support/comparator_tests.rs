//! Tests of the comparators on v2.15.2's reference data; none of them runs the binary.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::reference::*;
use super::support::compare::{self, *};

/// A reference file of a case as text.
fn text(case: &str, path: &str) -> String {
    let file = reference_root().join(case).join(path);
    fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A reference file of a case as bytes.
fn bytes(case: &str, path: &str) -> Vec<u8> {
    let file = reference_root().join(case).join(path);
    fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The line hints of a file from its case's manifest.
fn hints_of(case: &str, path: &str) -> LineHints {
    let manifest = Manifest::load(&reference_root().join(case).join("manifest.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    manifest.entry(path).map(|e| e.hints()).unwrap_or_default()
}

/// Replaces the first occurrence of `from`, failing the test when it is absent.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not found");
    text.replacen(from, to, 1)
}

/// Asserts that some difference mentions every one of `words`.
fn assert_mentions(diffs: &Diffs, words: &[&str]) {
    assert!(
        diffs.iter().any(|d| words.iter().all(|w| d.contains(w))),
        "no difference mentions {words:?}: {diffs:#?}"
    );
}

// --- YAML ----------------------------------------------------------------------------

/// Every YAML file of every case, as (case, manifest path).
fn all_yaml() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (case, dir) in case_dirs().unwrap_or_default() {
        let Ok(manifest) = Manifest::load(&dir.join("manifest.json")) else {
            continue;
        };
        for entry in &manifest.entries {
            if compare::file_kind(&entry.path, b"") == FileKind::Yaml
                && dir.join(&entry.path).is_file()
            {
                files.push((case.clone(), entry.path.clone()));
            }
        }
    }
    files
}

#[test]
fn yaml_equal_to_itself_reemitted_as_json_and_as_yaml() {
    let files = all_yaml();
    assert!(files.len() > 50, "only {} YAML files found", files.len());
    for (case, path) in files {
        let original = text(&case, &path);
        let tree = compare::load_yaml(&original).unwrap_or_else(|e| panic!("{case}/{path}: {e}"));

        // JSON is YAML: sorted keys, flow style, every string quoted
        let json = serde_json::to_string_pretty(&tree).unwrap_or_default();
        let diffs = compare::compare_yaml(&path, &original, &json);
        assert!(
            diffs.is_empty(),
            "{case}/{path} vs its JSON form: {diffs:#?}"
        );

        let yaml = serde_saphyr::to_string(&tree).unwrap_or_default();
        let diffs = compare::compare_yaml(&path, &original, &yaml);
        assert!(
            diffs.is_empty(),
            "{case}/{path} vs its re-emitted YAML: {diffs:#?}"
        );
    }
}

#[test]
fn yaml_changed_port_is_reported() {
    let original = text("a-http-default", "config/jobservice/config.yml");
    let changed = replace_once(&original, "port: 8080", "port: 8081");
    let diffs = compare::compare_yaml("config/jobservice/config.yml", &original, &changed);
    assert_mentions(&diffs, &["port", "integer 8080", "integer 8081"]);
    assert_eq!(diffs.len(), 1, "{diffs:#?}");
}

#[test]
fn yaml_number_turned_string_is_reported() {
    let original = text("a-http-default", "config/jobservice/config.yml");
    let changed = replace_once(&original, "port: 8080", "port: \"8080\"");
    let diffs = compare::compare_yaml("config/jobservice/config.yml", &original, &changed);
    assert_mentions(&diffs, &["port", "integer 8080", "string \"8080\""]);

    let changed = replace_once(&original, "workers: 10", "workers: 10.0");
    let diffs = compare::compare_yaml("config/jobservice/config.yml", &original, &changed);
    assert_mentions(&diffs, &["worker_pool.workers", "integer 10", "float 10"]);
}

#[test]
fn yaml_null_equals_empty_string_only_where_documented() {
    let path = "config/registry/config.yml";
    let original = text("a-http-default", path);
    let quoted = replace_once(&original, "password: \n", "password: \"\"\n");
    assert!(compare::compare_yaml(path, &original, &quoted).is_empty());

    let diffs = compare::compare_yaml("config/registryctl/config.yml", &original, &quoted);
    assert_mentions(&diffs, &["redis.password", "null", "string \"\""]);

    let missing = replace_once(&original, "  password: \n", "");
    assert_mentions(
        &compare::compare_yaml(path, &original, &missing),
        &["redis.password", "missing"],
    );
}

#[test]
fn compose_networks_list_and_map_forms_are_equal() {
    let path = "docker-compose.yml";
    let original = text("a-http-default", path);
    let mut tree = compare::load_yaml(&original).unwrap_or_else(|e| panic!("{e}"));
    let core = tree
        .pointer_mut("/services/core/networks")
        .unwrap_or_else(|| panic!("no core networks"));
    assert!(
        core.is_object(),
        "core networks should be in map form upstream"
    );
    *core = serde_json::json!(["harbor"]);
    let json = serde_json::to_string(&tree).unwrap_or_default();
    assert!(compare::compare_yaml(path, &original, &json).is_empty());

    *tree
        .pointer_mut("/services/core/networks")
        .unwrap_or_else(|| panic!("gone")) = serde_json::json!(["harbor", "other"]);
    let json = serde_json::to_string(&tree).unwrap_or_default();
    assert_mentions(
        &compare::compare_yaml(path, &original, &json),
        &["services.core.networks.other", "unexpected"],
    );
}

#[test]
fn yaml_list_order_is_kept() {
    let path = "docker-compose.yml";
    let original = text("a-http-default", path);
    let swapped = replace_once(
        &original,
        "      - CHOWN\n      - DAC_OVERRIDE\n",
        "      - DAC_OVERRIDE\n      - CHOWN\n",
    );
    assert_mentions(
        &compare::compare_yaml(path, &original, &swapped),
        &["services.log.cap_add", "different order"],
    );

    let dropped = replace_once(&original, "      - DAC_OVERRIDE\n", "");
    assert_mentions(
        &compare::compare_yaml(path, &original, &dropped),
        &["services.log.cap_add[1]", "missing", "DAC_OVERRIDE"],
    );
}

#[test]
fn yaml_syntax_error_is_a_difference_not_a_panic() {
    let original = text("a-http-default", "docker-compose.yml");
    let diffs = compare::compare_yaml(
        "docker-compose.yml",
        &original,
        "services: [unclosed\n  - :",
    );
    assert_mentions(&diffs, &["does not parse as YAML"]);
}

// --- env -----------------------------------------------------------------------------

/// Replaces a value by another of the same shape (each character rotated in its class).
fn same_shape(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            'a'..='y' | 'A'..='Y' | '0'..='8' => char::from(c as u8 + 1),
            'z' => 'a',
            'Z' => 'A',
            '9' => '0',
            other => other,
        })
        .collect()
}

/// The env file with random lines given new values of the same shape, lines reversed, and
/// comments and blank lines added.
fn reshuffled_env(original: &str, hints: &LineHints) -> String {
    let mut lines: Vec<String> = original
        .lines()
        .enumerate()
        .map(|(i, line)| match line.split_once('=') {
            Some((k, v)) if hints.random.contains(&(i + 1)) => format!("{k}={}", same_shape(v)),
            Some((k, v)) if hints.order_only.contains(&(i + 1)) => {
                let mut items: Vec<&str> = v.split(',').collect();
                items.reverse();
                format!("{k}={}", items.join(","))
            }
            _ => line.to_string(),
        })
        .collect();
    lines.reverse();
    format!("# reshuffled\n\n{}\n", lines.join("\n\n"))
}

#[test]
fn env_equal_to_itself_reordered_with_new_random_values() {
    let path = "config/core/env";
    let original = text("a-http-default", path);
    let hints = hints_of("a-http-default", path);
    assert_eq!(hints.random.len(), 5, "manifest random lines of core/env");
    let shuffled = reshuffled_env(&original, &hints);
    assert_ne!(shuffled, original);
    let diffs = compare::compare_env(&original, &shuffled, compare::fallback_env_parse, &hints);
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn env_value_changes_are_reported() {
    let path = "config/core/env";
    let original = text("a-http-default", path);
    let hints = hints_of("a-http-default", path);
    let parse = compare::fallback_env_parse;

    let port = replace_once(&original, "POSTGRESQL_PORT=5432", "POSTGRESQL_PORT=5433");
    assert_mentions(
        &compare::compare_env(&original, &port, parse, &hints),
        &["POSTGRESQL_PORT", "5433"],
    );

    let secret = original
        .lines()
        .find(|l| l.starts_with("CORE_SECRET="))
        .unwrap_or_default()
        .to_string();
    let shorter = replace_once(&original, &secret, &secret[..secret.len() - 1]);
    assert_mentions(
        &compare::compare_env(&original, &shorter, parse, &hints),
        &["CORE_SECRET", "length 15"],
    );

    let dashed = replace_once(
        &original,
        &secret,
        &format!("{}-", &secret[..secret.len() - 1]),
    );
    assert_mentions(
        &compare::compare_env(&original, &dashed, parse, &hints),
        &["CORE_SECRET", "alphanumeric"],
    );

    let no_proxy = replace_once(&original, ",trivy-adapter,", ",");
    assert_mentions(
        &compare::compare_env(&original, &no_proxy, parse, &hints),
        &["NO_PROXY", "missing", "trivy-adapter"],
    );

    let removed = replace_once(&original, "READ_ONLY=false\n", "");
    assert_mentions(
        &compare::compare_env(&original, &removed, parse, &hints),
        &["READ_ONLY", "missing"],
    );

    let added = format!("{original}\nEXTRA=1\n");
    assert_mentions(
        &compare::compare_env(&original, &added, parse, &hints),
        &["EXTRA", "unexpected"],
    );
}

#[test]
fn env_duplicate_key_last_wins() {
    let path = "config/core/env";
    let original = text("a-http-default", path);
    let hints = hints_of("a-http-default", path);
    let parse = compare::fallback_env_parse;

    let overridden = format!("{original}\nLOG_LEVEL=debug\n");
    assert_mentions(
        &compare::compare_env(&original, &overridden, parse, &hints),
        &["LOG_LEVEL", "debug"],
    );

    let shadowed = format!("LOG_LEVEL=debug\n{original}");
    assert!(compare::compare_env(&original, &shadowed, parse, &hints).is_empty());
}

#[test]
fn env_order_only_lines_are_sets() {
    let path = "config/trivy-adapter/env";
    let original = text("i-proxy", path);
    let hints = hints_of("i-proxy", path);
    assert_eq!(hints.order_only.len(), 1);
    let diffs = compare::compare_env(
        &original,
        &reshuffled_env(&original, &hints),
        compare::fallback_env_parse,
        &hints,
    );
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn shared_secrets_must_stay_shared() {
    let case = "a-http-default";
    let files = [
        "config/core/env",
        "config/jobservice/env",
        "config/registryctl/env",
    ];
    let reference: BTreeMap<String, String> = files
        .iter()
        .map(|f| (f.to_string(), text(case, f)))
        .collect();
    let hints: BTreeMap<String, LineHints> = files
        .iter()
        .map(|f| (f.to_string(), hints_of(case, f)))
        .collect();
    let parse = compare::fallback_env_parse;

    // all files get the same new values: still shared
    let ours: BTreeMap<String, String> = reference
        .iter()
        .map(|(f, t)| (f.clone(), reshuffled_env(t, &hints[f])))
        .collect();
    assert!(compare::compare_shared_secrets(&reference, &ours, &hints, parse).is_empty());

    // jobservice alone gets another CORE_SECRET
    let mut broken = reference.clone();
    let job = &reference["config/jobservice/env"];
    let line = job
        .lines()
        .find(|l| l.starts_with("CORE_SECRET="))
        .unwrap_or_default();
    let secret = &line["CORE_SECRET=".len()..];
    broken.insert(
        "config/jobservice/env".into(),
        replace_once(job, secret, &same_shape(secret)),
    );
    let diffs = compare::compare_shared_secrets(&reference, &broken, &hints, parse);
    assert_mentions(
        &diffs,
        &[
            "config/jobservice/env:CORE_SECRET",
            "config/core/env:CORE_SECRET",
        ],
    );
}

// --- app.conf ------------------------------------------------------------------------

#[test]
fn app_conf_reformatted_is_equal_and_changes_are_reported() {
    let original = text("a-http-default", "config/core/app.conf");
    let reformatted = "# comment\n; other comment\nAPPNAME=\"Harbor\"\n  runmode   =   prod\nenablegzip = true\n\n[PROD]\nhttpport=8080\n";
    let diffs = compare::compare_app_conf(&original, reformatted);
    assert!(diffs.is_empty(), "{diffs:#?}");

    let port = replace_once(&original, "httpport = 8080", "httpport = 8081");
    assert_mentions(
        &compare::compare_app_conf(&original, &port),
        &["[prod] httpport", "8081"],
    );

    let moved = replace_once(&original, "enablegzip = true\n", "")
        .replace("[prod]\n", "[prod]\nenablegzip = true\n");
    let diffs = compare::compare_app_conf(&original, &moved);
    assert_mentions(&diffs, &["[default] enablegzip", "missing"]);
    assert_mentions(&diffs, &["[prod] enablegzip", "unexpected"]);

    assert_mentions(
        &compare::compare_app_conf(&original, "no equals sign"),
        &["does not parse"],
    );
}

// --- nginx ---------------------------------------------------------------------------

/// Writes a directive tree back as nginx text in another layout: one line, every argument
/// double-quoted.
fn print_nginx(directives: &[compare::Directive]) -> String {
    let quote = |w: &String| format!("\"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::new();
    for d in directives {
        let words: Vec<String> = std::iter::once(&d.name).chain(&d.args).map(quote).collect();
        out.push_str(&words.join(" "));
        match &d.block {
            Some(children) => out.push_str(&format!(" {{ {} }} ", print_nginx(children))),
            None => out.push_str("; "),
        }
    }
    out
}

/// Every nginx conf of every case, as (case, manifest path).
fn all_nginx() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for (case, dir) in case_dirs().unwrap_or_default() {
        let Ok(manifest) = Manifest::load(&dir.join("manifest.json")) else {
            continue;
        };
        for entry in &manifest.entries {
            if compare::file_kind(&entry.path, b"") == FileKind::Nginx
                && dir.join(&entry.path).is_file()
            {
                files.push((case.clone(), entry.path.clone()));
            }
        }
    }
    files
}

#[test]
fn nginx_equal_to_itself_reformatted() {
    let files = all_nginx();
    assert!(files.len() > 40, "only {} nginx files", files.len());
    for (case, path) in files {
        let original = text(&case, &path);
        let tree = compare::parse_nginx(&original).unwrap_or_else(|e| panic!("{case}/{path}: {e}"));
        let printed = print_nginx(&tree);
        // an empty file (k2: upstream crashed while rendering) has nothing to re-lay-out
        assert!(
            tree.is_empty() || printed != original,
            "{case}/{path} was not re-laid-out"
        );
        let diffs = compare::compare_nginx(&original, &printed);
        assert!(diffs.is_empty(), "{case}/{path}: {diffs:#?}");
    }
}

#[test]
fn nginx_missing_location_is_reported() {
    let original = text("b-https", "config/nginx/nginx.conf");
    let cut = replace_once(
        &original,
        "    location /v1/ {\n      return 404;\n    }\n",
        "",
    );
    let diffs = compare::compare_nginx(&original, &cut);
    assert_mentions(&diffs, &["http > server#1", "missing", "location /v1/"]);
    assert_eq!(diffs.len(), 1, "{diffs:#?}");
}

#[test]
fn nginx_swapped_locations_are_reported() {
    let original = text("b-https", "config/nginx/nginx.conf");
    let tree = compare::parse_nginx(&original).unwrap_or_else(|e| panic!("{e}"));
    let mut swapped = tree.clone();
    let server = swapped
        .iter_mut()
        .find(|d| d.name == "http")
        .and_then(|h| h.block.as_mut())
        .and_then(|b| b.iter_mut().find(|d| d.name == "server"))
        .and_then(|s| s.block.as_mut())
        .unwrap_or_else(|| panic!("no http > server"));
    let c = server
        .iter()
        .position(|d| d.args == ["/c/"])
        .unwrap_or_else(|| panic!("no /c/"));
    let api = server
        .iter()
        .position(|d| d.args == ["/api/"])
        .unwrap_or_else(|| panic!("no /api/"));
    server.swap(c, api);
    let diffs = compare::compare_nginx(&original, &print_nginx(&swapped));
    assert_mentions(&diffs, &["out of order", "location"]);
}

#[test]
fn nginx_changed_argument_and_nested_change_are_reported() {
    let original = text("b-https", "config/nginx/nginx.conf");
    let listen = replace_once(&original, "listen 8443 ssl;", "listen 8444 ssl;");
    assert_mentions(
        &compare::compare_nginx(&original, &listen),
        &["reference `listen 8443 ssl`", "ours `listen 8444 ssl`"],
    );

    let nested = replace_once(
        &original,
        "proxy_send_timeout 900;",
        "proxy_send_timeout 901;",
    );
    assert_mentions(
        &compare::compare_nginx(&original, &nested),
        &["location /v2/", "proxy_send_timeout 901"],
    );

    let comment = replace_once(
        &original,
        "proxy_send_timeout 900;",
        "proxy_send_timeout 900; # moved comment",
    );
    assert!(compare::compare_nginx(&original, &comment).is_empty());

    assert_mentions(
        &compare::compare_nginx(&original, "http { server {"),
        &["does not parse", "end of file"],
    );
    assert_mentions(
        &compare::compare_nginx(&original, "a 'b'c;"),
        &["does not parse", "after a quoted"],
    );
}

#[test]
fn nginx_tokenizer_follows_nginx_rules() {
    let tree = compare::parse_nginx("a ${x}y \"q\\\"uoted;\" 'two words';#c\nb x#y;\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tree.len(), 2);
    assert_eq!(tree[0].args, ["${x}y", "q\"uoted;", "two words"]);
    assert_eq!(tree[1].args, ["x#y"]);
}

// --- log confs -----------------------------------------------------------------------

#[test]
fn log_conf_ignores_comments_and_spacing_but_not_content() {
    for path in [
        "config/log/logrotate.conf",
        "config/log/rsyslog_docker.conf",
    ] {
        let original = text("j1-log-syslog", path);
        let spaced: String = original
            .lines()
            .map(|l| {
                format!(
                    "  {}   \n# note\n\n",
                    l.split_whitespace().collect::<Vec<_>>().join("   ")
                )
            })
            .collect();
        let diffs = compare::compare_log_conf(&original, &spaced);
        assert!(diffs.is_empty(), "{path}: {diffs:#?}");
    }

    let original = text("a-http-default", "config/log/logrotate.conf");
    let changed = replace_once(&original, "rotate 50", "rotate 5");
    let diffs = compare::compare_log_conf(&original, &changed);
    assert_mentions(&diffs, &["missing", "rotate 50"]);
    assert_mentions(&diffs, &["unexpected", "rotate 5\""]);

    let swapped = replace_once(
        &original,
        "copytruncate\n        compress",
        "compress\n        copytruncate",
    );
    assert_mentions(
        &compare::compare_log_conf(&original, &swapped),
        &["out of order"],
    );
}

// --- PEM -----------------------------------------------------------------------------

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// PEM text with the given label, wrapped at `width` columns.
fn pem(label: &str, der: &[u8], width: usize) -> String {
    let body = base64(der);
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(width)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The decoded blocks of a PEM file, with labels.
fn pem_blocks(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    x509_parser::pem::Pem::iter_from_buffer(data)
        .map(|p| p.unwrap_or_else(|e| panic!("{e}")))
        .map(|p| (p.label, p.contents))
        .collect()
}

/// DER length bytes.
fn der_length(len: usize) -> Vec<u8> {
    if len < 0x80 {
        return vec![len as u8];
    }
    let bytes: Vec<u8> = len
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|b| *b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

/// Splits DER content into (tag, content) items; only short tags, as in RSA keys.
fn der_items(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut items = Vec::new();
    while !data.is_empty() {
        let tag = data[0];
        let (len, header) = if data[1] < 0x80 {
            (usize::from(data[1]), 2)
        } else {
            let n = usize::from(data[1] & 0x7f);
            (
                data[2..2 + n]
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
                2 + n,
            )
        };
        items.push((tag, data[header..header + len].to_vec()));
        data = &data[header + len..];
    }
    items
}

/// Encodes one DER item.
fn der_item(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_length(content.len()));
    out.extend(content);
    out
}

/// A PKCS#1 key with its modulus cut to `bits` bits (structure only: not a usable key).
fn shrink_rsa_key(pkcs1: &[u8], bits: usize) -> Vec<u8> {
    let outer = der_items(pkcs1);
    let mut items = der_items(&outer[0].1);
    let modulus = &items[1].1;
    let mut cut = modulus[modulus.len() - bits / 8..].to_vec();
    cut[0] |= 0x80;
    cut.insert(0, 0);
    items[1].1 = cut;
    let content: Vec<u8> = items.iter().flat_map(|(t, c)| der_item(*t, c)).collect();
    der_item(0x30, &content)
}

#[test]
fn pem_equal_to_itself_rewrapped_and_to_another_random_run() {
    let token_key = bytes("a-http-default", "data/secret/core/private_key.pem");
    let blocks = pem_blocks(&token_key);
    let rewrapped = pem(&blocks[0].0, &blocks[0].1, 76);
    assert!(compare::compare_pem(&token_key, rewrapped.as_bytes(), true).is_empty());

    // two independent upstream runs made these: same structure, other keys
    for path in [
        "data/secret/core/private_key.pem",
        "data/secret/registry/root.crt",
    ] {
        let (a, b) = (bytes("a-http-default", path), bytes("tmpl-http", path));
        assert_ne!(a, b);
        let diffs = compare::compare_pem(&a, &b, false);
        assert!(diffs.is_empty(), "{path}: {diffs:#?}");
        assert_mentions(&compare::compare_pem(&a, &b, true), &["content differs"]);
    }
}

#[test]
fn pem_rsa_2048_and_4096_differ() {
    let token_key = bytes("a-http-default", "data/secret/core/private_key.pem");
    let blocks = pem_blocks(&token_key);
    assert_eq!(blocks[0].0, "RSA PRIVATE KEY");
    let small = pem("RSA PRIVATE KEY", &shrink_rsa_key(&blocks[0].1, 2048), 64);
    let diffs = compare::compare_pem(&token_key, small.as_bytes(), false);
    assert_mentions(&diffs, &["key bits", "4096", "2048"]);
    assert_eq!(diffs.len(), 1, "{diffs:#?}");

    // certificates: the host redis CA has a 2048-bit key, the token certificate 4096 bits
    let ca = bytes("a-http-default", "host/etc/harbor/ca/redis-ca.crt");
    let token = bytes("a-http-default", "data/secret/registry/root.crt");
    assert_mentions(
        &compare::compare_pem(&token, &ca, false),
        &["key bits", "4096", "2048"],
    );
}

#[test]
fn pem_flavour_subject_and_san_differences_are_reported() {
    let pkcs1 = bytes("a-http-default", "data/secret/core/private_key.pem");
    let pkcs8 = bytes(GENCERT_CASE, "hostfs/etc/harbor/tls/internal/core.key");
    assert_mentions(
        &compare::compare_pem(&pkcs1, &pkcs8, false),
        &["label", "RSA PRIVATE KEY", "PRIVATE KEY"],
    );

    let dir = "hostfs/etc/harbor/tls/internal";
    let core = bytes(GENCERT_CASE, &format!("{dir}/core.crt"));
    let portal = bytes(GENCERT_CASE, &format!("{dir}/portal.crt"));
    let diffs = compare::compare_pem(&core, &portal, false);
    assert_mentions(&diffs, &["subject", "CN=core", "CN=portal"]);
    assert_mentions(&diffs, &["subjectAltName value", "DNS:core", "DNS:portal"]);
    assert!(!diffs.iter().any(|d| d.contains("validity")), "{diffs:#?}");

    let ca = bytes(GENCERT_CASE, &format!("{dir}/harbor_internal_ca.crt"));
    let diffs = compare::compare_pem(&ca, &core, false);
    assert_mentions(&diffs, &["extension basicConstraints", "missing"]);

    let token = bytes("a-http-default", "data/secret/registry/root.crt");
    assert_mentions(
        &compare::compare_pem(&ca, &token, false),
        &["validity length", "31536000 s"],
    );

    let csr = bytes(GENCERT_CASE, &format!("{dir}/core.csr"));
    assert_mentions(
        &compare::compare_pem(&core, &csr, false),
        &["label", "CERTIFICATE REQUEST"],
    );
    assert!(compare::compare_pem(&csr, &csr, true).is_empty());

    assert_mentions(
        &compare::compare_pem(&core, b"not pem", false),
        &["not readable PEM"],
    );
}

#[test]
fn key_pairs_and_issuers_are_checked() {
    let dir = "hostfs/etc/harbor/tls/internal";
    let file = |name: &str| bytes(GENCERT_CASE, &format!("{dir}/{name}"));
    assert!(compare::compare_key_pair(&file("core.crt"), &file("core.key")).is_empty());
    assert!(compare::compare_key_pair(&file("core.csr"), &file("core.key")).is_empty());
    assert_mentions(
        &compare::compare_key_pair(&file("core.crt"), &file("portal.key")),
        &["does not match"],
    );

    let token = bytes("a-http-default", "data/secret/registry/root.crt");
    let token_key = bytes("a-http-default", "data/secret/core/private_key.pem");
    assert!(compare::compare_key_pair(&token, &token_key).is_empty());

    let ca = file("harbor_internal_ca.crt");
    assert!(compare::compare_issued_by(&file("core.crt"), &ca).is_empty());
    assert_mentions(&compare::compare_issued_by(&token, &ca), &["issuer"]);
}

// --- random values, htpasswd, text ---------------------------------------------------

#[test]
fn random_shapes() {
    let hash = "$2y$05$AyUU9uI7u5e8err5rg9Itu2Ilk9ZWqNP6FASwQHqtc/99ZjHN9Y9K";
    assert_eq!(
        compare::shape_difference(hash, &hash.replacen("$05$", "$10$", 1)),
        Some("bcrypt variant/cost \"$2y$10$\", reference has \"$2y$05$\"".to_string())
    );
    let other_salt = format!("$2y$05${}", same_shape(&hash[7..]));
    assert_eq!(compare::shape_difference(hash, &other_salt), None);
    assert!(compare::shape_difference(hash, &hash.replace("$2y$", "$2b$")).is_some());
    assert!(compare::shape_difference(hash, "Harbor12345").is_some());

    assert_eq!(
        compare::shape_difference("MU4XGOBZ5xB5DCyg", "abcdefghijklmnop"),
        None
    );
    assert!(compare::shape_difference("MU4XGOBZ5xB5DCyg", "abcdefghijklmno").is_some());
    assert!(compare::shape_difference("MU4XGOBZ5xB5DCyg", "abcdefghijklmno+").is_some());
    assert!(
        compare::shape_difference(
            "49D88E725F15323BE99621AFA2600E850B87ECA7",
            "49d88e725f15323be99621afa2600e850b87eca7"
        )
        .is_some()
    );
    assert_eq!(
        compare::shape_difference(
            "49D88E725F15323BE99621AFA2600E850B87ECA7",
            "0123456789ABCDEF0123456789ABCDEF01234567"
        ),
        None
    );
}

#[test]
fn htpasswd_and_text_compare_random_lines_by_shape() {
    let path = "config/registry/passwd";
    let (a, b) = (text("a-http-default", path), text("tmpl-http", path));
    let hints = hints_of("a-http-default", path);
    assert_ne!(a, b);
    assert!(compare::compare_htpasswd(&a, &b, &hints).is_empty());
    assert_mentions(
        &compare::compare_htpasswd(&a, &b.replacen("harbor_registry_user", "admin", 1), &hints),
        &["user"],
    );
    assert_mentions(
        &compare::compare_htpasswd(&a, &b, &LineHints::default()),
        &["hash differs"],
    );

    let path = "data/secret/keys/secretkey";
    let (a, b) = (text("a-http-default", path), text("tmpl-http", path));
    let hints = hints_of("a-http-default", path);
    assert!(compare::compare_text(&a, &b, &hints).is_empty());
    assert_mentions(
        &compare::compare_text(&a, &format!("{b}\n"), &hints),
        &["lines"],
    );
}

// --- trees ---------------------------------------------------------------------------

/// Writes a case's reference output into OUT/ROOT as our tool would, with manifest modes
/// (and owners when root), from `source` case's files.
fn materialize(source: &str, out: &Path, data: &Path) {
    let dir = reference_root().join(source);
    let manifest = Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
    let as_root = out.parent().is_some_and(running_as_root);
    let mut entries: Vec<&compare::Entry> = manifest.entries.iter().collect();
    entries.sort_by_key(|e| e.path.len());
    for entry in entries {
        let target = if let Some(rest) = entry.path.strip_prefix("config/") {
            out.join("common/config").join(rest)
        } else if let Some(rest) = entry.path.strip_prefix("data/") {
            data.join(rest)
        } else {
            out.join(&entry.path)
        };
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
        }
        match entry.kind {
            compare::EntryKind::Dir => {
                fs::create_dir_all(&target).unwrap_or_else(|e| panic!("{e}"))
            }
            compare::EntryKind::File => {
                fs::copy(dir.join(&entry.path), &target)
                    .unwrap_or_else(|e| panic!("{}: {e}", entry.path));
            }
        }
        let mode = entry.mode_bits().unwrap_or_else(|e| panic!("{e}"));
        if as_root {
            std::os::unix::fs::chown(&target, Some(entry.uid), Some(entry.gid))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        // directories stay writable until the end, so children can be added
        let mode = if entry.kind == compare::EntryKind::Dir {
            mode | 0o700
        } else {
            mode
        };
        fs::set_permissions(&target, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for entry in manifest
        .entries
        .iter()
        .filter(|e| e.kind == compare::EntryKind::Dir)
    {
        let rest = entry
            .path
            .split_once('/')
            .map(|(_, r)| r)
            .unwrap_or_default();
        let target = if entry.path.starts_with("config/") {
            out.join("common/config").join(rest)
        } else {
            data.join(rest)
        };
        let mode = entry.mode_bits().unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&target, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Layout and mounts of a temporary "ours" for a case.
fn temp_layout(work: &Path, manifest: &Manifest) -> Layout {
    let data_rel = manifest.data_volume.trim_start_matches('/').to_string();
    Layout {
        out: work.join("out"),
        root: work.join("root"),
        data: work.join("root").join(&data_rel),
        data_rel,
    }
}

/// Makes every directory below `path` writable again so the temp dir can be removed.
fn unlock(path: &Path) {
    for rel in list_tree(path) {
        let p = path.join(rel);
        if p.is_dir() {
            let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn every_upstream_bundle_equals_itself() {
    let mut checked = 0;
    for (case, dir) in case_dirs().unwrap_or_default() {
        let manifest = Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
        if case == GENCERT_CASE || manifest.exit_code != 0 {
            continue;
        }
        let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let layout = temp_layout(work.path(), &manifest);
        materialize(&case, &layout.out, &layout.data);
        let as_root = running_as_root(work.path());
        let mut diffs = compare::compare_tree(
            &manifest,
            &mounts(&dir, &layout),
            Content::Compare,
            as_root,
            compare::fallback_env_parse,
        );
        diffs.extend(bundle_checks(&dir, &manifest, &layout));
        unlock(work.path());
        assert!(diffs.is_empty(), "{case}: {diffs:#?}");
        checked += 1;
    }
    assert!(checked > 20, "only {checked} cases checked");
}

#[test]
fn two_upstream_runs_of_one_input_are_equivalent() {
    // a-http-default and tmpl-http have the same input; their random values all differ
    let dir = reference_root().join("a-http-default");
    let manifest = Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = temp_layout(work.path(), &manifest);
    materialize("tmpl-http", &layout.out, &layout.data);
    let as_root = running_as_root(work.path());
    let mut diffs = compare::compare_tree(
        &manifest,
        &mounts(&dir, &layout),
        Content::Compare,
        as_root,
        compare::fallback_env_parse,
    );
    diffs.extend(bundle_checks(&dir, &manifest, &layout));
    unlock(work.path());
    assert!(diffs.is_empty(), "{diffs:#?}");
}

#[test]
fn tree_reports_missing_extra_and_mode_differences() {
    let dir = reference_root().join("a-http-default");
    let manifest = Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let layout = temp_layout(work.path(), &manifest);
    materialize("a-http-default", &layout.out, &layout.data);
    unlock(work.path());

    let config = layout.out.join("common/config");
    fs::remove_file(config.join("core/app.conf")).unwrap_or_else(|e| panic!("{e}"));
    fs::write(config.join("core/extra.conf"), "x").unwrap_or_else(|e| panic!("{e}"));
    fs::set_permissions(config.join("db/env"), fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    fs::remove_dir(config.join("core/certificates")).unwrap_or_else(|e| panic!("{e}"));
    fs::write(config.join("registry/config.yml"), "version: 0.1\n")
        .unwrap_or_else(|e| panic!("{e}"));

    let diffs = compare::compare_tree(
        &manifest,
        &mounts(&dir, &layout),
        Content::Compare,
        false,
        compare::fallback_env_parse,
    );
    assert_mentions(&diffs, &["config/core/app.conf", "missing file"]);
    assert_mentions(&diffs, &["config/core/extra.conf", "unexpected"]);
    assert_mentions(&diffs, &["config/db/env", "mode 0644, reference 0640"]);
    assert_mentions(&diffs, &["config/core/certificates", "missing directory"]);
    assert_mentions(&diffs, &["config/registry/config.yml", "storage: missing"]);

    let outside = fs::create_dir_all(layout.root.join("var/log/harbor"));
    assert!(outside.is_ok());
    assert_mentions(
        &outside_writes(&BTreeSet::new(), &layout, &BTreeSet::new()),
        &["ROOT/var", "outside"],
    );
    assert!(outside_writes(&list_tree(&layout.root), &layout, &BTreeSet::new()).is_empty());
}

// --- harness helpers -----------------------------------------------------------------

#[test]
fn stderr_must_name_the_whole_key() {
    assert!(names_key(
        "error: hostname: must not be 127.0.0.1",
        "hostname"
    ));
    assert!(names_key(
        "invalid trace.jaeger and trace.otel together",
        "trace"
    ));
    assert!(names_key(
        "https.certificate: /x does not exist",
        "https.certificate"
    ));
    assert!(!names_key("error: my_hostname is bad", "hostname"));
    assert!(!names_key("see backtrace", "trace"));
    assert!(!names_key("log.levels wrong", "log.level"));
    assert!(!names_key(
        "external_endpoint.protocol",
        "log.external_endpoint.protocol"
    ));
}

#[test]
fn every_case_has_an_expectation_and_args() {
    let table = load_expectations().unwrap_or_else(|e| panic!("{e}"));
    for (case, dir) in case_dirs().unwrap_or_default() {
        let manifest = Manifest::load(&dir.join("manifest.json")).unwrap_or_else(|e| panic!("{e}"));
        if case != GENCERT_CASE {
            assert!(expectation(&case, &manifest, &table).is_ok(), "{case}");
            assert!(read_args(&dir).is_ok(), "{case}");
        }
    }
    for (case, like) in EITHER_LIKE {
        assert!(
            matches!(table.get(*case), Some(Expect::Either(_))),
            "{case} is not an either case"
        );
        assert!(
            reference_root().join(like).join("manifest.json").is_file(),
            "{like}"
        );
    }
    for (case, _) in UPSTREAM_FAILURES {
        assert!(
            !table.contains_key(*case),
            "{case} is in expect.tsv already"
        );
    }
    for (case, path, _) in HOST_MODES {
        assert!(
            reference_root()
                .join(case)
                .join("host")
                .join(path)
                .is_file(),
            "{case}/{path}"
        );
    }
}
