//! Reads `escape::yaml_str` scalars back with PyYAML and the URL encoders with Python's urllib.
//!
//! Needs `python3` with PyYAML (`pip install pyyaml`); the tests fail when either is missing.

use std::io::Write;
use std::process::{Command, Stdio};

use harbor_prep::escape;

/// Values beyond [`escape::TRICKY`] that this reader is checked with.
const EXTRA: &[&str] = &[
    "true",
    "False",
    "ON",
    "y",
    "N",
    "Null",
    "NULL",
    ".inf",
    "-.Inf",
    ".NaN",
    "nan",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "12:30:00",
    "190:20:30",
    "2001-12-14",
    "2001-12-14t21:59:43Z",
    "+1",
    "-1",
    "1.",
    "<<",
    "-",
    "---",
    "...",
    "? x",
    "- x",
    "a: b",
    "a #b",
    "&a",
    "*a",
    "!t",
    "%x",
    "@x",
    "`x",
    ">-",
    "\u{7}\u{1b}\u{7f}\u{85}\u{2028}\u{2029}\u{feff}\u{fffe}",
    "\r\n",
    " ",
    "\"'\\",
    "/storage",
    "a-b_c.d/e",
    "/",
    "x\u{0}y",
    "%2F",
    "a b+c&d=e#f",
    "user@host:1/p?q",
];

/// Every value this test reads back.
fn values() -> Vec<&'static str> {
    escape::TRICKY.iter().chain(EXTRA).copied().collect()
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Runs a Python program with `input` on stdin and returns its stdout.
fn python(code: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to python");
    let output = child.wait_with_output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "python3 failed: {stderr}");
    String::from_utf8(output.stdout).expect("utf-8 output")
}

/// Prints, per loaded item, its Python type and its UTF-8 bytes in hex.
const PYYAML: &str = r#"
import sys, yaml
doc = sys.stdin.read()
block = yaml.safe_load(doc.split("\n---FLOW---\n")[0])
flow = yaml.safe_load(doc.split("\n---FLOW---\n")[1])
for item in list(block.values()) + flow:
    text = item if isinstance(item, str) else repr(item)
    print(type(item).__name__, text.encode("utf-8").hex())
"#;

#[test]
fn yaml_scalars_read_back_as_strings_in_pyyaml() {
    let mut block = String::new();
    let mut flow = Vec::new();
    for (i, v) in values().iter().enumerate() {
        block.push_str(&format!("k{i}: {}\n", escape::yaml_str(v)));
        flow.push(escape::yaml_str(v));
    }
    let doc = format!("{block}\n---FLOW---\n[{}]\n", flow.join(", "));

    let out = python(PYYAML, &doc);
    let got: Vec<&str> = out.lines().collect();
    let want: Vec<String> = values()
        .iter()
        .chain(values().iter())
        .map(|v| format!("str {}", hex(v)))
        .collect();
    assert_eq!(got.len(), want.len(), "{out}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let v = values()[i % values().len()];
        assert_eq!(g, w, "{v:?} written as {}", escape::yaml_str(v));
    }
}

/// Per input line (hex), prints `quote(v, safe='')`, the password urlsplit finds in a redis URL
/// built from our encoding, and the value parse_qs finds in a query built from it.
const URLLIB: &str = r#"
import sys
from urllib.parse import quote, unquote, urlsplit, parse_qs
for line in sys.stdin.read().split():
    v, user, query = (bytes.fromhex(x).decode("utf-8") for x in line.split(","))
    password = unquote(urlsplit("redis://u:" + user + "@h:1/0").password)
    found = parse_qs("a=1&k=" + query + "&z=2", keep_blank_values=True)["k"][0]
    print(quote(v, safe=""), password.encode().hex(), found.encode().hex())
"#;

#[test]
fn url_encodings_match_python_and_decode_to_the_value() {
    let input: Vec<String> = values()
        .iter()
        .map(|v| {
            let user = escape::url_userinfo(v);
            let query = escape::url_query_value(v);
            format!("{},{},{}", hex(v), hex(&user), hex(&query))
        })
        .collect();

    let out = python(URLLIB, &input.join("\n"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), values().len(), "{out}");
    for (v, line) in values().iter().zip(lines) {
        let want = format!("{} {} {}", escape::url_userinfo(v), hex(v), hex(v));
        assert_eq!(line, want, "value {v:?}");
    }
}
