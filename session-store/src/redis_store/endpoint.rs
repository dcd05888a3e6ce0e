//! Parsing of `store.url` into where [`RedisStore`](super::RedisStore)
//! connects: one Redis server, or a primary found through Sentinels.
//!
//! Error messages name the expected form and the offending part (host, port,
//! scheme) but never echo the URL itself: it may carry a password.
//!
//! Imports: only the crate's `error`. Must not import any other module of
//! `redis_store`.

use std::fmt;

use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionAddr, ConnectionInfo, IntoConnectionInfo};

use crate::error::Error;

/// Port used for a Sentinel address written without one.
const DEFAULT_SENTINEL_PORT: u16 = 26379;

const DIRECT_FORM: &str = "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]";
const SENTINEL_FORM: &str =
    "redis+sentinel://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTER-NAME[/DB]";

/// Where the store's data lives.
#[derive(Clone)]
pub(crate) enum Endpoint {
    /// One server (`redis://`).
    Direct(ConnectionInfo),
    /// A primary named `master`, looked up through Sentinels.
    Sentinel(SentinelEndpoint),
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
}

// === impl Endpoint ===

impl Endpoint {
    /// Parses `store.url`: `redis://…` or `redis+sentinel://…`.
    pub(crate) fn parse(url: &str) -> Result<Endpoint, Error> {
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("redis") => parse_direct(url),
            Some("redis+sentinel") => parse_sentinel(&url["redis+sentinel://".len()..]),
            Some("rediss" | "rediss+sentinel") => Err(invalid(
                "TLS (`rediss://`) is not supported by this build yet; use a plain `redis://` or \
                 `redis+sentinel://` URL (e.g. over a private network or a TLS sidecar)",
            )),
            Some(other) => Err(invalid(format!(
                "unsupported scheme `{}`; expected {DIRECT_FORM} or {SENTINEL_FORM}",
                sanitize(other)
            ))),
            None => Err(invalid(format!(
                "not a URL; expected {DIRECT_FORM} or {SENTINEL_FORM}"
            ))),
        }
    }

    /// Where it points, without credentials: `HOST:PORT` for one server,
    /// `primary `NAME` via Sentinel at HOST:PORT,…` otherwise.
    pub(crate) fn describe(&self) -> String {
        match self {
            Endpoint::Direct(info) => info.addr().to_string(),
            Endpoint::Sentinel(s) => format!(
                "primary `{}` via Sentinel at {}",
                s.master,
                join_addrs(&s.sentinels)
            ),
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
    pub(crate) fn client(&self) -> Result<SentinelClient, Error> {
        let addrs = self
            .sentinels
            .iter()
            .map(|(host, port)| ConnectionAddr::Tcp(host.clone(), *port));
        let mut builder =
            SentinelClientBuilder::new(addrs, &self.master, SentinelServerType::Master)
                .map_err(|e| invalid(format!("Sentinel client setup failed: {}", e.category())))?
                .set_client_to_redis_db(self.db);
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
        ConnectionAddr::Tcp(host, _) if !host.is_empty() => Ok(Endpoint::Direct(info)),
        _ => Err(invalid(format!(
            "the host is missing; expected {DIRECT_FORM}"
        ))),
    }
}

/// Parses what follows `redis+sentinel://`.
fn parse_sentinel(rest: &str) -> Result<Endpoint, Error> {
    if rest.contains(['?', '#']) {
        return Err(invalid(format!(
            "query strings and fragments are not supported; expected {SENTINEL_FORM}"
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
    let sentinels = hosts
        .split(',')
        .enumerate()
        .map(|(i, host)| parse_host_port(host, i + 1))
        .collect::<Result<Vec<_>, _>>()?;

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
    }))
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; `nth` counts from 1 for
/// messages (which do not quote the address: with an unescaped `/` in the
/// password, what looks like an address may be part of the password).
fn parse_host_port(s: &str, nth: usize) -> Result<(String, u16), Error> {
    let bad = |what: &str| {
        invalid(format!(
            "Sentinel address #{nth}: {what} (escape `/`, `@` and `,` in the password as %2F, \
             %40 and %2C); expected {SENTINEL_FORM}"
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
        None => DEFAULT_SENTINEL_PORT,
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
    Error::Unavailable(format!("invalid store.url: {msg}"))
}
