//! How long query analysis (`graphql::limits`) takes before a query runs: parsing and the cost
//! walk, for the dashboard query and for documents built to make analysis slow, up to the
//! query size limit (`MAX_QUERY_BYTES`, 128 KiB; longer ones are refused before parsing).
//! Prints numbers; asserts nothing.
//!
//! `cargo bench --bench limits` (or `scripts/bench-limits`, which also compares dashboard
//! latency with a baseline build).

use std::time::{Duration, Instant};

use async_graphql::Variables;
use dojoql::graphql::limits::{self, QueryLimits};

/// The median and the 99th percentile of `runs` timings of `f`.
fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    t.sort();
    (t[runs / 2], t[runs * 99 / 100])
}

fn fan_out(levels: usize, fan: usize) -> String {
    let mut q = String::from("{ ...F0 }");
    for i in 0..levels {
        let spreads = vec![format!("...F{}", i + 1); fan].join(" ");
        q.push_str(&format!(" fragment F{i} on Query {{ {spreads} }}"));
    }
    q.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
    q
}

fn main() {
    let model = limits::model();
    let limits = QueryLimits::default();
    let max_body = limits.max_query_bytes;
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/bench/dashboard.graphql"
    ))
    .expect("scripts/bench/dashboard.graphql");
    // Fan-out filling the size limit: 1,000 levels of as many spreads as fit.
    let mut fan = 200;
    let mut wide = fan_out(1_000, fan);
    while wide.len() > max_body {
        fan -= 1;
        wide = fan_out(1_000, fan);
    }
    // Fields filling the size limit in one selection set, and deeply nested inline fragments.
    let flat = format!(
        "{{ {} }}",
        "__typename ".repeat((max_body - 4) / "__typename ".len())
    );
    let inline_depth = 2_000;
    let nested = format!(
        "{{ {}__typename{} }}",
        "... on Query { ".repeat(inline_depth),
        " }".repeat(inline_depth)
    );
    let cases = [
        ("dashboard (scripts/bench/dashboard.graphql)", dashboard),
        (
            "fan-out 40 levels × 2 spreads (the report's 1.7 KB)",
            fan_out(40, 2),
        ),
        ("fan-out 1,000 levels at the size limit", wide),
        ("flat: __typename × ~11,900 (the size limit)", flat),
        ("2,000 nested inline fragments", nested),
    ];
    println!(
        "{:<55} {:>10} {:>12} {:>12} {:>12}  outcome",
        "document", "bytes", "parse p50", "analyse p50", "analyse p99"
    );
    for (name, doc) in cases {
        let runs = if doc.len() > 100_000 { 21 } else { 2_001 };
        let parsed = async_graphql::parser::parse_query(&doc);
        let (parse, _) = time(runs, || {
            let _ = async_graphql::parser::parse_query(&doc);
        });
        let (p50, p99, outcome) = match parsed {
            Ok(parsed) => {
                let vars = Variables::default();
                let (p50, p99) = time(runs, || {
                    let _ = limits::check_with(model, &parsed, &vars, &limits);
                });
                let outcome = match limits::check_with(model, &parsed, &vars, &limits) {
                    Ok(c) => format!("admitted: {} nodes, {} selections", c.nodes, c.selections),
                    Err(e) => format!("refused: {e}"),
                };
                (p50, p99, outcome)
            }
            Err(e) => (Duration::ZERO, Duration::ZERO, format!("parse error: {e}")),
        };
        let outcome: String = outcome.chars().take(90).collect();
        println!(
            "{name:<55} {:>10} {:>10.1}µs {:>10.1}µs {:>10.1}µs  {outcome}",
            doc.len(),
            parse.as_secs_f64() * 1e6,
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
        );
    }
}
