//! Unguessable identifiers: session ids, continuation ids, name suffixes.
//!
//! May import: external crates only.

use base64::Engine;
use rand::RngCore;

/// 256 bits from the OS CSPRNG, base64url without padding (43 visible
/// ASCII characters): a new `Mcp-Session-Id`, or any id an outsider must
/// not guess.
pub(crate) fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_long_url_safe_and_distinct() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }
}
