//! Scan import and re-import through the service (the GraphQL mutations, REST endpoints and CLI
//! call the same function): DefectDojo's re-import sequence and dedup scenario tables.

use dojoql::{
    domain::import::SeverityStatistics,
    service::import::{self, ImportOptions, ImportResult},
};

use crate::helpers::TestApp;

fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/scans/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn options(scan_type: &str, file: &str, product: &str, engagement: &str) -> ImportOptions {
    let mut o = ImportOptions::new(scan_type);
    o.file_name = Some(file.rsplit('/').next().unwrap().to_string());
    o.target.product_type_name = Some("Imports".into());
    o.target.product_name = Some(product.into());
    o.target.engagement_name = Some(engagement.into());
    o.auto_create_context = true;
    o.active = Some(true);
    o.verified = Some(true);
    o
}

async fn import(app: &TestApp, o: ImportOptions, file: &str) -> ImportResult {
    import::import_scan(&app.state.db, &app.root, o, sample(file))
        .await
        .unwrap_or_else(|e| panic!("import of {file}: {}", e.message()))
}

async fn reimport(app: &TestApp, o: ImportOptions, file: &str) -> ImportResult {
    import::reimport_scan(&app.state.db, &app.root, o, sample(file))
        .await
        .unwrap_or_else(|e| panic!("re-import of {file}: {}", e.message()))
}

/// (created, closed, reactivated, untouched) totals of an import.
fn delta(r: &ImportResult) -> (i64, i64, i64, i64) {
    let d = &r.statistics.delta;
    (
        d.created.total.total,
        d.closed.total.total,
        d.reactivated.total.total,
        d.untouched.total.total,
    )
}

fn after(r: &ImportResult) -> &SeverityStatistics {
    &r.statistics.after
}

