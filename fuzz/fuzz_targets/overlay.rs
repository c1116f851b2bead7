//! The environment overlay never panics, and a merged harbor.yml always parses: the input is
//! split into `NAME=value` lines, laid over the built-in default configuration.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    let vars: BTreeMap<String, String> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let base = harbor_prep::default_config("harbor.example.test");
    if let Ok(overlay) = harbor_prep::overlay::apply(&base, &vars) {
        assert!(
            harbor_prep::yaml::parse(&overlay.yaml).is_ok(),
            "merged harbor.yml does not parse: {vars:?}"
        );
    }
});
