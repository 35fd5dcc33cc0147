//! The state machine of the text parser, one line at a time.

use std::collections::HashMap;

use ::protobuf::MessageField;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Quantile,
    Summary, Untyped,
};

use super::{ParseError, complex_suffixes, type_name};
use crate::names::{
    is_label_name_continuation, is_label_name_start, is_metric_name_continuation,
    is_metric_name_start, is_reserved_label_name,
};

/// Parses a whole body by the rules that [`super::parse_text`] documents.
pub(super) fn parse(input: &[u8]) -> Result<Vec<MetricFamily>, ParseError> {
    let mut parser = Parser::default();
    let mut rest = input;
    while !rest.is_empty() {
        parser.line += 1;
        match rest.iter().position(|byte| *byte == b'\n') {
            Some(end) => {
                parser.parse_line(&rest[..end])?;
                rest = &rest[end + 1..];
            }
            None if rest.iter().all(|byte| is_blank(*byte)) => break,
            None => {
                return Err(parser.error(format!(
                    "unexpected end of input: the last line {} does not end in a line feed (\\n)",
                    excerpt(rest)
                )));
            }
        }
    }
    parser.finish()
}

/// Maximum length in bytes of an excerpt of the input quoted in an error message.
const EXCERPT_LEN: usize = 60;

fn is_blank(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Quotes up to [`EXCERPT_LEN`] bytes of `bytes` for an error message.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= EXCERPT_LEN {
        return format!("{text:?}");
    }
    let mut end = EXCERPT_LEN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}...", &text[..end])
}

/// The role of a sample line in its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SampleRole {
    /// The sample name is the family name.
    Plain,
    Bucket,
    Sum,
    Count,
}

impl SampleRole {
    fn suffix(self) -> &'static str {
        match self {
            SampleRole::Plain => "",
            SampleRole::Bucket => "_bucket",
            SampleRole::Sum => "_sum",
            SampleRole::Count => "_count",
        }
    }
}

/// A family being parsed, with the line numbers the checks quote.
#[derive(Default)]
struct FamilyState {
    family: MetricFamily,
    /// The type from the TYPE line, or untyped once a sample came first.
    metric_type: Option<MetricType>,
    help_line: Option<usize>,
    type_line: Option<usize>,
    first_line: usize,
    first_sample_line: Option<usize>,
    /// Histogram and summary series by their sorted labels (`le` and `quantile` left out).
    series: HashMap<Vec<(String, String)>, usize>,
    /// Lines of the `_sum` and `_count` samples of each histogram or summary metric.
    seen_sum: Vec<Option<usize>>,
    seen_count: Vec<Option<usize>>,
}

#[derive(Default)]
struct Parser {
    families: Vec<FamilyState>,
    by_name: HashMap<String, usize>,
    current: Option<usize>,
    line: usize,
}

/// The labels of one sample line.
#[derive(Default)]
struct SampleLabels {
    pairs: Vec<LabelPair>,
    /// The `le` label of a histogram sample, or the `quantile` label of a summary sample.
    bound: Option<f64>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
    }

    /// Takes bytes up to the next blank, tab or the end of the line.
    fn take_token(&mut self) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(|byte| !is_blank(byte)) {
            self.pos += 1;
        }
        &self.bytes[start..self.pos]
    }

    /// Takes a name whose first byte satisfies `start` and whose other bytes satisfy
    /// `continuation`; returns an empty slice when the first byte does not fit.
    fn take_name(&mut self, start: fn(u8) -> bool, continuation: fn(u8) -> bool) -> &'a [u8] {
        let begin = self.pos;
        if self.peek().is_some_and(start) {
            self.pos += 1;
            while self.peek().is_some_and(continuation) {
                self.pos += 1;
            }
        }
        &self.bytes[begin..self.pos]
    }

    fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos.min(self.bytes.len())..]
    }
}

/// Converts ASCII name bytes, which the name scanners guarantee, to a string.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

fn describe_byte(byte: Option<u8>) -> String {
    match byte {
        None => "the end of the line".to_string(),
        Some(byte) if byte.is_ascii() => format!("{:?}", char::from(byte)),
        Some(byte) => format!("the byte 0x{byte:02X}"),
    }
}

impl Parser {
    fn error(&self, message: String) -> ParseError {
        ParseError {
            line: self.line,
            message,
        }
    }

