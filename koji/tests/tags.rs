//! Tag resolution: where each task method's tag comes from, and the resolver's hub calls.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Replay;
use dxr::Value;
use koji::calls;
use koji::tags::{TagResolver, TagSource, tag_source};
use koji::value::{int_value, kwargs_value, struct_value};

fn s(text: &str) -> Value {
    Value::String(text.to_string())
}

fn i(number: i64) -> Value {
    int_value(number)
}

fn empty() -> Value {
    Value::Struct(BTreeMap::new())
}

fn target_dict() -> Value {
    struct_value([
        ("build_tag", i(2)),
        ("build_tag_name", s("el9-build")),
        ("dest_tag", i(3)),
        ("dest_tag_name", s("el9-candidate")),
        ("id", i(1)),
        ("name", s("el9")),
    ])
}

fn tag_name(name: &str) -> TagSource {
    TagSource::TagName(name.to_string())
}

fn target_name(name: &str) -> TagSource {
    TagSource::TargetName(name.to_string())
}

#[test]
fn build_uses_its_target() {
    let params = [
        s("git+https://src.example.com/rpms/bash.git#6f4b"),
        s("el9"),
        empty(),
    ];
    assert_eq!(tag_source("build", &params), target_name("el9"));
}

#[test]
fn build_with_repo_id() {
    let opts = struct_value([("repo_id", i(7))]);
    let params = [
        s("git+https://src.example.com/rpms/bash.git#6f4b"),
        s("el9-candidate"),
        opts.clone(),
    ];
    assert_eq!(
        tag_source("build", &params),
        TagSource::TargetOrTagName("el9-candidate".into())
    );

    let params = [
        s("git+https://src.example.com/rpms/bash.git#6f4b"),
        Value::Nil,
        opts,
    ];
    assert_eq!(tag_source("build", &params), TagSource::Repo(7));
}

#[test]
fn build_arch_uses_its_root() {
    let params = [
        s("tasks/34/34/kernel.src.rpm"),
        i(2),
        s("x86_64"),
        Value::Boolean(true),
        empty(),
    ];
    assert_eq!(tag_source("buildArch", &params), TagSource::TagId(2));
    let params = [s("tasks/34/34/kernel.src.rpm"), s("el9-build"), s("x86_64")];
    assert_eq!(tag_source("buildArch", &params), tag_name("el9-build"));
}

#[test]
fn srpm_tasks_use_build_tag() {
    let params = [
        s("git+https://src.example.com/rpms/bash.git#6f4b"),
        i(2),
        empty(),
    ];
    assert_eq!(tag_source("buildSRPMFromSCM", &params), TagSource::TagId(2));
    let params = [s("work/1/bash.src.rpm"), s("el9-build"), empty()];
    assert_eq!(tag_source("rebuildSRPM", &params), tag_name("el9-build"));
}

#[test]
fn tag_build_uses_the_destination_not_fromtag() {
    let params = [i(6), i(4), Value::Boolean(false), Value::Nil];
    assert_eq!(tag_source("tagBuild", &params), TagSource::TagId(6));
    let moving = [
        i(6),
        i(4),
        Value::Boolean(false),
        i(3),
        Value::Boolean(false),
    ];
    assert_eq!(tag_source("tagBuild", &moving), TagSource::TagId(6));
}

#[test]
fn new_repo_tag_as_name_id_or_dict() {
    assert_eq!(
        tag_source("newRepo", &[s("f41-build")]),
        tag_name("f41-build")
    );
    assert_eq!(tag_source("newRepo", &[i(5)]), TagSource::TagId(5));
    let queued = struct_value([("id", i(5)), ("name", s("f41-build"))]);
    assert_eq!(
        tag_source("newRepo", &[queued, Value::Nil]),
        tag_name("f41-build")
    );
    let id_only = struct_value([("id", i(5))]);
    assert_eq!(tag_source("newRepo", &[id_only]), TagSource::TagId(5));
}

#[test]
fn createrepo_uses_its_repo() {
    assert_eq!(
        tag_source("createrepo", &[i(4), s("x86_64"), Value::Nil]),
        TagSource::Repo(4)
    );
}

