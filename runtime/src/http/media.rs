//! The media checks every MCP POST passes, in either era: 406 unless the
//! `Accept` header allows JSON and SSE, 415 unless the body is JSON.
//!
//! May import: `http::reply`, `jsonrpc`.

use axum::response::Response;
use http::{HeaderMap, StatusCode, header};

use super::reply;
use crate::jsonrpc::ErrorCode;

/// Which media types an `Accept` header allows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accepts {
    /// `application/json` is acceptable.
    pub json: bool,
    /// `text/event-stream` is acceptable.
    pub sse: bool,
}

// === impl Accepts ===

impl Accepts {
    /// Parses an `Accept` header (absent means nothing is acceptable).
    pub fn parse(headers: &HeaderMap) -> Accepts {
        let mut a = Accepts::default();
        for value in headers.get_all(header::ACCEPT) {
            for part in value.to_str().unwrap_or("").split(',') {
                let media = part.split(';').next().unwrap_or("").trim();
                let is = |m: &str| media.eq_ignore_ascii_case(m);
                if is("application/json") || is("application/*") {
                    a.json = true;
                } else if is("text/event-stream") || is("text/*") {
                    a.sse = true;
                } else if is("*/*") {
                    a.json = true;
                    a.sse = true;
                }
            }
        }
        a
    }
}

/// The media checks every MCP POST passes, in either era: 406 unless the
/// `Accept` header allows both JSON and SSE, 415 unless the body is JSON.
pub fn check_post_media(headers: &HeaderMap) -> Result<Accepts, Response> {
    let accepts = Accepts::parse(headers);
    if !(accepts.json && accepts.sse) {
        return Err(reply::error(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::InvalidRequest,
            "Not Acceptable: the Accept header must allow both application/json and text/event-stream",
        ));
    }
    check_json_content_type(headers)?;
    Ok(accepts)
}

/// 415 unless the body is declared as JSON.
pub(crate) fn check_json_content_type(headers: &HeaderMap) -> Result<(), Response> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidRequest,
            "Unsupported Media Type: send the JSON-RPC message with Content-Type: application/json",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::headers;

    #[test]
    fn accept_parsing() {
        let a = Accepts::parse(&headers(&[(
            "accept",
            "application/json, text/event-stream",
        )]));
        assert!(a.json && a.sse);
        let a = Accepts::parse(&headers(&[("accept", "text/event-stream;q=1")]));
        assert!(!a.json && a.sse);
        let a = Accepts::parse(&headers(&[("accept", "*/*")]));
        assert!(a.json && a.sse);
        let a = Accepts::parse(&headers(&[("accept", "Application/JSON; q=0.9, TEXT/*")]));
        assert!(a.json && a.sse, "media types are case-insensitive");
        let a = Accepts::parse(&HeaderMap::new());
        assert!(!a.json && !a.sse);
    }
}
