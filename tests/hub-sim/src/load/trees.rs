//! Generated task trees: the method mix, requests, run times and outcomes.

use std::sync::Arc;

use rand::RngExt;

use super::catalog::TargetChoice;
use super::{ChildPlan, Job, JobKind, LeafRun, LoadEngine, Step};
use crate::tasks::{Payload, TaskState};
use crate::value::Val;
use crate::world::{TaskDraft, World};

/// Packages built by generated builds, with their version-release.
pub(super) const PACKAGES: &[(&str, &str)] = &[
    ("bash", "5.2.26-4"),
    ("glibc", "2.39-17"),
    ("kernel", "6.11.4-300"),
    ("python3.13", "3.13.0-1"),
    ("systemd", "256.7-1"),
    ("openssl", "3.2.2-9"),
    ("gcc", "14.2.1-3"),
    ("rust", "1.82.0-1"),
    ("golang", "1.23.2-1"),
    ("firefox", "131.0.3-1"),
    ("chromium", "130.0.6723.91-1"),
    ("libreoffice", "24.8.2.1-2"),
    ("nodejs22", "22.10.0-1"),
    ("perl", "5.40.0-512"),
    ("coreutils", "9.5-9"),
    ("dnf5", "5.2.6.2-1"),
    ("rpm", "4.20.0-1"),
    ("qemu", "9.1.1-1"),
    ("llvm", "19.1.2-1"),
    ("texlive", "2024-3"),
];

/// The source of generated maven builds.
pub(super) const MAVEN_SOURCE: &str =
    "git+https://src.example.com/maven/commons-lang.git#3f6d2a1c0b9e8d7f6a5b4c3d2e1f0a9b8c7d6e5f";

/// Weights of the buildArch tasks, as `updateWeight` sets them from build durations.
pub(super) const BUILD_ARCH_WEIGHTS: &[f64] = &[1.5, 1.5, 1.5, 1.5, 2.0, 2.5, 3.0, 4.5, 6.0];

/// Kinds of top-level trees with their share of arrivals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TreeKind {
    Build,
    NewRepo,
    TagBuild,
    Image,
    LiveMedia,
    Maven,
}

pub(super) const TREE_MIX: &[(TreeKind, f64)] = &[
    (TreeKind::Build, 0.40),
    (TreeKind::NewRepo, 0.30),
    (TreeKind::TagBuild, 0.22),
    (TreeKind::Image, 0.04),
    (TreeKind::LiveMedia, 0.02),
    (TreeKind::Maven, 0.02),
];

/// Run time range (seconds, drawn log-uniformly), failure rate and weight of a leaf method.
#[derive(Clone, Copy, Debug)]
pub(super) struct LeafKind {
    pub(super) method: &'static str,
    pub(super) run_secs: (f64, f64),
    pub(super) failure_rate: f64,
    pub(super) weight: f64,
}

pub(super) const SRPM: LeafKind = LeafKind {
    method: "buildSRPMFromSCM",
    run_secs: (40.0, 400.0),
    failure_rate: 0.02,
    weight: 1.0,
};
pub(super) const BUILD_ARCH: LeafKind = LeafKind {
    method: "buildArch",
    run_secs: (120.0, 3600.0),
    failure_rate: 0.04,
    weight: 1.5,
};
pub(super) const TAG_BUILD_CHILD: LeafKind = LeafKind {
    method: "tagBuild",
    run_secs: (3.0, 60.0),
    failure_rate: 0.01,
    weight: 1.0,
};
pub(super) const TAG_BUILD_TOP: LeafKind = LeafKind {
    method: "tagBuild",
    run_secs: (3.0, 60.0),
    failure_rate: 0.03,
    weight: 1.0,
};
pub(super) const CREATEREPO: LeafKind = LeafKind {
    method: "createrepo",
    run_secs: (20.0, 600.0),
    failure_rate: 0.01,
    weight: 1.5,
};
pub(super) const CREATE_IMAGE: LeafKind = LeafKind {
    method: "createImage",
    run_secs: (600.0, 2700.0),
    failure_rate: 0.05,
    weight: 2.0,
};
pub(super) const CREATE_LIVEMEDIA: LeafKind = LeafKind {
    method: "createLiveMedia",
    run_secs: (900.0, 3600.0),
    failure_rate: 0.05,
    weight: 1.5,
};
pub(super) const BUILD_MAVEN: LeafKind = LeafKind {
    method: "buildMaven",
    run_secs: (300.0, 1800.0),
    failure_rate: 0.03,
    weight: 1.5,
};

