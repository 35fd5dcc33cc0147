//! `listTasks` and the task rows the hub returns.
//!
//! Filters follow `RootExports.listTasks`; `queryOpts` follow `QueryProcessor` (`countOnly`,
//! comma-separated `order` with `-` for descending, `offset`, `limit`, `asList`). Values the
//! hub would pass to PostgreSQL unchecked fail here with the class and first line of the
//! PostgreSQL error, as fault 1.
//!
//! Plans: a `state` filter within FREE/OPEN/ASSIGNED reads the active index, and ordering by
//! `id` walks rows in id order and stops after `offset + limit`. Everything else scans the
//! table, as a time-window filter does on the hub.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use dxr::Value;

use crate::tasks::{Task, TaskState};
use crate::time::Micros;
use crate::value::int_value;
use crate::world::World;
use crate::xmlrpc::fault::Fault;
use crate::xmlrpc::python;

/// A parsed `listTasks` call.
#[derive(Debug, Default)]
pub struct TaskQuery {
    state: Option<Vec<Option<i64>>>,
    not_state: Option<Vec<Option<i64>>>,
    arch: Option<Vec<String>>,
    not_arch: Option<Vec<String>>,
    ids: Vec<(IdColumn, IdFilter)>,
    method: Option<Option<String>>,
    times: Vec<(TimeColumn, Bound, Micros)>,
    decode: bool,
    count_only: bool,
    order: Vec<(Column, bool)>,
    offset: usize,
    limit: Option<usize>,
    as_list: bool,
}

#[derive(Clone, Copy, Debug)]
enum IdColumn {
    Owner,
    HostId,
    ChannelId,
    Parent,
}

#[derive(Debug)]
enum IdFilter {
    IsNull,
    IsNotNull,
    In(Vec<Option<i64>>),
    NotIn(Vec<Option<i64>>),
    Equal(Option<i64>),
    NotEqual(Option<i64>),
}

#[derive(Clone, Copy, Debug)]
enum TimeColumn {
    Create,
    Start,
    Completion,
}

#[derive(Clone, Copy, Debug)]
enum Bound {
    Before,
    After,
}

/// The columns of a `listTasks` row, in the hub's sorted alias order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// `arch`
    Arch,
    /// `awaited`
    Awaited,
    /// `channel_id`
    ChannelId,
    /// `completion_time`
    CompletionTime,
    /// `completion_ts`
    CompletionTs,
    /// `create_time`
    CreateTime,
    /// `create_ts`
    CreateTs,
    /// `host_id`
    HostId,
    /// `id`
    Id,
    /// `label`
    Label,
    /// `method`
    Method,
    /// `owner`
    Owner,
    /// `owner_name`
    OwnerName,
    /// `owner_type`
    OwnerType,
    /// `parent`
    Parent,
    /// `priority`
    Priority,
    /// `request`
    Request,
    /// `result`
    Result,
    /// `start_time`
    StartTime,
    /// `start_ts`
    StartTs,
    /// `state`
    State,
    /// `waiting`
    Waiting,
    /// `weight`
    Weight,
}

/// (alias, SQL column, column) for every `listTasks` column.
const COLUMNS: [(&str, &str, Column); 23] = [
    ("arch", "task.arch", Column::Arch),
    ("awaited", "task.awaited", Column::Awaited),
    ("channel_id", "task.channel_id", Column::ChannelId),
    (
        "completion_time",
        "task.completion_time",
        Column::CompletionTime,
    ),
    (
        "completion_ts",
        "date_part('epoch', completion_time)",
        Column::CompletionTs,
    ),
    ("create_time", "task.create_time", Column::CreateTime),
    (
        "create_ts",
        "date_part('epoch', create_time)",
        Column::CreateTs,
    ),
    ("host_id", "task.host_id", Column::HostId),
    ("id", "task.id", Column::Id),
    ("label", "task.label", Column::Label),
    ("method", "task.method", Column::Method),
    ("owner", "task.owner", Column::Owner),
    ("owner_name", "users.name", Column::OwnerName),
    ("owner_type", "users.usertype", Column::OwnerType),
    ("parent", "task.parent", Column::Parent),
    ("priority", "task.priority", Column::Priority),
    ("request", "task.request", Column::Request),
    ("result", "task.result", Column::Result),
    ("start_time", "task.start_time", Column::StartTime),
    (
        "start_ts",
        "date_part('epoch', task.start_time)",
        Column::StartTs,
    ),
    ("state", "task.state", Column::State),
    ("waiting", "task.waiting", Column::Waiting),
    ("weight", "task.weight", Column::Weight),
];

