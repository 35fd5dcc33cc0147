//! One HTTP exchange with the hub: encode the call, POST it, classify the reply.
//!
//! dxr only (de)serialises XML here. The HTTP status, headers and body are checked first, so
//! an HTML error page, a redirect or a truncated body becomes an error with the status and a
//! short excerpt. dxr's parse errors are never passed on because they repeat the whole body.

use std::time::Duration;

use dxr::{FaultResponse, MethodCall, MethodResponse, Value};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION};

use crate::error::{Error, FaultKind, excerpt, fault_from_struct};

/// Destination, method and time limit of one call.
pub(crate) struct Target<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) url: &'a str,
    pub(crate) method: &'a str,
    pub(crate) timeout: Duration,
}

/// Encodes `method(params)` as an XML-RPC methodCall document.
pub(crate) fn encode_call(method: &str, params: &[Value]) -> Result<String, Error> {
    let call = MethodCall {
        name: method.into(),
        params: params.to_vec(),
    };
    let xml = call.to_xml().map_err(|error| Error::Encode {
        method: method.to_string(),
        detail: error.to_string(),
    })?;
    Ok(format!("<?xml version=\"1.0\"?>{xml}"))
}

/// POSTs `body` once and returns the reply value, or the fault or failure as an error.
pub(crate) async fn send(target: &Target<'_>, body: String) -> Result<Value, Error> {
    let exchange = async {
        let response = target
            .http
            .post(target.url)
            .header(CONTENT_TYPE, "text/xml")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers, body))
    };

    let (status, headers, body) = match tokio::time::timeout(target.timeout, exchange).await {
        Err(_elapsed) => return Err(timeout(target)),
        Ok(Err(error)) => return Err(transport_error(target, error)),
        Ok(Ok(reply)) => reply,
    };
    classify(target, status, &headers, &body)
}

fn timeout(target: &Target<'_>) -> Error {
    Error::Timeout {
        method: target.method.to_string(),
        url: target.url.to_string(),
        after: target.timeout,
    }
}

fn transport_error(target: &Target<'_>, error: reqwest::Error) -> Error {
    let method = target.method.to_string();
    let url = target.url.to_string();
    // A connect timeout is reported as a connection error, because `after` is the call timeout.
    if error.is_connect() {
        Error::Connect {
            method,
            url,
            cause: error.without_url(),
        }
    } else if error.is_timeout() {
        Error::Timeout {
            method,
            url,
            after: target.timeout,
        }
    } else {
        Error::Transport {
            method,
            url,
            cause: error.without_url(),
        }
    }
}

/// Turns an HTTP reply into the call's value or an error.
fn classify(
    target: &Target<'_>,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Error> {
    let method = target.method.to_string();
    let url = target.url.to_string();
    let text = String::from_utf8_lossy(body);

    if status.is_redirection() {
        let location = headers
            .get(LOCATION)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default();
        return Err(Error::Redirect {
            method,
            url,
            status: status.as_u16(),
            location,
        });
    }
    if !status.is_success() {
        return Err(Error::Http {
            method,
            url,
            status: status.as_u16(),
            excerpt: excerpt(&text),
        });
    }

    let malformed = |reason: String| Error::Malformed {
        method: target.method.to_string(),
        url: target.url.to_string(),
        status: status.as_u16(),
        reason,
        excerpt: excerpt(&text),
    };
    let content_type = headers
        .get(CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).to_ascii_lowercase())
        .unwrap_or_default();
    if content_type.contains("html") {
        return Err(malformed(format!("content type {content_type}")));
    }
    if body.is_empty() {
        return Err(malformed("empty body".to_string()));
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(malformed("body is not UTF-8".to_string()));
    };

    if is_fault(text) {
        let Some((code, message)) = parse_fault(text) else {
            return Err(malformed(format!(
                "invalid fault response of {} bytes, expected faultCode and faultString",
                body.len()
            )));
        };
        return Err(Error::Fault {
            method,
            code,
            kind: FaultKind::from_code(code),
            message,
        });
    }

    match MethodResponse::from_xml(text) {
        Ok(response) => Ok(response.value),
        Err(_) => Err(malformed(format!(
            "invalid or truncated methodResponse of {} bytes",
            body.len()
        ))),
    }
}

/// Reads the code and string of a fault response. dxr's parser takes exactly `faultCode` and
/// `faultString` in that order, so a fault struct with other members or another order is
/// read as a plain struct value.
fn parse_fault(text: &str) -> Option<(i32, String)> {
    if let Ok(response) = FaultResponse::from_xml(text) {
        return Some((response.fault.code(), response.fault.string().to_string()));
    }

    let start = text.find("<fault>")? + "<fault>".len();
    let end = text.rfind("</fault>")?;
    match Value::from_xml(text.get(start..end)?.trim()) {
        Ok(Value::Struct(members)) => fault_from_struct(&members),
        _ => None,
    }
}

/// Returns true when the document's first element under `methodResponse` is `<fault>`.
fn is_fault(text: &str) -> bool {
    match (text.find("<fault>"), text.find("<params>")) {
        (Some(fault), Some(params)) => fault < params,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_call_has_declaration_and_params() {
        let xml = encode_call("getHost", &[Value::String("a&b".into())]).unwrap();
        assert!(
            xml.starts_with("<?xml version=\"1.0\"?><methodCall>"),
            "{xml}"
        );
        assert!(xml.contains("<methodName>getHost</methodName>"), "{xml}");
        assert!(xml.contains("a&amp;b"), "{xml}");

        let parsed = MethodCall::from_xml(&xml).unwrap();
        assert_eq!(parsed.params, vec![Value::String("a&b".into())]);
    }

    #[test]
    fn faults_with_extra_members_parse() {
        let text = "<?xml version='1.0'?><methodResponse><fault><value><struct>\
            <member><name>faultString</name><value><string>server is offline</string></value>\
            </member><member><name>traceback</name><value><array><data></data></array></value>\
            </member><member><name>faultCode</name><value><int>1014</int></value></member>\
            </struct></value></fault></methodResponse>";
        assert_eq!(
            parse_fault(text),
            Some((1014, "server is offline".to_string()))
        );
        let not_a_struct = "<methodResponse><fault><value><int>1</int></value></fault>";
        assert_eq!(parse_fault(not_a_struct), None);
    }

    #[test]
    fn fault_detection_looks_at_the_first_element() {
        assert!(is_fault("<methodResponse><fault><value>"));
        assert!(!is_fault(
            "<methodResponse><params><param><value><string><fault>"
        ));
        assert!(!is_fault("<html>"));
    }
}
