//! Pods trust each other only with proof: an attacker who can write to
//! Redis but holds no Berth key cannot redirect a session (and the agent's
//! token) to an address of its choosing, and a request that claims to be
//! forwarded by a pod without a valid signature is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use berth_tests::legacy::session;
use berth_tests::mcp_post;
use berth_tests::pods::{TwoPods, echo};
use serde_json::Value;
use tokio::io::AsyncReadExt;

/// A listener standing in for the attacker's server: counts connections
/// and the bytes it was sent.
async fn attacker() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counting = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counting.fetch_add(1, Ordering::SeqCst);
            let mut buf = vec![0u8; 4096];
            let _ = stream.read(&mut buf).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_forged_owner_record_does_not_redirect_a_session() {
    let TwoPods {
        redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("process").await;
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(
        echo(&c, &on_b, &token, &sid, "forwarded").await,
        "forwarded"
    );
    let (evil, seen) = attacker().await;

    let leases: Vec<String> = redis
        .cli(&["--scan", "--pattern", "*:lease"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(leases.len(), 1, "one owner record: {leases:?}");
    let genuine = redis.cli(&["GET", &leases[0]]).trim().to_owned();
    let mut record: Value = serde_json::from_str(&genuine).expect("an owner record is JSON");
    record["url"] = Value::String(evil.clone());
    let redirected = record.to_string();
    let old_format = serde_json::json!({"pod": "evil", "url": evil}).to_string();
    for forged in [&redirected, &old_format] {
        redis.cli(&["SET", &leases[0], forged, "KEEPTTL"]);
        let r = mcp_post(
            &c,
            &on_b,
            &token,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        )
        .header("mcp-session-id", sid.as_str())
        .send()
        .await
        .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("does not verify"), "{body}");
        assert!(body.contains("\"retryable\":true"), "{body}");
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a pod connected to the address an attacker wrote into Redis"
    );
    assert!(
        b.log().contains("owner record does not verify"),
        "{}",
        b.log()
    );
    // Put back, the genuine record still routes to the owner.
    redis.cli(&["SET", &leases[0], &genuine, "KEEPTTL"]);
    assert_eq!(echo(&c, &on_b, &token, &sid, "again").await, "again");
    drop(a);
}

#[tokio::test]
async fn a_forged_forwarded_request_is_refused() {
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("process").await;
    let on_a = a.url("demo", "everything");
    let sid = session(&c, &on_a, &token).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let forged_signatures = [
        None,
        Some(format!("{now}.m1.{}", "0".repeat(64))),
        Some("not-a-signature".to_owned()),
        Some(format!("{}.m1.{}", now - 3_600_000, "0".repeat(64))),
    ];
    for signature in forged_signatures {
        let mut req = mcp_post(
            &c,
            &on_a,
            &token,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        )
        .header("mcp-session-id", sid.as_str())
        .header("berth-forwarded-by", "pod-b");
        if let Some(sig) = &signature {
            req = req.header("berth-forward-signature", sig);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, 403, "{signature:?}: {body}");
        assert!(body.contains("claims to be forwarded"), "{body}");
    }
    let audit = a
        .log()
        .lines()
        .filter(|l| l.contains("berth::audit") && l.contains("forward.forged"))
        .count();
    assert_eq!(audit, 4, "{}", a.log());
    // A genuine forward (B to the owner A) is accepted.
    let on_b = b.url("demo", "everything");
    assert_eq!(echo(&c, &on_b, &token, &sid, "genuine").await, "genuine");
}