/// The `Task.fields` of `getTaskInfo`, sorted by alias.
const INFO_COLUMNS: [Column; 19] = [
    Column::Arch,
    Column::Awaited,
    Column::ChannelId,
    Column::CompletionTime,
    Column::CompletionTs,
    Column::CreateTime,
    Column::CreateTs,
    Column::HostId,
    Column::Id,
    Column::Label,
    Column::Method,
    Column::Owner,
    Column::Parent,
    Column::Priority,
    Column::StartTime,
    Column::StartTs,
    Column::State,
    Column::Waiting,
    Column::Weight,
];

fn column_alias(column: Column) -> &'static str {
    COLUMNS
        .iter()
        .find(|(_, _, c)| *c == column)
        .map_or("", |(alias, _, _)| alias)
}

/// Python's name of the value's class, as in `'list' object has no attribute 'get'`.
fn short_type(value: &Value) -> &'static str {
    match value {
        Value::Nil => "NoneType",
        Value::Boolean(_) => "bool",
        Value::Integer(_) | Value::Long(_) => "int",
        Value::Double(_) => "float",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Struct(_) => "dict",
        _ => "object",
    }
}

fn attribute_error(value: &Value, attribute: &str) -> Fault {
    Fault::exception(
        "AttributeError",
        format!(
            "'{}' object has no attribute '{attribute}'",
            short_type(value)
        ),
    )
}

fn sql_syntax_error(near: &str) -> Fault {
    Fault::exception(
        "psycopg2.errors.SyntaxError",
        format!("syntax error at or near \"{near}\""),
    )
}

/// Renders a parameter into SQL as psycopg2 does, for error messages.
fn sql_literal(value: &Value) -> String {
    match value {
        Value::Nil => "NULL".to_owned(),
        Value::Boolean(flag) => flag.to_string(),
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        Value::Array(_) => "ARRAY".to_owned(),
        other => python::repr(other),
    }
}

/// Reads a value compared with an integer column: `None` for NULL, which matches nothing.
fn sql_int(value: &Value) -> Result<Option<i64>, Fault> {
    match value {
        Value::Nil => Ok(None),
        Value::Double(number) => Ok((number.fract() == 0.0).then_some(*number as i64)),
        Value::String(text) => text.trim().parse().map(Some).map_err(|_| {
            Fault::exception(
                "psycopg2.errors.InvalidTextRepresentation",
                format!("invalid input syntax for type integer: \"{text}\""),
            )
        }),
        other => python::as_int(other).map(Some).ok_or_else(|| {
            Fault::exception(
                "psycopg2.errors.UndefinedFunction",
                format!("operator does not exist: integer = {}", sql_type(other)),
            )
        }),
    }
}

fn sql_type(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "integer[]",
        Value::Struct(_) => "hstore",
        Value::String(_) => "text",
        _ => "unknown",
    }
}

/// Reads the list of an `IN (...)` filter; psycopg2 renders anything else as a scalar.
fn sql_list(value: &Value) -> Result<&[Value], Fault> {
    match value {
        Value::Array(items) if items.is_empty() => Err(sql_syntax_error(")")),
        Value::Array(items) => Ok(items),
        other => Err(sql_syntax_error(&sql_literal(other))),
    }
}

fn int_list(value: &Value) -> Result<Vec<Option<i64>>, Fault> {
    sql_list(value)?.iter().map(sql_int).collect()
}

fn text_list(value: &Value) -> Result<Vec<String>, Fault> {
    sql_list(value)?
        .iter()
        .map(|item| match item {
            Value::String(text) => Ok(text.clone()),
            other => Err(Fault::exception(
                "psycopg2.errors.UndefinedFunction",
                format!("operator does not exist: text = {}", sql_literal(other)),
            )),
        })
        .collect()
}