#[test]
fn dist_repo_tasks_use_tag() {
    let params = [s("el9-dist"), i(12), Value::Array(vec![]), empty()];
    assert_eq!(tag_source("distRepo", &params), tag_name("el9-dist"));
    let params = [i(8), i(12), s("x86_64"), Value::Array(vec![]), empty()];
    assert_eq!(tag_source("createdistrepo", &params), TagSource::TagId(8));
}

#[test]
fn waitrepo_uses_tag() {
    let params = [s("el9-build"), Value::Nil, Value::Nil];
    assert_eq!(tag_source("waitrepo", &params), tag_name("el9-build"));
}

#[test]
fn tag_notification_uses_tag_info() {
    let params = [
        Value::Array(vec![s("alice@example.com")]),
        Value::Boolean(true),
        i(3),
        i(2),
        i(100),
        i(2),
    ];
    assert_eq!(tag_source("tagNotification", &params), TagSource::TagId(3));
}

#[test]
fn build_notification_uses_target() {
    let params = [
        Value::Array(vec![]),
        struct_value([("id", i(100))]),
        target_dict(),
        s("https://koji.example.com/koji"),
    ];
    assert_eq!(
        tag_source("buildNotification", &params),
        tag_name("el9-candidate")
    );
    let params = [
        Value::Array(vec![]),
        struct_value([("id", i(100))]),
        s("el9"),
        s("https://koji.example.com/koji"),
    ];
    assert_eq!(tag_source("buildNotification", &params), target_name("el9"));
}

#[test]
fn maven_and_chain_tasks_use_target() {
    let maven = [
        s("git+https://src.example.com/maven/app.git#1"),
        s("el9-maven"),
        empty(),
    ];
    assert_eq!(tag_source("maven", &maven), target_name("el9-maven"));
    let chainmaven = [empty(), s("el9-maven"), empty()];
    assert_eq!(
        tag_source("chainmaven", &chainmaven),
        target_name("el9-maven")
    );
    let chainbuild = [Value::Array(vec![]), s("f41"), empty()];
    assert_eq!(tag_source("chainbuild", &chainbuild), target_name("f41"));
}

#[test]
fn build_maven_uses_build_tag_dict() {
    let tag = struct_value([("id", i(9)), ("name", s("el9-maven-build"))]);
    let params = [
        s("git+https://src.example.com/maven/app.git#1"),
        tag,
        empty(),
    ];
    assert_eq!(
        tag_source("buildMaven", &params),
        tag_name("el9-maven-build")
    );
}

#[test]
fn wrapper_rpm_uses_build_target_dict() {
    let params = [
        s("git+https://src.example.com/wrapper.git#1"),
        target_dict(),
        empty(),
        empty(),
        empty(),
    ];
    assert_eq!(tag_source("wrapperRPM", &params), tag_name("el9-candidate"));
}

#[test]
fn image_tasks_use_target() {
    let image = [
        s("rhel-guest-image"),
        s("9.4"),
        Value::Array(vec![s("x86_64")]),
        s("el9"),
        s("http://example.com/os/"),
        empty(),
    ];
    assert_eq!(tag_source("image", &image), target_name("el9"));
    let live = [
        s("live"),
        s("1"),
        s("x86_64"),
        s("f41"),
        s("live.ks"),
        empty(),
    ];
    assert_eq!(tag_source("livecd", &live), target_name("f41"));
    assert_eq!(tag_source("appliance", &live), target_name("f41"));
    let livemedia = [
        s("live"),
        s("1"),
        Value::Array(vec![s("x86_64")]),
        s("f41"),
        s("live.ks"),
        empty(),
    ];
    assert_eq!(tag_source("livemedia", &livemedia), target_name("f41"));
}

