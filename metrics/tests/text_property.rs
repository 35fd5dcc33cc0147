//! Random inputs for the text parser: it must never panic, and whatever it accepts must
//! write and read back stably. The seed is fixed, so a failure repeats.

use koji_metrics::text::fuzz_round_trip;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Fragments from which structured inputs are assembled, so that many of them parse.
const FRAGMENTS: &[&str] = &[
    "koji_tasks",
    "h",
    "h_bucket",
    "h_sum",
    "h_count",
    "s",
    "s_sum",
    "a:b",
    "# HELP ",
    "# TYPE ",
    "# ",
    " gauge",
    " counter",
    " histogram",
    " summary",
    " untyped",
    "{",
    "}",
    "le=\"",
    "quantile=\"",
    "host=\"",
    "__name__=\"",
    "\"",
    ",",
    "=",
    "\\",
    "\\n",
    "\\\"",
    "\\\\",
    " ",
    "\t",
    "\n",
    "\r",
    "1",
    "-2.5",
    "+Inf",
    "NaN",
    "1e400",
    "0.5",
    "10",
    " 1700000000000",
    "é",
    "\u{0}",
];

const NAMES: &[&str] = &[
    "koji_tasks",
    "h",
    "h_bucket",
    "h_sum",
    "h_count",
    "s",
    "s_sum",
    "a:b",
];
const TYPES: &[&str] = &["gauge", "counter", "histogram", "summary", "untyped"];
const LABEL_NAMES: &[&str] = &["host", "le", "quantile", "channel", "_x"];
const LABEL_VALUES: &[&str] = &["", "b1", "0.5", "10", "+Inf", "q\\\"", "a\\nb", "\\\\", "é"];
const VALUES: &[&str] = &["1", "0", "-2.5", "+Inf", "-Inf", "NaN", "3.0", "1e3", "7"];

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

/// Assembles lines from the grammar of the format, then sometimes inserts a random fragment,
/// so that many inputs parse and the rest fail in varied places.
fn structured_input(rng: &mut StdRng) -> Vec<u8> {
    let mut input = String::new();
    for _ in 0..rng.random_range(1..8) {
        let name = pick(rng, NAMES);
        match rng.random_range(0..6) {
            0 => input.push_str(&format!("# HELP {name} Help \\\\ text\\n.\n")),
            1 => input.push_str(&format!("# TYPE {name} {}\n", pick(rng, TYPES))),
            _ => {
                input.push_str(name);
                let labels = rng.random_range(0..3);
                if labels > 0 || rng.random_bool(0.2) {
                    input.push('{');
                    for index in 0..labels {
                        if index > 0 {
                            input.push(',');
                        }
                        let value = pick(rng, LABEL_VALUES);
                        input.push_str(&format!("{}=\"{value}\"", pick(rng, LABEL_NAMES)));
                    }
                    input.push('}');
                }
                input.push(' ');
                input.push_str(pick(rng, VALUES));
                if rng.random_bool(0.1) {
                    input.push_str(" 1700000000000");
                }
                input.push('\n');
            }
        }
    }
    if rng.random_bool(0.3) {
        let mut position = rng.random_range(0..=input.len());
        while !input.is_char_boundary(position) {
            position -= 1;
        }
        input.insert_str(position, pick(rng, FRAGMENTS));
    }
    input.into_bytes()
}

fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.random_range(0..200);
    (0..len).map(|_| rng.random::<u8>()).collect()
}

#[test]
fn random_inputs_never_panic() {
    let mut rng = StdRng::seed_from_u64(0x6b6f_6a69);
    let mut parsed = 0;
    for _ in 0..20_000 {
        parsed += usize::from(fuzz_round_trip(&structured_input(&mut rng)));
        fuzz_round_trip(&random_bytes(&mut rng));
    }
    eprintln!("{parsed} of 20000 structured inputs parsed");
    assert!(
        parsed > 1_000,
        "only {parsed} structured inputs parsed; the round trip is untested"
    );
}

#[test]
fn mutated_valid_inputs_never_panic() {
    let valid = b"# HELP h Task wait in seconds.\n# TYPE h histogram\n\
                  h_bucket{channel=\"default\",le=\"10\"} 1\nh_bucket{channel=\"default\",le=\"+Inf\"} 2\n\
                  h_sum{channel=\"default\"} 30\nh_count{channel=\"default\"} 2\n\
                  # TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\n\
                  # TYPE g gauge\ng{host=\"b\\\"1\\\\\\n\"} -1 17\nu 3\n";
    let mut rng = StdRng::seed_from_u64(0x7072_6f6d);
    let mut parsed = 0;
    for _ in 0..20_000 {
        let mut input = valid.to_vec();
        for _ in 0..rng.random_range(1..4) {
            let position = rng.random_range(0..input.len());
            match rng.random_range(0..3) {
                0 => input[position] = rng.random::<u8>(),
                1 => {
                    input.remove(position);
                }
                _ => input.insert(
                    position,
                    FRAGMENTS[rng.random_range(0..FRAGMENTS.len())].as_bytes()[0],
                ),
            }
        }
        parsed += usize::from(fuzz_round_trip(&input));
    }
    eprintln!("{parsed} of 20000 mutated inputs parsed");
    assert!(
        parsed > 1_000,
        "only {parsed} mutated inputs parsed; the round trip is untested"
    );
    assert!(fuzz_round_trip(valid));
}
