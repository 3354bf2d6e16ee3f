//! What a finished TLS handshake proved: the protocol, the peer's
//! identity, and the channel binding.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::CertificateDer;
use rustls::{CommonState, ProtocolVersion};
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::link::ChannelBinding;

/// RFC 9266's exporter label for TLS 1.3 channel bindings.
pub(crate) const BINDING_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

pub(super) struct Facts {
    pub(super) peer_identity: Option<String>,
    /// The earliest `notAfter` of the peer's chain.
    pub(super) peer_expiry: Option<SystemTime>,
    pub(super) binding: ChannelBinding,
}

/// Checks the version and ALPN of a finished handshake and reads what it
/// proved. `alpn` is the protocol the peer must have agreed to, when the
/// link requires one (a WebSocket link checks its own subprotocol instead).
pub(super) fn facts(stream: &TlsStream<TcpStream>, alpn: Option<&[u8]>) -> io::Result<Facts> {
    let mut binding = [0u8; 32];
    let (common, exported) = match stream {
        TlsStream::Client(s) => {
            let conn = s.get_ref().1;
            let exported = conn.export_keying_material(&mut binding, BINDING_LABEL, None);
            let common: &CommonState = conn;
            (common, exported.map(|_| ()))
        }
        TlsStream::Server(s) => {
            let conn = s.get_ref().1;
            let exported = conn.export_keying_material(&mut binding, BINDING_LABEL, None);
            let common: &CommonState = conn;
            (common, exported.map(|_| ()))
        }
    };
    if common.protocol_version() != Some(ProtocolVersion::TLSv1_3) {
        return Err(refused("the peer did not negotiate TLS 1.3"));
    }
    if let Some(alpn) = alpn
        && common.alpn_protocol() != Some(alpn)
    {
        return Err(refused(&format!(
            "the peer did not negotiate the {} ALPN protocol",
            String::from_utf8_lossy(alpn)
        )));
    }
    exported.map_err(|e| refused(&format!("cannot export the channel binding: {e}")))?;
    let chain = common.peer_certificates().unwrap_or_default();
    let peer_identity = chain.first().and_then(identity_of);
    let peer_expiry = chain.iter().filter_map(expiry_of).min();
    Ok(Facts {
        peer_identity,
        peer_expiry,
        binding: ChannelBinding(binding),
    })
}

/// A certificate's identity: its URI SAN (a SPIFFE id), when it has
/// exactly one. A DNS name is never taken for an identity (a DNS SAN could
/// spell `spiffe://…`), and several URI SANs make none (SPIFFE allows one).
pub(crate) fn identity_of(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let names = cert.subject_alternative_name().ok()??.value;
    let mut uris = names.general_names.iter().filter_map(|name| match name {
        GeneralName::URI(uri) => Some(*uri),
        _ => None,
    });
    match (uris.next(), uris.next()) {
        (Some(uri), None) => Some(uri.to_owned()),
        _ => None,
    }
}

/// When a certificate stops being valid (its `notAfter`); `None` if it
/// cannot be read (the handshake verified it, so it can) or lies before
/// 1970.
pub(crate) fn expiry_of(cert: &CertificateDer<'_>) -> Option<SystemTime> {
    let (_, cert) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let seconds = u64::try_from(cert.validity().not_after.timestamp()).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

pub(crate) fn refused(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, message.to_owned())
}
