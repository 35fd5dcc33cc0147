use prometheus::proto::{Metric, MetricFamily, MetricType};

use super::parser::parse_go_float;
use super::*;

fn parse(input: &str) -> Vec<MetricFamily> {
    parse_text(input.as_bytes()).unwrap_or_else(|error| panic!("{error}\ninput:\n{input}"))
}

fn labels(metric: &Metric) -> Vec<(&str, &str)> {
    metric
        .get_label()
        .iter()
        .map(|pair| (pair.name(), pair.value()))
        .collect()
}

/// Inputs that must be rejected: the input, the line of the error, and a part of the message.
const BAD_INPUTS: &[(&str, &str, usize, &str)] = &[
    ("missing final LF", "a 1\nb 2", 2, "unexpected end of input"),
    (
        "comment without final LF",
        "a 1\n# note",
        2,
        "unexpected end of input",
    ),
    ("CRLF", "a 1\r\n", 1, "ends in CR LF"),
    ("CR inside line", "a{x=\"1\r2\"} 1\n", 1, "carriage return"),
    ("CR in HELP", "# HELP a text\r\n", 1, "ends in CR LF"),
    (
        "tab escape in label value",
        "a{x=\"1\\t\"} 1\n",
        1,
        "invalid escape sequence '\\t'",
    ),
    (
        "x escape in label value",
        "a{x=\"\\x41\"} 1\n",
        1,
        "invalid escape sequence '\\x'",
    ),
    (
        "quote escape in HELP",
        "# HELP a say \\\"hi\\\"\n",
        1,
        "invalid escape sequence '\\\"'",
    ),
    (
        "backslash at end of HELP",
        "# HELP a text\\\n",
        1,
        "'\\' at the end of the line",
    ),
    (
        "raw newline in label value",
        "a{x=\"line1\nline2\"} 1\n",
        1,
        "not closed before the end of the line",
    ),
    (
        "label value not closed",
        "a{x=\"b} 1\n",
        1,
        "not closed before the end of the line",
    ),
    (
        "label set not closed",
        "a{x=\"b\" 1\n",
        1,
        "expected ',' or '}'",
    ),
    (
        "label set cut off",
        "a{x=\"b\",\n",
        1,
        "not closed with '}'",
    ),
    (
        "missing equals",
        "a{x\"b\"} 1\n",
        1,
        "expected '=' after label name \"x\"",
    ),
    (
        "unquoted label value",
        "a{x=b} 1\n",
        1,
        "expected '\"' at the start of the value",
    ),
    (
        "invalid label name",
        "a{1x=\"b\"} 1\n",
        1,
        "invalid label name for metric \"a\"",
    ),
    (
        "reserved __name__",
        "a{__name__=\"b\"} 1\n",
        1,
        "label name \"__name__\" of \"a\" is reserved",
    ),
    ("reserved prefix", "a{__meta=\"b\"} 1\n", 1, "is reserved"),
    (
        "duplicate label",
        "a{x=\"1\",x=\"2\"} 1\n",
        1,
        "duplicate label name \"x\"",
    ),
    (
        "name starts with digit",
        "1a 1\n",
        1,
        "invalid metric name at the start of \"1a 1\"",
    ),
    (
        "quoted metric name",
        "{\"a.b\"} 1\n",
        1,
        "invalid metric name",
    ),
    (
        "dash in metric name",
        "a-b 1\n",
        1,
        "expected a float as the value of \"a\", got \"-b\"",
    ),
    (
        "invalid name in HELP",
        "# HELP a-b text\n",
        1,
        "invalid metric name in HELP line",
    ),
    (
        "invalid name in TYPE",
        "# TYPE 1a gauge\n",
        1,
        "invalid metric name in TYPE line",
    ),
    (
        "missing value",
        "a\n",
        1,
        "expected a float as the value of \"a\", got \"\"",
    ),
    ("missing value after labels", "a{x=\"1\"}\n", 1, "got \"\""),
    ("comma decimal", "a 1,5\n", 1, "got \"1,5\""),
    ("signed NaN", "a +NaN\n", 1, "got \"+NaN\""),
    ("hex float", "a 0x1p3\n", 1, "got \"0x1p3\""),
    ("underscore in float", "a 1_000\n", 1, "got \"1_000\""),
    ("float out of range", "a 1e400\n", 1, "got \"1e400\""),
    (
        "float timestamp",
        "a 1 1.5\n",
        1,
        "expected an integer timestamp",
    ),
    (
        "trailing blank after value",
        "a 1 \n",
        1,
        "trailing whitespace after the value",
    ),
    (
        "text after timestamp",
        "a 1 2 x\n",
        1,
        "unexpected text after the timestamp",
    ),
    (
        "blank after timestamp",
        "a 1 2 \n",
        1,
        "unexpected text after the timestamp",
    ),
    (
        "duplicate HELP",
        "# HELP a one\n# HELP a two\na 1\n",
        2,
        "second HELP line for metric \"a\"",
    ),
    (
        "duplicate TYPE",
        "# TYPE a gauge\n# TYPE a gauge\na 1\n",
        2,
        "second TYPE line",
    ),
    (
        "TYPE after samples",
        "a 1\n# TYPE a gauge\n",
        2,
        "comes after its first sample in line 1",
    ),
    (
        "unknown TYPE",
        "# TYPE a gauge_histogram\na 1\n",
        1,
        "unknown metric type \"gauge_histogram\"",
    ),
    (
        "TYPE with trailing text",
        "# TYPE a gauge extra\na 1\n",
        1,
        "unknown metric type",
    ),
    (
        "TYPE with trailing blank",
        "# TYPE a gauge \na 1\n",
        1,
        "unknown metric type \"gauge \"",
    ),
    (
        "non-contiguous samples",
        "a 1\nb 1\na{x=\"y\"} 2\n",
        3,
        "must be contiguous",
    ),
    (
        "non-contiguous HELP",
        "# HELP a x\n# HELP b y\na 1\nb 1\n",
        3,
        "continues after lines of \"b\"",
    ),
    (
        "bucket without le",
        "# TYPE h histogram\nh_bucket 1\n",
        2,
        "sample \"h_bucket\" lacks the le label",
    ),
    (
        "le not a number",
        "# TYPE h histogram\nh_bucket{le=\"big\"} 1\n",
        2,
        "expected a number as the value of label \"le\"",
    ),
    (
        "le NaN",
        "# TYPE h histogram\nh_bucket{le=\"NaN\"} 1\n",
        2,
        "expected a number",
    ),
    (
        "histogram sample without suffix",
        "# TYPE h histogram\nh{le=\"1\"} 1\n",
        2,
        "has a le label, which belongs only on \"h_bucket\" samples",
    ),
    (
        "histogram plain sample",
        "# TYPE h histogram\nh 1\n",
        2,
        "histogram sample \"h\" needs the suffix _bucket, _sum or _count",
    ),
    (
        "le on sum",
        "# TYPE h histogram\nh_sum{le=\"1\"} 1\n",
        2,
        "has a le label",
    ),
    (
        "descending buckets",
        "# TYPE h histogram\nh_bucket{le=\"5\"} 1\nh_bucket{le=\"1\"} 1\n",
        3,
        "buckets must ascend",
    ),
    (
        "repeated bucket",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\n",
        3,
        "second bucket with le=\"1\"",
    ),
    (
        "fractional count",
        "# TYPE h histogram\nh_count 1.5\n",
        2,
        "is not a count",
    ),
    (
        "negative bucket",
        "# TYPE h histogram\nh_bucket{le=\"1\"} -1\n",
        2,
        "is not a count",
    ),
    (
        "NaN count",
        "# TYPE h histogram\nh_count NaN\n",
        2,
        "is not a count",
    ),
    (
        "count above u64",
        "# TYPE h histogram\nh_count 18446744073709551616\n",
        2,
        "not a count",
    ),
    (
        "repeated sum",
        "# TYPE h histogram\nh_sum{a=\"1\"} 1\nh_sum{a=\"1\"} 2\n",
        3,
        "second \"h_sum\" sample for the same labels; the first is in line 2",
    ),
    (
        "summary without quantile",
        "# TYPE s summary\ns 1\n",
        2,
        "lacks the quantile label",
    ),
    (
        "quantile on summary count",
        "# TYPE s summary\ns_count{quantile=\"0.5\"} 1\n",
        2,
        "has a quantile label, which belongs only on \"s\" samples",
    ),
    (
        "repeated quantile",
        "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns{quantile=\"0.5\"} 2\n",
        3,
        "second quantile=\"0.5\"",
    ),
    (
        "suffix clash",
        "h_count 3\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n",
        2,
        "metric family \"h_count\" clashes with the _count samples of the histogram \"h\"",
    ),
];

