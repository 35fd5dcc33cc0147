//! The task table: rows sorted by id, an index of active tasks, and storage order.
//!
//! Ids come from a sequence, so new rows are appended and the vector stays sorted by id; a
//! lookup is a binary search. Deleted rows stay as tombstones until compaction. The active
//! index (FREE, OPEN, ASSIGNED) is what makes `listTasks({'state': [0, 1, 4]})` and the
//! highest-id lookup cheap, as the hub's `task_by_state` index and primary key do.
//!
//! PostgreSQL returns rows without `ORDER BY` in heap order, where an updated row moves to the
//! end. Each row carries a storage sequence number that an update renews, and unordered
//! results are sorted by it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use dxr::Value;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::hashing::FastMap;
use crate::time::Micros;
use crate::value::Val;
use crate::xmlrpc::marshal;

/// A task state (`koji.TASK_STATES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// 0: queued, no host.
    Free,
    /// 1: running on a host.
    Open,
    /// 2: finished successfully.
    Closed,
    /// 3: canceled.
    Canceled,
    /// 4: the scheduler chose a host that has not opened it yet.
    Assigned,
    /// 5: finished with a failure.
    Failed,
}

impl TaskState {
    /// Every state, in code order.
    pub const ALL: [TaskState; 6] = [
        TaskState::Free,
        TaskState::Open,
        TaskState::Closed,
        TaskState::Canceled,
        TaskState::Assigned,
        TaskState::Failed,
    ];

    /// Returns the numeric code the hub uses.
    pub fn code(self) -> i64 {
        match self {
            TaskState::Free => 0,
            TaskState::Open => 1,
            TaskState::Closed => 2,
            TaskState::Canceled => 3,
            TaskState::Assigned => 4,
            TaskState::Failed => 5,
        }
    }

    /// Returns the state with numeric code `code`.
    pub fn from_code(code: i64) -> Option<TaskState> {
        TaskState::ALL
            .into_iter()
            .find(|state| state.code() == code)
    }

    /// Returns the lower-case name (`free`, `open`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Free => "free",
            TaskState::Open => "open",
            TaskState::Closed => "closed",
            TaskState::Canceled => "canceled",
            TaskState::Assigned => "assigned",
            TaskState::Failed => "failed",
        }
    }

    /// Parses a state name, case-insensitively.
    pub fn from_name(name: &str) -> Option<TaskState> {
        TaskState::ALL
            .into_iter()
            .find(|state| state.name().eq_ignore_ascii_case(name))
    }

    /// FREE, OPEN or ASSIGNED.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TaskState::Free | TaskState::Open | TaskState::Assigned
        )
    }

    /// CLOSED, CANCELED or FAILED.
    pub fn is_terminal(self) -> bool {
        !self.is_active()
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl Serialize for TaskState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TaskState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StateVisitor;

        impl Visitor<'_> for StateVisitor {
            type Value = TaskState;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(
                    "a task state: free, open, closed, canceled, assigned, failed or 0-5",
                )
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<TaskState, E> {
                i64::try_from(value)
                    .ok()
                    .and_then(TaskState::from_code)
                    .ok_or_else(|| E::custom(format!("invalid task state {value}: expected 0-5")))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<TaskState, E> {
                TaskState::from_code(value)
                    .ok_or_else(|| E::custom(format!("invalid task state {value}: expected 0-5")))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<TaskState, E> {
                TaskState::from_name(value).ok_or_else(|| {
                    E::custom(format!(
                        "invalid task state {value:?}: expected free, open, closed, canceled, \
                         assigned or failed"
                    ))
                })
            }
        }

        deserializer.deserialize_any(StateVisitor)
    }
}

/// A stored request or result: the XML text the hub keeps and its decoded form.
#[derive(Debug)]
pub struct Payload {
    /// The XML document as stored in the `task.request`/`task.result` column.
    pub xml: Box<str>,
    /// The decoded value: the param list of a request, `[result]` for a result (the tuple
    /// `xmlrpc.client.loads` returns), or a `{faultCode, faultString}` struct for a fault.
    pub decoded: Value,
}

impl Payload {
    /// Builds the request `method(params...)` as Koji stores it.
    pub fn request(method: &str, params: &[Val]) -> Payload {
        Payload {
            xml: marshal::method_call(method, params).into_boxed_str(),
            decoded: Value::Array(params.iter().map(Val::to_value).collect()),
        }
    }

