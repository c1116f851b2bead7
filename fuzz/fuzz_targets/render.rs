//! Parse, validate and render arbitrary text with a fixed state (no key generation), with and
//! without Trivy. A render that succeeds must produce files their readers accept: every YAML
//! file parses with `yaml::parse`, every env file with `envfile::parse`.

#![no_main]

use harbor_prep::{Config, Inputs, Release, Seed, envfile, yaml};
use harbor_prep_fuzz::{NOW, SEED, host_files, is_env, is_yaml, report, state};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_yaml(text) else {
        return;
    };

    let seed = Seed::from_bytes(SEED);
    for with_trivy in [false, true] {
        let inputs = Inputs {
            config: &config,
            seed: &seed,
            now: NOW,
            state: state(),
            files: host_files(),
            with_trivy,
            release: Release::latest(),
        };

        // render validates first; rejected configurations are fine, panics are not
        let bundle = match harbor_prep::render(&inputs) {
            Ok(b) => b,
            Err(issues) => {
                if report() {
                    eprintln!("render: rejected (with_trivy={with_trivy}): {issues}");
                }
                continue;
            }
        };
        if report() {
            eprintln!(
                "render: {} entries (with_trivy={with_trivy})",
                bundle.entries.len()
            );
        }

        for entry in &bundle.entries {
            let Some(contents) = &entry.contents else {
                continue;
            };
            let path = &entry.path;
            if !is_yaml(path) && !is_env(path) {
                continue;
            }

            let Ok(file) = std::str::from_utf8(contents) else {
                panic!("rendered {path} is not UTF-8 (with_trivy={with_trivy})");
            };
            if is_yaml(path) {
                if let Err(e) = yaml::parse(file) {
                    panic!(
                        "rendered {path} is not valid YAML at {}: {} (with_trivy={with_trivy})\n{file}",
                        e.mark, e.message
                    );
                }
            } else if let Err(e) = envfile::parse(file) {
                panic!(
                    "rendered {path} is not a valid env file: {e} (with_trivy={with_trivy})\n{file}"
                );
            }
        }
    }
});