#[test]
fn create_image_tasks_use_target_info_destination() {
    let repo_info = struct_value([("id", i(1)), ("tag_id", i(2)), ("tag_name", s("el9-build"))]);
    let create_image = [
        s("rhel"),
        s("9.4"),
        s("1"),
        s("x86_64"),
        target_dict(),
        i(2),
        repo_info.clone(),
        s("http://example.com/os/"),
        empty(),
    ];
    assert_eq!(
        tag_source("createImage", &create_image),
        tag_name("el9-candidate")
    );

    let create_live = [
        s("live"),
        s("1"),
        s("1"),
        s("x86_64"),
        target_dict(),
        i(2),
        repo_info.clone(),
        s("live.ks"),
        empty(),
    ];
    for method in ["createLiveCD", "createAppliance", "createLiveMedia"] {
        assert_eq!(
            tag_source(method, &create_live),
            tag_name("el9-candidate"),
            "{method}"
        );
    }

    let kiwi = [
        s("kiwi"),
        s("1"),
        s("1"),
        s("x86_64"),
        target_dict(),
        i(2),
        repo_info,
        s("git+https://src.example.com/kiwi.git"),
        s("desc"),
        empty(),
    ];
    assert_eq!(
        tag_source("createKiwiImage", &kiwi),
        tag_name("el9-candidate")
    );

    let dest_id_only = struct_value([("dest_tag", i(3)), ("name", s("el9"))]);
    let params = [s("rhel"), s("9.4"), s("1"), s("x86_64"), dest_id_only];
    assert_eq!(tag_source("createImage", &params), TagSource::TagId(3));
}

#[test]
fn indirection_image_uses_opts_target() {
    let opts = struct_value([("target", s("f41")), ("arch", s("x86_64"))]);
    assert_eq!(tag_source("indirectionimage", &[opts]), target_name("f41"));
    assert_eq!(
        tag_source("indirectionimage", &[empty()]),
        TagSource::Unknown
    );
}

#[test]
fn kiwi_build_uses_target() {
    let params = [
        s("f41"),
        Value::Array(vec![s("x86_64")]),
        s("git+https://src.example.com/kiwi.git"),
        s("desc"),
        empty(),
    ];
    assert_eq!(tag_source("kiwiBuild", &params), target_name("f41"));
}

#[test]
fn runroot_uses_root() {
    let params = [s("el9-build"), s("x86_64"), s("make check")];
    assert_eq!(tag_source("runroot", &params), tag_name("el9-build"));
}

#[test]
fn save_failed_tree_uses_buildroot() {
    assert_eq!(
        tag_source("saveFailedTree", &[i(812), Value::Boolean(false)]),
        TagSource::Buildroot(812)
    );
}

#[test]
fn new_style_params_are_read_by_name() {
    let params = [struct_value([
        ("__method__", s("kiwiBuild")),
        ("target", s("f41")),
        ("arches", Value::Array(vec![s("x86_64")])),
    ])];
    assert_eq!(tag_source("kiwiBuild", &params), target_name("f41"));

    let params = [struct_value([
        ("__method__", s("tagBuild")),
        ("tag_id", i(6)),
        ("build_id", i(4)),
    ])];
    assert_eq!(tag_source("tagBuild", &params), TagSource::TagId(6));

    let params = [struct_value([
        ("__method__", s("myPluginTask")),
        ("build_tag", s("el9-build")),
    ])];
    assert_eq!(tag_source("myPluginTask", &params), tag_name("el9-build"));
}

#[test]
fn keyword_arguments_are_read_by_name() {
    let kwargs = kwargs_value(BTreeMap::from([
        ("fromtag".to_string(), i(3)),
        ("tag_id".to_string(), i(6)),
    ]));
    assert_eq!(tag_source("tagBuild", &[kwargs]), TagSource::TagId(6));

    let kwargs = kwargs_value(BTreeMap::from([("target".to_string(), s("f41"))]));
    assert_eq!(
        tag_source("build", &[s("git+https://src.example.com/x.git"), kwargs]),
        target_name("f41")
    );
}

#[test]
fn methods_without_tags_and_missing_params() {
    assert_eq!(tag_source("sleep", &[i(10)]), TagSource::Unknown);
    assert_eq!(tag_source("newRepo", &[]), TagSource::Unknown);
    assert_eq!(tag_source("newRepo", &[Value::Nil]), TagSource::Unknown);
    assert_eq!(
        tag_source("build", &[s("git+https://src.example.com/x.git")]),
        TagSource::Unknown
    );
    assert_eq!(
        tag_source("createrepo", &[s("not a repo id")]),
        TagSource::Unknown
    );
}

