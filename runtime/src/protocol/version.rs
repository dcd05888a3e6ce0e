//! MCP protocol versions: an ordered enum, the era each belongs to, and
//! the feature predicates the rest of Berth asks instead of comparing
//! version strings.
//!
//! May import: nothing.

use std::fmt;

/// An MCP protocol version Berth knows. Ordered by release date, so
/// `v >= Version::V2025_11_25` reads "2025-11-25 or later".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 2024-11-05: the first release (HTTP+SSE transport; not served).
    V2024_11_05,
    /// 2025-03-26: Streamable HTTP, sessions.
    V2025_03_26,
    /// 2025-06-18: `MCP-Protocol-Version` header, no batches.
    V2025_06_18,
    /// 2025-11-25: SSE priming events and polling (SEP-1699).
    V2025_11_25,
    /// 2026-07-28: stateless requests, per-request `_meta`.
    V2026_07_28,
}

/// How a version's clients talk to a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// `initialize` first, then requests within an `Mcp-Session-Id`.
    Sessions,
    /// No handshake: every request carries its version and capabilities.
    Stateless,
}

// === impl Version ===

impl Version {
    /// Versions a legacy (session) client may use on Berth's endpoint.
    pub const SESSION_VERSIONS: &'static [Version] = &[
        Version::V2025_03_26,
        Version::V2025_06_18,
        Version::V2025_11_25,
    ];

    /// Every version Berth speaks, newest first: what `server/discover`
    /// and the -32022 error list.
    pub const SUPPORTED: &'static [Version] = &[
        Version::V2026_07_28,
        Version::V2025_11_25,
        Version::V2025_06_18,
        Version::V2025_03_26,
    ];

    /// The newest session-era version: what Berth asks for when it
    /// initializes a server on a stateless agent's behalf.
    pub const LATEST_SESSIONS: Version = Version::V2025_11_25;

    /// The stateless version Berth serves.
    pub const STATELESS: Version = Version::V2026_07_28;

    const ALL: &'static [Version] = &[
        Version::V2024_11_05,
        Version::V2025_03_26,
        Version::V2025_06_18,
        Version::V2025_11_25,
        Version::V2026_07_28,
    ];

    /// Parses a version string exactly (`"2025-11-25"`); `None` for any
    /// other text, including versions Berth does not know.
    pub fn parse(s: &str) -> Option<Version> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    /// The version as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V2024_11_05 => "2024-11-05",
            Version::V2025_03_26 => "2025-03-26",
            Version::V2025_06_18 => "2025-06-18",
            Version::V2025_11_25 => "2025-11-25",
            Version::V2026_07_28 => "2026-07-28",
        }
    }

    /// Which era the version belongs to.
    pub fn era(self) -> Era {
        if self >= Version::V2026_07_28 {
            Era::Stateless
        } else {
            Era::Sessions
        }
    }

    /// Slow answers open with a priming SSE event (an id and a `retry`),
    /// so the client can resume with `Last-Event-ID` (2025-11-25 on).
    pub fn has_priming_events(self) -> bool {
        self >= Version::V2025_11_25
    }

    /// A session client may use this version on Berth's endpoint.
    pub fn is_served_with_sessions(self) -> bool {
        Self::SESSION_VERSIONS.contains(&self)
    }

    /// Joins versions for an error message: `"2025-03-26, 2025-06-18"`.
    pub fn list(versions: &[Version]) -> String {
        versions
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip_for_every_version() {
        for v in Version::ALL {
            assert_eq!(Version::parse(v.as_str()), Some(*v));
            assert_eq!(v.to_string(), v.as_str());
        }
        for unknown in ["", "2025-11-26", "v999.0.0", "2025-11-25 ", "2026-07-28\0"] {
            assert_eq!(Version::parse(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn versions_are_ordered_by_release() {
        let mut sorted = Version::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, Version::ALL);
        assert!(Version::V2025_06_18 < Version::V2025_11_25);
        // Newest first, and every listed version is one Berth parses.
        assert!(Version::SUPPORTED.windows(2).all(|w| w[0] > w[1]));
    }

    #[test]
    fn eras_and_features() {
        assert_eq!(Version::V2026_07_28.era(), Era::Stateless);
        for v in Version::SESSION_VERSIONS {
            assert_eq!(v.era(), Era::Sessions);
            assert!(v.is_served_with_sessions());
        }
        assert!(!Version::V2024_11_05.is_served_with_sessions());
        assert!(!Version::V2026_07_28.is_served_with_sessions());
        assert!(!Version::V2025_06_18.has_priming_events());
        assert!(Version::V2025_11_25.has_priming_events());
        assert!(Version::V2026_07_28.has_priming_events());
        assert_eq!(Version::LATEST_SESSIONS.era(), Era::Sessions);
        assert_eq!(
            Version::list(Version::SESSION_VERSIONS),
            "2025-03-26, 2025-06-18, 2025-11-25"
        );
    }
}
