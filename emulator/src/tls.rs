//! TLS material made fresh for every emulator instance: a CA of its own (whose private key lives
//! only in memory, and only while the certificates are being made) and a serving certificate it
//! signs for `127.0.0.1`, `::1` and `localhost`. Nothing secret is ever written to disk, and two
//! emulators never trust each other's certificates.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SerialNumber,
};

/// What [`generate`] made: the CA certificate clients are told to trust, and the server side.
pub(crate) struct Material {
    pub ca_pem: String,
    pub acceptor: tokio_rustls::TlsAcceptor,
}

fn serial() -> SerialNumber {
    // Positive (high bit clear) 16-byte serial, like openssl's.
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&crate::util::random_u64().to_be_bytes());
    bytes[8..].copy_from_slice(&crate::util::random_u64().to_be_bytes());
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "kube-emulator");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// A new CA (with a unique subject, so a client trusting another instance's CA gets a plain
/// "unknown authority") and a serving certificate signed by it. Validity is rcgen's default
/// (1975 to 4096): these live only as long as the process, and test machines' clocks vary.
pub(crate) fn generate() -> Result<Material, String> {
    let id = format!("{:016x}", crate::util::random_u64());
    let ca_key = KeyPair::generate().map_err(|e| format!("CA key: {e}"))?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = name(&format!("kube-emulator CA {id}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca.serial_number = Some(serial());
    let ca_cert = ca.self_signed(&ca_key).map_err(|e| format!("CA certificate: {e}"))?;
    let issuer = Issuer::new(ca, &ca_key);

    let server_key = KeyPair::generate().map_err(|e| format!("server key: {e}"))?;
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_string(), "::1".to_string(), "localhost".to_string()])
        .map_err(|e| format!("server names: {e}"))?;
    server.distinguished_name = name(&format!("kube-emulator {id}"));
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.use_authority_key_identifier_extension = true;
    server.serial_number = Some(serial());
    let server_cert = server.signed_by(&server_key, &issuer).map_err(|e| format!("server certificate: {e}"))?;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .map_err(|e| e.to_string())?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Material { ca_pem: ca_cert.pem(), acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(cfg)) })
}

/// A throwaway client certificate and its private key (PEM), self-signed: tests put them in a
/// kubeconfig to prove that key material never reaches output or logs. The emulator does not ask
/// clients for certificates, so they are loaded by the client but never used.
pub fn client_identity_pem() -> Result<(String, String), String> {
    let key = KeyPair::generate().map_err(|e| format!("client key: {e}"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(&format!("kube-emulator client {:016x}", crate::util::random_u64()));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.serial_number = Some(serial());
    let cert = params.self_signed(&key).map_err(|e| format!("client certificate: {e}"))?;
    Ok((cert.pem(), key.serialize_pem()))
}
