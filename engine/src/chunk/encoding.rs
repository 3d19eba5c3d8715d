//! The writer and reader sides of a chunk's column encoding, and the row filter that works on
//! the encoded form. Top-level columns are stored as:
//! - `Utf8`: `Dictionary<Int32, Utf8>` (monitoring data repeats a few names in every row);
//! - `Int32`, `Int64`, `Timestamp(ms)`: when the values of the chunk span less than 2^32, their
//!   offsets from the smallest, in the narrowest of `UInt8`, `UInt16`, `UInt32` that holds
//!   them (counts, latencies and a chunk's slot times span little). Decoding a query's columns
//!   is mostly LZ4 producing their bytes: 1–4 bytes a value instead of 8 is that much less.
//!
//! A stored field carries its encoding in its metadata ([`ENCODING_KEY`], and for offsets the
//! base in [`BASE_KEY`]); the reader turns every column back into the caller's type. The
//! encodings of a chunk are chosen once from all its rows ([`layout`]), so its segments share
//! one schema.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, DictionaryArray, Int32Array, PrimitiveArray,
    StringArray,
};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{
    DataType, Field, FieldRef, Int32Type, Int64Type, Schema, TimeUnit, TimestampMillisecondType, UInt8Type,
    UInt16Type, UInt32Type,
};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use hashbrown::HashTable;

use super::ChunkFilter;
use crate::error::ChunkError;

/// Field metadata key marking a column whose storage type differs from the caller's type.
pub(super) const ENCODING_KEY: &str = "tarsmon.chunk.encoding";
/// [`ENCODING_KEY`] value: a `Utf8` column stored as `Dictionary<Int32, Utf8>`.
const DICTIONARY: &str = "dictionary";
/// [`ENCODING_KEY`] value: an integer or timestamp column stored as the offsets of its values
/// from the base in [`BASE_KEY`], unsigned and narrow.
const OFFSET: &str = "offset";
/// Field metadata key of an offset-encoded column's base, in decimal.
pub(super) const BASE_KEY: &str = "tarsmon.chunk.base";
/// Field metadata key of an offset-encoded column's type: `int32`, `int64`, `timestamp_ms`
/// or `timestamp_ms:<time zone>`.
pub(super) const TYPE_KEY: &str = "tarsmon.chunk.type";

/// The [`TYPE_KEY`] value of `data_type`, if offsets can encode it.
fn type_name(data_type: &DataType) -> Option<String> {
    Some(match data_type {
        DataType::Int32 => "int32".to_owned(),
        DataType::Int64 => "int64".to_owned(),
        DataType::Timestamp(TimeUnit::Millisecond, None) => "timestamp_ms".to_owned(),
        DataType::Timestamp(TimeUnit::Millisecond, Some(tz)) => format!("timestamp_ms:{tz}"),
        _ => return None,
    })
}

/// The caller's type of an offset-encoded field, from its [`TYPE_KEY`].
fn original_type(field: &Field) -> Option<DataType> {
    let name = field.metadata().get(TYPE_KEY)?;
    Some(match name.split_once(':') {
        None if name == "int32" => DataType::Int32,
        None if name == "int64" => DataType::Int64,
        None if name == "timestamp_ms" => DataType::Timestamp(TimeUnit::Millisecond, None),
        Some(("timestamp_ms", tz)) => DataType::Timestamp(TimeUnit::Millisecond, Some(tz.into())),
        _ => return None,
    })
}

/// How each column of a batch is stored; see the module doc.
#[derive(Debug, Clone)]
pub(super) struct Layout(Vec<Column>);

/// How one column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    /// As given.
    AsIs,
    /// Dictionary-encoded text.
    Dictionary,
    /// Offsets from `base`, as `stored` (`UInt8`, `UInt16` or `UInt32`).
    Offset { base: i64, bytes: u8 },
}

/// The storage of every column of `batch`, from all its rows.
pub(super) fn layout(batch: &RecordBatch) -> Layout {
    let column = |c: &ArrayRef| match c.data_type() {
        DataType::Utf8 => Column::Dictionary,
        DataType::Int32 => offsets(c.as_primitive::<Int32Type>().iter().flatten().map(i64::from), 4),
        DataType::Int64 => offsets(c.as_primitive::<Int64Type>().iter().flatten(), 8),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            offsets(c.as_primitive::<TimestampMillisecondType>().iter().flatten(), 8)
        }
        _ => Column::AsIs,
    };
    Layout(batch.columns().iter().map(column).collect())
}

