//! Helpers for tests and benchmarks of tarsmon and of code built on it.

/// Parses a byte vector written as the protocol spec writes them: hex byte pairs separated by
/// whitespace, and `"quoted"` runs of ASCII text, e.g. `06 05 "czzou"`.
///
/// # Panics
/// On anything else (this is for literals in tests).
pub fn hex(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '"' {
            let end = rest[1..].find('"').map(|i| i + 1);
            let end = end.unwrap_or_else(|| panic!("unclosed quote in {s:?}"));
            out.extend_from_slice(&rest.as_bytes()[1..end]);
            rest = &rest[end + 1..];
        } else if c.is_whitespace() {
            rest = &rest[c.len_utf8()..];
        } else {
            let byte = rest.get(..2).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(byte.unwrap_or_else(|| panic!("bad hex at {rest:?}")));
            rest = &rest[2..];
        }
    }
    out
}
