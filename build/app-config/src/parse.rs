//! Text to [`RawConfig`], with errors made into one line.
//!
//! The files of an `inherit` chain are parsed and merged (see
//! [`crate::inherit`]) into one TOML document whose values keep the byte
//! spans they had in their own file; we deserialize [`RawConfig`] from
//! that. An error then has a span, and the dotted key that
//! `serde_path_to_error` tracks (toml knows the key but does not expose
//! it) says which file the value came from, so the message names that
//! file, the line and column in it, and the key.
//!
//! toml's own `Display` for an error is a multi-line snippet with a caret,
//! which is pleasant in a terminal but not what a build log or an editor's
//! error list wants; we keep its message and make it one line.

use serde::Deserialize;

use crate::error::ConfigError;
use crate::inherit::{self, Provenance, Source};
use crate::raw::RawConfig;

/// What parsing a chain of files gives.
pub(crate) struct Parsed {
    pub raw: RawConfig,
    /// The merged document, for `cargo xtask print`.
    pub resolved: toml::Table,
    pub provenance: Provenance,
}

/// Reads the chain `top` starts, merges it and deserializes the result.
pub(crate) fn parse_chain(top: Source) -> Result<Parsed, ConfigError> {
    let sources = inherit::read_chain(top)?;
    let merged = inherit::merge(&sources)?;
    let provenance = merged.provenance;
    let root = merged.root;
    let de = toml::de::Deserializer::from(root.clone());
    let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
        schema_error(&sources, &provenance, dotted_key(e.path()), e.inner())
    })?;
    // The same document already deserialized once; a table accepts any
    // TOML, so this cannot fail, but we report rather than unwrap.
    let resolved = toml::Table::deserialize(toml::de::Deserializer::from(root))
        .map_err(|e| schema_error(&sources, &provenance, None, &e))?;
    Ok(Parsed {
        raw,
        resolved,
        provenance,
    })
}

/// The path as a TOML dotted key (`tasks."Ping Pong".start`), quoting
/// parts that are not bare keys, or `None` at the root.
fn dotted_key(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&crate::validate::quote_key(key));
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A schema error (unknown key, wrong type, missing key), placed in the
/// file its key came from.
fn schema_error(
    sources: &[Source],
    provenance: &Provenance,
    key: Option<String>,
    e: &toml::de::Error,
) -> ConfigError {
    let file = key.as_deref().map_or_else(
        || provenance.files().first().cloned().unwrap_or_default(),
        |k| provenance.file_of(k).to_owned(),
    );
    let text = sources
        .iter()
        .find(|s| s.name == file)
        .map_or("", |s| s.text.as_str());
    ConfigError::Parse {
        position: e.span().map(|s| line_and_column(text, s.start)),
        file,
        key,
        message: one_line(e.message()),
    }
}

/// A TOML syntax error in one file.
pub(crate) fn syntax_error(
    file: &str,
    text: &str,
    e: &toml::de::Error,
) -> ConfigError {
    ConfigError::Parse {
        file: file.to_owned(),
        position: e.span().map(|s| line_and_column(text, s.start)),
        key: None,
        message: one_line(e.message()),
    }
}

/// 1-based line and column (in characters) of byte `offset`. Works on
/// bytes so that an offset inside a character cannot panic.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    // Count characters, not bytes: skip UTF-8 continuation bytes.
    let column = 1 + before[line_start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    (line, column)
}

fn one_line(message: &str) -> String {
    message.trim().lines().collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_from_one() {
        assert_eq!(line_and_column("abc", 0), (1, 1));
        assert_eq!(line_and_column("a\nbc", 3), (2, 2));
        assert_eq!(line_and_column("a\n\u{e9}x", 4), (2, 2));
        assert_eq!(line_and_column("ab", 99), (1, 3));
    }
}
