//! One exposition from families gathered from several places (hub poll, pushed groups, the
//! process's own counters): families of one name merged, type conflicts and duplicate
//! series dropped, then written as text format 0.0.4.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use prometheus::proto::MetricFamily;

use crate::check::{SeriesId, dedupe_series};
use crate::text::encode_text;

/// A rendered exposition and what was dropped to keep it consistent.
#[derive(Debug, Default)]
pub struct Rendered {
    /// The text exposition.
    pub text: String,
    /// Series dropped because an earlier family already had them.
    pub duplicate_series: Vec<SeriesId>,
    /// Names of families dropped because an earlier family of that name has another type.
    pub type_conflicts: Vec<String>,
}

/// Merges families that share a name into the first of them, in order.
///
/// The first family of a name keeps its HELP and type and receives the samples of the later
/// ones. A later family of another type is dropped, and its name is returned.
pub fn merge_families(families: Vec<MetricFamily>) -> (Vec<MetricFamily>, Vec<String>) {
    let mut merged: Vec<MetricFamily> = Vec::with_capacity(families.len());
    let mut positions: HashMap<String, usize> = HashMap::with_capacity(families.len());
    let mut conflicts = Vec::new();

    for mut family in families {
        match positions.entry(family.name().to_string()) {
            Entry::Vacant(entry) => {
                entry.insert(merged.len());
                merged.push(family);
            }
            Entry::Occupied(entry) => {
                let first = &mut merged[*entry.get()];
                if first.get_field_type() != family.get_field_type() {
                    conflicts.push(family.name().to_string());
                    continue;
                }
                first.mut_metric().extend(family.take_metric());
            }
        }
    }
    (merged, conflicts)
}

/// Merges, dedupes and encodes `families`; earlier families win over later ones.
pub fn render(families: Vec<MetricFamily>) -> Rendered {
    let (merged, type_conflicts) = merge_families(families);
    let (families, duplicate_series) = dedupe_series(merged);
    Rendered {
        text: encode_text(&families),
        duplicate_series,
        type_conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FamilyBuilder;
    use crate::contract::{BUILDER_READY, HUB_POLLS_TOTAL};

    fn ready(hosts: &[(&str, f64)]) -> MetricFamily {
        let mut builder = FamilyBuilder::new(&BUILDER_READY);
        for (host, value) in hosts {
            builder.sample(&[host], *value).unwrap();
        }
        builder.build()
    }

    #[test]
    fn same_name_families_merge_in_order() {
        let rendered = render(vec![ready(&[("b1", 1.0)]), ready(&[("b2", 0.0)])]);

        assert_eq!(
            rendered
                .text
                .matches("# TYPE koji_builder_ready gauge")
                .count(),
            1
        );
        let b1 = rendered.text.find("host=\"b1\"").unwrap();
        let b2 = rendered.text.find("host=\"b2\"").unwrap();
        assert!(b1 < b2, "{}", rendered.text);
        assert!(rendered.duplicate_series.is_empty());
    }

    #[test]
    fn first_duplicate_series_wins() {
        let rendered = render(vec![ready(&[("b1", 1.0)]), ready(&[("b1", 0.0)])]);

        assert!(
            rendered
                .text
                .contains("koji_builder_ready{host=\"b1\"} 1\n"),
            "{}",
            rendered.text
        );
        assert!(
            !rendered
                .text
                .contains("koji_builder_ready{host=\"b1\"} 0\n")
        );
        assert_eq!(rendered.duplicate_series.len(), 1);
    }

    #[test]
    fn later_family_of_other_type_is_dropped() {
        let mut counter = FamilyBuilder::new(&HUB_POLLS_TOTAL);
        counter.sample(&["success"], 3.0).unwrap();
        let mut conflicting = counter.build();
        conflicting.set_name(BUILDER_READY.name.to_string());

        let rendered = render(vec![ready(&[("b1", 1.0)]), conflicting]);

        assert_eq!(
            rendered.type_conflicts,
            vec![BUILDER_READY.name.to_string()]
        );
        assert!(!rendered.text.contains("counter"), "{}", rendered.text);
    }
}
