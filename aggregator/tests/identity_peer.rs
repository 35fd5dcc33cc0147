//! The loopback rule through the HTTP handlers, with the peer address injected: without a
//! configured credential only loopback peers may push or delete.

mod push_support;

use std::sync::Arc;

use axum::extract::connect_info::MockConnectInfo;
use koji_aggregator::identity::{Authenticator, PeerInfo};
use koji_aggregator::push::{Limits, PushState, Store, router};
use push_support::send;
use reqwest::Method;
use tokio::net::TcpListener;

/// Serves the push API as if every request came from `peer`, and returns its URL and store.
async fn serve_as(peer: &str) -> (String, Arc<Store>) {
    let store = Arc::new(Store::new(Limits::default()));
    let peer = PeerInfo::new(peer.parse().expect("a socket address"));
    let app = router(PushState::new(store.clone(), Authenticator::default()))
        .layer(MockConnectInfo(peer));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (url, store)
}

#[tokio::test]
async fn remote_peers_rejected_without_credentials() {
    let client = push_support::client();
    for peer in [
        "192.0.2.7:40000",
        "[2001:db8::7]:40000",
        "[::ffff:192.0.2.7]:40000",
    ] {
        let (url, store) = serve_as(peer).await;
        let group = format!("{url}/metrics/job/agent/instance/b1");

        for method in [Method::PUT, Method::POST, Method::DELETE] {
            let (status, message) =
                send(&client, method.clone(), &group, &[], b"a 1\n".to_vec()).await;
            assert_eq!(status, 403, "{method} from {peer}: {message}");
            assert!(message.contains("only loopback peers"), "{message}");
            assert!(message.contains("push.token_secret_files"), "{message}");
        }
        assert!(store.is_empty(), "a push from {peer} reached the store");
    }
}

#[tokio::test]
async fn loopback_peers_accepted_without_credentials() {
    let client = push_support::client();
    for peer in [
        "127.0.0.1:40000",
        "127.1.2.3:40000",
        "[::1]:40000",
        "[::ffff:127.0.0.1]:40000",
    ] {
        let (url, store) = serve_as(peer).await;
        let group = format!("{url}/metrics/job/agent/instance/b1");

        let (status, message) = send(&client, Method::PUT, &group, &[], b"a 1\n".to_vec()).await;
        assert_eq!(status, 200, "PUT from {peer}: {message}");
        assert_eq!(store.len(), 1);
        let (status, message) = send(&client, Method::DELETE, &group, &[], Vec::new()).await;
        assert_eq!(status, 202, "DELETE from {peer}: {message}");
        assert!(store.is_empty());
    }
}
