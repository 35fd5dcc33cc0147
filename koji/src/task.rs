//! Tasks as `getTaskInfo` and `listTasks` return them.

use std::fmt;

use dxr::{MethodCall, Value};

use crate::error::{DecodeError, excerpt};
use crate::value::{array, decode_item};

/// Task states (`koji.TASK_STATES`, numbered by position).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskState {
    /// 0: queued, no host.
    Free,
    /// 1: running on its host.
    Open,
    /// 2: finished successfully.
    Closed,
    /// 3: canceled.
    Canceled,
    /// 4: the scheduler chose a host that has not opened the task yet (hub 1.34+).
    Assigned,
    /// 5: finished with a failure.
    Failed,
}

impl TaskState {
    /// All states in code order.
    pub const ALL: [TaskState; 6] = [
        TaskState::Free,
        TaskState::Open,
        TaskState::Closed,
        TaskState::Canceled,
        TaskState::Assigned,
        TaskState::Failed,
    ];

    /// Returns the state with numeric code `code`, or `None` for a code Koji does not define.
    pub fn from_code(code: i64) -> Option<Self> {
        usize::try_from(code)
            .ok()
            .and_then(|index| Self::ALL.get(index).copied())
    }

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

    /// Returns Koji's name of the state, such as `FREE`.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Free => "FREE",
            TaskState::Open => "OPEN",
            TaskState::Closed => "CLOSED",
            TaskState::Canceled => "CANCELED",
            TaskState::Assigned => "ASSIGNED",
            TaskState::Failed => "FAILED",
        }
    }

    /// Returns the lower-case name used as a metric label value, such as `free`.
    pub fn label(self) -> &'static str {
        match self {
            TaskState::Free => "free",
            TaskState::Open => "open",
            TaskState::Closed => "closed",
            TaskState::Canceled => "canceled",
            TaskState::Assigned => "assigned",
            TaskState::Failed => "failed",
        }
    }

    /// Returns true for the states a task never leaves: closed, canceled and failed.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskState::Closed | TaskState::Canceled | TaskState::Failed
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A task (`getTaskInfo`, `listTasks`).
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// Task id; ids grow with creation time.
    pub id: i64,
    /// Current state.
    pub state: TaskState,
    /// Task method, such as `build` or `newRepo`.
    pub method: String,
    /// Channel id.
    pub channel_id: i64,
    /// Host the task is assigned to or ran on.
    pub host_id: Option<i64>,
    /// Parent task id; `None` for a top-level task.
    pub parent: Option<i64>,
    /// Subtask label, such as an arch.
    pub label: Option<String>,
    /// Task arch (`noarch` for most top-level tasks).
    pub arch: String,
    /// Owner's user id.
    pub owner: i64,
    /// Owner's user name (`listTasks` only).
    pub owner_name: Option<String>,
    /// Priority; lower is more urgent.
    pub priority: i64,
    /// Weight in the unit of host capacity.
    pub weight: f64,
    /// Whether a parent waits on its children.
    pub waiting: Option<bool>,
    /// Whether a parent waits on this task.
    pub awaited: Option<bool>,
    /// Creation time, epoch seconds.
    pub create_ts: Option<f64>,
    /// Time the task was opened on a host, epoch seconds.
    pub start_ts: Option<f64>,
    /// Completion time, epoch seconds.
    pub completion_ts: Option<f64>,
    /// The decoded call parameters when the reply carried them (`getTaskInfo` with
    /// `request`, `listTasks`), whether the hub sent a list or the XML text of a methodCall.
    pub request: Option<Vec<Value>>,
}

/// Decodes one task struct.
pub fn decode_task(value: Value) -> Result<Task, DecodeError> {
    decode_task_item(value, None)
}

/// Decodes `getTaskInfo` of one id: a task struct or `<nil/>` for an unknown id.
pub fn decode_optional_task(value: Value) -> Result<Option<Task>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        other => decode_task(other).map(Some),
    }
}

/// Decodes `getTaskInfo` of a list of ids: tasks in request order, `None` for unknown ids.
pub fn decode_optional_tasks(value: Value) -> Result<Vec<Option<Task>>, DecodeError> {
    array(value)?
        .into_iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Nil => Ok(None),
            other => decode_task_item(other, Some(index)).map(Some),
        })
        .collect()
}

/// Decodes `listTasks`: an array of task structs.
pub fn decode_tasks(value: Value) -> Result<Vec<Task>, DecodeError> {
    array(value)?
        .into_iter()
        .enumerate()
        .map(|(index, item)| decode_task_item(item, Some(index)))
        .collect()
}

fn decode_task_item(value: Value, index: Option<usize>) -> Result<Task, DecodeError> {
    decode_item("task", value, index, |mut fields, id| {
        let code = fields.int("state")?;
        let state = TaskState::from_code(code)
            .ok_or_else(|| DecodeError::new(format!("field state: unknown task state {code}")))?;
        let request = fields
            .take("request")
            .map(decode_request)
            .transpose()
            .map_err(|error| error.within("field request"))?
            .flatten();

        Ok(Task {
            id,
            state,
            method: fields.string("method")?,
            channel_id: fields.int("channel_id")?,
            host_id: fields.opt_int("host_id")?,
            parent: fields.opt_int("parent")?,
            label: fields.opt_string("label")?,
            arch: fields.string("arch")?,
            owner: fields.int("owner")?,
            owner_name: fields.opt_string("owner_name")?,
            priority: fields.int("priority")?,
            weight: fields.double("weight")?,
            waiting: fields.opt_bool("waiting")?,
            awaited: fields.opt_bool("awaited")?,
            create_ts: fields.opt_double("create_ts")?,
            start_ts: fields.opt_double("start_ts")?,
            completion_ts: fields.opt_double("completion_ts")?,
            request,
        })
    })
}

/// Decodes a task's `request`: an array of params, the XML text of a methodCall (listTasks
/// without `decode`), or nil.
fn decode_request(value: Value) -> Result<Option<Vec<Value>>, DecodeError> {
    match value {
        Value::Nil => Ok(None),
        Value::Array(params) => Ok(Some(params)),
        Value::String(text) => match MethodCall::from_xml(&text) {
            Ok(call) => Ok(Some(call.params)),
            // dxr's parse error repeats the whole document, so only an excerpt is kept.
            Err(_) => Err(DecodeError::new(format!(
                "expected the XML text of a methodCall, got {:?}",
                excerpt(&text)
            ))),
        },
        other => Err(DecodeError::new(format!(
            "expected array or string, got {}",
            crate::value::type_name(&other)
        ))),
    }
}
