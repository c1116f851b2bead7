//! `check` on arbitrary text, for every release and with and without Trivy: it may report
//! anything but must not panic, and it must return the same issues when asked twice.

#![no_main]

use harbor_prep::RELEASES;
use harbor_prep_fuzz::{NOW, host_files};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let files = host_files();

    for release in &RELEASES {
        for with_trivy in [false, true] {
            let issues = harbor_prep::check(text, files, NOW, with_trivy, release);

            for issue in &issues {
                // the text of every issue must be printable without panicking
                let _ = issue.to_string();
            }

            if release == harbor_prep::Release::latest() && with_trivy {
                let again = harbor_prep::check(text, files, NOW, with_trivy, release);
                assert_eq!(
                    issues, again,
                    "check gave different issues for the same input"
                );
            }
        }
    }
});
