//! Progress: a bar on a terminal, plain lines otherwise.
//!
//! CI logs and test harnesses read stderr as text, so off a terminal each
//! step is one line (`building task ping`) that a script can grep.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress report over `steps` steps.
    pub fn new(steps: u64) -> Self {
        if !std::io::stderr().is_terminal() {
            return Self { bar: None };
        }
        let bar = ProgressBar::new(steps);
        let style = ProgressStyle::with_template(
            "{spinner} [{bar:30}] {pos}/{len} {wide_msg}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        Self { bar: Some(bar) }
    }

    /// Whether we draw a bar (and so may use colour).
    pub fn is_terminal(&self) -> bool {
        self.bar.is_some()
    }

    /// Starts a step: `building task ping`.
    pub fn step(&self, message: String) {
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(message);
            }
            None => eprintln!("{message}"),
        }
    }

    /// Prints a line without disturbing the bar.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar and prints the final line.
    pub fn finish(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("{line}");
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
