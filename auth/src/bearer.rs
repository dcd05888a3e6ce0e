//! Extracting the bearer token from an `Authorization` header (RFC 6750 §2.1).
//!
//! Tokens are accepted only from this header: never from a query string (they
//! would end up in access logs) or a form body.
//!
//! Imports: only `error`. Must not import a validator (`jwt`, `oidc`,
//! `cache`): the runtime calls this before choosing one.

use crate::Error;

/// Extracts the token from an `Authorization` header value.
///
/// Accepts `Bearer <token>` with the scheme in any case, one or more spaces after it
/// (RFC 6750's `1*SP`) and surrounding whitespace. The token must be an RFC 6750
/// `b64token`, which also rules out a second token after a space. No header, or an
/// empty one, is [`Error::MissingToken`]; anything else is [`Error::Malformed`], whose
/// message never repeats the header's content.
///
/// Takes `&str` so that this crate needs no `http` dependency: convert the
/// `HeaderValue` with `to_str()` first, treating a non-ASCII value as
/// [`Error::Malformed`].
pub fn bearer_token(header: Option<&str>) -> Result<&str, Error> {
    let value = header.ok_or(Error::MissingToken)?.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Err(Error::MissingToken);
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Error::Malformed(
            "the Authorization header does not use the Bearer scheme; send \
             `Authorization: Bearer <token>`"
                .into(),
        ));
    }
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(Error::Malformed(
            "the Authorization header has the Bearer scheme but no token".into(),
        ));
    }
    if !is_b64token(token) {
        return Err(Error::Malformed(
            "the bearer token contains characters a token cannot contain (or there is more \
             than one token); send exactly `Authorization: Bearer <token>`"
                .into(),
        ));
    }
    Ok(token)
}

/// RFC 6750: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
///
/// Every byte of every request's token passes here (a JWT is ~1 KB), so the
/// loop has no branch and no early exit, which lets it run 16 bytes at a
/// time.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty() && body.bytes().fold(true, |ok, b| ok & is_b64token_byte(b))
}

/// One byte of a `b64token` body, without branches: a letter (either case),
/// a digit, `+` `-` `.` `/` (0x2B–0x2F without `,`), `_` or `~`.
#[inline(always)]
fn is_b64token_byte(b: u8) -> bool {
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    let sign = (b.wrapping_sub(b'+') < 5) & (b != b',');
    letter | digit | sign | (b == b'_') | (b == b'~')
}

#[cfg(test)]
mod tests {
    use super::{bearer_token, is_b64token_byte};
    use crate::Error;

    #[test]
    fn token_bytes_are_exactly_those_of_rfc_6750() {
        for b in 0..=u8::MAX {
            let rfc =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_b64token_byte(b), rfc, "byte {b:#04x}");
        }
    }

    fn malformed(header: &str) -> bool {
        matches!(bearer_token(Some(header)), Err(Error::Malformed(_)))
    }

    #[test]
    fn accepts_bearer_in_any_case() {
        assert_eq!(
            bearer_token(Some("Bearer abc.def-ghi")).unwrap(),
            "abc.def-ghi"
        );
        assert_eq!(bearer_token(Some("bearer abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("BEARER abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("bEaReR a~b+c/d==")).unwrap(), "a~b+c/d==");
    }

    #[test]
    fn tolerates_extra_spaces_around_and_after_the_scheme() {
        assert_eq!(bearer_token(Some("Bearer   abc")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("  Bearer abc  ")).unwrap(), "abc");
        assert_eq!(bearer_token(Some("\tBearer abc\t")).unwrap(), "abc");
    }

    #[test]
    fn missing_or_empty_header_is_missing_token() {
        assert!(matches!(bearer_token(None), Err(Error::MissingToken)));
        assert!(matches!(bearer_token(Some("")), Err(Error::MissingToken)));
        assert!(matches!(
            bearer_token(Some("   ")),
            Err(Error::MissingToken)
        ));
    }

    #[test]
    fn rejects_other_schemes_and_empty_tokens() {
        assert!(malformed("Basic dXNlcjpwYXNz"));
        assert!(malformed("Bearer"));
        assert!(malformed("Bearer "));
        assert!(malformed("Bearer    "));
        assert!(malformed("Bearerabc"));
        assert!(malformed("Token abc"));
        assert!(malformed("abc"));
    }

    #[test]
    fn rejects_tokens_outside_b64token() {
        assert!(malformed("Bearer abc def"));
        assert!(malformed("Bearer abc\tdef"));
        assert!(malformed("Bearer abc,def"));
        assert!(malformed("Bearer ===="));
        assert!(malformed("Bearer ab=c"));
        assert!(malformed("Bearer \"abc\""));
        assert!(malformed("Bearer abc\u{e9}"));
        assert!(malformed("Bearer\tabc"));
    }

    #[test]
    fn messages_never_echo_the_credentials() {
        for header in [
            "Basic c2VjcmV0",
            "Bearer sec ret",
            "Bearer sec,ret",
            "xsecret",
        ] {
            let msg = bearer_token(Some(header)).unwrap_err().to_string();
            assert!(
                !msg.contains("secret") && !msg.contains("c2VjcmV0"),
                "{msg}"
            );
            assert!(
                !msg.contains("sec ret") && !msg.contains("sec,ret"),
                "{msg}"
            );
        }
    }
}
