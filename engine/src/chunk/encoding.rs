//! The writer and reader sides of a chunk's column encoding: top-level `Utf8` columns are
//! stored as `Dictionary<Int32, Utf8>` and turned back into `Utf8` when read.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, Int32Array, StringArray};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, FieldRef, Int32Type, Schema};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use hashbrown::HashTable;

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
            let strings = column.as_string_opt::<i32>().ok_or(ChunkError::Inconsistent)?;
            columns.push(Arc::new(encode_dictionary(strings)?));
        } else {
            fields.push(Arc::clone(field));
            columns.push(Arc::clone(column));
        }
    }
    rebuild(Schema::new_with_metadata(fields, schema.metadata().clone()), columns, batch.num_rows())
}

/// `strings` as `Dictionary<Int32, Utf8>`, values in the order first seen. A row equal to the
/// row before it reuses its key without a lookup: a slot's rows come in report order, and the
/// rows of one report share their caller, callee, IPs and version. Strings are hashed with
/// foldhash and compared with [`crate::bytes::equal`]; this is several times Arrow's `cast`.
fn encode_dictionary(strings: &StringArray) -> Result<DictionaryArray<Int32Type>, ChunkError> {
    let hasher = hashbrown::DefaultHashBuilder::default();
    let hash = |s: &str| hasher.hash_one(s);
    let mut index: HashTable<i32> = HashTable::new();
    let mut distinct: Vec<&str> = Vec::new();
    let mut keys: Vec<i32> = Vec::with_capacity(strings.len());
    let mut last: Option<(&str, i32)> = None;
    for row in 0..strings.len() {
        if strings.is_null(row) {
            keys.push(0);
            continue;
        }
        let s = strings.value(row);
        if let Some((l, k)) = last
            && crate::bytes::equal(l.as_bytes(), s.as_bytes())
        {
            keys.push(k);
            continue;
        }
        let h = hash(s);
        let k = match index.find(h, |&k| crate::bytes::equal(distinct[k as usize].as_bytes(), s.as_bytes())) {
            Some(&k) => k,
            None => {
                let k = i32::try_from(distinct.len())
                    .map_err(|_| ChunkError::TooLarge { len: distinct.len() })?;
                distinct.push(s);
                index.insert_unique(h, k, |&k| hash(distinct[k as usize]));
                k
            }
        };
        last = Some((s, k));
        keys.push(k);
    }
    let keys = Int32Array::new(keys.into(), strings.nulls().cloned());
    Ok(DictionaryArray::try_new(keys, Arc::new(StringArray::from_iter_values(distinct)))?)
}

/// The reader's row filter: keeps the rows of `batch` that satisfy every condition of
/// `filter` (see [`ChunkFilter`]). `columns` lists the table columns `batch` holds, in order
/// (`None`: all of them). A dictionary-encoded column is tested on its few dictionary entries
/// and then on the rows' integer keys, so the strings of dropped rows are never built; a plain
/// `Utf8` column (the open slot's rows) value by value.
pub(super) fn keep_matching(
    batch: RecordBatch,
    columns: Option<&[usize]>,
    filter: ChunkFilter<'_>,
) -> Result<RecordBatch, ChunkError> {
    let mut mask: Option<Vec<bool>> = None;
    for terms in filter.conditions() {
        let mut holds = vec![false; batch.num_rows()];
        for term in terms {
            let position = match columns {
                Some(c) => c.iter().position(|&x| x == term.column),
                None => Some(term.column),
            };
            let column = position
                .and_then(|i| batch.columns().get(i))
                .ok_or(ChunkError::FilterColumn { column: term.column, reason: "no such column" })?;
            mark_equal(column, &term.value, &mut holds)
                .ok_or(ChunkError::FilterColumn { column: term.column, reason: "not a text column" })?;
        }
        match &mut mask {
            None => mask = Some(holds),
            Some(m) => m.iter_mut().zip(holds).for_each(|(keep, holds)| *keep &= holds),
        }
    }
    match mask {
        None => Ok(batch),
        Some(m) if m.iter().all(|&k| k) => Ok(batch),
        Some(m) => Ok(filter_record_batch(&batch, &BooleanArray::from(m))?),
    }
}

/// Sets `holds[row]` for every row of `column` equal to `value` (a null equals nothing).
/// `None` if `column` is not text.
fn mark_equal(column: &ArrayRef, value: &str, holds: &mut [bool]) -> Option<()> {
    if let Some(dict) = column.as_dictionary_opt::<Int32Type>() {
        let values = dict.values().as_string_opt::<i32>()?;
        // Per dictionary entry, whether it is the value.
        let wanted: Vec<bool> =
            (0..values.len()).map(|i| values.is_valid(i) && values.value(i) == value).collect();
        if wanted.contains(&true) {
            for (h, key) in holds.iter_mut().zip(dict.keys()) {
                let is = key.and_then(|k| usize::try_from(k).ok()).and_then(|k| wanted.get(k));
                *h |= is.copied().unwrap_or(false);
            }
        }
        return Some(());
    }
    let strings = column.as_string_opt::<i32>()?;
    for (h, s) in holds.iter_mut().zip(strings) {
        *h |= s == Some(value);
    }
    Some(())
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
