//! Problems found in a configuration, each tied to its key and place.

use std::fmt;

use serde::Serialize;

use crate::yaml::Mark;

/// One problem with the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Dotted key path, such as `https.private_key`; empty for the document itself.
    pub path: String,
    /// Where in the input the key or value stands, when it stands anywhere.
    pub mark: Option<Mark>,
    /// A stable code for programs.
    pub code: Code,
    /// What is wrong and what is allowed, in lower case.
    pub message: String,
}

impl Issue {
    /// A new issue.
    pub fn new(path: impl Into<String>, mark: Option<Mark>, code: Code, message: String) -> Issue {
        Issue {
            path: path.into(),
            mark,
            code,
            message,
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(mark) = self.mark {
            write!(f, "{mark}: ")?;
        }
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// What kind of problem an [`Issue`] is. The names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Code {
    /// A certificate or key that cannot serve (mismatch, expired, wrong host).
    Certificate,
    /// Two settings that cannot hold together.
    Conflict,
    /// A value that cannot be written safely into the file format it lands in.
    Encoding,
    /// A file the configuration names is missing or unreadable.
    FileMissing,
    /// A value of the right type but not an allowed one.
    InvalidValue,
    /// A required key is absent.
    Missing,
    /// A required value is null (for example an unquoted `#` started a comment).
    Null,
    /// A number outside its range.
    OutOfRange,
    /// A template placeholder that was never replaced.
    Placeholder,
    /// Two listeners on one port.
    PortCollision,
    /// The schema version is not one this release reads.
    SchemaVersion,
    /// The YAML itself could not be read.
    Syntax,
    /// A key this release of Harbor does not have.
    UnknownKey,
    /// A value of the wrong type.
    WrongType,
}

impl Code {
    /// The stable kebab-case name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Certificate => "certificate",
            Code::Conflict => "conflict",
            Code::Encoding => "encoding",
            Code::FileMissing => "file-missing",
            Code::InvalidValue => "invalid-value",
            Code::Missing => "missing",
            Code::Null => "null",
            Code::OutOfRange => "out-of-range",
            Code::Placeholder => "placeholder",
            Code::PortCollision => "port-collision",
            Code::SchemaVersion => "schema-version",
            Code::Syntax => "syntax",
            Code::UnknownKey => "unknown-key",
            Code::WrongType => "wrong-type",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every problem found in one input; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s) in the configuration, first: {}", .0.len(), first(.0))]
pub struct Issues(pub Vec<Issue>);

fn first(issues: &[Issue]) -> String {
    issues.first().map(Issue::to_string).unwrap_or_default()
}

/// The closest of `candidates` to `name`, when one is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys_only() {
        let keys = ["disable", "enabled", "hostname"];
        assert_eq!(did_you_mean("disabled", &keys), Some("disable"));
        assert_eq!(did_you_mean("hostnme", &keys), Some("hostname"));
        assert_eq!(did_you_mean("zzzzzz", &keys), None);
    }

    #[test]
    fn display_has_place_path_and_message() {
        let issue = Issue::new(
            "http.port",
            Some(Mark { line: 3, column: 9 }),
            Code::OutOfRange,
            "port 0 is not a valid tcp port".into(),
        );
        assert_eq!(
            issue.to_string(),
            "3:9: http.port: port 0 is not a valid tcp port"
        );
    }
}
