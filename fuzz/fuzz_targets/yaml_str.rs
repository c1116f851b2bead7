//! `escape::yaml_str` round-trips: `k: <yaml_str(v)>` parses to a one-key mapping whose value
//! is the scalar `v`, quoted, or plain only when no YAML resolver reads it as a non-string.

#![no_main]

use harbor_prep::escape::yaml_str;
use harbor_prep::yaml::{self, Kind, Style};
use libfuzzer_sys::fuzz_target;

/// Whether a plain scalar could be read as something other than a string by a YAML 1.1 or 1.2
/// resolver: null, a boolean, or a number (checked loosely: any plain scalar starting like a
/// number counts).
fn plain_is_not_a_string(s: &str) -> bool {
    const WORDS: [&str; 16] = [
        "", "~", "null", "y", "n", "yes", "no", "true", "false", "on", "off", ".nan", ".inf",
        "+.inf", "-.inf", "<<",
    ];
    let lower = s.to_ascii_lowercase();
    let numeric_start = s
        .trim_start_matches(['+', '-', '.'])
        .starts_with(|c: char| c.is_ascii_digit());
    WORDS.contains(&lower.as_str()) || numeric_start
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = std::str::from_utf8(data) else {
        return;
    };

    let encoded = yaml_str(v);
    assert!(
        !encoded.contains(['\n', '\r']),
        "yaml_str({v:?}) = {encoded:?} spans lines"
    );

    let doc = format!("k: {encoded}\n");
    let tree = match yaml::parse(&doc) {
        Ok(t) => t,
        Err(e) => panic!(
            "yaml_str({v:?}) = {encoded:?} does not parse: {}: {}",
            e.mark, e.message
        ),
    };

    let entries = tree.entries();
    assert_eq!(
        entries.len(),
        1,
        "yaml_str({v:?}) = {encoded:?} gives {tree:?}"
    );
    assert_eq!(
        entries[0].0.name, "k",
        "yaml_str({v:?}) = {encoded:?} gives {tree:?}"
    );

    match &entries[0].1.kind {
        Kind::Scalar(s, style) => {
            assert_eq!(s, v, "yaml_str({v:?}) = {encoded:?} reads back differently");
            if *style == Style::Plain {
                assert!(
                    !plain_is_not_a_string(s),
                    "yaml_str({v:?}) = {encoded:?} is plain but resolves to a non-string"
                );
            }
        }
        other => panic!("yaml_str({v:?}) = {encoded:?} reads back as {other:?}"),
    }
});
