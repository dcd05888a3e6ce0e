//! The stateless era (2026-07-28) on the same endpoint.
//!
//! A stateless request carries its protocol version per request (header and
//! `_meta`); there is no `initialize` and no `Mcp-Session-Id`. Berth maps all
//! stateless requests of one principal to one server onto one hosting
//! session (so stateful servers keep working), initializes the backend
//! itself, and speaks the session-era protocol to it: results are shaped
//! for 2026 (`results`), server→client requests become `input_required`
//! results (`input`, with the parked calls in `hosting`), and
//! `subscriptions/listen` is served from the backend's server-wide
//! notifications (`listen`).
//!
//! May import: `http`, `hosting`, `cluster` (was a request forwarded),
//! `protocol`, `jsonrpc`. Must not import `mcp::legacy` or `app`.
//!
//! # Layout
//! - `post`: POST dispatch; `validate`: request checks in the spec's order.
//! - `principal`: the principal's hosting session (here or forwarded);
//!   `capabilities`: what the agent declared, as relayed to the server.
//! - `call`: starting or resuming one backend call (`backend_params`: its
//!   params as the backend gets them); `driver`: reading it into frames;
//!   `input`: input requests and their answers.
//! - `discover`, `listen`: `server/discover`, `subscriptions/listen`.
//! - `sealed_state`: a native server's `requestState`, sealed per call;
//!   `param_headers`: `Mcp-Param-*` headers checked for the server.
//! - `results`: results and errors shaped for 2026; `errors`: statuses
//!   and error replies; `frame`, `reply`: frames and JSON/SSE answers.

mod backend_params;
mod call;
mod capabilities;
mod discover;
mod driver;
mod errors;
mod frame;
mod input;
mod listen;
mod param_headers;
mod post;
mod principal;
mod reply;
mod results;
mod sealed_state;
mod validate;

pub(crate) use self::post::post;
pub use self::results::{modernize, status_for};
pub use self::validate::{FORWARDED, Outcome, StatelessRequest, validate};
pub use crate::protocol::decode_header_value;
