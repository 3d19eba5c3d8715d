//! Decoding the `value` string of one `StatPropInfo` into a [`PropertyValue`].
//!
//! Every encoding spec §3.2 lists is accepted, whichever client sent it:
//! - TarsCpp: integers for `Sum`/`Count`/`Max`/`Min`; `Avg` as a plain average printed by
//!   `tostr(double)` (`12.5`, or `1.23457e+07`); `Distr` as `r0|c0,…,rN|cN,max|cMax`.
//! - Node (`@tars/monitor`): JavaScript numbers (fractions allowed), `Avg` floored to an
//!   integer, `Distr` without the `max|` bucket. Its heads say `iPropertyVer=2`, as TarsCpp's
//!   do; the version changes no value encoding and tarsproperty discards it (§3.3), so it is no
//!   input here.
//! - tarsproperty's own merge form `sum=count` for `Avg` (§3.3), which clients may send too.
//!
//! Numbers are decimal text with optional sign, fraction and exponent, surrounding ASCII
//! whitespace ignored. They must be finite and smaller in magnitude than 2^63 (tarsproperty
//! keeps integers as `int64`): larger ones, `NaN` and `inf` are errors, not silently clamped.
//! The caller counts errors; nothing here panics.

use thiserror::Error;

use super::{Distr, DistrLabel, PropertyValue};

/// Why a property value string was not accepted. Small and `Copy`: decoding is on the hot
/// path and the caller only counts these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ValueError {
    /// The value (or a part of it) is empty.
    #[error("empty value")]
    Empty,
    /// Not a decimal number.
    #[error("not a decimal number")]
    NotANumber,
    /// `NaN` or an infinity.
    #[error("not a finite number")]
    NotFinite,
    /// A number whose magnitude is 2^63 or more.
    #[error("number out of range")]
    OutOfRange,
    /// A fraction where a whole number is needed (a count).
    #[error("not a whole number")]
    NotAnInteger,
    /// A negative count.
    #[error("negative count")]
    NegativeCount,
    /// A `Distr` field that is not `label|count`.
    #[error("Distr bucket is not label|count")]
    BadBucket,
    /// An `Avg` of zero samples with a non-zero sum (`5=0`).
    #[error("Avg with no samples but a non-zero sum")]
    ZeroSamples,
}

/// TarsCpp's initial `Max` accumulator: an untouched `Max` reports it once (spec §3.2, "the
/// first report of an untouched Max is `-9999999`").
const UNTOUCHED_MAX: f64 = -9_999_999.0;

/// Magnitudes from here on are rejected: 2^63, where `int64` ends.
const LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// Decodes the `value` of a `{policy, value}` item reported for `policy`.
///
/// `Ok(None)` is a well-formed report that carries no value, and is not recorded:
/// - `Max` `-9999999`: TarsCpp's untouched accumulator, not a measurement (§3.2). Storing it, as
///   tarsproperty does, shows a maximum of −9999999 (§11 item 6).
/// - `Min` `0`: TarsCpp's `Min` is the non-zero minimum and its client never sends `"0"`
///   (§3.2, "the client skips sending Min when the value is 0"); a `0` from another client is
///   skipped the same way, so every `Min` row is a non-zero minimum, like the stat table's
///   `min_rsp_time`.
/// - `Avg` `0=0`: zero samples.
///
/// Per policy (names case-sensitive, §3.2):
/// - `Sum`: a number. `Count`: a whole number `>= 0`.
/// - `Max`, `Min`: a number.
/// - `Avg`: `sum=count` (tarsproperty's form, §3.3) gives its sum and sample count; a plain
///   number — TarsCpp's average, Node's floored average — counts as **one sample** of that
///   value. The clients do not send their sample count (§3.2), and tarsproperty counts such a
///   report as 1 too (`cnt = new has '=' ? new[1] : 1`, §3.3). TarsCpp sends `"0"` for an Avg
///   with no samples; that cannot be told from a real average of 0, so it is one sample of 0,
///   as in tarsproperty.
/// - `Distr`: see [`parse_distr`].
/// - Anything else: a number, summed, one report (see [`PropertyValue::Other`]).
pub fn parse_report(policy: &str, value: &str) -> Result<Option<PropertyValue>, ValueError> {
    Ok(Some(match policy {
        "Sum" => PropertyValue::Sum(parse_number(value)?),
        "Count" => PropertyValue::Count(parse_count(value)?),
        "Max" => {
            let v = parse_number(value)?;
            if v == UNTOUCHED_MAX {
                return Ok(None);
            }
            PropertyValue::Max(v)
        }
        "Min" => {
            let v = parse_number(value)?;
            if v == 0.0 {
                return Ok(None);
            }
            PropertyValue::Min(v)
        }
        "Avg" => return parse_avg(value),
        "Distr" => PropertyValue::Distr(parse_distr(value)?),
        _ => PropertyValue::Other { sum: parse_number(value)?, reports: 1 },
    }))
}

