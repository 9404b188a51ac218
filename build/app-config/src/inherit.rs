//! `inherit`: an app.toml written as the changes to another one.
//!
//! A variant image (a test image, a lab build) usually differs from a base
//! image in a handful of keys. Rather than copy the base, it names it:
//!
//! ```toml
//! inherit = "../app.toml"        # relative to this file
//! name = "leasehold-lab"
//! remove-tasks = ["demo"]        # tasks of the base this image drops
//!
//! [tasks.jefe.config]
//! tasks-to-hold = ["xc7"]        # added to jefe's config table
//!
//! [tasks.logger]                 # a task the base does not have
//! name = "task-logger"
//! priority = 4
//! ```
//!
//! The rules (also in the README), applied to the base after the base has
//! itself been resolved, so a chain of files works:
//!
//! 1. A table given in both files is merged key by key, at every depth:
//!    `[kernel]`, `[tasks.X]`, `[tasks.X.config]`, `[peripherals.X]`,
//!    `[blobs]`, `max-sizes`, any table inside a `config`.
//! 2. Any other value given in the derived file (a string, a number, a
//!    boolean, an *array*) replaces the base's value whole. Arrays are not
//!    concatenated: `task-slots = ["a"]` in the derived file is the task's
//!    whole slot list, which is the only way an array could be shortened.
//! 3. A task, peripheral or blob the base lacks is added after the base's
//!    own, in the derived file's order (task order is the task index, so
//!    the base's supervisor stays task 0).
//! 4. `remove-tasks`, `remove-peripherals` and `remove-blobs` drop entries
//!    of the base (before the derived file's own tables are merged, so a
//!    removed task can be redefined from scratch). Naming an entry the base
//!    does not have is an error, as is removing without `inherit`.
//! 5. `inherit`, `remove-*` are consumed here; the resolved configuration
//!    has none of them.
//!
//! Every key of the resolved configuration remembers the file that gave
//! it its value ([`Provenance`]), so an error names the file to fix. A
//! base that cannot be read and a chain that returns to a file already in
//! it are errors naming the file and its `inherit` key.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::ConfigError;

/// The key naming the base file.
pub const INHERIT_KEY: &str = "inherit";

/// The keys that drop entries of the base, and the table each applies to.
const REMOVE_KEYS: [(&str, &str); 3] = [
    ("remove-tasks", "tasks"),
    ("remove-peripherals", "peripherals"),
    ("remove-blobs", "blobs"),
];

/// One file of an inheritance chain.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// How messages name it.
    pub name: String,
    /// Where it was read from (for a file given as text, where it would be).
    pub path: PathBuf,
    /// Its contents.
    pub text: String,
}

/// Which file gave each key its value.
///
/// Keys are dotted paths spelled as errors spell them (`tasks.ping.uses`,
/// `tasks.ping.interrupts."spi.irq"`), so an error's key can be looked up
/// as is. Top-level tables (`tasks`, `kernel`, ...) are not recorded: a
/// rule about the whole table (no `idle` task) is the top file's.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    /// File names as messages show them; index 0 is the file given.
    names: Vec<String>,
    /// Where each was read from.
    paths: Vec<PathBuf>,
    /// Dotted key to index into `names`.
    origins: HashMap<String, usize>,
}

impl Provenance {
    /// The file the value of `key` came from: the longest recorded prefix
    /// of `key` decides, and the top file when none is recorded.
    pub fn file_of(&self, key: &str) -> &str {
        let index = key_prefixes(key)
            .find_map(|prefix| self.origins.get(prefix))
            .copied()
            .unwrap_or(0);
        self.names.get(index).map_or("", String::as_str)
    }

    /// The file given (the top of the chain).
    pub fn top_file(&self) -> &str {
        self.names.first().map_or("", String::as_str)
    }

    /// The directory of the file `key` came from: where paths it gives
    /// (blobs) are relative to.
    pub fn dir_of(&self, key: &str) -> PathBuf {
        let path = self.paths.get(self.index_of(key));
        match path.and_then(|p| p.parent()) {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        }
    }

