//! The crate's single error type.
//!
//! Every message says what went wrong and what to do about it. None of them
//! contains the bearer token or any part of it: errors end up in logs, and a
//! logged token is a usable credential until it expires.
//!
//! Imports: no module of this crate (every other module imports this one).

use std::io;
use std::path::Path;

/// Everything that can go wrong while authenticating a request or handling keys.
///
/// The variants split into three groups, which [`Error::http_status`] and
/// [`Error::www_authenticate_error`] map to the wire:
/// - the caller's fault, token side: 401 with `error="invalid_token"`
///   (`MissingToken` also gets a 401, so that MCP clients start the OAuth flow);
/// - the caller's fault, request side: `Malformed` (400, `invalid_request`) and
///   `InsufficientScope` (403, `insufficient_scope`);
/// - the server's fault: `Io` and `Key` (500); clients should get a generic
///   message and the details belong in the logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request carries no `Authorization` header.
    #[error(
        "no bearer token: send an `Authorization: Bearer <token>` header \
         (for the demo, mint a token with `berth token`)"
    )]
    MissingToken,

    /// Malformed input that is not a token: an `Authorization` header that is not
    /// `Bearer <token>`, a bad TTL string, a bad token request.
    #[error("malformed input: {0}")]
    Malformed(String),

    /// The bearer token is not a well-formed JWT (bad base64 or JSON, unsupported
    /// `alg` such as `none`, a claim of the wrong type, too long, ...).
    #[error("the bearer token is not a valid JWT ({0}); obtain a new token from the issuer")]
    MalformedToken(String),

    /// The issuer says the (opaque) token is not active: unknown, expired or
    /// revoked (RFC 7662 `"active": false`).
    #[error(
        "the token is not active (its issuer does not know it, or it expired or was revoked); \
         obtain a new token"
    )]
    Inactive,

    /// The issuer's introspection endpoint could not be asked about an opaque token.
    #[error("the token issuer could not be asked about this token ({0}); retry shortly")]
    IssuerUnavailable(String),

    /// The signature does not verify against the key the token names.
    #[error(
        "the token's signature does not verify against the issuer's key: it was signed by \
         another issuer or key, or altered after signing; obtain a new token from the \
         configured issuer"
    )]
    BadSignature,

    /// The token names a key id (`kid`) that the issuer's key set does not contain.
    #[error(
        "the token was signed with key id `{kid}`, which is not in the issuer's key set: the \
         token comes from another issuer or the key was rotated; obtain a new token \
         (operators: check the configured issuer and JWKS)"
    )]
    UnknownKey {
        /// The key id from the token header.
        kid: String,
    },

    /// The token header's `alg` is not one the matching key may be used with
    /// (for example HS256 against a public key).
    #[error(
        "the token is signed with {alg}, which its issuer's key does not allow; the issuer \
         must sign with the algorithm of the key it publishes"
    )]
    WrongAlgorithm {
        /// The algorithm named by the token header.
        alg: String,
    },

    /// `exp` is in the past (beyond the configured leeway).
    #[error("the token has expired; obtain a new one")]
    Expired,

    /// `nbf` is in the future (beyond the configured leeway).
    #[error(
        "the token is not valid yet (its `nbf` is in the future); check the clocks of the \
         issuer and of this host"
    )]
    NotYetValid,

    /// `iss` is not the configured issuer.
    #[error(
        "the token was issued by an issuer this server does not trust; obtain a token from the \
         configured issuer"
    )]
    WrongIssuer,

    /// `aud` names neither this endpoint's canonical URL nor an accepted extra audience.
    #[error(
        "the token's audience (`aud`) does not include this MCP endpoint; request a token for \
         this endpoint's URL (the RFC 8707 `resource` parameter)"
    )]
    WrongAudience,

    /// A claim Berth needs (tenant, subject, `exp`, ...) is absent or empty.
    #[error(
        "the token lacks the required claim `{0}`; configure the issuer to include it, or \
         change Berth's claim mapping"
    )]
    MissingClaim(String),

    /// The principal lacks scopes the operation requires; lists every missing one.
    #[error(
        "the token lacks the required scope(s) {}; request a token that grants them",
        .missing.join(", ")
    )]
    InsufficientScope {
        /// Every required scope the token does not grant, in the order required.
        missing: Vec<String>,
    },

    /// Reading or writing key material failed; the message names the file.
    ///
    /// The `io::Error` already carries the path and operation in its message, so it is
    /// shown rather than chained as a `source` (chaining would print it twice).
    #[error("I/O error: {0}")]
    Io(io::Error),

    /// Key material is unusable: a bad JWKS, a corrupt key file, a signing failure.
    #[error("key error: {0}")]
    Key(String),

    /// A secret could not be read from Vault (unreachable, login refused,
    /// no such path or key). Never contains a secret value.
    #[error("Vault: {0}")]
    Vault(String),

    /// A secret path would leave its tenant's prefix (a templated subject
    /// that is not a safe path segment, a path with `..`).
    #[error("secret path refused: {0}")]
    SecretPath(String),
}

