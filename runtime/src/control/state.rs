//! [`ControlState`]: what every control-plane handler needs.
//!
//! May import: `http` (the data plane's state), `registry`.

use crate::http::AppState;
use crate::registry::Registry;

/// What every control-plane handler needs.
#[derive(Clone)]
pub(crate) struct ControlState {
    /// The data plane's state (token validation, Host policy, servers).
    pub app: AppState,
    /// The registry.
    pub registry: Registry,
}
