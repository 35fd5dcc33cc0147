//! `GET /api/v1/metrics` in the Pushgateway's JSON shape: one object per group with its
//! grouping labels, `last_push_successful`, and one member per family name.
//!
//! As in the Pushgateway, a family called `labels` or `last_push_successful` would collide
//! with those members; such a family replaces the member here.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, SecondsFormat, Utc};
use koji_metrics::text::format_float;
use serde_json::{Map, Value, json};

use super::compact::{SampleValue, StoredFamily, effective_labels};
use super::exposition::type_name;
use super::routes::PushState;
use super::store::Group;

/// Serves every group.
pub async fn metrics(State(state): State<PushState>) -> Json<Value> {
    let snapshot = state.store().snapshot();
    let groups: Vec<Value> = snapshot
        .groups
        .iter()
        .map(|group| group_json(group))
        .collect();
    Json(json!({ "status": "success", "data": groups }))
}

fn group_json(group: &Group) -> Value {
    let mut object = Map::new();
    let labels: Map<String, Value> = group
        .key
        .labels()
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    object.insert("labels".to_string(), Value::Object(labels));
    object.insert(
        "last_push_successful".to_string(),
        Value::Bool(group.push_time >= group.failure_time),
    );

    for family in &group.families {
        object.insert(family.name.to_string(), family_json(group, family));
    }
    let mut buffer = Vec::new();
    effective_labels(&group.key, &[], &mut buffer);
    let key_labels = labels_json(&buffer);
    for (name, time) in [
        ("push_time_seconds", group.push_time),
        ("push_failure_time_seconds", group.failure_time),
    ] {
        let metric = json!({ "labels": key_labels, "value": number(time) });
        object.insert(
            name.to_string(),
            json!({
                "time_stamp": timestamp(group.last_activity()),
                "type": "GAUGE",
                "metrics": [metric],
            }),
        );
    }
    Value::Object(object)
}

fn family_json(group: &Group, family: &StoredFamily) -> Value {
    let mut buffer = Vec::new();
    let metrics: Vec<Value> = family
        .series
        .iter()
        .map(|series| {
            effective_labels(&group.key, &series.labels, &mut buffer);
            let labels = labels_json(&buffer);
            match &series.value {
                SampleValue::Simple(value) => json!({ "labels": labels, "value": number(*value) }),
                SampleValue::Summary(summary) => {
                    let quantiles: Map<String, Value> = summary
                        .quantiles
                        .iter()
                        .map(|(quantile, value)| (format_float(*quantile), number(*value)))
                        .collect();
                    json!({
                        "labels": labels,
                        "quantiles": quantiles,
                        "count": summary.count.to_string(),
                        "sum": number(summary.sum),
                    })
                }
                SampleValue::Histogram(histogram) => {
                    let buckets: Map<String, Value> = histogram
                        .buckets
                        .iter()
                        .map(|(bound, count)| {
                            (format_float(*bound), Value::String(count.to_string()))
                        })
                        .collect();
                    json!({
                        "labels": labels,
                        "buckets": buckets,
                        "count": histogram.count.to_string(),
                        "sum": number(histogram.sum),
                    })
                }
            }
        })
        .collect();

    let mut object = Map::new();
    object.insert("time_stamp".to_string(), timestamp(family.pushed_at));
    object.insert(
        "type".to_string(),
        Value::String(type_name(family.kind).to_uppercase()),
    );
    if !family.help.is_empty() {
        object.insert("help".to_string(), Value::String(family.help.to_string()));
    }
    object.insert("metrics".to_string(), Value::Array(metrics));
    Value::Object(object)
}

fn labels_json(labels: &[(&str, &str)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
            .collect(),
    )
}

/// A value as the Pushgateway's API writes it: a string, with `+Inf`, `-Inf` and `NaN` spelled
/// as Go's `fmt.Sprint` spells them.
fn number(value: f64) -> Value {
    Value::String(format_float(value))
}

/// RFC 3339 time of a unix time in seconds.
fn timestamp(unix_secs: f64) -> Value {
    let nanos = (unix_secs * 1e9) as i64;
    let time: DateTime<Utc> = DateTime::from_timestamp_nanos(nanos);
    Value::String(time.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use koji_metrics::text::parse_text;

    use super::*;
    use crate::push::grouping::GroupingKey;
    use crate::push::store::{Limits, Method, Store};

    #[test]
    fn group_shape() {
        let store = Store::new(Limits::default());
        let families = parse_text(
            b"# HELP g A gauge.\n# TYPE g gauge\ng{x=\"1\"} 2.5\n# TYPE h histogram\n\
              h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n",
        )
        .unwrap();
        let key = GroupingKey::from_path("job/j/instance/b1").unwrap();
        store.push(key.clone(), Method::Put, families, 1.5).unwrap();

        let json = group_json(&store.group(&key).unwrap());

        assert_eq!(json["labels"], json!({"instance": "b1", "job": "j"}));
        assert_eq!(json["last_push_successful"], true);
        assert_eq!(json["g"]["type"], "GAUGE");
        assert_eq!(json["g"]["help"], "A gauge.");
        assert_eq!(json["g"]["time_stamp"], "1970-01-01T00:00:01.500Z");
        assert_eq!(
            json["g"]["metrics"][0],
            json!({"labels": {"instance": "b1", "job": "j", "x": "1"}, "value": "2.5"})
        );
        assert_eq!(
            json["h"]["metrics"][0]["buckets"],
            json!({"1": "1", "+Inf": "2"})
        );
        assert_eq!(json["push_time_seconds"]["metrics"][0]["value"], "1.5");
        assert_eq!(
            json["push_failure_time_seconds"]["metrics"][0]["value"],
            "0"
        );
    }

    #[test]
    fn special_values_as_strings() {
        let store = Store::new(Limits::default());
        let families = parse_text(
            b"# TYPE g gauge\ng{v=\"1\"} +Inf\ng{v=\"2\"} -Inf\ng{v=\"3\"} NaN\n\
              # TYPE h histogram\nh_bucket{le=\"-Inf\"} 0\nh_bucket{le=\"+Inf\"} 1\n\
              h_sum -Inf\nh_count 1\n\
              # TYPE s summary\ns{quantile=\"0.5\"} -Inf\ns_sum +Inf\ns_count 1\n",
        )
        .unwrap();
        let key = GroupingKey::from_path("job/j/instance/b1").unwrap();
        store.push(key.clone(), Method::Put, families, 1.0).unwrap();

        let json = group_json(&store.group(&key).unwrap());

        let values: Vec<&Value> = (0..3).map(|i| &json["g"]["metrics"][i]["value"]).collect();
        assert_eq!(values, ["+Inf", "-Inf", "NaN"]);
        assert_eq!(
            json["h"]["metrics"][0]["buckets"],
            json!({"-Inf": "0", "+Inf": "1"})
        );
        assert_eq!(json["h"]["metrics"][0]["sum"], "-Inf");
        assert_eq!(json["s"]["metrics"][0]["quantiles"], json!({"0.5": "-Inf"}));
        assert_eq!(json["s"]["metrics"][0]["sum"], "+Inf");
    }
}
