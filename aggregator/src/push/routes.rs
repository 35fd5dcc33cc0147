//! The HTTP routes of the push API: PUT, POST and DELETE on `/metrics/job/...`, and the
//! Pushgateway's `GET /api/v1/metrics`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

use super::api;
use super::body::{BLOCKING_DECODE_BYTES, decode, read_limited};
use super::grouping::GroupingKey;
use super::rejection::{Reason, Rejection};
use super::store::{Method, Store};
use crate::identity::{AuthError, Authenticator, PeerInfo};

/// Seconds between two log lines about rejections of the same reason.
const REJECTION_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The state the push handlers share.
#[derive(Clone, Debug)]
pub struct PushState {
    store: Arc<Store>,
    authenticator: Arc<Authenticator>,
    log: Arc<RejectionLog>,
}

impl PushState {
    /// Serves `store`, admitting requests by `authenticator`.
    pub fn new(store: Arc<Store>, authenticator: Authenticator) -> Self {
        Self {
            store,
            authenticator: Arc::new(authenticator),
            log: Arc::new(RejectionLog::default()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

/// The router for the push API. Handlers read the peer from `ConnectInfo<PeerInfo>`, so
/// serve it with `into_make_service_with_connect_info::<PeerInfo>()` on a
/// [`crate::tls::PlainListener`] or [`crate::tls::TlsListener`]; without connection info
/// every peer counts as remote.
pub fn router(state: PushState) -> Router {
    Router::new()
        .route(
            "/metrics/{*grouping}",
            put(put_group).post(post_group).delete(delete_group),
        )
        .route("/api/v1/metrics", get(api::metrics))
        .with_state(state)
}

async fn put_group(State(state): State<PushState>, request: Request) -> Response {
    handle(state, Some(Method::Put), request).await
}

async fn post_group(State(state): State<PushState>, request: Request) -> Response {
    handle(state, Some(Method::Post), request).await
}

async fn delete_group(State(state): State<PushState>, request: Request) -> Response {
    handle(state, None, request).await
}

/// Runs one push (`method` is `Some`) or delete (`None`) request.
async fn handle(state: PushState, method: Option<Method>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // The same lookup as axum's `ConnectInfo` extractor, which also honours the
    // `MockConnectInfo` layer of tests.
    let peer = match parts.extensions.get::<ConnectInfo<PeerInfo>>() {
        Some(ConnectInfo(peer)) => Some(peer.clone()),
        None => parts
            .extensions
            .get::<MockConnectInfo<PeerInfo>>()
            .map(|MockConnectInfo(peer)| peer.clone()),
    };
    let path = parts.uri.path();
    let grouping = path.strip_prefix("/metrics/").unwrap_or(path);

    let key = match GroupingKey::from_path(grouping) {
        Ok(key) => key,
        Err(error) => {
            let rejection = Rejection::new(Reason::InvalidGroupingKey, error.to_string());
            return state.reject(rejection, method, None, peer.as_ref());
        }
    };

    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or("(not ASCII)"));
    if let Err(error) = state
        .authenticator
        .authorize(peer.as_ref(), authorization, key.instance())
    {
        return state.reject_unauthorized(error, method, &key, peer.as_ref());
    }

    let Some(method) = method else {
        let existed = state.store.delete(&key);
        tracing::debug!(group = %key, existed, "Deleted a pushed group.");
        return StatusCode::ACCEPTED.into_response();
    };

    let max_bytes = state.store.limits().max_body_bytes;
    let bytes = match read_limited(&parts.headers, body, max_bytes).await {
        Ok(bytes) => bytes,
        Err(rejection) => return state.reject(rejection, Some(method), Some(&key), peer.as_ref()),
    };

    let outcome = if bytes.len() >= BLOCKING_DECODE_BYTES {
        let store = state.store.clone();
        let headers = parts.headers.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || apply(&store, &headers, &bytes, key, method))
            .await
            .unwrap_or_else(|error| {
                let rejection = Rejection::new(
                    Reason::InvalidBody,
                    format!("decoding the body failed: {error}"),
                );
                state.store.count_rejection(&rejection, true);
                Err(rejection)
            })
    } else {
        apply(&state.store, &parts.headers, &bytes, key.clone(), method)
    };

    match outcome {
        Ok(()) => StatusCode::OK.into_response(),
        Err(rejection) => {
            state.log.log(&rejection, &key.to_string(), peer.as_ref());
            error_response(&rejection)
        }
    }
}

/// Decodes `bytes` and applies them to the store. Every outcome is counted.
fn apply(
    store: &Store,
    headers: &HeaderMap,
    bytes: &[u8],
    key: GroupingKey,
    method: Method,
) -> Result<(), Rejection> {
    let families = match decode(headers, bytes, store.limits().max_body_bytes) {
        Ok(families) => families,
        Err(rejection) => {
            store.count_rejection(&rejection, true);
            return Err(rejection);
        }
    };
    store.push(key, method, families, unix_now())
}

impl PushState {
    fn reject_unauthorized(
        &self,
        error: AuthError,
        method: Option<Method>,
        key: &GroupingKey,
        peer: Option<&PeerInfo>,
    ) -> Response {
        let reason = if error.is_unauthenticated() {
            Reason::Unauthenticated
        } else {
            Reason::Forbidden
        };
        let mut response = self.reject(
            Rejection::new(reason, error.to_string()),
            method,
            Some(key),
            peer,
        );
        if reason == Reason::Unauthenticated {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"koji-aggregator\""),
            );
        }
        response
    }

    /// Counts, logs and answers a request rejected before the store saw it.
    fn reject(
        &self,
        rejection: Rejection,
        method: Option<Method>,
        key: Option<&GroupingKey>,
        peer: Option<&PeerInfo>,
    ) -> Response {
        self.store.count_rejection(&rejection, method.is_some());
        let group = key.map(ToString::to_string).unwrap_or_default();
        self.log.log(&rejection, &group, peer);
        error_response(&rejection)
    }
}

fn error_response(rejection: &Rejection) -> Response {
    let mut body = rejection.message.clone();
    body.push('\n');
    (
        rejection.status(),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Unix time in seconds.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// Logs rejections at most once per reason and [`REJECTION_LOG_INTERVAL`], with the number
/// of rejections not logged since the last line.
#[derive(Debug, Default)]
struct RejectionLog {
    windows: Mutex<HashMap<Reason, (Instant, u64)>>,
}

impl RejectionLog {
    fn log(&self, rejection: &Rejection, group: &str, peer: Option<&PeerInfo>) {
        let now = Instant::now();
        let suppressed = {
            let mut windows = self
                .windows
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match windows.get_mut(&rejection.reason) {
                Some((start, count)) if now.duration_since(*start) < REJECTION_LOG_INTERVAL => {
                    *count += 1;
                    return;
                }
                Some((start, count)) => {
                    let suppressed = *count;
                    *start = now;
                    *count = 0;
                    suppressed
                }
                None => {
                    windows.insert(rejection.reason, (now, 0));
                    0
                }
            }
        };
        let peer = peer.map(|peer| peer.addr.to_string()).unwrap_or_default();
        tracing::warn!(
            reason = %rejection.reason,
            status = rejection.status().as_u16(),
            group,
            peer,
            suppressed,
            error = %rejection.message,
            "Rejected a push request."
        );
    }
}
