//! SQL functions tarsmon adds: the TARS time labels and a latency percentile estimate.
//!
//! | function | result |
//! |---|---|
//! | `tars_fdate(time)` | `DATE`: the `f_date` of the 5-minute interval containing `time` |
//! | `tars_tflag(time)` | `VARCHAR`: its `f_tflag`, `HH05` … `HH60` |
//! | `tars_percentile(p, min_rsp_time, max_rsp_time, interv_5, …, interv_3000)` | `DOUBLE`: an **estimate** of the p-quantile latency (ms), `p` in [0, 1] |
//! | `tars_distr_merge(distr)` (aggregate) | `VARCHAR`: the `Distr` histograms `label\|count,…` merged bucket by bucket (by label, never by position) |

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Builder, Float64Builder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMillisecondType};
use datafusion::common::ScalarValue;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use tarsmon_ingest::property::{Distr, parse_distr};
use tarsmon_ingest::stat::LATENCY_BOUNDS;
use tarsmon_ingest::time::{TarsLabel, TimestampMs, UtcOffset};

/// The functions, for registration in a session.
pub fn all(offset: UtcOffset) -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(LabelFn::new(LabelKind::Date, offset)),
        ScalarUDF::from(LabelFn::new(LabelKind::Tflag, offset)),
        ScalarUDF::from(PercentileFn::new()),
    ]
}

/// The aggregate functions, for registration in a session.
pub fn aggregates() -> Vec<AggregateUDF> {
    vec![AggregateUDF::from(DistrMergeFn::new())]
}

/// `tars_distr_merge(distr)`: merges `Distr` histograms by bucket label.
#[derive(Debug, PartialEq, Eq, Hash)]
struct DistrMergeFn {
    signature: Signature,
}

