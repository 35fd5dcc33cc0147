//! A small HTTP/1.1 server for `/kojihub` and `/control/...`.
//!
//! The simulator writes its replies byte by byte because fault injection needs what an HTTP
//! library hides: a body cut short after a full `Content-Length`, a connection closed with
//! no reply at all. It reads `Content-Length` and chunked bodies, replies to
//! `Expect: 100-continue`, and keeps connections alive unless the client or the reply sends
//! `Connection: close`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::control;
use crate::hub::{Hub, inner_methods, is_multicall};
use crate::inject::{FaultAction, proxy_error_page, reason_phrase};
use crate::xmlrpc::{self, marshal};

const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// State shared by the connections.
#[derive(Debug)]
pub struct Shared {
    /// The hub.
    pub hub: Mutex<Hub>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
}

impl Shared {
    /// Locks the hub; a panic in another request does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Hub> {
        self.hub
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A parsed HTTP request.
#[derive(Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string without `?`.
    pub query: String,
    /// Header names in lower case with their values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    http11: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn wants_close(&self) -> bool {
        match self.header("connection").map(str::to_ascii_lowercase) {
            Some(value) if value.contains("close") => true,
            Some(value) if value.contains("keep-alive") => false,
            _ => !self.http11,
        }
    }
}

/// An HTTP reply.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers other than `Content-Length` and `Connection`.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
    /// Close the connection after this reply.
    pub close: bool,
}

impl Response {
    /// Makes a reply with a body of `content_type`.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
            close: false,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn head(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\n",
            self.status,
            reason_phrase(self.status)
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        if self.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

/// How to end an exchange.
#[derive(Debug)]
pub enum Reply {
    /// Send the whole reply.
    Full(Response),
    /// Send the head and the first `keep` bytes of the body, then close.
    Truncated(Response, usize),
    /// Close the connection without a reply.
    Drop,
}

/// Accepts connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let shared = shared.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move { connection(stream, shared, shutdown).await });
                }
                Err(error) => {
                    tracing::warn!(%error, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
    }
}

async fn connection(
    mut stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buffer = Vec::new();
    loop {
        let request = tokio::select! {
            request = read_request(&mut stream, &mut buffer) => request,
            _ = shutdown.changed() => return,
        };
        let request = match request {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(mut response) => {
                response.close = true;
                let _written = write_all(&mut stream, &response.head(), &response.body).await;
                return;
            }
        };

        let close_after = request.wants_close();
        let is_head = request.method == "HEAD";
        match route(&shared, request).await {
            Reply::Full(mut response) => {
                response.close |= close_after;
                // A reply to HEAD announces the body's length but sends no body.
                let body: &[u8] = if is_head { &[] } else { &response.body };
                if write_all(&mut stream, &response.head(), body)
                    .await
                    .is_err()
                    || response.close
                {
                    return;
                }
            }
            Reply::Truncated(response, keep) => {
                let keep = keep.min(response.body.len());
                let _written =
                    write_all(&mut stream, &response.head(), &response.body[..keep]).await;
                let _closed = stream.shutdown().await;
                return;
            }
            Reply::Drop => return,
        }
    }
}

async fn write_all(stream: &mut TcpStream, head: &[u8], body: &[u8]) -> std::io::Result<()> {
    stream.write_all(head).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

fn bad_request(message: &str) -> Response {
    let mut response = Response::new(400, "text/plain", format!("{message}\n"));
    response.close = true;
    response
}

/// Reads one request; `Ok(None)` at a clean end of the connection, `Err` with the reply for
/// a request that cannot be read.
async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Result<Option<Request>, Response> {
    let header_end = loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_HEADER_BYTES {
            return Err(bad_request("Request header too large"));
        }
        let mut chunk = [0_u8; 8192];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    };

    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    buffer.drain(..header_end + 4);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_request(&format!(
            "Invalid request line: {request_line:?}"
        )));
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: Vec::new(),
        http11: version == "HTTP/1.1",
    };

    if request
        .header("expect")
        .is_some_and(|value| value.eq_ignore_ascii_case("100-continue"))
    {
        let _sent = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }

    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
    request.body = if chunked {
        read_chunked(stream, buffer).await?
    } else {
        let length = match request.header("content-length") {
            Some(value) => value
                .parse::<usize>()
                .map_err(|_| bad_request(&format!("Invalid Content-Length: {value:?}")))?,
            None => 0,
        };
        if length > MAX_BODY_BYTES {
            return Err(Response {
                close: true,
                ..Response::new(413, "text/plain", "Request body too large\n")
            });
        }
        fill(stream, buffer, length).await?;
        buffer.drain(..length).collect()
    };
    Ok(Some(request))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Reads until `buffer` contains at least `length` bytes.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>, length: usize) -> Result<(), Response> {
    while buffer.len() < length {
        let mut chunk = [0_u8; 65536];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(bad_request("Request body ended early")),
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    Ok(())
}

async fn read_chunked(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<Vec<u8>, Response> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(at) = find(buffer, b"\r\n") {
                break at;
            }
            let wanted = buffer.len() + 1;
            fill(stream, buffer, wanted).await?;
        };
        let size_text = String::from_utf8_lossy(&buffer[..line_end]).into_owned();
        let size_text = size_text
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned();
        let size = usize::from_str_radix(&size_text, 16)
            .map_err(|_| bad_request(&format!("Invalid chunk size: {size_text:?}")))?;
        buffer.drain(..line_end + 2);
        if size == 0 {
            // Skip trailers up to the final empty line.
            loop {
                let end = loop {
                    if let Some(at) = find(buffer, b"\r\n") {
                        break at;
                    }
                    let wanted = buffer.len() + 1;
                    fill(stream, buffer, wanted).await?;
                };
                buffer.drain(..end + 2);
                if end == 0 {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(Response {
                close: true,
                ..Response::new(413, "text/plain", "Request body too large\n")
            });
        }
        fill(stream, buffer, size + 2).await?;
        body.extend_from_slice(&buffer[..size]);
        buffer.drain(..size + 2);
    }
}

async fn route(shared: &Arc<Shared>, request: Request) -> Reply {
    if request.path == "/control" || request.path.starts_with("/control/") {
        let shared = shared.clone();
        let handled =
            tokio::task::spawn_blocking(move || control::handle_http(&shared, &request)).await;
        return Reply::Full(handled.unwrap_or_else(|error| {
            Response::new(
                500,
                "application/json",
                format!("{{\"error\": \"control request panicked: {error}\"}}"),
            )
        }));
    }
    if request.path == "/kojihub" || request.path.starts_with("/kojihub/") {
        return rpc(shared, request).await;
    }
    if request.path == "/login" {
        return Reply::Full(Response::new(
            200,
            "text/html",
            "<html><head><title>Log in</title></head><body><form method=\"post\">\
             <input name=\"username\"><input name=\"password\" type=\"password\">\
             </form></body></html>\n",
        ));
    }
    Reply::Full(not_found(&request.path))
}

fn not_found(path: &str) -> Response {
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n\
         <title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n\
         <p>The requested URL {path} was not found on this server.</p>\n\
         </body></html>\n"
    );
    Response::new(404, "text/html; charset=iso-8859-1", body)
}

