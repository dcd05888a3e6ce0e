//! Parsing of `store.url` into where [`RedisStore`](super::RedisStore)
//! connects: one Redis server, a primary found through Sentinels, or a
//! Redis Cluster found through seed nodes; each over TLS with the `rediss`
//! form of its scheme.
//!
//! Error messages name the expected form and the offending part (host, port,
//! scheme) but never echo the URL itself: it may carry a password.
//!
//! Imports: `options` and the crate's `error`. Must not import any other
//! module of `redis_store`.

use std::fmt;

use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo, TlsMode};

use super::options::RedisTls;
use crate::error::Error;

/// Port used for a Sentinel address written without one.
const DEFAULT_SENTINEL_PORT: u16 = 26379;
/// Port used for a cluster node address written without one.
const DEFAULT_CLUSTER_PORT: u16 = 6379;

const DIRECT_FORM: &str = "redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]";
const SENTINEL_FORM: &str =
    "redis[s]+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER-NAME[/DB]";
const CLUSTER_FORM: &str = "redis[s]+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...][/]";

/// A URL form with a list of addresses: what the addresses are called in
/// messages, their default port and the form to show.
struct HostList {
    what: &'static str,
    default_port: u16,
    form: &'static str,
}

const SENTINELS: HostList = HostList {
    what: "Sentinel address",
    default_port: DEFAULT_SENTINEL_PORT,
    form: SENTINEL_FORM,
};
const CLUSTER_NODES: HostList = HostList {
    what: "cluster node address",
    default_port: DEFAULT_CLUSTER_PORT,
    form: CLUSTER_FORM,
};

/// Where the store's data lives.
#[derive(Clone)]
pub(crate) enum Endpoint {
    /// One server (`redis://`, or `rediss://` over TLS).
    Direct(ConnectionInfo),
    /// A primary named `master`, looked up through Sentinels.
    Sentinel(SentinelEndpoint),
    /// A Redis Cluster, its slot map read from any of the seed nodes.
    Cluster(ClusterEndpoint),
}

/// The parts of a `redis+sentinel://` URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SentinelEndpoint {
    pub(crate) sentinels: Vec<(String, u16)>,
    pub(crate) master: String,
    pub(crate) db: i64,
    /// Credentials for the Redis nodes (not for the Sentinels).
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    /// `rediss+sentinel://`: TLS to the Sentinels and to the nodes.
    pub(crate) tls: bool,
}

/// The parts of a `redis+cluster://` URL.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ClusterEndpoint {
    /// Seed nodes: any one that answers gives the whole slot map.
    pub(crate) nodes: Vec<(String, u16)>,
    /// Credentials for every node.
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    /// `rediss+cluster://`: TLS to every node.
    pub(crate) tls: bool,
}

// === impl Endpoint ===

