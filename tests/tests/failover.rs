//! Pods sharing one Redis: a session started on one pod is served by any
//! pod (forwarded to its owner), survives `kill -9` or a stall of its pod
//! (taken over: the same container re-attached, or a new process
//! re-initialized), and a 2026-07-28 principal keeps one container across
//! pods.

use std::time::Duration;

use berth_tests::docker::{containers, inspect, pod_of};
use berth_tests::legacy::session;
use berth_tests::pods::{TwoPods, config, counter, echo, kill_9, modern, signal, text};
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, child_pids, mcp_post, messages, tool};
use serde_json::json;

#[tokio::test]
async fn a_docker_session_survives_its_pod_with_the_same_container() {
    let _ = tool("DOCKER_HOST");
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("docker").await;
    let on_a = a.url("demo", "everything");
    let on_b = b.url("demo", "everything");
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    // Pod B forwards to the owner: same container, same counter.
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "2");
    let pod_a = pod_of(&a);
    let before = containers(&[&format!("berth.pod={pod_a}")]);
    assert_eq!(before.len(), 1);
    // Another user holding the session id gets 404 on either pod.
    let bob = a.token("bob", "demo", &[]);
    let r = mcp_post(
        &c,
        &on_b,
        &bob,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    )
    .header("mcp-session-id", &sid)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    // ...and leaves an audit event naming who tried, without the session id.
    let audit: Vec<String> = b
        .log()
        .lines()
        .filter(|l| l.contains("berth::audit") && l.contains("session.refused"))
        .map(str::to_owned)
        .collect();
    assert_eq!(audit.len(), 1, "{}", b.log());
    assert!(
        audit[0].contains("bob") && !audit[0].contains(&sid),
        "{}",
        audit[0]
    );

    // kill -9 the owner; the next call on B finds it refusing connections,
    // takes over at once and re-attaches the very same container.
    let pid = a.pid();
    kill_9(pid);
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "3");
    // The counter went on (3 after 2): the very container pod A started
    // serves the session, still running.
    assert_eq!(
        inspect(&before[0])["State"]["Running"],
        true,
        "the same container serves the session"
    );
    assert!(b.log().contains("took over a session whose pod is gone"));
    // And the session goes on normally on B.
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "4");
    drop(b);
    drop(a);
}

#[tokio::test]
async fn a_session_on_a_warm_pool_container_keeps_it_after_its_pod_dies() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
backend = "docker"
[store]
url = "{}"
[docker]
sweep_every = "1s"
[servers.demo.pooled]
image = "berth/example-server"
warm_pool = 1
"#,
        redis.url()
    );
    let a = Berth::serve(&cfg, &[]).await;
    let pod_a = pod_of(&a);
    let pool = [
        format!("berth.pod={pod_a}"),
        "berth.session=pool".to_owned(),
    ];
    let pool: Vec<&str> = pool.iter().map(String::as_str).collect();
    // Wait until the warm container is ready (not just created), so the
    // session below claims it rather than starting one cold.
    assert!(
        berth_tests::eventually(Duration::from_secs(20), || a
            .log()
            .contains("warm instance ready"))
        .await
    );
    let warm = containers(&pool);
    assert_eq!(warm.len(), 1);
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let sid = session(&c, &a.url("demo", "pooled"), &token).await;
    assert_eq!(
        counter(&c, &a.url("demo", "pooled"), &token, &sid).await,
        "1"
    );
    kill_9(a.pid());
    // Pod B sweeps every second while the lease lapses; the claimed pool
    // container (labelled `pool`, not with its session) must survive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        inspect(&warm[0])["State"]["Running"],
        true,
        "the claimed container was swept"
    );
    assert_eq!(
        counter(&c, &b.url("demo", "pooled"), &token, &sid).await,
        "2"
    );
}

#[tokio::test]
async fn a_graceful_stop_hands_docker_sessions_over_at_once() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = format!(
        "{}[cluster]\nhandoff_on_shutdown = true\n",
        config(&redis, "docker")
    );
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let on_a = a.url("demo", "everything");
    let on_b = b.url("demo", "everything");
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    let pod_a = pod_of(&a);
    let before = containers(&[&format!("berth.pod={pod_a}")]);
    assert_eq!(before.len(), 1);
    // SIGTERM (a rolling update): pod A lets go of the container and its
    // lease; pod B re-attaches without waiting for a lease to lapse.
    assert_eq!(a.stop().await, Some(0));
    assert_eq!(
        containers(&[&format!("berth.pod={pod_a}")]),
        before,
        "the container outlives its pod"
    );
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "2");
    assert!(
        !b.log().contains("waiting for its lease to lapse"),
        "the lease was released, not left to lapse"
    );
    // The agent ends the session: the container goes with it.
    let r = c
        .delete(&on_b)
        .bearer_auth(&token)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(
        berth_tests::eventually(Duration::from_secs(15), || containers(&[&format!(
            "berth.pod={pod_a}"
        )])
        .is_empty())
        .await
    );
}

#[tokio::test]
async fn a_process_session_is_reinitialized_on_another_pod() {
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("process").await;
    let on_a = a.url("demo", "everything");
    let on_b = b.url("demo", "everything");
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(echo(&c, &on_a, &token, &sid, "before").await, "before");
    kill_9(a.pid());
    // Same session id, no new initialize from the agent: Berth replays the
    // stored initialize to a new process on B.
    assert_eq!(echo(&c, &on_b, &token, &sid, "after").await, "after");
    let body = json!({"jsonrpc":"2.0","id":9,"method":"tools/list"}).to_string();
    let r = mcp_post(&c, &on_b, &token, &body)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let listed = messages(&ct, &r.text().await.unwrap()).pop().unwrap();
    assert!(listed["result"]["tools"].as_array().unwrap().len() > 3);
}

