//! Every upstream v2.14.4 reference case, rendered with `--harbor-version v2.14.4` and compared with
//! what upstream's own `prepare` wrote.

mod support;

/// The release whose reference cases this binary runs.
const RELEASE: &str = "v2.14.4";

#[path = "support/reference.rs"]
mod reference;
