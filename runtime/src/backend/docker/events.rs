//! The engine's event stream: container deaths and OOM kills of this pod's
//! containers are reported to their sessions as soon as the engine says
//! so. Reconnects when the engine restarts.
//!
//! May import: `docker::{host, labels}`.

use std::collections::HashMap;
use std::time::Duration;

use bollard::system::EventsOptions;
use futures::StreamExt;

use super::host::DockerHost;
use super::labels::LABEL_POD;

/// Watches until shutdown.
pub(super) async fn watch(host: DockerHost) {
    let shared = &host.shared;
    loop {
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            (
                "label".to_owned(),
                vec![format!("{LABEL_POD}={}", shared.pod)],
            ),
            ("event".to_owned(), vec!["die".to_owned(), "oom".to_owned()]),
        ]);
        let docker = match host.client() {
            Ok(d) => d,
            Err(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                    _ = shared.shutdown.cancelled() => return,
                }
            }
        };
        let mut events = docker.events(Some(EventsOptions::<String> {
            filters,
            ..EventsOptions::default()
        }));
        loop {
            let next = tokio::select! {
                n = events.next() => n,
                _ = shared.shutdown.cancelled() => return,
            };
            let Some(Ok(ev)) = next else { break };
            let Some(actor) = ev.actor else { continue };
            let Some(id) = actor.id else { continue };
            let Some(notice) = shared.live.get(&id).map(|n| n.clone()) else {
                continue;
            };
            match ev.action.as_deref() {
                Some("oom") => notice.mark_oom(),
                Some("die") => {
                    let attrs = actor.attributes.unwrap_or_default();
                    let code = attrs.get("exitCode").cloned().unwrap_or_else(|| "?".into());
                    notice.fire(format!("server container exited with status {code}"));
                }
                _ => {}
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shared.shutdown.cancelled() => return,
        }
    }
}
