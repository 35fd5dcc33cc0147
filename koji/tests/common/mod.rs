//! A replay server for captured hub traffic, and small raw HTTP servers for broken replies.
//!
//! The captures in `tests/wire` come from a real Koji 1.35.3 hub. The replay server replies to
//! each request with a capture's status line, headers and body. Header lines are sent with
//! CRLF endings, and `Content-Length` is set to the body's real length because one capture's
//! body was edited after it was recorded.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dxr::{MethodCall, Value};
use koji::{Client, ClientBuilder, RetryPolicy};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// The directory of the captures.
pub fn wire_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wire")
}

/// One captured exchange.
#[derive(Clone, Debug)]
pub struct Capture {
    /// File name without extension, such as `listHosts`.
    pub name: String,
    /// The request, parsed, when the capture has one.
    pub request: Option<(String, Vec<Value>)>,
    /// The full HTTP response: status line, headers, blank line, body.
    pub response: Vec<u8>,
    /// Whether the captured headers ask to close the connection.
    pub close: bool,
}

/// Parses a methodCall document into name and params, panicking with the document's start.
pub fn parse_request(xml: &str) -> (String, Vec<Value>) {
    let call = MethodCall::from_xml(xml)
        .unwrap_or_else(|_| panic!("not a methodCall: {}", koji::excerpt(xml)));
    (call.name.to_string(), call.params)
}

/// Builds an HTTP response from a header block (status line and headers, LF or CRLF) and a
/// body, replacing any `Content-Length` by the body's length.
pub fn http_response(headers: &str, body: &[u8]) -> (Vec<u8>, bool) {
    let mut head = String::new();
    let mut close = false;
    for line in headers.lines().filter(|line| !line.trim().is_empty()) {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("content-length:") {
            continue;
        }
        if lower.starts_with("connection:") && lower.contains("close") {
            close = true;
        }
        head.push_str(line.trim_end());
        head.push_str("\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));

    let mut response = head.into_bytes();
    response.extend_from_slice(body);
    (response, close)
}

/// Loads capture `name` from `tests/wire`.
pub fn load_capture(name: &str) -> Capture {
    let dir = wire_dir();
    let headers = std::fs::read_to_string(dir.join(format!("{name}.headers")))
        .unwrap_or_else(|error| panic!("read {name}.headers: {error}"));
    let body = std::fs::read(dir.join(format!("{name}.response.xml")))
        .or_else(|_| std::fs::read(dir.join(format!("{name}.response"))))
        .unwrap_or_else(|error| panic!("read the response body of {name}: {error}"));
    let request = std::fs::read_to_string(dir.join(format!("{name}.request.xml")))
        .ok()
        .map(|xml| parse_request(&xml));
    let (response, close) = http_response(&headers, &body);

    Capture {
        name: name.to_string(),
        request,
        response,
        close,
    }
}

/// Names of all captures (each `*.headers` file).
pub fn capture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(wire_dir())
        .expect("read tests/wire")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".headers").map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// How the server picks its reply.
#[derive(Clone)]
enum Mode {
    /// Always this response.
    Fixed(Vec<u8>, bool),
    /// The capture whose request equals the received one (method and params).
    Route(Vec<Capture>),
    /// These responses in order; the last one repeats.
    Sequence(Arc<Vec<(Vec<u8>, bool)>>, Arc<Mutex<usize>>),
    /// Raw bytes, then the connection is closed.
    RawThenClose(Vec<u8>),
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The body, as text.
    pub body: String,
    /// The capture sent in reply (route mode).
    pub served: Option<String>,
}

/// A replay server on 127.0.0.1; stops when dropped.
pub struct Replay {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Replay {
    /// Replies to every request with capture `name`.
    pub async fn capture(name: &str) -> Self {
        let capture = load_capture(name);
        Self::start(Mode::Fixed(capture.response, capture.close)).await
    }

    /// Replies to every request with `headers` (LF or CRLF lines) and `body`.
    pub async fn fixed(headers: &str, body: &[u8]) -> Self {
        let (response, close) = http_response(headers, body);
        Self::start(Mode::Fixed(response, close)).await
    }

    /// Replies to the requests with `responses` (header block and body) in order; the last one
    /// repeats.
    pub async fn sequence(responses: &[(&str, &[u8])]) -> Self {
        let responses = responses
            .iter()
            .map(|(headers, body)| http_response(headers, body))
            .collect();
        Self::start(Mode::Sequence(Arc::new(responses), Arc::new(Mutex::new(0)))).await
    }

    /// Reads each request, sends `bytes` as they are and closes the connection.
    pub async fn raw_then_close(bytes: &[u8]) -> Self {
        Self::start(Mode::RawThenClose(bytes.to_vec())).await
    }

    /// Replies to each request with the capture whose request has the same method and params,
    /// and with HTTP 404 naming the request when none matches.
    pub async fn all_captures() -> Self {
        let captures = capture_names()
            .iter()
            .map(|name| load_capture(name))
            .filter(|capture| capture.request.is_some())
            .collect();
        Self::start(Mode::Route(captures)).await
    }

    /// Serves capture `name` over TLS with `config`; `url()` starts with `https://`.
    pub async fn capture_tls(name: &str, config: Arc<tokio_rustls::rustls::ServerConfig>) -> Self {
        let capture = load_capture(name);
        let mode = Mode::Fixed(capture.response, capture.close);
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!(
            "https://{}/kojihub",
            listener.local_addr().expect("local address")
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let acceptor = tokio_rustls::TlsAcceptor::from(config);

        let log = Arc::clone(&received);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let mode = mode.clone();
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    // A failed handshake is what the client-side tests look for.
                    if let Ok(stream) = acceptor.accept(stream).await {
                        serve_connection(stream, mode, log).await;
                    }
                });
            }
        });
        Self {
            url,
            received,
            task,
        }
    }

    async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!(
            "http://{}/kojihub",
            listener.local_addr().expect("local address")
        );
        let received = Arc::new(Mutex::new(Vec::new()));

        let log = Arc::clone(&received);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve_connection(stream, mode.clone(), Arc::clone(&log)));
            }
        });
        Self {
            url,
            received,
            task,
        }
    }

    /// The hub URL of this server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A client for this server without retries.
    pub fn client(&self) -> Client {
        ClientBuilder::new(&self.url)
            .retry(RetryPolicy::none())
            .call_timeout(Duration::from_secs(10))
            .build()
            .expect("client for the replay server")
    }

    /// The requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("request log").clone()
    }

    /// The last request received, parsed.
    pub fn last_request(&self) -> (String, Vec<Value>) {
        let received = self.received();
        let last = received.last().expect("the server received a request");
        parse_request(&last.body)
    }
}

