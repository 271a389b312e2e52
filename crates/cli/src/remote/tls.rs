//! TLS for fetching profiles and symbols over `https://`, as pprof's
//! transport does it: the server's certificate is verified against the
//! system's roots (read once from the system store: `/etc/ssl/certs` and
//! `SSL_CERT_FILE`/`SSL_CERT_DIR`), or only against `-tls_ca` when it is
//! given; `-tls_cert` with `-tls_key` is presented when the server asks for a
//! client certificate; `https+insecure://` skips the verification of the
//! server's certificate (its handshake signatures are still checked).
//!
//! rustls with the `ring` provider: TLS 1.2 and 1.3, no OpenSSL.

use std::net::TcpStream;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme, StreamOwned,
};

/// The files of `-tls_cert`, `-tls_key` and `-tls_ca` (empty when not given).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Files {
    /// `-tls_cert`: the client certificate chain (PEM).
    pub cert: String,
    /// `-tls_key`: its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// `-tls_ca`: the CA certificates (PEM) the server's must chain to,
    /// instead of the system's.
    pub ca: String,
}

static FILES: Mutex<Option<Files>> = Mutex::new(None);
/// The verifying and the insecure (`https+insecure`) client configurations.
type Configs = (Arc<ClientConfig>, Arc<ClientConfig>);
/// The two configurations, made at the first `https` request of the process
/// (pprof's `initOnce`), for the files set then.
static CONFIGS: OnceLock<Result<Configs, String>> = OnceLock::new();

/// Sets the files the TLS configuration is made of, before the first
/// `https` request (the command line's flags).
pub fn set_files(files: Files) {
    if let Ok(mut f) = FILES.lock() {
        *f = Some(files);
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// `(verifying, insecure)` client configurations, or pprof's error text.
fn configs() -> Result<Configs, String> {
    CONFIGS
        .get_or_init(|| {
            let files = FILES.lock().ok().and_then(|f| f.clone()).unwrap_or_default();
            make_configs(&files)
        })
        .clone()
}

fn make_configs(f: &Files) -> Result<Configs, String> {
    let client_auth = match (f.cert.is_empty(), f.key.is_empty()) {
        (true, true) => None,
        (true, false) => return Err("-tls_key is specified, so -tls_cert must also be specified".into()),
        (false, true) => return Err("-tls_cert is specified, so -tls_key must also be specified".into()),
        (false, false) => Some(load_pair(&f.cert, &f.key).map_err(|e| {
            format!("could not load certificate/key pair specified by -tls_cert and -tls_key: {e}")
        })?),
    };
    let roots = if f.ca.is_empty() {
        system_roots()?
    } else {
        let mut roots = RootCertStore::empty();
        let certs = load_certs(&f.ca).map_err(|e| format!("could not load CA specified by -tls_ca: {e}"))?;
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!("could not load CA specified by -tls_ca: {}: no usable certificate", f.ca));
        }
        roots
    };
    let builder = || {
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("tls: {e}"))
    };
    let verifying = builder()?.with_root_certificates(roots);
    let insecure =
        builder()?.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider())));
    let (verifying, insecure) = match client_auth {
        None => (verifying.with_no_client_auth(), insecure.with_no_client_auth()),
        Some((chain, key)) => (
            verifying
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| format!("could not use the -tls_cert/-tls_key pair: {e}"))?,
            insecure
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("could not use the -tls_cert/-tls_key pair: {e}"))?,
        ),
    };
    Ok((Arc::new(verifying), Arc::new(insecure)))
}

/// The certificates of a PEM file (at least one).
fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    std::fs::metadata(path).map_err(|e| format!("open {path}: {}", crate::fetch::go_io_error(&e)))?;
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no PEM certificate in the file"));
    }
    Ok(certs)
}

fn load_pair(
    cert: &str,
    key: &str,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let chain = load_certs(cert)?;
    std::fs::metadata(key).map_err(|e| format!("open {key}: {}", crate::fetch::go_io_error(&e)))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: no PEM private key ({e})"))?;
    Ok((chain, key))
}

/// The system's root certificates, read once per process.
fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found.errors.first().map(|e| format!(" ({e})")).unwrap_or_default();
        return Err(format!(
            "tls: no root certificates in the system's store{why}: install ca-certificates, or give -tls_ca"
        ));
    }
    Ok(roots)
}

/// Starts TLS on `tcp` for `host` (the handshake runs at the first write).
pub(super) fn connect(
    tcp: TcpStream,
    host: &str,
    insecure: bool,
) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
    let (verifying, no_verify) = configs()?;
    let config = if insecure { no_verify } else { verifying };
    let name =
        ServerName::try_from(host.to_string()).map_err(|_| format!("tls: invalid server name {host:?}"))?;
    let conn = ClientConnection::new(config, name).map_err(|e| format!("tls: {e}"))?;
    Ok(StreamOwned::new(conn, tcp))
}

/// What a TLS failure inside an I/O error says, in the words of Go's client
/// where it has them; `None` when the error is not TLS's.
pub(super) fn error_text(e: &std::io::Error) -> Option<String> {
    use rustls::{AlertDescription as A, CertificateError as C, Error as E};
    let tls = e.get_ref()?.downcast_ref::<E>()?;
    Some(match tls {
        E::InvalidCertificate(c) => {
            let why = match c {
                C::UnknownIssuer => "x509: certificate signed by unknown authority".to_string(),
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "x509: certificate is not valid for the host name".to_string()
                }
                C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. } => {
                    "x509: certificate has expired or is not yet valid".to_string()
                }
                other => format!("x509: {other:?}"),
            };
            format!("tls: failed to verify certificate: {why}")
        }
        E::AlertReceived(a) => {
            let what = match a {
                A::CertificateRequired => "certificate required".to_string(),
                A::BadCertificate => "bad certificate".to_string(),
                A::HandshakeFailure => "handshake failure".to_string(),
                A::UnknownCA => "unknown certificate authority".to_string(),
                other => format!("{other:?}"),
            };
            let hint = if matches!(a, A::CertificateRequired | A::BadCertificate) {
                " (the server wants a client certificate: -tls_cert and -tls_key)"
            } else {
                ""
            };
            format!("remote error: tls: {what}{hint}")
        }
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "tls: the server did not answer in TLS (is it an http:// server?)".to_string()
        }
        other => format!("tls: {other}"),
    })
}

/// `https+insecure`: any certificate is accepted; the handshake's signatures
/// are still verified with the provider's algorithms.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