/// Offsets from the smallest of `values`, if they take fewer than `width` bytes.
fn offsets(values: impl Iterator<Item = i64>, width: u8) -> Column {
    let (min, max) = values.fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if min > max {
        return Column::AsIs;
    }
    let span = i128::from(max) - i128::from(min);
    let bytes = match span {
        s if s <= i128::from(u8::MAX) => 1,
        s if s <= i128::from(u16::MAX) => 2,
        s if s <= i128::from(u32::MAX) => 4,
        _ => return Column::AsIs,
    };
    if bytes >= width { Column::AsIs } else { Column::Offset { base: min, bytes } }
}

/// `column` (`Int32`, `Int64` or `Timestamp(ms)`) as its offsets from `base` in `bytes`-wide
/// unsigned integers. Null slots keep whatever value; they stay null.
fn to_offsets(column: &ArrayRef, base: i64, bytes: u8) -> Result<ArrayRef, ChunkError> {
    fn narrow<T: ArrowPrimitiveType>(
        a: &PrimitiveArray<T>,
        f: impl Fn(T::Native) -> i64,
        base: i64,
        bytes: u8,
    ) -> ArrayRef {
        // Every valid value lies in [base, base + 2^(8·bytes)): the casts keep it.
        let off = |v: T::Native| f(v).wrapping_sub(base);
        match bytes {
            1 => Arc::new(a.unary::<_, UInt8Type>(|v| off(v) as u8)),
            2 => Arc::new(a.unary::<_, UInt16Type>(|v| off(v) as u16)),
            _ => Arc::new(a.unary::<_, UInt32Type>(|v| off(v) as u32)),
        }
    }
    Ok(match column.data_type() {
        DataType::Int32 => narrow(column.as_primitive::<Int32Type>(), i64::from, base, bytes),
        DataType::Int64 => narrow(column.as_primitive::<Int64Type>(), |v| v, base, bytes),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            narrow(column.as_primitive::<TimestampMillisecondType>(), |v| v, base, bytes)
        }
        _ => return Err(ChunkError::Inconsistent),
    })
}

/// The caller's column of type `original` back from its offsets from `base`.
fn from_offsets(stored: &ArrayRef, base: i64, original: &DataType) -> Option<ArrayRef> {
    fn widen<T: ArrowPrimitiveType>(
        stored: &ArrayRef,
        f: impl Fn(i64) -> T::Native,
    ) -> Option<PrimitiveArray<T>> {
        Some(match stored.data_type() {
            DataType::UInt8 => stored.as_primitive::<UInt8Type>().unary(|x| f(i64::from(x))),
            DataType::UInt16 => stored.as_primitive::<UInt16Type>().unary(|x| f(i64::from(x))),
            DataType::UInt32 => stored.as_primitive::<UInt32Type>().unary(|x| f(i64::from(x))),
            _ => return None,
        })
    }
    let value = |x: i64| base.wrapping_add(x);
    Some(match original {
        DataType::Int32 => Arc::new(widen::<Int32Type>(stored, |x| value(x) as i32)?),
        DataType::Int64 => Arc::new(widen::<Int64Type>(stored, value)?),
        DataType::Timestamp(TimeUnit::Millisecond, tz) => {
            Arc::new(widen::<TimestampMillisecondType>(stored, value)?.with_timezone_opt(tz.clone()))
        }
        _ => return None,
    })
}

/// The type an offset-encoded column of `bytes`-wide offsets is stored as.
fn offset_type(bytes: u8) -> DataType {
    match bytes {
        1 => DataType::UInt8,
        2 => DataType::UInt16,
        _ => DataType::UInt32,
    }
}

