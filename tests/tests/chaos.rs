//! Chaos: three pods sharing Redis behind a round-robin balancer, agents
//! (official Python SDK) running continuous sessions against the docker
//! backend, and a pod `kill -9`ed and restarted every few seconds. Every
//! agent call must succeed, every session keeps its container (counters
//! only grow), and no container is left behind. The balancer re-sends a
//! request whose pod died before answering (as nginx's
//! `proxy_next_upstream error non_idempotent` does). Midway, the Redis
//! primary is killed too and Sentinel promotes its replica; calls made
//! during the switch get a retryable error, which the agents retry.

use std::time::Duration;

use berth_tests::balancer::Balancer;
use berth_tests::docker::containers;
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, eventually, free_port, run, tool, workspace_root};
use serde_json::Value;
use tokio::process::Command;

const PODS: usize = 3;
const AGENTS: usize = 3;
const AGENT_SECONDS: u64 = 30;
/// Time between a pod's restart and the next kill: short, so that a run
/// gives enough failover samples (3 agents × 5–6 kills) for a tail.
const KILL_EVERY: Duration = Duration::from_secs(3);

/// Extra calm after the Redis primary's kill, so Sentinel's promotion
/// (~2.5 s) ends before the next pod kill: each sample measures one cause.
const REDIS_FAILOVER_CALM: Duration = Duration::from_secs(3);

/// The pod kill after which the Redis primary is killed as well.
const REDIS_FAILOVER_AT: usize = 2;

fn config(sentinel: &RedisServer, port: u16) -> String {
    format!(
        r#"
listen = "127.0.0.1:{port}"
state_dir = "{{state_dir}}"
backend = "docker"
[store]
url = "redis+sentinel://127.0.0.1:{sentinel}/chaos"
[docker]
sweep_every = "2s"
[servers.chaos.counter]
image = "berth/example-server"
idle_timeout = "15s"
"#,
        sentinel = sentinel.port
    )
}

