//! Business metrics ("property"): the key and value of one aggregated row of the `property`
//! table, the policies TARS clients aggregate by, the decoding of their value strings, and the
//! table's Arrow schema.
//!
//! A `reportPropMsg` entry is a head (`StatPropMsgHead`) and a list of `{policy, value}` items
//! (spec §3.1). Each item becomes one row: the key is the head's identifying fields plus the
//! policy ([`PropertyKey`]), the value is the item decoded by [`parse_report`]
//! ([`PropertyValue`]). Unlike tarsproperty, which re-parses and re-formats strings on every
//! merge (§3.3), rows hold numbers, so merging is exact:
//!
//! | policy | merge | `value` column |
//! |---|---|---|
//! | `Sum` | add | the sum |
//! | `Count` | add | the count |
//! | `Max` / `Min` | larger / smaller | the extreme |
//! | `Avg` | sums add, sample counts add | `sum / count`, weighted by samples |
//! | `Distr` | counts add per bucket label | the total count |
//! | anything else | sums add, reports add | the sum |

mod batch;
mod parse;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use hashbrown::Equivalent;

pub use batch::{PropertyBatchBuilder, property_schema, read_property_batch};
pub use parse::{ValueError, parse_distr, parse_report};

/// How a property is aggregated: the `policy` string of a `StatPropInfo` (spec §3.1, §3.2).
///
/// Names are case-sensitive, as in TARS: `sum` is not `Sum`. A name outside the six standard
/// ones is kept as [`Policy::Other`] (its rows are stored and can be counted), never rejected.
///
/// Policies compare, order and hash by name ([`Policy::as_str`]), so `Other("Sum")` — which
/// [`Policy::parse`] never makes — is the same policy as [`Policy::Sum`], and a borrowed key's
/// `&str` policy hashes like the owned one.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Sum of the reported values.
    Sum,
    /// Average of the samples.
    Avg,
    /// Largest reported value.
    Max,
    /// Smallest non-zero reported value.
    Min,
    /// Number of samples.
    Count,
    /// Samples per bucket (a histogram).
    Distr,
    /// A policy name no standard client sends.
    Other(String),
}

impl Policy {
    /// The standard policy called `name`, if it is one.
    pub fn known(name: &str) -> Option<Policy> {
        Some(match name {
            "Sum" => Policy::Sum,
            "Avg" => Policy::Avg,
            "Max" => Policy::Max,
            "Min" => Policy::Min,
            "Count" => Policy::Count,
            "Distr" => Policy::Distr,
            _ => return None,
        })
    }

    /// The policy called `name` (allocates only for a non-standard name).
    pub fn parse(name: &str) -> Policy {
        Self::known(name).unwrap_or_else(|| Policy::Other(name.to_owned()))
    }

    /// The policy's name, as reported and as stored in the `policy` column.
    pub fn as_str(&self) -> &str {
        match self {
            Policy::Sum => "Sum",
            Policy::Avg => "Avg",
            Policy::Max => "Max",
            Policy::Min => "Min",
            Policy::Count => "Count",
            Policy::Distr => "Distr",
            Policy::Other(name) => name,
        }
    }

    /// Whether this is one of the six standard policies.
    pub fn is_known(&self) -> bool {
        Self::known(self.as_str()).is_some()
    }
}

impl PartialEq for Policy {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Policy {}

impl PartialOrd for Policy {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Policy {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

// Hashes as the name, so `PropertyKeyRef`'s `&str` policy hashes identically.
impl Hash for Policy {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of an aggregated property row within a slot (owned): the fields of
/// `StatPropMsgHead` that tarsproperty keys by (spec §3.1 `key[...]`, §3.3), plus the policy.
/// `sContainer` and `iPropertyVer` are not part of it (tarsproperty discards them, §3.3).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PropertyKey {
    /// Reporting module (`moduleName`; TarsCpp appends `.` + set name+area+id when set is on).
    pub module_name: String,
    /// Reporter IP: the peer address of the connection (tarsproperty ignores the head's `ip`,
    /// which TarsCpp sends empty, and uses `current->getIp()`, spec §1 and §3.3).
    pub ip: String,
    /// Property name.
    pub property_name: String,
    /// Set name.
    pub set_name: String,
    /// Set area.
    pub set_area: String,
    /// Set group id.
    pub set_id: String,
    /// The policy: one row per property and policy.
    pub policy: Policy,
}

/// A borrowed [`PropertyKey`], used to find a row without allocating. `policy` is the policy's
/// name as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the fields mirror PropertyKey's
pub struct PropertyKeyRef<'a> {
    pub module_name: &'a str,
    pub ip: &'a str,
    pub property_name: &'a str,
    pub set_name: &'a str,
    pub set_area: &'a str,
    pub set_id: &'a str,
    pub policy: &'a str,
}

macro_rules! hash_key {
    ($k:expr, $policy:expr, $state:expr) => {{
        $k.module_name.hash($state);
        $k.ip.hash($state);
        $k.property_name.hash($state);
        $k.set_name.hash($state);
        $k.set_area.hash($state);
        $k.set_id.hash($state);
        $policy.hash($state);
    }};
}

// PropertyKey and PropertyKeyRef must hash identically (`String` and `Policy` hash as `str`),
// so a lookup by reference finds the owned key.
impl Hash for PropertyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key!(self, self.policy.as_str(), state);
    }
}

