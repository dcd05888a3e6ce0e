//! [`meta_field`]: one member of `params._meta`, read as raw JSON in one
//! pass over params that keeps nothing else (no map of params or of
//! `_meta` is built: it runs on every request and every message a server
//! sends).
//!
//! May import: external crates only.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Reads `params._meta.<field>` as raw JSON without decoding the rest of
/// params. As JSON objects with repeated members are read elsewhere, the
/// last `_meta` counts, and in it the last `field`.
pub fn meta_field<'a>(params: Option<&'a RawValue>, field: &str) -> Option<&'a RawValue> {
    let params = params?;
    // Most messages carry no such member: skip the parse.
    memchr::memmem::find(params.get().as_bytes(), field.as_bytes())?;
    let mut de = serde_json::Deserializer::from_str(params.get());
    Members {
        name: "_meta",
        inner: Some(field),
    }
    .deserialize(&mut de)
    .ok()
    .flatten()
}

/// The last member `name` of a JSON object (`None` if it has none, or is
/// not an object); with `inner`, that member's own last member `inner`.
struct Members<'f> {
    name: &'f str,
    inner: Option<&'f str>,
}

impl<'de, 'f> DeserializeSeed<'de> for Members<'f> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de, 'f> Visitor<'de> for Members<'f> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key != self.name {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            found = match self.inner {
                Some(inner) => map.next_value_seed(Members {
                    name: inner,
                    inner: None,
                })?,
                None => Some(map.next_value::<&'de RawValue>()?),
            };
        }
        Ok(found)
    }

    // Anything but an object holds no member.
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::meta_field;
    use serde_json::value::RawValue;

    fn meta<'a>(params: &'a str, field: &str) -> Option<&'a str> {
        let raw: &RawValue = serde_json::from_str(params).unwrap();
        meta_field(Some(raw), field).map(RawValue::get)
    }

    #[test]
    fn reads_one_member_of_meta_as_raw_json() {
        let p = r#"{"name":"echo","arguments":{"_meta":{"progressToken":"no"}},"_meta":{"a":[1,{"b":2}],"progressToken": {"x" : 1}}}"#;
        assert_eq!(meta(p, "progressToken"), Some(r#"{"x" : 1}"#));
        assert_eq!(meta(p, "a"), Some(r#"[1,{"b":2}]"#));
        assert_eq!(meta(p, "missing"), None);
        // Escaped names are names.
        assert_eq!(
            meta(r#"{"\u005fmeta":{"t\u006bn":7}}"#, "tkn"),
            None,
            "no raw match"
        );
        assert_eq!(meta(r#"{"\u005fmeta":{"tkn":7}}"#, "tkn"), Some("7"));
    }

    #[test]
    fn the_last_meta_and_the_last_member_count() {
        assert_eq!(meta(r#"{"_meta":{"t":1,"t":2}}"#, "t"), Some("2"));
        assert_eq!(meta(r#"{"_meta":{"t":1},"_meta":{"u":2}}"#, "t"), None);
        assert_eq!(meta(r#"{"_meta":{"u":1},"_meta":{"t":2}}"#, "t"), Some("2"));
    }

    #[test]
    fn anything_but_objects_holds_nothing() {
        for p in [
            r#"{"_meta":"t"}"#,
            r#"{"_meta":["t"]}"#,
            r#"["t"]"#,
            r#""t""#,
            r#"{"_meta":null,"t":1}"#,
        ] {
            assert_eq!(meta(p, "t"), None, "{p}");
        }
    }
}
