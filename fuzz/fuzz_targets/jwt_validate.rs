//! Bearer-token validation (`berth_auth::JwtValidator::validate_sync`, the
//! code every MCP request runs on its `Authorization` header) on untrusted
//! tokens.
//!
//! The first byte picks the mode:
//! - even: the rest is presented as a token as it is;
//! - odd: the rest is a list of (position, byte) edits applied to a valid
//!   token the dev issuer minted for the endpoint.
//!
//! Invariants: nothing panics; an edited token is accepted only if its
//! header, claims and signature still decode to exactly the original bytes
//! (base64url's unused trailing bits are the only slack), so no edit that
//! changes what was signed ever passes.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use berth_auth::{ClaimMapping, DevIssuer, JwtValidator, TokenRequest};
use libfuzzer_sys::fuzz_target;

const RESOURCE: &str = "http://127.0.0.1:8080/mcp/demo/everything";

struct Fixture {
    validator: JwtValidator,
    token: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let issuer = DevIssuer::load_or_create(dir.path()).expect("dev issuer");
        let mut req = TokenRequest::new("alice", "demo");
        req.audience = Some(RESOURCE.to_owned());
        req.scopes = vec!["mcp".to_owned()];
        req.ttl = Duration::from_secs(3600);
        let token = issuer.mint(&req).expect("mint");
        let validator = issuer.validator(ClaimMapping::default()).expect("validator");
        validator
            .validate_sync(&token, RESOURCE)
            .expect("the minted token is valid");
        Fixture {
            validator,
            token,
            _dir: dir,
        }
    })
}

fn decoded(token: &str) -> Option<Vec<Vec<u8>>> {
    token
        .split('.')
        .map(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            let _ = f.validator.validate_sync(token, RESOURCE);
        }
        return;
    }
    let mut token = f.token.clone().into_bytes();
    for edit in rest.chunks_exact(3) {
        let at = usize::from(u16::from_le_bytes([edit[0], edit[1]])) % token.len();
        token[at] = edit[2];
    }
    let Ok(token) = String::from_utf8(token) else {
        return;
    };
    if f.validator.validate_sync(&token, RESOURCE).is_ok() {
        assert_eq!(
            decoded(&token),
            decoded(&f.token),
            "an edited token was accepted: {token}"
        );
    }
});
