use super::values::check_name;
use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

#[test]
fn defaults_are_the_embedded_ones() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.store.url, "memory");
    assert_eq!(c.backend, BackendKind::Process);
    assert_eq!(c.auth.mode, AuthMode::Dev);
}

#[test]
fn file_values_and_env_overrides() {
    let f = write(
        r#"
listen = "127.0.0.1:9000"
[limits]
max_body_bytes = 2048
[servers.acme.files]
command = ["/bin/cat"]
idle_timeout = "5m"
"#,
    );
    let c = Config::load(
        Some(f.path()),
        env(&[
            ("BERTH_LIMITS__MAX_BODY_BYTES", "4096"),
            ("BERTH_SERVERS__ACME__FILES__IDLE_TIMEOUT", "30s"),
            ("BERTH_PUBLIC_URL", "https://mcp.example.com/"),
            ("BERTH_LOG", "debug"),
            ("OTHER", "x"),
        ]),
    )
    .unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.limits.max_body_bytes, 4096);
    let s = c.server("acme", "files").unwrap();
    assert_eq!(s.idle_timeout, std::time::Duration::from_secs(30));
    assert_eq!(c.public_base(), "https://mcp.example.com");
}

#[test]
fn errors_name_the_key() {
    let f = write("[limits]\nmax_body_bytes = \"lots\"\n");
    let e = Config::load(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("limits.max_body_bytes"), "{e}");

    let f = write("[limits]\nmax_bdy_bytes = 1\n");
    let e = Config::load(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_bdy_bytes"), "{e}");

    let e = Config::load(None, env(&[("BERTH_LIMITS__REQUEST_TIMEOUT", "soon")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("limits.request_timeout"), "{e}");

    let e = Config::load(None, env(&[("BERTH_LIMITS__SSE_RETRY", "\"2m\"")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("limits.sse_retry") && e.contains("at most 60s"),
        "{e}"
    );
    let ok = Config::load(None, env(&[("BERTH_LIMITS__SSE_RETRY", "\"200ms\"")])).unwrap();
    assert_eq!(ok.limits.sse_retry, std::time::Duration::from_millis(200));

    let e = Config::load(None, env(&[("BERTH_SERVERS__ACME__X__COMMAND", "[]")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("servers.acme.x.command"), "{e}");

    let e = Config::load(
        None,
        env(&[("BERTH_SERVERS__ACME__Bad.Name__COMMAND", "[\"a\"]")]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("invalid name"), "{e}");

    let e = Config::load(
        None,
        env(&[("BERTH_LIMITS", "3"), ("BERTH_LIMITS__X", "1")]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("BERTH_LIMITS__X"), "{e}");
}

#[test]
fn names_reject_traversal_and_odd_characters() {
    for bad in ["", "..", "a/b", "A", "-x", "a b", "a%2fb", &"x".repeat(64)] {
        assert!(check_name(bad).is_err(), "{bad:?} should be rejected");
    }
    for good in ["demo", "acme-corp", "s3_files", "0day"] {
        assert!(check_name(good).is_ok());
    }
}

/// The error of loading `server` (a docker backend and a vault section
/// are prepended).
fn secret_error(server: &str) -> String {
    let f = write(&format!(
        "backend = \"docker\"\n[vault]\naddress = \"http://127.0.0.1:8200\"\nauth = \"token\"\ntoken = \"t\"\n{server}"
    ));
    Config::load(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string()
}

#[test]
fn secret_refs_are_checked_before_anything_starts() {
    let stdio_header = "[servers.acme.x]\nimage = \"i\"\n[[servers.acme.x.secrets]]\npath = \"p\"\nkey = \"k\"\nheader = \"X-Key\"\n";
    assert!(secret_error(stdio_header).contains("headers need transport"));
    let own_header = "[servers.acme.x]\nimage = \"i\"\ntransport = \"http\"\n[[servers.acme.x.secrets]]\npath = \"p\"\nkey = \"k\"\nheader = \"Mcp-Session-Id\"\n";
    assert!(secret_error(own_header).contains("set by Berth itself"));
    let pooled_env = "[servers.acme.x]\nimage = \"i\"\nwarm_pool = 1\n[[servers.acme.x.secrets]]\npath = \"p\"\nkey = \"k\"\nenv = \"K\"\n";
    assert!(secret_error(pooled_env).contains("warm_pool"));
    let both =
        "[servers.acme.x]\nimage = \"i\"\n[[servers.acme.x.secrets]]\npath = \"p\"\nkey = \"k\"\n";
    assert!(secret_error(both).contains("exactly one of"));
    let f = write(
        "[vault]\naddress = \"http://v:8200\"\nauth = \"token\"\ntoken = \"t\"\ntenant_prefix = \"berth/shared\"\n",
    );
    let err = Config::load(Some(f.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("vault.tenant_prefix"), "{err}");
    let no_vault = write(
        "[servers.acme.x]\ncommand = [\"x\"]\n[[servers.acme.x.secrets]]\npath = \"p\"\nkey = \"k\"\nenv = \"K\"\n",
    );
    let err = Config::load(Some(no_vault.path()), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("vault.address"), "{err}");
}

#[test]
fn image_references_are_checked_for_syntax() {
    for good in [
        "berth/example-server",
        "registry.example.com:5000/team/server:1.2.3",
        "localhost/x_y-z.w:latest",
        "team/server@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        assert!(
            super::image_ref::check_image_reference(good).is_ok(),
            "{good}"
        );
    }
    for bad in [
        "Team/Server",
        "x::y",
        "a b",
        "team/server:-bad",
        "server@md5:abc",
        "sha256:xyz",
        "/x",
        "x/",
    ] {
        assert!(
            super::image_ref::check_image_reference(bad).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn the_kubernetes_backend_needs_a_namespace_and_sane_limits() {
    let err = |text: &str| {
        Config::load(Some(write(text).path()), env(&[]))
            .unwrap_err()
            .to_string()
    };
    let e = err("backend = \"kubernetes\"\n");
    assert!(
        e.contains("kubernetes.namespace") && e.contains("required"),
        "{e}"
    );
    let e = err("backend = \"kubernetes\"\n[kubernetes]\nnamespace = \"Bad_NS\"\n");
    assert!(e.contains("kubernetes.namespace"), "{e}");
    let e = err("backend = \"kubernetes\"\n[kubernetes]\nnamespace = \"s\"\nrun_as_user = 0\n");
    assert!(
        e.contains("kubernetes.run_as_user") && e.contains("non-root"),
        "{e}"
    );
    let e = err("[kubernetes]\nimage_pull_policy = \"Sometimes\"\n");
    assert!(e.contains("kubernetes.image_pull_policy"), "{e}");
    let e = err("[kubernetes]\nnamspace = \"x\"\n");
    assert!(e.contains("namspace"), "an unknown key is named: {e}");
    let ok = Config::load(
        Some(
            write("backend = \"kubernetes\"\n[kubernetes]\nnamespace = \"berth-sessions\"\n")
                .path(),
        ),
        env(&[]),
    )
    .unwrap();
    assert_eq!(ok.backend, BackendKind::Kubernetes);
    assert_eq!(ok.kubernetes.namespace.as_deref(), Some("berth-sessions"));
}

#[test]
fn a_servers_placement_is_checked_with_pointers() {
    let config = Config::default();
    let server: ServerConfig = serde_json::from_value(serde_json::json!({
        "command": ["/bin/cat"],
        "kubernetes": {
            "runtime_class_name": "gVisor!",
            "node_selector": {"pool": "sandboxed"},
            "tolerations": [
                {"key": "sandbox", "operator": "Exists", "value": "yes"},
                {"operator": "Sometimes", "effect": "Never"},
            ],
        },
    }))
    .unwrap();
    let pointers: Vec<String> = config
        .server_problems(&server)
        .iter()
        .map(|p| p.pointer.clone())
        .collect();
    assert_eq!(
        pointers,
        [
            "/kubernetes/runtime_class_name",
            "/kubernetes/tolerations/0/value",
            "/kubernetes/tolerations/1/operator",
            "/kubernetes/tolerations/1/effect",
            "/kubernetes/tolerations/1/key",
        ]
    );
}

#[test]
fn store_urls_of_every_supported_form_are_accepted() {
    for url in [
        "memory",
        "redis://r:6379/1",
        "redis+sentinel://s1:26379,s2:26379/berth",
        "redis+cluster://r1:7000,r2:7000,r3:7000",
        "rediss://r:6380/1",
        "rediss+sentinel://s1:26379/berth",
        "rediss+cluster://r1:7000,r2:7000",
    ] {
        let c = Config::load(None, env(&[("BERTH_STORE__URL", url)])).unwrap();
        assert_eq!(c.store.url, url);
        assert_eq!(c.store.is_tls(), url.starts_with("rediss"), "{url}");
    }
    let e = Config::load(None, env(&[("BERTH_STORE__URL", "cluster://r1:7000")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("store.url") && e.contains("`memory`") && e.contains("redis[s]+cluster://"),
        "{e}"
    );
}

#[test]
fn a_malformed_redis_url_is_refused_by_the_config_check_not_at_the_first_session() {
    // The whole URL is read as the store reads it, so check-config (and the
    // chart's check) catch what only the scheme check let through.
    for (url, says) in [
        ("redis+sentinel://s1:26379", "MASTER-NAME"),
        ("redis+cluster://", "HOST:PORT"),
        ("redis://r:notaport", "port"),
        ("rediss+cluster://r1:7000,r2:7000/1", "takes no path"),
    ] {
        let e = Config::load(None, env(&[("BERTH_STORE__URL", url)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("store.url") && e.contains(says), "{url}: {e}");
        assert!(!e.contains("unavailable"), "{url}: {e}");
    }
    // Credentials in a refused URL are not echoed.
    let e = Config::load(
        None,
        env(&[("BERTH_STORE__URL", "redis+sentinel://:s3cret@s1:26379")]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("store.url") && !e.contains("s3cret"), "{e}");
}

#[test]
fn store_tls_files_need_a_rediss_url_and_a_client_cert_needs_its_key() {
    let load = |vars: &[(&str, &str)]| Config::load(None, env(vars)).map_err(|e| e.to_string());
    let e = load(&[
        ("BERTH_STORE__URL", "redis://r:6379"),
        ("BERTH_STORE__TLS_CA_FILE", "/etc/berth/redis-ca.pem"),
    ])
    .unwrap_err();
    assert!(
        e.contains("store.tls_ca_file") && e.contains("rediss://"),
        "{e}"
    );
    let e = load(&[
        ("BERTH_STORE__URL", "rediss://r:6380"),
        ("BERTH_STORE__TLS_CERT_FILE", "/etc/berth/client.pem"),
    ])
    .unwrap_err();
    assert!(e.contains("store.tls_key_file"), "{e}");
    let e = load(&[
        ("BERTH_STORE__URL", "rediss://r:6380"),
        ("BERTH_STORE__TLS_KEY_FILE", "/etc/berth/client.key"),
    ])
    .unwrap_err();
    assert!(e.contains("store.tls_cert_file"), "{e}");
    let c = load(&[
        ("BERTH_STORE__URL", "rediss+cluster://r1:7000"),
        ("BERTH_STORE__TLS_CA_FILE", "/etc/berth/redis-ca.pem"),
        ("BERTH_STORE__TLS_CERT_FILE", "/etc/berth/client.pem"),
        ("BERTH_STORE__TLS_KEY_FILE", "/etc/berth/client.key"),
    ])
    .unwrap();
    assert_eq!(
        c.store.tls_ca_file.as_deref(),
        Some(std::path::Path::new("/etc/berth/redis-ca.pem"))
    );
    assert_eq!(
        c.store.tls_reload_interval,
        std::time::Duration::from_secs(60)
    );
    let e = load(&[
        ("BERTH_STORE__URL", "rediss://r:6380"),
        ("BERTH_STORE__TLS_RELOAD_INTERVAL", "0s"),
    ])
    .unwrap_err();
    assert!(
        e.contains("store.tls_reload_interval") && e.contains("greater than zero"),
        "{e}"
    );
}

#[test]
fn a_store_password_goes_into_the_url_encoded() {
    let mut store = super::store::StoreConfig {
        url: "redis+sentinel://s1:26379,s2:26379/berth".into(),
        password: Some("p@ss:w/rd".into()),
        ..super::store::StoreConfig::default()
    };
    assert_eq!(
        store.url_with_password(),
        "redis+sentinel://:p%40ss%3Aw%2Frd@s1:26379,s2:26379/berth"
    );
    store.url = "redis+cluster://r1:7000,r2:7000".into();
    assert_eq!(
        store.url_with_password(),
        "redis+cluster://:p%40ss%3Aw%2Frd@r1:7000,r2:7000"
    );
    store.url = "redis://:inline@r:6379".into();
    assert_eq!(
        store.url_with_password(),
        "redis://:inline@r:6379",
        "the URL's own wins"
    );
    assert!(!format!("{store:?}").contains("inline") && !format!("{store:?}").contains("p@ss"));
}

#[test]
fn env_values_that_look_like_numbers_stay_text_where_text_is_wanted() {
    let c = Config::load(
        None,
        env(&[
            ("BERTH_STORE__PASSWORD", "12345"),
            ("BERTH_VAULT__SECRET_ID", "true"),
            ("BERTH_LIMITS__MAX_SESSIONS", "7"),
        ]),
    )
    .unwrap();
    assert_eq!(c.store.password.as_deref(), Some("12345"));
    assert_eq!(c.vault.secret_id.as_deref(), Some("true"));
    assert_eq!(c.limits.max_sessions, 7, "numbers still read as numbers");
    let e = Config::load(None, env(&[("BERTH_LIMITS__MAX_SESSIONS", "many")])).unwrap_err();
    assert!(e.to_string().contains("limits.max_sessions"), "{e}");
}

#[test]
fn trusted_proxies_are_address_blocks() {
    let c = Config::load(
        None,
        env(&[(
            "BERTH_SECURITY__TRUSTED_PROXIES",
            r#"["10.0.0.0/8", "127.0.0.1", "fd00::/8"]"#,
        )]),
    )
    .unwrap();
    assert_eq!(c.security.trusted_proxies.len(), 3);
    for bad in [
        r#"["10.0.0.1/8"]"#,
        r#"["mcp.example.com"]"#,
        r#"["10.0.0.0/40"]"#,
    ] {
        let e = Config::load(None, env(&[("BERTH_SECURITY__TRUSTED_PROXIES", bad)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("security.trusted_proxies"), "{bad}: {e}");
    }
}
