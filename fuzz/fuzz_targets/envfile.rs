//! `envfile::parse` never panics, and `escape::env_value` round-trips: whenever it encodes a
//! value `v` as `e`, the env file `K=e` reads back as exactly `[("K", v)]`.

#![no_main]

use harbor_prep::{envfile, escape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // the input as a whole file: any result, but no panic
    let _ = envfile::parse(text);

    // the input as a value
    if let Ok(encoded) = escape::env_value(text) {
        let file = format!("K={encoded}\n");
        let read = envfile::parse(&file);
        let expected = vec![("K".to_string(), text.to_string())];
        assert_eq!(
            read,
            Ok(expected),
            "env_value({text:?}) = {encoded:?} does not read back"
        );
    }
});
