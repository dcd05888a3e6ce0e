//! Holding a session's server to what was approved for its version (the
//! "rug pull" guard): listings show only approved capabilities whose live
//! fingerprint matches; a `tools/call` to a tool that was not approved,
//! or whose definition changed since, is refused with the error an
//! unknown tool gets. A call before any listing makes Berth list the
//! tools itself once; `notifications/tools/list_changed` makes it list
//! again before the next call. Each drift is reported once per session.
//!
//! May import: `hosting::session::{routing, wire}`, `hosting::{error,
//! stream}`, `protocol` (fingerprints), `audit`, external crates.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use serde_json::value::RawValue;

use super::HostingSession;
use super::wire::{compose_request, to_line};
use crate::hosting::error::HostingError;
use crate::hosting::stream::{EventStream, Next};
use crate::protocol::{
    ApprovedSet, CapabilityKind, Drift, META_CLIENT_CAPS, META_PROTOCOL_VERSION, Version,
    filter_listing,
};

/// Pages of `tools/list` Berth reads itself before giving up.
const MAX_PAGES: usize = 100;

/// Where a session reports drift (to the registry, which records it).
pub(crate) type DriftReporter = Arc<dyn Fn(&Drift) + Send + Sync>;

/// What a session is held to, and what it has seen.
pub(crate) struct Held {
    approved: Arc<ApprovedSet>,
    report: DriftReporter,
    state: parking_lot::Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Live fingerprints of the server's tools, from the last listing;
    /// `None` until one is seen (or after `list_changed`).
    tools: Option<HashMap<String, String>>,
    /// Drifts already reported: (kind, name, live fingerprint).
    reported: HashSet<(CapabilityKind, String, String)>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").finish_non_exhaustive()
    }
}

impl Held {
    /// Holds a session to `approved`, reporting drift to `report`.
    pub(crate) fn new(approved: Arc<ApprovedSet>, report: DriftReporter) -> Self {
        Held {
            approved,
            report,
            state: parking_lot::Mutex::default(),
        }
    }
}

/// The refusal for a tool that was not approved or changed: exactly what
/// an unknown tool gets.
fn unknown_tool(name: &str) -> HostingError {
    HostingError::UnknownTool(name.to_owned())
}

// === impl HostingSession (held to its approval) ===

impl HostingSession {
    /// Filters a list response of `kind` (already addressed to the agent)
    /// to the approved, unchanged items; records live tools and reports
    /// drift. Messages that are not list results pass unchanged.
    pub(super) fn hold_listing(&self, kind: CapabilityKind, msg: Vec<u8>) -> Vec<u8> {
        let Some(held) = &self.identity.held else {
            return msg;
        };
        let Ok(mut parsed) = serde_json::from_slice::<Value>(&msg) else {
            return msg;
        };
        let Some(result) = parsed.get_mut("result") else {
            return msg;
        };
        let (live, drifts) = filter_listing(kind, result, &held.approved);
        let mut new = Vec::new();
        {
            let mut seen = held.state.lock();
            if kind == CapabilityKind::Tool {
                seen.tools.get_or_insert_with(HashMap::new).extend(live);
            }
            for d in drifts {
                if seen
                    .reported
                    .insert((d.kind, d.name.clone(), d.live.clone()))
                {
                    new.push(d);
                }
            }
        }
        for d in &new {
            crate::audit::capability_drift(
                &self.identity.tenant,
                &self.identity.server,
                d.kind.result_key(),
                &d.name,
                d.approved.as_deref(),
                &d.live,
            );
            (held.report)(d);
        }
        serde_json::to_vec(&parsed).unwrap_or(msg)
    }

    /// The server announced a new tool list: list again before the next
    /// call.
    pub(super) fn forget_live_tools(&self) {
        if let Some(held) = &self.identity.held {
            held.state.lock().tools = None;
        }
    }

    /// `Ok` if a call to tool `name` may go to the server.
    pub(super) async fn check_tool_call(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<(), HostingError> {
        let Some(held) = &self.identity.held else {
            return Ok(());
        };
        let Some(approved) = held.approved.fingerprint(CapabilityKind::Tool, name) else {
            return Err(unknown_tool(name));
        };
        // Compared under the lock: no copy of the live fingerprint.
        let matches = |seen: &Seen| {
            seen.tools
                .as_ref()
                .map(|t| t.get(name).is_some_and(|live| live == approved))
        };
        let verdict = matches(&held.state.lock());
        let verdict = match verdict {
            Some(v) => v,
            None => {
                self.list_tools_itself(timeout).await?;
                matches(&held.state.lock()).unwrap_or(false)
            }
        };
        if verdict {
            Ok(())
        } else {
            Err(unknown_tool(name))
        }
    }

    /// Lists the server's tools for Berth itself (every page); the answers
    /// go through [`Self::hold_listing`] like an agent's.
    async fn list_tools_itself(&self, timeout: Duration) -> Result<(), HostingError> {
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let stream = Arc::new(EventStream::new(0, 4));
            let client_id = RawValue::from_string("\"berth-tools-list\"".to_owned())
                .expect("a JSON string is raw JSON");
            let mut params = serde_json::Map::new();
            if self.is_native() {
                // A 2026-07-28 server reads who asks from each request.
                params.insert(
                    "_meta".into(),
                    serde_json::json!({
                        META_PROTOCOL_VERSION: Version::STATELESS.as_str(),
                        META_CLIENT_CAPS: {},
                    }),
                );
            }
            if let Some(c) = &cursor {
                params.insert("cursor".into(), Value::String(c.clone()));
            }
            let params = Value::Object(params).to_string();
            let backend_id =
                self.register(client_id, stream.clone(), timeout, None, "tools/list")?;
            let msg = compose_request(backend_id, "tools/list", &params);
            self.send_registered(backend_id, Bytes::from(to_line(msg)))
                .await?;
            // The answer is the stream's last event (notifications may
            // come first).
            let mut after = 0;
            let answer = loop {
                match stream.next_after(after).await {
                    Next::Event(e) if e.last => break e,
                    Next::Event(e) => after = e.seq,
                    Next::Finished | Next::Gap => {
                        return Err(HostingError::Unreachable(
                            "the server did not list its tools, so the call cannot be checked against its approval".into(),
                        ));
                    }
                }
            };
            let page: Value = serde_json::from_slice(&answer.data).unwrap_or(Value::Null);
            if page.get("error").is_some() {
                return Err(HostingError::Unreachable(format!(
                    "the server refused to list its tools ({}), so the call cannot be checked against its approval",
                    page["error"]
                )));
            }
            cursor = page["result"]["nextCursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }
}
