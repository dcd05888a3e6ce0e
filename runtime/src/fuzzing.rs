//! The parsers of untrusted input, for the fuzz targets in `fuzz/` (and
//! nothing else: this is not Berth's API and may change at any time).
//!
//! May import: anything in the crate (it only re-exports).

pub use crate::backend::framing::{Frame, LineReader};
pub use crate::backend::http_bridge::sse::{Event as SseEvent, Next as SseNext, SseReader};
pub use crate::hosting::{EventId, EventStream, Next};
pub use crate::http::check_post_media;
pub use crate::jsonrpc::{Envelope, Kind, ParseError, RpcError, splice_id};
pub use crate::mcp::{
    FORWARDED, Outcome, StatelessRequest, decode_header_value, modernize, status_for, validate,
};
pub use crate::protocol::Version;
