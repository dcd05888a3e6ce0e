//! Which claims make up a [`Principal`], and the one-pass parser that reads them
//! from a verified token's payload.
//!
//! The parser runs per request, so it is a serde visitor rather than a
//! `serde_json::Value`: claim names are matched without allocating, unknown claims are
//! skipped with `IgnoredAny`, and only the values Berth uses are copied out. The
//! audience is checked while parsing, so `aud` is never collected at all.
//!
//! It never fails on a claim's content: problems are recorded and reported after the
//! whole object is read, so that serde's own messages (which can quote token content)
//! never reach an [`Error`].
//!
//! Imports: `principal`, `error`. Must not import the validators (`jwt`,
//! `introspect`) that call this parser.

use std::fmt;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{Error, Principal};

/// Claim names used to build a [`Principal`] (configurable per issuer).
///
/// Missing fields in configuration take their defaults; unknown fields are rejected
/// so that a typo fails at startup rather than silently changing who is who.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClaimMapping {
    /// The tenant claim; a token without it is rejected. Default `berth_tenant`.
    pub tenant: String,
    /// The subject claim. Default `sub`.
    pub subject: String,
    /// The client id claim; `azp` is used when it is absent. Default `client_id`.
    pub client_id: String,
    /// The scope claim: a space-separated string or an array of strings; `scp` is used
    /// when it is absent. Default `scope`.
    pub scope: String,
    /// The groups claim: an array of strings (a single string counts as one group).
    /// Default `groups`.
    pub groups: String,
}

/// The audiences a token must name one of: the endpoint's canonical URL or a
/// configured extra audience.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Audiences<'a> {
    pub(crate) resource: &'a str,
    pub(crate) extra: &'a [String],
}

/// Everything the validator needs from a payload, read in one pass.
#[derive(Debug, Default)]
pub(crate) struct ParsedClaims {
    pub(crate) exp: Option<f64>,
    pub(crate) nbf: Option<f64>,
    /// Whether `aud` was present, and whether it named an accepted audience.
    pub(crate) aud_present: bool,
    pub(crate) aud_accepted: bool,
    tenant: Option<String>,
    subject: Option<String>,
    client_id: Option<String>,
    azp: Option<String>,
    scope: Option<Vec<String>>,
    scp: Option<Vec<String>>,
    groups: Option<Vec<String>>,
    /// Roles already seen, to reject duplicated claims.
    seen: u16,
    /// The first problem found; reported once the payload has been read.
    pub(crate) problem: Option<Error>,
}

/// Reads a payload under a mapping, checking the audience on the way.
pub(crate) struct ClaimsSeed<'a> {
    pub(crate) mapping: &'a ClaimMapping,
    pub(crate) audiences: Audiences<'a>,
}

/// Fallback claim names, used only when the configured claim is absent.
const CLIENT_ID_FALLBACK: &str = "azp";
const SCOPE_FALLBACK: &str = "scp";

// Roles a claim name can play. One name may play several (e.g. a mapping that reads
// the subject from `client_id`), hence a bit set.
const TENANT: u16 = 1 << 0;
const SUBJECT: u16 = 1 << 1;
const CLIENT_ID: u16 = 1 << 2;
const AZP: u16 = 1 << 3;
const SCOPE: u16 = 1 << 4;
const SCP: u16 = 1 << 5;
const GROUPS: u16 = 1 << 6;
const AUD: u16 = 1 << 7;
const EXP: u16 = 1 << 8;
const NBF: u16 = 1 << 9;
const ROLES: [u16; 10] = [
    TENANT, SUBJECT, CLIENT_ID, AZP, SCOPE, SCP, GROUPS, AUD, EXP, NBF,
];

/// A claim value, reduced to the shapes Berth uses.
#[derive(Clone, Debug)]
enum ClaimValue {
    Str(String),
    List(Vec<String>),
    Num(f64),
    /// Anything else: bool, null, object, or an array holding non-strings.
    Other,
}

struct KeySeed<'s, 'a>(&'s ClaimsSeed<'a>);
struct ClaimsVisitor<'s, 'a>(&'s ClaimsSeed<'a>);
struct ClaimValueVisitor;
/// An array element: `Some` for a string, `None` for anything else.
struct StringItem(Option<String>);
struct StringItemVisitor;

