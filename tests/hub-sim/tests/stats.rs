//! Per-method counters, multicall inner calls included.

mod common;

use common::{call_xml, client, int, post_raw, s, st, start};
use dxr::Value;
use koji_hub_sim::MethodStats;

fn multicall(calls: &[(&str, Vec<Value>)]) -> Value {
    Value::Array(
        calls
            .iter()
            .map(|(method, params)| {
                st(&[
                    ("methodName", s(method)),
                    ("params", Value::Array(params.clone())),
                ])
            })
            .collect(),
    )
}

#[tokio::test]
async fn counts_calls_rows_faults_and_bytes() {
    let sim = start("captured").await;
    let mut bytes = std::collections::BTreeMap::<&str, u64>::new();
    let mut send = async |method: &'static str, params: Vec<Value>| {
        let (status, _, body) = post_raw(&sim, call_xml(method, &params)).await;
        assert_eq!(status, 200);
        *bytes.entry(method).or_default() += body.len() as u64;
    };

    send("getAPIVersion", vec![]).await;
    send("getAPIVersion", vec![]).await;
    send("listHosts", vec![]).await;
    send("getHost", vec![s("nosuch")]).await;
    send("getHost", vec![s("nosuch"), Value::Boolean(true)]).await;
    send(
        "listTasks",
        vec![st(&[("state", Value::Array(vec![int(0), int(1), int(4)]))])],
    )
    .await;
    let calls = multicall(&[
        ("listHosts", vec![]),
        ("getHost", vec![int(1)]),
        ("noSuchMethod", vec![]),
    ]);
    send("multiCall", vec![calls]).await;

    let stats = sim.stats();
    assert_eq!(
        stats.method("getAPIVersion"),
        MethodStats {
            calls: 2,
            faults: 0,
            rows: 2,
            bytes: bytes["getAPIVersion"],
            injected: 0
        }
    );
    assert_eq!(stats.method("listTasks").rows, 18);
    let get_host = stats.method("getHost");
    assert_eq!(
        (get_host.calls, get_host.faults, get_host.rows),
        (3, 1, 1),
        "nil counts no row, the struct one"
    );
    assert_eq!(stats.method("listHosts").calls, 2);
    assert_eq!(stats.method("listHosts").rows, 12);
    assert_eq!(
        stats.method("noSuchMethod"),
        MethodStats {
            calls: 1,
            faults: 1,
            rows: 0,
            bytes: stats.method("noSuchMethod").bytes,
            injected: 0
        }
    );
    assert!(stats.method("noSuchMethod").bytes > 0);

    let multicall = stats.method("multiCall");
    assert_eq!(
        (multicall.calls, multicall.rows, multicall.bytes),
        (1, 3, bytes["multiCall"])
    );
    // The inner entries and the envelope make up the whole multicall reply.
    let inner = (stats.method("listHosts").bytes - bytes["listHosts"])
        + (stats.method("getHost").bytes - bytes["getHost"])
        + stats.method("noSuchMethod").bytes;
    let envelope = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
                    <value><array><data>\n</data></array></value>\n\
                    </param>\n</params>\n</methodResponse>\n";
    assert_eq!(multicall.bytes, inner + envelope.len() as u64);
    assert_eq!(stats.total.calls, 2 + 2 + 3 + 1 + 1 + 1);

    sim.reset_stats();
    assert!(sim.stats().methods.is_empty());
}

#[tokio::test]
async fn system_multicall_and_injected_requests_are_counted() {
    let sim = start("captured").await;
    let calls = multicall(&[("getAPIVersion", vec![]), ("getKojiVersion", vec![])]);
    let (status, _, _) = post_raw(&sim, call_xml("system.multicall", &[calls])).await;
    assert_eq!(status, 200);

    sim.inject(koji_hub_sim::FaultRule::new(
        Some("getTag"),
        koji_hub_sim::FaultAction::HttpError { status: 502 },
        Some(1),
    ))
    .unwrap();
    let response = client()
        .post(sim.url())
        .body(call_xml("getTag", &[int(2)]))
        .send()
        .await
        .unwrap();
    let page = response.text().await.unwrap();

    let stats = sim.stats();
    assert_eq!(stats.method("system.multicall").rows, 2);
    assert_eq!(stats.method("getKojiVersion").calls, 1);
    assert_eq!(
        stats.method("getTag"),
        MethodStats {
            calls: 1,
            faults: 0,
            rows: 0,
            bytes: page.len() as u64,
            injected: 1
        }
    );

    let over_http: koji_hub_sim::StatsSnapshot = client()
        .get(format!("{}/control/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http, stats);
    client()
        .delete(format!("{}/control/stats", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert!(sim.stats().methods.is_empty());
}