impl Hash for PropertyKeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_key!(self, self.policy, state);
    }
}

impl Equivalent<PropertyKey> for PropertyKeyRef<'_> {
    fn equivalent(&self, k: &PropertyKey) -> bool {
        self.property_name == k.property_name
            && self.policy == k.policy.as_str()
            && self.module_name == k.module_name
            && self.ip == k.ip
            && self.set_name == k.set_name
            && self.set_area == k.set_area
            && self.set_id == k.set_id
    }
}

impl From<&PropertyKeyRef<'_>> for PropertyKey {
    fn from(k: &PropertyKeyRef<'_>) -> Self {
        PropertyKey {
            module_name: k.module_name.to_owned(),
            ip: k.ip.to_owned(),
            property_name: k.property_name.to_owned(),
            set_name: k.set_name.to_owned(),
            set_area: k.set_area.to_owned(),
            set_id: k.set_id.to_owned(),
            policy: Policy::parse(k.policy),
        }
    }
}

impl PropertyKey {
    /// Borrows the key.
    pub fn as_ref(&self) -> PropertyKeyRef<'_> {
        PropertyKeyRef {
            module_name: &self.module_name,
            ip: &self.ip,
            property_name: &self.property_name,
            set_name: &self.set_name,
            set_area: &self.set_area,
            set_id: &self.set_id,
            policy: self.policy.as_str(),
        }
    }
}

/// Heap bytes set aside for the buckets of a `Distr` row: room for 16 buckets (TarsCpp's
/// built-in distributions have 13 bounds and `max`). A row with more buckets takes more than
/// this estimate, at most [`Distr::MAX_BOUNDS`] + 1 buckets.
const DISTR_HEAP_ESTIMATE: usize = 16 * std::mem::size_of::<(DistrLabel, i64)>();

impl PropertyKeyRef<'_> {
    /// Heap bytes the owned row will take: its strings, a non-standard policy's name and, for
    /// `Distr`, an estimate of its buckets (the memory budget counts keys, and a `Distr`
    /// value's buckets live on the heap).
    pub fn heap_bytes(&self) -> usize {
        let policy = match Policy::known(self.policy) {
            Some(Policy::Distr) => DISTR_HEAP_ESTIMATE,
            Some(_) => 0,
            None => self.policy.len(),
        };
        self.module_name.len()
            + self.ip.len()
            + self.property_name.len()
            + self.set_name.len()
            + self.set_area.len()
            + self.set_id.len()
            + policy
    }
}

impl PropertyKey {
    /// Heap bytes the row holds (see [`PropertyKeyRef::heap_bytes`]).
    pub fn heap_bytes(&self) -> usize {
        self.as_ref().heap_bytes()
    }
}

/// The label of a `Distr` bucket: an upper bound, or `max` for the values above every bound.
///
/// TarsCpp counts a value `v` in the first bound `> v` (`upper_bound`) and in `max` past the
/// last one; Node counts it in the first bound `>= v` and drops values past the last one (spec
/// §3.2). Either way a bucket is "at most about this bound", and buckets of the same label are
/// merged.
///
/// Labels order numerically (by [`f64::total_cmp`]) with `max` last. Parsed bounds are finite
/// and never `-0`.
#[derive(Debug, Clone, Copy)]
pub enum DistrLabel {
    /// A bucket's upper bound.
    Bound(f64),
    /// The bucket above every bound.
    Max,
}

