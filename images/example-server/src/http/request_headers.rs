//! What a tool can see of the HTTP request that carried its call.
//!
//! Imports: nothing from this crate. Must not import `serve` or the handler (`server`, `tools`):
//! `tools` calls it.

use rmcp::RoleServer;
use rmcp::service::RequestContext;

/// The headers of the HTTP request that carried the message `ctx` answers, as `(name, value)`
/// pairs in the order received (names lower-case, values decoded lossily); `None` when the
/// message did not arrive over HTTP (stdio mode).
///
/// rmcp's Streamable HTTP service puts the request's [`http::request::Parts`] into the message's
/// extensions, in both eras.
pub(crate) fn request_headers(ctx: &RequestContext<RoleServer>) -> Option<Vec<(String, String)>> {
    let parts = ctx.extensions.get::<http::request::Parts>()?;
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    Some(headers)
}
