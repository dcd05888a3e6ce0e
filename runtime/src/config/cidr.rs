//! [`Cidr`]: an address block such as `10.0.0.0/8` or `fd00::/8` (a bare
//! address is a block of one), for `security.trusted_proxies`.
//!
//! May import: nothing else in the crate.

use std::net::IpAddr;

/// An IPv4 or IPv6 address block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    base: IpAddr,
    prefix: u8,
}

// === impl Cidr ===

impl Cidr {
    /// Parses `ADDR/LEN` or a bare `ADDR`; the error says what is wrong.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let base: IpAddr = addr.trim().parse().map_err(|_| {
            format!("`{s}` is not an address block; use e.g. \"10.0.0.0/8\", \"127.0.0.1/32\" or \"fd00::/8\"")
        })?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0-{max}"))?,
        };
        let block = Cidr { base, prefix };
        if block.mask(base) != bits(base) {
            return Err(format!(
                "`{s}` has host bits set past /{prefix}; write the block's first address (e.g. \"10.0.0.0/8\")"
            ));
        }
        Ok(block)
    }

    /// Whether `ip` is in the block (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address).
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        ip.is_ipv4() == self.base.is_ipv4() && self.mask(ip) == bits(self.base)
    }

    /// `ip`'s bits with those past the prefix cleared.
    fn mask(&self, ip: IpAddr) -> u128 {
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let keep = u32::from(self.prefix);
        if keep == 0 {
            return 0;
        }
        let shift = width - keep;
        (bits(ip) >> shift) << shift
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_contain_their_addresses_only() {
        let b = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(b.contains(ip("10.1.2.3")));
        assert!(b.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        assert!(!b.contains(ip("11.0.0.1")));
        assert!(!b.contains(ip("::1")));
        let one = Cidr::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let v6 = Cidr::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        assert!(Cidr::parse("::1/128").unwrap().contains(ip("::1")));
    }

    #[test]
    fn bad_blocks_are_named() {
        for bad in [
            "",
            "10.0.0/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.1/8",
            "host/8",
            "1.2.3.4/x",
        ] {
            let e = Cidr::parse(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{bad}: {e}");
        }
    }
}
