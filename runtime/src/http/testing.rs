//! Request pieces for unit tests.
//!
//! May import: external crates only.

use http::{HeaderMap, HeaderName, HeaderValue};

/// A header map with `pairs` appended in order (repeats kept).
pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).expect("a test header name"),
            HeaderValue::from_str(v).expect("a test header value"),
        );
    }
    h
}
