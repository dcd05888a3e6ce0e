//! Human-friendly token lifetimes for `berth token --ttl`.
//!
//! Imports: only `error`. Must not import the issuer that uses it
//! (`dev_issuer`).

use std::time::Duration;

use crate::Error;

/// Parses `"90s"`, `"15m"`, `"1h"` or `"2d"` into a [`Duration`].
///
/// A whole number and one lowercase unit are required: a bare number is ambiguous,
/// and `M` could be read as months.
pub fn parse_ttl(s: &str) -> Result<Duration, Error> {
    let bad = || {
        Error::Malformed(format!(
            "invalid TTL `{}`: expected a whole number and a unit s, m, h or d (e.g. 90s, 15m, \
             1h, 2d)",
            s.escape_debug()
        ))
    };
    let s = s.trim();
    let unit_at = s.len().checked_sub(1).ok_or_else(bad)?;
    let (digits, unit) = s.split_at_checked(unit_at).ok_or_else(bad)?;
    let secs_per_unit: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = n.checked_mul(secs_per_unit).ok_or_else(bad)?;
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::parse_ttl;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_ttl("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_ttl(" 5m ").unwrap(), Duration::from_secs(300));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "s",
            "90",
            "1.5h",
            "-1h",
            "+1h",
            "1H",
            "1M",
            "1w",
            "1 h",
            "h1",
            "1hh",
            "99999999999999999999d",
            "213503982334602d",
            "é",
        ] {
            let err = parse_ttl(bad).unwrap_err();
            assert_eq!(err.www_authenticate_error(), "invalid_request", "{bad}");
        }
    }
}
