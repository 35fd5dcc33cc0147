//! Broken replies, retries, timeouts, decode errors and multicall checks against small local
//! servers that send exactly the bytes a broken proxy or hub would.

mod common;

use std::time::{Duration, Instant};

use common::{Replay, Silent, load_capture};
use koji::calls::{self, ListHostsOptions};
use koji::{Call, ClientBuilder, Error, FaultKind, Host, MultiCall, RetryPolicy, UpdateTs, Value};

const XML_OK: &str = "HTTP/1.1 200 OK\nContent-Type: text/xml";

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

fn client(url: &str, retry: RetryPolicy) -> koji::Client {
    ClientBuilder::new(url)
        .retry(retry)
        .call_timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn capture_body(name: &str) -> String {
    std::fs::read_to_string(common::wire_dir().join(format!("{name}.response.xml")))
        .expect("capture body")
}

fn fault_body(code: i32, message: &str) -> String {
    format!(
        "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n\
         <name>faultCode</name>\n<value><int>{code}</int></value>\n</member>\n<member>\n\
         <name>faultString</name>\n<value><string>{message}</string></value>\n</member>\n\
         </struct></value>\n</fault>\n</methodResponse>\n"
    )
}

fn proxy_error_page(status: &str) -> String {
    format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>{status}\
         </title>\n</head><body>\n<h1>{status}</h1>\n<p>The proxy server received an invalid \
         response from an upstream server.</p>\n{}</body></html>\n",
        "<p>padding</p>\n".repeat(400)
    )
}

#[tokio::test]
async fn html_502_page_is_a_short_http_error() {
    let page = proxy_error_page("502 Bad Gateway");
    let replay = Replay::fixed(
        "HTTP/1.1 502 Bad Gateway\nContent-Type: text/html",
        page.as_bytes(),
    )
    .await;
    let error = replay
        .client()
        .call(calls::get_api_version())
        .await
        .unwrap_err();

    let Error::Http {
        url,
        status,
        excerpt,
        ..
    } = &error
    else {
        panic!("expected an HTTP error, got {error}");
    };
    assert_eq!(url, replay.url());
    assert_eq!(*status, 502);
    assert!(excerpt.starts_with("<!DOCTYPE HTML PUBLIC"), "{excerpt}");
    assert!(
        excerpt.chars().count() <= koji::EXCERPT_CHARS + 3,
        "{excerpt}"
    );
    assert!(!excerpt.contains('\n'));
    assert!(error.is_retryable());
    let text = error.to_string();
    assert!(
        text.len() < 700,
        "message of {} bytes for a {} byte page",
        text.len(),
        page.len()
    );
    assert!(text.matches("padding").count() < 20, "{text}");
}