#[tokio::test]
async fn an_http_transport_session_is_reinitialized_on_another_pod() {
    let _ = tool("DOCKER_HOST");
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("docker").await;
    let sid = session(&c, &a.url("demo", "web"), &token).await;
    assert_eq!(
        echo(&c, &a.url("demo", "web"), &token, &sid, "a").await,
        "a"
    );
    kill_9(a.pid());
    // The server's own HTTP session died with pod A's bridge: pod B starts
    // a fresh container and replays the agent's initialize to it.
    assert_eq!(
        echo(&c, &b.url("demo", "web"), &token, &sid, "b").await,
        "b"
    );
    let pod_a = pod_of(&a);
    assert!(
        containers(&[&format!("berth.pod={pod_a}"), "berth.server=web"]).is_empty(),
        "the dead pod's container is removed"
    );
}

#[tokio::test]
async fn a_stalled_pod_lets_go_of_a_session_another_pod_took_over() {
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("process").await;
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(echo(&c, &on_a, &token, &sid, "1").await, "1");
    assert_eq!(child_pids(a.pid()).len(), 1, "pod A runs the server");

    // Pod A stalls: it accepts connections but answers nothing and stops
    // beating its liveness record. B gives up forwarding once the record
    // lapses and takes the session over with a new server process.
    signal(a.pid(), "-STOP");
    assert_eq!(echo(&c, &on_b, &token, &sid, "2").await, "2");
    assert_eq!(child_pids(b.pid()).len(), 1, "pod B runs the server now");
    signal(a.pid(), "-CONT");

    // A wakes up, finds the gap in its liveness, fails to re-claim the
    // session and lets go of its server process.
    let mut left = child_pids(a.pid());
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = child_pids(a.pid());
    }
    assert!(left.is_empty(), "pod A still runs {left:?}:\n{}", a.log());
    assert!(a.log().contains("another pod took the session over"));
    // Requests reaching A go to the session's new owner.
    assert_eq!(echo(&c, &on_a, &token, &sid, "3").await, "3");
    assert_eq!(child_pids(b.pid()).len(), 1);
}

#[tokio::test]
async fn a_stateless_principal_keeps_one_container_across_pods_and_their_deaths() {
    let _ = tool("DOCKER_HOST");
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("docker").await;
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let count = |url: String| {
        let (c, token) = (c.clone(), token.clone());
        async move {
            let reply = modern(
                &c,
                &url,
                &token,
                "tools/call",
                json!({"name":"counter_increment","arguments":{}}),
            )
            .await;
            text(&reply)
        }
    };
    // One principal, one container, whichever pod a request reaches.
    assert_eq!(count(on_a.clone()).await, "1");
    assert_eq!(count(on_b.clone()).await, "2");
    assert_eq!(count(on_a.clone()).await, "3");
    let on_pod_a = containers(&[
        &format!("berth.pod={}", pod_of(&a)),
        "berth.server=everything",
    ]);
    assert_eq!(on_pod_a.len(), 1);
    assert!(
        containers(&[
            &format!("berth.pod={}", pod_of(&b)),
            "berth.server=everything"
        ])
        .is_empty()
    );

    // Its pod dies: B re-attaches the same container, state and all, and
    // knows the server without initializing it again.
    kill_9(a.pid());
    assert_eq!(count(on_b.clone()).await, "4");
    assert_eq!(inspect(&on_pod_a[0])["State"]["Running"], true);
    assert!(
        b.log()
            .contains("took over a principal's session whose pod is gone")
    );
    let found = modern(&c, &on_b, &token, "server/discover", json!({})).await;
    assert_eq!(
        found["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "berth-example-server",
        "{found}"
    );
    // Another principal gets a container of its own.
    let bob = a.token("bob", "demo", &[]);
    let reply = modern(
        &c,
        &on_b,
        &bob,
        "tools/call",
        json!({"name":"counter_increment","arguments":{}}),
    )
    .await;
    assert_eq!(text(&reply), "1");
}

#[tokio::test]
async fn a_forwarded_request_keeps_the_agents_host() {
    // Pods listening on every interface behind a public name check the
    // Host of every request; the owner must see the agent's, not its own
    // address, when another pod forwards to it.
    let redis = RedisServer::start();
    let (pa, pb) = (berth_tests::free_port(), berth_tests::free_port());
    let cfg = |port: u16| {
        format!(
            r#"
listen = "0.0.0.0:{port}"
public_url = "http://mcp.example.test"
state_dir = "{{state_dir}}"
[store]
url = "{}"
[cluster]
advertise_url = "http://127.0.0.1:{port}"
[servers.demo.everything]
command = ["{{berth_bin}}", "example-server"]
"#,
            redis.url()
        )
    };
    let a = Berth::serve(&cfg(pa), &[]).await;
    let b = Berth::serve_like(&a, &cfg(pb), &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let post = |port: u16, body: serde_json::Value, sid: Option<&str>| {
        let mut req = mcp_post(
            &c,
            &format!("http://127.0.0.1:{port}/mcp/demo/everything"),
            &token,
            &body.to_string(),
        )
        .header("host", "mcp.example.test");
        if let Some(sid) = sid {
            req = req.header("mcp-session-id", sid);
        }
        req.send()
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let r = post(pa, init, None).await.unwrap();
    assert_eq!(r.status(), 200);
    let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(post(pa, note, Some(&sid)).await.unwrap().status(), 202);
    // Through pod B, which forwards to the owner A.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": "via B"}}});
    let r = post(pb, call, Some(&sid)).await.unwrap();
    let status = r.status();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let body = r.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let reply = messages(&ct, &body).pop().unwrap();
    assert_eq!(text(&reply), "via B", "{reply}");
    drop(b);
    drop(a);
}