/// Decodes a `Distr` value: comma-separated `label|count` fields, a label being a bucket bound
/// (a number) or `max`, a count a whole number `>= 0`. With or without the `max` bucket
/// (TarsCpp sends it, Node does not, §3.2); in any order; empty fields (`5|1,,`) are skipped;
/// a label given twice has its counts added. At least one bucket is required.
///
/// This is also the format of the `distr` column ([`Distr`]'s `Display`).
pub fn parse_distr(value: &str) -> Result<Distr, ValueError> {
    let mut d = Distr::default();
    for field in value.split(',') {
        let field = field.trim_ascii();
        if field.is_empty() {
            continue;
        }
        let (label, count) = field.split_once('|').ok_or(ValueError::BadBucket)?;
        let label = match label.trim_ascii() {
            "max" => DistrLabel::Max,
            bound => DistrLabel::Bound(parse_number(bound)?),
        };
        d.add(label, parse_count(count)?);
    }
    if d.is_empty() { Err(ValueError::Empty) } else { Ok(d) }
}

/// `Avg`: `sum=count` or a plain average (one sample); see [`parse_report`].
fn parse_avg(value: &str) -> Result<Option<PropertyValue>, ValueError> {
    let Some((sum, count)) = value.split_once('=') else {
        return Ok(Some(PropertyValue::Avg { sum: parse_number(value)?, count: 1 }));
    };
    let (sum, count) = (parse_number(sum)?, parse_count(count)?);
    match count {
        0 if sum == 0.0 => Ok(None),
        0 => Err(ValueError::ZeroSamples),
        count => Ok(Some(PropertyValue::Avg { sum, count })),
    }
}

/// A finite number of magnitude below 2^63; `-0` becomes `0`.
fn parse_number(s: &str) -> Result<f64, ValueError> {
    let s = s.trim_ascii();
    if s.is_empty() {
        return Err(ValueError::Empty);
    }
    let v: f64 = s.parse().map_err(|_| ValueError::NotANumber)?;
    if v.is_nan() || (v.is_infinite() && s.bytes().any(|b| b.eq_ignore_ascii_case(&b'i'))) {
        // `NaN`, `inf`, `infinity` as text.
        return Err(ValueError::NotFinite);
    }
    if v.abs() >= LIMIT {
        // Includes digits that overflow to infinity (`1e400`).
        return Err(ValueError::OutOfRange);
    }
    // `-0` and `0` are one bucket label, one minimum.
    Ok(if v == 0.0 { 0.0 } else { v })
}

/// A whole number `>= 0`: integer text, or a number whose value is whole (`1e3`, as
/// JavaScript may print a large count).
fn parse_count(s: &str) -> Result<i64, ValueError> {
    let s = s.trim_ascii();
    let n = match s.parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            let v = parse_number(s)?;
            if v.fract() != 0.0 {
                return Err(ValueError::NotAnInteger);
            }
            // |v| < 2^63 and whole, so the cast is exact.
            v as i64
        }
    };
    if n < 0 { Err(ValueError::NegativeCount) } else { Ok(n) }
}
