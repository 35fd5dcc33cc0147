//! Binding XML-RPC params to a hub method's Python signature.
//!
//! The hub splits keyword arguments off the params (`koji.decode_args`: a trailing struct
//! whose `__starstar` member is true) and calls the handler. A `TypeError` from that call
//! becomes `ParameterError` (1019) with Python's own message
//! (`koji.util.call_with_argcheck`). The messages below are CPython 3.11's, which names
//! methods by their qualified name (`RootExports.listHosts()`).

use std::collections::BTreeMap;

use dxr::Value;

use super::fault::Fault;
use super::python;

/// The Python signature of a hub method.
#[derive(Clone, Copy, Debug)]
pub struct Signature {
    /// The name Python prints in `TypeError` messages.
    pub name: &'static str,
    /// Parameter names, in order.
    pub params: &'static [&'static str],
    /// How many leading parameters have no default.
    pub required: usize,
    /// A bound method: Python counts `self` in its positional counts.
    pub method: bool,
}

/// Arguments bound to parameter slots.
#[derive(Debug)]
pub struct Bound {
    slots: Vec<Option<Value>>,
}

impl Bound {
    /// Returns the argument given for parameter `index`, if any.
    pub fn get(&self, index: usize) -> Option<&Value> {
        self.slots.get(index).and_then(Option::as_ref)
    }

    /// Returns the argument for parameter `index`, treating `None` like a missing argument.
    pub fn non_nil(&self, index: usize) -> Option<&Value> {
        self.get(index).filter(|value| !matches!(value, Value::Nil))
    }

    /// Python's truth value of the argument (false when missing).
    pub fn flag(&self, index: usize) -> bool {
        self.get(index).is_some_and(python::truthy)
    }
}

/// Splits keyword arguments off the params as `koji.decode_args` does.
pub fn decode_args(mut params: Vec<Value>) -> (Vec<Value>, BTreeMap<String, Value>) {
    let is_kwargs = matches!(
        params.last(),
        Some(Value::Struct(members))
            if members.get("__starstar").is_some_and(python::truthy)
    );
    if !is_kwargs {
        return (params, BTreeMap::new());
    }

    let Some(Value::Struct(mut members)) = params.pop() else {
        return (params, BTreeMap::new());
    };
    members.remove("__starstar");
    (params, members)
}

impl Signature {
    /// Binds positional and keyword arguments, or returns the `ParameterError` Python would
    /// raise.
    pub fn bind(
        &self,
        positional: Vec<Value>,
        keywords: BTreeMap<String, Value>,
    ) -> Result<Bound, Fault> {
        let mut slots: Vec<Option<Value>> = vec![None; self.params.len()];
        let given = positional.len();

        for (name, value) in keywords {
            let Some(index) = self.params.iter().position(|param| *param == name) else {
                return Err(Fault::parameter(format!(
                    "{}() got an unexpected keyword argument '{name}'",
                    self.name
                )));
            };
            if index < given {
                return Err(Fault::parameter(format!(
                    "{}() got multiple values for argument '{name}'",
                    self.name
                )));
            }
            slots[index] = Some(value);
        }

        if given > self.params.len() {
            return Err(Fault::parameter(self.too_many_message(given)));
        }
        for (index, value) in positional.into_iter().enumerate() {
            slots[index] = Some(value);
        }

        let missing: Vec<&str> = self.params[..self.required]
            .iter()
            .zip(&slots)
            .filter(|(_, slot)| slot.is_none())
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            return Err(Fault::parameter(self.missing_message(&missing)));
        }

        Ok(Bound { slots })
    }

    fn too_many_message(&self, given: usize) -> String {
        let extra = usize::from(self.method);
        let given = given + extra;
        let required = self.required + extra;
        let total = self.params.len() + extra;
        let was = if given == 1 { "was" } else { "were" };
        if required == total {
            let plural = if total == 1 { "" } else { "s" };
            format!(
                "{}() takes {total} positional argument{plural} but {given} {was} given",
                self.name
            )
        } else {
            format!(
                "{}() takes from {required} to {total} positional arguments \
                 but {given} {was} given",
                self.name
            )
        }
    }

    fn missing_message(&self, missing: &[&str]) -> String {
        let quoted: Vec<String> = missing.iter().map(|name| format!("'{name}'")).collect();
        let list = match quoted.len() {
            1 => quoted[0].clone(),
            2 => format!("{} and {}", quoted[0], quoted[1]),
            _ => {
                let (last, rest) = quoted.split_last().unwrap_or((&quoted[0], &[]));
                format!("{}, and {last}", rest.join(", "))
            }
        };
        let plural = if missing.len() == 1 { "" } else { "s" };
        format!(
            "{}() missing {} required positional argument{plural}: {list}",
            self.name,
            missing.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_HOST: Signature = Signature {
        name: "get_host",
        params: &["hostInfo", "strict", "event"],
        required: 1,
        method: false,
    };

    const LAST_UPDATE_OLD: Signature = Signature {
        name: "RootExports.getLastHostUpdate",
        params: &["hostID"],
        required: 1,
        method: true,
    };

    fn message(result: Result<Bound, Fault>) -> String {
        result.err().map(|fault| fault.message).unwrap_or_default()
    }

    #[test]
    fn missing_argument_message() {
        assert_eq!(
            message(GET_HOST.bind(vec![], BTreeMap::new())),
            "get_host() missing 1 required positional argument: 'hostInfo'"
        );
    }

    #[test]
    fn too_many_arguments_message() {
        let four = vec![Value::Integer(1); 4];
        assert_eq!(
            message(GET_HOST.bind(four, BTreeMap::new())),
            "get_host() takes from 1 to 3 positional arguments but 4 were given"
        );
        let two = vec![Value::Integer(1), Value::Boolean(true)];
        assert_eq!(
            message(LAST_UPDATE_OLD.bind(two, BTreeMap::new())),
            "RootExports.getLastHostUpdate() takes 2 positional arguments but 3 were given"
        );
    }

    #[test]
    fn keyword_errors() {
        let keywords = BTreeMap::from([("ts".to_owned(), Value::Boolean(true))]);
        assert_eq!(
            message(LAST_UPDATE_OLD.bind(vec![Value::Integer(1)], keywords)),
            "RootExports.getLastHostUpdate() got an unexpected keyword argument 'ts'"
        );
        let keywords = BTreeMap::from([("hostInfo".to_owned(), Value::Integer(2))]);
        assert_eq!(
            message(GET_HOST.bind(vec![Value::Integer(1)], keywords)),
            "get_host() got multiple values for argument 'hostInfo'"
        );
    }

    #[test]
    fn starstar_struct_becomes_keywords() {
        let kwargs = Value::Struct(BTreeMap::from([
            ("__starstar".to_owned(), Value::Boolean(true)),
            ("ts".to_owned(), Value::Boolean(true)),
        ]));
        let (positional, keywords) = decode_args(vec![Value::Integer(1), kwargs]);
        assert_eq!(positional, vec![Value::Integer(1)]);
        assert_eq!(keywords.get("ts"), Some(&Value::Boolean(true)));
        assert!(!keywords.contains_key("__starstar"));
    }
}
