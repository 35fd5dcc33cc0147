//! Multicalls: many calls in one `multiCall` request, with typed results by handle.
//!
//! The hub runs the calls of one request in order, each in its own savepoint, and returns an
//! array with one entry per call: a one-element array holding the result, or a fault struct
//! (Koji adds a `traceback` member, which is ignored here). A fault fails only its own call.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use dxr::Value;

use crate::call::{Call, Decoder};
use crate::client::Client;
use crate::error::{Error, FaultKind, fault_from_struct};
use crate::value::type_name;

static NEXT_MULTICALL_ID: AtomicU64 = AtomicU64::new(1);

/// A set of calls to send with `multiCall`, in batches.
#[derive(Debug)]
pub struct MultiCall {
    id: u64,
    calls: Vec<(String, Vec<Value>)>,
    batch_size: Option<usize>,
}

impl Default for MultiCall {
    fn default() -> Self {
        Self::new()
    }
}

impl MultiCall {
    /// Creates an empty multicall that uses the client's batch size.
    pub fn new() -> Self {
        Self {
            id: NEXT_MULTICALL_ID.fetch_add(1, Ordering::Relaxed),
            calls: Vec::new(),
            batch_size: None,
        }
    }

    /// Sends at most `calls` calls per `multiCall` request instead of the client's batch size.
    pub fn batch_size(mut self, calls: usize) -> Self {
        self.batch_size = Some(calls);
        self
    }

    /// Adds a call; its result is taken from [`MultiCallResults`] with the returned handle.
    pub fn add<T>(&mut self, call: Call<T>) -> Handle<T> {
        let (method, params, decode) = call.into_parts();
        let index = self.calls.len();
        self.calls.push((method.to_string(), params));
        Handle {
            multicall: self.id,
            index,
            method: method.to_string(),
            decode,
        }
    }

    /// Number of calls added.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Returns true when no call was added.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }
}

/// Identifies one call of a [`MultiCall`] and decodes its result.
pub struct Handle<T> {
    multicall: u64,
    index: usize,
    method: String,
    decode: Decoder<T>,
}

impl<T> std::fmt::Debug for Handle<T> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Handle")
            .field("index", &self.index)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// The per-call results of a [`MultiCall`].
#[derive(Debug)]
pub struct MultiCallResults {
    multicall: u64,
    results: Vec<Option<Result<Value, Error>>>,
}

impl MultiCallResults {
    /// Takes and decodes the result of the call `handle` stands for.
    ///
    /// # Panics
    ///
    /// Panics when `handle` belongs to another multicall, which is a bug in the caller.
    pub fn take<T>(&mut self, handle: Handle<T>) -> Result<T, Error> {
        assert_eq!(
            handle.multicall, self.multicall,
            "multicall handle for {} used with the results of another multicall",
            handle.method
        );
        let result = self.results[handle.index]
            .take()
            .expect("each handle is taken once because take() consumes it");
        let value = result?;
        (handle.decode)(value).map_err(|error| Error::Decode {
            method: handle.method,
            detail: error.detail,
        })
    }

    /// Number of calls.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Returns true when the multicall had no calls.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

impl Client {
    /// Runs the calls of `multicall` in `multiCall` requests of at most the batch size each,
    /// in order.
    ///
    /// Returns an error when a request fails as a whole (after retries) or when the hub
    /// returns a different number of results than calls ([`Error::MulticallMismatch`]). A
    /// fault of one call is that call's result and does not fail the others.
    pub async fn multicall(&self, multicall: MultiCall) -> Result<MultiCallResults, Error> {
        let batch_size = multicall.batch_size.unwrap_or(self.multicall_batch());
        if batch_size == 0 {
            return Err(Error::Config(
                "multicall batch size is 0; use at least 1".to_string(),
            ));
        }

        let mut results = Vec::with_capacity(multicall.calls.len());
        for batch in multicall.calls.chunks(batch_size) {
            results.extend(self.run_batch(batch).await?.into_iter().map(Some));
        }
        Ok(MultiCallResults {
            multicall: multicall.id,
            results,
        })
    }

