//! A throwaway certificate authority made at run time with rcgen: server
//! and client certificates with SPIFFE URI SANs, as PEM. Shared by the
//! `secure` example and the TLS tests; real deployments get certificates
//! from their PKI (SPIRE, a CA service) instead.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};

/// A certificate chain (leaf only) and its private key, in PEM.
pub(crate) struct Identity {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

/// A certificate authority.
pub(crate) struct Ca {
    pub(crate) cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub(crate) fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("ca key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("ca cert");
        Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1, identified as
    /// `spiffe_id`.
    pub(crate) fn server(&self, spiffe_id: &str) -> Identity {
        self.leaf(spiffe_id, true, None)
    }

    /// A client certificate identified as `spiffe_id`.
    pub(crate) fn client(&self, spiffe_id: &str) -> Identity {
        self.leaf(spiffe_id, false, None)
    }

    /// A client certificate identified as `spiffe_id` that is valid until
    /// `not_after` (whole seconds after the epoch), not for years.
    #[allow(dead_code)] // the tests use it, the example does not
    pub(crate) fn client_until(&self, spiffe_id: &str, not_after: u64) -> Identity {
        self.leaf(spiffe_id, false, Some(not_after))
    }

    fn leaf(&self, spiffe_id: &str, server: bool, not_after: Option<u64>) -> Identity {
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        if let Some(seconds) = not_after {
            let seconds = i64::try_from(seconds).expect("a time rcgen can write");
            params.not_after =
                time::OffsetDateTime::from_unix_timestamp(seconds).expect("a valid time");
        }
        params
            .distinguished_name
            .push(DnType::CommonName, spiffe_id);
        params.subject_alt_names = vec![SanType::URI(spiffe_id.try_into().expect("uri"))];
        if server {
            params
                .subject_alt_names
                .push(SanType::DnsName("localhost".try_into().expect("dns")));
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        } else {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let cert = params.signed_by(&key, &self.issuer).expect("leaf cert");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}