    /// Reads a request given as XML text.
    pub fn request_from_xml(xml: String) -> Result<Payload, String> {
        let call = dxr::MethodCall::from_xml(&xml)
            .map_err(|error| format!("not an XML-RPC methodCall: {error}"))?;
        Ok(Payload {
            decoded: Value::Array(call.params),
            xml: xml.into_boxed_str(),
        })
    }

    /// Builds a successful result.
    pub fn result(value: &Val) -> Payload {
        Payload {
            xml: marshal::stored_response(value).into_boxed_str(),
            decoded: Value::Array(vec![value.to_value()]),
        }
    }

    /// Reads a result given as XML text (a methodResponse with params or a fault).
    pub fn result_from_xml(xml: String) -> Result<Payload, String> {
        if let Ok(response) = dxr::MethodResponse::from_xml(&xml) {
            return Ok(Payload {
                decoded: Value::Array(vec![response.value]),
                xml: xml.into_boxed_str(),
            });
        }
        let fault = dxr::FaultResponse::from_xml(&xml)
            .map_err(|error| format!("not an XML-RPC methodResponse: {error}"))?
            .fault;
        Ok(Payload {
            decoded: fault_struct(fault.code(), fault.string()),
            xml: xml.into_boxed_str(),
        })
    }

    /// Builds a failure result: the fault the task raised.
    pub fn fault(code: i32, string: &str) -> Payload {
        Payload {
            xml: marshal::fault_response(code, string).into_boxed_str(),
            decoded: fault_struct(code, string),
        }
    }

    /// Returns the decoded params of a request payload.
    pub fn params(&self) -> &[Value] {
        match &self.decoded {
            Value::Array(items) => items,
            _ => &[],
        }
    }
}

fn fault_struct(code: i32, string: &str) -> Value {
    Value::Struct(
        [
            ("faultCode".to_owned(), Value::Integer(code)),
            ("faultString".to_owned(), Value::String(string.to_owned())),
        ]
        .into(),
    )
}

/// An interned string; 0 stands for none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(u32);

impl Sym {
    /// No string.
    pub const NONE: Sym = Sym(0);

    /// True unless this is [`Sym::NONE`].
    pub fn is_some(self) -> bool {
        self.0 != 0
    }
}

/// Interned method, arch, label and tag names, shared by all rows.
#[derive(Debug)]
pub struct Symbols {
    names: Vec<Arc<str>>,
    index: FastMap<Arc<str>, Sym>,
}

impl Default for Symbols {
    fn default() -> Self {
        Symbols {
            names: vec![Arc::from("")],
            index: FastMap::default(),
        }
    }
}

impl Symbols {
    /// Interns `name`.
    pub fn intern(&mut self, name: &str) -> Sym {
        if let Some(sym) = self.index.get(name) {
            return *sym;
        }
        let sym = Sym(self.names.len() as u32);
        let shared: Arc<str> = Arc::from(name);
        self.names.push(shared.clone());
        self.index.insert(shared, sym);
        sym
    }

    /// Interns an optional name.
    pub fn intern_opt(&mut self, name: Option<&str>) -> Sym {
        name.map_or(Sym::NONE, |name| self.intern(name))
    }

    /// Returns the string for `sym` (empty for [`Sym::NONE`]).
    pub fn name(&self, sym: Sym) -> &Arc<str> {
        &self.names[sym.0 as usize]
    }

    /// Returns the string for `sym`, or `None` for [`Sym::NONE`].
    pub fn get(&self, sym: Sym) -> Option<&Arc<str>> {
        sym.is_some().then(|| self.name(sym))
    }
}

const NO_TIME: i64 = i64::MIN;

/// One row of the task table, kept compact (about 110 bytes) for tables of a million rows.
#[derive(Clone, Debug)]
pub struct Task {
    /// Task id.
    pub id: i64,
    seq: u64,
    /// Channel id.
    pub channel_id: i64,
    host_id: i64,
    parent: i64,
    /// Owner user id.
    pub owner: i64,
    create: i64,
    start: i64,
    completion: i64,
    /// Weight (1.0 until a host sets it).
    pub weight: f64,
    /// The request.
    pub request: Arc<Payload>,
    /// The result, once the task has finished.
    pub result: Option<Arc<Payload>>,
    /// Method name.
    pub method: Sym,
    /// Arch.
    pub arch: Sym,
    /// Subtask label.
    pub label: Sym,
    /// The tag of the task's tree, for ground truth.
    pub tag: Sym,
    /// Priority (lower is more urgent).
    pub priority: i32,
    /// State.
    pub state: TaskState,
    /// Parent waiting on subtasks.
    pub waiting: Option<bool>,
    /// Subtask being awaited.
    pub awaited: Option<bool>,
    deleted: bool,
}