fn time_value(key: &str, value: &Value) -> Result<Micros, Fault> {
    match value {
        Value::String(text) => Micros::parse_iso(text).ok_or_else(|| {
            Fault::exception(
                "psycopg2.errors.InvalidDatetimeFormat",
                format!("invalid input syntax for type timestamp with time zone: \"{text}\""),
            )
        }),
        Value::Double(seconds) => Ok(Micros::from_secs_f64(*seconds)),
        other => match python::as_int(other) {
            Some(seconds) => Ok(Micros(seconds.saturating_mul(1_000_000))),
            None => Err(Fault::exception(
                "TypeError",
                format!(
                    "'{}' object cannot be interpreted as an integer (listTasks option {key})",
                    short_type(other)
                ),
            )),
        },
    }
}

/// Reads an `offset`/`limit` as `'%i' % value` would.
fn sql_count(name: &str, value: &Value) -> Result<Option<usize>, Fault> {
    if !python::truthy(value) {
        return Ok(None);
    }
    let number = match value {
        Value::Double(number) => number.trunc() as i64,
        other => python::as_int(other).ok_or_else(|| {
            Fault::exception(
                "TypeError",
                format!(
                    "%i format: a real number is required, not {}",
                    short_type(other)
                ),
            )
        })?,
    };
    if number < 0 {
        let (class, clause) = if name == "limit" {
            ("psycopg2.errors.InvalidRowCountInLimitClause", "LIMIT")
        } else {
            (
                "psycopg2.errors.InvalidRowCountInResultOffsetClause",
                "OFFSET",
            )
        };
        return Err(Fault::exception(
            class,
            format!("{clause} must not be negative"),
        ));
    }
    Ok(Some(number as usize))
}

impl TaskQuery {
    /// Parses the `opts` and `queryOpts` arguments.
    pub fn parse(opts: Option<&Value>, query_opts: Option<&Value>) -> Result<TaskQuery, Fault> {
        let mut query = TaskQuery::default();
        let empty = BTreeMap::new();

        let opts = match opts {
            None => &empty,
            Some(value) if !python::truthy(value) => &empty,
            Some(Value::Struct(members)) => members,
            Some(other) => return Err(attribute_error(other, "get")),
        };
        let query_opts = match query_opts {
            None => &empty,
            Some(value) if !python::truthy(value) => &empty,
            Some(Value::Struct(members)) => members,
            Some(other) => return Err(attribute_error(other, "get")),
        };

        query.parse_filters(opts)?;
        query.decode = opts.get("decode").is_some_and(python::truthy);
        query.count_only = query_opts.get("countOnly").is_some_and(python::truthy);
        query.as_list = query_opts.get("asList").is_some_and(python::truthy);
        if let Some(value) = query_opts.get("offset") {
            query.offset = sql_count("offset", value)?.unwrap_or(0);
        }
        if let Some(value) = query_opts.get("limit") {
            query.limit = sql_count("limit", value)?;
        }
        if !query.count_only
            && let Some(order) = query_opts
                .get("order")
                .filter(|value| python::truthy(value))
        {
            query.order = parse_order(order)?;
        }
        Ok(query)
    }

