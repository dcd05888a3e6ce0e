//! Object metadata helpers: timestamps, uids, `generateName` suffixes and
//! name validation, as the API server does them.
//!
//! Imports no sibling module.

use rand::Rng;

/// Now, as an RFC 3339 UTC timestamp with seconds (`2025-01-02T03:04:05Z`).
pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A fresh object uid.
pub(crate) fn uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `generateName` + 5 random lowercase alphanumerics (the API server's
/// alphabet leaves out vowels and look-alikes; so does this).
pub(crate) fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::thread_rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

/// Checks a name is a DNS-1123 subdomain; the error is the API's wording.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{check_name, generate_name};

    #[test]
    fn names() {
        let n = generate_name("berth-");
        assert_eq!(n.len(), 11);
        assert!(check_name(&n).is_ok());
        assert!(check_name("a.b-c").is_ok());
        assert!(check_name("Upper").is_err());
        assert!(check_name("-x").is_err());
        assert!(check_name("").is_err());
    }
}
