//! A push receiver for tests: it records every request and replies with a scripted status.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    /// HTTP method.
    pub method: Method,
    /// Request path.
    pub path: String,
    /// Request headers.
    pub headers: HeaderMap,
    /// The body, gunzipped when `Content-Encoding: gzip` was set.
    pub body: String,
}

/// The receiver's reply to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// This status with a short plain-text body.
    Status(u16),
    /// No reply until the client gives up.
    Hang,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Answer>,
    fallback: Option<Answer>,
    received: Vec<Received>,
}

/// A running receiver on 127.0.0.1; it stops when the test's runtime ends.
#[derive(Clone)]
pub struct Receiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl Receiver {
    /// Starts a receiver that replies 200 unless scripted otherwise.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the receiver");
        });
        Self { addr, inner }
    }

    /// Returns the base URL, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replies to the next requests with `answers`, in order, then with the fallback.
    pub fn script(&self, answers: &[Answer]) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    /// Replies with `answer` to every request that has no scripted answer (200 at start).
    pub fn answer_with(&self, answer: Answer) {
        self.inner.lock().unwrap().fallback = Some(answer);
    }

    /// Returns the requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Waits until at least `count` requests arrived.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "got {} requests, expected {count} within {timeout:?}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let gzipped = headers
        .get("content-encoding")
        .is_some_and(|value| value == "gzip");
    let body = if gzipped {
        koji_metrics::gzip::gunzip_limited(&body, 16 << 20).expect("gzip body")
    } else {
        body.to_vec()
    };
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received {
            method,
            path: uri.path().to_string(),
            headers,
            body: String::from_utf8(body).expect("UTF-8 body"),
        });
        inner
            .script
            .pop_front()
            .or(inner.fallback)
            .unwrap_or(Answer::Status(200))
    };

    match answer {
        Answer::Status(code) => {
            let status = StatusCode::from_u16(code).expect("valid status");
            (status, format!("answer {code} from the test receiver\n")).into_response()
        }
        Answer::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::OK.into_response()
        }
    }
}