/// A top-level task to create.
pub(super) struct RootPlan<'a> {
    pub(super) method: &'static str,
    pub(super) channel_id: i64,
    pub(super) owner: i64,
    pub(super) priority: i32,
    pub(super) weight: f64,
    pub(super) request: Arc<Payload>,
    pub(super) tag: &'a str,
    pub(super) kind: JobKind,
}

impl LoadEngine {
    pub(super) fn arrive(&mut self, world: &mut World) {
        let mut roll =
            self.rng.random::<f64>() * TREE_MIX.iter().map(|(_, share)| share).sum::<f64>();
        let mut kind = TreeKind::Build;
        for (candidate, share) in TREE_MIX {
            if roll < *share {
                kind = *candidate;
                break;
            }
            roll -= share;
        }

        let target_index = self.pick_target();
        let target = self.targets[target_index].clone();
        let user = self.index(self.users.len());
        let owner = self.users[user];
        let root_id = match kind {
            TreeKind::Build => self.build_tree(world, &target, owner),
            TreeKind::NewRepo => self.newrepo_tree(world, &target),
            TreeKind::TagBuild => self.tagbuild_tree(world, &target, owner),
            TreeKind::Image => self.image_tree(world, &target, owner),
            TreeKind::LiveMedia => self.livemedia_tree(world, &target, owner),
            TreeKind::Maven => self.maven_tree(world, &target, owner),
        };
        self.schedule_in(world, 2.0, 30.0, Step::Assign(root_id));
        if self.chance(self.config.cancel_fraction) {
            self.schedule_in(world, 30.0, 1800.0, Step::Cancel(root_id));
        }
    }

    pub(super) fn pick_target(&mut self) -> usize {
        let side: Vec<usize> = (0..self.targets.len())
            .filter(|i| self.targets[*i].side)
            .collect();
        let main: Vec<usize> = (0..self.targets.len())
            .filter(|i| !self.targets[*i].side)
            .collect();
        let pool = if !side.is_empty() && (main.is_empty() || self.chance(0.15)) {
            side
        } else {
            main
        };
        pool[self.index(pool.len())]
    }

    pub(super) fn payload(&mut self, key: String, make: impl FnOnce() -> Payload) -> Arc<Payload> {
        self.payloads
            .entry(key)
            .or_insert_with(|| Arc::new(make()))
            .clone()
    }

    pub(super) fn request(
        &mut self,
        method: &'static str,
        key: &str,
        params: impl FnOnce() -> Vec<Val>,
    ) -> Arc<Payload> {
        self.payload(format!("request:{method}:{key}"), || {
            Payload::request(method, &params())
        })
    }

    pub(super) fn outcome(&mut self, kind: &LeafKind, fails: bool) -> Arc<Payload> {
        let method = kind.method;
        if fails {
            self.payload(format!("fault:{method}"), || failure_payload(method))
        } else {
            self.payload(format!("result:{method}"), || {
                Payload::result(&success_value(method))
            })
        }
    }

    pub(super) fn leaf_run(&mut self, kind: &LeafKind) -> LeafRun {
        let fails = self.chance(kind.failure_rate * self.config.failure_scale);
        let weight = if kind.method == "buildArch" {
            BUILD_ARCH_WEIGHTS[self.index(BUILD_ARCH_WEIGHTS.len())]
        } else {
            kind.weight
        };
        LeafRun {
            run_secs: self.log_uniform(kind.run_secs),
            weight,
            outcome: self.outcome(kind, fails),
            fails,
        }
    }

