//! The one error type of this crate.
//!
//! Every error renders as a single line that starts with the file name, so
//! that xtask can print it as is and an editor can jump to it. We report
//! the first problem found rather than collecting them all: checks later in
//! the list often depend on earlier ones holding (a priority check needs
//! the slot's callee to exist), and a cascade of follow-on errors helps
//! nobody.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why app.toml could not be turned into a [`crate::Config`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file (or a blob it names) could not be read.
    Read {
        /// The path as we tried to open it.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Not TOML, or TOML that does not have the schema's shape: an unknown
    /// key, a wrong type, a missing required key.
    Parse {
        /// The file name used in messages.
        file: String,
        /// 1-based line and column of the offending text, when the parser
        /// knows it.
        position: Option<(usize, usize)>,
        /// Dotted path of the offending key, when known (`tasks.ping`).
        key: Option<String>,
        /// The parser's message.
        message: String,
    },
    /// Well-formed app.toml that breaks one of the rules.
    Invalid {
        /// The file name used in messages.
        file: String,
        /// Dotted path of the offending key (`tasks.ping.task-slots`).
        key: String,
        /// The rule that is broken, naming the things involved.
        message: String,
    },
}

impl ConfigError {
    /// The dotted key the error is about, if there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Read { .. } => None,
            Self::Parse { key, .. } => key.as_deref(),
            Self::Invalid { key, .. } => Some(key),
        }
    }

    /// The rule or parser message without the file and key prefix.
    pub fn message(&self) -> String {
        match self {
            Self::Read { source, .. } => source.to_string(),
            Self::Parse { message, .. } | Self::Invalid { message, .. } => {
                message.clone()
            }
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            Self::Parse {
                file,
                position,
                key,
                message,
            } => {
                write!(f, "{file}")?;
                if let Some((line, column)) = position {
                    write!(f, ":{line}:{column}")?;
                }
                if let Some(key) = key {
                    write!(f, ": {key}")?;
                }
                write!(f, ": {message}")
            }
            Self::Invalid { file, key, message } => {
                write!(f, "{file}: {key}: {message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Builds [`ConfigError::Invalid`], naming the file the key came from
/// (see [`crate::Provenance`]), so that checks need only say which key and
/// which rule.
#[derive(Clone, Copy)]
pub(crate) struct Reporter<'a> {
    pub(crate) provenance: &'a crate::Provenance,
}

impl Reporter<'_> {
    pub(crate) fn error(
        &self,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        let key = key.into();
        ConfigError::Invalid {
            file: self.provenance.file_of(&key).to_owned(),
            key,
            message: message.into(),
        }
    }
}
