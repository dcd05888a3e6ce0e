//! The parsers of untrusted input, for the fuzz targets in `fuzz/` (and
//! nothing else: this is not Berth's API and may change at any time).
//!
//! May import: anything in the crate (it only re-exports).

/// JSON-RPC framing (`jsonrpc_envelope`, `shape_modernize`, `stateless_ladder`).
pub mod jsonrpc {
    pub use crate::jsonrpc::{
        Envelope, Kind, ParseError, RpcError, id_as_u64, meta_field, param_raw, param_str,
        splice_id,
    };
}

/// The stateless era's request checks and result shaping
/// (`stateless_ladder`, `shape_modernize`).
pub mod stateless {
    pub use crate::mcp::{
        FORWARDED, Outcome, StatelessRequest, decode_header_value, modernize, status_for, validate,
    };
    pub use crate::protocol::Version;
}

/// Newline-delimited framing (`line_reader`).
pub mod framing {
    pub use crate::backend::framing::{Frame, LineReader};
}

/// The SSE reader of the Streamable HTTP bridge (`sse_reader`).
pub mod sse {
    pub use crate::backend::http_bridge::sse::{Event, Next, SseReader};
}

/// Replayable event streams and `Last-Event-ID` (`event_id`).
pub mod streams {
    pub use crate::hosting::{EventId, EventStream, Next};
}

/// The media checks every MCP POST passes (`request_headers`).
pub mod media {
    pub use crate::http::check_post_media;
}