    pub(super) fn create_root(&mut self, world: &mut World, root: RootPlan<'_>) -> i64 {
        let id = world.create_task(TaskDraft {
            method: root.method.to_owned(),
            channel_id: root.channel_id,
            arch: "noarch".to_owned(),
            label: None,
            parent: None,
            owner: root.owner,
            priority: root.priority,
            weight: 1.0,
            state: TaskState::Free,
            host_id: None,
            request: root.request,
            tag: Some(root.tag.to_owned()),
            waiting: None,
            awaited: None,
        });
        self.jobs.insert(
            id,
            Job {
                parent: None,
                weight: root.weight,
                kind: root.kind,
            },
        );
        id
    }

    pub(super) fn parent_kind(stages: Vec<Vec<ChildPlan>>, result: Arc<Payload>) -> JobKind {
        JobKind::Parent {
            stages: stages.into(),
            children: Vec::new(),
            open_children: 0,
            failure: None,
            result,
        }
    }

    pub(super) fn build_tree(
        &mut self,
        world: &mut World,
        target: &TargetChoice,
        owner: i64,
    ) -> i64 {
        let (package, version) = PACKAGES[self.index(PACKAGES.len())];
        let source = format!(
            "git+https://src.example.com/rpms/{package}.git#{}",
            commit_hash(package)
        );
        let scratch = self.chance(0.15);
        // Big builds go to bigmem when its hosts cover every arch of the target.
        let bigmem = self.channels.bigmem.filter(|bigmem| {
            target
                .arches
                .iter()
                .all(|arch| self.serves(world, *bigmem, arch))
        });
        let channel = match bigmem {
            Some(bigmem) if self.chance(0.05) => bigmem,
            _ => self.channels.default,
        };

        let srpm_request = {
            let (source, build_tag, repo) = (source.clone(), target.build_tag, target.repo_id);
            self.request(
                "buildSRPMFromSCM",
                &format!("{package}:{build_tag}"),
                || vec![Val::Str(source), Val::Int(build_tag), repo_opts(repo)],
            )
        };
        let srpm = ChildPlan {
            method: SRPM.method,
            channel_id: channel,
            arch: "noarch".into(),
            label: Some("srpm".into()),
            request: srpm_request,
            leaf: self.leaf_run(&SRPM),
        };

        let mut arch_builds = Vec::new();
        for (position, arch) in self
            .served_arches(world, channel, target)
            .iter()
            .enumerate()
        {
            let srpm_path = format!("tasks/srpm/{package}-{version}.src.rpm");
            let (build_tag, repo) = (target.build_tag, target.repo_id);
            let keep = position == 0;
            let request = self.request(
                "buildArch",
                &format!("{package}:{build_tag}:{arch}:{keep}"),
                || {
                    vec![
                        Val::Str(srpm_path),
                        Val::Int(build_tag),
                        Val::Str(arch.clone()),
                        Val::Bool(keep),
                        repo_opts(repo),
                    ]
                },
            );
            arch_builds.push(ChildPlan {
                method: BUILD_ARCH.method,
                channel_id: channel,
                arch: arch.clone(),
                label: Some(arch.clone()),
                request,
                leaf: self.leaf_run(&BUILD_ARCH),
            });
        }

        let mut stages = vec![vec![srpm], arch_builds];
        if !scratch {
            let (dest_tag, build_id) = (target.dest_tag, build_id(package));
            let request = self.request("tagBuild", &format!("{package}:{dest_tag}:child"), || {
                vec![
                    Val::Int(dest_tag),
                    Val::Int(build_id),
                    Val::Bool(false),
                    Val::Nil,
                    Val::Bool(true),
                ]
            });
            stages.push(vec![ChildPlan {
                method: TAG_BUILD_CHILD.method,
                channel_id: channel,
                arch: "noarch".into(),
                label: Some("tag".into()),
                request,
                leaf: self.leaf_run(&TAG_BUILD_CHILD),
            }]);
        }

        let request = {
            let name = target.name.clone();
            self.request("build", &format!("{package}:{name}:{scratch}"), || {
                let opts = if scratch {
                    vec![("scratch".into(), Val::Bool(true))]
                } else {
                    Vec::new()
                };
                vec![Val::Str(source), Val::Str(name), Val::Struct(opts)]
            })
        };
        let result = self.payload("result:build".into(), || Payload::result(&Val::Nil));
        let kind = Self::parent_kind(stages, result);
        self.create_root(
            world,
            RootPlan {
                method: "build",
                channel_id: channel,
                owner,
                priority: 20,
                weight: 0.2,
                request,
                tag: &target.dest_tag_name,
                kind,
            },
        )
    }

