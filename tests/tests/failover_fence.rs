//! One writer at a time: pods racing to take over a session's container
//! never both write to it, even when the old owner was only stalled and
//! wakes up with a request of its own to send.
//!
//! The example server's `call_ids` tool lists the JSON-RPC ids of every
//! `tools/call` it received, in arrival order. Berth numbers a session's
//! requests to its server from a fresh starting point at each takeover
//! (microseconds since the epoch, far above what the previous owner used),
//! so a request from an old owner arriving after the new owner's shows up
//! as an id far below one the server already saw.
//!
//! Also: a refused connection to a `kill -9`ed owner is taken as proof of
//! its death (the takeover does not wait for its liveness record to lapse),
//! and how long a failover takes is written to `failover.summary`.

use std::time::Instant;

use berth_tests::legacy::{call, session};
use berth_tests::pods::{TwoPods, config, counter, echo, kill_9, routable_ip, signal};
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, results_dir, tool};
use serde_json::{Value, json};

/// Stall-and-race rounds.
const ROUNDS: usize = 3;

/// How far below the highest id seen an id may arrive and still be the
/// same writer's (requests of one pod sent concurrently reorder a little).
const REORDER_SLACK: u64 = 1_000;

fn takeovers(pod: &Berth) -> usize {
    pod.log()
        .matches("took over a session whose pod is gone")
        .count()
}

#[tokio::test]
async fn racing_takeovers_never_leave_two_writers_on_one_container() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = config(&redis, "docker");
    let first = Berth::serve(&cfg, &[]).await;
    let mut pods = vec![first];
    for _ in 1..3 {
        let pod = Berth::serve_like(&pods[0], &cfg, &[]).await;
        pods.push(pod);
    }
    let c = reqwest::Client::new();
    let token = pods[0].token("alice", "demo", &[]);
    let urls: Vec<String> = pods.iter().map(|p| p.url("demo", "everything")).collect();
    let sid = session(&c, &urls[0], &token).await;
    assert_eq!(counter(&c, &urls[0], &token, &sid).await, "1");

    let mut owner = 0;
    let mut woken_answers = Vec::new();
    for round in 0..ROUNDS {
        let before: Vec<usize> = pods.iter().map(takeovers).collect();
        // The owner stalls. A request reaches it anyway (the kernel accepts
        // the connection); it will handle it when it wakes.
        signal(pods[owner].pid(), "-STOP");
        let late = {
            let (c, url, token, sid) = (c.clone(), urls[owner].clone(), token.clone(), sid.clone());
            tokio::spawn(async move {
                call(&c, &url, &token, &sid, "counter_increment", json!({})).await
            })
        };
        // The two other pods race for the session.
        let racers: Vec<_> = (0..pods.len())
            .filter(|p| *p != owner)
            .map(|p| {
                let (c, url, token, sid) = (c.clone(), urls[p].clone(), token.clone(), sid.clone());
                tokio::spawn(async move { counter(&c, &url, &token, &sid).await })
            })
            .collect();
        for racer in racers {
            let n: u64 = racer.await.unwrap().parse().unwrap();
            assert!(n > 1, "the counter went on: the same container");
        }
        let winners: Vec<usize> = (0..pods.len())
            .filter(|p| takeovers(&pods[*p]) > before[*p])
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one pod took the session over"
        );
        signal(pods[owner].pid(), "-CONT");
        // The woken owner must not write its late request to the container
        // (another pod owns it now): the request fails as retryable, or is
        // answered by the new owner.
        let answer = late.await.unwrap();
        woken_answers.push(answer.clone());
        if let Some(err) = answer.get("error") {
            assert_eq!(err["data"]["retryable"], true, "round {round}: {answer}");
        }
        owner = winners[0];
    }

    let reply = call(&c, &urls[owner], &token, &sid, "call_ids", json!({})).await;
    let ids: Vec<u64> = serde_json::from_str::<Value>(
        reply["result"]["content"][0]["text"]
            .as_str()
            .expect("call_ids text"),
    )
    .expect("call_ids JSON")["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_u64().expect("Berth sends numeric ids"))
        .collect();
    let mut highest = 0;
    let mut writers = 1;
    for (i, id) in ids.iter().enumerate() {
        assert!(
            id + REORDER_SLACK >= highest,
            "request {i} (id {id}) reached the server after id {highest}: two pods wrote to one container at once; ids in arrival order: {ids:?}; woken owners got {woken_answers:?}"
        );
        if *id > highest + REORDER_SLACK * 1_000 && highest > 0 {
            writers += 1;
        }
        highest = highest.max(*id);
    }
    assert!(
        writers > ROUNDS,
        "each takeover starts a new writer ({writers} seen in {ids:?})"
    );
}

