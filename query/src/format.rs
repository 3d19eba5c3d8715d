//! Rendering query results as text: an aligned table, CSV, or JSON (an array of objects).

use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::json::ArrayWriter;
use datafusion::arrow::util::pretty::pretty_format_batches;

use crate::error::{Error, Result};
use crate::session::QueryOutput;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// An aligned text table (headers shown even for no rows).
    #[default]
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array of objects, one per row.
    Json,
}

impl std::str::FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(Error::Invalid(format!("unknown format {other:?}: use table, csv or json"))),
        }
    }
}

impl QueryOutput {
    /// Renders the rows in `format`.
    pub fn render(&self, format: Format) -> Result<String> {
        let bytes = match format {
            Format::Table => {
                if self.batches.iter().all(|b| b.num_rows() == 0) {
                    let empty = datafusion::arrow::array::RecordBatch::new_empty(self.schema.clone());
                    return Ok(format!("{}\n", pretty_format_batches(&[empty]).map_err(df)?));
                }
                return Ok(format!("{}\n", pretty_format_batches(&self.batches).map_err(df)?));
            }
            Format::Csv => {
                let mut out = Vec::new();
                let mut w = WriterBuilder::new().with_header(true).build(&mut out);
                if self.batches.is_empty() {
                    let names: Vec<_> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
                    return Ok(format!("{}\n", names.join(",")));
                }
                for b in &self.batches {
                    w.write(b).map_err(df)?;
                }
                drop(w);
                out
            }
            Format::Json => {
                let mut out = Vec::new();
                let mut w = ArrayWriter::new(&mut out);
                for b in &self.batches {
                    w.write(b).map_err(df)?;
                }
                w.finish().map_err(df)?;
                drop(w);
                if out.is_empty() {
                    out.extend_from_slice(b"[]");
                }
                out.push(b'\n');
                out
            }
        };
        String::from_utf8(bytes).map_err(|e| Error::Invalid(format!("result is not UTF-8: {e}")))
    }
}

fn df(e: datafusion::arrow::error::ArrowError) -> Error {
    Error::DataFusion(e.into())
}
