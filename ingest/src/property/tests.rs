#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::hash::BuildHasher;

use arrow::array::{Array, AsArray};
use proptest::prelude::*;

use super::DistrLabel::{Bound, Max};
use super::*;
use crate::table::{PropertyTable, TableKind};
use crate::time::TimestampMs;

/// Parses and merges `values` reported for `policy`, in order; `None` if none carried a value.
fn merged(policy: &str, values: &[&str]) -> Option<PropertyValue> {
    let mut acc: Option<PropertyValue> = None;
    for v in values {
        if let Some(v) = parse_report(policy, v).unwrap() {
            match &mut acc {
                Some(a) => a.merge(&v),
                None => acc = Some(v),
            }
        }
    }
    acc
}

fn distr(buckets: &[(DistrLabel, i64)]) -> Distr {
    let mut d = Distr::default();
    for &(l, c) in buckets {
        d.add(l, c);
    }
    d
}

#[test]
fn policy_names_are_case_sensitive_and_compare_by_name() {
    for p in [Policy::Sum, Policy::Avg, Policy::Max, Policy::Min, Policy::Count, Policy::Distr] {
        assert_eq!(Policy::parse(p.as_str()), p);
        assert!(p.is_known());
    }
    assert_eq!(Policy::parse("sum"), Policy::Other("sum".into()));
    assert!(!Policy::parse("sum").is_known());
    assert_ne!(Policy::parse("sum"), Policy::Sum);
    // Equality and hashing are by name, so a hand-made Other("Sum") is Sum.
    assert_eq!(Policy::Other("Sum".into()), Policy::Sum);
    let s = hashbrown::DefaultHashBuilder::default();
    assert_eq!(s.hash_one(Policy::Sum), s.hash_one("Sum"));
}

#[test]
fn borrowed_and_owned_keys_hash_and_compare_alike() {
    let r = PropertyKeyRef {
        module_name: "App.Server",
        ip: "10.0.0.1",
        property_name: "Adapter.queue",
        set_name: "",
        set_area: "",
        set_id: "",
        policy: "Avg",
    };
    let s = hashbrown::DefaultHashBuilder::default();
    for policy in ["Avg", "Distr", "MyPolicy"] {
        let r = PropertyKeyRef { policy, ..r };
        let k = PropertyKey::from(&r);
        assert_eq!(s.hash_one(r), s.hash_one(&k));
        assert!(r.equivalent(&k));
        assert_eq!(k.as_ref(), r);
        assert_eq!(k.heap_bytes(), r.heap_bytes());
    }
    let k = PropertyKey::from(&r);
    assert!(!PropertyKeyRef { policy: "Max", ..r }.equivalent(&k));
    assert!(!PropertyKeyRef { ip: "10.0.0.2", ..r }.equivalent(&k));
    // A Distr row reserves room for its buckets; an unknown policy pays for its name.
    let strings = r.heap_bytes();
    assert!(PropertyKeyRef { policy: "Distr", ..r }.heap_bytes() > strings);
    assert_eq!(PropertyKeyRef { policy: "MyPolicy", ..r }.heap_bytes(), strings + 8);
}

#[test]
fn sum_and_count_add() {
    // TarsCpp: integers, "0" every idle interval.
    assert_eq!(merged("Sum", &["3", "0", "4", "-2"]), Some(PropertyValue::Sum(5.0)));
    // Node: JavaScript numbers, fractions allowed.
    assert_eq!(merged("Sum", &["1.5", "2.25"]), Some(PropertyValue::Sum(3.75)));
    assert_eq!(merged("Count", &["2", "0", "5"]), Some(PropertyValue::Count(7)));
    // A whole number printed as a float or with an exponent is a count too.
    assert_eq!(merged("Count", &["1e3", "2.0"]), Some(PropertyValue::Count(1002)));
    let v = merged("Count", &["3", "4"]).unwrap();
    assert_eq!((v.value(), v.sum(), v.count()), (7.0, None, Some(7)));
    let v = merged("Sum", &["3", "4"]).unwrap();
    assert_eq!((v.value(), v.sum(), v.count()), (7.0, Some(7.0), None));
}

