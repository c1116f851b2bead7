//! The one error type of the library: a kind a program can match on, the message the command
//! line prints, and for a configuration that does not validate, every issue.

use std::fmt;

use harbor_prep::Issue;

/// What went wrong, coarsely, for programs that react differently to each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The configuration does not validate; [`Error::issues`] lists every problem.
    InvalidConfig,
    /// A flag, option or file given is unusable (a bad `--now`, an unreadable seed, a
    /// `--images` map naming an unknown service).
    InvalidInput,
    /// No Docker engine answers at the address the client uses.
    EngineUnreachable,
    /// An image the bundle needs is not on the engine.
    ImageMissing,
    /// A host port a container publishes is taken.
    PortInUse,
    /// A container or network with a name the bundle needs belongs to someone else.
    NameConflict,
    /// A container exited, crash-loops or reports itself unhealthy.
    ContainerFailed,
    /// A container was still not healthy when the timeout ran out.
    HealthTimeout,
    /// Reading or writing a file failed.
    Io,
    /// The engine refused or failed a request.
    Engine,
    /// The caller asked `up` to stop (see `UpOptions::cancel`); a later `up` carries on.
    Interrupted,
    /// Anything else; the message says what.
    Other,
}

impl ErrorKind {
    /// A stable upper-case name, for bindings and scripts.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidConfig => "INVALID_CONFIG",
            ErrorKind::InvalidInput => "INVALID_INPUT",
            ErrorKind::EngineUnreachable => "ENGINE_UNREACHABLE",
            ErrorKind::ImageMissing => "IMAGE_MISSING",
            ErrorKind::PortInUse => "PORT_IN_USE",
            ErrorKind::NameConflict => "NAME_CONFLICT",
            ErrorKind::ContainerFailed => "CONTAINER_FAILED",
            ErrorKind::HealthTimeout => "HEALTH_TIMEOUT",
            ErrorKind::Io => "IO",
            ErrorKind::Engine => "ENGINE",
            ErrorKind::Interrupted => "INTERRUPTED",
            ErrorKind::Other => "OTHER",
        }
    }

    /// The exit code of the command line: 2 for what the user gave, 1 for the rest.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::InvalidConfig | ErrorKind::InvalidInput => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An error of any operation of this crate. Its message is the one the command line prints;
/// it never holds a secret's value.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    issues: Vec<Issue>,
}

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            issues: Vec::new(),
        }
    }

    /// A configuration that does not validate: `issues` as they are, and a message listing
    /// them as `name:line:col: key: message [code]`.
    pub fn invalid(name: &str, notes: &[String], issues: Vec<Issue>) -> Error {
        let mut lines: Vec<String> = notes.to_vec();
        lines.extend(issues.iter().map(|i| format_issue(name, i)));
        lines.push(format!(
            "{} problem(s) found; nothing was written",
            issues.len()
        ));
        Error {
            kind: ErrorKind::InvalidConfig,
            message: lines.join("\n"),
            issues,
        }
    }

    /// What went wrong, coarsely.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Every problem of a configuration that does not validate; empty for other kinds.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The message, as the command line prints it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Converts an internal error: a typed [`Error`] anywhere in the chain gives the kind and
    /// issues, an [`InputError`] makes it [`ErrorKind::InvalidInput`], an I/O error
    /// [`ErrorKind::Io`], and the message is the whole chain.
    pub(crate) fn from_chain(e: anyhow::Error) -> Error {
        if let Some(typed) = e.downcast_ref::<Error>() {
            // context added on top of a typed error adds to its message, keeps its kind
            let message = if e.chain().count() > 1 {
                format!("{e:#}")
            } else {
                typed.message.clone()
            };
            return Error {
                kind: typed.kind,
                message,
                issues: typed.issues.clone(),
            };
        }
        let kind = if e.downcast_ref::<InputError>().is_some() {
            ErrorKind::InvalidInput
        } else if e
            .chain()
            .any(|c| c.downcast_ref::<std::io::Error>().is_some())
        {
            ErrorKind::Io
        } else if e
            .chain()
            .any(|c| c.downcast_ref::<bollard::errors::Error>().is_some())
        {
            ErrorKind::Engine
        } else {
            ErrorKind::Other
        };
        Error::new(kind, format!("{e:#}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Runs a step written with `anyhow` and gives its error this crate's type.
pub(crate) fn typed<T>(r: anyhow::Result<T>) -> Result<T, Error> {
    r.map_err(Error::from_chain)
}

/// One issue as `name:line:col: key: message [code]`, the way compilers report.
pub fn format_issue(name: &str, issue: &Issue) -> String {
    let place = match issue.mark {
        Some(m) => format!("{name}:{}:{}", m.line, m.column),
        None => name.to_string(),
    };
    let key = if issue.path.is_empty() {
        String::new()
    } else {
        format!(" {}:", issue.path)
    };
    format!("{place}:{key} {} [{}]", issue.message, issue.code)
}

/// A problem with what the user gave (a flag, a file's contents), as opposed to the machine.
#[derive(Debug)]
pub struct InputError(String);

impl InputError {
    /// An input error with its message.
    pub fn new(message: impl Into<String>) -> InputError {
        InputError(message.into())
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}
