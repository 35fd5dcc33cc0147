//! `listTasks` filters, ordering, paging and counting, and `getTaskInfo`, on the captured
//! data set (48 tasks) and the small scenario (ids beyond 32 bits).

mod common;

use common::{as_int, fault, ids, int, items, member, s, st, start, value};
use dxr::Value;

fn list(values: &[i64]) -> Value {
    Value::Array(values.iter().map(|value| int(*value)).collect())
}

async fn task_ids(sim: &koji_hub_sim::SimHandle, opts: Value) -> Vec<i64> {
    let mut found = ids(&value(sim, "listTasks", &[opts, st(&[("order", s("id"))])]).await);
    found.sort();
    found
}

#[tokio::test]
async fn state_and_method_filters() {
    let sim = start("captured").await;

    assert_eq!(
        task_ids(&sim, st(&[("state", list(&[0]))])).await,
        vec![31, 37, 40, 41, 42, 46, 47]
    );
    assert_eq!(
        task_ids(&sim, st(&[("not_state", list(&[2, 3, 5]))]))
            .await
            .len(),
        18
    );
    assert_eq!(
        task_ids(&sim, st(&[("method", s("buildArch"))]))
            .await
            .len(),
        11
    );
    assert_eq!(
        task_ids(&sim, st(&[("arch", Value::Array(vec![s("aarch64")]))])).await,
        vec![13, 19, 31, 36]
    );
    assert_eq!(
        task_ids(&sim, st(&[("not_arch", Value::Array(vec![s("noarch")]))])).await,
        vec![9, 12, 13, 14, 18, 19, 26, 30, 31, 35, 36, 37, 39]
    );
}

#[tokio::test]
async fn state_must_be_a_non_empty_list() {
    let sim = start("captured").await;

    let (code, string) = fault(&sim, "listTasks", &[st(&[("state", list(&[]))])]).await;
    assert_eq!(code, 1);
    assert_eq!(
        string,
        "<class 'psycopg2.errors.SyntaxError'>: syntax error at or near \")\""
    );
    let (code, string) = fault(&sim, "listTasks", &[st(&[("state", int(1))])]).await;
    assert_eq!(code, 1);
    assert_eq!(
        string,
        "<class 'psycopg2.errors.SyntaxError'>: syntax error at or near \"1\""
    );
}

#[tokio::test]
async fn id_filters_take_int_list_or_nil() {
    let sim = start("captured").await;

    let host_one = vec![1, 3, 6, 10, 11, 15, 21, 24, 25, 32, 33, 34, 43, 44, 48];
    assert_eq!(task_ids(&sim, st(&[("host_id", int(1))])).await, host_one);
    assert_eq!(
        task_ids(&sim, st(&[("host_id", list(&[1, 2]))]))
            .await
            .len(),
        24
    );
    assert_eq!(
        task_ids(&sim, st(&[("host_id", Value::Nil)])).await,
        vec![27, 31, 37, 40, 41, 42, 46, 47]
    );
    assert_eq!(
        task_ids(&sim, st(&[("not_host_id", Value::Nil)]))
            .await
            .len(),
        40
    );
    assert_eq!(
        task_ids(&sim, st(&[("parent", Value::Nil)])).await.len(),
        19
    );
    assert_eq!(
        task_ids(&sim, st(&[("not_parent", Value::Nil)]))
            .await
            .len(),
        29
    );
    assert_eq!(
        task_ids(&sim, st(&[("parent", int(10))])).await,
        vec![11, 12, 13, 14, 15]
    );
    assert_eq!(
        task_ids(&sim, st(&[("parent", list(&[10, 33]))])).await,
        vec![11, 12, 13, 14, 15, 34, 35, 36, 37]
    );
    assert_eq!(
        task_ids(&sim, st(&[("channel_id", int(9))])).await,
        vec![28, 29, 30, 31]
    );
    assert_eq!(
        task_ids(&sim, st(&[("owner", int(3))])).await,
        vec![16, 17, 18, 19, 23, 32, 40, 41, 48]
    );

    // A NULL host is neither equal nor unequal to 1, as in SQL.
    let closed_elsewhere =
        task_ids(&sim, st(&[("state", list(&[2])), ("not_host_id", int(1))])).await;
    assert_eq!(
        closed_elsewhere,
        vec![2, 4, 5, 7, 8, 9, 12, 13, 14, 17, 23, 26, 29]
    );
}