const ZAP: &str = "ZAP Scan";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zap_reimport_sequence_matches_defectdojo() {
    let app = TestApp::new().await;
    let o = || options(ZAP, "zap/0_zap_sample.xml", "shop", "ci");
    let first = import(&app, o(), "zap/0_zap_sample.xml").await;
    assert_eq!(after(&first).total.active, 4);
    assert_eq!(
        (after(&first).low.active, after(&first).medium.active),
        (3, 1)
    );
    // 0 → 1: one finding gone, one new.
    let r1 = reimport(&app, o(), "zap/1_zap_sample_0_and_new_absent.xml").await;
    assert_eq!(delta(&r1), (1, 1, 0, 3));
    assert_eq!(r1.statistics.delta.created.low.total, 1);
    assert_eq!(r1.statistics.delta.closed.low.total, 1);
    assert_eq!(
        (
            after(&r1).total.total,
            after(&r1).total.active,
            after(&r1).total.is_mitigated
        ),
        (5, 4, 1)
    );
    // 1 → 0: the closed one comes back, the new one goes.
    let r0 = reimport(&app, o(), "zap/0_zap_sample.xml").await;
    assert_eq!(delta(&r0), (0, 1, 1, 3));
    assert_eq!(
        first.test.id, r0.test.id,
        "re-import goes into the same test"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zap_reimport_variants_match_defectdojo() {
    let app = TestApp::new().await;
    // 0 → 2: an extra endpoint changes nothing.
    let o = |e: &str| options(ZAP, "zap/0_zap_sample.xml", "p2", e);
    import(&app, o("a"), "zap/0_zap_sample.xml").await;
    let r = reimport(&app, o("a"), "zap/2_zap_sample_0_and_new_endpoint.xml").await;
    assert_eq!(delta(&r), (0, 0, 0, 4));
    // 0 → 3: two severities changed: two new, two closed.
    import(&app, o("b"), "zap/0_zap_sample.xml").await;
    let r = reimport(
        &app,
        o("b"),
        "zap/3_zap_sampl_0_and_different_severities.xml",
    )
    .await;
    assert_eq!(delta(&r), (2, 2, 0, 2));
    // 0 → 1 without closing old findings.
    import(&app, o("c"), "zap/0_zap_sample.xml").await;
    let mut keep = o("c");
    keep.close_old_findings = Some(false);
    let r = reimport(&app, keep, "zap/1_zap_sample_0_and_new_absent.xml").await;
    assert_eq!(delta(&r), (1, 0, 0, 3));
    // Re-importing the same file again changes nothing but the history.
    let again = reimport(&app, o("a"), "zap/2_zap_sample_0_and_new_endpoint.xml").await;
    assert_eq!(delta(&again), (0, 0, 0, 4));
}

/// Duplicates among the findings of `test` (a test id) or, with `product`, of the product.
async fn duplicates(app: &TestApp, test: Option<i32>, product: Option<i32>) -> i64 {
    use diesel::{QueryableByName, sql_types::BigInt};
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut c = app.sql().await;
    let n: N = diesel::sql_query(
        "SELECT count(*) AS n FROM findings WHERE duplicate \
         AND ($1::int IS NULL OR test_id = $1) AND ($2::int IS NULL OR product_id = $2)",
    )
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Integer>, _>(test)
    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Integer>, _>(product)
    .get_result(&mut c)
    .await
    .unwrap();
    n.n
}

/// DefectDojo's dedup scenario (reference §3.6) for one file: A, C, D, E (and B when a second
/// file is given: imported as a second test of the same engagement).
async fn dedup_scenario(
    scan_type: &str,
    file: &str,
    second: Option<&str>,
    expected: (i64, Option<i64>, i64, i64, i64),
) {
    let app = TestApp::new().await;
    let (a, b, c, d, e) = expected;
    // A: one import.
    let one = import(&app, options(scan_type, file, "A", "e1"), file).await;
    assert_eq!(
        duplicates(&app, Some(one.test.id), None).await,
        a,
        "A: {file}"
    );
    // B: the second file as a second test of the same engagement.
    if let (Some(second), Some(b)) = (second, b) {
        let two = import(&app, options(scan_type, second, "A", "e1"), second).await;
        assert_eq!(
            duplicates(&app, Some(two.test.id), None).await,
            b,
            "B: {file}"
        );
    }
    // C: the same file into two engagements of one product.
    let c1 = import(&app, options(scan_type, file, "C", "e1"), file).await;
    import(&app, options(scan_type, file, "C", "e2"), file).await;
    assert_eq!(
        duplicates(&app, None, Some(c1.product_id)).await,
        c,
        "C: {file}"
    );
    // D: into two products: each test on its own.
    let d1 = import(&app, options(scan_type, file, "D1", "e"), file).await;
    let d2 = import(&app, options(scan_type, file, "D2", "e"), file).await;
    assert_eq!(
        duplicates(&app, Some(d1.test.id), None).await,
        d,
        "D1: {file}"
    );
    assert_eq!(
        duplicates(&app, Some(d2.test.id), None).await,
        d,
        "D2: {file}"
    );
    // E: two engagements that deduplicate only inside themselves.
    let on_engagement = |eng: &str| {
        let mut o = options(scan_type, file, "E", eng);
        o.deduplication_on_engagement = Some(true);
        o
    };
    import(&app, on_engagement("e1"), file).await;
    let e2 = import(&app, on_engagement("e2"), file).await;
    assert_eq!(
        duplicates(&app, Some(e2.test.id), None).await,
        e,
        "E: {file}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_table_zap_dvwa() {
    dedup_scenario(
        ZAP,
        "zap/dvwa_baseline_dojo.xml",
        Some("zap/dvwa_baseline_dojo_subset.xml"),
        (0, Some(10), 19, 0, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_table_trivy_kubernetes() {
    dedup_scenario(
        "Trivy Scan",
        "trivy/kubernetes.json",
        None,
        (0, None, 20, 0, 0),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_table_sarif_bash_report() {
    // B: the same file twice (18 internal duplicates + 9 across the two tests).
    dedup_scenario(
        "SARIF",
        "sarif/bash-report.sarif",
        Some("sarif/bash-report.sarif"),
        (18, Some(27), 45, 18, 18),
    )
    .await;
}