impl Endpoint {
    /// Parses `store.url`: `redis://…`, `redis+sentinel://…` or
    /// `redis+cluster://…`, or the same with `rediss` (TLS).
    pub(crate) fn parse(url: &str) -> Result<Endpoint, Error> {
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
            None => (None, ""),
        };
        match scheme.as_deref() {
            Some("redis" | "rediss") => parse_direct(url),
            Some("redis+sentinel") => parse_sentinel(rest, false),
            Some("rediss+sentinel") => parse_sentinel(rest, true),
            Some("redis+cluster") => parse_cluster(rest, false),
            Some("rediss+cluster") => parse_cluster(rest, true),
            Some(other) => Err(invalid(format!(
                "unsupported scheme `{}`; expected {DIRECT_FORM}, {SENTINEL_FORM} or {CLUSTER_FORM}",
                sanitize(other)
            ))),
            None => Err(invalid(format!(
                "not a URL; expected {DIRECT_FORM}, {SENTINEL_FORM} or {CLUSTER_FORM}"
            ))),
        }
    }

    /// Whether connections use TLS (a `rediss` scheme).
    pub(crate) fn is_tls(&self) -> bool {
        match self {
            Endpoint::Direct(info) => matches!(info.addr(), ConnectionAddr::TcpTls { .. }),
            Endpoint::Sentinel(s) => s.tls,
            Endpoint::Cluster(c) => c.tls,
        }
    }

    /// Where it points, without credentials: `HOST:PORT` for one server,
    /// `primary `NAME` via Sentinel at HOST:PORT,…` or `Cluster at
    /// HOST:PORT,…` otherwise.
    pub(crate) fn describe(&self) -> String {
        match self {
            Endpoint::Direct(info) => info.addr().to_string(),
            Endpoint::Sentinel(s) => format!(
                "primary `{}` via Sentinel at {}",
                s.master,
                join_addrs(&s.sentinels)
            ),
            Endpoint::Cluster(c) => format!("Cluster at {}", join_addrs(&c.nodes)),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

// === impl SentinelEndpoint ===

impl SentinelEndpoint {
    /// A Sentinel client that looks up the primary and connects to it with
    /// this URL's database and credentials.
    pub(crate) fn client(&self, tls: &RedisTls) -> Result<SentinelClient, Error> {
        let addrs = self.sentinels.iter().map(|(host, port)| match self.tls {
            true => ConnectionAddr::TcpTls {
                host: host.clone(),
                port: *port,
                insecure: false,
                tls_params: None,
            },
            false => ConnectionAddr::Tcp(host.clone(), *port),
        });
        let mut builder =
            SentinelClientBuilder::new(addrs, &self.master, SentinelServerType::Master)
                .map_err(|e| invalid(format!("Sentinel client setup failed: {}", e.category())))?
                .set_client_to_redis_db(self.db);
        if self.tls {
            builder = builder
                .set_client_to_sentinel_tls_mode(TlsMode::Secure)
                .set_client_to_sentinel_certificates(tls.certificates())
                .set_client_to_redis_tls_mode(TlsMode::Secure)
                .set_client_to_redis_certificates(tls.certificates());
        }
        if let Some(user) = &self.username {
            builder = builder.set_client_to_redis_username(user);
        }
        if let Some(password) = &self.password {
            builder = builder.set_client_to_redis_password(password);
        }
        builder
            .build()
            .map_err(|e| invalid(format!("Sentinel client setup failed: {}", e.category())))
    }
}

// === impl ClusterEndpoint ===

impl ClusterEndpoint {
    /// A cluster client for these seeds and credentials: each connection
    /// attempt and each reply bounded by `timeout`, and no retries of its
    /// own (it would resend a command whose connection broke, which may
    /// have been applied); the store retries what surely was not.
    pub(crate) fn client(&self, timeout: Duration, tls: &RedisTls) -> Result<ClusterClient, Error> {
        let seeds = self
            .nodes
            .iter()
            .map(|(host, port)| ConnectionAddr::Tcp(host.clone(), *port).into_connection_info())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("cluster client setup failed: {}", e.category())))?;
        let mut builder = ClusterClientBuilder::new(seeds)
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(0);
        if self.tls {
            builder = builder.tls(TlsMode::Secure).certs(tls.certificates());
        }
        if let Some(user) = &self.username {
            builder = builder.username(user);
        }
        if let Some(password) = &self.password {
            builder = builder.password(password);
        }
        builder
            .build()
            .map_err(|e| invalid(format!("cluster client setup failed: {}", e.category())))
    }
}

// === helpers ===

fn parse_direct(url: &str) -> Result<Endpoint, Error> {
    if url.contains('#') {
        return Err(invalid(format!(
            "fragments (`#…`) are not allowed; expected {DIRECT_FORM}"
        )));
    }
    let info = url.into_connection_info().map_err(|_| {
        invalid(format!(
            "could not parse the `redis://` URL (check host, port, database number and \
             percent-encoding of the password); expected {DIRECT_FORM}"
        ))
    })?;
    match info.addr() {
        ConnectionAddr::Tcp(host, _) | ConnectionAddr::TcpTls { host, .. } if !host.is_empty() => {
            Ok(Endpoint::Direct(info))
        }
        _ => Err(invalid(format!(
            "the host is missing; expected {DIRECT_FORM}"
        ))),
    }
}

/// What a URL with a list of addresses holds before its path.
struct Authority<'a> {
    username: Option<String>,
    password: Option<String>,
    hosts: Vec<(String, u16)>,
    /// What follows the first `/`, if anything.
    path: &'a str,
}

