//! Where a pod is on the network, as far as the takeover rules need it.
//!
//! Two rules take a session from an owner whose liveness record still
//! shows it alive, and both trust an address:
//!
//! - a refused connection at the owner's advertised URL proves its death
//!   only if the refusing network is the owner's own: a loopback or
//!   unspecified address (`127.0.0.1`, `0.0.0.0`, `localhost`) reaches a
//!   different place from every network namespace ([`local_only`]);
//! - a pod that holds the owner's advertised address (its listener is bound
//!   there, in the same network namespace, so no other process can be)
//!   is that owner's successor ([`holds`], [`same_network`]). A URL shared
//!   by several pods (a balancer, `0.0.0.0` on several hosts) is held by
//!   none of them, or by pods in different namespaces.
//!
//! A process's incarnation ends with its network identity (a digest of the
//! host's boot id and its network namespace), so an owner record and a pod
//! record say where their process ran without a new field that older pods
//! would fail to verify.
//!
//! May import: external crates.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

/// Separates an incarnation's random part from its network identity.
const NETWORK_MARK: char = '.';

/// A new incarnation: a random part, then this process's network identity.
pub(crate) fn new_incarnation() -> String {
    format!(
        "{}{NETWORK_MARK}{}",
        hex::encode(rand::random::<[u8; 8]>()),
        network_identity()
    )
}

/// A digest of this host's boot and this process's network namespace: two
/// processes with the same value reach the same loopback interface and
/// cannot both listen on one address. Random where either cannot be read
/// (then equal to no other process's).
fn network_identity() -> String {
    use sha2::Digest;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id");
    let namespace = std::fs::read_link("/proc/self/ns/net");
    match (boot, namespace) {
        (Ok(boot), Ok(namespace)) => {
            let mut h = sha2::Sha256::new();
            h.update(boot.trim().as_bytes());
            h.update([0]);
            h.update(namespace.as_os_str().as_encoded_bytes());
            hex::encode(&h.finalize()[..8])
        }
        _ => hex::encode(rand::random::<[u8; 8]>()),
    }
}

/// Whether two incarnations ran in the same network namespace of the same
/// host boot. `false` when either does not say (a record of an older
/// Berth).
pub(crate) fn same_network(a: &str, b: &str) -> bool {
    match (network_of(a), network_of(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `incarnation` as if its process ran in another network namespace.
#[cfg(test)]
pub(crate) fn elsewhere(incarnation: &str) -> String {
    let random = incarnation.split(NETWORK_MARK).next().unwrap_or_default();
    format!("{random}{NETWORK_MARK}0000000000000000")
}

/// The network identity `incarnation` ends with; `None` for an older
/// Berth's incarnation, which does not say.
pub(crate) fn network_of(incarnation: &str) -> Option<&str> {
    incarnation
        .split_once(NETWORK_MARK)
        .map(|(_, network)| network)
        .filter(|n| !n.is_empty())
}

/// The address of an `http(s)://host:port` URL whose host is an IP
/// address or `localhost`; `None` for another name or a malformed URL.
fn socket_of(url: &str) -> Option<SocketAddr> {
    let parsed = url::Url::parse(url).ok()?;
    let port = parsed.port_or_known_default()?;
    let ip = match parsed.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
        url::Host::Domain(_) => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Whether `url`'s address reaches a different place from each network
/// namespace (loopback, unspecified, `localhost`).
pub(crate) fn local_only(url: &str) -> bool {
    socket_of(url).is_some_and(|at| at.ip().is_loopback() || at.ip().is_unspecified())
}

/// Whether `url`'s host is the unspecified address (`0.0.0.0`, `[::]`):
/// a listen address, which reaches only the host that connects to it.
pub(crate) fn unspecified(url: &str) -> bool {
    socket_of(url).is_some_and(|at| at.ip().is_unspecified())
}

/// Whether this process, listening on `bound`, holds `url`'s address in
/// its network namespace: the URL names the listener's port on the
/// listener's own address, or (a listener on every address) on an address
/// of this namespace. A name other than `localhost` is never held (what it
/// resolves to may change).
pub(crate) fn holds(url: &str, bound: SocketAddr) -> bool {
    let Some(at) = socket_of(url) else {
        return false;
    };
    if at.port() != bound.port() {
        return false;
    }
    if bound.ip() == at.ip() {
        return true;
    }
    bound.ip().is_unspecified() && (at.ip().is_unspecified() || is_local_address(at.ip()))
}

/// Whether `ip` is an address of this network namespace (a socket can be
/// bound to it; a balancer's or another host's address cannot be).
fn is_local_address(ip: IpAddr) -> bool {
    ip.is_loopback() || UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_incarnation_names_its_network() {
        let (a, b) = (new_incarnation(), new_incarnation());
        assert_ne!(a, b, "the random part differs per process start");
        assert!(same_network(&a, &b), "one process, one namespace");
        assert!(!same_network(&a, &elsewhere(&a)));
        assert!(
            !same_network("0123456789abcdef", "0123456789abcdef"),
            "an older Berth's incarnation says nothing about where it ran"
        );
    }

    #[test]
    fn loopback_and_unspecified_urls_are_local_only() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://0.0.0.0:8080",
            "http://[::1]:8080",
        ] {
            assert!(local_only(url), "{url}");
        }
        for url in [
            "http://10.0.3.7:8080",
            "http://berth-0.berth:8080",
            "nonsense",
        ] {
            assert!(!local_only(url), "{url}");
        }
        assert!(unspecified("http://0.0.0.0:8080") && unspecified("http://[::]:80"));
        assert!(!unspecified("http://127.0.0.1:8080"));
    }

    #[test]
    fn a_listener_holds_only_its_own_address() {
        assert!(holds("http://127.0.0.1:8080", at("127.0.0.1:8080")));
        assert!(holds("http://localhost:8080", at("0.0.0.0:8080")));
        assert!(holds("http://0.0.0.0:8080", at("0.0.0.0:8080")));
        assert!(
            !holds("http://127.0.0.1:8081", at("127.0.0.1:8080")),
            "port"
        );
        assert!(!holds("http://127.0.0.2:8080", at("127.0.0.1:8080")), "ip");
        assert!(
            !holds("http://192.0.2.1:8080", at("0.0.0.0:8080")),
            "an address of no interface here (a balancer's) is not held"
        );
        assert!(!holds("http://berth:8080", at("0.0.0.0:8080")), "a name");
    }
}
