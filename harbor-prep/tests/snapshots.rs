//! Golden files: every rendered text file of the inputs in `tests/inputs/`, and the issue list
//! of each `err_*.yml`, so that a change of output or wording is reviewed like code.

mod support;

use std::fs;
use std::path::Path;

use harbor_prep::{Release, Root};
use support::{keyed_state, render_text};

fn input(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/inputs")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every text file of a bundle but the generated keys, each under a header with its mode and
/// owner.
fn listing(bundle: &harbor_prep::Bundle) -> String {
    let mut out = String::new();
    for entry in &bundle.entries {
        let root = match entry.root {
            Root::Install => "install",
            Root::Data => "data",
        };
        let head = format!(
            "--- {root}:{} {:04o} {}:{}",
            entry.path, entry.mode, entry.uid, entry.gid
        );
        match &entry.contents {
            None => out.push_str(&format!("{head} (dir)\n")),
            Some(_) if entry.path.ends_with(".pem") || entry.path.ends_with(".crt") => {
                out.push_str(&format!("{head} (pem)\n"))
            }
            Some(bytes) => {
                out.push_str(&head);
                out.push('\n');
                out.push_str(&String::from_utf8_lossy(bytes));
                if !bytes.ends_with(b"\n") {
                    out.push_str("\n(no final newline)\n");
                }
            }
        }
    }
    out
}

#[test]
fn default_config_renders_as_before() {
    let text = harbor_prep::default_config("harbor.example.test");
    let bundle = render_text(&text, false, &keyed_state()).unwrap();
    insta::assert_snapshot!("default", listing(&bundle));
}

#[test]
fn default_config_with_trivy_renders_as_before() {
    let text = harbor_prep::default_config("harbor.example.test");
    let bundle = render_text(&text, true, &keyed_state()).unwrap();
    insta::assert_snapshot!("default-trivy", listing(&bundle));
}

#[test]
fn full_config_renders_as_before() {
    let bundle = render_text(&input("full.yml"), true, &keyed_state()).unwrap();
    insta::assert_snapshot!("full", listing(&bundle));
}

fn issue_listing(text: &str) -> String {
    let files = harbor_prep::HostFiles::new();
    let issues = harbor_prep::check(text, &files, support::NOW, false, Release::latest());
    assert!(!issues.is_empty(), "the input is meant to fail");
    issues
        .iter()
        .map(|i| format!("{} [{}]", i, i.code))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_mistake_is_reported_at_once() {
    insta::assert_snapshot!("err_many", issue_listing(&input("err_many.yml")));
}

#[test]
fn syntax_errors_have_a_place() {
    insta::assert_snapshot!("err_syntax", issue_listing(&input("err_syntax.yml")));
}

#[test]
fn semantic_rules_are_reported() {
    insta::assert_snapshot!("err_semantic", issue_listing(&input("err_semantic.yml")));
}