#[tokio::test]
async fn truncated_body_is_malformed_with_excerpt() {
    let body = capture_body("listHosts");
    let truncated = &body.as_bytes()[..body.len() / 2];
    let replay = Replay::fixed(XML_OK, truncated).await;
    let error = replay
        .client()
        .call(calls::list_hosts(&ListHostsOptions::default()))
        .await
        .unwrap_err();

    let Error::Malformed {
        url,
        status,
        reason,
        excerpt,
        ..
    } = &error
    else {
        panic!("expected a malformed-reply error, got {error}");
    };
    assert_eq!(url, replay.url());
    assert_eq!(*status, 200);
    assert!(reason.contains(&truncated.len().to_string()), "{reason}");
    assert!(
        excerpt.starts_with("<?xml version='1.0'?> <methodResponse> <params>"),
        "{excerpt}"
    );
    assert!(excerpt.chars().count() <= koji::EXCERPT_CHARS + 3);
    assert!(error.to_string().len() < 600, "{error}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn html_200_is_malformed() {
    let page = "<html><body><form action=\"/login\">Sign in</form></body></html>";
    let replay = Replay::fixed(
        "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8",
        page.as_bytes(),
    )
    .await;
    let error = replay
        .client()
        .call(calls::get_api_version())
        .await
        .unwrap_err();

    let Error::Malformed {
        reason,
        excerpt,
        status,
        ..
    } = &error
    else {
        panic!("expected a malformed-reply error, got {error}");
    };
    assert_eq!(*status, 200);
    assert!(reason.contains("text/html"), "{reason}");
    assert_eq!(excerpt, page);
}

#[tokio::test]
async fn empty_200_body_is_malformed() {
    let replay = Replay::fixed(XML_OK, b"").await;
    let error = replay
        .client()
        .call(calls::get_api_version())
        .await
        .unwrap_err();
    let Error::Malformed { reason, .. } = &error else {
        panic!("expected a malformed-reply error, got {error}");
    };
    assert_eq!(reason, "empty body");
}

#[tokio::test]
async fn redirect_is_not_followed() {
    let replay = Replay::fixed(
        "HTTP/1.1 302 Found\nLocation: https://sso.example.com/login?next=/kojihub\nContent-Type: text/html",
        b"<html>moved</html>",
    )
    .await;
    let error = replay
        .client()
        .call(calls::get_api_version())
        .await
        .unwrap_err();

    let Error::Redirect {
        status,
        location,
        url,
        ..
    } = &error
    else {
        panic!("expected a redirect error, got {error}");
    };
    assert_eq!(*status, 302);
    assert_eq!(location, "https://sso.example.com/login?next=/kojihub");
    assert_eq!(url, replay.url());
    assert!(
        error.to_string().contains("https://sso.example.com/login"),
        "{error}"
    );
    assert_eq!(replay.received().len(), 1);
}

#[tokio::test]
async fn connection_closed_without_reply_is_transport_error() {
    let replay = Replay::raw_then_close(b"").await;
    let error = replay
        .client()
        .call(calls::get_api_version())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error}");
    assert!(error.is_retryable());
    let message = error.to_string();
    assert!(message.contains("error sending request: "), "{message}");
}

#[tokio::test]
async fn short_body_is_transport_error() {
    let replay = Replay::raw_then_close(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5000\r\n\r\n<?xml version='1.0'?>\n<methodResponse>",
    )
    .await;
    let error = replay
        .client()
        .call(calls::get_api_version())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error}");
}

#[tokio::test]
async fn silent_hub_times_out() {
    let silent = Silent::start().await;
    let client = ClientBuilder::new(silent.url())
        .call_timeout(Duration::from_millis(300))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let started = Instant::now();
    let error = client
        .call(calls::list_hosts(&ListHostsOptions::default()))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();

    let Error::Timeout { method, url, after } = &error else {
        panic!("expected a timeout, got {error}");
    };
    assert_eq!(method, "listHosts");
    assert_eq!(url, silent.url());
    assert_eq!(*after, Duration::from_millis(300));
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn timeouts_are_retried() {
    let silent = Silent::start().await;
    let client = ClientBuilder::new(silent.url())
        .call_timeout(Duration::from_millis(200))
        .retry(fast_retries(3))
        .build()
        .unwrap();

    let error = client.call(calls::get_api_version()).await.unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    assert_eq!(silent.accepted(), 3, "one connection per attempt");
}

#[tokio::test]
async fn refused_connection_is_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/kojihub", listener.local_addr().unwrap());
    drop(listener);

    let error = client(&url, fast_retries(2))
        .call(calls::get_api_version())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error}");
    assert!(error.is_retryable());
    assert!(error.to_string().contains(&url), "{error}");
    assert!(error.to_string().contains("Connection refused"), "{error}");
    assert_eq!(error.to_string().matches(&url).count(), 1, "{error}");
}

