//! Loopback TLS for the tests: a root made at test time, certificates it signs (for any name,
//! with any validity), and a TLS server that answers HTTP requests, counts them, and can
//! misbehave the ways a network does.

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A test root and what it signs.
pub struct Root {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// A certificate and its key, for the server.
pub struct Leaf {
    pub cert: CertificateDer<'static>,
    pub key: PrivateKeyDer<'static>,
}

impl Root {
    pub fn new() -> Root {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Root {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap(),
        }
    }

    /// The root as PEM, for `LEADMAGIC_CA_FILE`.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `name`; `expired` puts its validity in 2020.
    pub fn leaf(&self, name: &str, expired: bool) -> Leaf {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.der().clone(),
            key: PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        }
    }
}

/// How the server behaves.
#[derive(Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// Answers each request with `body` (JSON).
    Answer,
    /// Speaks plain HTTP on the TLS port: the handshake fails.
    NotTls,
    /// Counts the request, sends the head and the start of a long body, then resets.
    ResetMidBody,
}

/// A TLS server on loopback; returns its port and the count of requests it read whole.
pub async fn serve(
    leaf: Leaf,
    behaviour: Behaviour,
    body: &'static str,
) -> (u16, Arc<AtomicUsize>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.cert], leaf.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                if behaviour == Behaviour::NotTls {
                    let mut first = [0u8; 64];
                    let _ = socket.read(&mut first).await;
                    let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                    return;
                }
                let Ok(tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut tls = BufReader::new(tls);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if tls.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut request_body = vec![0; length];
                let _ = tls.read_exact(&mut request_body).await;
                count.fetch_add(1, Ordering::SeqCst);
                let mut tls = tls.into_inner();
                if behaviour == Behaviour::ResetMidBody {
                    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n";
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(&body.as_bytes()[..body.len().min(10)]).await;
                    let _ = tls.flush().await;
                    // A reset, not a clean close: no close_notify, linger 0.
                    let _ = tls.get_ref().0.set_zero_linger();
                    return;
                }
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, requests)
}