/// The fields of a new row.
#[derive(Clone, Debug)]
pub struct NewRow {
    /// Task id.
    pub id: i64,
    /// State.
    pub state: TaskState,
    /// Method name.
    pub method: Sym,
    /// Channel id.
    pub channel_id: i64,
    /// Host id.
    pub host_id: Option<i64>,
    /// Parent task id.
    pub parent: Option<i64>,
    /// Subtask label.
    pub label: Sym,
    /// Arch.
    pub arch: Sym,
    /// Owner user id.
    pub owner: i64,
    /// Priority.
    pub priority: i32,
    /// Weight.
    pub weight: f64,
    /// Parent waiting flag.
    pub waiting: Option<bool>,
    /// Awaited flag.
    pub awaited: Option<bool>,
    /// Creation time.
    pub create: Micros,
    /// Start time.
    pub start: Option<Micros>,
    /// Completion time.
    pub completion: Option<Micros>,
    /// Request.
    pub request: Arc<Payload>,
    /// Result.
    pub result: Option<Arc<Payload>>,
    /// Tag of the tree.
    pub tag: Sym,
}

fn encode_time(time: Option<Micros>) -> i64 {
    time.map_or(NO_TIME, |time| time.0)
}

fn decode_time(raw: i64) -> Option<Micros> {
    (raw != NO_TIME).then_some(Micros(raw))
}

fn encode_id(id: Option<i64>) -> i64 {
    id.unwrap_or(0)
}

fn decode_id(raw: i64) -> Option<i64> {
    (raw != 0).then_some(raw)
}

impl Task {
    fn from_row(row: NewRow, seq: u64) -> Task {
        Task {
            id: row.id,
            seq,
            channel_id: row.channel_id,
            host_id: encode_id(row.host_id),
            parent: encode_id(row.parent),
            owner: row.owner,
            create: row.create.0,
            start: encode_time(row.start),
            completion: encode_time(row.completion),
            weight: row.weight,
            request: row.request,
            result: row.result,
            method: row.method,
            arch: row.arch,
            label: row.label,
            tag: row.tag,
            priority: row.priority,
            state: row.state,
            waiting: row.waiting,
            awaited: row.awaited,
            deleted: false,
        }
    }

    /// Host id.
    pub fn host_id(&self) -> Option<i64> {
        decode_id(self.host_id)
    }

    /// Sets the host id.
    pub fn set_host_id(&mut self, host: Option<i64>) {
        self.host_id = encode_id(host);
    }

    /// Parent task id.
    pub fn parent(&self) -> Option<i64> {
        decode_id(self.parent)
    }

    /// Creation time.
    pub fn create(&self) -> Micros {
        Micros(self.create)
    }

    /// Start time.
    pub fn start(&self) -> Option<Micros> {
        decode_time(self.start)
    }

    /// Sets the start time.
    pub fn set_start(&mut self, time: Option<Micros>) {
        self.start = encode_time(time);
    }

    /// Completion time.
    pub fn completion(&self) -> Option<Micros> {
        decode_time(self.completion)
    }

    /// Sets the completion time.
    pub fn set_completion(&mut self, time: Option<Micros>) {
        self.completion = encode_time(time);
    }

    /// Position in storage (heap) order.
    pub fn storage_seq(&self) -> u64 {
        self.seq
    }
}

/// The task table.
#[derive(Debug, Default)]
pub struct TaskTable {
    rows: Vec<Task>,
    deleted: usize,
    active: BTreeSet<i64>,
    next_seq: u64,
    max_id: i64,
    /// Interned names used by the rows.
    pub symbols: Symbols,
}