/// The storage type of a dictionary-encoded `Utf8` column.
fn dictionary_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The writer: the batch as stored under `layout` (from [`layout`] of this batch or of one it
/// is a part of), each re-encoded column marked.
pub(super) fn to_storage(batch: &RecordBatch, layout: &Layout) -> Result<RecordBatch, ChunkError> {
    let schema = batch.schema();
    if layout.0.len() != batch.num_columns() {
        return Err(ChunkError::Inconsistent);
    }
    let mut fields: Vec<FieldRef> = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for ((field, column), how) in schema.fields().iter().zip(batch.columns()).zip(&layout.0) {
        for key in [ENCODING_KEY, BASE_KEY, TYPE_KEY] {
            if field.metadata().contains_key(key) {
                return Err(ChunkError::ReservedMetadata { field: field.name().clone(), key });
            }
        }
        let mut metadata = field.metadata().clone();
        let (data_type, stored): (DataType, ArrayRef) = match *how {
            Column::AsIs => {
                fields.push(Arc::clone(field));
                columns.push(Arc::clone(column));
                continue;
            }
            Column::Dictionary => {
                metadata.insert(ENCODING_KEY.to_owned(), DICTIONARY.to_owned());
                let strings = column.as_string_opt::<i32>().ok_or(ChunkError::Inconsistent)?;
                (dictionary_type(), Arc::new(encode_dictionary(strings)?))
            }
            Column::Offset { base, bytes } => {
                let name = type_name(field.data_type()).ok_or(ChunkError::Inconsistent)?;
                metadata.insert(ENCODING_KEY.to_owned(), OFFSET.to_owned());
                metadata.insert(BASE_KEY.to_owned(), base.to_string());
                metadata.insert(TYPE_KEY.to_owned(), name);
                (offset_type(bytes), to_offsets(column, base, bytes)?)
            }
        };
        fields.push(Arc::new(Field::clone(field).with_data_type(data_type).with_metadata(metadata)));
        columns.push(stored);
    }
    rebuild(Schema::new_with_metadata(fields, schema.metadata().clone()), columns, batch.num_rows())
}

/// The distinct strings of a column, numbered in the order first seen: the dictionary
/// encoder's and the segment planner's lookup. A string equal to the one before it reuses its
/// number without a lookup: a slot's rows come in report order, and the rows of one report
/// share their caller, callee, IPs and version. Strings are hashed with foldhash and compared
/// with [`crate::bytes::equal`]; this is several times Arrow's `cast`.
#[derive(Default)]
pub(super) struct Distinct<'a> {
    hasher: hashbrown::DefaultHashBuilder,
    index: HashTable<usize>,
    values: Vec<&'a str>,
    last: Option<(&'a str, usize)>,
}

impl<'a> Distinct<'a> {
    /// The number of `s`: the count of distinct strings seen before it, if it is new.
    pub(super) fn id(&mut self, s: &'a str) -> usize {
        if let Some((l, id)) = self.last
            && crate::bytes::equal(l.as_bytes(), s.as_bytes())
        {
            return id;
        }
        let Self { hasher, index, values, .. } = self;
        let h = hasher.hash_one(s);
        let id = match index.find(h, |&id| crate::bytes::equal(values[id].as_bytes(), s.as_bytes())) {
            Some(&id) => id,
            None => {
                values.push(s);
                index.insert_unique(h, values.len() - 1, |&id| hasher.hash_one(values[id]));
                values.len() - 1
            }
        };
        self.last = Some((s, id));
        id
    }

    /// The distinct strings, by number.
    pub(super) fn into_values(self) -> Vec<&'a str> {
        self.values
    }
}

/// `strings` as `Dictionary<Int32, Utf8>`, values in the order first seen ([`Distinct`]).
fn encode_dictionary(strings: &StringArray) -> Result<DictionaryArray<Int32Type>, ChunkError> {
    let mut distinct = Distinct::default();
    let mut keys: Vec<i32> = Vec::with_capacity(strings.len());
    for row in 0..strings.len() {
        if strings.is_null(row) {
            keys.push(0);
            continue;
        }
        let id = distinct.id(strings.value(row));
        keys.push(i32::try_from(id).map_err(|_| ChunkError::TooLarge { len: id })?);
    }
    let keys = Int32Array::new(keys.into(), strings.nulls().cloned());
    Ok(DictionaryArray::try_new(keys, Arc::new(StringArray::from_iter_values(distinct.into_values())))?)
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
        let bad = |reason| ChunkError::ColumnEncoding { field: field.name().clone(), reason };
        let metadata = || -> HashMap<String, String> {
            let ours = |k: &String| [ENCODING_KEY, BASE_KEY, TYPE_KEY].contains(&k.as_str());
            field.metadata().iter().filter(|(k, _)| !ours(k)).map(clone_pair).collect()
        };
        match field.metadata().get(ENCODING_KEY).map(String::as_str) {
            None => {
                fields.push(Arc::clone(field));
                columns.push(Arc::clone(column));
            }
            Some(DICTIONARY) => {
                if field.data_type() != &dictionary_type() {
                    return Err(bad("marked as dictionary-encoded but not Dictionary<Int32, Utf8>"));
                }
                let restored = Field::clone(field).with_data_type(DataType::Utf8).with_metadata(metadata());
                fields.push(Arc::new(restored));
                columns.push(cast(column, &DataType::Utf8)?);
            }
            Some(OFFSET) => {
                let base: i64 = field
                    .metadata()
                    .get(BASE_KEY)
                    .and_then(|b| b.parse().ok())
                    .ok_or_else(|| bad("offset-encoded without a readable base"))?;
                let original = original_type(field).ok_or_else(|| bad("offset-encoded without its type"))?;
                let restored = from_offsets(column, base, &original)
                    .ok_or_else(|| bad("offset-encoded but not UInt8, UInt16 or UInt32"))?;
                fields.push(Arc::new(Field::clone(field).with_data_type(original).with_metadata(metadata())));
                columns.push(restored);
            }
            Some(_) => return Err(bad("unknown storage encoding")),
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