impl DistrMergeFn {
    fn new() -> Self {
        Self { signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for DistrMergeFn {
    fn name(&self) -> &str {
        "tars_distr_merge"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(DistrAccumulator::default()))
    }
}

/// The histogram merged so far; `None` until a non-null input.
#[derive(Debug, Default)]
struct DistrAccumulator {
    merged: Option<Distr>,
}

impl DistrAccumulator {
    fn add(&mut self, values: &ArrayRef) -> Result<()> {
        let values = cast(values, &DataType::Utf8)?;
        for v in values.as_string::<i32>().iter().flatten() {
            let d = match parse_distr(v) {
                Ok(d) => d,
                Err(e) => return exec_err!("tars_distr_merge: {v:?} is not a Distr histogram: {e}"),
            };
            match &mut self.merged {
                Some(m) => m.merge(&d),
                None => self.merged = Some(d),
            }
        }
        Ok(())
    }
}

impl Accumulator for DistrAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        values.first().map_or(Ok(()), |v| self.add(v))
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(self.merged.as_ref().map(ToString::to_string)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.merged.as_ref().map_or(0, |d| d.buckets().len() * 24)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LabelKind {
    Date,
    Tflag,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct LabelFn {
    kind: LabelKind,
    offset_seconds: i32,
    signature: Signature,
}

impl LabelFn {
    fn new(kind: LabelKind, offset: UtcOffset) -> Self {
        Self { kind, offset_seconds: offset.seconds(), signature: Signature::any(1, Volatility::Immutable) }
    }
}

const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

impl ScalarUDFImpl for LabelFn {
    fn name(&self) -> &str {
        match self.kind {
            LabelKind::Date => "tars_fdate",
            LabelKind::Tflag => "tars_tflag",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            LabelKind::Date => DataType::Date32,
            LabelKind::Tflag => DataType::Utf8,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(arg) = arrays.first() else {
            return exec_err!("{} takes one argument", self.name());
        };
        let ts = cast(arg, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
        let ts = ts.as_primitive::<TimestampMillisecondType>();
        // The offset was validated when the session was built.
        let offset = UtcOffset::from_seconds(self.offset_seconds).unwrap_or_default();
        // Rows come in slots: runs of one timestamp. Computing a label takes a calendar
        // conversion, so a run reuses the label of its first row.
        let mut last: Option<(i64, TarsLabel)> = None;
        let labels = ts.iter().map(move |t| {
            t.map(|t| match last {
                Some((at, label)) if at == t => label,
                _ => {
                    let label = TarsLabel::of(TimestampMs(t), offset);
                    last = Some((t, label));
                    label
                }
            })
        });
        let out: ArrayRef = match self.kind {
            LabelKind::Date => {
                let mut b = Date32Builder::with_capacity(ts.len());
                for l in labels {
                    b.append_option(
                        l.map(|l| chrono::Datelike::num_days_from_ce(&l.date) - UNIX_EPOCH_DAYS_FROM_CE),
                    );
                }
                Arc::new(b.finish())
            }
            LabelKind::Tflag => {
                let mut b = StringBuilder::with_capacity(ts.len(), ts.len() * 4);
                for l in labels {
                    b.append_option(l.as_ref().map(TarsLabel::tflag_str));
                }
                Arc::new(b.finish())
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PercentileFn {
    signature: Signature,
}

impl PercentileFn {
    fn new() -> Self {
        Self { signature: Signature::uniform(12, vec![DataType::Float64], Volatility::Immutable) }
    }
}

/// Estimates the `p`-quantile from the nine latency buckets: find the bucket holding the
/// `p`·total-th call and interpolate linearly inside it, then clamp to [min, max] where known.
/// Calls of 3000 ms and more are not in any bucket in TarsCpp's reports, so quantiles that
/// fall there are reported as `max` (or 3000 when max is unknown).
pub fn estimate_percentile(p: f64, min: f64, max: f64, buckets: &[f64; 9]) -> Option<f64> {
    let total: f64 = buckets.iter().sum();
    if total <= 0.0 || !(0.0..=1.0).contains(&p) {
        return None;
    }
    let target = p * total;
    let mut seen = 0.0;
    let mut lower = 0.0;
    let mut estimate = if max > 0.0 { max } else { f64::from(LATENCY_BOUNDS[8]) };
    for (i, &n) in buckets.iter().enumerate() {
        let upper = f64::from(LATENCY_BOUNDS[i]);
        if n > 0.0 && seen + n >= target {
            estimate = lower + (upper - lower) * ((target - seen) / n).clamp(0.0, 1.0);
            break;
        }
        seen += n;
        lower = upper;
    }
    if min > 0.0 {
        estimate = estimate.max(min);
    }
    if max > 0.0 {
        estimate = estimate.min(max);
    }
    Some(estimate)
}

impl ScalarUDFImpl for PercentileFn {
    fn name(&self) -> &str {
        "tars_percentile"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if arrays.len() != 12 {
            return exec_err!("tars_percentile(p, min, max, interv_5, …, interv_3000) takes 12 arguments");
        }
        let cols = arrays.iter().map(|a| cast(a, &DataType::Float64)).collect::<Result<Vec<_>, _>>()?;
        let cols: Vec<_> = cols.iter().map(|c| c.as_primitive::<Float64Type>()).collect();
        let rows = cols[0].len();
        let mut out = Float64Builder::with_capacity(rows);
        for i in 0..rows {
            if cols.iter().any(|c| c.is_null(i)) {
                out.append_null();
                continue;
            }
            let buckets: [f64; 9] = std::array::from_fn(|j| cols[3 + j].value(i));
            out.append_option(estimate_percentile(
                cols[0].value(i),
                cols[1].value(i),
                cols[2].value(i),
                &buckets,
            ));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_interpolates_inside_buckets() {
        // 100 calls, all in (10, 50] ms.
        let b = [0.0, 0.0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(estimate_percentile(0.5, 0.0, 0.0, &b), Some(30.0));
        assert_eq!(estimate_percentile(0.5, 12.0, 20.0, &b), Some(20.0));
        assert_eq!(estimate_percentile(0.0, 12.0, 40.0, &b), Some(12.0));
        let b = [50.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 50.0];
        assert_eq!(estimate_percentile(0.25, 0.0, 0.0, &b), Some(2.5));
        assert_eq!(estimate_percentile(0.99, 0.0, 2900.0, &b), Some(2900.0));
        assert_eq!(estimate_percentile(0.5, 0.0, 0.0, &[0.0; 9]), None);
        assert_eq!(estimate_percentile(1.5, 0.0, 0.0, &b), None);
    }
}
