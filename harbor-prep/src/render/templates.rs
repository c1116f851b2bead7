//! The templates, compiled into the library, and the filters that escape values for each format.
//!
//! Every value that comes from the user or from a secret passes through the filter of the
//! format it lands in: `env` for env files, `yaml` for YAML scalars, `nginx` for nginx
//! arguments and `rsyslog` for RainerScript strings. A template that forgets one is caught by
//! the round-trip tests.

use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior, Value};

use crate::escape;

/// Template name and source, relative to `harbor-prep/templates/`.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name, ".j2")))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "core/app.conf",
    "core/env",
    "db/env",
    "docker-compose.yml",
    "exporter/env",
    "jobservice/config.yml",
    "jobservice/env",
    "log/logrotate.conf",
    "log/rsyslog_docker.conf",
    "nginx/nginx.http.conf",
    "nginx/nginx.https.conf",
    "portal/nginx.conf",
    "registry/config.yml",
    "registryctl/config.yml",
    "registryctl/env",
    "trivy-adapter/env",
    "trace.env",
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // every format escapes by its own filter; nothing is HTML
        env.set_auto_escape_callback(|_| AutoEscape::None);
        if let Ok(syntax) = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        env.add_filter("env", env_filter);
        env.add_filter("yaml", yaml_filter);
        env.add_filter("nginx", nginx_filter);
        env.add_filter("rsyslog", rsyslog_filter);
        for (name, source) in TEMPLATES {
            // the sources are compiled in and covered by tests, so a syntax error cannot reach
            // a user; it is still reported rather than unwrapped
            if let Err(e) = env.add_template(name, source) {
                env.add_global(format!("broken_template_{name}"), e.to_string());
            }
        }
        env
    })
}

/// Renders template `name` with `context`.
pub(crate) fn render(name: &str, context: &serde_json::Value) -> Result<String, Error> {
    let env = environment();
    let template = env.get_template(name)?;
    template.render(Value::from(Serde(context)))
}

fn text(value: &Value) -> String {
    match value.as_str() {
        Some(s) => s.to_string(),
        None if value.is_none() || value.is_undefined() => String::new(),
        None => value.to_string(),
    }
}

fn env_filter(value: Value) -> Result<String, Error> {
    escape::env_value(&text(&value))
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

fn yaml_filter(value: Value) -> String {
    escape::yaml_str(&text(&value))
}

fn nginx_filter(value: Value) -> Result<String, Error> {
    escape::nginx_str(&text(&value))
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
}

fn rsyslog_filter(value: Value) -> String {
    escape::rsyslog_str(&text(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let env = environment();
        for (name, _) in TEMPLATES {
            assert!(
                env.get_template(name).is_ok(),
                "template {name} does not compile"
            );
        }
    }
}