#[tokio::test]
async fn a_killed_owner_is_replaced_without_waiting_for_its_liveness_to_lapse() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = config(&redis, "docker");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let mut took = Vec::new();
    let mut sids = Vec::new();
    for _ in 0..5 {
        let sid = berth_tests::legacy::session(&c, &on_a, &token).await;
        assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
        sids.push(sid);
    }
    offers_evidence(&a).await;
    kill_9(a.pid());
    let killed = Instant::now();
    for sid in &sids {
        let began = Instant::now();
        assert_eq!(counter(&c, &on_b, &token, sid).await, "2");
        took.push((began.duration_since(killed), began.elapsed()));
    }
    assert!(
        b.log()
            .contains("refused connections at its advertised URL"),
        "the refusal was taken as proof:\n{}",
        b.log()
    );
    let first = took[0].0 + took[0].1;
    let line = format!(
        "failover (kill -9 of the owner, docker backend, 2 pods): first call after the kill answered in {:.0} ms; next 4 sessions' first calls {:?} ms",
        first.as_secs_f64() * 1000.0,
        took[1..]
            .iter()
            .map(|(_, d)| d.as_millis())
            .collect::<Vec<_>>()
    );
    println!("{line}");
    let _ = std::fs::write(results_dir().join("failover.summary"), format!("{line}\n"));
    drop(b);
}

