//! The door, as an attacker would try it: tokens count only from the
//! `Authorization` header (never the query string, a cookie, a form body,
//! another header, or two `Authorization` headers), and every
//! unauthenticated request is challenged with RFC 9728 metadata that names
//! the endpoint's canonical URL. Tenants and users apart is `tenants.rs`.

use berth_tests::legacy::{INIT, session};
use berth_tests::tenancy::{CONFIG, METHODS, bare, challenge};
use berth_tests::{Berth, mcp_post};
use reqwest::Method;
use serde_json::{Value, json};

// --- the door: tokens, challenges, metadata (issue 5 item 1) ---

#[tokio::test]
async fn unauthenticated_requests_are_challenged_with_metadata_and_scope() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "scoped");
    let metadata = format!(
        "{}/.well-known/oauth-protected-resource/mcp/acme/scoped",
        berth.base
    );
    // A real session id without a token is challenged too, never looked up.
    let token = berth.token("alice", "acme", &["mcp:tools:call"]);
    let sid = session(&c, &url, &token).await;
    for method in METHODS {
        for with_sid in [false, true] {
            let mut req = bare(&c, method.clone(), &url);
            if with_sid {
                req = req.header("mcp-session-id", &sid);
            }
            let ch = challenge(req.send().await.unwrap()).await;
            assert!(ch.starts_with("Bearer "), "{method}: {ch}");
            assert!(
                ch.contains(&format!("resource_metadata=\"{metadata}\"")),
                "{method}: {ch}"
            );
            assert!(ch.contains("scope=\"mcp:tools:call\""), "{method}: {ch}");
        }
    }
    // The metadata names this endpoint and how to present a token.
    let doc: Value = c.get(&metadata).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["resource"], url, "{doc}");
    assert_eq!(doc["scopes_supported"], json!(["mcp:tools:call"]), "{doc}");
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]), "{doc}");
    assert!(
        doc["authorization_servers"][0]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{doc}"
    );
}

#[tokio::test]
async fn protected_resource_metadata_names_each_endpoints_canonical_url() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let get = |path: String| {
        let c = c.clone();
        async move { c.get(path).send().await.unwrap() }
    };
    for (tenant, server) in [("acme", "echo"), ("globex", "echo"), ("acme", "scoped")] {
        let r = get(format!(
            "{}/.well-known/oauth-protected-resource/mcp/{tenant}/{server}",
            berth.base
        ))
        .await;
        assert_eq!(r.status(), 200);
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["resource"], berth.url(tenant, server), "{doc}");
    }
    // The root form describes the host itself (RFC 9728 §3.1: no path).
    let doc: Value = get(format!(
        "{}/.well-known/oauth-protected-resource",
        berth.base
    ))
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(doc["resource"], berth.base, "{doc}");
    assert_eq!(doc["bearer_methods_supported"], json!(["header"]), "{doc}");
    // No metadata for a server a tenant does not have.
    let r = get(format!(
        "{}/.well-known/oauth-protected-resource/mcp/globex/scoped",
        berth.base
    ))
    .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_token_in_the_query_string_is_refused() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "echo");
    let token = berth.token("alice", "acme", &[]);
    let sid = session(&c, &url, &token).await;
    for method in METHODS {
        for name in ["access_token", "token", "bearer"] {
            let r = bare(&c, method.clone(), &format!("{url}?{name}={token}"))
                .header("mcp-session-id", &sid)
                .send()
                .await
                .unwrap();
            let ch = challenge(r).await;
            assert!(!ch.contains("error="), "no token was presented: {ch}");
        }
    }
    // Nor does it end up in Berth's log, where access logs would keep it.
    assert!(!berth.log().contains(&token));
}

#[tokio::test]
async fn a_token_in_a_cookie_is_refused() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "echo");
    let token = berth.token("alice", "acme", &[]);
    let sid = session(&c, &url, &token).await;
    for method in METHODS {
        for cookie in [
            format!("access_token={token}"),
            format!("token={token}"),
            format!("Authorization=Bearer {token}"),
        ] {
            let r = bare(&c, method.clone(), &url)
                .header("cookie", cookie)
                .header("mcp-session-id", &sid)
                .send()
                .await
                .unwrap();
            challenge(r).await;
        }
    }
}

#[tokio::test]
async fn a_token_in_a_form_body_or_another_header_is_refused() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "echo");
    let token = berth.token("alice", "acme", &[]);
    // RFC 6750 §2.2 form-encoded body parameter.
    let r = c
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json, text/event-stream")
        .body(format!("access_token={token}"))
        .send()
        .await
        .unwrap();
    challenge(r).await;
    // A JSON-RPC body naming the token in `_meta` or params.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"},
        "access_token": token, "_meta": {"authorization": format!("Bearer {token}")}}})
    .to_string();
    let r = bare(&c, Method::POST, &url)
        .body(body)
        .send()
        .await
        .unwrap();
    challenge(r).await;
    // Look-alike headers.
    for header in [
        "x-access-token",
        "x-authorization",
        "access-token",
        "proxy-authorization",
    ] {
        let r = bare(&c, Method::POST, &url)
            .header(header, format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        challenge(r).await;
    }
    // The same token in the Authorization header works (the refusals
    // above are about where it was, not what it was).
    let r = mcp_post(&c, &url, &token, INIT).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn two_authorization_headers_are_refused_whatever_their_order() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "echo");
    let acme = berth.token("alice", "acme", &[]);
    let globex = berth.token("mallory", "globex", &[]);
    // A proxy in front may have checked either header; Berth takes neither.
    for (first, second) in [(&acme, &globex), (&globex, &acme), (&acme, &acme)] {
        let r = bare(&c, Method::POST, &url)
            .header("authorization", format!("Bearer {first}"))
            .header("authorization", format!("Bearer {second}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(
            challenge.contains("error=\"invalid_request\""),
            "{challenge}"
        );
        assert!(!r.text().await.unwrap().contains(first.as_str()));
    }
    // The cross-tenant attempt is an audit event naming both tenants.
    let r = mcp_post(&c, &berth.url("globex", "echo"), &acme, INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let log = berth.log();
    let event = log
        .lines()
        .find(|l| l.contains("tenant.refused"))
        .unwrap_or_else(|| panic!("no audit event: {log}"));
    assert!(event.contains("berth::audit") && event.contains("globex") && event.contains("acme"));
}