    fn parse_line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        if let Some(position) = line.iter().position(|byte| *byte == b'\r') {
            let message = if position + 1 == line.len() {
                format!(
                    "line {} ends in CR LF; end lines with a line feed (\\n) alone",
                    excerpt(line)
                )
            } else {
                format!(
                    "carriage return (\\r) in line {}; the text format does not allow it",
                    excerpt(line)
                )
            };
            return Err(self.error(message));
        }

        let mut cursor = Cursor {
            bytes: line,
            pos: 0,
        };
        cursor.skip_blanks();
        match cursor.peek() {
            None => Ok(()),
            Some(b'#') => {
                cursor.pos += 1;
                self.parse_comment(cursor)
            }
            Some(_) => self.parse_sample(cursor),
        }
    }

    fn parse_comment(&mut self, mut cursor: Cursor<'_>) -> Result<(), ParseError> {
        cursor.skip_blanks();
        let keyword = cursor.take_token();
        if cursor.at_end() || (keyword != b"HELP" && keyword != b"TYPE") {
            // A plain comment, or a keyword with nothing after it.
            return Ok(());
        }
        cursor.skip_blanks();
        if cursor.at_end() {
            return Ok(());
        }
        let keyword = ascii(keyword);

        let name = cursor.take_name(is_metric_name_start, is_metric_name_continuation);
        if name.is_empty() || cursor.peek().is_some_and(|byte| !is_blank(byte)) {
            return Err(self.error(format!(
                "invalid metric name in {keyword} line: {}; names match [a-zA-Z_:][a-zA-Z0-9_:]*",
                excerpt(line_from(&cursor, name))
            )));
        }
        if cursor.at_end() {
            return Ok(());
        }
        let name = ascii(name);
        let (index, _) = self.resolve_family(name)?;
        cursor.skip_blanks();
        if cursor.at_end() {
            return Ok(());
        }

        if keyword == "HELP" {
            self.parse_help(index, cursor.rest())
        } else {
            self.parse_type(index, cursor.rest())
        }
    }

    fn parse_help(&mut self, index: usize, text: &[u8]) -> Result<(), ParseError> {
        let state = &self.families[index];
        if let Some(first) = state.help_line {
            return Err(self.error(format!(
                "second HELP line for metric {:?}; the first is in line {first}",
                state.family.name()
            )));
        }

        let mut help = Vec::with_capacity(text.len());
        let mut bytes = text.iter();
        while let Some(byte) = bytes.next() {
            if *byte != b'\\' {
                help.push(*byte);
                continue;
            }
            match bytes.next() {
                Some(b'\\') => help.push(b'\\'),
                Some(b'n') => help.push(b'\n'),
                other => {
                    return Err(self.error(format!(
                        "invalid escape sequence {} in HELP of {:?}; HELP allows only \\\\ and \\n",
                        escape_sequence(other.copied()),
                        self.families[index].family.name()
                    )));
                }
            }
        }
        let help = String::from_utf8(help).map_err(|_| {
            self.error(format!(
                "HELP of {:?} is not valid UTF-8: {}",
                self.families[index].family.name(),
                excerpt(text)
            ))
        })?;

        let line = self.line;
        let state = &mut self.families[index];
        state.help_line = Some(line);
        state.family.set_help(help);
        Ok(())
    }

    fn parse_type(&mut self, index: usize, text: &[u8]) -> Result<(), ParseError> {
        let state = &self.families[index];
        let name = state.family.name();
        if let Some(first) = state.type_line {
            return Err(self.error(format!(
                "second TYPE line for metric {name:?}; the first is in line {first}"
            )));
        }
        if let Some(first) = state.first_sample_line {
            return Err(self.error(format!(
                "TYPE line for metric {name:?} comes after its first sample in line {first}; \
                 put TYPE before the samples"
            )));
        }

        let metric_type = match text.to_ascii_uppercase().as_slice() {
            b"COUNTER" => MetricType::COUNTER,
            b"GAUGE" => MetricType::GAUGE,
            b"HISTOGRAM" => MetricType::HISTOGRAM,
            b"SUMMARY" => MetricType::SUMMARY,
            b"UNTYPED" => MetricType::UNTYPED,
            _ => {
                return Err(self.error(format!(
                    "unknown metric type {} for {name:?}; use counter, gauge, histogram, \
                     summary or untyped",
                    excerpt(text)
                )));
            }
        };

        let line = self.line;
        let state = &mut self.families[index];
        state.type_line = Some(line);
        state.metric_type = Some(metric_type);
        state.family.set_field_type(metric_type);
        Ok(())
    }

    /// Finds the family of a HELP, TYPE or sample name the way the Go parser does: the exact
    /// name first, then `_sum`/`_count` of a summary, then `_bucket`/`_sum`/`_count` of a
    /// histogram. Creates the family when there is none, and checks that the family's lines
    /// are contiguous.
    fn resolve_family(&mut self, name: &str) -> Result<(usize, SampleRole), ParseError> {
        let (index, role) = match self.find_family(name) {
            Some(found) => found,
            None => {
                let mut family = MetricFamily::new();
                family.set_name(name.to_string());
                let index = self.families.len();
                self.families.push(FamilyState {
                    family,
                    first_line: self.line,
                    ..FamilyState::default()
                });
                self.by_name.insert(name.to_string(), index);
                self.current = Some(index);
                return Ok((index, SampleRole::Plain));
            }
        };

        if let Some(current) = self.current.filter(|current| *current != index) {
            let state = &self.families[index];
            return Err(self.error(format!(
                "metric family {:?} continues after lines of {:?}; all lines of a family \
                 must be contiguous, and this one started in line {}",
                state.family.name(),
                self.families[current].family.name(),
                state.first_line
            )));
        }
        self.current = Some(index);
        Ok((index, role))
    }

    fn find_family(&self, name: &str) -> Option<(usize, SampleRole)> {
        if let Some(index) = self.by_name.get(name) {
            return Some((*index, SampleRole::Plain));
        }
        let suffixed = [
            (SampleRole::Count, "_count", MetricType::SUMMARY),
            (SampleRole::Sum, "_sum", MetricType::SUMMARY),
            (SampleRole::Count, "_count", MetricType::HISTOGRAM),
            (SampleRole::Sum, "_sum", MetricType::HISTOGRAM),
            (SampleRole::Bucket, "_bucket", MetricType::HISTOGRAM),
        ];
        for (role, suffix, metric_type) in suffixed {
            let Some(base) = name.strip_suffix(suffix).filter(|base| !base.is_empty()) else {
                continue;
            };
            if let Some(index) = self.by_name.get(base)
                && self.families[*index].metric_type == Some(metric_type)
            {
                return Some((*index, role));
            }
        }
        None
    }

    fn parse_sample(&mut self, mut cursor: Cursor<'_>) -> Result<(), ParseError> {
        let name = cursor.take_name(is_metric_name_start, is_metric_name_continuation);
        if name.is_empty() {
            return Err(self.error(format!(
                "invalid metric name at the start of {}; names match [a-zA-Z_:][a-zA-Z0-9_:]*",
                excerpt(cursor.rest())
            )));
        }
        let name = ascii(name);
        let (index, role) = self.resolve_family(name)?;
        let metric_type = self.families[index]
            .metric_type
            .unwrap_or(MetricType::UNTYPED);

        cursor.skip_blanks();
        let labels = if cursor.peek() == Some(b'{') {
            cursor.pos += 1;
            let labels = self.parse_labels(&mut cursor, name, metric_type)?;
            cursor.skip_blanks();
            labels
        } else {
            SampleLabels::default()
        };

        let token = cursor.take_token();
        let value = parse_go_float(token).ok_or_else(|| {
            self.error(format!(
                "expected a float as the value of {name:?}, got {}",
                excerpt(token)
            ))
        })?;
        let timestamp = self.parse_timestamp(&mut cursor, name)?;

        let line = self.line;
        let state = &mut self.families[index];
        if state.metric_type.is_none() {
            state.metric_type = Some(MetricType::UNTYPED);
            state.family.set_field_type(MetricType::UNTYPED);
        }
        state.first_sample_line.get_or_insert(line);

        match metric_type {
            MetricType::HISTOGRAM | MetricType::SUMMARY => {
                self.add_complex_sample(index, name, role, labels, value, timestamp)
            }
            _ => {
                let mut metric = Metric::new();
                metric.set_label(labels.pairs);
                metric.timestamp_ms = timestamp;
                match metric_type {
                    MetricType::COUNTER => {
                        let mut counter = Counter::new();
                        counter.set_value(value);
                        metric.set_counter(counter);
                    }
                    MetricType::GAUGE => {
                        let mut gauge = Gauge::new();
                        gauge.set_value(value);
                        metric.set_gauge(gauge);
                    }
                    _ => {
                        let mut untyped = Untyped::new();
                        untyped.set_value(value);
                        metric.untyped = MessageField::some(untyped);
                    }
                }
                self.families[index].family.mut_metric().push(metric);
                Ok(())
            }
        }
    }

    fn parse_timestamp(
        &self,
        cursor: &mut Cursor<'_>,
        name: &str,
    ) -> Result<Option<i64>, ParseError> {
        if cursor.at_end() {
            return Ok(None);
        }
        cursor.skip_blanks();
        let token = cursor.take_token();
        if token.is_empty() {
            return Err(self.error(format!(
                "trailing whitespace after the value of {name:?}; end the line after the value \
                 or the timestamp"
            )));
        }
        let timestamp = std::str::from_utf8(token)
            .ok()
            .and_then(|text| text.parse::<i64>().ok())
            .ok_or_else(|| {
                self.error(format!(
                    "expected an integer timestamp in milliseconds after the value of {name:?}, \
                     got {}",
                    excerpt(token)
                ))
            })?;
        if !cursor.at_end() {
            return Err(self.error(format!(
                "unexpected text after the timestamp of {name:?}: {}",
                excerpt(cursor.rest())
            )));
        }
        Ok(Some(timestamp))
    }

    fn parse_labels(
        &self,
        cursor: &mut Cursor<'_>,
        name: &str,
        metric_type: MetricType,
    ) -> Result<SampleLabels, ParseError> {
        let special = match metric_type {
            MetricType::HISTOGRAM => Some("le"),
            MetricType::SUMMARY => Some("quantile"),
            _ => None,
        };
        let mut labels = SampleLabels::default();
        let mut seen_special = false;

        loop {
            cursor.skip_blanks();
            match cursor.peek() {
                Some(b'}') => {
                    cursor.pos += 1;
                    return Ok(labels);
                }
                None => {
                    return Err(self.error(format!(
                        "label set of {name:?} is not closed with '}}' before the end of the line"
                    )));
                }
                Some(_) => {}
            }

            let label = cursor.take_name(is_label_name_start, is_label_name_continuation);
            if label.is_empty() {
                return Err(self.error(format!(
                    "invalid label name for metric {name:?} at {}; label names match \
                     [a-zA-Z_][a-zA-Z0-9_]*",
                    excerpt(cursor.rest())
                )));
            }
            let label = ascii(label);
            cursor.skip_blanks();
            if cursor.peek() != Some(b'=') {
                return Err(self.error(format!(
                    "expected '=' after label name {label:?} of {name:?}, found {}",
                    describe_byte(cursor.peek())
                )));
            }
            cursor.pos += 1;
            if is_reserved_label_name(label) {
                return Err(self.error(format!(
                    "label name {label:?} of {name:?} is reserved: names starting with __ are \
                     for Prometheus' internal use"
                )));
            }
            let duplicate = labels.pairs.iter().any(|pair| pair.name() == label)
                || (special == Some(label) && seen_special);
            if duplicate {
                return Err(self.error(format!("duplicate label name {label:?} for {name:?}")));
            }

            cursor.skip_blanks();
            if cursor.peek() != Some(b'"') {
                return Err(self.error(format!(
                    "expected '\"' at the start of the value of label {label:?} of {name:?}, \
                     found {}",
                    describe_byte(cursor.peek())
                )));
            }
            cursor.pos += 1;
            let value = self.parse_label_value(cursor, name, label)?;

            if special == Some(label) {
                seen_special = true;
                let bound = parse_go_float(value.as_bytes()).filter(|bound| !bound.is_nan());
                labels.bound = Some(bound.ok_or_else(|| {
                    self.error(format!(
                        "expected a number as the value of label {label:?} of {name:?}, got {value:?}"
                    ))
                })?);
            } else {
                let mut pair = LabelPair::new();
                pair.set_name(label.to_string());
                pair.set_value(value);
                labels.pairs.push(pair);
            }

            cursor.skip_blanks();
            match cursor.peek() {
                Some(b',') => cursor.pos += 1,
                Some(b'}') => {}
                other => {
                    return Err(self.error(format!(
                        "expected ',' or '}}' after the value of label {label:?} of {name:?}, \
                         found {}",
                        describe_byte(other)
                    )));
                }
            }
        }
    }

    /// Reads a label value after its opening quote, up to and including the closing quote.
    fn parse_label_value(
        &self,
        cursor: &mut Cursor<'_>,
        name: &str,
        label: &str,
    ) -> Result<String, ParseError> {
        let mut value = Vec::new();
        loop {
            let Some(byte) = cursor.peek() else {
                return Err(self.error(format!(
                    "value of label {label:?} of {name:?} is not closed before the end of the \
                     line: {}; write a line feed inside a label value as \\n",
                    excerpt(&value)
                )));
            };
            cursor.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    let escaped = cursor.peek();
                    cursor.pos += 1;
                    match escaped {
                        Some(b'\\') => value.push(b'\\'),
                        Some(b'"') => value.push(b'"'),
                        Some(b'n') => value.push(b'\n'),
                        other => {
                            return Err(self.error(format!(
                                "invalid escape sequence {} in the value of label {label:?} of \
                                 {name:?}; label values allow only \\\\, \\\" and \\n",
                                escape_sequence(other)
                            )));
                        }
                    }
                }
                other => value.push(other),
            }
        }
        String::from_utf8(value).map_err(|error| {
            self.error(format!(
                "value of label {label:?} of {name:?} is not valid UTF-8: {}",
                excerpt(error.as_bytes())
            ))
        })
    }

    fn add_complex_sample(
        &mut self,
        index: usize,
        name: &str,
        role: SampleRole,
        labels: SampleLabels,
        value: f64,
        timestamp: Option<i64>,
    ) -> Result<(), ParseError> {
        let line = self.line;
        let state = &self.families[index];
        let family_name = state.family.name();
        let is_histogram = state.metric_type == Some(MetricType::HISTOGRAM);
        let (bound_label, bound_role) = if is_histogram {
            ("le", SampleRole::Bucket)
        } else {
            ("quantile", SampleRole::Plain)
        };

        if role == bound_role && labels.bound.is_none() {
            return Err(self.error(format!("sample {name:?} lacks the {bound_label} label")));
        }
        if role != bound_role && labels.bound.is_some() {
            return Err(self.error(format!(
                "sample {name:?} has a {bound_label} label, which belongs only on {:?} samples",
                format!("{family_name}{}", bound_role.suffix())
            )));
        }
        if is_histogram && role == SampleRole::Plain {
            return Err(self.error(format!(
                "histogram sample {name:?} needs the suffix _bucket, _sum or _count"
            )));
        }
        let is_count = role == SampleRole::Count || role == SampleRole::Bucket;
        if is_count && !is_whole_count(value) {
            return Err(self.error(format!(
                "value {value} of {name:?} is not a count; counts are whole numbers from 0 \
                 to 2^64-1"
            )));
        }

        let mut key: Vec<(String, String)> = labels
            .pairs
            .iter()
            .map(|pair| (pair.name().to_string(), pair.value().to_string()))
            .collect();
        key.sort_unstable();
        let state = &mut self.families[index];
        let metric_index = match state.series.get(&key) {
            Some(metric_index) => *metric_index,
            None => {
                let mut metric = Metric::new();
                metric.set_label(labels.pairs);
                if is_histogram {
                    metric.set_histogram(Histogram::new());
                } else {
                    metric.set_summary(Summary::new());
                }
                let metric_index = state.family.get_metric().len();
                state.family.mut_metric().push(metric);
                state.series.insert(key, metric_index);
                state.seen_sum.push(None);
                state.seen_count.push(None);
                metric_index
            }
        };

        let first_line = match role {
            SampleRole::Sum => state.seen_sum[metric_index].replace(line),
            SampleRole::Count => state.seen_count[metric_index].replace(line),
            _ => None,
        };
        if let Some(first_line) = first_line {
            return Err(self.error(format!(
                "second {name:?} sample for the same labels; the first is in line {first_line}"
            )));
        }

        let metric = &mut state.family.mut_metric()[metric_index];
        if timestamp.is_some() {
            metric.timestamp_ms = timestamp;
        }
        let bound = labels.bound.unwrap_or(f64::NAN);
        let outcome = if is_histogram {
            add_histogram_value(metric, role, bound, value)
        } else {
            add_summary_value(metric, role, bound, value)
        };
        outcome.map_err(|detail| self.error(format!("{name:?}: {detail}")))
    }

    fn finish(self) -> Result<Vec<MetricFamily>, ParseError> {
        let families: Vec<FamilyState> = self
            .families
            .into_iter()
            .filter(|state| !state.family.get_metric().is_empty())
            .collect();

        // A family named like a sample of a histogram or summary breaks the exposition.
        let by_name: HashMap<&str, &FamilyState> = families
            .iter()
            .map(|state| (state.family.name(), state))
            .collect();
        for owner in &families {
            for suffix in complex_suffixes(owner.family.get_field_type()) {
                let sample_name = format!("{}{suffix}", owner.family.name());
                if let Some(clash) = by_name.get(sample_name.as_str()) {
                    return Err(ParseError {
                        line: clash.first_line.max(owner.first_line),
                        message: format!(
                            "metric family {sample_name:?} clashes with the {suffix} samples of \
                             the {} {:?}",
                            type_name(owner.family.get_field_type()),
                            owner.family.name()
                        ),
                    });
                }
            }
        }

        Ok(families.into_iter().map(|state| state.family).collect())
    }
}

