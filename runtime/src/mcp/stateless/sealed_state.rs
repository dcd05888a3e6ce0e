//! The `requestState` Berth hands an agent for a server that speaks
//! 2026-07-28 itself: the server's own state, sealed (AES-256-GCM under the
//! principal's key) with a digest of the call it belongs to. So one agent
//! cannot resume another's request, nor a request with other arguments,
//! and a tampered state never reaches the server. The seal carries
//! everything (no pod keeps anything), so the retry may reach any pod.
//!
//! May import: `hosting` (the route a state is bound to), external crates
//! (the key ring).

use base64::Engine;
use berth_session_store::{KeyRing, SessionBinding};
use serde::{Deserialize, Serialize};

use crate::hosting::Route;

/// Prefix of the states Berth seals for native servers (translated calls
/// use `hosting`'s `v1.`).
pub(super) const NATIVE_STATE_PREFIX: &str = "v2.";

/// Why a state was refused (logged, never sent).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// Not one of Berth's native states.
    Malformed,
    /// The seal does not open for this principal (tampered, or another's).
    Sealed,
    /// It was issued for another call.
    OtherCall,
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    /// Digest of the call (principal, method, target, arguments).
    d: String,
    /// The server's own `requestState`, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s: Option<String>,
}

/// Seals the server's state (if any) for the call `digest` of `route`.
pub(super) fn seal(
    keys: &KeyRing,
    route: &Route,
    digest: &str,
    server_state: Option<&str>,
) -> Result<String, String> {
    let payload = serde_json::to_vec(&Sealed {
        d: digest.to_owned(),
        s: server_state.map(str::to_owned),
    })
    .map_err(|e| e.to_string())?;
    let sealed = keys
        .seal(&binding(keys, route), &payload)
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{NATIVE_STATE_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// Opens a state Berth sealed; the server's own state inside, if any.
pub(super) fn open(
    keys: &KeyRing,
    route: &Route,
    digest: &str,
    state: &str,
) -> Result<Option<String>, Refused> {
    let sealed = state
        .strip_prefix(NATIVE_STATE_PREFIX)
        .ok_or(Refused::Malformed)?;
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| Refused::Malformed)?;
    let opened = keys
        .open(&binding(keys, route), &sealed)
        .map_err(|_| Refused::Sealed)?;
    let payload: Sealed = serde_json::from_slice(&opened.plaintext).map_err(|_| Refused::Sealed)?;
    if payload.d != digest {
        return Err(Refused::OtherCall);
    }
    Ok(payload.s)
}

/// What states are sealed under: the principal's binding, with a marker
/// in place of a session id (none starts with `~`).
fn binding(keys: &KeyRing, route: &Route) -> SessionBinding {
    keys.bind(
        route.tenant(),
        route.server_name(),
        &route.subject,
        "~native-state",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosting::testing::{keys, route};

    #[test]
    fn a_state_opens_for_its_principal_and_call_only() {
        let keys = keys();
        let alice = route(&keys, "alice", "~stateless:-");
        let bob = route(&keys, "bob", "~stateless:-");
        let state = seal(&keys, &alice, "d1", Some("server-opaque")).unwrap();
        assert!(state.starts_with(NATIVE_STATE_PREFIX));
        assert!(!state.contains("server-opaque"), "sealed, not readable");
        assert_eq!(
            open(&keys, &alice, "d1", &state),
            Ok(Some("server-opaque".into()))
        );
        assert_eq!(open(&keys, &bob, "d1", &state), Err(Refused::Sealed));
        assert_eq!(open(&keys, &alice, "d2", &state), Err(Refused::OtherCall));
        assert!(open(&keys, &alice, "d1", &format!("{state}-TAMPERED")).is_err());
        assert_eq!(
            open(&keys, &alice, "d1", "server-opaque"),
            Err(Refused::Malformed)
        );
        let stateless = seal(&keys, &alice, "d1", None).unwrap();
        assert_eq!(open(&keys, &alice, "d1", &stateless), Ok(None));
    }
}
