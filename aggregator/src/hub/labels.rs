//! The `tag` label value of a task: the tree's tag, rewritten, then capped.
//!
//! Rewrites apply in order and the first pattern that matches the whole tag decides. The cap
//! admits label values first come, first served, up to `tags.max_values`. The admitted set
//! is saved in the state file, so a restart keeps the same values. Once the cap is reached,
//! every task of a tag outside the set is labelled `other` and counted as folded. The values
//! `none` (a tree without a tag) and `other` never count against the cap.

use std::collections::BTreeSet;

use crate::config::{TagRewrite, TagsConfig};

/// Label value of a task whose tree has no tag.
pub const NO_TAG: &str = "none";

/// Label value of a task whose tag was folded by the cap.
pub const OTHER_TAG: &str = "other";

/// The label value chosen for a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagLabel {
    /// The value of the `tag` label.
    pub value: String,
    /// True when the cap replaced the tag with `other`.
    pub folded: bool,
}

/// The admitted tag label values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagCap {
    admitted: BTreeSet<String>,
}

impl TagCap {
    /// Makes a cap that has already admitted `values` (from the state file).
    pub fn with_admitted(values: impl IntoIterator<Item = String>) -> Self {
        Self {
            admitted: values.into_iter().collect(),
        }
    }

    /// Returns the admitted values, sorted.
    pub fn admitted(&self) -> impl Iterator<Item = &String> {
        self.admitted.iter()
    }

    /// Chooses the label value for a task of a tree tagged `tree_tag`, admitting the value
    /// when there is room.
    pub fn label(&mut self, tree_tag: Option<&str>, config: &TagsConfig) -> TagLabel {
        let Some(tag) = tree_tag.filter(|tag| !tag.is_empty()) else {
            return TagLabel {
                value: NO_TAG.to_string(),
                folded: false,
            };
        };
        let value = rewrite(tag, &config.rewrites);

        let exempt = value == NO_TAG || value == OTHER_TAG;
        if exempt || self.admitted.contains(&value) {
            return TagLabel {
                value,
                folded: false,
            };
        }
        if self.admitted.len() < config.max_values {
            self.admitted.insert(value.clone());
            return TagLabel {
                value,
                folded: false,
            };
        }
        TagLabel {
            value: OTHER_TAG.to_string(),
            folded: true,
        }
    }
}

/// Applies the first rewrite whose pattern matches the whole of `tag`, or returns `tag`.
pub fn rewrite(tag: &str, rewrites: &[TagRewrite]) -> String {
    rewrites
        .iter()
        .find(|rewrite| rewrite.pattern.is_match(tag))
        .map_or_else(
            || tag.to_string(),
            |rewrite| {
                rewrite
                    .pattern
                    .replace(tag, rewrite.replacement.as_str())
                    .into_owned()
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn tags_config(text: &str) -> TagsConfig {
        Config::parse(Path::new("aggregator.toml"), text)
            .unwrap()
            .tags
    }

    #[test]
    fn first_full_match_wins() {
        let config = tags_config(
            r#"
[[tags.rewrite]]
pattern = 'f(\d+)-build-side-\d+'
replacement = 'f$1-side-tag'
[[tags.rewrite]]
pattern = 'f\d+-.*'
replacement = 'fedora'
"#,
        );

        assert_eq!(
            rewrite("f41-build-side-1234", &config.rewrites),
            "f41-side-tag"
        );
        assert_eq!(rewrite("f41-candidate", &config.rewrites), "fedora");
        assert_eq!(rewrite("el9-candidate", &config.rewrites), "el9-candidate");
        assert_eq!(
            rewrite("xf41-candidate", &config.rewrites),
            "xf41-candidate"
        );
    }

    #[test]
    fn cap_admits_first_come_then_folds() {
        let config = tags_config("[tags]\nmax_values = 2\n");
        let mut cap = TagCap::default();

        assert_eq!(cap.label(Some("a"), &config).value, "a");
        assert_eq!(cap.label(None, &config).value, NO_TAG);
        assert_eq!(cap.label(Some("b"), &config).value, "b");
        let folded = cap.label(Some("c"), &config);
        assert_eq!(folded.value, OTHER_TAG);
        assert!(folded.folded);
        let admitted = cap.label(Some("a"), &config);
        assert_eq!(admitted.value, "a");
        assert!(!admitted.folded);
        assert_eq!(cap.admitted().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn none_and_other_do_not_count() {
        let config = tags_config("[tags]\nmax_values = 1\n");
        let mut cap = TagCap::default();

        assert_eq!(cap.label(Some(""), &config).value, NO_TAG);
        assert_eq!(cap.label(Some("other"), &config).value, OTHER_TAG);
        assert!(!cap.label(Some("other"), &config).folded);
        assert_eq!(cap.label(Some("x"), &config).value, "x");
        assert_eq!(cap.admitted().count(), 1);
    }
}
