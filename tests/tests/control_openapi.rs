//! The control plane's OpenAPI document: served at `/v1/openapi.json`,
//! valid by an independent validator (PyPI `openapi-spec-validator`), and
//! naming every `/v1` path the product contract fixes.

use std::time::Duration;

use berth_tests::{Berth, run, tool};
use serde_json::Value;

/// Runs the validator on `doc`: (passed, what it printed).
async fn validate(doc: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let (code, out, err) = run(
        tokio::process::Command::new(tool("BERTH_TEST_PYTHON"))
            .args(["-m", "openapi_spec_validator"])
            .arg(&file),
        Duration::from_secs(60),
    )
    .await;
    (code == Some(0), format!("{out}{err}"))
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_covers_every_route() {
    let berth = Berth::serve(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{state_dir}\"\n",
        &[],
    )
    .await;
    let r = reqwest::get(format!("{}/v1/openapi.json", berth.base))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "served without a token");
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    let (ok, said) = validate(&doc).await;
    println!("openapi-spec-validator: {}", said.trim());
    assert!(ok, "the validator refused the document: {said}");

    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/tenants/{tenant}/servers", "get"),
        ("/v1/tenants/{tenant}/servers/{server}", "put"),
        ("/v1/tenants/{tenant}/servers/{server}", "get"),
        ("/v1/tenants/{tenant}/servers/{server}", "delete"),
        (
            "/v1/tenants/{tenant}/servers/{server}/versions/{version}",
            "get",
        ),
        (
            "/v1/tenants/{tenant}/servers/{server}/versions/{version}/approve",
            "post",
        ),
        (
            "/v1/tenants/{tenant}/servers/{server}/versions/{version}/activate",
            "post",
        ),
        ("/v1/tenants/{tenant}/servers/{server}/deprecate", "post"),
        ("/v1/tenants/{tenant}/registry/v0/servers", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    // The deploy body is the deployment's own schema (the fields of a
    // [servers.T.S] entry) plus the metadata.
    let schemas = &doc["components"]["schemas"];
    let deploy = schemas["DeployRequest"].to_string();
    assert!(
        deploy.contains("#/components/schemas/ServerConfig"),
        "{deploy}"
    );
    for field in ["risk_tier", "data_classification", "owner"] {
        assert!(
            deploy.contains(&format!("\"{field}\"")),
            "{field} not in {deploy}"
        );
    }
    let config = schemas["ServerConfig"]["properties"]
        .as_object()
        .expect("ServerConfig");
    for field in [
        "image",
        "command",
        "transport",
        "port",
        "secrets",
        "idle_timeout",
    ] {
        assert!(
            config.contains_key(field),
            "{field} not in the deployment schema"
        );
    }

    // The validator can fail: a document without `info` is refused.
    let mut broken = doc.clone();
    broken.as_object_mut().unwrap().remove("info");
    let (ok, said) = validate(&broken).await;
    assert!(
        !ok,
        "the validator accepted a document without info: {said}"
    );
}
