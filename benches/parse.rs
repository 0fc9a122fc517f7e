//! How fast the scan parsers run and how much memory they take: generated SARIF and Generic
//! Findings Import reports of 10k and 100k findings (the shapes of `scripts/bench-import`), parse
//! time, the allocator's peak during a whole parse and what the parsed findings keep, and the
//! peak when the findings are streamed as an import takes them (`parse_each`, a chunk of 1,000
//! held at a time), against the file size. Prints numbers; asserts nothing.
//! `cargo bench --bench parse`.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering::Relaxed},
    time::Instant,
};

use dojoql::{db::import::CHUNK, import::parsers};

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn sarif(n: usize) -> Vec<u8> {
    let rules: Vec<serde_json::Value> = (0..60)
        .map(|r| {
            serde_json::json!({"id": format!("RULE{r:03}"), "shortDescription": {"text": format!("Rule {r}")},
                "fullDescription": {"text": format!("Long description of RULE{r:03}")},
                "properties": {"tags": ["security", format!("CWE-{}", [79, 89, 22, 78][r % 4])]}})
        })
        .collect();
    let results: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let rule = format!("RULE{:03}", i % 60);
            serde_json::json!({"ruleId": rule, "level": (["error", "warning", "note"][i % 3]),
                "message": {"text": format!("{rule} issue in module {}", i % 500)},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": format!("src/module{}/file{}.py", i % 500, i % 2000)},
                    "region": {"startLine": i * 7 + 1}}}],
                "partialFingerprints": {"primaryLocationLineHash": format!("{rule}:{i}")}})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "bench", "rules": rules}}, "results": results}]}))
    .unwrap()
}

fn generic(n: usize) -> Vec<u8> {
    let findings: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({"title": format!("Finding type {}", i % 300),
                "severity": (["Critical", "High", "Medium", "Low", "Info"][i % 5]),
                "description": format!("Found in component {} at line {}", i % 800, i * 3),
                "file_path": format!("lib/component{}.js", i % 800), "line": i * 3,
                "cwe": ([79, 89, 22, 78][i % 4]),
                "vulnerability_ids": [format!("CVE-2025-{}", 10000 + i % 4000)],
                "component_name": format!("component{}", i % 800),
                "component_version": format!("1.{}.0", i % 20)})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "findings": findings })).unwrap()
}

/// How many findings `bytes` holds (counted without keeping them).
fn report_len(parser: &dyn parsers::Parser, bytes: &[u8], file: &str) -> usize {
    let mut n = 0;
    parser
        .parse_each(bytes, Some(file), &mut |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
    n
}

fn main() {
    println!(
        "{:<34} {:>9} {:>10} {:>13} {:>12} {:>12} {:>16}",
        "report", "file MB", "parse ms", "findings/s", "peak MB", "kept MB", "streamed peak MB"
    );
    for n in [10_000, 100_000] {
        for (name, scan_type, file, bytes) in [
            ("SARIF", "SARIF", "r.sarif", sarif(n)),
            (
                "Generic JSON",
                "Generic Findings Import",
                "r.json",
                generic(n),
            ),
        ] {
            let parser = parsers::by_scan_type(scan_type).unwrap();
            let size = bytes.len();
            let base = LIVE.load(Relaxed);
            PEAK.store(base, Relaxed);
            let started = Instant::now();
            let report = parser.parse(&bytes, Some(file)).unwrap();
            let took = started.elapsed();
            let peak = PEAK.load(Relaxed) - base;
            let kept = LIVE.load(Relaxed) - base;
            drop(report);
            let found = report_len(parser, &bytes, file);
            PEAK.store(LIVE.load(Relaxed), Relaxed);
            let mut chunk = Vec::with_capacity(CHUNK);
            parser
                .parse_each(&bytes, Some(file), &mut |f| {
                    chunk.push(f);
                    if chunk.len() == CHUNK {
                        chunk.clear();
                    }
                    Ok(())
                })
                .unwrap();
            drop(chunk);
            let streamed = PEAK.load(Relaxed) - base;
            let mb = |b: usize| b as f64 / 1e6;
            println!(
                "{:<34} {:>9.1} {:>10.0} {:>13.0} {:>12.1} {:>12.1} {:>16.1}",
                format!("{name} {n}"),
                mb(size),
                took.as_secs_f64() * 1e3,
                found as f64 / took.as_secs_f64(),
                mb(peak),
                mb(kept),
                mb(streamed)
            );
        }
    }
}
