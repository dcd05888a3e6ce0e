//! The load: N rmcp client sessions, each calling one tool in a closed loop.
//!
//! Every session connects (and, in the legacy era, initializes) before the
//! clock starts. All sessions then call for the warm-up, then for the
//! measured window; only calls that start and end inside the window count.
//! The caller's `probe` is sampled exactly at the window's edges, so CPU time
//! and call counts cover the same interval. Legacy-era sessions start with
//! `initialize`; 2026-07-28 clients start with `server/discover` and no
//! fallback, so a target that cannot speak that era fails to connect.
//!
//! May import: `args` (the option types), `cpu`.

use std::time::Duration;

use anyhow::Context;
use futures::future::join_all;
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, ClientConfig, Implementation, JsonObject, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use tokio::time::{Instant, sleep_until, timeout};

use crate::args::{Connections, Era, Scenario};
use crate::cpu::{Probe, Usage};

/// How long one call may take before it counts as an error.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting one session may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Text the `echo` scenario sends (and gets back).
const ECHO_TEXT: &str = "berth-loadtest: the quick brown fox jumps over the lazy dog";

type Client = RunningService<RoleClient, ClientConfig>;

/// What one load run does.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The tool call.
    pub(crate) scenario: Scenario,
    /// The protocol era.
    pub(crate) era: Era,
    /// Unmeasured time before the window.
    pub(crate) warmup: Duration,
    /// The measured window.
    pub(crate) window: Duration,
    /// How connections are used.
    pub(crate) connections: Connections,
}

/// What one load run measured.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Number of sessions.
    pub(crate) sessions: usize,
    /// Latency of every call that started and ended in the window.
    pub(crate) latencies: Vec<Duration>,
    /// Failed or timed-out calls in the window.
    pub(crate) errors: u64,
    /// The window's real length.
    pub(crate) window: Duration,
    /// CPU used during the window.
    pub(crate) cpu: Usage,
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
}

/// Connects one session per token (`None`: no Authorization header), runs
/// the plan, and closes the sessions.
pub(crate) async fn run(
    url: &str,
    tokens: &[Option<String>],
    plan: &Plan,
    probe: &Probe,
) -> anyhow::Result<Outcome> {
    run_prefixed(url, tokens, plan, probe, "").await
}

/// [`run`] where the tool's name carries a prefix (a gateway's namespace,
/// e.g. `example/` in front of `echo`).
pub(crate) async fn run_prefixed(
    url: &str,
    tokens: &[Option<String>],
    plan: &Plan,
    probe: &Probe,
    tool_prefix: &str,
) -> anyhow::Result<Outcome> {
    let mut clients = Vec::with_capacity(tokens.len());
    for (i, token) in tokens.iter().enumerate() {
        let client = timeout(CONNECT_TIMEOUT, connect(url, token.as_deref(), plan))
            .await
            .with_context(|| format!("session {i}: connecting timed out"))?
            .with_context(|| format!("session {i}: cannot connect to {url}"))?;
        clients.push(client);
    }
    let start = Instant::now() + plan.warmup;
    let end = start + plan.window;
    let params = params(plan.scenario, tool_prefix);
    let workers: Vec<_> = clients
        .into_iter()
        .map(|client| tokio::spawn(drive(client, params.clone(), start, end)))
        .collect();

    sleep_until(start).await;
    let (opened, before) = (Instant::now(), probe.sample()?);
    sleep_until(end).await;
    let (closed, after) = (Instant::now(), probe.sample()?);
    let cpu = probe.usage(&before, &after);

    let mut total = Tally::default();
    let mut closing = Vec::new();
    for worker in workers {
        let (client, tally) = worker.await.context("a session task panicked")?;
        total.latencies.extend(tally.latencies);
        total.errors += tally.errors;
        closing.push(close(client));
    }
    join_all(closing).await;
    Ok(Outcome {
        sessions: tokens.len(),
        latencies: total.latencies,
        errors: total.errors,
        window: closed - opened,
        cpu,
    })
}

async fn connect(url: &str, token: Option<&str>, plan: &Plan) -> anyhow::Result<Client> {
    let mut http = reqwest::Client::builder();
    if plan.connections == Connections::Fresh {
        // rmcp's own default: no idle connections, so one TCP connect per POST.
        http = http.pool_max_idle_per_host(0);
    }
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    let transport = StreamableHttpClientTransport::with_client(http.build()?, config);
    let version = match plan.era {
        Era::Legacy => ProtocolVersion::V_2025_11_25,
        Era::Stateless => ProtocolVersion::V_2026_07_28,
    };
    let mut info = ClientConfig::default().with_protocol_version(version.clone());
    info.client_info = Implementation::new("berth-loadtest", env!("CARGO_PKG_VERSION"));
    Ok(match plan.era {
        Era::Legacy => info.serve(transport).await?,
        Era::Stateless => {
            let lifecycle = ClientLifecycleMode::Discover {
                preferred_versions: vec![version],
            };
            info.serve_with_lifecycle(transport, lifecycle).await?
        }
    })
}

fn params(scenario: Scenario, tool_prefix: &str) -> CallToolRequestParams {
    match scenario {
        Scenario::Echo => {
            let mut args = JsonObject::new();
            args.insert("text".into(), ECHO_TEXT.into());
            CallToolRequestParams::new(format!("{tool_prefix}echo")).with_arguments(args)
        }
        Scenario::Counter => CallToolRequestParams::new(format!("{tool_prefix}counter_increment")),
    }
}

/// One session's closed loop: call, wait for the answer, call again.
async fn drive(
    client: Client,
    params: CallToolRequestParams,
    start: Instant,
    end: Instant,
) -> (Client, Tally) {
    let mut tally = Tally::default();
    loop {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let ok = match timeout(CALL_TIMEOUT, client.call_tool(params.clone())).await {
            Ok(Ok(result)) => result.is_error != Some(true),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "call failed");
                false
            }
            Err(_) => false,
        };
        let done = Instant::now();
        let in_window = sent >= start && done <= end;
        if ok && in_window {
            tally.latencies.push(done - sent);
        } else if !ok {
            tally.errors += u64::from(in_window);
            // A broken session must not spin the CPU we are measuring.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    (client, tally)
}

/// Ends the session (DELETE in the legacy era), bounded in time.
async fn close(client: Client) {
    let _ = timeout(Duration::from_secs(5), client.cancel()).await;
}
