//! Host, channel, tag and repo lookups, and the version modes that imitate older hubs.

mod common;

use common::{
    as_int, client, fault, ids, int, items, kwargs, member, s, st, start, start_with, value,
};
use dxr::Value;
use koji_hub_sim::{SimOptions, VersionMode};

#[tokio::test]
async fn list_hosts_filters() {
    let sim = start("captured").await;
    let by_kwargs = |members: &[(&str, Value)]| kwargs(members);

    assert_eq!(
        ids(&value(&sim, "listHosts", &[]).await),
        vec![1, 2, 3, 4, 5, 6]
    );
    let x86 = value(
        &sim,
        "listHosts",
        &[by_kwargs(&[("arches", Value::Array(vec![s("x86_64")]))])],
    )
    .await;
    assert_eq!(ids(&x86), vec![1, 2, 6]);
    let i686 = value(&sim, "listHosts", &[by_kwargs(&[("arches", s("i686"))])]).await;
    assert_eq!(ids(&i686), vec![1, 2]);
    let positional = value(
        &sim,
        "listHosts",
        &[Value::Array(vec![s("s390x"), s("ppc64le")])],
    )
    .await;
    assert_eq!(ids(&positional), vec![4, 5]);
    let (code, string) = fault(&sim, "listHosts", &[Value::Array(vec![])]).await;
    assert_eq!(
        (code, string.as_str()),
        (1000, "arches option cannot be empty")
    );

    let createrepo = value(
        &sim,
        "listHosts",
        &[by_kwargs(&[("channelID", s("createrepo"))])],
    )
    .await;
    assert_eq!(ids(&createrepo), vec![1, 6]);
    let by_id = value(&sim, "listHosts", &[by_kwargs(&[("channelID", int(9))])]).await;
    assert_eq!(ids(&by_id), vec![2]);
    let (code, string) = fault(
        &sim,
        "listHosts",
        &[by_kwargs(&[("channelID", s("nosuch"))])],
    )
    .await;
    assert_eq!(
        (code, string.as_str()),
        (1000, "No such entry in table channels: nosuch")
    );

    let not_ready = value(
        &sim,
        "listHosts",
        &[by_kwargs(&[("ready", Value::Boolean(false))])],
    )
    .await;
    assert_eq!(ids(&not_ready), vec![4, 5]);
    let disabled = value(
        &sim,
        "listHosts",
        &[by_kwargs(&[("enabled", Value::Boolean(false))])],
    )
    .await;
    assert_eq!(ids(&disabled), vec![5]);
    let by_user = value(&sim, "listHosts", &[by_kwargs(&[("userID", int(7))])]).await;
    assert_eq!(ids(&by_user), vec![3]);
    let (code, string) = fault(&sim, "listHosts", &[by_kwargs(&[("userID", s("nosuch"))])]).await;
    assert_eq!((code, string.as_str()), (1000, "No such user: 'nosuch'"));

    // queryOpts is accepted and ignored, as on the hub.
    let ignored = value(
        &sim,
        "listHosts",
        &[by_kwargs(&[("queryOpts", st(&[("limit", int(1))]))])],
    )
    .await;
    assert_eq!(items(&ignored).len(), 6);
}

#[tokio::test]
async fn host_channel_and_tag_lookups() {
    let sim = start("captured").await;

    assert_eq!(
        member(&value(&sim, "getHost", &[int(3)]).await, "name"),
        &s("builder-aarch64-01.example.com")
    );
    let (code, string) = fault(&sim, "getHost", &[int(99), Value::Boolean(true)]).await;
    assert_eq!((code, string.as_str()), (1000, "Invalid hostInfo: 99"));
    let (code, string) = fault(&sim, "getHost", &[Value::Nil]).await;
    assert_eq!(
        (code, string.as_str()),
        (1019, "Invalid name or id value: None")
    );
    let (code, string) = fault(&sim, "getHost", &[int(1), int(2), int(3), int(4)]).await;
    assert_eq!(code, 1019);
    assert_eq!(
        string,
        "get_host() takes from 1 to 3 positional arguments but 4 were given"
    );

    let disabled = value(
        &sim,
        "listChannels",
        &[kwargs(&[("enabled", Value::Boolean(false))])],
    )
    .await;
    assert_eq!(ids(&disabled), vec![5]);
    let image_host = value(
        &sim,
        "listChannels",
        &[kwargs(&[("hostID", s("image-builder-01.example.com"))])],
    )
    .await;
    assert_eq!(ids(&image_host), vec![7, 2]);
    let (code, string) = fault(&sim, "listChannels", &[s("nosuch")]).await;
    assert_eq!((code, string.as_str()), (1000, "Invalid hostInfo: nosuch"));
    assert_eq!(
        as_int(member(
            &value(&sim, "getChannel", &[s("bigmem")]).await,
            "id"
        )),
        9
    );
    assert_eq!(value(&sim, "getChannel", &[int(99)]).await, Value::Nil);

    let f41 = value(
        &sim,
        "getBuildTargets",
        &[kwargs(&[("buildTagID", s("f41-build"))])],
    )
    .await;
    assert_eq!(ids(&f41), vec![2]);
    let (code, string) = fault(
        &sim,
        "getBuildTarget",
        &[s("nosuch"), Value::Nil, Value::Boolean(true)],
    )
    .await;
    assert_eq!(
        (code, string.as_str()),
        (1000, "No such build target: nosuch")
    );
    assert_eq!(
        member(&value(&sim, "getTag", &[int(5)]).await, "arches"),
        &s("x86_64 aarch64")
    );
    let (code, string) = fault(&sim, "getTag", &[s("nosuch"), Value::Boolean(true)]).await;
    assert_eq!((code, string.as_str()), (1000, "No such tagInfo: 'nosuch'"));

    let repo = value(&sim, "repoInfo", &[int(3)]).await;
    assert_eq!(member(&repo, "tag_name"), &s("f41-build"));
    assert_eq!(member(&repo, "task_state"), &int(5));
    let buildroot = value(&sim, "getBuildroot", &[int(2)]).await;
    assert_eq!(member(&buildroot, "tag_name"), &s("el9-build"));
    assert_eq!(
        member(&buildroot, "host_name"),
        &s("builder-x86-02.example.com")
    );
    let (code, string) = fault(&sim, "getBuildroot", &[int(5), Value::Boolean(true)]).await;
    assert_eq!((code, string.as_str()), (1000, "No such buildroot: 5"));
}