#[tokio::test]
async fn time_windows_take_epoch_or_iso() {
    let sim = start("captured").await;
    let created_after: Vec<i64> = (33..=48).collect();

    let epoch = task_ids(
        &sim,
        st(&[("createdAfter", Value::Double(1_796_396_000.0))]),
    )
    .await;
    assert_eq!(epoch, created_after);
    let iso = task_ids(
        &sim,
        st(&[("createdAfter", s("2026-12-04 14:53:20+00:00"))]),
    )
    .await;
    assert_eq!(iso, created_after);
    let naive_iso = task_ids(&sim, st(&[("createdAfter", s("2026-12-04T14:53:20"))])).await;
    assert_eq!(naive_iso, created_after);

    let started = task_ids(
        &sim,
        st(&[("startedAfter", Value::Double(1_796_396_000.0))]),
    )
    .await;
    assert_eq!(started, vec![33, 34, 35, 38, 39, 43, 44]);
    let completed = task_ids(&sim, st(&[("completeBefore", int(1_796_376_000))])).await;
    assert_eq!(completed, vec![1, 2, 3, 4]);
    let alias = task_ids(&sim, st(&[("completedBefore", int(1_796_376_000))])).await;
    assert_eq!(alias, vec![1, 2, 3, 4]);

    let (code, string) = fault(
        &sim,
        "listTasks",
        &[st(&[("createdAfter", s("yesterday"))])],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        string.contains("invalid input syntax for type timestamp with time zone: \"yesterday\""),
        "{string}"
    );
}

#[tokio::test]
async fn created_bounds_are_strict() {
    let sim = start("captured").await;

    // Task 4 was created at 2026-12-04 09:02:55.354380 UTC (epoch 1796374975.35438).
    let iso = task_ids(
        &sim,
        st(&[("createdBefore", s("2026-12-04 09:02:55.354380+00:00"))]),
    )
    .await;
    assert_eq!(iso, vec![1, 2, 3]);
    let epoch = task_ids(
        &sim,
        st(&[("createdBefore", Value::Double(1_796_374_975.354_38))]),
    )
    .await;
    assert_eq!(epoch, vec![1, 2, 3]);

    // Task 45 was created at 15:36:53.357795.
    let after = task_ids(
        &sim,
        st(&[("createdAfter", s("2026-12-04 15:36:53.357795+00:00"))]),
    )
    .await;
    assert_eq!(after, vec![46, 47, 48]);

    // The hub skips a time bound whose value is nil.
    let nil_bound = task_ids(&sim, st(&[("createdBefore", Value::Nil)])).await;
    assert_eq!(nil_bound, (1..=48).collect::<Vec<i64>>());
}

#[tokio::test]
async fn started_bounds_skip_null_start() {
    let sim = start("captured").await;

    // Task 5 started at 2026-12-04 09:22:49.354569 UTC.
    let before = task_ids(
        &sim,
        st(&[("startedBefore", s("2026-12-04 09:22:49.354569+00:00"))]),
    )
    .await;
    assert_eq!(before, vec![1, 2, 3, 4]);

    // A NULL start_time compares as neither before nor after any time.
    let all_started = task_ids(&sim, st(&[("startedBefore", int(1_900_000_000))])).await;
    let never_started = [27, 31, 36, 37, 40, 41, 42, 45, 46, 47, 48];
    let expected: Vec<i64> = (1..=48).filter(|id| !never_started.contains(id)).collect();
    assert_eq!(all_started, expected);

    // Task 43 started at 15:36:49.357666, and only task 44 started later.
    let after = task_ids(
        &sim,
        st(&[("startedAfter", Value::Double(1_796_398_609.357_666))]),
    )
    .await;
    assert_eq!(after, vec![44]);
}