fn line_from<'a>(cursor: &Cursor<'a>, name: &'a [u8]) -> &'a [u8] {
    let start = cursor.pos - name.len();
    &cursor.bytes[start..]
}

fn escape_sequence(byte: Option<u8>) -> String {
    match byte {
        None => "'\\' at the end of the line".to_string(),
        Some(byte) if byte.is_ascii_graphic() => format!("'\\{}'", char::from(byte)),
        Some(byte) => format!("'\\' followed by the byte 0x{byte:02X}"),
    }
}

fn is_whole_count(value: f64) -> bool {
    // 2^64 is the first float above u64::MAX.
    (0.0..18_446_744_073_709_551_616.0).contains(&value) && value.fract() == 0.0
}

fn add_histogram_value(
    metric: &mut Metric,
    role: SampleRole,
    bound: f64,
    value: f64,
) -> Result<(), String> {
    let histogram = metric.histogram.mut_or_insert_default();
    match role {
        SampleRole::Sum => histogram.set_sample_sum(value),
        SampleRole::Count => histogram.set_sample_count(value as u64),
        _ => {
            if let Some(last) = histogram.get_bucket().last() {
                if last.upper_bound() == bound {
                    return Err(format!(
                        "second bucket with le=\"{bound}\" for the same labels"
                    ));
                }
                if last.upper_bound() > bound {
                    return Err(format!(
                        "bucket le=\"{bound}\" comes after le=\"{}\"; buckets must ascend",
                        last.upper_bound()
                    ));
                }
            }
            let mut bucket = Bucket::new();
            bucket.set_upper_bound(bound);
            bucket.set_cumulative_count(value as u64);
            histogram.bucket.push(bucket);
        }
    }
    Ok(())
}