    pub(super) fn newrepo_tree(&mut self, world: &mut World, target: &TargetChoice) -> i64 {
        let channel = self.channels.createrepo;
        let mut repos = Vec::new();
        for arch in &target.arches {
            let repo = target.repo_id;
            let request = self.request("createrepo", &format!("{repo}:{arch}"), || {
                vec![Val::Int(repo), Val::Str(arch.clone()), Val::Nil]
            });
            repos.push(ChildPlan {
                method: CREATEREPO.method,
                channel_id: channel,
                arch: "noarch".into(),
                label: Some(arch.clone()),
                request,
                leaf: self.leaf_run(&CREATEREPO),
            });
        }
        let tag_name = target.build_tag_name.clone();
        let request = self.request("newRepo", &tag_name, || vec![Val::Str(tag_name.clone())]);
        let repo = target.repo_id;
        let result = self.payload(format!("result:newRepo:{repo}"), || {
            Payload::result(&Val::Array(vec![Val::Int(repo), Val::Int(repo * 10)]))
        });
        let kind = Self::parent_kind(vec![repos], result);
        let owner = self.kojira;
        self.create_root(
            world,
            RootPlan {
                method: "newRepo",
                channel_id: channel,
                owner,
                priority: 15,
                weight: 0.1,
                request,
                tag: &target.build_tag_name,
                kind,
            },
        )
    }

    pub(super) fn tagbuild_tree(
        &mut self,
        world: &mut World,
        target: &TargetChoice,
        owner: i64,
    ) -> i64 {
        let (package, _) = PACKAGES[self.index(PACKAGES.len())];
        let (dest_tag, build_id) = (target.dest_tag, build_id(package));
        let request = self.request("tagBuild", &format!("{package}:{dest_tag}"), || {
            vec![
                Val::Int(dest_tag),
                Val::Int(build_id),
                Val::Bool(false),
                Val::Nil,
            ]
        });
        let run = self.leaf_run(&TAG_BUILD_TOP);
        let root = RootPlan {
            method: "tagBuild",
            channel_id: self.channels.default,
            owner,
            priority: 10,
            weight: run.weight,
            request,
            tag: &target.dest_tag_name,
            kind: JobKind::Leaf(run),
        };
        self.create_root(world, root)
    }

    pub(super) fn image_tree(
        &mut self,
        world: &mut World,
        target: &TargetChoice,
        owner: i64,
    ) -> i64 {
        let channel = self.channels.image;
        let arches: Vec<String> = self
            .served_arches(world, channel, target)
            .into_iter()
            .take(2)
            .collect();
        let target_info = target_info(target);
        let mut images = Vec::new();
        for arch in &arches {
            let (info, build_tag, repo) = (target_info.clone(), target.build_tag, target.repo_id);
            let name = target.name.clone();
            let request = self.request("createImage", &format!("{name}:{arch}"), || {
                vec![
                    Val::Str("cloud-base".into()),
                    Val::Str("1".into()),
                    Val::Str("1".into()),
                    Val::Str(arch.clone()),
                    info,
                    Val::Int(build_tag),
                    Val::Struct(vec![
                        ("id".into(), Val::Int(repo)),
                        ("tag_id".into(), Val::Int(build_tag)),
                    ]),
                    Val::Str(format!("https://download.example.com/{name}/{arch}/os/")),
                    Val::Struct(vec![(
                        "format".into(),
                        Val::Array(vec![Val::Str("qcow2".into())]),
                    )]),
                ]
            });
            images.push(ChildPlan {
                method: CREATE_IMAGE.method,
                channel_id: channel,
                arch: arch.clone(),
                label: Some(arch.clone()),
                request,
                leaf: self.leaf_run(&CREATE_IMAGE),
            });
        }
        let name = target.name.clone();
        let request = self.request("image", &name, || {
            vec![
                Val::Str("cloud-base".into()),
                Val::Str("1".into()),
                Val::Array(arches.iter().map(|arch| Val::Str(arch.clone())).collect()),
                Val::Str(name.clone()),
                Val::Str(format!("https://download.example.com/{name}/x86_64/os/")),
                Val::Struct(vec![(
                    "format".into(),
                    Val::Array(vec![Val::Str("qcow2".into())]),
                )]),
            ]
        });
        let result = self.payload("result:image".into(), || Payload::result(&Val::Nil));
        let kind = Self::parent_kind(vec![images], result);
        self.create_root(
            world,
            RootPlan {
                method: "image",
                channel_id: channel,
                owner,
                priority: 20,
                weight: 0.2,
                request,
                tag: &target.dest_tag_name,
                kind,
            },
        )
    }

