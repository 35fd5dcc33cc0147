//! The hub's XML-RPC dialect: request parsing, Python-style marshalling, faults, argument
//! binding.

pub mod args;
pub mod fault;
pub mod marshal;
pub mod python;
pub mod wellformed;

use dxr::{MethodCall, Value};

use fault::Fault;
use wellformed::XmlError;

/// Why a request body was rejected at the HTTP level (400).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// No body at all.
    Empty,
    /// A body that is not well-formed XML.
    Malformed(XmlError),
}

impl BodyError {
    /// Returns the plain-text body of the 400 reply, as the hub words it.
    pub fn reply_text(&self) -> String {
        match self {
            BodyError::Empty => "Invalid request: Empty request\n".to_owned(),
            BodyError::Malformed(error) => format!("Invalid request: {error}\n"),
        }
    }
}

/// A parsed method call.
#[derive(Clone, Debug)]
pub struct Call {
    /// The method name.
    pub method: String,
    /// The params, keyword struct included.
    pub params: Vec<Value>,
}

/// Parses a request body into a call.
///
/// The outer error is an HTTP-level rejection. The inner error is a well-formed document that
/// is not a method call: Python's unmarshaller raises `ResponseError` for it, which the hub
/// reports as fault 1.
// NOTE: dxr rejects a few forms that Python's unmarshaller accepts, such as `ex:`-prefixed
// type tags. Those requests get the fault-1 reply here, where the hub would run the call.
pub fn parse_call(body: &[u8]) -> Result<Result<Call, Fault>, BodyError> {
    if body.is_empty() {
        return Err(BodyError::Empty);
    }
    wellformed::check(body).map_err(BodyError::Malformed)?;

    let text = String::from_utf8_lossy(body);
    match MethodCall::from_xml(&text) {
        Ok(call) => Ok(Ok(Call {
            method: call.name.into_owned(),
            params: call.params,
        })),
        Err(error) => {
            tracing::debug!(%error, "Well-formed request is not an XML-RPC method call.");
            Ok(Err(Fault::exception(
                "xmlrpc.client.ResponseError",
                "ResponseError()",
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kwargs_nil_and_i8() {
        let body = "<?xml version=\"1.0\"?><methodCall><methodName>echo</methodName><params>\
                    <param><value><i8>9000000000</i8></value></param>\
                    <param><value><nil/></value></param>\
                    <param><value>bare text</value></param>\
                    <param><value><int>7</int></value></param></params></methodCall>";
        let call = parse_call(body.as_bytes()).unwrap().unwrap();
        assert_eq!(call.method, "echo");
        assert_eq!(
            call.params,
            vec![
                Value::Long(9_000_000_000),
                Value::Nil,
                Value::String("bare text".into()),
                Value::Integer(7)
            ]
        );
    }

    #[test]
    fn empty_params_element() {
        let body = "<?xml version=\"1.0\"?><methodCall><methodName>getAPIVersion</methodName>\
                    <params></params></methodCall>";
        let call = parse_call(body.as_bytes()).unwrap().unwrap();
        assert!(call.params.is_empty());
    }

    #[test]
    fn rejects_empty_and_malformed_bodies() {
        assert_eq!(parse_call(b"").unwrap_err(), BodyError::Empty);
        let error = parse_call(b"<methodCall><methodName>getAPIVersion").unwrap_err();
        assert_eq!(
            error.reply_text(),
            "Invalid request: no element found: line 1, column 37\n"
        );
    }
}
