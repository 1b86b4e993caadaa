//! The HTTPS listener: rustls with a server certificate from the fki CA and optional client
//! certificates, serving the same axum router as the plain listener.
//!
//! - The server certificate is issued by the fki CA at start for [`crate::Config::tls_hostnames`]
//!   (default [`DEFAULT_HOSTNAMES`]: localhost, 127.0.0.1 and the KOMBIT test host names real
//!   clients hard-code) and written to `<data_dir>/tls/server.pem` for inspection.
//! - A client certificate is **optional at the handshake** so that health and docs work over
//!   HTTPS without one. When one is presented, rustls checks the proof of possession of its key
//!   (CertificateVerify) always; certificates that do not chain to the fki CA are still accepted
//!   at the handshake so that explicitly registered certificates of other CAs can be used; each
//!   connection records whether its certificate chains to the fki CA ([`ClientCert::ca_issued`]).
//!   The security-relevant endpoints decide: the STS endpoints require a registered system, and
//!   token-protected services require the holder-of-key certificate.
//! - Every request arriving over HTTPS carries a [`TlsInfo`] request extension; with a client
//!   certificate also a [`ClientCert`]. Requests on the plain listener carry neither, which is
//!   how handlers know they are not on a mutually authenticated connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Request;
use fki_sts::ca::Ca;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// The host names the server certificate covers unless configured otherwise.
pub const DEFAULT_HOSTNAMES: &[&str] = &[
    "localhost",
    "127.0.0.1",
    "n2adgangsstyring.eksterntest-stoettesystemerne.dk",
    "adgangsstyring.eksterntest-stoettesystemerne.dk",
    "exttest.serviceplatformen.dk",
    "organisation.eksterntest-stoettesystemerne.dk",
    "klassifikation.eksterntest-stoettesystemerne.dk",
    "sagsogdokumentindeks.eksterntest-stoettesystemerne.dk",
    "beskedfordeler.eksterntest-stoettesystemerne.dk",
];

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Request extension: the request arrived over the HTTPS listener.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    pub peer: SocketAddr,
}

/// Request extension: the client certificate of the TLS connection (its key was proven by the
/// handshake).
#[derive(Debug, Clone)]
pub struct ClientCert {
    /// The end-entity certificate, DER.
    pub der: Arc<Vec<u8>>,
    /// Lower-case hex SHA-256 of `der` (the registry key of systems).
    pub sha256: Arc<str>,
    /// Whether it chains to the fki root CA and is valid now.
    pub ca_issued: bool,
}

impl ClientCert {
    pub fn new(der: Vec<u8>, ca: &Ca) -> ClientCert {
        let ca_issued = ca.verify_issued(&der).is_ok();
        ClientCert {
            sha256: fki_sts::ca::fingerprint_sha256(&der).into(),
            der: Arc::new(der),
            ca_issued,
        }
    }
}

/// Accepts client certificates that chain to the fki CA, and (at the handshake) any other
/// certificate whose key the client proves; see the module docs.
#[derive(Debug)]
struct OptionalClientCert {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for OptionalClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Foreign certificates are decided on by the application (registered or not); the
        // chain result is recomputed per connection in `ClientCert::new`.
        let _ = self
            .inner
            .verify_client_cert(end_entity, intermediates, now);
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Install aws-lc-rs (the provider fki-sts uses) as the process-wide rustls provider, for every
/// rustls user that does not name one (reqwest clients in the benchmarks and tests). Idempotent.
pub fn install_crypto_provider() {
    // An error only means a provider is installed already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The rustls server configuration: a fresh server certificate from `ca` for `hostnames`.
pub fn server_config(
    ca: &Ca,
    hostnames: &[String],
    data_dir: &std::path::Path,
) -> anyhow::Result<Arc<ServerConfig>> {
    let names: Vec<&str> = hostnames.iter().map(String::as_str).collect();
    let issued = ca
        .issue_server_certificate(&names)
        .context("while issuing the TLS server certificate")?;
    let dir = data_dir.join("tls");
    if std::fs::create_dir_all(&dir).is_ok() {
        // Only the certificate (public): the key lives in memory for this run.
        let _ = std::fs::write(dir.join("server.pem"), issued.cert_pem());
    }
    let key = PrivateKeyDer::from_pem_slice(issued.key_pem().as_bytes())
        .map_err(|e| anyhow::anyhow!("TLS server key: {e}"))?;
    let mut chain = vec![CertificateDer::from(issued.cert_der().to_vec())];
    chain.extend(
        issued
            .chain_der
            .iter()
            .map(|c| CertificateDer::from(c.clone())),
    );
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.root_cert_der().to_vec()))
        .context("fki root CA as TLS trust anchor")?;
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .allow_unauthenticated()
        .build()
        .context("TLS client verifier")?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_client_cert_verifier(Arc::new(OptionalClientCert { inner }))
        .with_single_cert(chain, key)
        .context("TLS server certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serve `router` over TLS on `listener` until `shutdown` turns true; then finish in-flight
/// requests (at most 10 s).
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    ca: Arc<Ca>,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTPS accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = wait_true(&mut shutdown) => break,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let ca = ca.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let client_cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| ClientCert::new(c.as_ref().to_vec(), &ca));
            let info = TlsInfo { peer };
            let service =
                hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(info.clone());
                    if let Some(c) = &client_cert {
                        req.extensions_mut().insert(c.clone());
                    }
                    router.clone().oneshot(req.map(axum::body::Body::new))
                });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection(TokioIo::new(tls), service);
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("HTTPS connections still open after 10 s; closing");
        }
    }
    Ok(())
}

/// Resolves when `rx` turns true or its sender is gone.
pub(crate) async fn wait_true(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            // The handle is gone: stop, as the plain listener does.
            return;
        }
    }
}
