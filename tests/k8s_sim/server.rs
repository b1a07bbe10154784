//! The listener: accepts TCP connections, terminates TLS when configured
//! (noting whether the client presented a certificate of our CA), and serves
//! HTTP/1.1 with upgrades (pod exec) through hyper.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper_util::rt::TokioIo;

use super::store::Shared;

/// Every response body: a full JSON document or a watch stream.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// What the connection says about the client.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// The client presented a certificate signed by the simulator's CA.
    pub client_cert: bool,
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(a) => {
                    // A failed handshake is the client's problem; it sees the alert.
                    let Ok(tls) = a.accept(tcp).await else {
                        return;
                    };
                    let info = ConnInfo {
                        client_cert: tls.get_ref().1.peer_certificates().is_some(),
                    };
                    serve_conn(tls, info, shared).await;
                }
                None => serve_conn(tcp, ConnInfo::default(), shared).await,
            }
        });
    }
}

async fn serve_conn<S>(io: S, info: ConnInfo, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let info = info.clone();
        async move { Ok::<_, std::convert::Infallible>(super::api::handle(shared, info, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
}