    fn parse_filters(&mut self, opts: &BTreeMap<String, Value>) -> Result<(), Fault> {
        if let Some(value) = opts.get("state") {
            self.state = Some(int_list(value)?);
        }
        if let Some(value) = opts.get("not_state") {
            self.not_state = Some(int_list(value)?);
        }
        if let Some(value) = opts.get("arch") {
            self.arch = Some(text_list(value)?);
        }
        if let Some(value) = opts.get("not_arch") {
            self.not_arch = Some(text_list(value)?);
        }

        let id_columns = [
            ("owner", IdColumn::Owner),
            ("host_id", IdColumn::HostId),
            ("channel_id", IdColumn::ChannelId),
            ("parent", IdColumn::Parent),
        ];
        for (key, column) in id_columns {
            if let Some(value) = opts.get(key) {
                let filter = match value {
                    Value::Nil => IdFilter::IsNull,
                    Value::Array(_) => IdFilter::In(int_list(value)?),
                    other => IdFilter::Equal(sql_int(other)?),
                };
                self.ids.push((column, filter));
            }
            if let Some(value) = opts.get(&format!("not_{key}")) {
                let filter = match value {
                    Value::Nil => IdFilter::IsNotNull,
                    Value::Array(_) => IdFilter::NotIn(int_list(value)?),
                    other => IdFilter::NotEqual(sql_int(other)?),
                };
                self.ids.push((column, filter));
            }
        }

        if let Some(value) = opts.get("method") {
            self.method = Some(match value {
                Value::Nil => None,
                Value::String(text) => Some(text.clone()),
                other => {
                    return Err(Fault::exception(
                        "psycopg2.errors.UndefinedFunction",
                        format!(
                            "operator does not exist: character varying = {}",
                            sql_type(other)
                        ),
                    ));
                }
            });
        }

        let time_keys = [
            ("createdBefore", TimeColumn::Create, Bound::Before),
            ("createdAfter", TimeColumn::Create, Bound::After),
            ("startedBefore", TimeColumn::Start, Bound::Before),
            ("startedAfter", TimeColumn::Start, Bound::After),
            ("completeBefore", TimeColumn::Completion, Bound::Before),
            ("completeAfter", TimeColumn::Completion, Bound::After),
            ("completedBefore", TimeColumn::Completion, Bound::Before),
            ("completedAfter", TimeColumn::Completion, Bound::After),
        ];
        for (key, column, bound) in time_keys {
            if let Some(value) = opts.get(key).filter(|value| !matches!(value, Value::Nil)) {
                self.times.push((column, bound, time_value(key, value)?));
            }
        }
        Ok(())
    }

    fn matches(&self, world: &World, task: &Task) -> bool {
        let state = task.state.code();
        if let Some(states) = &self.state
            && !states.contains(&Some(state))
        {
            return false;
        }
        if let Some(states) = &self.not_state
            && (states.contains(&Some(state)) || states.contains(&None))
        {
            return false;
        }

        let arch = world.tasks.symbols.name(task.arch);
        if let Some(arches) = &self.arch
            && !arches.iter().any(|item| **item == **arch)
        {
            return false;
        }
        if let Some(arches) = &self.not_arch
            && arches.iter().any(|item| **item == **arch)
        {
            return false;
        }

        for (column, filter) in &self.ids {
            let value = match column {
                IdColumn::Owner => Some(task.owner),
                IdColumn::HostId => task.host_id(),
                IdColumn::ChannelId => Some(task.channel_id),
                IdColumn::Parent => task.parent(),
            };
            if !id_matches(filter, value) {
                return false;
            }
        }

        if let Some(method) = &self.method {
            match method {
                Some(method) if **world.tasks.symbols.name(task.method) == **method => {}
                _ => return false,
            }
        }

        for (column, bound, limit) in &self.times {
            let value = match column {
                TimeColumn::Create => Some(task.create()),
                TimeColumn::Start => task.start(),
                TimeColumn::Completion => task.completion(),
            };
            let inside = match (value, bound) {
                (None, _) => false,
                (Some(value), Bound::Before) => value < *limit,
                (Some(value), Bound::After) => value > *limit,
            };
            if !inside {
                return false;
            }
        }
        true
    }

    /// True when every state the filter names is FREE, OPEN or ASSIGNED.
    fn uses_active_index(&self) -> bool {
        self.state.as_ref().is_some_and(|states| {
            states.iter().all(|state| {
                state
                    .and_then(TaskState::from_code)
                    .is_none_or(TaskState::is_active)
            })
        })
    }

