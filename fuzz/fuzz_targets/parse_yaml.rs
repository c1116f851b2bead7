//! `yaml::parse` and `Config::from_yaml` on arbitrary UTF-8: neither may panic, and both
//! must agree on whether the text is YAML.

#![no_main]

use harbor_prep::{Code, Config, yaml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    let tree = yaml::parse(text);
    let config = Config::from_yaml(text);

    // from_yaml reports a syntax error exactly when the tree cannot be built
    let syntax = matches!(&config, Err(issues) if issues.iter().any(|i| i.code == Code::Syntax));
    assert_eq!(
        tree.is_err(),
        syntax,
        "yaml::parse and Config::from_yaml disagree on whether the text is valid YAML"
    );
});
