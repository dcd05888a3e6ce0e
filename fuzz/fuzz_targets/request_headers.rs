//! Header values an outsider controls, and the secret paths a caller's
//! subject is filled into: `bearer_token` (the `Authorization` header), the
//! `Accept`/`Content-Type` checks every MCP POST passes, and
//! `vault::resolve` (a subject in a `{subject}` template).
//!
//! Input: `authorization \0 accept \0 content-type \0 subject`.
//!
//! Invariants: nothing panics; an accepted bearer token is a non-empty,
//! blank-free part of the header; a resolved secret path stays under the
//! tenant's prefix and the template's directory, with no `.`/`..`
//! segment, no empty segment, and the subject as exactly one segment.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == 0);
    let (authorization, accept, content_type, subject) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );

    if let Ok(header) = std::str::from_utf8(authorization)
        && let Ok(token) = berth_auth::bearer_token(Some(header))
    {
        assert!(!token.is_empty(), "{header:?}");
        assert!(!token.contains([' ', '\t']), "{header:?} gave {token:?}");
        assert!(header.contains(token));
    }

    let mut headers = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_bytes(accept) {
        headers.insert(http::header::ACCEPT, v);
    }
    if let Ok(v) = http::HeaderValue::from_bytes(content_type) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    let _ = berth::fuzzing::media::check_post_media(&headers);

    if let Ok(subject) = std::str::from_utf8(subject)
        && let Ok(path) = berth_auth::vault::resolve(
            "berth/tenants/{tenant}",
            "acme",
            "github/{subject}",
            subject,
        )
    {
        let rest = path
            .strip_prefix("berth/tenants/acme/github/")
            .unwrap_or_else(|| panic!("{subject:?} left the prefix: {path}"));
        assert_eq!(rest, subject);
        assert!(!rest.is_empty() && !rest.contains('/'), "{subject:?}");
        assert!(rest != "." && rest != "..", "{subject:?}");
    }
});
