//! Kubernetes resource quantities (`256Mi`, `1Gi`, `500m`, `1.5`, `1e3`):
//! parsed to a number, then to docker's memory bytes and nano CPUs.
//!
//! Imports no sibling module.

use serde_json::Value;

/// Parses a quantity (a JSON string or number) to its value in base units.
pub(crate) fn parse(q: &Value) -> Result<f64, String> {
    let text = match q {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("{other} is not a quantity")),
    };
    let bad = || {
        format!(
            "\"{text}\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    if number.is_empty() || number == "+" || number == "-" || number.matches('.').count() > 1 {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let factor = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => {
            let exp: i32 = s[1..].parse().map_err(|_| bad())?;
            10f64.powi(exp)
        }
        _ => return Err(bad()),
    };
    let v = value * factor;
    if v < 0.0 || !v.is_finite() {
        return Err(bad());
    }
    Ok(v)
}

/// Memory bytes (rounded up, as Kubernetes does).
pub(crate) fn memory_bytes(q: &Value) -> Result<i64, String> {
    Ok(parse(q)?.ceil() as i64)
}

/// CPU in docker's nano CPUs (`500m` -> 500 000 000).
pub(crate) fn nano_cpus(q: &Value) -> Result<i64, String> {
    Ok((parse(q)? * 1e9).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::{memory_bytes, nano_cpus};
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(memory_bytes(&json!("256Mi")), Ok(268_435_456));
        assert_eq!(memory_bytes(&json!("1Gi")), Ok(1_073_741_824));
        assert_eq!(memory_bytes(&json!("1.5Gi")), Ok(1_610_612_736));
        assert_eq!(memory_bytes(&json!("1000")), Ok(1000));
        assert_eq!(memory_bytes(&json!(4096)), Ok(4096));
        assert_eq!(memory_bytes(&json!("128M")), Ok(128_000_000));
        assert_eq!(memory_bytes(&json!("1e3")), Ok(1000));
        assert_eq!(nano_cpus(&json!("500m")), Ok(500_000_000));
        assert_eq!(nano_cpus(&json!("1")), Ok(1_000_000_000));
        assert_eq!(nano_cpus(&json!("0.25")), Ok(250_000_000));
        assert!(memory_bytes(&json!("lots")).is_err());
        assert!(memory_bytes(&json!("1Xi")).is_err());
        assert!(memory_bytes(&json!("-1Gi")).is_err());
    }
}