#[tokio::test]
async fn completion_bounds_are_strict() {
    let sim = start("captured").await;

    // Task 4 completed at 2026-12-04 09:12:47.354380 UTC, before task 1 but after 2 and 3.
    let task_4_done = Value::Double(1_796_375_567.354_38);
    let before = task_ids(&sim, st(&[("completeBefore", task_4_done.clone())])).await;
    assert_eq!(before, vec![2, 3]);
    let before_alias = task_ids(&sim, st(&[("completedBefore", task_4_done)])).await;
    assert_eq!(before_alias, vec![2, 3]);

    // Task 22 completed at 13:13:40.356207. Unfinished tasks have a NULL completion_time.
    let task_22_done = s("2026-12-04 13:13:40.356207+00:00");
    let completed_later = vec![20, 23, 24, 25, 26, 27, 29, 32, 34];
    let after = task_ids(&sim, st(&[("completeAfter", task_22_done.clone())])).await;
    assert_eq!(after, completed_later);
    let after_alias = task_ids(&sim, st(&[("completedAfter", task_22_done)])).await;
    assert_eq!(after_alias, completed_later);

    // Between task 13 (12:12:07.355412) and task 10 (12:24:47.355194), both excluded.
    let window = task_ids(
        &sim,
        st(&[
            ("completeAfter", s("2026-12-04 12:12:07.355412+00:00")),
            ("completeBefore", s("2026-12-04 12:24:47.355194+00:00")),
        ]),
    )
    .await;
    assert_eq!(window, vec![12, 14, 15]);
}

