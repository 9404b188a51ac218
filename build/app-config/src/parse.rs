//! Text to [`RawConfig`], with errors made into one line.
//!
//! toml's own `Display` for an error is a multi-line snippet with a caret,
//! which is pleasant in a terminal but not what a build log or an editor's
//! error list wants. We keep its message, turn its byte span into a
//! line and column, and add the dotted key path that
//! `serde_path_to_error` tracks (toml knows the key but does not expose
//! it).

use crate::error::ConfigError;
use crate::raw::RawConfig;

pub(crate) fn parse_raw(
    text: &str,
    file: &str,
) -> Result<RawConfig, ConfigError> {
    let de = toml::Deserializer::parse(text)
        .map_err(|e| parse_error(file, text, None, &e))?;
    serde_path_to_error::deserialize(de)
        .map_err(|e| parse_error(file, text, dotted_key(e.path()), e.inner()))
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

fn parse_error(
    file: &str,
    text: &str,
    key: Option<String>,
    e: &toml::de::Error,
) -> ConfigError {
    ConfigError::Parse {
        file: file.to_owned(),
        position: e.span().map(|s| line_and_column(text, s.start)),
        key,
        message: one_line(e.message()),
    }
}

/// 1-based line and column (in characters) of byte `offset`. Works on
/// bytes so that an offset inside a character cannot panic.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
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
