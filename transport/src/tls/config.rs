//! [`ServerTls`] and [`ClientTls`]: TLS 1.3 configurations from PEM.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::ALPN_PROTOCOL;

/// A TLS configuration could not be made: unreadable PEM, a key that does
/// not match its certificate, an empty set of roots.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsConfigError(String);

impl TlsConfigError {
    pub(crate) fn new(message: impl Into<String>) -> TlsConfigError {
        TlsConfigError(message.into())
    }
}

/// A server's TLS: its certificate chain and key, and whether (and by which
/// roots) clients must present certificates.
///
/// `Debug` shows whether TLS is mutual, never key material.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
    mutual: bool,
}

impl ServerTls {
    /// TLS with the certificate chain and private key in `cert_chain_pem`
    /// and `key_pem`; clients present no certificate.
    ///
    /// # Errors
    ///
    /// The PEM holds no certificate or no key, or the key does not match.
    pub fn from_pem(cert_chain_pem: &[u8], key_pem: &[u8]) -> Result<ServerTls, TlsConfigError> {
        let (chain, key) = (certificates(cert_chain_pem)?, private_key(key_pem)?);
        let config = server_builder()?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| TlsConfigError::new(format!("the server certificate: {e}")))?;
        Ok(ServerTls::from_rustls(Arc::new(config), false))
    }

    /// Mutual TLS: as [`ServerTls::from_pem`], and every client must present
    /// a certificate that chains to one of `client_roots_pem`.
    ///
    /// # Errors
    ///
    /// As [`ServerTls::from_pem`], or the roots are empty or unreadable.
    pub fn mutual_from_pem(
        cert_chain_pem: &[u8],
        key_pem: &[u8],
        client_roots_pem: &[u8],
    ) -> Result<ServerTls, TlsConfigError> {
        let (chain, key) = (certificates(cert_chain_pem)?, private_key(key_pem)?);
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots(client_roots_pem)?),
            provider(),
        )
        .build()
        .map_err(|e| TlsConfigError::new(format!("the client roots: {e}")))?;
        let config = server_builder()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(|e| TlsConfigError::new(format!("the server certificate: {e}")))?;
        Ok(ServerTls::from_rustls(Arc::new(config), true))
    }

    /// A rustls configuration of your own (a SPIFFE workload API verifier,
    /// a key in an HSM). Set `mutual` when it requires client certificates.
    /// Prism adds its ALPN protocol when the configuration names none, and
    /// refuses any connection that does not negotiate TLS 1.3.
    pub fn from_rustls(mut config: Arc<ServerConfig>, mutual: bool) -> ServerTls {
        if config.alpn_protocols.is_empty() {
            Arc::make_mut(&mut config).alpn_protocols = vec![ALPN_PROTOCOL.to_vec()];
        }
        ServerTls { config, mutual }
    }

    /// Whether clients must present certificates.
    pub fn is_mutual(&self) -> bool {
        self.mutual
    }

    pub(crate) fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }

    /// The same configuration offering only `alpn` (a `wss://` listener
    /// speaks HTTP/1.1 first, as browsers expect).
    pub(crate) fn config_with_alpn(&self, alpn: &[u8]) -> Arc<ServerConfig> {
        let mut config = Arc::clone(&self.config);
        Arc::make_mut(&mut config).alpn_protocols = vec![alpn.to_vec()];
        config
    }
}

impl core::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerTls")
            .field("mutual", &self.mutual)
            .finish_non_exhaustive()
    }
}

/// A client's TLS: the roots it trusts for servers, and its own certificate
/// for mutual TLS.
///
/// `Debug` shows whether it presents a certificate, never key material.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// TLS trusting the roots in `roots_pem`, presenting no certificate.
    ///
    /// # Errors
    ///
    /// The roots are empty or unreadable.
    pub fn from_pem(roots_pem: &[u8]) -> Result<ClientTls, TlsConfigError> {
        let config = client_builder()?
            .with_root_certificates(roots(roots_pem)?)
            .with_no_client_auth();
        Ok(ClientTls::from_rustls(Arc::new(config)))
    }

    /// Mutual TLS: trusting `roots_pem`, presenting the certificate chain
    /// and key in `cert_chain_pem` and `key_pem`.
    ///
    /// # Errors
    ///
    /// Unreadable PEM, or a key that does not match.
    pub fn mutual_from_pem(
        roots_pem: &[u8],
        cert_chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<ClientTls, TlsConfigError> {
        let (chain, key) = (certificates(cert_chain_pem)?, private_key(key_pem)?);
        let config = client_builder()?
            .with_root_certificates(roots(roots_pem)?)
            .with_client_auth_cert(chain, key)
            .map_err(|e| TlsConfigError::new(format!("the client certificate: {e}")))?;
        Ok(ClientTls::from_rustls(Arc::new(config)))
    }

    /// A rustls configuration of your own. Prism adds its ALPN protocol
    /// when the configuration names none, and refuses any connection that
    /// does not negotiate TLS 1.3.
    pub fn from_rustls(mut config: Arc<ClientConfig>) -> ClientTls {
        if config.alpn_protocols.is_empty() {
            Arc::make_mut(&mut config).alpn_protocols = vec![ALPN_PROTOCOL.to_vec()];
        }
        ClientTls { config }
    }

    /// The same configuration offering only `alpn`.
    pub(crate) fn config_with_alpn(&self, alpn: &[u8]) -> Arc<ClientConfig> {
        let mut config = Arc::clone(&self.config);
        Arc::make_mut(&mut config).alpn_protocols = vec![alpn.to_vec()];
        config
    }

    pub(crate) fn config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }
}

impl core::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientTls")
            .field(
                "presents_certificate",
                &self.config.client_auth_cert_resolver.has_certs(),
            )
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn server_builder()
-> Result<rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier>, TlsConfigError> {
    ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsConfigError::new(format!("TLS 1.3: {e}")))
}

fn client_builder()
-> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>, TlsConfigError> {
    ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsConfigError::new(format!("TLS 1.3: {e}")))
}

fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::new(format!("cannot read the certificates: {e}")))?;
    if chain.is_empty() {
        return Err(TlsConfigError::new("the PEM holds no certificate"));
    }
    Ok(chain)
}

fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsConfigError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|_| TlsConfigError::new("the PEM holds no readable private key"))
}

fn roots(pem: &[u8]) -> Result<RootCertStore, TlsConfigError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(pem)? {
        store
            .add(cert)
            .map_err(|e| TlsConfigError::new(format!("a root certificate: {e}")))?;
    }
    Ok(store)
}