#[test]
fn max_ignores_the_untouched_sentinel() {
    // §3.2: the first report of an untouched TarsCpp Max is -9999999.
    assert_eq!(parse_report("Max", "-9999999").unwrap(), None);
    assert_eq!(merged("Max", &["-9999999", "5", "12", "7"]), Some(PropertyValue::Max(12.0)));
    // After get() it resets to 0, which is a value.
    assert_eq!(merged("Max", &["-9999999", "0"]), Some(PropertyValue::Max(0.0)));
    // Node: floats, negatives.
    assert_eq!(merged("Max", &["-3.5", "-7"]), Some(PropertyValue::Max(-3.5)));
    assert_eq!(merged("Max", &["-9999999"]), None);
}

#[test]
fn min_skips_zero() {
    // §3.2: the TarsCpp client never sends Min "0"; it is the non-zero minimum.
    assert_eq!(parse_report("Min", "0").unwrap(), None);
    assert_eq!(parse_report("Min", "-0.0").unwrap(), None);
    assert_eq!(merged("Min", &["5", "0", "3", "9"]), Some(PropertyValue::Min(3.0)));
    assert_eq!(merged("Min", &["2.5", "-1"]), Some(PropertyValue::Min(-1.0)));
    let v = merged("Min", &["4"]).unwrap();
    assert_eq!((v.value(), v.sum(), v.count()), (4.0, None, None));
}

#[test]
fn avg_is_weighted_by_samples() {
    // TarsCpp plain averages: one sample each (the client sends no count, §3.2).
    let v = merged("Avg", &["12.5", "7.5"]).unwrap();
    assert_eq!(v, PropertyValue::Avg { sum: 20.0, count: 2 });
    assert_eq!(v.value(), 10.0);
    // The server-merge form `sum=count` carries its samples: 30 over 3 samples and 12.5 over
    // one give 42.5 / 4, not the average of averages (10 + 12.5) / 2.
    let v = merged("Avg", &["30=3", "12.5"]).unwrap();
    assert_eq!(v, PropertyValue::Avg { sum: 42.5, count: 4 });
    assert_eq!(v.value(), 10.625);
    assert_eq!((v.sum(), v.count()), (Some(42.5), Some(4)));
    // Node floors its average: still a plain number, one sample.
    assert_eq!(merged("Avg", &["12", "3"]), Some(PropertyValue::Avg { sum: 15.0, count: 2 }));
    // TarsCpp's tostr(double) may use an exponent.
    assert_eq!(merged("Avg", &["1.23457e+07"]), Some(PropertyValue::Avg { sum: 12_345_700.0, count: 1 }));
    // "0" (TarsCpp with no samples) is one sample of 0, as in tarsproperty.
    assert_eq!(merged("Avg", &["0", "10"]).unwrap().value(), 5.0);
    // Zero samples carry nothing.
    assert_eq!(parse_report("Avg", "0=0").unwrap(), None);
    assert_eq!(merged("Avg", &["0=0", "6=2"]), Some(PropertyValue::Avg { sum: 6.0, count: 2 }));
}

#[test]
fn distr_adds_counts_per_label() {
    // TarsCpp: `r|c,...,max|c`.
    let v = merged("Distr", &["5|1,10|2,max|3", "5|4,10|0,max|1"]).unwrap();
    assert_eq!(v, PropertyValue::Distr(distr(&[(Bound(5.0), 5), (Bound(10.0), 2), (Max, 4)])));
    assert_eq!((v.value(), v.sum(), v.count()), (11.0, None, Some(11)));
    let PropertyValue::Distr(d) = &v else { unreachable!() };
    assert_eq!(d.to_string(), "5|5,10|2,max|4");
    // Node: no `max` bucket.
    assert_eq!(
        merged("Distr", &["5|1,10|2", "10|1"]),
        Some(PropertyValue::Distr(distr(&[(Bound(5.0), 1), (Bound(10.0), 3)])))
    );
}

