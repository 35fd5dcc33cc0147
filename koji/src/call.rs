//! Typed calls: a method name, its parameters and the decoder of its reply.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use dxr::Value;

use crate::error::{DecodeError, Error};

/// Turns a reply value into the call's result type.
pub type Decoder<T> = Arc<dyn Fn(Value) -> Result<T, DecodeError> + Send + Sync>;

/// One hub call: method, parameters and reply decoder. Run it with
/// [`Client::call`](crate::Client::call) or add it to a [`MultiCall`](crate::MultiCall).
pub struct Call<T> {
    method: Cow<'static, str>,
    params: Vec<Value>,
    decode: Decoder<T>,
}

impl<T> Clone for Call<T> {
    fn clone(&self) -> Self {
        Self {
            method: self.method.clone(),
            params: self.params.clone(),
            decode: Arc::clone(&self.decode),
        }
    }
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Call")
            .field("method", &self.method)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl<T> Call<T> {
    /// Creates a call of `method` with positional `params` (keyword arguments go in a
    /// trailing struct made by [`kwargs_value`](crate::value::kwargs_value)).
    pub fn new(
        method: impl Into<Cow<'static, str>>,
        params: Vec<Value>,
        decode: impl Fn(Value) -> Result<T, DecodeError> + Send + Sync + 'static,
    ) -> Self {
        Self {
            method: method.into(),
            params,
            decode: Arc::new(decode),
        }
    }

    /// Returns the method name.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Returns the parameters as sent.
    pub fn params(&self) -> &[Value] {
        &self.params
    }

    /// Decodes a reply value of this call, naming the method in the error.
    pub fn decode(&self, value: Value) -> Result<T, Error> {
        (self.decode)(value).map_err(|error| Error::Decode {
            method: self.method.to_string(),
            detail: error.detail,
        })
    }

    pub(crate) fn into_parts(self) -> (Cow<'static, str>, Vec<Value>, Decoder<T>) {
        (self.method, self.params, self.decode)
    }
}

impl Call<Value> {
    /// Creates a call whose reply is returned as the raw value, for methods without a typed
    /// constructor (such as `echo`).
    pub fn raw(method: impl Into<Cow<'static, str>>, params: Vec<Value>) -> Self {
        Self::new(method, params, Ok)
    }
}