    /// Every file that contributed, as messages name them, the top file
    /// first.
    pub fn files(&self) -> &[String] {
        &self.names
    }

    /// Every file that contributed, as read, the top file first.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    fn index_of(&self, key: &str) -> usize {
        key_prefixes(key)
            .find_map(|prefix| self.origins.get(prefix))
            .copied()
            .unwrap_or(0)
    }

    fn record(&mut self, key: String, file: usize) {
        self.origins.insert(key, file);
    }

    /// Forgets `key` and everything under it (it is being replaced).
    fn forget(&mut self, key: &str) {
        self.origins.retain(|k, _| {
            !(k == key
                || k.strip_prefix(key)
                    .is_some_and(|rest| rest.starts_with(['.', '['])))
        });
    }
}

/// `key` and its shorter prefixes, longest first, cut at `.` and `[`
/// outside quoted segments.
fn key_prefixes(key: &str) -> impl Iterator<Item = &str> {
    let mut cuts = Vec::new();
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in key.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '.' | '[' if !quoted && i > 0 => cuts.push(i),
            _ => {}
        }
    }
    std::iter::once(key).chain(cuts.into_iter().rev().map(|i| &key[..i]))
}

/// The file given and every file it inherits from, in that order.
pub(crate) fn read_chain(top: Source) -> Result<Vec<Source>, ConfigError> {
    let mut chain = vec![top];
    while let Some(current) = chain.last() {
        let Some((base, written)) = base_of(current)? else {
            break;
        };
        let there = identity(&base);
        let name = display_name(&current.name, &written);
        if let Some(first) =
            chain.iter().position(|s| identity(&s.path) == there)
        {
            let names: Vec<&str> = chain[first..]
                .iter()
                .map(|s| s.name.as_str())
                .chain(std::iter::once(name.as_str()))
                .collect();
            return Err(ConfigError::Invalid {
                file: current.name.clone(),
                key: INHERIT_KEY.to_owned(),
                message: format!(
                    "inherit cycle: {} (a file may not inherit from itself, \
                     directly or through its bases)",
                    names.join(" inherits ")
                ),
            });
        }
        let text = std::fs::read_to_string(&base).map_err(|e| {
            ConfigError::Invalid {
                file: current.name.clone(),
                key: INHERIT_KEY.to_owned(),
                message: format!("cannot read the base file {name}: {e}"),
            }
        })?;
        chain.push(Source {
            name,
            path: base,
            text,
        });
    }
    Ok(chain)
}

/// The path `source` inherits from, if it names one, and the path as
/// written.
fn base_of(source: &Source) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let table = parse_document(source)?;
    let Some(value) = table.get_ref().get(INHERIT_KEY) else {
        return Ok(None);
    };
    let Some(base) = value.get_ref().as_str() else {
        return Err(ConfigError::Parse {
            file: source.name.clone(),
            position: Some(crate::parse::line_and_column(
                &source.text,
                value.span().start,
            )),
            key: Some(INHERIT_KEY.to_owned()),
            message: "must be a string: the path of the base file, relative \
                      to this file"
                .to_owned(),
        });
    };
    if base.is_empty() {
        return Err(ConfigError::Invalid {
            file: source.name.clone(),
            key: INHERIT_KEY.to_owned(),
            message: "must not be empty".to_owned(),
        });
    }
    let dir = source.path.parent().unwrap_or(Path::new(""));
    Ok(Some((dir.join(base), base.to_owned())))
}

/// What we compare to find a cycle: the canonical path where there is
/// one, else the path made absolute and tidied.
fn identity(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| {
        normalize(&std::path::absolute(path).unwrap_or(path.to_owned()))
    })
}

/// A base's name for messages: the child's name's directory joined to
/// the path as written, with `.` and `..` folded where they can be.
fn display_name(child_name: &str, inherit: &str) -> String {
    let dir = Path::new(child_name).parent().unwrap_or(Path::new(""));
    normalize(&dir.join(inherit)).display().to_string()
}