#[test]
fn distr_with_different_bucket_sets_keeps_every_bucket() {
    // A TarsCpp report (with max) and a Node report (without), which tarsproperty merges by
    // position and out of bounds (§3.3), plus unrelated bounds, fractions and an unsorted one.
    let v = merged("Distr", &["5|1,10|2,max|3", "5|10,20|20", "1|100", "0.5|7,20|1,5|1"]).unwrap();
    let expected = distr(&[
        (Bound(0.5), 7),
        (Bound(1.0), 100),
        (Bound(5.0), 12),
        (Bound(10.0), 2),
        (Bound(20.0), 21),
        (Max, 3),
    ]);
    assert_eq!(v, PropertyValue::Distr(expected.clone()));
    assert_eq!(expected.to_string(), "0.5|7,1|100,5|12,10|2,20|21,max|3");
    assert_eq!(expected.total(), 145);
    // A label given twice in one report adds up; empty fields are skipped.
    assert_eq!(parse_distr("5|1,,5|2, ").unwrap(), distr(&[(Bound(5.0), 3)]));
}

#[test]
fn distr_past_the_bound_limit_coarsens_without_losing_counts() {
    let mut d = Distr::default();
    for b in (0..Distr::MAX_BOUNDS as i64).map(|b| b * 10) {
        d.add(Bound(b as f64), 1);
    }
    // Full: a new bound below the last goes to the next larger bucket, above every bound to max.
    d.add(Bound(5.0), 100);
    d.add(Bound(1e6), 1000);
    assert_eq!(d.buckets().len(), Distr::MAX_BOUNDS + 1);
    assert_eq!(d.buckets()[1], (Bound(10.0), 101));
    assert_eq!(d.buckets().last(), Some(&(Max, 1000)));
    d.add(Bound(1e7), 1);
    assert_eq!(d.buckets().last(), Some(&(Max, 1001)));
    assert_eq!(d.total(), Distr::MAX_BOUNDS as i64 + 1101);
}

#[test]
fn unknown_policies_sum_values_and_count_reports() {
    let v = merged("Median", &["3", "4.5"]).unwrap();
    assert_eq!(v, PropertyValue::Other { sum: 7.5, reports: 2 });
    assert_eq!((v.value(), v.sum(), v.count()), (7.5, Some(7.5), Some(2)));
    assert!(v.fits(&Policy::parse("Median")));
    assert!(!v.fits(&Policy::Sum));
    assert_eq!(parse_report("Median", "abc"), Err(ValueError::NotANumber));
}

