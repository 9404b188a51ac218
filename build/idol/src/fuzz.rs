//! `.idol` files under a fuzzer. An interface file is input from whoever
//! writes one (and Hubris's files are accepted as they are), so whatever
//! it holds, idol must answer with one clear line or generate code: never
//! panic, never print a multi-line error, and never fail to generate for
//! a file it accepted (that would be a bug in the checks, which promise
//! that what passes them can be generated).
//!
//! `fuzz/fuzz_targets/idol_file.rs` calls [`run`]; the unit test replays
//! the checked-in corpus, whose seeds are the project's own `idl/` files.

use crate::server::{ServerStyle, generate_server_support};

/// What a run found wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum Violation {
    /// An error that spans lines.
    MultiLineError(String),
    /// A file the checks accepted that the generator refused.
    AcceptedButNotGenerated(String),
}

/// One file's text.
///
/// # Errors
///
/// The first [`Violation`].
pub fn run(data: &[u8]) -> Result<(), Violation> {
    let Ok(text) = std::str::from_utf8(data) else {
        return Ok(());
    };
    let iface = match crate::parse(text, "fuzz.idol") {
        Ok(iface) => iface,
        Err(e) => {
            let message = e.to_string();
            return if message.trim_end().contains('\n') {
                Err(Violation::MultiLineError(message))
            } else {
                Ok(())
            };
        }
    };
    let generated = crate::client::generate_client_stub(&iface)
        .and_then(|_| generate_server_support(&iface, ServerStyle::InOrder));
    match generated {
        Ok(_) => Ok(()),
        Err(e) => Err(Violation::AcceptedButNotGenerated(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fuzz_dir() -> std::path::PathBuf {
        fuzz_replay::fuzz_dir(env!("CARGO_MANIFEST_DIR"))
    }

    fn seeds() -> Vec<(String, Vec<u8>)> {
        let idl =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idl");
        let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(idl)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy();
                (name.into_owned(), std::fs::read(&path).unwrap())
            })
            .collect();
        seeds.sort();
        seeds
    }

    #[test]
    fn the_checked_in_corpus_replays_clean() {
        fuzz_replay::bless(&fuzz_dir(), "idol_file", &seeds());
        let n = fuzz_replay::replay(&fuzz_dir(), "idol_file", run);
        assert!(n >= seeds().len(), "only {n} inputs replayed");
    }

    #[test]
    fn every_seed_is_accepted_and_a_broken_one_is_one_line() {
        for (name, text) in seeds() {
            let text = String::from_utf8(text).unwrap();
            assert!(crate::parse(&text, &name).is_ok(), "{name}");
        }
        let broken = "Interface(name: \"X\", ops: {\"a\": (";
        assert!(crate::parse(broken, "x.idol").is_err());
        assert_eq!(run(broken.as_bytes()), Ok(()));
    }
}