/// Folds `.` and `..` lexically (never touching the file system).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let last = out.components().next_back();
                match last {
                    Some(Component::Normal(_)) => {
                        out.pop();
                    }
                    Some(Component::RootDir | Component::Prefix(_)) => {}
                    _ => out.push(".."),
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Parses one file, reporting a syntax error with its position.
fn parse_document(
    source: &Source,
) -> Result<Spanned<DeTable<'_>>, ConfigError> {
    DeTable::parse(&source.text)
        .map_err(|e| crate::parse::syntax_error(&source.name, &source.text, &e))
}

/// The chain merged into one document, and where each key came from.
pub(crate) struct Merged<'s> {
    pub root: Spanned<DeTable<'s>>,
    pub provenance: Provenance,
}

/// Merges `chain` (top file first) into one document.
pub(crate) fn merge(chain: &[Source]) -> Result<Merged<'_>, ConfigError> {
    let mut provenance = Provenance {
        names: chain.iter().map(|s| s.name.clone()).collect(),
        paths: chain.iter().map(|s| s.path.clone()).collect(),
        origins: HashMap::new(),
    };
    let mut root: Option<Spanned<DeTable<'_>>> = None;
    for (file, source) in chain.iter().enumerate().rev() {
        let mut table = parse_document(source)?;
        table.get_mut().remove(INHERIT_KEY);
        let removals = take_removals(source, table.get_mut())?;
        match root.as_mut() {
            None => {
                if let Some((key, _)) = removals.first() {
                    return Err(ConfigError::Invalid {
                        file: source.name.clone(),
                        key: (*key).to_owned(),
                        message: format!(
                            "only a file that inherits from a base may \
                             remove entries (add `{INHERIT_KEY} = \
                             \"<base>.toml\"`)"
                        ),
                    });
                }
                let mut path = Vec::new();
                record_table(table.get_ref(), &mut path, file, &mut provenance);
                root = Some(table);
            }
            Some(base) => {
                remove_entries(
                    source,
                    &removals,
                    base.get_mut(),
                    &mut provenance,
                )?;
                let mut path = Vec::new();
                merge_table(
                    base.get_mut(),
                    table.into_inner(),
                    &mut path,
                    file,
                    &mut provenance,
                );
            }
        }
    }
    let root = root.unwrap_or_else(|| Spanned::new(0..0, DeTable::new()));
    Ok(Merged { root, provenance })
}

/// One `remove-*` key: the key, the table it applies to and the names.
type Removal<'s> = (&'static str, &'static str, Vec<(String, usize)>);

/// Takes the `remove-*` keys out of a file's table, checking their shape.
fn take_removals<'s>(
    source: &Source,
    table: &mut DeTable<'s>,
) -> Result<Vec<(&'static str, Removal<'s>)>, ConfigError> {
    let mut out = Vec::new();
    for (key, target) in REMOVE_KEYS {
        let Some(value) = table.remove(key) else {
            continue;
        };
        let shape_error = |span: std::ops::Range<usize>| ConfigError::Parse {
            file: source.name.clone(),
            position: Some(crate::parse::line_and_column(
                &source.text,
                span.start,
            )),
            key: Some(key.to_owned()),
            message: format!("must be an array of {target} names"),
        };
        let span = value.span();
        let DeValue::Array(items) = value.into_inner() else {
            return Err(shape_error(span));
        };
        let mut names = Vec::new();
        for item in items.iter() {
            let Some(name) = item.get_ref().as_str() else {
                return Err(shape_error(item.span()));
            };
            names.push((name.to_owned(), item.span().start));
        }
        out.push((key, (key, target, names)));
    }
    Ok(out)
}

