//! The harbor.cfg reader and converter never panic, and whatever they convert is a harbor.yml
//! the model reads: a conversion that produces an unreadable file is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    let _ = harbor_prep::legacy::parse(text);
    if let Ok(conversion) = harbor_prep::legacy::convert(text) {
        let (config, issues) = harbor_prep::Config::read(&conversion.yaml);
        assert!(config.is_some(), "converted harbor.cfg is not YAML: {issues:?}");
    }
});