    /// Runs the query.
    pub fn run(&self, world: &World) -> Value {
        let by_id = match self.order.as_slice() {
            [(Column::Id, descending)] => Some(*descending),
            _ => None,
        };

        let needed = self.limit.map(|limit| self.offset + limit);
        let can_stop = by_id.is_some() || self.count_only;
        let descending = by_id == Some(true);
        let active = world.tasks.active_ids();
        let lookup = |id: &i64| world.tasks.get(*id);
        let candidates: Box<dyn Iterator<Item = &Task> + '_> =
            match (self.uses_active_index(), descending) {
                (true, true) => Box::new(active.iter().rev().filter_map(lookup)),
                (true, false) => Box::new(active.iter().filter_map(lookup)),
                (false, true) => Box::new(world.tasks.iter().rev()),
                (false, false) => Box::new(world.tasks.iter()),
            };

        let mut matched: Vec<&Task> = Vec::new();
        for task in candidates {
            if !self.matches(world, task) {
                continue;
            }
            matched.push(task);
            // Rows in id order (and counts) can stop once offset + limit rows have matched.
            if can_stop && needed.is_some_and(|needed| matched.len() >= needed) {
                break;
            }
        }

        if self.count_only {
            let count = matched.len().saturating_sub(self.offset);
            let count = self.limit.map_or(count, |limit| count.min(limit));
            return int_value(count as i64);
        }

        if by_id.is_none() {
            matched.sort_by_key(|task| task.storage_seq());
            if !self.order.is_empty() {
                matched.sort_by(|a, b| compare_rows(world, &self.order, a, b));
            }
        }
        let page = matched
            .into_iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX));

        let rows = page
            .map(|task| {
                if self.as_list {
                    Value::Array(
                        COLUMNS
                            .iter()
                            .map(|(_, _, column)| column_value(world, task, *column, false))
                            .collect(),
                    )
                } else {
                    list_row(world, task, self.decode)
                }
            })
            .collect();
        Value::Array(rows)
    }
}

fn id_matches(filter: &IdFilter, value: Option<i64>) -> bool {
    match filter {
        IdFilter::IsNull => value.is_none(),
        IdFilter::IsNotNull => value.is_some(),
        IdFilter::In(list) => value.is_some_and(|value| list.contains(&Some(value))),
        IdFilter::NotIn(list) => {
            value.is_some_and(|value| !list.contains(&None) && !list.contains(&Some(value)))
        }
        IdFilter::Equal(expected) => value.is_some() && value == *expected,
        IdFilter::NotEqual(expected) => value.is_some() && expected.is_some() && value != *expected,
    }
}

fn parse_order(order: &Value) -> Result<Vec<(Column, bool)>, Fault> {
    let Value::String(text) = order else {
        return Err(attribute_error(order, "split"));
    };
    text.split(',')
        .map(|part| {
            let (name, descending) = match part.strip_prefix('-') {
                Some(name) => (name, true),
                None => (part, false),
            };
            COLUMNS
                .iter()
                .find(|(alias, sql, _)| *alias == name || *sql == name)
                .map(|(_, _, column)| (*column, descending))
                .ok_or_else(|| Fault::exception("Exception", format!("Invalid order: {name}")))
        })
        .collect()
}