#[test]
fn bad_inputs_rejected() {
    for (case, input, line, message) in BAD_INPUTS {
        let error = match parse_text(input.as_bytes()) {
            Ok(families) => panic!("{case}: parsed {input:?} into {families:?}"),
            Err(error) => error,
        };
        assert_eq!(error.line, *line, "{case}: wrong line in {error}");
        assert!(
            error.message.contains(message),
            "{case}: {error:?} lacks {message:?}"
        );
    }
}

#[test]
fn invalid_utf8_label_value_rejected() {
    let error = parse_text(b"a{x=\"\xC3\x28\"} 1\n").unwrap_err();
    assert_eq!(error.line, 1);
    assert!(error.message.contains("is not valid UTF-8"), "{error}");
}

#[test]
fn error_display_names_line() {
    let error = parse_text(b"a 1\nb 2").unwrap_err();
    assert_eq!(
        error.to_string(),
        "text format error in line 2: unexpected end of input: the last line \"b 2\" does not \
         end in a line feed (\\n)"
    );
}

#[test]
fn long_excerpt_truncated() {
    let input = format!("a {}\n", "x".repeat(500));
    let error = parse_text(input.as_bytes()).unwrap_err();
    assert!(error.message.len() < 200, "{error}");
    assert!(error.message.ends_with("..."), "{error}");
}