// === impl Error ===

impl Error {
    /// The `error` attribute of the `WWW-Authenticate: Bearer` challenge (RFC 6750 §3.1).
    ///
    /// `MissingToken` maps to `invalid_token` so that it gets a 401; RFC 6750 lets the
    /// challenge for a request without credentials omit the attribute, which the caller
    /// may prefer. `Io` and `Key` are server faults (see [`Error::http_status`]); they map to
    /// `invalid_token` only so that this function is total.
    pub fn www_authenticate_error(&self) -> &'static str {
        match self {
            Error::Malformed(_) => "invalid_request",
            Error::InsufficientScope { .. } => "insufficient_scope",
            _ => "invalid_token",
        }
    }

    /// The HTTP status to answer with: 400, 401, 403, 500 for server-side
    /// faults, 503 when an issuer or Vault cannot be asked.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Malformed(_) => 400,
            Error::InsufficientScope { .. } => 403,
            Error::Io(_) | Error::Key(_) => 500,
            Error::IssuerUnavailable(_) | Error::Vault(_) => 503,
            Error::SecretPath(_) => 403,
            _ => 401,
        }
    }

    /// Wraps an I/O error so that its message names the file and the operation,
    /// keeping the original [`io::ErrorKind`].
    pub(crate) fn io(op: &str, path: &Path, err: io::Error) -> Self {
        Error::Io(io::Error::new(
            err.kind(),
            format!("cannot {op} {}: {err}", path.display()),
        ))
    }

    /// Maps a `jsonwebtoken` error raised while validating a token.
    ///
    /// Never embeds serde's message: it may quote parts of the token.
    pub(crate) fn from_jwt(err: &jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match err.kind() {
            ErrorKind::InvalidSignature => Error::BadSignature,
            ErrorKind::ExpiredSignature => Error::Expired,
            ErrorKind::ImmatureSignature => Error::NotYetValid,
            ErrorKind::InvalidIssuer => Error::WrongIssuer,
            ErrorKind::InvalidAudience => Error::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => Error::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => {
                Error::MalformedToken(format!("claim `{claim}` has the wrong type"))
            }
            // The validator checks `alg` against the key before decoding, so this is a
            // fallback that has no header at hand.
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => Error::WrongAlgorithm {
                alg: "an algorithm".to_owned(),
            },
            ErrorKind::InvalidToken => {
                Error::MalformedToken("it does not have the three dot-separated parts".to_owned())
            }
            ErrorKind::Base64(_) => Error::MalformedToken("a part is not valid base64url".into()),
            ErrorKind::Json(_) | ErrorKind::Utf8(_) => Error::MalformedToken(
                "its header or claims are not valid JSON of the expected shape (an unsupported \
                 `alg` such as `none` also lands here)"
                    .into(),
            ),
            ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat => {
                Error::Key(format!("the issuer key cannot verify tokens: {err}"))
            }
            _ => Error::Key(format!("token verification failed: {err}")),
        }
    }
}
