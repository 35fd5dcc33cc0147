//! The HTTP server: `/metrics`, `/-/healthy` and `/-/ready`.
//!
//! `/metrics` gathers the families of every [`MetricsSource`], drops duplicate series (the
//! first wins; neither the `prometheus` crate nor promtool 2.42 catches them), and writes
//! the text format 0.0.4, gzip-compressed when the scraper accepts it. The last source may
//! write its own series as text after the others ([`MetricsSource::render_after`]), which
//! the push store does, so hundreds of thousands of pushed series never become protobuf
//! objects.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flate2::Compression;
use flate2::write::GzEncoder;
use prometheus::proto::MetricFamily;

/// Something that contributes metric families to `/metrics`.
pub trait MetricsSource: Send + Sync {
    /// The families as of now. Called once per scrape, concurrently with other calls.
    fn families(&self) -> Vec<MetricFamily>;

    /// Whether this source has what it needs to serve meaningful data (for `/-/ready`).
    fn ready(&self) -> bool {
        true
    }

    /// Renders `earlier`, the families of every source before this one, followed by this
    /// source's own series. Only the last source is asked. The default returns `earlier`
    /// unchanged, and then this source's [`families`](Self::families) are merged like any
    /// other's.
    fn render_after(
        &self,
        earlier: Vec<MetricFamily>,
    ) -> Result<koji_metrics::Rendered, Vec<MetricFamily>> {
        Err(earlier)
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    sources: Arc<Vec<Arc<dyn MetricsSource>>>,
    duplicates_dropped: Arc<AtomicU64>,
}

impl AppState {
    /// Serves the families of `sources`, in order: where two sources emit the same series,
    /// the earlier source wins.
    pub fn new(sources: Vec<Arc<dyn MetricsSource>>) -> Self {
        Self {
            sources: Arc::new(sources),
            duplicates_dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Renders the text exposition of every source, with duplicate series and families of
    /// conflicting types dropped, logged and counted.
    pub fn render(&self) -> String {
        let (last, before) = match self.sources.split_last() {
            Some((last, before)) => (Some(last), before),
            None => (None, &[][..]),
        };
        let mut families: Vec<MetricFamily> =
            before.iter().flat_map(|source| source.families()).collect();
        families.push(self.own_families());

        let rendered = match last {
            None => koji_metrics::render(families),
            Some(last) => match last.render_after(families) {
                Ok(rendered) => rendered,
                Err(mut families) => {
                    // The aggregator's own family stays last, after every source's.
                    let own = families.pop();
                    families.extend(last.families());
                    families.extend(own);
                    koji_metrics::render(families)
                }
            },
        };
        if !rendered.duplicate_series.is_empty() || !rendered.type_conflicts.is_empty() {
            let dropped = rendered.duplicate_series.len() as u64;
            self.duplicates_dropped
                .fetch_add(dropped, Ordering::Relaxed);
            tracing::warn!(
                duplicate_series = dropped,
                first = rendered.duplicate_series.first().map(ToString::to_string),
                type_conflicts = ?rendered.type_conflicts,
                "Dropped inconsistent series from /metrics; the first occurrence was served."
            );
        }
        rendered.text
    }

    fn own_families(&self) -> MetricFamily {
        let mut builder = koji_metrics::FamilyBuilder::new(
            &koji_metrics::contract::AGGREGATOR_DUPLICATE_SERIES_DROPPED_TOTAL,
        );
        let dropped = self.duplicates_dropped.load(Ordering::Relaxed) as f64;
        builder
            .sample(&[], dropped)
            .expect("the counter has no labels");
        builder.build()
    }
}

/// The router for the metrics and health endpoints.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/-/healthy", get(healthy))
        .route("/-/ready", get(ready))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let gzip = accepts_gzip(&headers);
    // Rendering and compressing a large exposition takes long enough to stall the other
    // requests of a runtime worker, so both run on the blocking pool.
    let body = tokio::task::spawn_blocking(move || {
        let text = state.render();
        if !gzip {
            return Err(text);
        }
        let mut encoder = GzEncoder::new(Vec::with_capacity(text.len() / 4), Compression::fast());
        encoder
            .write_all(text.as_bytes())
            .and_then(|()| encoder.finish())
            .map_err(|_| text)
    })
    .await
    .unwrap_or_else(|error| Err(format!("# render failed: {error}\n")));
    let content_type = HeaderValue::from_static(koji_metrics::TEXT_CONTENT_TYPE);

    match body {
        Ok(compressed) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            ],
            compressed,
        )
            .into_response(),
        Err(text) => ([(header::CONTENT_TYPE, content_type)], text).into_response(),
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|parameter| {
                let parameter = parameter.trim().replace(' ', "");
                parameter == "q=0" || parameter == "q=0.0" || parameter == "q=0.00"
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

async fn healthy() -> &'static str {
    "OK\n"
}

async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.sources.iter().all(|source| source.ready()) {
        (StatusCode::OK, "OK\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no successful hub poll yet\n",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&headers("gzip")));
        assert!(accepts_gzip(&headers("deflate, gzip;q=0.5")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    struct Fixed(Vec<MetricFamily>);

    impl MetricsSource for Fixed {
        fn families(&self) -> Vec<MetricFamily> {
            self.0.clone()
        }
    }

    fn ready_family(rows: &[(&str, f64)]) -> MetricFamily {
        let mut builder = koji_metrics::FamilyBuilder::new(&koji_metrics::contract::BUILDER_READY);
        for (host, value) in rows {
            builder.sample(&[host], *value).unwrap();
        }
        builder.build()
    }

    #[test]
    fn duplicate_series_first_source_wins() {
        let state = AppState::new(vec![
            Arc::new(Fixed(vec![ready_family(&[("a.example.org", 1.0)])])),
            Arc::new(Fixed(vec![ready_family(&[
                ("a.example.org", 0.0),
                ("b.example.org", 0.0),
            ])])),
        ]);

        let text = state.render();

        let ready: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("koji_builder_ready{"))
            .collect();
        assert_eq!(
            ready,
            [
                "koji_builder_ready{host=\"a.example.org\"} 1",
                "koji_builder_ready{host=\"b.example.org\"} 0",
            ]
        );

        // A scrape shows the series dropped by the scrapes before it.
        let again = state.render();
        assert!(
            again.contains("\nkoji_aggregator_duplicate_series_dropped_total 1\n"),
            "{again}"
        );
    }
}
