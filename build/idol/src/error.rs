//! What can go wrong turning an `.idol` file into code.

use std::path::PathBuf;

/// Why an `.idol` file could not be compiled. Every variant names the file,
/// and those about one operation name it too, so a build script failure
/// says where to look without further digging.
#[derive(Debug, thiserror::Error)]
pub enum IdolError {
    /// The file could not be read, or the generated code not written.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The text is not a well-formed interface (RON syntax, unknown field or
    /// variant, duplicate name, ...).
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        /// The `.idol` file.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser objected to.
        message: String,
    },
    /// The interface as a whole breaks a rule.
    #[error("{file}: interface `{interface}`: {problem}")]
    Interface {
        /// The `.idol` file.
        file: String,
        /// The interface's name as written.
        interface: String,
        /// The rule it breaks.
        problem: String,
    },
    /// One operation breaks a rule.
    #[error("{file}: op `{interface}.{op}`: {problem}")]
    Op {
        /// The `.idol` file.
        file: String,
        /// The interface's name.
        interface: String,
        /// The op's name as written.
        op: String,
        /// The rule it breaks.
        problem: String,
    },
    /// The generator produced tokens that do not parse: a bug in idol, not
    /// in the `.idol` file.
    #[error("{file}: idol generated invalid Rust (a bug in idol): {message}")]
    Generated {
        /// The `.idol` file being compiled.
        file: String,
        /// What syn said.
        message: String,
    },
    /// A build-script helper ran outside a build script.
    #[error("OUT_DIR is not set: call this from a build script")]
    NoOutDir,
}

/// Something legal but worth a second look in an `.idol` file; a build
/// script passes it to cargo (`cargo::warning=`), `cargo xtask idol`
/// prints it.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{file}: op `{interface}.{op}`: {message}")]
pub struct IdolWarning {
    /// The `.idol` file.
    pub file: String,
    /// The interface's name.
    pub interface: String,
    /// The op's name.
    pub op: String,
    /// What is worth a look, and what to do about it.
    pub message: String,
}