    pub(super) fn livemedia_tree(
        &mut self,
        world: &mut World,
        target: &TargetChoice,
        owner: i64,
    ) -> i64 {
        let channel = self.channels.livemedia;
        let arch = self
            .served_arches(world, channel, target)
            .into_iter()
            .next()
            .unwrap_or_else(|| "x86_64".into());
        let (info, build_tag, name) = (target_info(target), target.build_tag, target.name.clone());
        let child_request = self.request("createLiveMedia", &format!("{name}:{arch}"), || {
            vec![
                Val::Str("workstation-live".into()),
                Val::Str("1".into()),
                Val::Str("1".into()),
                Val::Str(arch.clone()),
                info,
                Val::Int(build_tag),
                Val::Nil,
                Val::Str("workstation-live.ks".into()),
                Val::Struct(Vec::new()),
            ]
        });
        let child = ChildPlan {
            method: CREATE_LIVEMEDIA.method,
            channel_id: channel,
            arch: arch.clone(),
            label: Some(arch.clone()),
            request: child_request,
            leaf: self.leaf_run(&CREATE_LIVEMEDIA),
        };
        let request = self.request("livemedia", &name, || {
            vec![
                Val::Str("workstation-live".into()),
                Val::Str("1".into()),
                Val::Array(vec![Val::Str(arch.clone())]),
                Val::Str(name.clone()),
                Val::Str("workstation-live.ks".into()),
                Val::Struct(Vec::new()),
            ]
        });
        let result = self.payload("result:livemedia".into(), || Payload::result(&Val::Nil));
        let kind = Self::parent_kind(vec![vec![child]], result);
        self.create_root(
            world,
            RootPlan {
                method: "livemedia",
                channel_id: channel,
                owner,
                priority: 20,
                weight: 0.2,
                request,
                tag: &target.dest_tag_name,
                kind,
            },
        )
    }

    pub(super) fn maven_tree(
        &mut self,
        world: &mut World,
        target: &TargetChoice,
        owner: i64,
    ) -> i64 {
        let channel = self.channels.maven;
        let url = MAVEN_SOURCE.to_owned();
        let (build_tag, build_tag_name, name) = (
            target.build_tag,
            target.build_tag_name.clone(),
            target.name.clone(),
        );
        let child_request = self.request("buildMaven", &name.clone(), || {
            vec![
                Val::Str(url.clone()),
                Val::Struct(vec![
                    ("id".into(), Val::Int(build_tag)),
                    ("name".into(), Val::Str(build_tag_name)),
                ]),
                Val::Struct(Vec::new()),
            ]
        });
        let child = ChildPlan {
            method: BUILD_MAVEN.method,
            channel_id: channel,
            arch: "noarch".into(),
            label: None,
            request: child_request,
            leaf: self.leaf_run(&BUILD_MAVEN),
        };
        let request = self.request("maven", &name, || {
            vec![
                Val::Str(url.clone()),
                Val::Str(name.clone()),
                Val::Struct(Vec::new()),
            ]
        });
        let result = self.payload("result:maven".into(), || Payload::result(&Val::Nil));
        let kind = Self::parent_kind(vec![vec![child]], result);
        self.create_root(
            world,
            RootPlan {
                method: "maven",
                channel_id: channel,
                owner,
                priority: 20,
                weight: 0.2,
                request,
                tag: &target.dest_tag_name,
                kind,
            },
        )
    }
}

