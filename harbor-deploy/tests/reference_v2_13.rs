//! Every upstream v2.13.5 reference case, rendered with `--harbor-version v2.13.5` and compared with
//! what upstream's own `prepare` wrote.

mod support;

/// The release whose reference cases this binary runs.
const RELEASE: &str = "v2.13.5";

#[path = "support/reference.rs"]
mod reference;