#[test]
fn gauge_with_metadata() {
    let families = parse(
        "# HELP koji_builder_ready Whether the host is ready.\n\
         # TYPE koji_builder_ready gauge\n\
         koji_builder_ready{host=\"b1\"} 1\n\
         koji_builder_ready{host=\"b2\"} 0\n",
    );
    assert_eq!(families.len(), 1);
    let family = &families[0];
    assert_eq!(family.name(), "koji_builder_ready");
    assert_eq!(family.help(), "Whether the host is ready.");
    assert_eq!(family.get_field_type(), MetricType::GAUGE);
    assert_eq!(family.get_metric().len(), 2);
    assert_eq!(labels(&family.get_metric()[1]), [("host", "b2")]);
    assert_eq!(family.get_metric()[1].get_gauge().value(), 0.0);
}

#[test]
fn untyped_without_type_line() {
    let families = parse("a 1\nb{x=\"y\"} 2\n");
    assert_eq!(families.len(), 2);
    assert_eq!(families[0].get_field_type(), MetricType::UNTYPED);
    assert_eq!(families[1].get_metric()[0].untyped.value(), 2.0);
    assert!(!families[0].has_help());
}

#[test]
fn counter_values() {
    let families = parse("# TYPE c_total counter\nc_total{r=\"ok\"} 12\n");
    assert_eq!(families[0].get_field_type(), MetricType::COUNTER);
    assert_eq!(families[0].get_metric()[0].get_counter().value(), 12.0);
}

