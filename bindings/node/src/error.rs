//! Issues and errors as JavaScript sees them.

use napi::bindgen_prelude::{Env, Error, JsObjectValue, JsValue, Status};
use napi_derive::napi;

/// One problem with a configuration.
#[napi(object)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Dotted key path, such as `https.private_key`; empty for the document itself.
    pub path: String,
    /// The line of the key or value, counted from 1, when it stands in the input.
    pub line: Option<u32>,
    /// The column, counted from 1.
    pub column: Option<u32>,
    /// A stable kebab-case code, such as `wrong-type` or `file-missing`.
    pub code: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Issue {
    /// The JavaScript form of a Rust issue; `marks` false drops line and column (for input the
    /// binding converted, whose lines are not the caller's).
    pub fn from_rust(issue: &harbor_prep::Issue, marks: bool) -> Issue {
        let mark = issue.mark.filter(|_| marks);
        Issue {
            path: issue.path.clone(),
            line: mark.map(|m| clamp(m.line)),
            column: mark.map(|m| clamp(m.column)),
            code: issue.code.as_str().to_string(),
            message: issue.message.clone(),
        }
    }
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// An argument that cannot be used (a seed of the wrong size, an unknown release): an `Error`
/// with code `InvalidArg`.
pub fn invalid_arg(message: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, message.into())
}

/// A JavaScript `Error` with `code` and, when given, an `issues` array property.
///
/// If the object cannot be built (the engine is out of memory, say), a plain error with the
/// same code and message is returned instead, so the caller never loses the message.
pub fn with_issues(env: &Env, code: &str, message: String, issues: Option<Vec<Issue>>) -> Error {
    let build = || -> napi::Result<Error> {
        let mut obj = env.create_error(Error::new(Status::GenericFailure, message.clone()))?;
        obj.set_named_property("code", code)?;
        if let Some(issues) = issues {
            obj.set_named_property("issues", issues)?;
        }
        Ok(Error::from(obj.to_unknown()))
    };
    build().unwrap_or_else(|_| Error::new(Status::GenericFailure, format!("{code}: {message}")))
}

/// The error `render` throws for a configuration that does not validate; `marks` false drops
/// lines and columns, as for [`Issue::from_rust`].
pub fn invalid_config(env: &Env, issues: Vec<harbor_prep::Issue>, marks: bool) -> Error {
    let issues: Vec<harbor_prep::Issue> = issues
        .into_iter()
        .map(|mut i| {
            i.mark = i.mark.filter(|_| marks);
            i
        })
        .collect();
    let js = issues.iter().map(|i| Issue::from_rust(i, true)).collect();
    let message = harbor_prep::Issues(issues).to_string();
    with_issues(env, "InvalidArg", message, Some(js))
}