#[test]
fn malformed_values_are_errors() {
    use ValueError::*;
    let cases: &[(&str, &str, ValueError)] = &[
        ("Sum", "", Empty),
        ("Sum", "   ", Empty),
        ("Sum", "abc", NotANumber),
        ("Sum", "12abc", NotANumber),
        ("Sum", "0x10", NotANumber),
        ("Sum", "NaN", NotFinite),
        ("Sum", "inf", NotFinite),
        ("Sum", "-Infinity", NotFinite),
        ("Sum", "1e400", OutOfRange),
        ("Sum", "99999999999999999999", OutOfRange),
        ("Max", "nan", NotFinite),
        ("Min", "x", NotANumber),
        ("Count", "", Empty),
        ("Count", "1.5", NotAnInteger),
        ("Count", "-1", NegativeCount),
        ("Count", "9223372036854775808", OutOfRange),
        ("Count", "1e+21", OutOfRange),
        ("Avg", "", Empty),
        ("Avg", "abc", NotANumber),
        ("Avg", "1=x", NotANumber),
        ("Avg", "=3", Empty),
        ("Avg", "3=", Empty),
        ("Avg", "5=0", ZeroSamples),
        ("Avg", "5=-1", NegativeCount),
        ("Avg", "5=1.5", NotAnInteger),
        ("Avg", "1=2=3", NotANumber),
        ("Avg", "inf=1", NotFinite),
        ("Distr", "", Empty),
        ("Distr", ",,", Empty),
        ("Distr", "1", BadBucket),
        ("Distr", "1|x", NotANumber),
        ("Distr", "1|", Empty),
        ("Distr", "|1", Empty),
        ("Distr", "x|1", NotANumber),
        ("Distr", "MAX|1", NotANumber),
        ("Distr", "nan|1", NotFinite),
        ("Distr", "5|1,10|-2", NegativeCount),
        ("Distr", "5|1.5", NotAnInteger),
        ("Distr", "1|2|3", NotANumber),
        ("Distr", "5|99999999999999999999", OutOfRange),
        ("Other", "", Empty),
    ];
    for &(policy, value, err) in cases {
        assert_eq!(parse_report(policy, value), Err(err), "{policy} {value:?}");
    }
    // Surrounding whitespace is not an error; the largest counts are.
    assert_eq!(parse_report("Sum", " 7 ").unwrap(), Some(PropertyValue::Sum(7.0)));
    assert_eq!(parse_report("Count", "9223372036854775807").unwrap(), Some(PropertyValue::Count(i64::MAX)));
}

#[test]
fn merging_saturates_and_ignores_mismatched_variants() {
    let mut c = PropertyValue::Count(i64::MAX);
    c.merge(&PropertyValue::Count(1));
    assert_eq!(c, PropertyValue::Count(i64::MAX));
    let mut s = PropertyValue::Sum(1.0);
    s.merge(&PropertyValue::Max(5.0));
    assert_eq!(s, PropertyValue::Sum(1.0));
}

fn key(i: usize, policy: &str) -> PropertyKey {
    PropertyKey {
        module_name: format!("App.Server{}", i % 3),
        ip: format!("10.0.0.{i}"),
        property_name: "Adapter.servantHandleTime".into(),
        set_name: if i.is_multiple_of(2) { String::new() } else { "mtt".into() },
        set_area: if i.is_multiple_of(2) { String::new() } else { "sz".into() },
        set_id: if i.is_multiple_of(2) { String::new() } else { "1".into() },
        policy: Policy::parse(policy),
    }
}

fn round_trip(rows: &[(PropertyKey, PropertyValue)]) -> Vec<(TimestampMs, PropertyKey, PropertyValue)> {
    let slot = TimestampMs(1_705_309_200_000);
    let batch = PropertyTable::to_batch(slot, rows.iter().map(|(k, v)| (k, v)));
    assert_eq!(batch.schema(), property_schema());
    assert_eq!(batch.num_rows(), rows.len());
    PropertyTable::from_batch(&batch).unwrap()
}