/// Reads one HTTP request (head and `Content-Length` body); `None` at end of stream.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break position + 4;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };

    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    Some(buffer[head_end..head_end + length].to_vec())
}

/// Answers the requests of one connection as `mode` says and logs them.
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    mode: Mode,
    log: Arc<Mutex<Vec<Received>>>,
) {
    while let Some(body) = read_request(&mut stream).await {
        let body = String::from_utf8_lossy(&body).into_owned();
        let (response, close, served) = match &mode {
            Mode::Fixed(response, close) => (response.clone(), *close, None),
            Mode::Route(captures) => route(captures, &body),
            Mode::Sequence(responses, next) => {
                let mut next = next.lock().expect("sequence position");
                let (response, close) = responses[(*next).min(responses.len() - 1)].clone();
                *next += 1;
                (response, close, None)
            }
            Mode::RawThenClose(bytes) => (bytes.clone(), true, None),
        };
        log.lock()
            .expect("request log")
            .push(Received { body, served });

        if stream.write_all(&response).await.is_err() || close {
            return;
        }
    }
}

fn route(captures: &[Capture], body: &str) -> (Vec<u8>, bool, Option<String>) {
    let request = MethodCall::from_xml(body)
        .ok()
        .map(|call| (call.name.to_string(), call.params));
    let found = captures
        .iter()
        .find(|capture| capture.request.is_some() && capture.request.as_ref() == request.as_ref());
    match found {
        Some(capture) => (
            capture.response.clone(),
            capture.close,
            Some(capture.name.clone()),
        ),
        None => {
            let text = format!("no capture for {}", koji::excerpt(body));
            let (response, _) = http_response(
                "HTTP/1.1 404 Not Found\nContent-Type: text/plain",
                text.as_bytes(),
            );
            (response, false, None)
        }
    }
}

/// A server that accepts connections and never replies. It counts the connections.
pub struct Silent {
    url: String,
    accepted: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Silent {
    /// Starts the server on 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let url = format!(
            "http://{}/kojihub",
            listener.local_addr().expect("local address")
        );
        let accepted = Arc::new(Mutex::new(0));
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            let mut open_connections = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                *count.lock().expect("connection count") += 1;
                open_connections.push(stream);
            }
        });
        Self {
            url,
            accepted,
            task,
        }
    }

    /// The hub URL of this server.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Number of connections accepted.
    pub fn accepted(&self) -> usize {
        *self.accepted.lock().expect("connection count")
    }
}