impl Ord for DistrLabel {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (DistrLabel::Bound(a), DistrLabel::Bound(b)) => a.total_cmp(b),
            (DistrLabel::Bound(_), DistrLabel::Max) => Ordering::Less,
            (DistrLabel::Max, DistrLabel::Bound(_)) => Ordering::Greater,
            (DistrLabel::Max, DistrLabel::Max) => Ordering::Equal,
        }
    }
}

impl PartialOrd for DistrLabel {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for DistrLabel {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for DistrLabel {}

impl fmt::Display for DistrLabel {
    /// A bound prints as the shortest decimal that parses back to it (`5`, `0.5`), as TarsCpp
    /// prints its integer bounds; the last bucket prints as `max`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistrLabel::Bound(b) => write!(f, "{b}"),
            DistrLabel::Max => f.write_str("max"),
        }
    }
}

/// The counts per bucket of a `Distr` row: sorted by label, each label once.
///
/// Reports with different bucket sets merge label by label, so a TarsCpp report (with `max`)
/// and a Node report (without) each keep their buckets — tarsproperty adds them by position
/// and reads past the shorter one (spec §3.3, BUG?).
///
/// At most [`Distr::MAX_BOUNDS`] bounds (plus `max`) are kept. A count for a new bound past
/// that is added to the next larger bucket (or `max`), like a non-standard stat latency bound:
/// the total stays exact, the histogram gets coarser, and which bounds are kept depends on
/// arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Distr {
    buckets: Vec<(DistrLabel, i64)>,
}

impl Distr {
    /// The most bounds a row keeps (the `max` bucket comes on top).
    pub const MAX_BOUNDS: usize = 64;

    /// Adds `count` to the bucket `label` (see the type's docs for what happens past
    /// [`Self::MAX_BOUNDS`]). Counts saturate at `i64::MAX`.
    pub fn add(&mut self, label: DistrLabel, count: i64) {
        match self.buckets.binary_search_by(|(l, _)| l.cmp(&label)) {
            Ok(i) => self.buckets[i].1 = self.buckets[i].1.saturating_add(count),
            Err(i) if label == DistrLabel::Max || self.bounds() < Self::MAX_BOUNDS => {
                self.buckets.insert(i, (label, count));
            }
            // Full: the next larger bucket holds "at most" this bound too. `max` sorts last,
            // so past the end there is no `max` yet.
            Err(i) => match self.buckets.get_mut(i) {
                Some((_, c)) => *c = c.saturating_add(count),
                None => self.buckets.push((DistrLabel::Max, count)),
            },
        }
    }

    /// Merges `other` into `self`, label by label.
    pub fn merge(&mut self, other: &Distr) {
        let same_labels = self.buckets.len() == other.buckets.len()
            && self.buckets.iter().zip(&other.buckets).all(|((a, _), (b, _))| a == b);
        if same_labels {
            // The usual case: every report of a property has the same buckets.
            for ((_, a), (_, b)) in self.buckets.iter_mut().zip(&other.buckets) {
                *a = a.saturating_add(*b);
            }
        } else {
            for &(label, count) in &other.buckets {
                self.add(label, count);
            }
        }
    }

    /// The buckets, sorted by label.
    pub fn buckets(&self) -> &[(DistrLabel, i64)] {
        &self.buckets
    }

    /// The number of samples in all buckets (saturating).
    pub fn total(&self) -> i64 {
        self.buckets.iter().fold(0i64, |t, (_, c)| t.saturating_add(*c))
    }

    /// Whether there are no buckets.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The number of bounds (buckets other than `max`).
    fn bounds(&self) -> usize {
        match self.buckets.last() {
            Some((DistrLabel::Max, _)) => self.buckets.len() - 1,
            _ => self.buckets.len(),
        }
    }
}

impl fmt::Display for Distr {
    /// The TarsCpp wire form, `label|count,…` in label order (`5|3,10|0,max|1`), which
    /// [`parse_distr`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (label, count)) in self.buckets.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{label}|{count}")?;
        }
        Ok(())
    }
}