#[test]
fn rows_round_trip_through_a_batch() {
    let rows = vec![
        (key(0, "Sum"), PropertyValue::Sum(7.5)),
        (key(1, "Count"), PropertyValue::Count(3)),
        (key(2, "Max"), PropertyValue::Max(-2.0)),
        (key(3, "Min"), PropertyValue::Min(0.25)),
        (key(4, "Avg"), PropertyValue::Avg { sum: 42.5, count: 4 }),
        (key(5, "Distr"), merged("Distr", &["5|1,10|2,max|3", "0.5|7"]).unwrap()),
        (key(6, "Median"), PropertyValue::Other { sum: 9.0, reports: 2 }),
        (key(7, "Distr"), PropertyValue::Distr(Distr::default())),
    ];
    let slot = TimestampMs(1_705_309_200_000);
    let batch = PropertyTable::to_batch(slot, rows.iter().map(|(k, v)| (k, v)));
    let f64s = |name: &str| {
        let a = batch.column_by_name(name).unwrap().as_primitive::<arrow::datatypes::Float64Type>();
        (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect::<Vec<_>>()
    };
    assert_eq!(f64s("value"), [7.5, 3.0, -2.0, 0.25, 10.625, 13.0, 9.0, 0.0].map(Some));
    assert_eq!(f64s("sum"), [Some(7.5), None, None, None, Some(42.5), None, Some(9.0), None]);
    let count = batch.column_by_name("count").unwrap().as_primitive::<arrow::datatypes::Int64Type>();
    let count: Vec<_> = (0..count.len()).map(|i| count.is_valid(i).then(|| count.value(i))).collect();
    assert_eq!(count, [None, Some(3), None, None, Some(4), Some(13), Some(2), Some(0)]);
    let distr = batch.column_by_name("distr").unwrap().as_string::<i32>();
    assert_eq!(distr.value(5), "0.5|7,5|1,10|2,max|3");
    assert!(distr.is_null(0) && distr.is_valid(7));

    let back = round_trip(&rows);
    let expected: Vec<_> = rows.iter().map(|(k, v)| (slot, k.clone(), v.clone())).collect();
    assert_eq!(back, expected);
}

#[test]
fn reading_rejects_missing_columns_and_nulls_a_policy_needs() {
    let rows = [(key(0, "Avg"), PropertyValue::Avg { sum: 1.0, count: 1 })];
    let batch = PropertyTable::to_batch(TimestampMs(0), rows.iter().map(|(k, v)| (k, v)));
    assert!(read_property_batch(&batch.project(&[0, 1, 2]).unwrap()).is_err());
    // An Avg row needs its sum.
    let mut cols = batch.columns().to_vec();
    cols[9] = std::sync::Arc::new(arrow::array::Float64Array::from(vec![None::<f64>]));
    let bad = arrow::array::RecordBatch::try_new(property_schema(), cols).unwrap();
    assert!(read_property_batch(&bad).is_err());
    // A Distr row whose text does not parse.
    let rows = [(key(0, "Distr"), merged("Distr", &["5|1"]).unwrap())];
    let batch = PropertyTable::to_batch(TimestampMs(0), rows.iter().map(|(k, v)| (k, v)));
    let mut cols = batch.columns().to_vec();
    cols[11] = std::sync::Arc::new(arrow::array::StringArray::from(vec!["5|x"]));
    let bad = arrow::array::RecordBatch::try_new(property_schema(), cols).unwrap();
    assert!(read_property_batch(&bad).is_err());
}

/// One report of the model: what a client could send for a policy, and what it means.
#[derive(Debug, Clone)]
enum Report {
    Sum(i32),
    Count(u16),
    Max(i32),
    Min(i32),
    /// A plain average (one sample), or `sum=count`.
    Avg(i32, Option<u8>),
    Distr(Vec<(Option<u8>, u16)>),
    Other(i32),
}

const POLICIES: [&str; 7] = ["Sum", "Count", "Max", "Min", "Avg", "Distr", "Custom"];

impl Report {
    fn text(&self) -> String {
        match self {
            Report::Sum(v) | Report::Max(v) | Report::Min(v) | Report::Other(v) => v.to_string(),
            Report::Count(c) => c.to_string(),
            Report::Avg(v, None) => v.to_string(),
            Report::Avg(s, Some(c)) => format!("{s}={c}"),
            Report::Distr(b) => b
                .iter()
                .map(|(l, c)| match l {
                    Some(l) => format!("{l}|{c}"),
                    None => format!("max|{c}"),
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// Reports of policy `p`: small integers, so sums are exact in any order. Max includes the
/// TarsCpp sentinel, Min includes 0, Avg includes both forms (and `0=0`), Distr bucket sets
/// differ from report to report.
/// (Distr labels stay below `Distr::MAX_BOUNDS` distinct ones, where merging is exact.)
fn reports(p: usize) -> BoxedStrategy<Vec<Report>> {
    let one: BoxedStrategy<Report> = match p {
        0 => (-1000..1000i32).prop_map(Report::Sum).boxed(),
        1 => any::<u16>().prop_map(Report::Count).boxed(),
        2 => prop_oneof![Just(-9_999_999), -1000..1000i32].prop_map(Report::Max).boxed(),
        3 => prop_oneof![Just(0), -1000..1000i32].prop_map(Report::Min).boxed(),
        4 => prop_oneof![
            (-1000..1000i32).prop_map(|v| Report::Avg(v, None)),
            (0..5u8, -1000..1000i32).prop_map(|(c, s)| Report::Avg(if c == 0 { 0 } else { s }, Some(c))),
        ]
        .boxed(),
        5 => proptest::collection::vec(
            (proptest::option::of(prop_oneof![Just(1u8), Just(5), Just(10), 0..40u8]), any::<u16>()),
            1..6,
        )
        .prop_map(Report::Distr)
        .boxed(),
        _ => (-1000..1000i32).prop_map(Report::Other).boxed(),
    };
    proptest::collection::vec(one, 1..24).boxed()
}

/// The model: what the reports add up to, computed directly.
fn model(reports: &[Report]) -> Option<PropertyValue> {
    let (mut sum, mut n, mut max, mut min) = (0i64, 0i64, None::<i32>, None::<i32>);
    let mut buckets: BTreeMap<Option<u8>, i64> = BTreeMap::new();
    let mut any = false;
    let mut kind = 0;
    for r in reports {
        match r {
            Report::Sum(v) | Report::Other(v) => {
                sum += i64::from(*v);
                n += 1;
                any = true;
            }
            Report::Count(c) => {
                sum += i64::from(*c);
                any = true;
            }
            Report::Max(v) if *v != -9_999_999 => max = Some(max.map_or(*v, |m| m.max(*v))),
            Report::Min(v) if *v != 0 => min = Some(min.map_or(*v, |m| m.min(*v))),
            Report::Max(_) | Report::Min(_) => {}
            Report::Avg(v, None) => {
                sum += i64::from(*v);
                n += 1;
            }
            Report::Avg(s, Some(c)) => {
                sum += i64::from(*s);
                n += i64::from(*c);
            }
            Report::Distr(b) => {
                for (l, c) in b {
                    *buckets.entry(*l).or_default() += i64::from(*c);
                }
            }
        }
        kind = match r {
            Report::Sum(_) => 0,
            Report::Count(_) => 1,
            Report::Max(_) => 2,
            Report::Min(_) => 3,
            Report::Avg(..) => 4,
            Report::Distr(_) => 5,
            Report::Other(_) => 6,
        };
    }
    match kind {
        0 => any.then_some(PropertyValue::Sum(sum as f64)),
        1 => any.then_some(PropertyValue::Count(sum)),
        2 => max.map(|m| PropertyValue::Max(f64::from(m))),
        3 => min.map(|m| PropertyValue::Min(f64::from(m))),
        4 => (n > 0).then_some(PropertyValue::Avg { sum: sum as f64, count: n }),
        5 => {
            // BTreeMap orders None (max) first; Distr orders it last.
            let mut d = Distr::default();
            for (l, c) in buckets {
                d.add(l.map_or(Max, |l| Bound(f64::from(l))), c);
            }
            Some(PropertyValue::Distr(d))
        }
        _ => any.then_some(PropertyValue::Other { sum: sum as f64, reports: n }),
    }
}

/// Folds `values` in chunks cut at `cuts`: each chunk left to right, then the chunks right to
/// left — another grouping than a plain left fold.
fn fold_grouped(values: &[PropertyValue], cuts: &[usize]) -> Option<PropertyValue> {
    let fold = |vs: &[PropertyValue]| {
        let mut it = vs.iter();
        let mut acc = it.next()?.clone();
        for v in it {
            acc.merge(v);
        }
        Some(acc)
    };
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (values.len() + 1)).collect();
    bounds.extend([0, values.len()]);
    bounds.sort_unstable();
    bounds.dedup();
    let chunks: Vec<PropertyValue> = bounds.windows(2).filter_map(|w| fold(&values[w[0]..w[1]])).collect();
    let mut it = chunks.into_iter().rev();
    let mut acc = it.next()?;
    for v in it {
        acc.merge(&v);
    }
    Some(acc)
}

fn label() -> impl Strategy<Value = DistrLabel> {
    prop_oneof![
        Just(Max),
        (-1_000_000i64..1_000_000).prop_map(|b| Bound(b as f64)),
        (-1e12f64..1e12).prop_map(|b| Bound(if b == 0.0 { 0.0 } else { b })),
    ]
}

proptest! {
    #[test]
    fn merging_in_any_order_and_grouping_equals_the_model(
        (p, reports) in (0..POLICIES.len()).prop_flat_map(|p| (Just(p), reports(p))),
        swaps in proptest::collection::vec(any::<proptest::sample::Index>(), 0..24),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let values: Vec<PropertyValue> =
            reports.iter().filter_map(|r| parse_report(POLICIES[p], &r.text()).unwrap()).collect();
        // Any permutation: swap position i with a random one (Fisher-Yates when all are given).
        let mut shuffled = values.clone();
        for (i, s) in swaps.iter().enumerate().take(shuffled.len()) {
            let j = i + s.index(shuffled.len() - i);
            shuffled.swap(i, j);
        }
        let expected = model(&reports);
        prop_assert_eq!(fold_grouped(&values, &[]), expected.clone());
        prop_assert_eq!(fold_grouped(&shuffled, &cuts), expected);
    }

    #[test]
    fn distr_text_round_trips(buckets in proptest::collection::vec((label(), 0..i64::MAX), 1..40)) {
        let d = distr(&buckets);
        prop_assert_eq!(parse_distr(&d.to_string()).unwrap(), d);
    }

    #[test]
    fn parsing_never_panics(policy in prop_oneof![Just("Sum".to_owned()), Just("Count".to_owned()),
        Just("Max".to_owned()), Just("Min".to_owned()), Just("Avg".to_owned()), Just("Distr".to_owned()), ".{0,8}"],
        value in prop_oneof![".{0,40}", "[0-9eE+.=|,max -]{0,40}"]) {
        let _ = parse_report(&policy, &value);
    }

    #[test]
    fn batches_round_trip(values in proptest::collection::vec(
        prop_oneof![
            (-1e15f64..1e15).prop_map(PropertyValue::Sum),
            (0..i64::MAX).prop_map(PropertyValue::Count),
            (-1e15f64..1e15).prop_map(PropertyValue::Max),
            (-1e15f64..1e15).prop_map(PropertyValue::Min),
            ((-1e15f64..1e15), 1..i64::MAX).prop_map(|(sum, count)| PropertyValue::Avg { sum, count }),
            proptest::collection::vec((label(), 0..1_000_000i64), 0..20).prop_map(|b| PropertyValue::Distr(distr(&b))),
            ((-1e15f64..1e15), 1..1000i64).prop_map(|(sum, reports)| PropertyValue::Other { sum, reports }),
        ], 0..20)) {
        let policy = |v: &PropertyValue| match v {
            PropertyValue::Sum(_) => "Sum",
            PropertyValue::Count(_) => "Count",
            PropertyValue::Max(_) => "Max",
            PropertyValue::Min(_) => "Min",
            PropertyValue::Avg { .. } => "Avg",
            PropertyValue::Distr(_) => "Distr",
            PropertyValue::Other { .. } => "Custom",
        };
        let rows: Vec<_> = values.into_iter().enumerate().map(|(i, v)| (key(i, policy(&v)), v)).collect();
        for (k, v) in &rows {
            prop_assert!(v.fits(&k.policy));
        }
        let back = round_trip(&rows);
        let back: Vec<_> = back.into_iter().map(|(_, k, v)| (k, v)).collect();
        prop_assert_eq!(back, rows);
    }
}