/// Walks up the parents in `tasks` to the top-level task.
fn top_level(tasks: &BTreeMap<i64, koji::Task>, id: i64) -> &koji::Task {
    let mut task = &tasks[&id];
    while let Some(parent) = task.parent {
        task = tasks
            .get(&parent)
            .unwrap_or_else(|| panic!("parent {parent} of task {id} is in the captures"));
    }
    task
}

/// The tasks of the captured data set that the captures carry with their requests: 16 from
/// getTaskInfo and 18 active ones from listTasks (31 distinct), resolved against the
/// captured getBuildTargets and repoInfo replies.
#[tokio::test]
async fn captured_tasks_by_tag() {
    let replay = Replay::all_captures().await;
    let client = replay.client();

    let ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 20, 30, 40, 48, 9999];
    let mut tasks: BTreeMap<i64, koji::Task> = client
        .call(calls::get_task_infos(&ids, true))
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .map(|task| (task.id, task))
        .collect();
    let active = calls::TaskFilter {
        state: Some(vec![
            koji::TaskState::Free,
            koji::TaskState::Open,
            koji::TaskState::Assigned,
        ]),
        ..calls::TaskFilter::default()
    };
    let listed = client
        .call(calls::list_tasks(&active, &calls::QueryOpts::default()))
        .await
        .unwrap();
    tasks.extend(listed.into_iter().map(|task| (task.id, task)));
    assert_eq!(tasks.len(), 31);

    let resolver = TagResolver::new(client.clone());
    let mut by_tag: BTreeMap<String, usize> = BTreeMap::new();
    for id in tasks.keys() {
        let root = top_level(&tasks, *id);
        let params = root.request.as_deref().expect("top-level request");
        let tag = resolver.resolve_task(&root.method, params).await.unwrap();
        let tag = tag.unwrap_or_else(|| panic!("task {id} ({}) has a tag", root.method));
        *by_tag.entry(tag).or_default() += 1;
    }

    let expected = BTreeMap::from([
        ("el9-candidate".to_string(), 12),
        ("el9-build".to_string(), 8),
        ("f41-candidate".to_string(), 6),
        ("f41-build".to_string(), 5),
    ]);
    assert_eq!(by_tag, expected);

    let served: Vec<Option<String>> = replay
        .received()
        .into_iter()
        .map(|request| request.served)
        .collect();
    let targets_calls = served
        .iter()
        .filter(|name| name.as_deref() == Some("getBuildTargets"))
        .count();
    assert_eq!(targets_calls, 1, "targets are fetched once: {served:?}");
    assert!(
        served.iter().all(Option::is_some),
        "every request matched a capture: {served:?}"
    );
}

#[tokio::test]
async fn resolver_caches_targets_and_repos() {
    let replay = Replay::all_captures().await;
    let resolver = TagResolver::new(replay.client());

    assert_eq!(
        resolver
            .resolve(&TagSource::TagId(6))
            .await
            .unwrap()
            .as_deref(),
        Some("f41-candidate")
    );
    assert_eq!(
        resolver
            .resolve(&TagSource::TagId(2))
            .await
            .unwrap()
            .as_deref(),
        Some("el9-build")
    );
    assert_eq!(
        resolver
            .resolve(&TagSource::TargetId(2))
            .await
            .unwrap()
            .as_deref(),
        Some("f41-candidate")
    );
    assert_eq!(
        resolver
            .resolve(&TagSource::Repo(1))
            .await
            .unwrap()
            .as_deref(),
        Some("el9-build")
    );
    assert_eq!(
        resolver
            .resolve(&TagSource::Repo(1))
            .await
            .unwrap()
            .as_deref(),
        Some("el9-build")
    );
    assert_eq!(
        resolver
            .resolve(&TagSource::TargetOrTagName("el9".into()))
            .await
            .unwrap()
            .as_deref(),
        Some("el9-candidate")
    );
    assert_eq!(
        resolver
            .resolve(&TagSource::TargetOrTagName("side-tag-1".into()))
            .await
            .unwrap()
            .as_deref(),
        Some("side-tag-1")
    );
    assert_eq!(resolver.resolve(&TagSource::Unknown).await.unwrap(), None);

    let served: Vec<String> = replay
        .received()
        .into_iter()
        .filter_map(|request| request.served)
        .collect();
    assert_eq!(
        served,
        ["getBuildTargets", "repoInfo"],
        "one call each, then caches"
    );
}

