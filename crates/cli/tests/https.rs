#![allow(clippy::unwrap_used)]
//! `https://` sources (issue 17.3): a TLS server of the test's own CA serves a
//! profile; rustprof fetches it with `-tls_ca`, fails with one line without
//! it, takes `https+insecure://` as pprof does, presents `-tls_cert` and
//! `-tls_key` to a server that asks for a client certificate, reads the
//! system's store (`SSL_CERT_FILE`), and prints what `go tool pprof` (Go
//! 1.27.3 under CI) prints for the same fetches.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The test's CA, a server certificate for localhost and 127.0.0.1 and a
/// client certificate, all as PEM files in `dir`.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn pki(dir: &Path) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "rustprof test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names).unwrap().signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
    let (client_cert, client_key) = leaf(vec!["client.test".into()]);
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Pki {
        ca: write("ca.pem", &ca_cert.pem()),
        server_cert: write("server.pem", &server_cert),
        server_key: write("server.key", &server_key),
        client_cert: write("client.pem", &client_cert),
        client_key: write("client.key", &client_key),
    }
}

/// A small heap-like profile, encoded.
fn profile_bytes() -> Vec<u8> {
    let mut b = rustprof_profile::ProfileBuilder::new(&[("samples", "count"), ("cpu", "nanoseconds")]);
    let f = b.add_function("app::handle_request", "app::handle_request", "src/app.rs", 10);
    let g = b.add_function("app::parse", "app::parse", "src/app.rs", 40);
    let line = |function, line| rustprof_profile::Line { function, line, column: 0 };
    let l1 = b.add_location(None, 0x1000, &[line(f, 12)], false);
    let l2 = b.add_location(None, 0x2000, &[line(g, 44)], false);
    b.add_sample(&[l2, l1], &[7, 70_000_000], &[]);
    b.add_sample(&[l1], &[3, 30_000_000], &[]);
    rustprof_profile::encode(&b.build())
}

/// Serves `body` as every response over TLS, requiring a client certificate
/// of the CA when `client_auth`; returns the port.
fn serve_tls(pki: &Pki, body: Vec<u8>, client_auth: bool) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&pki.server_cert).unwrap().map(|c| c.unwrap()).collect();
    let key = PrivateKeyDer::from_pem_file(&pki.server_key).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_file(&pki.ca).unwrap()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier).with_single_cert(chain, key).unwrap()
    } else {
        builder.with_no_client_auth().with_single_cert(chain, key).unwrap()
    };
    let config = Arc::new(config);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(tcp) = conn else { continue };
            let config = config.clone();
            let body = body.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)));
                let Ok(c) = rustls::ServerConnection::new(config) else { return };
                let mut tls = rustls::StreamOwned::new(c, tcp);
                // The request's head, up to its empty line (a failed handshake
                // ends here).
                let mut r = BufReader::new(&mut tls);
                let mut line = String::new();
                loop {
                    line.clear();
                    match r.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes());
                let _ = tls.write_all(&body);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

fn run(prog: &str, pre: &[&str], args: &[&str], tmp: &Path) -> Output {
    Command::new(prog)
        .args(pre)
        .args(args)
        .env("PPROF_TMPDIR", tmp)
        .env("TZ", "UTC")
        .env("HOME", tmp)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn profiles_over_https() {
    let dir = common::temp_dir("https");
    let pki = pki(&dir);
    let port = serve_tls(&pki, profile_bytes(), false);
    let url = format!("https://localhost:{port}/debug/pprof/heap");
    let ca = format!("-tls_ca={}", pki.ca.display());
    let rp = env!("CARGO_BIN_EXE_rustprof");

    // Verified against -tls_ca.
    let out = run(rp, &[], &["-top", &ca, &url], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let top = text(&out.stdout);
    assert!(top.contains("app::parse") && top.contains("app::handle_request"), "{top}");
    assert!(text(&out.stderr).contains(&format!("Fetching profile over HTTP from {url}")));
    // The same report as of the file itself.
    let file = dir.join("p.pb.gz");
    std::fs::write(&file, profile_bytes()).unwrap();
    let local = run(rp, &[], &["-top", file.to_str().unwrap()], &dir);
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("File:")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&top), strip(&text(&local.stdout)));

    // The system's roots do not know the test's CA: pprof's three lines
    // (fetching, the error, no source), exit 1.
    let out = run(rp, &[], &["-top", &url], &dir);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(
        err,
        format!(
            "Fetching profile over HTTP from {url}\n{url}: Get \"{url}\": tls: failed to verify certificate: \
             x509: certificate signed by unknown authority\nfailed to fetch any source profiles\n"
        )
    );

    // pprof's https+insecure: no verification.
    let insecure = url.replace("https://", "https+insecure://");
    let out = run(rp, &[], &["-top", &insecure], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(strip(&text(&out.stdout)), strip(&top));

    // Flags that go together.
    let cert = format!("-tls_cert={}", pki.client_cert.display());
    let key = format!("-tls_key={}", pki.client_key.display());
    let out = run(rp, &[], &["-top", &ca, &cert, &url], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("-tls_cert is specified, so -tls_key must also be specified"));
    let missing = format!("-tls_ca={}", dir.join("nope.pem").display());
    let out = run(rp, &[], &["-top", &missing, &url], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("could not load CA specified by -tls_ca: open "),
        "{}",
        text(&out.stderr)
    );

    // A server that wants a client certificate.
    let mport = serve_tls(&pki, profile_bytes(), true);
    let murl = format!("https://127.0.0.1:{mport}/debug/pprof/heap");
    let out = run(rp, &[], &["-top", &ca, &murl], &dir);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("remote error: tls:") && err.contains("-tls_cert and -tls_key"), "{err}");
    let out = run(rp, &[], &["-top", &ca, &cert, &key, &murl], &dir);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(strip(&text(&out.stdout)), strip(&top));

    // An http:// server spoken to in TLS.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let pport = plain.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in plain.incoming().flatten() {
            let mut c = c;
            let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let out = run(rp, &[], &["-top", &format!("https://127.0.0.1:{pport}/")], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("did not answer in TLS"), "{}", text(&out.stderr));

    // What today's pprof prints for the same fetches.
    let go = Command::new("go").arg("version").output();
    if go.is_err() {
        assert!(std::env::var_os("CI").is_none(), "go is required under CI (.ci/run installs Go 1.27.3)");
        eprintln!("skipping the comparison with go tool pprof: no go on PATH");
        return;
    }
    // Go's `go tool pprof` (cmd/pprof) fetches with its own client, which
    // takes `https+insecure` but not the -tls_* flags (google/pprof's do):
    // the CA is given to both as the system's store (SSL_CERT_FILE).
    let ca_file = pki.ca.to_str().unwrap();
    for args in [vec!["-top", url.as_str()], vec!["-top", insecure.as_str()]] {
        let ours = Command::new(rp)
            .args(&args)
            .env("PPROF_TMPDIR", &dir)
            .env("TZ", "UTC")
            .env("SSL_CERT_FILE", ca_file)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(ours.status.success(), "{args:?}: {}", text(&ours.stderr));
        let go = Command::new("go")
            .args(["tool", "pprof"])
            .args(&args)
            .env("PPROF_TMPDIR", &dir)
            .env("TZ", "UTC")
            .env("SSL_CERT_FILE", ca_file)
            .env("RUSTPROF_COMPAT", common::go_compat())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(go.status.success(), "go tool pprof {args:?}: {}", text(&go.stderr));
        assert_eq!(text(&ours.stdout), text(&go.stdout), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
