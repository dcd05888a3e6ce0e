//! Parsing and checking single config values: sizes (`256m`) and names.
//!
//! May import: nothing else in the crate.

/// Tenant and server names: 1–63 chars of `[a-z0-9-_]`, starting alphanumeric.
/// Keeps names safe in URLs, Redis keys, container labels and paths.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name `{name}`: use 1-63 lowercase letters, digits, `-` or `_`, starting with a letter or digit"
        ))
    }
}

/// Parses a size like `256m`, `1g`, `512k` or plain bytes.
pub(crate) fn parse_size(s: &str) -> Result<i64, String> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult = match &s[i..] {
                "k" | "kb" | "kib" => 1 << 10,
                "m" | "mb" | "mib" => 1 << 20,
                "g" | "gb" | "gib" => 1 << 30,
                "b" => 1,
                other => return Err(format!("unknown size unit `{other}`; use k, m or g")),
            };
            (&s[..i], mult)
        }
        None => (s.as_str(), 1),
    };
    let n: i64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 256m"))?;
    n.checked_mul(mult)
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("`{s}` is out of range"))
}