#[tokio::test]
async fn pods_die_every_few_seconds_and_no_agent_call_fails() {
    let _ = tool("DOCKER_HOST");
    let mut primary = RedisServer::start();
    let replica = RedisServer::replica_of(&primary);
    let redis = RedisServer::sentinel(&primary, "chaos", 1);
    let ports: Vec<u16> = (0..PODS).map(|_| free_port()).collect();
    let first = Berth::serve(&config(&redis, ports[0]), &[]).await;
    let mut pods = vec![first];
    for port in &ports[1..] {
        let pod = Berth::serve_like(&pods[0], &config(&redis, *port), &[]).await;
        pods.push(pod);
    }
    let lb = Balancer::start(ports.clone()).await;
    let url = format!("http://127.0.0.1:{}/mcp/chaos/counter", lb.port);
    let python = tool("BERTH_TEST_PYTHON");
    let script = workspace_root().join("tests/python/chaos_agent.py");
    let agents: Vec<_> = (0..AGENTS)
        .map(|i| {
            let token = pods[0].token(&format!("agent-{i}"), "chaos", &[]);
            let mut cmd = Command::new(&python);
            cmd.arg(&script)
                .arg(&url)
                .arg(token)
                .arg(AGENT_SECONDS.to_string());
            tokio::spawn(
                async move { run(&mut cmd, Duration::from_secs(AGENT_SECONDS + 120)).await },
            )
        })
        .collect();

    // Kill a pod every few seconds (round robin) and bring it back.
    let mut killed = 0;
    let mut kill_times: Vec<f64> = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(AGENT_SECONDS - 4) {
        tokio::time::sleep(KILL_EVERY).await;
        let victim = killed % PODS;
        let status = std::process::Command::new("kill")
            .args(["-9", &pods[victim].pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        kill_times.push(unix_now());
        killed += 1;
        let _ = std::fs::write(
            berth_tests::results_dir().join(format!("chaos-killed-{killed}.log")),
            pods[victim].log(),
        );
        if killed == REDIS_FAILOVER_AT {
            primary.kill();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let peer = (victim + 1) % PODS;
        let fresh = Berth::serve_like(&pods[peer], &config(&redis, ports[victim]), &[]).await;
        pods[victim] = fresh;
        if killed == REDIS_FAILOVER_AT {
            tokio::time::sleep(REDIS_FAILOVER_CALM).await;
        }
    }

    assert_eq!(
        redis.primary_port("chaos"),
        Some(replica.port),
        "Sentinel promoted the replica"
    );
    let logs: String = pods.iter().map(|p| p.log()).collect::<Vec<_>>().join("\n");
    let _ = std::fs::write(berth_tests::results_dir().join("chaos-pods.log"), logs);
    let (mut calls, mut failed, mut retries) = (0, 0, 0);
    let mut slowest: f64 = 0.0;
    let mut failovers: Vec<f64> = Vec::new();
    let mut per_kill: Vec<Vec<u64>> = vec![Vec::new(); kill_times.len()];
    let mut reports: Vec<Value> = Vec::new();
    // What an agent saw while it waited over a second after a kill.
    let mut slow: Vec<String> = Vec::new();
    for agent in agents {
        let (status, stdout, stderr) = agent.await.unwrap();
        assert_eq!(status, Some(0), "agent failed:\n{stdout}\n{stderr}");
        let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
            .unwrap_or_else(|e| panic!("agent printed no JSON ({e}): {stdout}\n{stderr}"));
        calls += report["calls"].as_u64().unwrap();
        failed += report["failed"].as_u64().unwrap();
        retries += report["retries"].as_u64().unwrap();
        slowest = slowest.max(report["slowest_s"].as_f64().unwrap_or_default());
        let answered: Vec<f64> = report["answered_at"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        for (k, wait) in next_answers(&kill_times, &answered) {
            per_kill[k].push((wait * 1000.0) as u64);
            // The kill that coincides with the Redis failover measures
            // Sentinel's promotion; it is reported on its own.
            if k + 1 != REDIS_FAILOVER_AT {
                failovers.push(wait);
                if wait > 1.0 {
                    slow.push(format!(
                        "after kill {}, agent {} waited {:.0} ms and saw: {}",
                        k + 1,
                        reports.len(),
                        wait * 1000.0,
                        seen_between(&report, kill_times[k], kill_times[k] + wait)
                    ));
                }
            }
        }
        let values: Vec<u64> = report["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert!(
            values.windows(2).all(|w| w[1] > w[0]),
            "a session lost its container's state: {values:?}"
        );
        assert_eq!(failed, 0, "failed calls: {}", report["errors"]);
        reports.push(report);
    }
    // What each agent saw (answers and failed attempts) next to the kill
    // times, to trace a slow failover to its cause.
    let trace = serde_json::json!({ "kills": kill_times, "agents": reports });
    let _ = std::fs::write(
        berth_tests::results_dir().join("chaos-trace.json"),
        trace.to_string(),
    );
    failovers.sort_by(f64::total_cmp);
    let line = format!(
        "chaos: {PODS} pods, {AGENTS} agents for {AGENT_SECONDS}s, {killed} pods killed (kill -9) and 1 Redis primary failover (Sentinel), {calls} calls, {failed} failed, {retries} retried by agents, {} re-sent by the balancer, longest call {slowest:.2}s; kill -9 to each agent's next answer ({} samples, the kill with the Redis failover left out): {}; per kill, ms: {per_kill:?} (kill {REDIS_FAILOVER_AT} with the Redis failover)",
        lb.retried(),
        failovers.len(),
        distribution(&failovers),
    );
    let line = if slow.is_empty() {
        line
    } else {
        format!("{line}; slow: {}", slow.join("; "))
    };
    println!("{line}");
    let _ = std::fs::write(
        berth_tests::results_dir().join("chaos.summary"),
        format!("{line}\n"),
    );
    assert!(killed >= 3 && calls > 50, "{line}");

    // Stopping the pods removes the containers of the sessions they own;
    // any other container goes once its session's record expires
    // (idle_timeout) and a sweeper sees it.
    for pod in pods {
        pod.stop().await;
    }
    assert!(
        eventually(Duration::from_secs(5), || containers(&[
            "berth.tenant=chaos"
        ])
        .is_empty())
        .await,
        "leaked containers: {:?}",
        containers(&["berth.tenant=chaos"])
    );
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// For each kill, the time until the agent's next answer after it (the
/// agents whose session the dead pod owned wait for the takeover; the
/// others answer at their usual pace).
fn next_answers(kills: &[f64], answered: &[f64]) -> Vec<(usize, f64)> {
    kills
        .iter()
        .enumerate()
        .filter_map(|(i, k)| answered.iter().find(|a| *a > k).map(|a| (i, a - k)))
        .collect()
}

/// The failed attempts an agent's `report` lists between `from` and `to`
/// (Unix seconds), or that there were none (the call was slow, not failed).
fn seen_between(report: &Value, from: f64, to: f64) -> String {
    let failures: Vec<String> = report["failures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f[0].as_f64().is_some_and(|t| t > from && t <= to))
        .map(|f| {
            let at = (f[0].as_f64().unwrap_or_default() - from) * 1000.0;
            format!("+{at:.0} ms {}", f[1].as_str().unwrap_or_default())
        })
        .collect();
    if failures.is_empty() {
        "no failed attempt (one slow call)".into()
    } else {
        failures.join(", ")
    }
}

/// p50, p90, p99 and max of sorted `secs`, in milliseconds.
fn distribution(secs: &[f64]) -> String {
    if secs.is_empty() {
        return "none".into();
    }
    let at = |q: f64| secs[((secs.len() - 1) as f64 * q).round() as usize] * 1000.0;
    format!(
        "p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    )
}