fn hub_response(
    version: &str,
    status: u16,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> Response {
    Response::new(status, content_type, body).with_header("Koji-Version", version)
}

async fn rpc(shared: &Arc<Shared>, request: Request) -> Reply {
    let version = shared.lock().version.koji_version();
    if request.method != "POST" {
        let body =
            "Method Not Allowed\nThis is an XML-RPC server. Only POST requests are accepted.\n";
        return Reply::Full(
            hub_response(version, 405, "text/plain", body).with_header("Allow", "POST"),
        );
    }

    let call = match xmlrpc::parse_call(&request.body) {
        Err(error) => {
            let mut response = hub_response(version, 400, "text/plain", error.reply_text());
            response.close = true;
            return Reply::Full(response);
        }
        Ok(Err(fault)) => {
            let body = marshal::fault_response(fault.code, &fault.top_level_string());
            return Reply::Full(hub_response(version, 200, "text/xml", body));
        }
        Ok(Ok(call)) => call,
    };

    let mut names = vec![call.method.clone()];
    if is_multicall(&call.method) {
        names.extend(inner_methods(&call.params));
    }
    let method = call.method.clone();
    let plan = {
        let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
        shared.lock().faults.take_transport(&name_refs)
    };
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }

    match plan.action {
        Some(FaultAction::CloseConnection) => {
            shared.lock().stats.record_injected(&method, 0);
            return Reply::Drop;
        }
        Some(FaultAction::HttpError { status }) => {
            let page = proxy_error_page(status);
            shared.lock().stats.record_injected(&method, page.len());
            return Reply::Full(Response::new(status, "text/html", page));
        }
        Some(FaultAction::Redirect { location }) => {
            let location =
                location.unwrap_or_else(|| format!("{}/login?next=/kojihub", shared.base_url));
            let page =
                format!("<html><body>Found: <a href=\"{location}\">{location}</a></body></html>\n");
            shared.lock().stats.record_injected(&method, page.len());
            return Reply::Full(
                Response::new(302, "text/html", page).with_header("Location", &location),
            );
        }
        _ => {}
    }

    let worker = shared.clone();
    let body = tokio::task::spawn_blocking(move || worker.lock().answer(call)).await;
    let body = match body {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, method, "Answering a call panicked.");
            return Reply::Full(Response::new(500, "text/plain", "Internal Server Error\n"));
        }
    };
    let response = hub_response(version, 200, "text/xml", body);

    if let Some(FaultAction::Truncate { keep_bytes }) = plan.action {
        let keep = keep_bytes.unwrap_or(response.body.len() / 2);
        shared
            .lock()
            .stats
            .record_truncated(&method, response.body.len().saturating_sub(keep));
        return Reply::Truncated(response, keep);
    }
    Reply::Full(response)
}