pub(super) fn leaf_kind_for(method: &str) -> LeafKind {
    match method {
        "buildSRPMFromSCM" => SRPM,
        "buildArch" => BUILD_ARCH,
        "tagBuild" => TAG_BUILD_CHILD,
        "createrepo" => CREATEREPO,
        "createImage" => CREATE_IMAGE,
        "createLiveMedia" => CREATE_LIVEMEDIA,
        "buildMaven" => BUILD_MAVEN,
        _ => LeafKind {
            method: "task",
            run_secs: (60.0, 900.0),
            failure_rate: 0.0,
            weight: 1.0,
        },
    }
}

pub(super) fn repo_opts(repo: i64) -> Val {
    Val::Struct(vec![("repo_id".into(), Val::Int(repo))])
}

pub(super) fn target_info(target: &TargetChoice) -> Val {
    Val::Struct(vec![
        ("build_tag".into(), Val::Int(target.build_tag)),
        (
            "build_tag_name".into(),
            Val::Str(target.build_tag_name.clone()),
        ),
        ("dest_tag".into(), Val::Int(target.dest_tag)),
        (
            "dest_tag_name".into(),
            Val::Str(target.dest_tag_name.clone()),
        ),
        ("name".into(), Val::Str(target.name.clone())),
    ])
}

/// Returns a stable 40-hex-digit commit id for a package (FNV-1a, repeated).
pub(super) fn commit_hash(package: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in package.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!(
        "{hash:016x}{:016x}{:08x}",
        hash.rotate_left(17),
        (hash >> 32) as u32
    )
}

/// Returns a stable build id for a package.
pub(super) fn build_id(package: &str) -> i64 {
    1000 + package.bytes().map(i64::from).sum::<i64>() * 7
}

pub(super) fn success_value(method: &str) -> Val {
    let strings =
        |items: &[&str]| Val::Array(items.iter().map(|item| Val::Str((*item).into())).collect());
    match method {
        "buildSRPMFromSCM" => Val::Struct(vec![
            ("srpm".into(), Val::Str("tasks/srpm/package.src.rpm".into())),
            (
                "logs".into(),
                strings(&[
                    "tasks/srpm/build.log",
                    "tasks/srpm/root.log",
                    "tasks/srpm/state.log",
                ]),
            ),
            ("brootid".into(), Val::Int(1)),
        ]),
        "buildArch" => Val::Struct(vec![
            (
                "rpms".into(),
                strings(&["tasks/arch/package.rpm", "tasks/arch/package-debuginfo.rpm"]),
            ),
            ("srpms".into(), Val::Array(Vec::new())),
            (
                "logs".into(),
                strings(&[
                    "tasks/arch/build.log",
                    "tasks/arch/root.log",
                    "tasks/arch/hw_info.log",
                ]),
            ),
            ("brootid".into(), Val::Int(1)),
        ]),
        "createrepo" => Val::Array(vec![
            Val::Str("repos/arch".into()),
            strings(&["repodata/repomd.xml"]),
        ]),
        "createImage" | "createLiveMedia" => Val::Struct(vec![
            ("files".into(), strings(&["image.qcow2"])),
            ("logs".into(), strings(&["oz.log", "screenshot.ppm"])),
        ]),
        "buildMaven" => Val::Struct(vec![
            (
                "files".into(),
                strings(&["commons-lang.jar", "commons-lang.pom"]),
            ),
            ("logs".into(), strings(&["maven.log"])),
        ]),
        _ => Val::Nil,
    }
}

pub(super) fn failure_payload(method: &str) -> Payload {
    match method {
        "buildArch" => Payload::fault(
            1005,
            "error building package, mock exited with status 1; \
             see build.log or root.log for more information",
        ),
        "buildSRPMFromSCM" => Payload::fault(
            1005,
            "error building srpm, mock exited with status 30; see root.log for more information",
        ),
        "createrepo" => Payload::fault(1000, "createrepo_c failed (exit status 1)"),
        "tagBuild" => Payload::fault(1003, "build already tagged"),
        "createLiveMedia" => Payload::fault(
            1022,
            "Could not create LiveMedia: livemedia-creator exited with status 1",
        ),
        "buildMaven" => Payload::fault(1005, "error running maven build, exit status 1"),
        _ => Payload::fault(1000, "task failed"),
    }
}
