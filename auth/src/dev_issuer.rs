//! The built-in development issuer behind `berth demo` and `berth token`.
//!
//! It is not an authorization server: it mints tokens locally, for the CLI, with one
//! Ed25519 key kept in the state directory as `dev-issuer-key.pem` (PKCS#8 PEM, mode
//! 0600). Its tokens are checked by the same [`JwtValidator`] as production tokens, so
//! the demo exercises the real validation path.
//!
//! The key file is created at most once, even with several `berth` processes starting
//! at the same time: the key is written to a private temporary file and then
//! hard-linked into place, which fails rather than overwrites if another process won
//! the race; the loser then loads the winner's key. (`rename` would overwrite, and a
//! process could keep minting with a key that is no longer on disk.)
//!
//! Imports: `jwt`, `claims`, `error`. Must not import `oidc`, `cache` or
//! `introspect` (the CLI uses it without them).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{ClaimMapping, Error, JwtValidator};

/// The development issuer: an Ed25519 key that mints access tokens.
pub struct DevIssuer {
    kid: String,
    encoding_key: EncodingKey,
    jwks: JwkSet,
    key_path: PathBuf,
}

/// What to put in a minted token.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// `sub`: who the token is for.
    pub subject: String,
    /// `berth_tenant`: the tenant the caller acts in.
    pub tenant: String,
    /// `scope`, joined with spaces; scopes must not contain whitespace.
    pub scopes: Vec<String>,
    /// `aud`; `None` means [`DevIssuer::DEFAULT_AUDIENCE`]. Set it to an endpoint URL
    /// to get a token valid only there.
    pub audience: Option<String>,
    /// Lifetime, whole seconds (fractions are dropped).
    pub ttl: Duration,
    /// `client_id`, if any.
    pub client_id: Option<String>,
    /// `groups`, if any.
    pub groups: Vec<String>,
}

/// File name of the signing key inside the state directory.
pub const DEV_ISSUER_KEY_FILE: &str = "dev-issuer-key.pem";

/// `typ` of minted tokens (RFC 9068 JWT access tokens).
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Outcome of trying to put a new key file in place.
enum Persisted {
    Written,
    /// Another process created the file first.
    LostRace,
}

// === impl DevIssuer ===

impl DevIssuer {
    /// `iss` of every dev token.
    pub const ISSUER: &'static str = "urn:berth:dev-issuer";
    /// Default `aud`, accepted by the demo whatever port it listens on.
    pub const DEFAULT_AUDIENCE: &'static str = "urn:berth:demo";

    /// Loads the key from `state_dir`, creating the directory (mode 0700) and the key
    /// (mode 0600) if missing.
    pub fn load_or_create(state_dir: &Path) -> Result<Self, Error> {
        create_private_dir(state_dir).map_err(|e| Error::io("create", state_dir, e))?;
        let path = state_dir.join(DEV_ISSUER_KEY_FILE);
        if let Some(issuer) = Self::load(&path)? {
            return Ok(issuer);
        }
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        match persist_new(state_dir, &path, &key)? {
            Persisted::Written => {
                tracing::info!(path = %path.display(), "created the dev issuer signing key");
                Self::from_signing_key(&key, path)
            }
            Persisted::LostRace => Self::load(&path)?.ok_or_else(|| {
                Error::Key(format!(
                    "{} vanished while being created; retry",
                    path.display()
                ))
            }),
        }
    }