#[tokio::test]
async fn gateway_errors_are_retried_until_success() {
    let page = proxy_error_page("503 Service Unavailable");
    let ok = capture_body("getAPIVersion");
    let replay = Replay::sequence(&[
        (
            "HTTP/1.1 502 Bad Gateway\nContent-Type: text/html",
            page.as_bytes(),
        ),
        (
            "HTTP/1.1 503 Service Unavailable\nContent-Type: text/html",
            page.as_bytes(),
        ),
        (
            "HTTP/1.1 504 Gateway Timeout\nContent-Type: text/html",
            page.as_bytes(),
        ),
        (XML_OK, ok.as_bytes()),
    ])
    .await;

    let version = client(replay.url(), fast_retries(4))
        .call(calls::get_api_version())
        .await;
    assert_eq!(version.unwrap(), 1);
    assert_eq!(replay.received().len(), 4);
}

#[tokio::test]
async fn retries_stop_at_max_attempts() {
    let page = proxy_error_page("503 Service Unavailable");
    let replay = Replay::fixed(
        "HTTP/1.1 503 Service Unavailable\nContent-Type: text/html",
        page.as_bytes(),
    )
    .await;
    let error = client(replay.url(), fast_retries(3))
        .call(calls::get_api_version())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Http { status: 503, .. }), "{error}");
    assert_eq!(replay.received().len(), 3);
}

#[tokio::test]
async fn client_errors_and_500_are_not_retried() {
    for status in [
        "400 Bad Request",
        "403 Forbidden",
        "500 Internal Server Error",
    ] {
        let replay = Replay::fixed(
            &format!("HTTP/1.1 {status}\nContent-Type: text/plain"),
            b"Invalid request: Empty request",
        )
        .await;
        let error = client(replay.url(), fast_retries(4))
            .call(calls::get_api_version())
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Http { .. }), "{error}");
        assert_eq!(replay.received().len(), 1, "{status} must not be retried");
    }
}

#[tokio::test]
async fn server_offline_fault_is_retried() {
    let offline = fault_body(1014, "server is offline");
    let ok = capture_body("getAPIVersion");
    let replay = Replay::sequence(&[
        (XML_OK, offline.as_bytes()),
        (XML_OK, offline.as_bytes()),
        (XML_OK, ok.as_bytes()),
    ])
    .await;
    let version = client(replay.url(), fast_retries(4))
        .call(calls::get_api_version())
        .await;
    assert_eq!(version.unwrap(), 1);
    assert_eq!(replay.received().len(), 3);

    let replay = Replay::fixed(XML_OK, offline.as_bytes()).await;
    let error = client(replay.url(), fast_retries(2))
        .call(calls::get_api_version())
        .await
        .unwrap_err();
    assert_eq!(error.fault_kind(), Some(FaultKind::ServerOffline));
    assert_eq!(replay.received().len(), 2);
}

#[tokio::test]
async fn other_faults_are_not_retried() {
    for code in [1, 1000, 1002, 1006, 1019] {
        let body = fault_body(code, "no");
        let replay = Replay::fixed(XML_OK, body.as_bytes()).await;
        let error = client(replay.url(), fast_retries(4))
            .call(calls::get_api_version())
            .await
            .unwrap_err();
        assert_eq!(error.fault_code(), Some(code));
        assert_eq!(
            replay.received().len(),
            1,
            "fault {code} must not be retried"
        );
    }
}

