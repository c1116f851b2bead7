//! Every upstream v2.15.2 reference case, rendered with `--harbor-version v2.15.2` and compared with
//! what upstream's own `prepare` wrote.

mod support;

/// The release whose reference cases this binary runs.
const RELEASE: &str = "v2.15.2";

#[path = "support/reference.rs"]
mod reference;

#[test]
fn gencert_matches_upstream() {
    reference::gencert_matches_upstream();
}

#[path = "support/comparator_tests.rs"]
mod comparator_tests;
