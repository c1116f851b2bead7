//! Release profiles: what differs between the Harbor releases this tool renders for.

use serde::Serialize;

use crate::model::Config;

/// One supported Harbor release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    /// The release tag, such as `v2.15.2`; also the images' tag.
    pub tag: &'static str,
    /// The harbor.yml schema version its template carries (`_version`).
    pub schema: &'static str,
    /// The image repository of the `redis` service.
    pub redis_image: &'static str,
    /// core/env carries `SYNC_QUOTA=true`.
    pub sync_quota: bool,
    /// jobservice/env carries `MAX_JOB_DURATION_SECONDS`.
    pub max_job_duration_seconds: bool,
    /// core/env carries `REPLICATION_ADAPTER_WHITELIST`.
    pub replication_adapter_whitelist: bool,
    /// `PERMITTED_REGISTRY_TYPES_FOR_PROXY_CACHE` includes `quay`.
    pub proxy_cache_quay: bool,
    /// registry/config.yml carries `redis.username`.
    pub registry_redis_username: bool,
    /// trivy-adapter/env carries the trivy db repositories.
    pub trivy_db_repository: bool,
}

/// Every release this tool renders for, oldest first.
pub const RELEASES: [Release; 3] = [
    Release {
        tag: "v2.13.5",
        schema: "2.13.0",
        redis_image: "goharbor/redis-photon",
        sync_quota: true,
        max_job_duration_seconds: true,
        replication_adapter_whitelist: false,
        proxy_cache_quay: true,
        registry_redis_username: false,
        trivy_db_repository: false,
    },
    Release {
        tag: "v2.14.4",
        schema: "2.14.0",
        redis_image: "goharbor/redis-photon",
        sync_quota: true,
        max_job_duration_seconds: false,
        replication_adapter_whitelist: true,
        proxy_cache_quay: false,
        registry_redis_username: false,
        trivy_db_repository: false,
    },
    Release {
        tag: "v2.15.2",
        schema: "2.15.0",
        redis_image: "goharbor/valkey-photon",
        sync_quota: false,
        max_job_duration_seconds: false,
        replication_adapter_whitelist: true,
        proxy_cache_quay: false,
        registry_redis_username: true,
        trivy_db_repository: true,
    },
];

/// The schema versions of harbor.yml this tool reads.
pub const SCHEMA_VERSIONS: [&str; 3] = ["2.13.0", "2.14.0", "2.15.0"];

impl Release {
    /// The newest supported release.
    pub fn latest() -> &'static Release {
        &RELEASES[RELEASES.len() - 1]
    }

    /// The release named `v2.14.4`, `2.14.4`, `v2.14` or `2.14`: a minor names its newest patch.
    pub fn find(name: &str) -> Option<&'static Release> {
        let name = name.strip_prefix('v').unwrap_or(name);
        RELEASES.iter().find(|r| {
            let tag = &r.tag[1..];
            tag == name || tag.rsplit_once('.').is_some_and(|(minor, _)| minor == name)
        })
    }

    /// Where the release tagged `tag` (such as `v2.15.2`) stands among the supported ones,
    /// oldest first; None for a tag that is not one of them.
    pub fn rank(tag: &str) -> Option<usize> {
        RELEASES.iter().position(|r| r.tag == tag)
    }

    /// The names accepted by [`Release::find`], for messages.
    pub fn names() -> String {
        RELEASES
            .iter()
            .map(|r| r.tag)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The image of a Harbor component, such as `harbor-core`.
    pub fn image(&self, component: &str) -> String {
        format!("goharbor/{component}:{}", self.tag)
    }

    /// Settings this release cannot apply; they are ignored, as upstream ignores them, and
    /// the user is told.
    pub fn warnings(&self, config: &Config) -> Vec<String> {
        let mut warnings = Vec::new();
        if !self.trivy_db_repository {
            let settings = [
                (
                    "trivy.db_repository",
                    &config.trivy.db_repository,
                    "ghcr.io/aquasecurity/trivy-db",
                ),
                (
                    "trivy.java_db_repository",
                    &config.trivy.java_db_repository,
                    "ghcr.io/aquasecurity/trivy-java-db",
                ),
            ];
            for (key, value, default) in settings {
                if value != default {
                    warnings.push(format!(
                        "harbor {} has no `{key}` (it came with v2.15); the setting is ignored",
                        self.tag
                    ));
                }
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_releases_by_patch_or_minor() {
        assert_eq!(Release::find("v2.14.4").map(|r| r.tag), Some("v2.14.4"));
        assert_eq!(Release::find("2.13").map(|r| r.tag), Some("v2.13.5"));
        assert_eq!(Release::find("2.12"), None);
        assert_eq!(Release::latest().tag, "v2.15.2");
    }
}