async fn koji_version_header(sim: &koji_hub_sim::SimHandle) -> String {
    let body = common::call_xml("getAPIVersion", &[]);
    let response = client().post(sim.url()).body(body).send().await.unwrap();
    response
        .headers()
        .get("Koji-Version")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn current_mode_has_update_ts() {
    let sim = start("captured").await;
    assert_eq!(koji_version_header(&sim).await, "1.35.3");
    let host = value(&sim, "getHost", &[int(5)]).await;
    assert_eq!(member(&host, "update_ts"), &Value::Nil);
    let ts = value(
        &sim,
        "getLastHostUpdate",
        &[int(1), kwargs(&[("ts", Value::Boolean(true))])],
    )
    .await;
    assert_eq!(ts, Value::Double(1_796_398_967.277_209));
}

#[tokio::test]
async fn pre_1_33_mode_drops_update_ts() {
    let options = SimOptions {
        version: VersionMode::Pre133,
        ..SimOptions::default()
    };
    let sim = start_with("captured", options).await;

    assert_eq!(koji_version_header(&sim).await, "1.32.1");
    assert_eq!(value(&sim, "getKojiVersion", &[]).await, s("1.32.1"));
    for host in items(&value(&sim, "listHosts", &[]).await) {
        assert!(matches!(host, Value::Struct(members) if !members.contains_key("update_ts")));
    }
    let ts = value(
        &sim,
        "getLastHostUpdate",
        &[int(1), kwargs(&[("ts", Value::Boolean(true))])],
    )
    .await;
    assert_eq!(ts, Value::Double(1_796_398_967.277_209));
    for channel in items(&value(&sim, "listChannels", &[]).await) {
        assert!(matches!(channel, Value::Struct(members) if members.contains_key("enabled")));
    }
}

#[tokio::test]
async fn pre_1_25_mode_rejects_ts() {
    let sim = start("captured").await;
    sim.set_version_mode(VersionMode::Pre125);

    assert_eq!(koji_version_header(&sim).await, "1.24.1");
    let host = value(&sim, "getHost", &[int(1)]).await;
    assert!(matches!(&host, Value::Struct(members) if !members.contains_key("update_ts")));
    let (code, string) = fault(
        &sim,
        "getLastHostUpdate",
        &[int(1), kwargs(&[("ts", Value::Boolean(true))])],
    )
    .await;
    assert_eq!(code, 1019);
    assert_eq!(
        string,
        "RootExports.getLastHostUpdate() got an unexpected keyword argument 'ts'"
    );
    let (code, string) = fault(&sim, "getLastHostUpdate", &[int(1), Value::Boolean(true)]).await;
    assert_eq!(code, 1019);
    assert_eq!(
        string,
        "RootExports.getLastHostUpdate() takes 2 positional arguments but 3 were given"
    );
    assert_eq!(
        value(&sim, "getLastHostUpdate", &[int(1)]).await,
        s("2026-12-04 15:42:47.277209+00:00")
    );
    assert_eq!(
        value(&sim, "getLastHostUpdate", &[int(5)]).await,
        Value::Nil
    );

    let channels = value(&sim, "listChannels", &[]).await;
    for channel in items(&channels) {
        assert!(
            matches!(channel, Value::Struct(m) if m.len() == 2),
            "{channel:?}"
        );
    }
    let (code, string) = fault(
        &sim,
        "listChannels",
        &[kwargs(&[("enabled", Value::Boolean(true))])],
    )
    .await;
    assert_eq!(code, 1019);
    assert_eq!(
        string,
        "list_channels() got an unexpected keyword argument 'enabled'"
    );
}

#[tokio::test]
async fn version_mode_switches_over_http() {
    let sim = start("captured").await;
    let url = format!("{}/control/version", sim.base_url());

    let reply: serde_json::Value = client()
        .post(&url)
        .json(&serde_json::json!({ "mode": "pre-1.33" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["koji_version"], "1.32.1");
    assert_eq!(sim.version_mode(), VersionMode::Pre133);
    assert_eq!(koji_version_header(&sim).await, "1.32.1");

    let bad = client()
        .post(&url)
        .json(&serde_json::json!({ "mode": "1.20" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
}