/// Compares rows for ORDER BY: NULL sorts after every value ascending, first descending.
fn compare_rows(world: &World, order: &[(Column, bool)], a: &Task, b: &Task) -> Ordering {
    for (column, descending) in order {
        let ordering = compare_column(world, *column, a, b);
        let ordering = if *descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn nulls_last<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

// NOTE: text columns sort by bytes; a hub database with a locale collation such as
// en_US.UTF-8 orders mixed-case and punctuated values differently.
fn compare_column(world: &World, column: Column, a: &Task, b: &Task) -> Ordering {
    let symbols = &world.tasks.symbols;
    let label = |task: &Task| symbols.get(task.label).map(|name| name.as_ref());
    match column {
        Column::Id => a.id.cmp(&b.id),
        Column::State => a.state.code().cmp(&b.state.code()),
        Column::CreateTime | Column::CreateTs => a.create().cmp(&b.create()),
        Column::StartTime | Column::StartTs => nulls_last(a.start(), b.start()),
        Column::CompletionTime | Column::CompletionTs => nulls_last(a.completion(), b.completion()),
        Column::ChannelId => a.channel_id.cmp(&b.channel_id),
        Column::HostId => nulls_last(a.host_id(), b.host_id()),
        Column::Parent => nulls_last(a.parent(), b.parent()),
        Column::Label => nulls_last(label(a), label(b)),
        Column::Waiting => nulls_last(a.waiting, b.waiting),
        Column::Awaited => nulls_last(a.awaited, b.awaited),
        Column::Owner => a.owner.cmp(&b.owner),
        Column::Method => symbols.name(a.method).cmp(symbols.name(b.method)),
        Column::Arch => symbols.name(a.arch).cmp(symbols.name(b.arch)),
        Column::Priority => a.priority.cmp(&b.priority),
        Column::Weight => a.weight.partial_cmp(&b.weight).unwrap_or(Ordering::Equal),
        Column::Request => a.request.xml.cmp(&b.request.xml),
        Column::Result => nulls_last(
            a.result.as_ref().map(|result| &result.xml),
            b.result.as_ref().map(|result| &result.xml),
        ),
        Column::OwnerName => {
            let name = |task: &Task| match world.owner_info(task.owner).0 {
                Value::String(name) => Some(name),
                _ => None,
            };
            nulls_last(name(a), name(b))
        }
        Column::OwnerType => {
            let usertype = |task: &Task| python::as_int(&world.owner_info(task.owner).1);
            nulls_last(usertype(a), usertype(b))
        }
    }
}

fn time_string(time: Option<Micros>) -> Value {
    time.map_or(Value::Nil, |time| Value::String(time.to_iso()))
}

fn time_double(time: Option<Micros>) -> Value {
    time.map_or(Value::Nil, |time| Value::Double(time.as_secs_f64()))
}

fn optional_bool(flag: Option<bool>) -> Value {
    flag.map_or(Value::Nil, Value::Boolean)
}

fn optional_int(id: Option<i64>) -> Value {
    id.map_or(Value::Nil, int_value)
}

/// Returns the value of one column of a task row; `decode` decodes request and result.
fn column_value(world: &World, task: &Task, column: Column, decode: bool) -> Value {
    let symbols = &world.tasks.symbols;
    match column {
        Column::Arch => Value::String(symbols.name(task.arch).to_string()),
        Column::Awaited => optional_bool(task.awaited),
        Column::ChannelId => int_value(task.channel_id),
        Column::CompletionTime => time_string(task.completion()),
        Column::CompletionTs => time_double(task.completion()),
        Column::CreateTime => time_string(Some(task.create())),
        Column::CreateTs => time_double(Some(task.create())),
        Column::HostId => optional_int(task.host_id()),
        Column::Id => int_value(task.id),
        Column::Label => symbols
            .get(task.label)
            .map_or(Value::Nil, |label| Value::String(label.to_string())),
        Column::Method => Value::String(symbols.name(task.method).to_string()),
        Column::Owner => int_value(task.owner),
        Column::OwnerName => world.owner_info(task.owner).0,
        Column::OwnerType => world.owner_info(task.owner).1,
        Column::Parent => optional_int(task.parent()),
        Column::Priority => int_value(i64::from(task.priority)),
        Column::Request if decode => task.request.decoded.clone(),
        Column::Request => Value::String(task.request.xml.to_string()),
        Column::Result => match &task.result {
            None => Value::Nil,
            Some(result) if decode => result.decoded.clone(),
            Some(result) => Value::String(result.xml.to_string()),
        },
        Column::StartTime => time_string(task.start()),
        Column::StartTs => time_double(task.start()),
        Column::State => int_value(task.state.code()),
        Column::Waiting => optional_bool(task.waiting),
        Column::Weight => Value::Double(task.weight),
    }
}

/// Returns a `listTasks` row: every column, request and result as XML text unless `decode`.
pub fn list_row(world: &World, task: &Task, decode: bool) -> Value {
    Value::Struct(
        COLUMNS
            .iter()
            .map(|(alias, _, column)| {
                (
                    (*alias).to_owned(),
                    column_value(world, task, *column, decode),
                )
            })
            .collect(),
    )
}

/// Returns a `getTaskInfo` row: `Task.fields`, plus the decoded request when asked.
pub fn info_row(world: &World, task: &Task, request: bool) -> Value {
    let mut members: BTreeMap<String, Value> = INFO_COLUMNS
        .iter()
        .map(|column| {
            (
                column_alias(*column).to_owned(),
                column_value(world, task, *column, false),
            )
        })
        .collect();
    if request {
        members.insert("request".to_owned(), task.request.decoded.clone());
    }
    Value::Struct(members)
}