#[test]
fn lenient_layout_accepted() {
    let families = parse(
        "\n   \n# a plain comment\n#\n# HELP\n# HELP a\n# TYPE a\n  \t a { x = \"1\" , y=\"2\", } \t 3\n",
    );
    assert_eq!(families.len(), 1);
    let metric = &families[0].get_metric()[0];
    assert_eq!(labels(metric), [("x", "1"), ("y", "2")]);
    assert_eq!(metric.untyped.value(), 3.0);
    assert!(!families[0].has_help());
}

#[test]
fn type_keyword_case_insensitive() {
    let families = parse("# TYPE a Gauge\na 1\n");
    assert_eq!(families[0].get_field_type(), MetricType::GAUGE);
}

#[test]
fn empty_input_and_trailing_blanks() {
    assert!(parse("").is_empty());
    assert_eq!(parse("a 1\n  \t").len(), 1);
}

#[test]
fn metadata_without_samples_dropped() {
    let families = parse("# HELP a text\n# TYPE a gauge\nb 1\n");
    assert_eq!(families.len(), 1);
    assert_eq!(families[0].name(), "b");
}

#[test]
fn special_values() {
    let families = parse(
        "a{v=\"1\"} NaN\na{v=\"2\"} +Inf\na{v=\"3\"} -Inf\na{v=\"4\"} inf\na{v=\"5\"} -infinity\na{v=\"6\"} 1e-3\na{v=\"7\"} .5\na{v=\"8\"} -0\n",
    );
    let values: Vec<f64> = families[0]
        .get_metric()
        .iter()
        .map(|metric| metric.untyped.value())
        .collect();
    assert!(values[0].is_nan());
    assert_eq!(
        values[1..],
        [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.001,
            0.5,
            0.0
        ]
    );
    assert!(values[7].is_sign_negative());
}

