//! The idol IDL compiler: Hubris-syntax `.idol` files to client stubs and
//! server dispatch.
//!
//! An `.idol` file describes one IPC interface in RON (see [`syntax`]).
//! From it we generate:
//!
//! - a **client stub** ([`client`]): a handle type with one method per op,
//!   which packs the arguments, SENDs, and decodes the reply;
//! - **server support** ([`server`]): a trait with one method per op, and
//!   the glue `idol_runtime::dispatch` uses to check and decode each
//!   message before calling it.
//!
//! Build scripts call [`client::build_client_stub`] or
//! [`server::build_server_support`], which write into `OUT_DIR`; tools call
//! [`generate_all`] to see the code for a file.
//!
//! Compared with Hubris's idolatry, the syntax is the same (a Hubris
//! `.idol` file parses) but server death is handled without panics: see
//! [`check`] for the rules this adds and [`client`] for the behaviour.
//!
//! The generated code uses these crates by name, so a task that includes it
//! depends on them: `userlib`, `idol_runtime` (which re-exports `zerocopy`
//! for the Zerocopy encoding), and `serde` plus `hubpack` or `ssmarshal`
//! for ops that use those encodings.

pub mod check;
pub mod client;
mod common;
pub mod error;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;
pub mod server;
pub mod syntax;

pub use check::Interface;
pub use error::{IdolError, IdolWarning};
pub use server::ServerStyle;

use std::path::Path;

/// Reads, parses and checks an `.idol` file.
///
/// # Errors
///
/// If the file cannot be read, is not a well-formed interface, or breaks a
/// rule; the error names the file and, where it applies, the op.
pub fn load(path: impl AsRef<Path>) -> Result<Interface, IdolError> {
    let path = path.as_ref();
    let text =
        std::fs::read_to_string(path).map_err(|source| IdolError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    parse(&text, &file)
}

/// Parses and checks the text of an `.idol` file; `file` names it in
/// errors and generated headers.
///
/// # Errors
///
/// If the text is not a well-formed interface or breaks a rule.
pub fn parse(text: &str, file: &str) -> Result<Interface, IdolError> {
    let raw: syntax::Interface =
        text.parse().map_err(|e: ron::error::SpannedError| {
            IdolError::Parse {
                file: file.to_string(),
                line: e.span.start.line,
                column: e.span.start.col,
                message: e.code.to_string(),
            }
        })?;
    check::check(&raw, file, text)
}

/// The client stub and the server support for an `.idol` file, one after
/// the other, each under its own header; what `cargo xtask idol` prints.
///
/// # Errors
///
/// As [`load`].
pub fn generate_all(path: impl AsRef<Path>) -> Result<String, IdolError> {
    let iface = load(path)?;
    let mut out = client::generate_client_stub(&iface)?;
    out.push('\n');
    out.push_str(&server::generate_server_support(
        &iface,
        ServerStyle::InOrder,
    )?);
    Ok(out)
}

/// Passes an interface's warnings to cargo, from a build script.
fn warn_cargo(iface: &Interface) {
    for w in &iface.warnings {
        println!("cargo::warning={w}");
    }
}

/// Writes generated code to `$OUT_DIR/name`.
fn write_to_out_dir(name: &str, code: &str) -> Result<(), IdolError> {
    let dir = std::env::var_os("OUT_DIR").ok_or(IdolError::NoOutDir)?;
    let path = Path::new(&dir).join(name);
    std::fs::write(&path, code).map_err(|source| IdolError::Io { path, source })
}