impl TaskTable {
    /// Builds a table from rows given in storage order.
    ///
    /// Returns an error naming the id when two rows share one or an id is not positive.
    pub fn from_rows(rows: Vec<NewRow>, symbols: Symbols) -> Result<TaskTable, String> {
        let mut table = TaskTable {
            symbols,
            ..TaskTable::default()
        };
        for row in rows {
            if row.id <= 0 {
                return Err(format!(
                    "task id {} is not positive; task ids start at 1",
                    row.id
                ));
            }
            let seq = table.take_seq();
            table.rows.push(Task::from_row(row, seq));
        }
        table.rows.sort_by_key(|task| task.id);
        if let Some(pair) = table.rows.windows(2).find(|pair| pair[0].id == pair[1].id) {
            return Err(format!("task id {} appears twice", pair[0].id));
        }

        table.max_id = table.rows.last().map_or(0, |task| task.id);
        table.active = table
            .rows
            .iter()
            .filter(|task| task.state.is_active())
            .map(|task| task.id)
            .collect();
        Ok(table)
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    fn position(&self, id: i64) -> Option<usize> {
        let index = self.rows.binary_search_by_key(&id, |task| task.id).ok()?;
        (!self.rows[index].deleted).then_some(index)
    }

    /// Returns the row with `id`, unless it does not exist or was deleted.
    pub fn get(&self, id: i64) -> Option<&Task> {
        self.position(id).map(|index| &self.rows[index])
    }

    /// Returns the id the next created task gets (ids are never reused).
    pub fn next_id(&self) -> i64 {
        self.max_id + 1
    }

    /// Returns the highest id ever assigned.
    pub fn max_id(&self) -> i64 {
        self.max_id
    }

    /// Appends a new row; its id must be above every id used so far.
    pub fn append(&mut self, row: NewRow) -> Result<(), String> {
        if row.id <= self.max_id {
            return Err(format!(
                "task id {} is not above the highest id {}; new tasks take ids from a sequence",
                row.id, self.max_id
            ));
        }
        self.max_id = row.id;
        if row.state.is_active() {
            self.active.insert(row.id);
        }
        let seq = self.take_seq();
        self.rows.push(Task::from_row(row, seq));
        Ok(())
    }

    /// Changes the row with `id` and moves it to the end of storage order, as an UPDATE does.
    ///
    /// Returns the row as it was before the change, or `None` when it does not exist.
    pub fn update(&mut self, id: i64, change: impl FnOnce(&mut Task)) -> Option<Task> {
        let index = self.position(id)?;
        let seq = self.take_seq();
        let task = &mut self.rows[index];
        let before = task.clone();
        change(task);
        task.id = before.id;
        task.seq = seq;

        if before.state.is_active() != task.state.is_active() {
            if task.state.is_active() {
                self.active.insert(id);
            } else {
                self.active.remove(&id);
            }
        }
        Some(before)
    }

    /// Deletes the row with `id`, returning it.
    pub fn delete(&mut self, id: i64) -> Option<Task> {
        let index = self.position(id)?;
        let removed = self.rows[index].clone();
        self.rows[index].deleted = true;
        self.deleted += 1;
        self.active.remove(&id);
        if self.deleted > 1024 && self.deleted * 4 > self.rows.len() {
            self.rows.retain(|task| !task.deleted);
            self.deleted = 0;
        }
        Some(removed)
    }

    /// Returns the live rows in id order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Task> {
        self.rows.iter().filter(|task| !task.deleted)
    }

    /// Ids of FREE, OPEN and ASSIGNED tasks, ascending.
    pub fn active_ids(&self) -> &BTreeSet<i64> {
        &self.active
    }

    /// Number of live rows.
    pub fn len(&self) -> usize {
        self.rows.len() - self.deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(table: &mut TaskTable, id: i64, state: TaskState) -> NewRow {
        NewRow {
            id,
            state,
            method: table.symbols.intern("build"),
            channel_id: 1,
            host_id: None,
            parent: None,
            label: Sym::NONE,
            arch: table.symbols.intern("noarch"),
            owner: 1,
            priority: 20,
            weight: 1.0,
            waiting: None,
            awaited: None,
            create: Micros(0),
            start: None,
            completion: None,
            request: Arc::new(Payload::request("build", &[])),
            result: None,
            tag: Sym::NONE,
        }
    }

    #[test]
    fn update_moves_row_and_index() {
        let mut table = TaskTable::default();
        let first = row(&mut table, 1, TaskState::Free);
        let second = row(&mut table, 2, TaskState::Free);
        table.append(first).unwrap();
        table.append(second).unwrap();
        assert_eq!(table.active_ids().len(), 2);

        let before = table
            .update(1, |task| task.state = TaskState::Closed)
            .unwrap();
        assert_eq!(before.state, TaskState::Free);
        assert_eq!(
            table.active_ids().iter().copied().collect::<Vec<_>>(),
            vec![2]
        );
        assert!(table.get(1).unwrap().storage_seq() > table.get(2).unwrap().storage_seq());
    }

    #[test]
    fn ids_come_from_a_sequence() {
        let mut table = TaskTable::default();
        let first = row(&mut table, 5, TaskState::Free);
        table.append(first).unwrap();
        let stale = row(&mut table, 3, TaskState::Free);
        assert!(table.append(stale).is_err());
        table.delete(5).unwrap();
        assert!(table.get(5).is_none());
        assert_eq!(table.next_id(), 6);
    }
}
