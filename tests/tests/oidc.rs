//! Berth as an OAuth 2.1 resource server in front of a real OpenID provider
//! (npm `oidc-provider`): tokens from the client-credentials grant are
//! accepted at the resource they were issued for and nowhere else, another
//! tenant's token is refused, a rotated signing key is picked up without a
//! restart, and opaque tokens are checked by RFC 7662 introspection.

use std::time::Duration;

use berth_tests::legacy::{INIT, call};
use berth_tests::oidc::OidcProvider;
use berth_tests::{Berth, mcp_post};
use serde_json::json;

fn config(issuer: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[auth]
mode = "oidc"
issuer = "{issuer}"
[auth.claims]
tenant = "tenant"
[servers.acme.echo]
command = ["{{berth_bin}}", "example-server"]
[servers.globex.echo]
command = ["{{berth_bin}}", "example-server"]
"#
    )
}

/// Status of an `initialize` with `token`.
async fn init_status(c: &reqwest::Client, url: &str, token: &str) -> u16 {
    mcp_post(c, url, token, INIT)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn tokens_of_a_real_provider_work_only_at_their_resource_and_tenant() {
    let idp = OidcProvider::start();
    let berth = Berth::serve(&config(&idp.issuer), &[]).await;
    let c = reqwest::Client::new();
    let acme = berth.url("acme", "echo");
    let globex = berth.url("globex", "echo");

    let token = idp.token("acme-agent", &acme, None).await;
    let sid = berth_tests::legacy::session(&c, &acme, &token).await;
    let reply = call(&c, &acme, &token, &sid, "echo", json!({"text": "via oidc"})).await;
    assert_eq!(reply["result"]["content"][0]["text"], "via oidc", "{reply}");

    // A token issued for another resource (RFC 8707 audience) is refused.
    let elsewhere = idp.token("acme-agent", &globex, None).await;
    assert_eq!(init_status(&c, &acme, &elsewhere).await, 401);
    // Another tenant's token, even for this very resource, is refused.
    let other_tenant = idp.token("globex-agent", &acme, None).await;
    assert_eq!(init_status(&c, &acme, &other_tenant).await, 403);
    // A token whose signature was tampered with is refused.
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(init_status(&c, &acme, &forged).await, 401);
}

#[tokio::test]
async fn a_rotated_signing_key_is_picked_up_without_a_restart() {
    let idp = OidcProvider::start();
    let berth = Berth::serve(&config(&idp.issuer), &[]).await;
    let c = reqwest::Client::new();
    let acme = berth.url("acme", "echo");
    let before = idp.token("acme-agent", &acme, None).await;
    assert_eq!(init_status(&c, &acme, &before).await, 200);

    idp.rotate().await;
    let after = idp.token("acme-agent", &acme, None).await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_ne!(
        kid(&before),
        kid(&after),
        "the provider signs with a new key"
    );
    // Berth refetches the JWKS when it meets the new key id (at most once
    // per MIN_REFETCH, so a token right after startup may wait for it).
    let mut status = 0;
    for _ in 0..30 {
        status = init_status(&c, &acme, &after).await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, 200, "{}", berth.log());
    assert!(berth.log().contains("refreshed the issuer's keys"));
    // Tokens signed with the old key, still published, keep working.
    assert_eq!(init_status(&c, &acme, &before).await, 200);
}

#[tokio::test]
async fn opaque_tokens_are_introspected_at_the_issuer() {
    let idp = OidcProvider::start_with(|c| c["opaque_resources"] = json!(["http://127.0.0.1"]));
    let introspection = |secret: &str| {
        format!(
            "{}[auth.introspection]\nclient_id = \"berth-introspector\"\nclient_secret = \"{secret}\"\n",
            config(&idp.issuer)
        )
    };
    let berth = Berth::serve(&introspection("berth-introspector-secret"), &[]).await;
    let c = reqwest::Client::new();
    let acme = berth.url("acme", "echo");
    let globex = berth.url("globex", "echo");

    let token = idp.token("acme-agent", &acme, None).await;
    assert!(!token.contains('.'), "an opaque token: {token}");
    let sid = berth_tests::legacy::session(&c, &acme, &token).await;
    let reply = call(&c, &acme, &token, &sid, "echo", json!({"text": "opaque"})).await;
    assert_eq!(reply["result"]["content"][0]["text"], "opaque", "{reply}");

    // The issuer's answer names the resource: a token for another one fails.
    let elsewhere = idp.token("acme-agent", &globex, None).await;
    assert_eq!(init_status(&c, &acme, &elsewhere).await, 401);
    let other_tenant = idp.token("globex-agent", &acme, None).await;
    assert_eq!(init_status(&c, &acme, &other_tenant).await, 403);
    // Made up, or revoked before use: inactive.
    assert_eq!(init_status(&c, &acme, &"x".repeat(43)).await, 401);
    let revoked = idp.token("acme-agent", &acme, None).await;
    idp.revoke("acme-agent", &revoked).await;
    let r = mcp_post(&c, &acme, &revoked, INIT).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("not active"), "{challenge}");

    // If Berth cannot ask the issuer (here: a wrong client secret), the
    // agent is told to retry (503), not that its token is bad.
    let misconfigured = Berth::serve(&introspection("wrong-secret"), &[]).await;
    let url = misconfigured.url("acme", "echo");
    let token = idp.token("acme-agent", &url, None).await;
    assert_eq!(init_status(&c, &url, &token).await, 503);
}

#[tokio::test]
async fn a_parent_scope_covers_its_children_and_a_sibling_does_not() {
    let idp = OidcProvider::start();
    let cfg = config(&idp.issuer).replace(
        "[servers.globex.echo]",
        "required_scopes = [\"mcp:tools:call\"]\n[servers.globex.echo]",
    );
    let berth = Berth::serve(&cfg, &[]).await;
    let c = reqwest::Client::new();
    let acme = berth.url("acme", "echo");
    // `mcp:tools` is the parent of the required `mcp:tools:call`.
    let parent = idp.token("acme-agent", &acme, Some("mcp:tools")).await;
    assert_eq!(init_status(&c, &acme, &parent).await, 200);
    // A sibling (`mcp:tools:list`) is not enough: 403 naming what is missing.
    let sibling = idp.token("acme-readonly", &acme, None).await;
    let r = mcp_post(&c, &acme, &sibling, INIT).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains("mcp:tools:call"), "{challenge}");
}
