//! Each emulator generates its own CA and serving certificate at start: a TLS client trusting an
//! instance's CA completes the handshake with it (for every name in the certificate) and is
//! refused by any other instance.

use std::sync::Arc;

use base64::Engine;

use kube_emulator::Emulator;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client_trusting(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("the CA is one PEM certificate");
    roots.add(ca).expect("the CA is a valid trust anchor");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// Handshake with `emu` as `name`, then `GET /healthz`; the status line, or the TLS error.
async fn healthz(connector: &tokio_rustls::TlsConnector, emu: &Emulator, name: &str) -> Result<String, String> {
    let tcp = tokio::net::TcpStream::connect(emu.addr()).await.map_err(|e| e.to_string())?;
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let mut tls = connector.connect(server_name, tcp).await.map_err(|e| e.to_string())?;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    Ok(String::from_utf8_lossy(&out).lines().next().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_instance_has_its_own_ca_and_refuses_clients_trusting_another() {
    let a = Emulator::start().await.unwrap();
    let b = Emulator::start().await.unwrap();
    let (ca_a, ca_b) = (a.ca_certificate_pem(), b.ca_certificate_pem());
    assert!(ca_a.starts_with("-----BEGIN CERTIFICATE-----"), "{ca_a}");
    assert_ne!(ca_a, ca_b, "two instances share a CA");
    // the kubeconfig carries this instance's CA
    let kubeconfig = a.kubeconfig_yaml(None);
    let b64 = kubeconfig.lines().find_map(|l| l.trim().strip_prefix("certificate-authority-data: ")).unwrap();
    assert!(kubeconfig.contains(&format!("server: {}", a.url())));
    assert_eq!(b64, base64::engine::general_purpose::STANDARD.encode(ca_a));

    let trusts_a = client_trusting(ca_a);
    let trusts_b = client_trusting(ca_b);
    // Every name of the serving certificate (the TLS name check does not look at the address
    // connected to, so `::1` is checked over 127.0.0.1 too).
    for name in ["127.0.0.1", "::1", "localhost"] {
        assert_eq!(healthz(&trusts_a, &a, name).await.as_deref(), Ok("HTTP/1.1 200 OK"), "A trusts A as {name}");
        assert_eq!(healthz(&trusts_b, &b, name).await.as_deref(), Ok("HTTP/1.1 200 OK"), "B trusts B as {name}");
    }
    // A name the certificate does not carry is refused even with the right CA.
    let err = healthz(&trusts_a, &a, "example.com").await.unwrap_err();
    assert!(err.contains("NotValidForName") || err.contains("not valid for"), "{err}");
    // Crossed: each client is refused by the other instance, as an unknown issuer.
    for (client, server) in [(&trusts_a, &b), (&trusts_b, &a)] {
        let err = healthz(client, server, "127.0.0.1").await.unwrap_err();
        assert!(err.contains("UnknownIssuer"), "{err}");
    }
    // The plain-HTTP side of the port is unaffected.
    assert!(a.http_url().starts_with("http://127.0.0.1:"));
}

#[test]
fn write_ca_certificate_writes_the_pem() {
    let emu = Emulator::start_blocking().unwrap();
    let dir = std::env::temp_dir().join(format!("kube-emulator-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ca.pem");
    emu.write_ca_certificate(&path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(written, emu.ca_certificate_pem());
    assert_eq!(CertificateDer::pem_slice_iter(written.as_bytes()).count(), 1);
}