/// Splits `[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]…][/PATH]` (what
/// follows the scheme of a URL in the `list` form).
fn parse_authority<'a>(rest: &'a str, list: &HostList) -> Result<Authority<'a>, Error> {
    if rest.contains(['?', '#']) {
        return Err(invalid(format!(
            "query strings and fragments are not supported; expected {}",
            list.form
        )));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, password) = info.split_once(':').unwrap_or(("", info));
            let user = percent_decode(user, "user name")?;
            let password = percent_decode(password, "password")?;
            (
                Some(user).filter(|u| !u.is_empty()),
                Some(password).filter(|p| !p.is_empty()),
            )
        }
    };
    let hosts = hosts
        .split(',')
        .enumerate()
        .map(|(i, host)| parse_host_port(host, i + 1, list))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Authority {
        username,
        password,
        hosts,
        path,
    })
}

/// Parses what follows `redis+sentinel://` (`rediss+sentinel://` if `tls`).
fn parse_sentinel(rest: &str, tls: bool) -> Result<Endpoint, Error> {
    let Authority {
        username,
        password,
        hosts: sentinels,
        path,
    } = parse_authority(rest, &SENTINELS)?;
    let mut segments = path.split('/');
    let master = percent_decode(segments.next().unwrap_or(""), "master name")?;
    if master.is_empty() {
        return Err(invalid(format!(
            "the Sentinel master name is missing; expected {SENTINEL_FORM}"
        )));
    }
    let db = match segments.next() {
        None | Some("") => 0,
        Some(db) => db
            .parse::<i64>()
            .ok()
            .filter(|db| *db >= 0)
            .ok_or_else(|| {
                invalid(format!(
                    "the database is not a non-negative number; expected {SENTINEL_FORM}"
                ))
            })?,
    };
    if segments.any(|s| !s.is_empty()) {
        return Err(invalid(format!(
            "unexpected path after the database number; expected {SENTINEL_FORM}"
        )));
    }
    Ok(Endpoint::Sentinel(SentinelEndpoint {
        sentinels,
        master,
        db,
        username,
        password,
        tls,
    }))
}

/// Parses what follows `redis+cluster://` (`rediss+cluster://` if `tls`):
/// seed nodes, no database (a Redis Cluster has only database 0).
fn parse_cluster(rest: &str, tls: bool) -> Result<Endpoint, Error> {
    let Authority {
        username,
        password,
        hosts: nodes,
        path,
    } = parse_authority(rest, &CLUSTER_NODES)?;
    if !matches!(path, "" | "0") {
        return Err(invalid(format!(
            "a Redis Cluster has only database 0, so the URL takes no path; expected \
             {CLUSTER_FORM}"
        )));
    }
    Ok(Endpoint::Cluster(ClusterEndpoint {
        nodes,
        username,
        password,
        tls,
    }))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `nth` counts from 1 for
/// messages (which do not quote the address: with an unescaped `/` in the
/// password, what looks like an address may be part of the password).
fn parse_host_port(s: &str, nth: usize, list: &HostList) -> Result<(String, u16), Error> {
    let bad = |what: &str| {
        invalid(format!(
            "{} #{nth}: {what} (escape `/`, `@` and `,` in the password as %2F, %40 and %2C); \
             expected {}",
            list.what, list.form
        ))
    };
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(|| bad("missing `]`"))?;
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected `:PORT`"))?,
                ),
            ),
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(bad("the host is missing"));
    }
    let port = match port {
        None => list.default_port,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?,
    };
    Ok((host.to_string(), port))
}

/// Decodes `%XX` escapes (the userinfo and path of a URL).
fn percent_decode(s: &str, what: &str) -> Result<String, Error> {
    let bad = || invalid(format!("the {what} has an invalid %-escape"));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
            let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid(format!("the {what} is not valid UTF-8")))
}

pub(crate) fn join_addrs(addrs: &[(String, u16)]) -> String {
    addrs
        .iter()
        .map(|(host, port)| match host.contains(':') {
            true => format!("[{host}]:{port}"),
            false => format!("{host}:{port}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A URL fragment fit for an error message: short, printable, and never
/// containing `@` (so no userinfo leaks through).
fn sanitize(s: &str) -> String {
    if s.contains('@') {
        return "<redacted>".to_string();
    }
    s.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn invalid(msg: impl fmt::Display) -> Error {
    Error::InvalidUrl(msg.to_string())
}
