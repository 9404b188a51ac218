//! app.toml under a fuzzer. An image's configuration is input from its
//! author, so whatever the text holds, parsing and checking must end in a
//! configuration or in one clear line naming the file and key: never a
//! panic, never a multi-line error.
//!
//! The text is parsed as if it were `/nonexistent/leasehold-fuzz/app.toml`,
//! so an `inherit` key names a base that does not exist (one line, as
//! for any missing base) instead of reading the disk.
//!
//! `fuzz/fuzz_targets/app_toml.rs` calls [`run`]; the unit test replays
//! the checked-in corpus, whose seeds are the project's own images.

use crate::Config;

/// What a run found wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum Violation {
    /// An error that spans lines.
    MultiLineError(String),
}

/// Where the text claims to come from.
pub const FUZZ_PATH: &str = "/nonexistent/leasehold-fuzz/app.toml";

/// One app.toml text.
///
/// # Errors
///
/// The first [`Violation`].
pub fn run(data: &[u8]) -> Result<(), Violation> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    match Config::parse(text, FUZZ_PATH) {
        Ok(_) => Ok(()),
        Err(e) => {
            let message = e.to_string();
            if message.trim_end().contains('\n') {
                Err(Violation::MultiLineError(message))
            } else {
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuzz_dir() -> std::path::PathBuf {
        fuzz_replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"))
    }

    /// The default image and every test image that stands alone (an
    /// image that inherits would only meet a missing base here).
    fn seeds() -> Vec<(String, Vec<u8>)> {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut paths = vec![root.join("app.toml")];
        for e in std::fs::read_dir(root.join("test")).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_some_and(|x| x == "toml") {
                paths.push(path);
            }
        }
        let mut seeds: Vec<(String, Vec<u8>)> = paths
            .into_iter()
            .map(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                (name.into_owned(), std::fs::read(&p).unwrap())
            })
            .filter(|(_, text)| {
                !String::from_utf8_lossy(text).contains("inherit")
            })
            .collect();
        seeds.sort();
        seeds
    }

    #[test]
    fn the_checked_in_corpus_replays_clean() {
        fuzz_replay::bless(&fuzz_dir(), "app_toml", &seeds());
        let n = fuzz_replay::replay(&fuzz_dir(), "app_toml", run);
        assert!(n >= seeds().len(), "only {n} inputs replayed");
    }

    #[test]
    fn seeds_reach_deep_checks_and_an_inherit_is_one_line() {
        // The default image is valid as text: the run reaches validation.
        let (_, app) =
            seeds().into_iter().find(|(n, _)| n == "app.toml").unwrap();
        let text = String::from_utf8(app).unwrap();
        assert!(Config::parse(&text, FUZZ_PATH).is_ok());
        let e =
            Config::parse("inherit = \"base.toml\"\n", FUZZ_PATH).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}