    /// Runs calls that share a result type and returns their results in order.
    pub async fn multicall_all<T>(
        &self,
        calls: Vec<Call<T>>,
    ) -> Result<Vec<Result<T, Error>>, Error> {
        let mut multicall = MultiCall::new();
        let handles: Vec<Handle<T>> = calls.into_iter().map(|call| multicall.add(call)).collect();
        let mut results = self.multicall(multicall).await?;
        Ok(handles
            .into_iter()
            .map(|handle| results.take(handle))
            .collect())
    }

    async fn run_batch(
        &self,
        batch: &[(String, Vec<Value>)],
    ) -> Result<Vec<Result<Value, Error>>, Error> {
        let calls = batch
            .iter()
            .map(|(method, params)| {
                Value::Struct(BTreeMap::from([
                    ("methodName".to_string(), Value::String(method.clone())),
                    ("params".to_string(), Value::Array(params.clone())),
                ]))
            })
            .collect();
        let reply = self.execute("multiCall", &[Value::Array(calls)]).await?;

        let Value::Array(entries) = reply else {
            return Err(Error::Decode {
                method: "multiCall".to_string(),
                detail: format!("expected array, got {}", type_name(&reply)),
            });
        };
        if entries.len() != batch.len() {
            return Err(Error::MulticallMismatch {
                url: self.url().to_string(),
                expected: batch.len(),
                received: entries.len(),
            });
        }

        Ok(entries
            .into_iter()
            .zip(batch)
            .map(|(entry, (method, _))| split_entry(method, entry))
            .collect())
    }
}

/// Reads one entry of a multicall reply: `[result]` or a fault struct.
fn split_entry(method: &str, entry: Value) -> Result<Value, Error> {
    match entry {
        Value::Array(mut values) if values.len() == 1 => Ok(values.remove(0)),
        Value::Array(values) => Err(Error::Decode {
            method: method.to_string(),
            detail: format!(
                "multicall entry holds {} values; expected exactly one result",
                values.len()
            ),
        }),
        Value::Struct(members) if members.contains_key("faultCode") => {
            match fault_from_struct(&members) {
                Some((code, message)) => Err(Error::Fault {
                    method: method.to_string(),
                    code,
                    kind: FaultKind::from_code(code),
                    message,
                }),
                None => Err(Error::Decode {
                    method: method.to_string(),
                    detail: "multicall fault entry lacks an int faultCode or a string faultString"
                        .to_string(),
                }),
            }
        }
        other => Err(Error::Decode {
            method: method.to_string(),
            detail: format!(
                "multicall entry is {}; expected a one-element array or a fault struct",
                type_name(&other)
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::struct_value;

    #[test]
    fn entries_split_into_results_and_faults() {
        let ok = split_entry("getAPIVersion", Value::Array(vec![Value::Integer(1)]));
        assert_eq!(ok.unwrap(), Value::Integer(1));

        let fault = struct_value([
            ("faultCode", Value::Integer(1000)),
            (
                "faultString",
                Value::String("Invalid hostInfo: nosuch".into()),
            ),
            (
                "traceback",
                Value::Array(vec![Value::String("Traceback ...".into())]),
            ),
        ]);
        let error = split_entry("getHost", fault).unwrap_err();
        assert_eq!(error.fault_kind(), Some(FaultKind::GenericError));
        assert!(
            error.to_string().contains("Invalid hostInfo: nosuch"),
            "{error}"
        );
    }

    #[test]
    fn malformed_entries_are_decode_errors() {
        let two = split_entry("getHost", Value::Array(vec![Value::Nil, Value::Nil])).unwrap_err();
        assert!(two.to_string().contains("holds 2 values"), "{two}");

        let bare = split_entry("getHost", Value::Integer(1)).unwrap_err();
        assert!(
            bare.to_string().contains("multicall entry is int"),
            "{bare}"
        );

        let fault = struct_value([("faultCode", Value::String("x".into()))]);
        let fault = split_entry("getHost", fault).unwrap_err();
        assert!(matches!(fault, Error::Decode { .. }), "{fault}");
    }
}