fn add_summary_value(
    metric: &mut Metric,
    role: SampleRole,
    quantile: f64,
    value: f64,
) -> Result<(), String> {
    let summary = metric.summary.mut_or_insert_default();
    match role {
        SampleRole::Sum => summary.set_sample_sum(value),
        SampleRole::Count => summary.set_sample_count(value as u64),
        _ => {
            if summary
                .quantile
                .iter()
                .any(|existing| existing.quantile() == quantile)
            {
                return Err(format!(
                    "second quantile=\"{quantile}\" for the same labels"
                ));
            }
            let mut entry = Quantile::new();
            entry.set_quantile(quantile);
            entry.set_value(value);
            summary.quantile.push(entry);
        }
    }
    Ok(())
}

/// Parses a float the way Go's `expfmt` does: `strconv.ParseFloat` without hexadecimal
/// floats or underscores, so decimal numbers, `Inf`/`Infinity` with an optional sign and
/// `NaN` without one (all case-insensitive). Values beyond the float range are rejected, as
/// Go reports them as out of range.
pub(super) fn parse_go_float(token: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(token).ok()?;
    if text.contains(['p', 'P', '_']) {
        return None;
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let signed = unsigned.len() != text.len();
    if signed && unsigned.eq_ignore_ascii_case("nan") {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    let infinity_literal =
        unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity");
    if value.is_infinite() && !infinity_literal {
        return None;
    }
    Some(value)
}