#[tokio::test]
async fn every_fault_code_maps_to_its_kind() {
    let kinds = [
        (1, "Unexpected"),
        (1000, "GenericError"),
        (1001, "LockError"),
        (1002, "AuthError"),
        (1003, "TagError"),
        (1004, "ActionNotAllowed"),
        (1005, "BuildError"),
        (1006, "AuthLockError"),
        (1007, "AuthExpired"),
        (1008, "SequenceError"),
        (1009, "RetryError"),
        (1010, "PreBuildError"),
        (1011, "PostBuildError"),
        (1012, "BuildrootError"),
        (1013, "FunctionDeprecated"),
        (1014, "ServerOffline"),
        (1015, "LiveCDError"),
        (1016, "PluginError"),
        (1017, "CallbackError"),
        (1018, "ApplianceError"),
        (1019, "ParameterError"),
        (1020, "ImportError"),
        (1021, "ConfigurationError"),
        (1022, "LiveMediaError"),
        (1023, "GSSAPIAuthError"),
        (1024, "NameValidationError"),
    ];
    for (code, name) in kinds {
        let body = fault_body(code, &format!("message {code}"));
        let replay = Replay::fixed(XML_OK, body.as_bytes()).await;
        let error = replay
            .client()
            .call(calls::get_api_version())
            .await
            .unwrap_err();
        let Error::Fault {
            code: got,
            kind,
            message,
            ..
        } = &error
        else {
            panic!("expected fault {code}, got {error}");
        };
        assert_eq!(*got, code);
        assert_eq!(kind.name(), name);
        assert_eq!(kind.code(), code);
        assert_eq!(message, &format!("message {code}"));
    }

    let body = fault_body(4242, "plugin specific");
    let replay = Replay::fixed(XML_OK, body.as_bytes()).await;
    let error = replay
        .client()
        .call(calls::get_api_version())
        .await
        .unwrap_err();
    assert_eq!(error.fault_kind(), Some(FaultKind::Unknown(4242)));
}

/// Replaces the first occurrence of `from` after `anchor` in `body`.
fn replace_after(body: &str, anchor: &str, from: &str, to: &str) -> String {
    let start = body.find(anchor).expect("anchor in body");
    let offset = body[start..].find(from).expect("text after anchor") + start;
    format!("{}{}{}", &body[..offset], to, &body[offset + from.len()..])
}

