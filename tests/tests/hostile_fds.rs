//! Out of open files: every process session holds four file descriptors,
//! so a pod whose open-files limit is too low for its sessions runs out.
//! The session that cannot start gets a retryable error naming the limit
//! to raise, and the server is not held against anyone for it (a failed
//! spawn otherwise makes every new session of the server fail fast): once
//! sessions end, other agents start at once. Berth's limit is lowered
//! while it runs (`prlimit`) to just above what it holds.

use std::time::Duration;

use berth_tests::legacy::{end, init, session};
use berth_tests::pods::echo;
use berth_tests::{Berth, eventually, messages};
use serde_json::Value;

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[servers.demo.everything]
command = ["{berth_bin}", "example-server"]
"#;

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Lowers `pid`'s soft and hard open-files limits to `n`.
fn limit_open_files(pid: u32, n: usize) {
    let out = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--nofile={n}:{n}")])
        .output()
        .expect("prlimit (util-linux) runs");
    assert!(
        out.status.success(),
        "prlimit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn running_out_of_open_files_is_retryable_and_holds_no_server_back() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let pid = berth.pid();
    // One keep-alive connection, made before the limit drops: Berth needs
    // no new descriptor to hear these agents.
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let (alice, bob) = (
        berth.token("alice", "demo", &[]),
        berth.token("bob", "demo", &[]),
    );
    let mut sids = vec![session(&c, &url, &alice).await];
    limit_open_files(pid, open_files(pid) + 10);

    let refused: Value = loop {
        assert!(
            sids.len() < 8,
            "no session was refused with the open-files limit just above what Berth holds"
        );
        let r = init(&c, &url, &alice).await;
        let sid = r
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        let body = r.text().await.unwrap();
        match sid {
            Some(sid) => sids.push(sid),
            None => break messages(&ct, &body).pop().expect("an answer"),
        }
    };
    let said = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(
        said.contains("out of open files") && said.contains("LimitNOFILE"),
        "the error names the limit to raise: {refused}"
    );
    assert_eq!(
        refused["error"]["data"]["retryable"], true,
        "running out of descriptors is retryable: {refused}"
    );

    // Sessions end; their descriptors come back ...
    let before = open_files(pid);
    for sid in sids.drain(1..) {
        assert!(end(&c, &url, &alice, &sid).await.status().is_success());
    }
    assert!(
        eventually(Duration::from_secs(10), || open_files(pid) + 6 <= before).await,
        "ended sessions gave their descriptors back"
    );
    // ... and the server was not held against anyone: Bob and Alice start
    // new sessions at once.
    for (who, token) in [("bob", &bob), ("alice", &alice)] {
        let sid = session(&c, &url, token).await;
        assert_eq!(echo(&c, &url, token, &sid, who).await, who);
        end(&c, &url, token, &sid).await;
    }
    assert_eq!(
        echo(&c, &url, &alice, &sids[0], "still here").await,
        "still here"
    );
}
