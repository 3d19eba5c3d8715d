//! TUP ("Tars Uni-Protocol") attributes, versions 2 and 3 (spec §2.7).
//!
//! A TUP call carries its arguments by *name*: `sBuffer` is one MAP at tag 0. Version 3 maps a
//! name to the value encoded alone at tag 0; version 2 adds a level keyed by the value's type
//! name (`int32`, `list<string>`, `tars.StatMicMsgHead`).

use std::borrow::Cow;

use crate::codec::{Decode, DecodeError, Encode, MapEntries, Reader, TupName, Writer};
use crate::packet::TUP_VERSION2;

/// A decoded or to-be-encoded TUP attribute map.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UniAttribute<'a> {
    version: i16,
    entries: Vec<Entry<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry<'a> {
    name: Cow<'a, str>,
    type_name: Cow<'a, str>,
    value: Cow<'a, [u8]>,
}

type V2Map<'a> = MapEntries<Cow<'a, str>, MapEntries<Cow<'a, str>, Cow<'a, [u8]>>>;
type V3Map<'a> = MapEntries<Cow<'a, str>, Cow<'a, [u8]>>;

impl<'a> UniAttribute<'a> {
    /// An empty attribute map for TUP `version` (2 or 3).
    pub fn new(version: i16) -> Self {
        Self { version, entries: Vec::new() }
    }

    /// Decodes `sBuffer` of a TUP packet of `version`.
    pub fn decode(version: i16, buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(buf);
        let entries = if version == TUP_VERSION2 {
            let map: V2Map<'a> = r.read(0)?;
            map.0
                .into_iter()
                .flat_map(|(name, inner)| {
                    inner.0.into_iter().map(move |(type_name, value)| Entry {
                        name: name.clone(),
                        type_name,
                        value,
                    })
                })
                .collect()
        } else {
            let map: V3Map<'a> = r.read(0)?;
            map.0
                .into_iter()
                .map(|(name, value)| Entry { name, type_name: Cow::Borrowed(""), value })
                .collect()
        };
        Ok(Self { version, entries })
    }

    /// The TUP version.
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Reads the attribute `name`; `None` if absent.
    ///
    /// In version 2 the type name is not checked: a value is found by its attribute name
    /// alone, which accepts both Node's `List<…>` and C++'s `list<…>` spellings.
    pub fn get<T: Decode<'a>>(&self, name: &str) -> Result<Option<T>, DecodeError> {
        match self.entries.iter().find(|e| e.name == name) {
            Some(Entry { value: Cow::Borrowed(bytes), .. }) => Reader::new(bytes).read(0).map(Some),
            Some(Entry { value: Cow::Owned(_), .. }) => {
                // Values are owned only when they arrived LIST-encoded (never from a real
                // client, which always sends SimpleList); they cannot lend to `'a`.
                Err(DecodeError::Mismatch { tag: 0, found: 9, expected: "list<char>" })
            }
            None => Ok(None),
        }
    }

    /// The encoded value of attribute `name` (a field at tag 0), borrowed from the input.
    pub fn get_raw(&self, name: &str) -> Option<&'a [u8]> {
        match self.entries.iter().find(|e| e.name == name)?.value {
            Cow::Borrowed(bytes) => Some(bytes),
            Cow::Owned(_) => None,
        }
    }

    /// Adds the attribute `name` with `value`.
    pub fn put<T: Encode + TupName>(&mut self, name: &str, value: &T) {
        let mut w = Writer::new();
        value.encode(&mut w, 0);
        self.entries.push(Entry {
            name: Cow::Owned(name.to_owned()),
            type_name: Cow::Owned(if self.version == TUP_VERSION2 { T::tup_name() } else { String::new() }),
            value: Cow::Owned(w.into_inner()),
        });
    }

    /// Whether no attribute is set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Encodes the map at tag 0, as `sBuffer` of a TUP packet. An empty map encodes as
    /// `08 0c`, never as zero bytes (spec §2.7).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.map_begin(self.entries.len(), 0);
        for e in &self.entries {
            w.string(e.name.as_bytes(), 0);
            if self.version == TUP_VERSION2 {
                w.map_begin(1, 1);
                w.string(e.type_name.as_bytes(), 0);
                w.bytes(&e.value, 1);
            } else {
                w.bytes(&e.value, 1);
            }
        }
        w.into_inner()
    }
}
