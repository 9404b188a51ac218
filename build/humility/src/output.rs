//! `-o json|csv`: the tables of `tasks`, `counters` and `ringbuf` as
//! data for scripts, one record per row of the text table.
//!
//! JSON is an array of objects; CSV has a header row, fields named as
//! the JSON keys (serde names them once for both). Numbers stay numbers
//! (no padding, no units), and a value the text shows as `-` is `null`
//! in JSON and an empty field in CSV.

use anyhow::{Context, Result};
use serde::Serialize;

/// How a command prints its table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for people (the default).
    #[default]
    Text,
    /// A JSON array of objects.
    Json,
    /// CSV with a header row.
    Csv,
}

/// `rows` as `format` (JSON or CSV; text is each command's own).
///
/// # Errors
///
/// If a row cannot be encoded (a bug: rows are flat records).
pub fn render<T: Serialize>(format: Format, rows: &[T]) -> Result<String> {
    match format {
        Format::Json | Format::Text => {
            let mut text = serde_json::to_string_pretty(rows)
                .context("cannot encode the rows as JSON")?;
            text.push('\n');
            Ok(text)
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for row in rows {
                w.serialize(row).context("cannot encode a row as CSV")?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| anyhow::anyhow!("cannot finish the CSV: {e}"))?;
            String::from_utf8(bytes).context("CSV is not UTF-8")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        task: String,
        count: u64,
        errors: Option<u64>,
    }

    #[test]
    fn json_and_csv_carry_the_same_fields_and_quote_what_needs_it() {
        let rows = [
            Row {
                task: "jefe".into(),
                count: 3,
                errors: None,
            },
            Row {
                task: "a,\"b\"".into(),
                count: 0,
                errors: Some(2),
            },
        ];
        let json: serde_json::Value =
            serde_json::from_str(&render(Format::Json, &rows).unwrap())
                .unwrap();
        assert_eq!(json[0]["task"], "jefe");
        assert_eq!(json[0]["errors"], serde_json::Value::Null);
        assert_eq!(json[1]["count"], 0);
        let csv = render(Format::Csv, &rows).unwrap();
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(
            r.headers().unwrap().iter().collect::<Vec<_>>(),
            ["task", "count", "errors"]
        );
        let back: Vec<csv::StringRecord> =
            r.records().map(Result::unwrap).collect();
        assert_eq!(&back[0][2], "");
        assert_eq!(&back[1][0], "a,\"b\"");
        assert_eq!(render(Format::Csv, &Vec::<Row>::new()).unwrap(), "");
    }
}
