//! Equality of short byte strings without the C library.
//!
//! Monitoring keys are made of short strings (names, IPs, versions: most under 32 bytes), and
//! the hot loops compare many of them: a warm stat lookup compares nine, dictionary-encoding a
//! slot compares one per row and text column. Rust's slice equality calls `memcmp`, and on the
//! project's machine glibc's AVX-512 `memcmp` (masked vector loads) took over half of a warm
//! stat lookup (BENCHMARKS.md). [`equal`] compares in a few word-sized loads instead.

/// Whether `a` and `b` hold the same bytes: the lengths, then 8-byte words (the last one
/// overlapping the one before), or two overlapping 4-byte halves, or up to three bytes.
#[inline]
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()).map(u64::from_ne_bytes)
    };
    let half = |s: &[u8], at: usize| {
        s.get(at..at + 4).and_then(|w| <[u8; 4]>::try_from(w).ok()).map(u32::from_ne_bytes)
    };
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => {
            let mut at = 0;
            while at + 8 < n {
                if word(a, at) != word(b, at) {
                    return false;
                }
                at += 8;
            }
            word(a, n - 8) == word(b, n - 8)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn equal_is_slice_equality(
            a in proptest::collection::vec(0u8..3, 0..40),
            b in proptest::collection::vec(0u8..3, 0..40),
        ) {
            prop_assert_eq!(super::equal(&a, &b), a == b);
            prop_assert!(super::equal(&a, &a.clone()));
        }
    }
}