/// The aggregate of one property row: what the reports of one property and policy add up to
/// in a slot. The variant matches the key's policy ([`PropertyValue::fits`]).
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// `Sum`: the sum of the reported sums.
    Sum(f64),
    /// `Count`: the sum of the reported counts (saturating).
    Count(i64),
    /// `Max`: the largest reported maximum.
    Max(f64),
    /// `Min`: the smallest reported (non-zero) minimum.
    Min(f64),
    /// `Avg`: the sum of the samples and how many there were, so that the average is weighted
    /// by samples. A report that gives only its average counts as one sample (see
    /// [`parse_report`]). `count` is at least 1 for parsed values.
    Avg {
        /// Sum of the samples.
        sum: f64,
        /// Number of samples (saturating).
        count: i64,
    },
    /// `Distr`: samples per bucket.
    Distr(Distr),
    /// A non-standard policy: its numeric values are summed and its reports counted, which is
    /// order-independent (tarsproperty keeps the first value it received, §3.3; "first" or
    /// "last" depend on which shard merges first, so they are not used). `sum / reports` is
    /// the mean report.
    Other {
        /// Sum of the reported values.
        sum: f64,
        /// Number of reports (saturating).
        reports: i64,
    },
}

impl PropertyValue {
    /// Folds `other` into `self` according to the policy (the table in the module docs).
    ///
    /// Values of one key always have the same variant, because the key carries the policy.
    /// Should two different variants meet anyway, `other` is ignored: nothing sensible can be
    /// made of, say, a maximum and a histogram.
    pub fn merge(&mut self, other: &PropertyValue) {
        use PropertyValue as V;
        match (self, other) {
            (V::Sum(a), V::Sum(b)) => *a += b,
            (V::Count(a), V::Count(b)) => *a = a.saturating_add(*b),
            (V::Max(a), V::Max(b)) => *a = a.max(*b),
            (V::Min(a), V::Min(b)) => *a = a.min(*b),
            (V::Avg { sum, count }, V::Avg { sum: s, count: c }) => {
                *sum += s;
                *count = count.saturating_add(*c);
            }
            (V::Distr(a), V::Distr(b)) => a.merge(b),
            (V::Other { sum, reports }, V::Other { sum: s, reports: r }) => {
                *sum += s;
                *reports = reports.saturating_add(*r);
            }
            _ => {}
        }
    }

    /// The policy's natural value (the `value` column): the sum, count, maximum or minimum;
    /// the sample-weighted average (0 with no samples); a histogram's total count; a
    /// non-standard policy's sum.
    pub fn value(&self) -> f64 {
        match self {
            PropertyValue::Sum(v) | PropertyValue::Max(v) | PropertyValue::Min(v) => *v,
            PropertyValue::Other { sum, .. } => *sum,
            PropertyValue::Count(c) => *c as f64,
            PropertyValue::Avg { sum, count } if *count > 0 => sum / *count as f64,
            PropertyValue::Avg { .. } => 0.0,
            PropertyValue::Distr(d) => d.total() as f64,
        }
    }

    /// The additive sum behind the value (the `sum` column): for `Sum`, `Avg` and non-standard
    /// policies; `None` for the others.
    pub fn sum(&self) -> Option<f64> {
        match self {
            PropertyValue::Sum(s)
            | PropertyValue::Avg { sum: s, .. }
            | PropertyValue::Other { sum: s, .. } => Some(*s),
            _ => None,
        }
    }

    /// The additive count behind the value (the `count` column): `Count`'s count, `Avg`'s
    /// samples, `Distr`'s total, a non-standard policy's reports; `None` for `Sum`, `Max`,
    /// `Min`.
    pub fn count(&self) -> Option<i64> {
        match self {
            PropertyValue::Count(c) | PropertyValue::Avg { count: c, .. } => Some(*c),
            PropertyValue::Other { reports, .. } => Some(*reports),
            PropertyValue::Distr(d) => Some(d.total()),
            _ => None,
        }
    }

    /// Whether this value is of the kind `policy` aggregates.
    pub fn fits(&self, policy: &Policy) -> bool {
        matches!(
            (self, policy),
            (PropertyValue::Sum(_), Policy::Sum)
                | (PropertyValue::Count(_), Policy::Count)
                | (PropertyValue::Max(_), Policy::Max)
                | (PropertyValue::Min(_), Policy::Min)
                | (PropertyValue::Avg { .. }, Policy::Avg)
                | (PropertyValue::Distr(_), Policy::Distr)
                | (PropertyValue::Other { .. }, Policy::Other(_))
        )
    }
}
