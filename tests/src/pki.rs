//! Throwaway certificates for TLS tests, made with the `openssl` command:
//! a CA; signed by it, a server certificate for `127.0.0.1`/`localhost`,
//! one for another name only, and a client certificate; and another CA
//! that no server trusts at first, with a server and a client certificate
//! of its own (`other-server`, `other-client`: what a CA rotation brings). Missing `openssl` is a test failure (Debian: `apt-get
//! install openssl`; scripts/test installs it).
//!
//! Also compiled into `session-store/tests/redis_store.rs` (`#[path]`), so
//! the store's TLS tests and the black-box ones share one PKI recipe.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use tempfile::TempDir;

/// The files of one test PKI, in a temporary directory.
pub struct Pki {
    dir: TempDir,
}

impl Pki {
    /// Makes every certificate of the PKI in a new temporary directory.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().expect("create a temp dir for certificates"),
        };
        for ca in ["ca", "other-ca"] {
            pki.openssl(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=berth test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ]);
        }
        let server =
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n";
        let client = "extendedKeyUsage=clientAuth\n";
        pki.issue("ca", "server", server);
        pki.issue(
            "ca",
            "elsewhere",
            "subjectAltName=DNS:redis.elsewhere.example\nextendedKeyUsage=serverAuth\n",
        );
        pki.issue("ca", "client", client);
        pki.issue("other-ca", "other-server", server);
        pki.issue("other-ca", "other-client", client);
        pki
    }

    /// `NAME.key` and `NAME.pem`, signed by `CA.pem` with `extensions`.
    fn issue(&self, ca: &str, name: &str, extensions: &str) {
        let ext = format!("{name}.ext");
        std::fs::write(
            self.path(&ext),
            format!("basicConstraints=critical,CA:FALSE\n{extensions}"),
        )
        .expect("write the extensions file");
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN=berth test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ]);
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &format!("{name}.pem"),
        ]);
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run openssl (Debian package openssl): {e}"));
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A file of the PKI (`ca.pem`, `server.key`, `client.pem`, `other-ca.pem`, …).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A file's contents.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).expect("read a certificate file")
    }

    /// `redis-server` arguments serving TLS on `tls_port` with the
    /// certificate `cert` (`server` or `elsewhere`), trusting this CA for
    /// client certificates; clients must present one if
    /// `require_client_cert`.
    pub fn server_args(&self, tls_port: u16, cert: &str, require_client_cert: bool) -> Vec<String> {
        let file = |name: &str| self.path(name).to_string_lossy().into_owned();
        vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            file(&format!("{cert}.pem")),
            "--tls-key-file".into(),
            file(&format!("{cert}.key")),
            "--tls-ca-cert-file".into(),
            file("ca.pem"),
            "--tls-auth-clients".into(),
            if require_client_cert { "yes" } else { "no" }.into(),
        ]
    }
}

/// Two free loopback ports for one server, its plain port and its TLS
/// port: bound at the same time, so they differ (two separate picks of a
/// free port can return the same one).
pub fn plain_and_tls_ports() -> (u16, u16) {
    let bind = || TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let (plain, tls) = (bind(), bind());
    let port = |l: &TcpListener| l.local_addr().expect("a bound address").port();
    (port(&plain), port(&tls))
}
