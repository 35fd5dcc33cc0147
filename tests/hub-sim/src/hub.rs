//! The simulated hub: the world, the version mode, fault rules, stats and the load engine.
//! It dispatches XML-RPC calls, multicalls included, and renders their replies.

use dxr::Value;

use crate::error::SimError;
use crate::inject::FaultRules;
use crate::load::LoadEngine;
use crate::methods;
use crate::stats::{Stats, rows_of};
use crate::time::Micros;
use crate::version::VersionMode;
use crate::world::World;
use crate::xmlrpc::Call;
use crate::xmlrpc::args::Signature;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::marshal;

const MULTICALL: Signature = Signature {
    name: "ModXMLRPCRequestHandler.multiCall",
    params: &["calls"],
    required: 1,
    method: true,
};

/// The whole mutable state behind the server.
#[derive(Debug)]
pub struct Hub {
    /// The data.
    pub world: World,
    /// Which hub release to imitate.
    pub version: VersionMode,
    /// Per-method counters.
    pub stats: Stats,
    /// Fault injection rules.
    pub faults: FaultRules,
    /// The load-mode engine, when load mode is on.
    pub engine: Option<LoadEngine>,
    /// Virtual seconds added to the clock before each XML-RPC request.
    pub advance_per_call: Option<f64>,
}

/// True for the two names of the multicall method.
pub fn is_multicall(method: &str) -> bool {
    method == "multiCall" || method == "system.multicall"
}

/// Returns the method names of the calls inside a multicall's params.
pub fn inner_methods(params: &[Value]) -> Vec<String> {
    let Some(Value::Array(calls)) = params.first() else {
        return Vec::new();
    };
    calls
        .iter()
        .filter_map(|call| match call {
            Value::Struct(members) => match members.get("methodName") {
                Some(Value::String(name)) => Some(name.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

impl Hub {
    /// Moves the clock to `target`, running load-mode tasks up to it.
    ///
    /// With load mode on the clock cannot move back, because generated events would run out
    /// of order.
    pub fn advance_to(&mut self, target: Micros) -> Result<(), SimError> {
        match &mut self.engine {
            Some(engine) => {
                if target < self.world.now {
                    return Err(SimError::InvalidControl(format!(
                        "cannot set the clock back from {} to {} in load mode",
                        self.world.now, target
                    )));
                }
                engine.run_until(&mut self.world, target);
            }
            None => self.world.now = target,
        }
        Ok(())
    }

    /// Runs one XML-RPC call and returns the response body.
    pub fn answer(&mut self, call: Call) -> String {
        if let Some(seconds) = self.advance_per_call {
            let target = self.world.now.add_secs(seconds);
            if let Err(error) = self.advance_to(target) {
                tracing::warn!(%error, "Clock advance per call failed.");
            }
        }

        if is_multicall(&call.method) {
            return match self.multicall_entries(&call.method, &call.params) {
                Ok(entries) => {
                    let mut body = String::from(
                        "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
                         <value><array><data>\n",
                    );
                    let count = entries.len();
                    for entry in entries {
                        body.push_str(&entry);
                    }
                    body.push_str(
                        "</data></array></value>\n</param>\n</params>\n</methodResponse>\n",
                    );
                    self.stats
                        .record_result(&call.method, count as u64, body.len());
                    body
                }
                Err(fault) => self.fault_body(&call.method, &fault),
            };
        }

        if let Some(fault) = self.faults.take_call_fault(&call.method, true) {
            return self.fault_body(&call.method, &fault);
        }
        match methods::dispatch(&self.world, self.version, &call.method, call.params) {
            Ok(value) => {
                let body = marshal::response(&value);
                self.stats
                    .record_result(&call.method, rows_of(&value), body.len());
                body
            }
            Err(fault) => self.fault_body(&call.method, &fault),
        }
    }

    fn fault_body(&mut self, method: &str, fault: &Fault) -> String {
        let body = marshal::fault_response(fault.code, &fault.top_level_string());
        self.stats.record_fault(method, body.len());
        body
    }

    /// Runs the calls of a multicall and returns each entry rendered as XML: a one-element
    /// array holding the result, or a fault struct.
    fn multicall_entries(&mut self, method: &str, params: &[Value]) -> Result<Vec<String>, Fault> {
        if let Some(fault) = self.faults.take_call_fault(method, true) {
            return Err(fault);
        }
        let (positional, keywords) = crate::xmlrpc::args::decode_args(params.to_vec());
        let bound = MULTICALL.bind(positional, keywords)?;
        let calls = match bound.get(0) {
            Some(Value::Array(calls)) => calls.clone(),
            Some(other) => {
                return Err(Fault::exception(
                    "TypeError",
                    format!(
                        "'{}' object is not iterable",
                        crate::xmlrpc::python::type_name(other)
                    ),
                ));
            }
            None => Vec::new(),
        };

        let mut entries = Vec::with_capacity(calls.len());
        for call in calls {
            let (method, outcome) = self.inner_call(call);
            let mut text = String::new();
            match outcome {
                Ok(value) => {
                    let rows = rows_of(&value);
                    marshal::write_value(&mut text, &Value::Array(vec![value]));
                    self.stats.record_result(&method, rows, text.len());
                }
                Err(fault) => {
                    marshal::write_value(&mut text, &fault.multicall_entry());
                    self.stats.record_fault(&method, text.len());
                }
            }
            entries.push(text);
        }
        Ok(entries)
    }

    /// Runs one call of a multicall; returns the name it is counted under and its outcome.
    fn inner_call(&mut self, call: Value) -> (String, Result<Value, Fault>) {
        let Value::Struct(mut members) = call else {
            let fault = Fault::exception(
                "TypeError",
                "list indices must be integers or slices, not str",
            );
            return ("(invalid call)".to_owned(), Err(fault));
        };
        let method = match members.remove("methodName") {
            Some(Value::String(name)) => name,
            Some(_) | None => {
                return (
                    "(invalid call)".to_owned(),
                    Err(Fault::exception("KeyError", "methodName")),
                );
            }
        };
        let params = match members.remove("params") {
            Some(Value::Array(params)) => params,
            _ => return (method, Err(Fault::exception("KeyError", "params"))),
        };

        if let Some(fault) = self.faults.take_call_fault(&method, false) {
            return (method, Err(fault));
        }
        if is_multicall(&method) {
            let entries = self.nested_multicall(&params);
            return (method, entries);
        }
        let outcome = methods::dispatch(&self.world, self.version, &method, params);
        (method, outcome)
    }

    /// Runs a multicall nested in a multicall and returns its entries as values.
    fn nested_multicall(&mut self, params: &[Value]) -> Result<Value, Fault> {
        let (positional, keywords) = crate::xmlrpc::args::decode_args(params.to_vec());
        let bound = MULTICALL.bind(positional, keywords)?;
        let calls = match bound.get(0) {
            Some(Value::Array(calls)) => calls.clone(),
            _ => Vec::new(),
        };
        let mut entries = Vec::with_capacity(calls.len());
        for call in calls {
            let (method, outcome) = self.inner_call(call);
            let entry = match outcome {
                Ok(value) => {
                    self.stats.record_result(&method, rows_of(&value), 0);
                    Value::Array(vec![value])
                }
                Err(fault) => {
                    self.stats.record_fault(&method, 0);
                    fault.multicall_entry()
                }
            };
            entries.push(entry);
        }
        Ok(Value::Array(entries))
    }
}