// === impl ClaimMapping ===

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            tenant: "berth_tenant".to_owned(),
            subject: "sub".to_owned(),
            client_id: "client_id".to_owned(),
            scope: "scope".to_owned(),
            groups: "groups".to_owned(),
        }
    }
}

impl ClaimMapping {
    /// Rejects empty claim names (a config mistake that would make every token fail).
    pub(crate) fn check(&self) -> Result<(), Error> {
        for (field, name) in [
            ("tenant", &self.tenant),
            ("subject", &self.subject),
            ("client_id", &self.client_id),
            ("scope", &self.scope),
            ("groups", &self.groups),
        ] {
            if name.trim().is_empty() {
                return Err(Error::Malformed(format!(
                    "claim mapping `{field}` is empty; set it to a claim name or leave it out \
                     for the default"
                )));
            }
        }
        Ok(())
    }

    fn roles(&self, key: &str) -> u16 {
        let mut roles = 0;
        for (role, name) in [
            (TENANT, self.tenant.as_str()),
            (SUBJECT, &self.subject),
            (CLIENT_ID, &self.client_id),
            (AZP, CLIENT_ID_FALLBACK),
            (SCOPE, &self.scope),
            (SCP, SCOPE_FALLBACK),
            (GROUPS, &self.groups),
            (AUD, "aud"),
            (EXP, "exp"),
            (NBF, "nbf"),
        ] {
            if key == name {
                roles |= role;
            }
        }
        roles
    }

    fn claim_name(&self, role: u16) -> &str {
        match role {
            TENANT => &self.tenant,
            SUBJECT => &self.subject,
            CLIENT_ID => &self.client_id,
            AZP => CLIENT_ID_FALLBACK,
            SCOPE => &self.scope,
            SCP => SCOPE_FALLBACK,
            GROUPS => &self.groups,
            AUD => "aud",
            EXP => "exp",
            _ => "nbf",
        }
    }
}

// === impl Audiences ===

impl Audiences<'_> {
    /// The resource URL matches exactly or up to a trailing `/`; extra audiences match
    /// exactly.
    fn accepts(&self, aud: &str) -> bool {
        aud == self.resource
            || aud.trim_end_matches('/') == self.resource.trim_end_matches('/')
            || self.extra.iter().any(|extra| extra == aud)
    }
}

// === impl ParsedClaims ===

impl ParsedClaims {
    /// Parses a JSON payload (already known to be valid JSON).
    pub(crate) fn parse(payload: &str, seed: &ClaimsSeed<'_>) -> Result<Self, Error> {
        let mut de = serde_json::Deserializer::from_str(payload);
        let parsed = seed
            .deserialize(&mut de)
            .and_then(|parsed| de.end().map(|()| parsed))
            .map_err(|_| Error::MalformedToken("its claims are not a JSON object".to_owned()))?;
        match parsed.problem {
            Some(problem) => Err(problem),
            None => Ok(parsed),
        }
    }