#[tokio::test]
async fn decode_error_names_method_host_and_field() {
    // Host 4's members are sorted by name, so its arches come just before its capacity.
    let body = replace_after(
        &capture_body("listHosts"),
        "<string>ppc64le</string>",
        "<double>4.0</double>",
        "<string>4</string>",
    );
    let replay = Replay::fixed(XML_OK, body.as_bytes()).await;
    let error = replay
        .client()
        .call(calls::list_hosts(&ListHostsOptions::default()))
        .await
        .unwrap_err();

    assert!(matches!(error, Error::Decode { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "listHosts: host 4: field capacity: expected double, got string"
    );
}

#[tokio::test]
async fn ints_and_i8_accepted() {
    let body = capture_body("getHost");
    let body = body.replace("<double>8.0</double>", "<int>8</int>");
    let body = body.replace("<double>1.5</double>", "<i8>2</i8>");
    let body = body.replace(
        "<name>user_id</name>\n<value><int>5</int>",
        "<name>user_id</name>\n<value><i8>5</i8>",
    );
    let body = body.replace(
        "<name>id</name>\n<value><int>1</int>",
        "<name>id</name>\n<value><i8>1</i8>",
    );
    assert!(
        body.contains("<i8>5</i8>") && body.contains("<i8>1</i8>"),
        "edits applied"
    );
    let replay = Replay::fixed(XML_OK, body.as_bytes()).await;

    let host = replay
        .client()
        .call(calls::get_host(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(host.id, 1);
    assert_eq!(host.user_id, 5);
    assert_eq!(host.capacity, 8.0);
    assert_eq!(host.task_load, 2.0);
}

#[tokio::test]
async fn non_struct_host_is_a_decode_error() {
    let body = capture_body("getKojiVersion");
    let replay = Replay::fixed(XML_OK, body.as_bytes()).await;
    let error = replay
        .client()
        .call(calls::get_host("x"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "getHost: host: expected struct, got string"
    );
}

fn multicall_reply(values: &[&str]) -> String {
    let entries: String = values
        .iter()
        .map(|value| format!("<value><array><data>{value}</data></array></value>"))
        .collect();
    format!(
        "<?xml version='1.0'?><methodResponse><params><param><value><array><data>{entries}\
         </data></array></value></param></params></methodResponse>"
    )
}

#[tokio::test]
async fn multicall_result_count_is_checked() {
    let reply = multicall_reply(&["<value><int>1</int></value>", "<value><int>1</int></value>"]);
    let replay = Replay::fixed(XML_OK, reply.as_bytes()).await;
    let mut multicall = MultiCall::new();
    for _ in 0..3 {
        multicall.add(calls::get_api_version());
    }
    let error = replay.client().multicall(multicall).await.unwrap_err();

    let Error::MulticallMismatch {
        expected,
        received,
        url,
    } = &error
    else {
        panic!("expected a multicall mismatch, got {error}");
    };
    assert_eq!((*expected, *received), (3, 2));
    assert_eq!(url, replay.url());
    assert!(
        error.to_string().contains("returned 2 results for 3 calls"),
        "{error}"
    );
}

#[tokio::test]
async fn multicall_runs_in_batches() {
    let one = "<value><int>1</int></value>";
    let two = multicall_reply(&[one, one]);
    let last = multicall_reply(&[one]);
    let replay = Replay::sequence(&[
        (XML_OK, two.as_bytes()),
        (XML_OK, two.as_bytes()),
        (XML_OK, last.as_bytes()),
    ])
    .await;

    let calls = (0..5).map(|_| calls::get_api_version()).collect();
    let client = ClientBuilder::new(replay.url())
        .multicall_batch(2)
        .build()
        .unwrap();
    let results = client.multicall_all(calls).await.unwrap();

    assert_eq!(results.len(), 5);
    assert!(results.iter().all(|result| matches!(result, Ok(1))));
    let sizes: Vec<usize> = replay
        .received()
        .iter()
        .map(|request| {
            let (method, params) = common::parse_request(&request.body);
            assert_eq!(method, "multiCall");
            match &params[..] {
                [Value::Array(calls)] => calls.len(),
                other => panic!("multiCall params: {other:?}"),
            }
        })
        .collect();
    assert_eq!(sizes, [2, 2, 1]);
}

#[tokio::test]
async fn empty_multicall_sends_nothing() {
    let replay = Replay::capture("getAPIVersion").await;
    let results = replay.client().multicall(MultiCall::new()).await.unwrap();
    assert!(results.is_empty());
    assert!(replay.received().is_empty());
}

#[tokio::test]
#[should_panic(expected = "used with the results of another multicall")]
async fn handle_of_another_multicall_panics() {
    let replay = Replay::capture("system.multicall").await;
    let mut first = MultiCall::new();
    first.add(calls::get_api_version());
    first.add(calls::get_last_host_update(3, true));
    let mut second = MultiCall::new();
    let foreign = second.add(calls::get_api_version());

    let mut results = replay.client().multicall(first).await.unwrap();
    let _ignored = results.take(foreign);
}

fn host_without_update_ts() -> Host {
    Host {
        id: 1,
        user_id: 5,
        name: "builder-x86-01.example.com".into(),
        arches: vec!["x86_64".into()],
        capacity: 8.0,
        task_load: 0.0,
        enabled: true,
        ready: true,
        update_ts: UpdateTs::Absent,
        description: None,
        comment: None,
    }
}

#[tokio::test]
async fn hosts_without_update_ts_decode_as_absent() {
    let body = capture_body("getHost").replace(
        "<member>\n<name>update_ts</name>\n<value><double>1796398967.278105</double></value>\n</member>\n",
        "",
    );
    assert!(!body.contains("update_ts"));
    let replay = Replay::fixed(XML_OK, body.as_bytes()).await;
    let host = replay
        .client()
        .call(calls::get_host(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(host.update_ts, UpdateTs::Absent);
}

#[tokio::test]
async fn last_check_in_pre_1_33_hub() {
    let replay = Replay::capture("getLastHostUpdate-ts").await;
    let seconds = replay
        .client()
        .last_check_in(&host_without_update_ts())
        .await
        .unwrap();
    assert_eq!(seconds, Some(1_796_398_967.277_209));
    assert_eq!(replay.received().len(), 1);
    let expected = load_capture("getLastHostUpdate-ts").request.unwrap();
    assert_eq!(replay.last_request(), expected);
}

#[tokio::test]
async fn last_check_in_pre_1_25_hub() {
    let rejected = fault_body(
        1019,
        "getLastHostUpdate() got an unexpected keyword argument 'ts'",
    );
    let date = capture_body("getLastHostUpdate-string");
    let replay =
        Replay::sequence(&[(XML_OK, rejected.as_bytes()), (XML_OK, date.as_bytes())]).await;

    let seconds = replay
        .client()
        .last_check_in(&host_without_update_ts())
        .await
        .unwrap();
    let seconds = seconds.expect("a check-in time");
    assert!((seconds - 1_796_398_967.277_209).abs() < 1e-6, "{seconds}");

    let requests: Vec<_> = replay
        .received()
        .iter()
        .map(|request| common::parse_request(&request.body))
        .collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0],
        load_capture("getLastHostUpdate-ts").request.unwrap()
    );
    assert_eq!(
        requests[1],
        load_capture("getLastHostUpdate-string").request.unwrap()
    );
}

#[tokio::test]
async fn last_check_in_uses_update_ts_without_calls() {
    let replay = Replay::capture("getLastHostUpdate-ts").await;
    let mut host = host_without_update_ts();
    host.update_ts = UpdateTs::At(42.5);
    assert_eq!(
        replay.client().last_check_in(&host).await.unwrap(),
        Some(42.5)
    );
    host.update_ts = UpdateTs::Never;
    assert_eq!(replay.client().last_check_in(&host).await.unwrap(), None);
    assert!(replay.received().is_empty());
}

#[tokio::test]
async fn last_check_in_passes_other_faults_on() {
    let denied = fault_body(1000, "no such host");
    let replay = Replay::fixed(XML_OK, denied.as_bytes()).await;
    let error = replay
        .client()
        .last_check_in(&host_without_update_ts())
        .await
        .unwrap_err();
    assert_eq!(error.fault_code(), Some(1000));
    assert_eq!(replay.received().len(), 1);
}

#[test]
fn builder_rejects_bad_options() {
    let error = ClientBuilder::new("koji.example.com/kojihub")
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("koji.example.com/kojihub"),
        "{error}"
    );

    let error = ClientBuilder::new("ftp://koji.example.com/kojihub")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("https://"), "{error}");

    let error = ClientBuilder::new("https://koji.example.com/kojihub")
        .retry(RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("max_attempts"), "{error}");

    let error = ClientBuilder::new("https://koji.example.com/kojihub")
        .multicall_batch(0)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("batch"), "{error}");

    let error = ClientBuilder::new("https://koji.example.com/kojihub")
        .ca_bundle("/nonexistent/koji-ca.pem")
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/koji-ca.pem"),
        "{error}"
    );

    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let error = ClientBuilder::new("https://koji.example.com/kojihub")
        .ca_bundle(&garbage)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("garbage.pem"), "{error}");

    let error = ClientBuilder::new("https://koji.example.com/kojihub")
        .identity("/nonexistent/monitoring.crt", "/nonexistent/monitoring.key")
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("/nonexistent/monitoring.crt"),
        "{error}"
    );
}

#[tokio::test]
async fn raw_call_with_typed_call_decoder() {
    let replay = Replay::capture("getHost").await;
    let call = Call::new(
        "getHost",
        vec![Value::String("builder-x86-01.example.com".into())],
        koji::decode_optional_host,
    );
    let host = replay.client().call(call).await.unwrap().unwrap();
    assert_eq!(host.name, "builder-x86-01.example.com");
}
