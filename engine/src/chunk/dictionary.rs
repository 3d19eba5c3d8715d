//! The writer and reader sides of a chunk's column encoding: top-level `Utf8` columns are
//! stored as `Dictionary<Int32, Utf8>` and turned back into `Utf8` when read.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, FieldRef, Int32Type, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::ChunkFilter;
use crate::error::ChunkError;

/// Field metadata key marking a column whose storage type differs from the caller's type.
pub(super) const ENCODING_KEY: &str = "tarsmon.chunk.encoding";
/// [`ENCODING_KEY`] value: a `Utf8` column stored as `Dictionary<Int32, Utf8>`.
const DICTIONARY: &str = "dictionary";

/// The storage type of a dictionary-encoded `Utf8` column.
fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The writer: the batch as stored, with `Utf8` columns dictionary-encoded and marked.
pub(super) fn to_storage(batch: &RecordBatch) -> Result<RecordBatch, ChunkError> {
    let schema = batch.schema();
    let mut fields: Vec<FieldRef> = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if field.metadata().contains_key(ENCODING_KEY) {
            return Err(ChunkError::ReservedMetadata { field: field.name().clone(), key: ENCODING_KEY });
        }
        if field.data_type() == &DataType::Utf8 {
            let mut metadata = field.metadata().clone();
            metadata.insert(ENCODING_KEY.to_owned(), DICTIONARY.to_owned());
            let stored = Field::clone(field).with_data_type(dictionary_type()).with_metadata(metadata);
            fields.push(Arc::new(stored));
            columns.push(cast(column, &dictionary_type())?);
        } else {
            fields.push(Arc::clone(field));
            columns.push(Arc::clone(column));
        }
    }
    rebuild(Schema::new_with_metadata(fields, schema.metadata().clone()), columns, batch.num_rows())
}

/// The reader's row filter: keeps the rows of `stored` (a decoded batch in storage form,
/// projected as `filter.projection` says) that satisfy `filter.text_equals`, comparing each
/// condition's value with the few dictionary entries and then the rows' integer keys, so the
/// strings of the rows dropped are never materialized. Conditions on columns that are not in
/// the batch or not dictionary-encoded are skipped (see [`ChunkFilter`]).
pub(super) fn keep_equal(stored: RecordBatch, filter: ChunkFilter<'_>) -> Result<RecordBatch, ChunkError> {
    let mut mask: Option<Vec<bool>> = None;
    for cond in filter.text_equals {
        let position = match filter.projection {
            Some(p) => p.iter().position(|&c| c == cond.column),
            None => Some(cond.column),
        };
        let Some(column) = position.and_then(|i| stored.columns().get(i)) else { continue };
        let Some(dict) = column.as_dictionary_opt::<Int32Type>() else { continue };
        let Some(values) = dict.values().as_string_opt::<i32>() else { continue };
        let wanted: Vec<i32> = (0..values.len())
            .filter(|&i| values.is_valid(i) && values.value(i) == cond.value)
            .filter_map(|i| i32::try_from(i).ok())
            .collect();
        let keys = dict.keys();
        let m = mask.get_or_insert_with(|| vec![true; stored.num_rows()]);
        for (row, keep) in m.iter_mut().enumerate() {
            *keep = *keep && keys.is_valid(row) && wanted.contains(&keys.value(row));
        }
    }
    match mask {
        None => Ok(stored),
        Some(m) if m.iter().all(|&k| k) => Ok(stored),
        Some(m) => Ok(filter_record_batch(&stored, &BooleanArray::from(m))?),
    }
}

/// The reader: undoes [`to_storage`], giving back the caller's schema and column types.
pub(super) fn from_storage(stored: &RecordBatch) -> Result<RecordBatch, ChunkError> {
    let schema = stored.schema();
    let mut fields: Vec<FieldRef> = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(stored.num_columns());
    for (field, column) in schema.fields().iter().zip(stored.columns()) {
        match field.metadata().get(ENCODING_KEY).map(String::as_str) {
            None => {
                fields.push(Arc::clone(field));
                columns.push(Arc::clone(column));
            }
            Some(DICTIONARY) => {
                if field.data_type() != &dictionary_type() {
                    return Err(ChunkError::ColumnEncoding {
                        field: field.name().clone(),
                        reason: "marked as dictionary-encoded but not Dictionary<Int32, Utf8>",
                    });
                }
                let metadata: HashMap<String, String> =
                    field.metadata().iter().filter(|(k, _)| *k != ENCODING_KEY).map(clone_pair).collect();
                let restored = Field::clone(field).with_data_type(DataType::Utf8).with_metadata(metadata);
                fields.push(Arc::new(restored));
                columns.push(cast(column, &DataType::Utf8)?);
            }
            Some(_) => {
                return Err(ChunkError::ColumnEncoding {
                    field: field.name().clone(),
                    reason: "unknown storage encoding",
                });
            }
        }
    }
    rebuild(Schema::new_with_metadata(fields, schema.metadata().clone()), columns, stored.num_rows())
}

/// Clones a metadata entry.
fn clone_pair((k, v): (&String, &String)) -> (String, String) {
    (k.clone(), v.clone())
}

/// A batch of `columns` under `schema`, keeping `num_rows` even when there are no columns.
fn rebuild(schema: Schema, columns: Vec<ArrayRef>, num_rows: usize) -> Result<RecordBatch, ChunkError> {
    let options = RecordBatchOptions::new().with_row_count(Some(num_rows));
    Ok(RecordBatch::try_new_with_options(Arc::new(schema), columns, &options)?)
}