    /// Builds the principal: tenant and subject must be present and non-empty.
    pub(crate) fn into_principal(self, mapping: &ClaimMapping) -> Result<Principal, Error> {
        let tenant = self
            .tenant
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::MissingClaim(mapping.tenant.clone()))?;
        let subject = self
            .subject
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::MissingClaim(mapping.subject.clone()))?;
        Ok(Principal {
            tenant,
            subject,
            client_id: self.client_id.or(self.azp),
            scopes: self.scope.or(self.scp).unwrap_or_default(),
            groups: self.groups.unwrap_or_default(),
        })
    }

    fn apply(&mut self, roles: u16, value: ClaimValue, seed: &ClaimsSeed<'_>) {
        let repeated = self.seen & roles;
        if repeated != 0 {
            // Duplicate names are a known trick against parsers that disagree on which
            // copy wins; refuse rather than pick one.
            let name = seed.mapping.claim_name(repeated & repeated.wrapping_neg());
            self.fail(format!("claim `{name}` appears more than once"));
            return;
        }
        self.seen |= roles;
        if roles.is_power_of_two() {
            self.apply_one(roles, value, seed);
            return;
        }
        for role in ROLES {
            if roles & role != 0 {
                self.apply_one(role, value.clone(), seed);
            }
        }
    }

    fn apply_one(&mut self, role: u16, value: ClaimValue, seed: &ClaimsSeed<'_>) {
        let name = seed.mapping.claim_name(role);
        match (role, value) {
            (TENANT, ClaimValue::Str(s)) => self.tenant = Some(s),
            (SUBJECT, ClaimValue::Str(s)) => self.subject = Some(s),
            (CLIENT_ID, ClaimValue::Str(s)) => self.client_id = Some(s),
            (AZP, ClaimValue::Str(s)) => self.azp = Some(s),
            (SCOPE, v) | (SCP, v) => {
                let scopes = match v {
                    ClaimValue::Str(s) => s.split_ascii_whitespace().map(str::to_owned).collect(),
                    ClaimValue::List(list) => list,
                    _ => {
                        return self.fail(format!(
                            "claim `{name}` must be a space-separated string or an array of \
                             strings"
                        ));
                    }
                };
                if role == SCOPE {
                    self.scope = Some(scopes);
                } else {
                    self.scp = Some(scopes);
                }
            }
            (GROUPS, ClaimValue::List(list)) => self.groups = Some(list),
            (GROUPS, ClaimValue::Str(s)) => self.groups = Some(vec![s]),
            (AUD, ClaimValue::Str(s)) => {
                self.aud_present = true;
                self.aud_accepted |= seed.audiences.accepts(&s);
            }
            (AUD, ClaimValue::List(list)) => {
                self.aud_present = true;
                self.aud_accepted |= list.iter().any(|aud| seed.audiences.accepts(aud));
            }
            (EXP, ClaimValue::Num(n)) => self.exp = Some(n),
            (NBF, ClaimValue::Num(n)) => self.nbf = Some(n),
            (GROUPS | AUD, _) => self.fail(format!(
                "claim `{name}` must be a string or an array of strings"
            )),
            (EXP | NBF, _) => self.fail(format!("claim `{name}` must be a number")),
            _ => self.fail(format!("claim `{name}` must be a string")),
        }
    }

    fn fail(&mut self, msg: String) {
        if self.problem.is_none() {
            self.problem = Some(Error::MalformedToken(msg));
        }
    }
}

// === impl ClaimsSeed ===

impl<'de> DeserializeSeed<'de> for &ClaimsSeed<'_> {
    type Value = ParsedClaims;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_map(ClaimsVisitor(self))
    }
}

// === impl ClaimsVisitor ===

impl<'de> Visitor<'de> for ClaimsVisitor<'_, '_> {
    type Value = ParsedClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut parsed = ParsedClaims::default();
        while let Some(roles) = map.next_key_seed(KeySeed(self.0))? {
            if roles == 0 {
                map.next_value::<IgnoredAny>()?;
            } else {
                let value = map.next_value_seed(ClaimValueVisitor)?;
                parsed.apply(roles, value, self.0);
            }
        }
        Ok(parsed)
    }
}

// === impl KeySeed ===

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_> {
    type Value = u16;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<u16, D::Error> {
        de.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_, '_> {
    type Value = u16;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<u16, E> {
        Ok(self.0.mapping.roles(key))
    }
}

// === impl ClaimValueVisitor ===

impl<'de> DeserializeSeed<'de> for ClaimValueVisitor {
    type Value = ClaimValue;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<ClaimValue, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ClaimValueVisitor {
    type Value = ClaimValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim value")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Str(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Str(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Num(v as f64))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Num(v as f64))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Num(v))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Other)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<ClaimValue, E> {
        Ok(ClaimValue::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ClaimValue, A::Error> {
        let mut list = Vec::new();
        let mut all_strings = true;
        while let Some(StringItem(item)) = seq.next_element()? {
            match item {
                Some(s) if all_strings => list.push(s),
                Some(_) => {}
                None => all_strings = false,
            }
        }
        Ok(if all_strings {
            ClaimValue::List(list)
        } else {
            ClaimValue::Other
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ClaimValue, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(ClaimValue::Other)
    }
}

// === impl StringItem ===

impl<'de> Deserialize<'de> for StringItem {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(StringItemVisitor).map(StringItem)
    }
}

impl<'de> Visitor<'de> for StringItemVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array element")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