#[test]
fn timestamp_kept() {
    let families = parse("# TYPE a gauge\na 1 1700000000000\na{x=\"y\"} 2 -5\na{x=\"z\"} 3\n");
    let metrics = families[0].get_metric();
    assert_eq!(metrics[0].timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(metrics[1].timestamp_ms, Some(-5));
    assert_eq!(metrics[2].timestamp_ms, None);
}

#[test]
fn help_escapes() {
    let families = parse("# HELP a Back\\\\slash and\\nnewline \"quoted\"\na 1\n");
    assert_eq!(families[0].help(), "Back\\slash and\nnewline \"quoted\"");
}

#[test]
fn help_after_samples_accepted() {
    let families = parse("a 1\n# HELP a text\n");
    assert_eq!(families[0].help(), "text");
}

#[test]
fn label_value_escapes() {
    let families = parse("a{x=\"q\\\"b\\\\n\\n{}=,\"} 1\n");
    assert_eq!(
        labels(&families[0].get_metric()[0]),
        [("x", "q\"b\\n\n{}=,")]
    );
}

#[test]
fn histogram_assembled_with_inf_bucket() {
    let input = "# HELP h Wait time in seconds.\n\
                 # TYPE h histogram\n\
                 h_bucket{channel=\"default\",le=\"10\"} 1\n\
                 h_bucket{le=\"10\",channel=\"createrepo\"} 0\n\
                 h_bucket{channel=\"default\",le=\"60\"} 3\n\
                 h_bucket{channel=\"default\",le=\"+Inf\"} 4\n\
                 h_sum{channel=\"default\"} 130.5\n\
                 h_count{channel=\"default\"} 4\n\
                 h_bucket{channel=\"createrepo\",le=\"+Inf\"} 2.0\n\
                 h_count{channel=\"createrepo\"} 2\n\
                 h_sum{channel=\"createrepo\"} 400\n";
    let families = parse(input);
    assert_eq!(families.len(), 1);
    let family = &families[0];
    assert_eq!(family.get_field_type(), MetricType::HISTOGRAM);
    assert_eq!(family.get_metric().len(), 2);

    let default = &family.get_metric()[0];
    assert_eq!(labels(default), [("channel", "default")]);
    let histogram = default.get_histogram();
    let buckets: Vec<(f64, u64)> = histogram
        .get_bucket()
        .iter()
        .map(|bucket| (bucket.upper_bound(), bucket.cumulative_count()))
        .collect();
    assert_eq!(buckets, [(10.0, 1), (60.0, 3), (f64::INFINITY, 4)]);
    assert_eq!(histogram.get_sample_sum(), 130.5);
    assert_eq!(histogram.get_sample_count(), 4);

    let createrepo = family.get_metric()[1].get_histogram();
    assert_eq!(createrepo.get_bucket().len(), 2);
    assert_eq!(createrepo.get_sample_count(), 2);

    let text = encode_text(&families);
    assert_eq!(text.matches("le=\"+Inf\"").count(), 2, "{text}");
    assert!(!text.contains("le=\"inf\""), "{text}");
    assert!(
        text.contains("h_bucket{channel=\"default\",le=\"+Inf\"} 4\n"),
        "{text}"
    );
    assert_eq!(parse(&text), families);
}

#[test]
fn summary_assembled() {
    let families = parse(
        "# TYPE s summary\ns{quantile=\"0.5\"} 2\ns{quantile=\"0.9\"} NaN\ns_sum 10\ns_count 5\n",
    );
    let summary = families[0].get_metric()[0].get_summary();
    assert_eq!(summary.get_quantile().len(), 2);
    assert!(summary.get_quantile()[1].value().is_nan());
    assert_eq!(summary.sample_sum(), 10.0);
    assert_eq!(summary.sample_count(), 5);
}

#[test]
fn special_values_encoded() {
    let families = parse("# TYPE g gauge\ng{v=\"1\"} +Inf\ng{v=\"2\"} -Inf\ng{v=\"3\"} NaN\n");
    let text = encode_text(&families);

    assert!(text.contains("g{v=\"1\"} +Inf\n"), "{text}");
    assert!(text.contains("g{v=\"2\"} -Inf\n"), "{text}");
    assert!(text.contains("g{v=\"3\"} NaN\n"), "{text}");
    assert!(!text.contains("inf"), "{text}");
}

#[test]
fn infinite_bucket_bound_encoded() {
    let families = parse(
        "# TYPE h histogram\nh_bucket{le=\"-Inf\"} 0\nh_bucket{le=\"1\"} 1\n\
         h_bucket{le=\"+Inf\"} 2\nh_sum -Inf\nh_count 2\n",
    );
    let text = encode_text(&families);

    assert!(text.contains("h_bucket{le=\"-Inf\"} 0\n"), "{text}");
    assert!(text.contains("h_bucket{le=\"+Inf\"} 2\n"), "{text}");
    assert!(text.contains("h_sum -Inf\n"), "{text}");
    assert_eq!(parse(&text), families);
}

#[test]
fn special_quantile_values_encoded() {
    let mut families = parse(
        "# TYPE s summary\ns{quantile=\"0.5\"} +Inf\ns{quantile=\"0.9\"} -Inf\n\
         s{quantile=\"0.99\"} NaN\ns_sum +Inf\ns_count 3\n",
    );
    // No client writes a quantile label of infinity, but the writer must still spell it.
    let summary = families[0].mut_metric()[0].summary.mut_or_insert_default();
    summary.quantile[2].set_quantile(f64::INFINITY);
    let text = encode_text(&families);

    assert!(text.contains("s{quantile=\"0.5\"} +Inf\n"), "{text}");
    assert!(text.contains("s{quantile=\"0.9\"} -Inf\n"), "{text}");
    assert!(text.contains("s{quantile=\"+Inf\"} NaN\n"), "{text}");
    assert!(text.contains("s_sum +Inf\n"), "{text}");
}

#[test]
fn format_float_spells_special_values() {
    for (value, expected) in [
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
        (0.0, "0"),
        (-0.0, "-0"),
        (1.5, "1.5"),
        (1e21, "1000000000000000000000"),
        (1e-7, "0.0000001"),
    ] {
        assert_eq!(format_float(value), expected, "{value:?}");
        let parsed = parse_go_float(expected.as_bytes()).expect("the text parses");
        if value.is_nan() {
            assert!(parsed.is_nan(), "{expected}");
        } else {
            assert_eq!(parsed.to_bits(), value.to_bits(), "{expected}");
        }
    }
}

#[test]
fn suffixed_names_without_complex_family_are_plain() {
    let families = parse("# TYPE g gauge\ng 1\ng_sum 2\ng_bucket{le=\"1\"} 3\n");
    let names: Vec<&str> = families.iter().map(|family| family.name()).collect();
    assert_eq!(names, ["g", "g_sum", "g_bucket"]);
    assert_eq!(labels(&families[2].get_metric()[0]), [("le", "1")]);
}

#[test]
fn escaped_label_value_round_trip() {
    let input = "# HELP a Help with \\\\ and \\n.\n# TYPE a gauge\n\
                 a{v=\"quote \\\" backslash \\\\ newline \\n end\"} 1\n";
    let families = parse(input);
    let value = families[0].get_metric()[0].get_label()[0].value();
    assert_eq!(value, "quote \" backslash \\ newline \n end");

    let text = encode_text(&families);
    assert_eq!(text, input);
    assert_eq!(parse(&text), families);
}

#[test]
fn untyped_encoded_without_panic() {
    let families = parse("a{x=\"1\"} 1 1700000000000\n");
    assert_eq!(
        encode_text(&families),
        "# TYPE a untyped\na{x=\"1\"} 1 1700000000000\n"
    );
}

#[test]
fn empty_family_skipped_by_encoder() {
    let mut empty = MetricFamily::new();
    empty.set_name("empty".to_string());
    empty.set_field_type(MetricType::GAUGE);
    let mut families = parse("a 1\n");
    families.insert(0, empty);
    assert_eq!(encode_text(&families), "# TYPE a untyped\na 1\n");
}

#[test]
fn local_writer_matches_text_encoder() {
    use prometheus::TextEncoder;

    let families = parse(
        "# HELP g A \\\\ gauge\\n.\n# TYPE g gauge\ng{a=\"\\\"\",b=\"\\n\"} -1.5 17\ng 1e21\n\
         # TYPE c counter\nc 3\n\
         # TYPE s summary\ns{quantile=\"0.5\",x=\"y\"} 1\ns_sum{x=\"y\"} 2\ns_count{x=\"y\"} 3\n\
         # TYPE h histogram\nh_bucket{le=\"1e-7\"} 0\nh_bucket{le=\"0.25\"} 1\nh_sum 0.5\nh_count 2\n",
    );
    let encoder = TextEncoder::new();
    for family in &families {
        let mut expected = String::new();
        encoder
            .encode_utf8(std::slice::from_ref(family), &mut expected)
            .unwrap();
        let mut written = String::new();
        write_family(&mut written, family);
        assert_eq!(written, expected, "family {}", family.name());
    }
}

#[test]
fn go_float_rules() {
    for (token, expected) in [
        ("1", Some(1.0)),
        ("-1.5e3", Some(-1500.0)),
        ("1.", Some(1.0)),
        ("Infinity", Some(f64::INFINITY)),
        ("+inf", Some(f64::INFINITY)),
        ("1e-400", Some(0.0)),
        ("", None),
        (".", None),
        ("-nan", None),
        ("infinit", None),
        ("0x10", None),
        ("1e", None),
    ] {
        assert_eq!(
            parse_go_float(token.as_bytes()),
            expected,
            "token {token:?}"
        );
    }
    assert!(parse_go_float(b"nAn").is_some_and(f64::is_nan));
}

#[test]
fn fuzz_entry_accepts_bad_input() {
    for (case, input, _, _) in BAD_INPUTS {
        assert!(!fuzz_round_trip(input.as_bytes()), "{case}");
    }
    assert!(!fuzz_round_trip(b"\xFF\xFE{{{\"\\"));
    assert!(fuzz_round_trip(
        b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n"
    ));
}