    /// Mints a signed access token.
    pub fn mint(&self, req: &TokenRequest) -> Result<String, Error> {
        check_request(req)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let names = ClaimMapping::default();
        let audience = req.audience.as_deref().unwrap_or(Self::DEFAULT_AUDIENCE);

        let mut claims = Map::new();
        claims.insert("iss".into(), Self::ISSUER.into());
        claims.insert(names.subject, req.subject.as_str().into());
        claims.insert("aud".into(), audience.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(req.ttl.as_secs()).into());
        claims.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
        claims.insert(names.tenant, req.tenant.as_str().into());
        if let Some(client_id) = &req.client_id {
            claims.insert(names.client_id, client_id.as_str().into());
        }
        if !req.scopes.is_empty() {
            claims.insert(names.scope, req.scopes.join(" ").into());
        }
        if !req.groups.is_empty() {
            claims.insert(names.groups, Value::from(req.groups.clone()));
        }

        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding_key)
            .map_err(|e| Error::Key(format!("cannot sign a dev token: {e}")))
    }

    /// The public key as a JWKS (one OKP/Ed25519 key, `alg` EdDSA, `use` sig).
    pub fn jwks(&self) -> JwkSet {
        self.jwks.clone()
    }

    /// A validator for this issuer's tokens, built the production way: a
    /// [`JwtValidator`] over [`DevIssuer::jwks`], also accepting
    /// [`DevIssuer::DEFAULT_AUDIENCE`].
    ///
    /// Minted tokens use the default claim names, so `claims` should normally be
    /// [`ClaimMapping::default()`].
    pub fn validator(&self, claims: ClaimMapping) -> Result<JwtValidator, Error> {
        Ok(JwtValidator::new(Self::ISSUER, self.jwks(), claims)?
            .with_extra_audiences(vec![Self::DEFAULT_AUDIENCE.to_owned()]))
    }

    /// The key id: the first 16 hex characters of SHA-256 of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Where the signing key is stored.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    /// Reads the key file; `Ok(None)` if there is none yet.
    fn load(path: &Path) -> Result<Option<Self>, Error> {
        let pem = match fs::read_to_string(path) {
            Ok(pem) => Zeroizing::new(pem),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        warn_if_exposed(path);
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
            Error::Key(format!(
                "{} is not an Ed25519 PKCS#8 PEM private key ({e}); delete it to have a new \
                 dev key generated (tokens minted with the old key stop working)",
                path.display()
            ))
        })?;
        Self::from_signing_key(&key, path.to_path_buf()).map(Some)
    }

    fn from_signing_key(key: &SigningKey, key_path: PathBuf) -> Result<Self, Error> {
        let public = key.verifying_key().to_bytes();
        let mut kid = hex::encode(Sha256::digest(public));
        kid.truncate(16);
        let der = key
            .to_pkcs8_der()
            .map_err(|e| Error::Key(format!("cannot encode the dev issuer key: {e}")))?;
        let encoding_key = EncodingKey::from_ed_der(der.as_bytes());
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                key_id: Some(kid.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(public),
            }),
        };
        Ok(Self {
            kid,
            encoding_key,
            jwks: JwkSet { keys: vec![jwk] },
            key_path,
        })
    }
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("kid", &self.kid)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

// === impl TokenRequest ===

impl TokenRequest {
    /// Lifetime used by [`TokenRequest::new`].
    pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

    /// A request for `subject` in `tenant`: no scopes, the default audience, one hour.
    pub fn new(subject: impl Into<String>, tenant: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            tenant: tenant.into(),
            scopes: Vec::new(),
            audience: None,
            ttl: Self::DEFAULT_TTL,
            client_id: None,
            groups: Vec::new(),
        }
    }
}

// === helpers ===

fn check_request(req: &TokenRequest) -> Result<(), Error> {
    let bad = |what: &str| Err(Error::Malformed(format!("token request: {what}")));
    if req.subject.trim().is_empty() {
        return bad("the subject is empty; pass the user the token is for");
    }
    if req.tenant.trim().is_empty() {
        return bad("the tenant is empty; pass the tenant the token acts in");
    }
    if matches!(&req.audience, Some(aud) if aud.trim().is_empty()) {
        return bad("the audience is empty; pass an endpoint URL or leave it out");
    }
    if req
        .scopes
        .iter()
        .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        return bad("a scope is empty or contains whitespace; pass each scope separately");
    }
    Ok(())
}

/// Writes a new key file unless one appears first (see the module docs).
fn persist_new(dir: &Path, path: &Path, key: &SigningKey) -> Result<Persisted, Error> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::Key(format!("cannot encode the dev issuer key: {e}")))?;
    let tmp = dir.join(format!(
        ".{DEV_ISSUER_KEY_FILE}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    write_private(&tmp, pem.as_bytes()).map_err(|e| Error::io("write", &tmp, e))?;
    let linked = fs::hard_link(&tmp, path);
    // Best effort: a leftover temp file is harmless, and only ever readable by us.
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(Persisted::Written),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Persisted::LostRace),
        // Filesystems without hard links: create exclusively in place. A concurrent
        // reader could then see a partial file, which only such filesystems risk.
        Err(_) => match write_private(path, pem.as_bytes()) {
            Ok(()) => Ok(Persisted::Written),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Persisted::LostRace),
            Err(e) => Err(Error::io("write", path, e)),
        },
    }
}

/// Creates `path` exclusively with mode 0600 and writes `bytes` durably; removes it
/// again if writing fails.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        drop(file);
        let _ = fs::remove_file(path);
    }
    written
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The key is only for development, so a readable key file is worth a warning, not
/// a refusal to start.
fn warn_if_exposed(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the dev issuer key is readable by other users; run `chmod 600` on it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests;
