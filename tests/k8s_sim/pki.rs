//! The simulator's certificates (a CA, a server certificate for
//! `127.0.0.1`/`localhost`, a client certificate for user
//! `buildkit-lsp-test` in group `system:masters`, all made by `rcgen` at
//! start), its TLS acceptor, and the kubeconfig it writes.

use std::sync::Arc;

use base64::Engine as _;
use tokio_rustls::rustls;

use super::Auth;

/// The user name (certificate CN) of the client certificate.
pub const CLIENT_CERT_USER: &str = "buildkit-lsp-test";

pub struct SimPki {
    pub ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl SimPki {
    pub fn new() -> SimPki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "k8s-sim-ca");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut server_params = CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            "kubernetes.default.svc".to_string(),
        ])
        .expect("server params");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");

        let client_key = KeyPair::generate().expect("client key");
        let mut client_params =
            CertificateParams::new(Vec::<String>::new()).expect("client params");
        client_params
            .distinguished_name
            .push(DnType::CommonName, CLIENT_CERT_USER);
        client_params
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .expect("client certificate");

        SimPki {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    /// The TLS acceptor: the server certificate, and with
    /// [`Auth::ClientCert`] a verifier for certificates of this CA. As a real
    /// API server, a connection without a client certificate is accepted
    /// (its requests are then unauthenticated and get 401).
    pub fn acceptor(&self, auth: &Auth) -> tokio_rustls::TlsAcceptor {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = vec![
            CertificateDer::from_pem_slice(self.server_cert_pem.as_bytes()).expect("server cert"),
            CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).expect("CA cert"),
        ];
        let key =
            PrivateKeyDer::from_pem_slice(self.server_key_pem.as_bytes()).expect("server key");
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("protocol versions");
        let builder = match auth {
            Auth::ClientCert => {
                let mut roots = rustls::RootCertStore::empty();
                roots
                    .add(CertificateDer::from_pem_slice(self.ca_pem.as_bytes()).expect("CA cert"))
                    .expect("CA into store");
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .allow_unauthenticated()
                .build()
                .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
            Auth::Token(_) => builder.with_no_client_auth(),
        };
        let config = builder
            .with_single_cert(certs, key)
            .expect("server certificate and key");
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// A kubeconfig naming one cluster, user and context, all called `context`.
pub fn kubeconfig_yaml(
    url: &str,
    pki: Option<&SimPki>,
    auth: &Auth,
    namespace: &str,
    context: &str,
) -> String {
    let ca_line = match pki {
        Some(p) => format!("    certificate-authority-data: {}\n", b64(&p.ca_pem)),
        None => String::new(),
    };
    let user = match (auth, pki) {
        (Auth::Token(t), _) => format!("    token: {t}\n"),
        (Auth::ClientCert, Some(p)) => format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&p.client_cert_pem),
            b64(&p.client_key_pem)
        ),
        // start() refuses ClientCert without TLS.
        (Auth::ClientCert, None) => String::new(),
    };
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {context}\n  cluster:\n    server: {url}\n{ca_line}contexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\n    namespace: {namespace}\ncurrent-context: {context}\npreferences: {{}}\nusers:\n- name: {context}\n  user:\n{user}"
    )
}
