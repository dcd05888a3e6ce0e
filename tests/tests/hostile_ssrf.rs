//! SSRF through the OIDC issuer's documents, shown failing: a discovery
//! document or JWKS that names metadata, link-local or loopback-only
//! addresses is never fetched, and Berth says why. The rest of the hostile
//! input at Berth's front is in `hostile.rs`.

use std::time::{Duration, Instant};

use berth_tests::{Berth, berth_command};
use serde_json::{Value, json};

/// A dev Berth (its key set is real, so only the address decides).
const DEV: &str = "listen = \"127.0.0.1:0\"\nstate_dir = \"{state_dir}\"\n";

/// A fake OpenID provider on loopback whose discovery document says what
/// `discovery` returns (given the provider's own base URL), and whose
/// `/jwks` serves `jwks`; returns that base URL.
async fn fake_issuer(
    discovery: impl Fn(&str) -> axum::response::Response + Clone + Send + Sync + 'static,
    jwks: Value,
) -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let b = base.clone();
    let d2 = discovery.clone();
    let b2 = base.clone();
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let r = discovery(&b);
                async move { r }
            }),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || {
                let r = d2(&b2);
                async move { r }
            }),
        )
        .route("/jwks", get(move || async move { axum::Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A config for `berth serve` in OIDC mode against `issuer`, with `extra`
/// lines in its `[auth]` section and state in `dir`.
fn oidc_config(dir: &std::path::Path, issuer: &str, extra: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{}\"\n[auth]\nmode = \"oidc\"\nissuer = \"{issuer}\"\n{extra}\n",
        dir.display()
    )
}

/// `berth serve` against `issuer`, expected to refuse to start: stderr.
async fn serve_oidc(issuer: &str, extra: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    berth_tests::serve_refused(&oidc_config(dir.path(), issuer, extra))
        .await
        .1
}

#[tokio::test]
async fn issuer_documents_naming_metadata_addresses_are_never_fetched() {
    // A real key set, so only the address decides.
    let dev = Berth::serve(DEV, &[]).await;
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", dev.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let document = |jwks_uri: &'static str, introspection: Option<&'static str>| {
        move |base: &str| {
            let jwks_uri = jwks_uri.replace("{base}", base);
            let mut d = json!({"issuer": base, "jwks_uri": jwks_uri});
            if let Some(i) = introspection {
                d["introspection_endpoint"] = json!(i);
            }
            axum::response::IntoResponse::into_response(axum::Json(d))
        }
    };
    for jwks_uri in [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/jwks",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[fe80::1]/jwks",
        "http://0.0.0.0/jwks",
    ] {
        let issuer = fake_issuer(document(jwks_uri, None), jwks.clone()).await;
        let started = Instant::now();
        let stderr = serve_oidc(&issuer, "").await;
        assert!(
            stderr.contains("link-local or metadata address Berth never fetches from"),
            "{jwks_uri}: {stderr}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "{jwks_uri}: not refused up front"
        );
    }
    // The introspection endpoint a discovery document names: same rule.
    let issuer = fake_issuer(
        document("{base}/jwks", Some("http://169.254.169.254/introspect")),
        jwks.clone(),
    )
    .await;
    let introspection = "[auth.introspection]\nclient_id = \"berth\"\nclient_secret = \"s\"\n";
    let stderr = serve_oidc(&issuer, introspection).await;
    assert!(stderr.contains("link-local or metadata"), "{stderr}");
    // A discovery document that redirects to the metadata service is not
    // followed.
    let redirect = |_: &str| {
        let mut r = axum::response::Response::new(axum::body::Body::empty());
        *r.status_mut() = http::StatusCode::FOUND;
        r.headers_mut().insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("http://169.254.169.254/latest/meta-data/"),
        );
        r
    };
    let issuer = fake_issuer(redirect, jwks.clone()).await;
    let stderr = serve_oidc(&issuer, "").await;
    assert!(stderr.contains("redirects are not followed"), "{stderr}");
    // Control: the same provider with a loopback jwks_uri is accepted.
    let issuer = fake_issuer(document("{base}/jwks", None), jwks).await;
    let (code, stderr) = serve_oidc_briefly(&issuer).await;
    assert_eq!(code, None, "a good issuer must let Berth start: {stderr}");
}

/// `berth serve` against `issuer`, expected to start: gives it 3 s, then
/// stops it; `None` means it was still running.
async fn serve_oidc_briefly(issuer: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("berth.toml");
    std::fs::write(&file, oidc_config(dir.path(), issuer, "")).unwrap();
    let mut cmd = berth_command();
    cmd.arg("serve").arg("--config").arg(&file);
    let (code, _, stderr) = berth_tests::run(&mut cmd, Duration::from_secs(3)).await;
    (code, stderr)
}
