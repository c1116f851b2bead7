//! Secrets and keys a previous render left behind, reused so that a re-render rotates nothing.

use std::collections::BTreeMap;

use crate::issue::{Code, Issue};
use crate::model::Secret;
use crate::pki::{self, CertProblem};

/// The names of the persisted artefacts.
pub mod keys {
    /// `secret/keys/secretkey`: the 16-byte key core encrypts stored passwords with.
    pub const SECRETKEY: &str = "secretkey";
    /// core's shared secret (core/env `CORE_SECRET`).
    pub const CORE_SECRET: &str = "core_secret";
    /// jobservice's shared secret (`JOBSERVICE_SECRET`).
    pub const JOBSERVICE_SECRET: &str = "jobservice_secret";
    /// The registry's basic-auth password (`REGISTRY_CREDENTIAL_PASSWORD`).
    pub const REGISTRY_PASSWORD: &str = "registry_password";
    /// core's CSRF key (`CSRF_KEY`).
    pub const CSRF_KEY: &str = "csrf_key";
    /// The scanner robot's name prefix (`ROBOT_SCANNER_NAME_PREFIX`).
    pub const ROBOT_PREFIX: &str = "robot_prefix";
    /// `secret/core/private_key.pem`: the token signing key.
    pub const TOKEN_KEY: &str = "token_key";
    /// `secret/registry/root.crt`: the token signing certificate.
    pub const TOKEN_CERT: &str = "token_cert";

    /// Every name, in a stable order.
    pub const ALL: [&str; 8] = [
        SECRETKEY,
        CORE_SECRET,
        JOBSERVICE_SECRET,
        REGISTRY_PASSWORD,
        CSRF_KEY,
        ROBOT_PREFIX,
        TOKEN_KEY,
        TOKEN_CERT,
    ];
}

/// The generated strings and the core/env variable each one is persisted in.
const ENV_SECRETS: [(&str, &str); 5] = [
    (keys::CORE_SECRET, "CORE_SECRET"),
    (keys::JOBSERVICE_SECRET, "JOBSERVICE_SECRET"),
    (keys::REGISTRY_PASSWORD, "REGISTRY_CREDENTIAL_PASSWORD"),
    (keys::CSRF_KEY, "CSRF_KEY"),
    (keys::ROBOT_PREFIX, "ROBOT_SCANNER_NAME_PREFIX"),
];

/// Persisted secrets by name (see [`keys`]). Empty for a first render.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    values: BTreeMap<String, Secret>,
}

impl State {
    /// An empty state.
    pub fn new() -> State {
        State::default()
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.values.get(name)
    }

    /// Sets `name`; unknown names are kept too, so nothing a caller persisted is lost.
    pub fn set(&mut self, name: impl Into<String>, value: Secret) {
        self.values.insert(name.into(), value);
    }

    /// The names that are none of [`keys::ALL`], in order.
    pub fn unknown(&self) -> impl Iterator<Item = &str> {
        self.values
            .keys()
            .map(String::as_str)
            .filter(|k| !keys::ALL.contains(k))
    }

    /// All values, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Problems with persisted values that must stop a render before anything is written.
    pub fn check(&self) -> Vec<Issue> {
        let mut issues = Vec::new();

        // the generated strings land in env files and the registry's config; a blank one
        // would leave a service without its secret
        for (name, var) in ENV_SECRETS {
            let Some(value) = self.get(name) else {
                continue;
            };
            let value = value.expose();
            let why = if value.is_empty() {
                "is empty"
            } else if name == keys::CSRF_KEY && value.len() != 32 {
                "is not 32 bytes long (core would replace it by a random key at every start, \
                 which ends every session)"
            } else if value.chars().any(char::is_control) {
                "holds a line break or another control character"
            } else {
                continue;
            };
            issues.push(Issue::new(
                name,
                None,
                Code::InvalidValue,
                format!(
                    "the persisted `{name}` ({var} in common/config/core/env) {why}, which no \
                     generated secret does; restore the earlier value, or leave it out to have \
                     one derived from the seed"
                ),
            ));
        }

        if let Some(key) = self.get(keys::SECRETKEY) {
            if key.expose().len() != 16 {
                issues.push(Issue::new(
                    "secret/keys/secretkey",
                    None,
                    Code::InvalidValue,
                    format!(
                        "the existing secret key holds {} bytes but Harbor needs exactly 16; \
                         it encrypts stored passwords, so restore the original file rather \
                         than replace it",
                        key.expose().len()
                    ),
                ));
            }
        }
        let pem_checks = [
            (
                keys::TOKEN_KEY,
                "secret/core/private_key.pem",
                "PRIVATE KEY-----",
            ),
            (
                keys::TOKEN_CERT,
                "secret/registry/root.crt",
                "BEGIN CERTIFICATE-----",
            ),
        ];
        let mut pems_ok = true;
        for (name, path, marker) in pem_checks {
            if let Some(pem) = self.get(name) {
                if !pem.expose().contains(marker) {
                    pems_ok = false;
                    issues.push(Issue::new(
                        path,
                        None,
                        Code::InvalidValue,
                        format!("the existing `{path}` is not a PEM file; restore it or remove it to create a new one"),
                    ));
                }
            }
        }

        // core signs its tokens with it: a key it cannot read stops core at its first token
        if pems_ok
            && let Some(key) = self.get(keys::TOKEN_KEY)
            && let Err(why) = pki::check_rsa_key(key.expose().as_bytes())
        {
            pems_ok = false;
            issues.push(Issue::new(
                "secret/core/private_key.pem",
                None,
                Code::Certificate,
                format!(
                    "the existing `secret/core/private_key.pem` is not a readable RSA private \
                     key ({why}); restore it, or remove it and `secret/registry/root.crt` to \
                     have a new pair made"
                ),
            ));
        }

        // the registry checks core's tokens with root.crt, so it must hold the key's public half
        if let (true, Some(key), Some(cert)) = (
            pems_ok,
            self.get(keys::TOKEN_KEY),
            self.get(keys::TOKEN_CERT),
        ) {
            let problems =
                pki::check_server_cert(cert.expose().as_bytes(), key.expose().as_bytes(), "", 0);
            if problems.contains(&CertProblem::KeyMismatch) {
                issues.push(Issue::new(
                    "secret/registry/root.crt",
                    None,
                    Code::Certificate,
                    "the existing `secret/registry/root.crt` was not made for \
                     `secret/core/private_key.pem`, so the registry would refuse every token \
                     core signs; remove root.crt and a new one is made for the key"
                        .into(),
                ));
            }
        }
        issues
    }
}
