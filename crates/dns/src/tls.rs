//! TLS for the encrypted transports, rustls with the ring provider only:
//! the listeners' certificate (re-read on reload), the trust roots for
//! DoT/DoH upstreams and list downloads, and the DoT client-id rule.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// ALPN protocol ids.
pub mod alpn {
    /// HTTP/2.
    pub const H2: &[u8] = b"h2";
    /// HTTP/1.1.
    pub const HTTP11: &[u8] = b"http/1.1";
    /// DNS-over-TLS (RFC 7858 registers `dot`).
    pub const DOT: &[u8] = b"dot";
}

/// Errors reading certificates and keys.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The key does not fit the certificate, or rustls refused them.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// Encrypted listeners without `tls_cert` / `tls_key`.
    #[error("[dns] tls_listen / https_listen need tls_cert and tls_key")]
    MissingCertificate,
}

/// The ring crypto provider (the only one built in).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Every certificate in a PEM file (a chain, or a CA bundle).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::File {
            path: path.to_path_buf(),
            message: format!("not a PEM certificate file: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::File {
            path: path.to_path_buf(),
            message: "no CERTIFICATE in the file".into(),
        });
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::File {
        path: path.to_path_buf(),
        message: format!("no usable PRIVATE KEY: {e}"),
    })
}

/// The listeners' certificate chain and key; [`CertStore::reload`] swaps
/// them for new handshakes without touching open connections.
#[derive(Debug)]
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: ArcSwap<CertifiedKey>,
}

impl CertStore {
    /// Reads a PEM chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<CertStore>, TlsError> {
        let key = Self::read_pair(cert_path, key_path)?;
        Ok(Arc::new(CertStore {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            current: ArcSwap::from_pointee(key),
        }))
    }

    fn read_pair(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
        let chain = read_certs(cert_path)?;
        let key = read_key(key_path)?;
        Ok(CertifiedKey::from_der(chain, key, &provider())?)
    }

    /// Re-reads both files; on error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = Self::read_pair(&self.cert_path, &self.key_path)?;
        self.current.store(Arc::new(key));
        Ok(())
    }

    /// A server configuration offering `alpn` and this store's certificate.
    pub fn server_config(self: &Arc<Self>, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
        let mut cfg = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(cfg))
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// Trust for outgoing TLS (DoT/DoH upstreams, list downloads): the system's
/// roots (`/etc/ssl/certs` and the other places `rustls-native-certs` reads,
/// loaded on first use) plus an optional private CA file.
#[derive(Debug, Default)]
pub struct ClientTls {
    extra: Vec<CertificateDer<'static>>,
    roots: OnceLock<Arc<RootCertStore>>,
}

impl ClientTls {
    /// System roots plus every certificate in `ca_file`.
    pub fn new(ca_file: Option<&Path>) -> Result<ClientTls, TlsError> {
        let extra = match ca_file {
            Some(p) => read_certs(p)?,
            None => Vec::new(),
        };
        Ok(ClientTls {
            extra,
            roots: OnceLock::new(),
        })
    }

    fn roots(&self) -> Arc<RootCertStore> {
        self.roots
            .get_or_init(|| {
                let mut store = RootCertStore::empty();
                let native = rustls_native_certs::load_native_certs();
                for e in native.errors.iter().take(3) {
                    tracing::debug!(error = %e, "system trust store");
                }
                let (ok, bad) = store.add_parsable_certificates(native.certs);
                let (extra_ok, extra_bad) = store.add_parsable_certificates(self.extra.iter().cloned());
                if extra_bad > 0 {
                    tracing::warn!(
                        unusable = extra_bad,
                        "upstream_ca_file: certificates not usable as roots"
                    );
                }
                tracing::debug!(system = ok, system_unusable = bad, extra = extra_ok, "TLS roots loaded");
                Arc::new(store)
            })
            .clone()
    }

    /// A client configuration offering `alpn`.
    pub fn config(&self, alpn: &[&[u8]]) -> Result<Arc<ClientConfig>, TlsError> {
        let mut cfg = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(self.roots())
            .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(cfg))
    }
}

/// The client id a DoT client asks for through its SNI.
///
/// With `server_name` (`[dns] tls_server_name`, e.g. `dns.example.org`) the
/// SNI must be `ID.dns.example.org`, exactly one label more; anything else
/// carries no id. Without it, the SNI's first label is offered as the id
/// when the SNI has at least two labels; the resolver uses it only if it is
/// some group's `client_ids` entry, else the client's address decides.
pub fn sni_client_id(sni: Option<&str>, server_name: Option<&str>) -> Option<String> {
    let sni = sni?.trim_end_matches('.').to_ascii_lowercase();
    let (first, rest) = sni.split_once('.')?;
    if first.is_empty() {
        return None;
    }
    match server_name {
        Some(base) if !rest.eq_ignore_ascii_case(base.trim_end_matches('.')) => None,
        _ => Some(first.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::sni_client_id;

    #[test]
    fn sni_client_ids() {
        let base = Some("dns.example.org");
        assert_eq!(
            sni_client_id(Some("kids.dns.example.org"), base).as_deref(),
            Some("kids")
        );
        assert_eq!(
            sni_client_id(Some("KIDS.dns.example.org."), base).as_deref(),
            Some("kids")
        );
        assert_eq!(sni_client_id(Some("dns.example.org"), base), None);
        assert_eq!(sni_client_id(Some("a.b.dns.example.org"), base), None);
        assert_eq!(sni_client_id(Some("kids.other.example"), base), None);
        assert_eq!(sni_client_id(Some("kids.anything.test"), None).as_deref(), Some("kids"));
        assert_eq!(sni_client_id(Some("localhost"), None), None);
        assert_eq!(sni_client_id(None, None), None);
    }
}