/// Drops the entries the removals name from the base, or reports one the
/// base lacks.
fn remove_entries(
    source: &Source,
    removals: &[(&'static str, Removal<'_>)],
    base: &mut DeTable<'_>,
    provenance: &mut Provenance,
) -> Result<(), ConfigError> {
    for (_, (key, target, names)) in removals {
        for (name, _) in names {
            let removed = match base.get_mut(*target).map(Spanned::get_mut) {
                Some(DeValue::Table(t)) => t.remove(name.as_str()).is_some(),
                _ => false,
            };
            if !removed {
                return Err(ConfigError::Invalid {
                    file: source.name.clone(),
                    key: (*key).to_owned(),
                    message: format!(
                        "the base has no {} named {name:?}",
                        singular(target)
                    ),
                });
            }
            provenance.forget(&dotted(&[target.to_string(), name.clone()]));
        }
    }
    Ok(())
}

fn singular(table: &str) -> &str {
    table.strip_suffix('s').unwrap_or(table)
}

/// Merges `child` into `base` under the rules in the module doc.
fn merge_table<'s>(
    base: &mut DeTable<'s>,
    child: DeTable<'s>,
    path: &mut Vec<String>,
    file: usize,
    provenance: &mut Provenance,
) {
    for (key, value) in child {
        path.push(key.get_ref().to_string());
        let existing = base.get_mut(key.get_ref().as_ref());
        match (existing.map(Spanned::get_mut), value.into_inner()) {
            (Some(DeValue::Table(b)), DeValue::Table(c)) => {
                if path.len() > 1 {
                    // A table both files give keeps the base's origin for
                    // messages about the table as a whole.
                    provenance
                        .record(dotted(path), provenance_of(provenance, path));
                }
                merge_table(b, c, path, file, provenance);
            }
            (_, value) => {
                let span = key.span();
                let key = key.into_inner();
                let value = Spanned::new(span.clone(), value);
                provenance.forget(&dotted(path));
                record_value(value.get_ref(), path, file, provenance);
                base.insert(Spanned::new(span, key), value);
            }
        }
        path.pop();
    }
}

fn provenance_of(provenance: &Provenance, path: &[String]) -> usize {
    provenance.index_of(&dotted(path))
}

/// Records `value` at `path`, and everything inside it, as `file`'s.
fn record_value(
    value: &DeValue<'_>,
    path: &mut Vec<String>,
    file: usize,
    provenance: &mut Provenance,
) {
    let is_table = matches!(value, DeValue::Table(_));
    if path.len() > 1 || !is_table {
        provenance.record(dotted(path), file);
    }
    if let DeValue::Table(t) = value {
        record_table(t, path, file, provenance);
    }
}

fn record_table(
    table: &DeTable<'_>,
    path: &mut Vec<String>,
    file: usize,
    provenance: &mut Provenance,
) {
    for (key, value) in table.iter() {
        path.push(key.get_ref().to_string());
        record_value(value.get_ref(), path, file, provenance);
        path.pop();
    }
}

/// A path as errors spell it: quoted where a segment is not a bare key.
pub(crate) fn dotted(path: &[String]) -> String {
    path.iter()
        .map(|p| crate::validate::quote_key(p))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_cut_outside_quotes_longest_first() {
        let got: Vec<&str> =
            key_prefixes("tasks.p.interrupts.\"a.b\"[2].c").collect();
        assert_eq!(
            got,
            [
                "tasks.p.interrupts.\"a.b\"[2].c",
                "tasks.p.interrupts.\"a.b\"[2]",
                "tasks.p.interrupts.\"a.b\"",
                "tasks.p.interrupts",
                "tasks.p",
                "tasks",
            ]
        );
        let escaped: Vec<&str> = key_prefixes("a.\"x\\\".y\".z").collect();
        assert_eq!(escaped, ["a.\"x\\\".y\".z", "a.\"x\\\".y\"", "a"]);
    }

    #[test]
    fn normalize_folds_dots_lexically() {
        assert_eq!(
            normalize(Path::new("test/bench/../../app.toml")),
            Path::new("app.toml")
        );
        assert_eq!(
            normalize(Path::new("../a/./b.toml")),
            Path::new("../a/b.toml")
        );
        assert_eq!(normalize(Path::new("/x/../../y")), Path::new("/y"));
    }
}