#[tokio::test]
async fn unknown_target_refreshes_at_most_once_per_interval() {
    let replay = Replay::all_captures().await;
    let resolver = TagResolver::new(replay.client());
    for _ in 0..3 {
        assert_eq!(
            resolver
                .resolve(&TagSource::TargetName("f42".into()))
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(replay.received().len(), 1, "no refresh within the interval");

    let replay = Replay::all_captures().await;
    let resolver = TagResolver::new(replay.client()).target_refresh(Duration::ZERO);
    for _ in 0..3 {
        assert_eq!(
            resolver
                .resolve(&TagSource::TargetName("f42".into()))
                .await
                .unwrap(),
            None
        );
    }
    assert_eq!(
        replay.received().len(),
        4,
        "first fetch, then one refresh per miss"
    );
}

#[tokio::test]
async fn resolver_asks_get_tag_for_ids_outside_targets() {
    let read = |name: &str| {
        std::fs::read(common::wire_dir().join(format!("{name}.response.xml"))).unwrap()
    };
    let targets = read("getBuildTargets");
    let tag = read("getTag");
    let missing = read("getHost-missing");
    let headers = "HTTP/1.1 200 OK\nContent-Type: text/xml";
    let replay = Replay::sequence(&[
        (headers, &targets[..]),
        (headers, &tag[..]),
        (headers, &missing[..]),
    ])
    .await;
    let resolver = TagResolver::new(replay.client());

    assert_eq!(
        resolver
            .resolve(&TagSource::TagId(40))
            .await
            .unwrap()
            .as_deref(),
        Some("el9-build")
    );
    assert_eq!(
        resolver
            .resolve(&TagSource::TagId(40))
            .await
            .unwrap()
            .as_deref(),
        Some("el9-build")
    );
    assert_eq!(resolver.resolve(&TagSource::TagId(41)).await.unwrap(), None);
    assert_eq!(resolver.resolve(&TagSource::TagId(41)).await.unwrap(), None);

    let requests: Vec<(String, Vec<Value>)> = replay
        .received()
        .iter()
        .map(|request| common::parse_request(&request.body))
        .collect();
    let expected = [
        ("getBuildTargets".to_string(), vec![]),
        ("getTag".to_string(), vec![i(40)]),
        ("getTag".to_string(), vec![i(41)]),
    ];
    assert_eq!(requests, expected);
}

#[tokio::test]
async fn resolver_reads_buildroot_tag() {
    let body = "<?xml version='1.0'?><methodResponse><params><param><value><struct>\
        <member><name>id</name><value><int>812</int></value></member>\
        <member><name>tag_id</name><value><int>2</int></value></member>\
        <member><name>tag_name</name><value><string>el9-build</string></value></member>\
        <member><name>repo_id</name><value><int>1</int></value></member>\
        <member><name>host_id</name><value><int>1</int></value></member>\
        <member><name>task_id</name><value><int>35</int></value></member>\
        </struct></value></param></params></methodResponse>";
    let replay = Replay::fixed("HTTP/1.1 200 OK\nContent-Type: text/xml", body.as_bytes()).await;
    let resolver = TagResolver::new(replay.client());

    let tag = resolver
        .resolve_task("saveFailedTree", &[i(812)])
        .await
        .unwrap();
    assert_eq!(tag.as_deref(), Some("el9-build"));
    assert_eq!(
        common::parse_request(&replay.received()[0].body),
        ("getBuildroot".to_string(), vec![i(812)])
    );
}

#[tokio::test]
async fn resolver_passes_hub_errors_on() {
    let replay = Replay::capture("http-get").await;
    let resolver = TagResolver::new(replay.client());
    let error = resolver
        .resolve(&TagSource::TargetName("el9".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, koji::Error::Http { status: 405, .. }),
        "{error}"
    );
}