/// Waits until `pod` offers a refused connection as proof of its death:
/// it checked that its advertised URL reaches it, and a beat wrote that
/// into its record.
async fn offers_evidence(pod: &Berth) {
    assert!(log_shows(pod, "the advertised URL reaches this pod").await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
}

/// Whether `pod`'s log shows `text` within 10 s.
async fn log_shows(pod: &Berth, text: &str) -> bool {
    berth_tests::eventually(std::time::Duration::from_secs(10), || {
        pod.log().contains(text)
    })
    .await
}

/// The lines of `pod`'s log that say it waited for an owner's liveness
/// record to lapse (the slow way to learn that an owner is gone).
fn waited_for_lapse(pod: &Berth) -> Vec<String> {
    pod.log()
        .lines()
        .filter(|l| l.contains("waiting for its liveness record to lapse"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn an_owner_killed_mid_forward_is_proven_gone_by_a_fresh_connection() {
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("process").await;
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let mut sids = Vec::new();
    for _ in 0..4 {
        sids.push(session(&c, &on_a, &token).await);
    }
    offers_evidence(&a).await;
    // B forwards to A on several connections at once; its pool keeps them.
    let warm: Vec<_> = sids
        .iter()
        .map(|sid| {
            let (c, url, token, sid) = (c.clone(), on_b.clone(), token.clone(), sid.clone());
            tokio::spawn(async move {
                call(&c, &url, &token, &sid, "sleep_ms", json!({"ms": 100})).await
            })
        })
        .collect();
    for w in warm {
        let reply = w.await.unwrap();
        assert!(reply.get("result").is_some(), "{reply}");
    }
    // A dies while B forwards a request to it (before A answered).
    let in_flight = {
        let (c, url, token, sid) = (c.clone(), on_b.clone(), token.clone(), sids[0].clone());
        tokio::spawn(
            async move { call(&c, &url, &token, &sid, "sleep_ms", json!({"ms": 3000})).await },
        )
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    kill_9(a.pid());
    let reply = in_flight.await.unwrap();
    assert!(
        reply.get("result").is_some() || reply["error"]["data"]["retryable"] == true,
        "the request in flight is answered by the new owner or fails as retryable: {reply}"
    );
    // The forward's connection broke; B asks again on a new connection (not
    // another pooled one to the dead process), is refused, and takes over.
    assert!(
        b.log()
            .contains("refused connections at its advertised URL"),
        "the refusal was taken as proof:\n{}",
        b.log()
    );
    assert_eq!(waited_for_lapse(&b), Vec::<String>::new());
    for sid in &sids {
        assert!(echo(&c, &on_b, &token, sid, "on").await.contains("on"));
    }
}

#[tokio::test]
async fn a_process_restarted_at_the_owners_address_takes_its_sessions_over_at_once() {
    let redis = RedisServer::start();
    let port = berth_tests::free_port();
    let cfg = config(&redis, "process");
    let at_port = cfg.replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let a = Berth::serve(&at_port, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    kill_9(a.pid());
    // A new process binds the dead owner's address at once (a restart in
    // place), before any pod noticed the death: its liveness record still
    // shows the old process alive.
    let a2 = Berth::serve_like(&b, &at_port, &[]).await;
    // B forwards to the owner's address, which reaches the new process; it
    // knows the old one is gone (it holds the address now) and takes over.
    assert_eq!(echo(&c, &on_b, &token, &sid, "again").await, "again");
    assert!(
        a2.log().contains("took over a session whose pod is gone"),
        "the process at the address took the session over:\n{}",
        a2.log()
    );
    assert_eq!(waited_for_lapse(&b), Vec::<String>::new());
}

#[tokio::test]
async fn a_pod_advertising_another_pods_url_leaves_its_sessions_alone() {
    let redis = RedisServer::start();
    let port = berth_tests::free_port();
    let cfg = config(&redis, "process");
    let a = Berth::serve(
        &cfg.replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
        &[],
    )
    .await;
    // B's config names A's address as B's own (one URL for all pods, as a
    // balancer's address written into every pod's config would be).
    let shared = format!("{cfg}\n[cluster]\nadvertise_url = \"http://127.0.0.1:{port}\"\n");
    let b = Berth::serve_like(&a, &shared, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    // B does not take the session from its live owner: the request goes
    // to the owner, whose server counts on.
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "2");
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "3");
    assert_eq!(takeovers(&b), 0, "B took A's session:\n{}", b.log());
    assert!(
        log_shows(
            &b,
            "another Berth process answers at this pod's advertised URL"
        )
        .await,
        "B says what is wrong with its config:\n{}",
        b.log()
    );
    assert!(
        b.log()
            .contains("another live pod advertises this pod's own URL")
    );
}

#[tokio::test]
async fn a_refusal_at_a_routable_url_is_proof_once_that_url_reached_the_owner() {
    // Both pods listen on (and advertise) this host's own routable address,
    // as pods advertise their IPs in a cluster.
    let ip = routable_ip();
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start_with("process", |cfg| {
        cfg.replace("127.0.0.1:0", &format!("{ip}:0"))
    })
    .await;
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    offers_evidence(&a).await;
    // B looks at the pods in the index: A's URL reaches A from B's side.
    assert!(
        log_shows(&b, "a pod's advertised URL reaches its pod from here").await,
        "B learned where A's URL leads:\n{}",
        b.log()
    );
    kill_9(a.pid());
    assert_eq!(echo(&c, &on_b, &token, &sid, "after").await, "after");
    assert!(
        b.log()
            .contains("refused connections at its advertised URL"),
        "the refusal was taken as proof:\n{}",
        b.log()
    );
    assert_eq!(waited_for_lapse(&b), Vec::<String>::new());
}