#[tokio::test]
async fn epoch_bound_rounds_like_python() {
    let sim = start("captured").await;

    // The hub converts a float bound with datetime.fromtimestamp, which rounds
    // 1796374975.3543794 to microsecond .354379, just before task 4's creation at .354380.
    let below = Value::Double(1_796_374_975.354_379_4);
    let after_below = task_ids(&sim, st(&[("createdAfter", below.clone())])).await;
    assert_eq!(after_below, (4..=48).collect::<Vec<i64>>());
    let before_below = task_ids(&sim, st(&[("createdBefore", below)])).await;
    assert_eq!(before_below, vec![1, 2, 3]);

    // 1796374975.3543806 rounds to .354381, just after task 4's creation.
    let above = Value::Double(1_796_374_975.354_380_6);
    let after_above = task_ids(&sim, st(&[("createdAfter", above.clone())])).await;
    assert_eq!(after_above, (5..=48).collect::<Vec<i64>>());
    let before_above = task_ids(&sim, st(&[("createdBefore", above)])).await;
    assert_eq!(before_above, vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn negated_id_filters() {
    let sim = start("captured").await;

    assert_eq!(
        task_ids(&sim, st(&[("not_owner", int(2))])).await,
        vec![
            1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 27, 32, 40, 41, 42, 43, 44, 45,
            46, 48
        ]
    );
    assert_eq!(
        task_ids(&sim, st(&[("not_owner", list(&[2, 4]))])).await,
        vec![16, 17, 18, 19, 23, 32, 40, 41, 48]
    );
    // owner is NOT NULL, so `owner IS NOT NULL` keeps every task.
    assert_eq!(
        task_ids(&sim, st(&[("not_owner", Value::Nil)])).await,
        (1..=48).collect::<Vec<i64>>()
    );

    assert_eq!(
        task_ids(&sim, st(&[("not_channel_id", int(1))])).await,
        vec![
            1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 21, 22, 27, 28, 29, 30, 31, 38, 39, 42, 43, 44, 45, 46
        ]
    );
    assert_eq!(
        task_ids(&sim, st(&[("not_channel_id", list(&[1, 2]))])).await,
        vec![8, 9, 28, 29, 30, 31, 38, 39]
    );

    // NOT IN and != leave out rows whose column is NULL, such as top-level or hostless tasks.
    assert_eq!(
        task_ids(&sim, st(&[("not_parent", int(10))])).await,
        vec![
            2, 3, 4, 6, 7, 9, 17, 18, 19, 21, 22, 25, 26, 29, 30, 31, 34, 35, 36, 37, 39, 44, 45,
            46
        ]
    );
    assert_eq!(
        task_ids(&sim, st(&[("not_parent", list(&[10, 33]))])).await,
        vec![
            2, 3, 4, 6, 7, 9, 17, 18, 19, 21, 22, 25, 26, 29, 30, 31, 39, 44, 45, 46
        ]
    );
    assert_eq!(
        task_ids(&sim, st(&[("not_host_id", list(&[1, 2]))])).await,
        vec![2, 4, 5, 7, 8, 9, 13, 14, 19, 20, 22, 23, 36, 38, 39, 45]
    );
}

#[tokio::test]
async fn id_lists_and_nil_values() {
    let sim = start("captured").await;

    assert_eq!(
        task_ids(&sim, st(&[("owner", list(&[3, 4]))])).await,
        vec![
            1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 27, 32, 40, 41, 42, 43, 44, 45,
            46, 48
        ]
    );
    assert_eq!(
        task_ids(&sim, st(&[("channel_id", list(&[7, 9]))])).await,
        vec![8, 9, 28, 29, 30, 31, 38, 39]
    );
    // `owner IS NULL` and `method = NULL` match no row.
    assert_eq!(
        task_ids(&sim, st(&[("owner", Value::Nil)])).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        task_ids(&sim, st(&[("method", Value::Nil)])).await,
        Vec::<i64>::new()
    );
}

#[tokio::test]
async fn order_offset_and_limit() {
    let sim = start("captured").await;
    let page = |order: &str, offset: i64, limit: i64| {
        st(&[
            ("order", s(order)),
            ("offset", int(offset)),
            ("limit", int(limit)),
        ])
    };

    let highest = value(
        &sim,
        "listTasks",
        &[st(&[]), st(&[("order", s("-id")), ("limit", int(1))])],
    )
    .await;
    assert_eq!(ids(&highest), vec![48]);
    let tail = value(&sim, "listTasks", &[st(&[]), page("id", 45, 10)]).await;
    assert_eq!(ids(&tail), vec![46, 47, 48]);
    let by_column = value(&sim, "listTasks", &[st(&[]), page("task.id", 0, 2)]).await;
    assert_eq!(ids(&by_column), vec![1, 2]);
    let two_keys = value(&sim, "listTasks", &[st(&[]), page("priority,-id", 0, 6)]).await;
    assert_eq!(ids(&two_keys), vec![48, 41, 32, 23, 46, 45]);
    let weight = value(&sim, "listTasks", &[st(&[]), page("-weight", 0, 2)]).await;
    assert_eq!(ids(&weight), vec![30, 35]);

    // NULL start times sort last ascending and first descending.
    let started = value(
        &sim,
        "listTasks",
        &[st(&[("state", list(&[0, 4]))]), page("start_ts", 0, 10)],
    )
    .await;
    assert!(
        items(&started)
            .iter()
            .all(|task| member(task, "start_ts") == &Value::Nil)
    );
    let first_started = value(&sim, "listTasks", &[st(&[]), page("start_ts", 0, 1)]).await;
    assert_eq!(ids(&first_started), vec![1]);
    let last_started = value(&sim, "listTasks", &[st(&[]), page("-start_ts", 0, 1)]).await;
    assert_eq!(member(&items(&last_started)[0], "start_ts"), &Value::Nil);

    let (code, string) = fault(
        &sim,
        "listTasks",
        &[st(&[]), st(&[("order", s("-nosuch"))])],
    )
    .await;
    assert_eq!(code, 1);
    assert_eq!(string, "<class 'Exception'>: Invalid order: nosuch");

    let (code, string) = fault(&sim, "listTasks", &[st(&[]), st(&[("limit", int(-1))])]).await;
    assert_eq!(code, 1);
    assert!(string.contains("LIMIT must not be negative"), "{string}");
}

#[tokio::test]
async fn count_only_counts_the_page() {
    let sim = start("captured").await;
    let closed = st(&[("state", list(&[2]))]);

    assert_eq!(
        value(
            &sim,
            "listTasks",
            &[closed.clone(), st(&[("countOnly", Value::Boolean(true))])]
        )
        .await,
        int(21)
    );
    let limited = st(&[("countOnly", Value::Boolean(true)), ("limit", int(5))]);
    assert_eq!(
        value(&sim, "listTasks", &[closed.clone(), limited]).await,
        int(5)
    );
    let offset = st(&[("countOnly", Value::Boolean(true)), ("offset", int(20))]);
    assert_eq!(
        value(&sim, "listTasks", &[closed.clone(), offset]).await,
        int(1)
    );
    // countOnly skips ORDER BY, so an unknown order is not checked.
    let bad_order = st(&[("countOnly", Value::Boolean(true)), ("order", s("nosuch"))]);
    assert_eq!(
        value(&sim, "listTasks", &[closed, bad_order]).await,
        int(21)
    );
}

#[tokio::test]
async fn decode_and_as_list() {
    let sim = start("captured").await;
    let first = st(&[("order", s("id")), ("limit", int(1))]);

    let raw = value(&sim, "listTasks", &[st(&[]), first.clone()]).await;
    let request = member(&items(&raw)[0], "request");
    let call_start = "<?xml version='1.0'?>\n<methodCall>";
    assert!(matches!(request, Value::String(text) if text.starts_with(call_start)));
    let result = member(&items(&raw)[0], "result");
    assert!(matches!(result, Value::String(text) if text.contains("<methodResponse>")));

    let decoded = value(
        &sim,
        "listTasks",
        &[st(&[("decode", Value::Boolean(true))]), first.clone()],
    )
    .await;
    assert_eq!(
        member(&items(&decoded)[0], "request"),
        &Value::Array(vec![s("el9-build")])
    );
    assert_eq!(
        member(&items(&decoded)[0], "result"),
        &Value::Array(vec![list(&[1, 61])])
    );

    let failed = st(&[
        ("decode", Value::Boolean(true)),
        ("state", list(&[5])),
        ("method", s("tagBuild")),
    ]);
    let failed = value(&sim, "listTasks", &[failed]).await;
    let fault_struct = member(&items(&failed)[0], "result");
    assert_eq!(member(fault_struct, "faultCode"), &int(1003));

    let rows = value(
        &sim,
        "listTasks",
        &[
            st(&[]),
            st(&[
                ("order", s("id")),
                ("limit", int(1)),
                ("asList", Value::Boolean(true)),
            ]),
        ],
    )
    .await;
    let row = items(&items(&rows)[0]);
    assert_eq!(row.len(), 23);
    assert_eq!(
        row[0],
        s("noarch"),
        "arch comes first in sorted column order"
    );
    assert_eq!(row[8], int(1), "id is the ninth column");
}

#[tokio::test]
async fn task_info_one_list_and_strict() {
    let sim = start("captured").await;

    let single = value(&sim, "getTaskInfo", &[int(43), Value::Boolean(true)]).await;
    assert_eq!(
        member(&single, "request"),
        &Value::Array(vec![s("el9-build")])
    );
    assert!(matches!(&single, Value::Struct(members) if !members.contains_key("owner_name")));

    let several = value(&sim, "getTaskInfo", &[list(&[48, 9999, 1])]).await;
    assert_eq!(items(&several)[1], Value::Nil);
    assert_eq!(as_int(member(&items(&several)[2], "id")), 1);

    assert_eq!(value(&sim, "getTaskInfo", &[int(9999)]).await, Value::Nil);
    let (code, string) = fault(
        &sim,
        "getTaskInfo",
        &[int(9999), Value::Boolean(false), Value::Boolean(true)],
    )
    .await;
    assert_eq!((code, string.as_str()), (1000, "query returned no rows"));
    let (code, string) = fault(&sim, "getTaskInfo", &[s("abc")]).await;
    assert_eq!(code, 1019);
    assert_eq!(
        string,
        "Invalid type for value 'abc': <class 'str'>, expected type <class 'int'>"
    );
    assert_eq!(
        as_int(member(&value(&sim, "getTaskInfo", &[s("7")]).await, "id")),
        7
    );

    let request = value(&sim, "getTaskRequest", &[int(41)]).await;
    assert_eq!(
        request,
        Value::Array(vec![int(6), int(3), Value::Boolean(false), Value::Nil])
    );
}

#[tokio::test]
async fn large_ids_travel_as_i8() {
    let sim = start("small").await;

    let (status, _, body) = common::post_raw(
        &sim,
        common::call_xml(
            "listTasks",
            &[st(&[("state", list(&[1]))]), st(&[("order", s("id"))])],
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("<name>id</name>\n<value><i8>4294967303</i8></value>"),
        "{body}"
    );

    let tasks = common::parse_reply(&body).unwrap();
    assert_eq!(ids(&tasks), vec![4_294_967_303, 4_294_967_304]);
    assert_eq!(
        member(&items(&tasks)[1], "parent"),
        &Value::Long(4_294_967_303)
    );

    let children = value(&sim, "listTasks", &[st(&[("parent", int(4_294_967_303))])]).await;
    assert_eq!(items(&children).len(), 2);
    let host = value(&sim, "getHost", &[s("b1.lab.example.org")]).await;
    assert_eq!(member(&host, "user_id"), &Value::Long(3_000_000_001));
}
