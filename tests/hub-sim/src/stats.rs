//! Per-method counters for benchmarks: calls, faults, rows returned and bytes served.
//!
//! A multicall counts once under its own name (rows = number of results, bytes = the whole
//! reply) and each call inside it counts under the inner method (bytes = the size of its
//! entry in the reply).

use std::collections::BTreeMap;

use dxr::Value;
use serde::{Deserialize, Serialize};

/// Counters of one method.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodStats {
    /// Calls, faults included.
    pub calls: u64,
    /// Calls that returned a fault.
    pub faults: u64,
    /// Rows returned: list length, 1 for a struct or scalar, 0 for nil or a fault.
    pub rows: u64,
    /// Response bytes served.
    pub bytes: u64,
    /// Requests that an injected transport fault (delay excluded) replaced.
    pub injected: u64,
}

impl MethodStats {
    fn add(&mut self, other: &MethodStats) {
        self.calls += other.calls;
        self.faults += other.faults;
        self.rows += other.rows;
        self.bytes += other.bytes;
        self.injected += other.injected;
    }
}

/// A copy of the counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Counters by method name.
    pub methods: BTreeMap<String, MethodStats>,
    /// The sum over all methods, inner multicall calls included.
    pub total: MethodStats,
}

impl StatsSnapshot {
    /// Returns the counters of `method` (zero when it was never called).
    pub fn method(&self, method: &str) -> MethodStats {
        self.methods.get(method).cloned().unwrap_or_default()
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Stats {
    methods: BTreeMap<String, MethodStats>,
}

/// Rows in a result: list length, 1 for a struct or other value, 0 for nil.
pub fn rows_of(value: &Value) -> u64 {
    match value {
        Value::Nil => 0,
        Value::Array(items) => items.len() as u64,
        _ => 1,
    }
}

impl Stats {
    fn entry(&mut self, method: &str) -> &mut MethodStats {
        if !self.methods.contains_key(method) {
            self.methods
                .insert(method.to_owned(), MethodStats::default());
        }
        self.methods.get_mut(method).expect("entry inserted above")
    }

    /// Counts a successful call.
    pub fn record_result(&mut self, method: &str, rows: u64, bytes: usize) {
        let entry = self.entry(method);
        entry.calls += 1;
        entry.rows += rows;
        entry.bytes += bytes as u64;
    }

    /// Counts a call that returned a fault.
    pub fn record_fault(&mut self, method: &str, bytes: usize) {
        let entry = self.entry(method);
        entry.calls += 1;
        entry.faults += 1;
        entry.bytes += bytes as u64;
    }

    /// Counts a request replaced by an injected transport fault, with the bytes sent.
    pub fn record_injected(&mut self, method: &str, bytes: usize) {
        let entry = self.entry(method);
        entry.calls += 1;
        entry.injected += 1;
        entry.bytes += bytes as u64;
    }

    /// Counts a reply whose body was cut short by an injected fault: the call was already
    /// counted, so only `injected` grows and the bytes not sent are taken back.
    pub fn record_truncated(&mut self, method: &str, bytes_not_sent: usize) {
        let entry = self.entry(method);
        entry.injected += 1;
        entry.bytes = entry.bytes.saturating_sub(bytes_not_sent as u64);
    }

    /// Returns a copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut total = MethodStats::default();
        for stats in self.methods.values() {
            total.add(stats);
        }
        StatsSnapshot {
            methods: self.methods.clone(),
            total,
        }
    }

    /// Sets every counter back to zero.
    pub fn reset(&mut self) {
        self.methods.clear();
    }
}
