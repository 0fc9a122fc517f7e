//! Scan import and re-import through the service (the GraphQL mutations, REST endpoints and CLI
//! call the same function): DefectDojo's re-import sequence and dedup scenario tables.

use dojoql::{
    domain::import::SeverityStatistics,
    service::import::{self, ImportOptions, ImportResult},
};

use serde_json::json;

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
async fn duplicates(
    app: &TestApp,
    test: Option<dojoql::domain::ids::TestId>,
    product: Option<dojoql::domain::ids::ProductId>,
) -> i64 {
    let (test, product) = (test.map(|t| t.get()), product.map(|p| p.get()));
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

mod rest {
    //! The DefectDojo-compatible endpoints, driven the way `curl -F` drives them.

    use axum::{
        body::Body,
        http::{Request, StatusCode, header},
    };
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::sample;
    use crate::helpers::TestApp;

    pub const B: &str = "curlBoundary1234";

    /// A multipart body of `fields` and the report `file`.
    pub fn form(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!("--{B}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        if let Some((name, bytes)) = file {
            body.extend_from_slice(
                format!(
                    "--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{B}--\r\n").as_bytes());
        body
    }

    pub async fn post(
        app: &TestApp,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = Request::post(path).header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={B}"),
        );
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Token {t}"));
        }
        let res = app
            .raw_router()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json)
    }

    const TRIVY: &str = "trivy/scheme_2_many_vulns.json";

    fn fields(product: &str) -> Vec<(&str, &str)> {
        vec![
            ("scan_type", "Trivy Scan"),
            ("product_type_name", "Web"),
            ("product_name", product),
            ("engagement_name", "ci"),
            ("auto_create_context", "True"),
        ]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_and_reimport_answer_like_defectdojo() {
        let app = TestApp::new().await;
        let file = sample(TRIVY);
        let (status, r) = post(
            &app,
            "/api/v2/import-scan/",
            Some(&app.root_token),
            form(&fields("shop"), Some(("report.json", &file))),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        for key in [
            "test",
            "test_id",
            "engagement_id",
            "product_id",
            "product_type_id",
        ] {
            assert!(r[key].as_i64().is_some(), "{key} in {r}");
        }
        assert_eq!(r["statistics"]["after"]["total"]["total"], 5, "{r}");
        assert_eq!(r["scan_type"], "Trivy Scan");
        let (status, again) = post(
            &app,
            "/api/v2/reimport-scan/",
            Some(&app.root_token),
            form(&fields("shop"), Some(("report.json", &file))),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{again}");
        assert_eq!(again["test_id"], r["test_id"]);
        assert_eq!(
            again["statistics"]["delta"]["untouched"]["total"]["total"],
            5
        );
        assert_eq!(again["statistics"]["delta"]["created"]["total"]["total"], 0);
        assert_eq!(again["statistics"]["before"]["total"]["total"], 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_engagement_created_by_an_import_keeps_its_source_code_link() {
        let app = TestApp::new().await;
        let file = sample(TRIVY);
        let with_scm = async |uri: &str| {
            let mut f = fields("scm");
            f.push(("source_code_management_uri", uri));
            post(
                &app,
                "/api/v2/import-scan/",
                Some(&app.root_token),
                form(&f, Some(("r.json", &file))),
            )
            .await
        };
        let (status, r) = with_scm("javascript:alert(1)").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
        assert_eq!(r["code"], "BAD_USER_INPUT", "{r}");
        let (status, r) = with_scm("https://git.example.com/shop").await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        assert_eq!(
            r["source_code_management_uri"],
            "https://git.example.com/shop"
        );
        assert_eq!(
            app.dump("SELECT id, name, source_code_management_uri AS scm FROM engagements")
                .await,
            r#"[{"id":1,"name":"ci","scm":"https://git.example.com/shop"}]"#
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_requests_get_clear_errors_and_write_nothing() {
        let app = TestApp::new().await;
        let before = app.snapshot().await;
        let file = sample(TRIVY);
        // No token.
        let (status, _) = post(
            &app,
            "/api/v2/import-scan/",
            None,
            form(&fields("x"), Some(("r.json", &file))),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        // An unknown scan type, no file, a truncated report, a future scan date.
        let mut unknown = fields("x");
        unknown[0] = ("scan_type", "Nessus Pro 9000");
        let truncated = &file[..file.len() / 2];
        let mut future = fields("x");
        future.push(("scan_date", "2999-01-01"));
        for (body, code) in [
            (form(&unknown, Some(("r.json", &file))), "BAD_USER_INPUT"),
            (form(&fields("x"), None), "BAD_USER_INPUT"),
            (
                form(&fields("x"), Some(("r.json", truncated))),
                "PARSE_ERROR",
            ),
            (form(&future, Some(("r.json", &file))), "BAD_USER_INPUT"),
        ] {
            let (status, r) = post(&app, "/api/v2/import-scan/", Some(&app.root_token), body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
            assert_eq!(r["code"], code, "{r}");
        }
        // A failure after the product was auto-created (an unknown lead) rolls everything back.
        let mut lead = fields("x");
        lead.push(("lead", "999999"));
        let (status, r) = post(
            &app,
            "/api/v2/import-scan/",
            Some(&app.root_token),
            form(&lead, Some(("r.json", &file))),
        )
        .await;
        assert!(status.is_client_error(), "{status} {r}");
        assert_eq!(app.snapshot().await, before, "nothing written");
    }
}

mod rights_and_races {
    //! Who may import where, conflicting ids and names, concurrent auto-creates and re-imports,
    //! and hostile XML.

    use axum::http::StatusCode;

    use super::{options, rest, sample};
    use crate::helpers::TestApp;

    const ZAP: &str = "zap/0_zap_sample.xml";

    async fn import_as(
        app: &TestApp,
        token: &str,
        fields: &[(&str, &str)],
    ) -> (StatusCode, serde_json::Value) {
        let file = sample(ZAP);
        rest::post(
            app,
            "/api/v2/import-scan/",
            Some(token),
            rest::form(fields, Some(("zap.xml", &file))),
        )
        .await
    }

    /// A hierarchy with a READER on its product and an outsider with no role.
    struct Cast {
        app: TestApp,
        h: crate::helpers::Hierarchy,
        /// The engagement's database id, as the REST form field takes it.
        engagement: String,
        reader: crate::helpers::TestUser,
        outsider: crate::helpers::TestUser,
    }

    async fn cast() -> Cast {
        let app = TestApp::new().await;
        let h = app.hierarchy().await;
        let engagement = crate::helpers::db_id(&h.engagement).to_string();
        let reader = app.user("reader").await;
        let outsider = app.user("outsider").await;
        app.grant_product(&h.product, &reader.id, "READER").await;
        Cast {
            app,
            h,
            engagement,
            reader,
            outsider,
        }
    }

    /// The form fields of a ZAP import into `engagement` by id.
    fn by_id(engagement: &str) -> [(&'static str, &str); 2] {
        [("scan_type", "ZAP Scan"), ("engagement", engagement)]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn importing_needs_the_import_permission_where_it_lands() {
        let Cast {
            app,
            h,
            engagement,
            reader,
            outsider,
        } = cast().await;
        let importer = app.user("importer").await;
        app.grant_product(&h.product, &importer.id, "API_IMPORTER")
            .await;
        let by_id = by_id(&engagement);
        let (status, r) = import_as(&app, &reader.token, &by_id).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{r}");
        let (status, r) = import_as(&app, &outsider.token, &by_id).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{r}");
        let (status, r) = import_as(&app, &importer.token, &by_id).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        // By names: a new engagement in a product the importer may import into.
        let by_names = [
            ("scan_type", "ZAP Scan"),
            ("product_name", "P"),
            ("engagement_name", "nightly"),
            ("auto_create_context", "true"),
        ];
        let (status, r) = import_as(&app, &importer.token, &by_names).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        // A new product needs rights on the product type; a new product type a global role.
        let new_product = [
            ("scan_type", "ZAP Scan"),
            ("product_type_name", "PT"),
            ("product_name", "brand new"),
            ("engagement_name", "ci"),
            ("auto_create_context", "true"),
        ];
        let (status, r) = import_as(&app, &importer.token, &new_product).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{r}");
        let new_type = [
            ("scan_type", "ZAP Scan"),
            ("product_type_name", "Another"),
            ("product_name", "brand new"),
            ("engagement_name", "ci"),
            ("auto_create_context", "true"),
        ];
        let (status, r) = import_as(&app, &importer.token, &new_type).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{r}");
        assert_eq!(app.count("products").await, 1);
    }

    /// The head of an import request whose target fields come before a `size`-byte report of
    /// which only 64 KiB are sent.
    fn partial_import(token: &str, fields: &[(&str, &str)], size: usize) -> Vec<u8> {
        let b = rest::B;
        let mut body = rest::form(fields, None);
        body.truncate(body.len() - format!("--{b}--\r\n").len());
        body.extend_from_slice(
            format!(
                "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.json\"\r\n\r\n"
            )
            .as_bytes(),
        );
        let total = body.len() + size + format!("\r\n--{b}--\r\n").len();
        body.extend(std::iter::repeat_n(b' ', 64 * 1024));
        let mut req = format!(
            "POST /api/v2/import-scan/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Authorization: Token {token}\r\nContent-Type: multipart/form-data; boundary={b}\r\n\
             Content-Length: {total}\r\n\r\n"
        )
        .into_bytes();
        req.extend_from_slice(&body);
        req
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_report_is_refused_before_it_is_read_when_its_target_is_not_yours() {
        let c = cast().await;
        let (app, reader, outsider) = (c.app, c.reader, c.outsider);
        let addr = app.serve().await;
        let by_id = by_id(&c.engagement);
        let size = 50 * 1024 * 1024;
        let answer = |token: String, fields: Vec<(&'static str, String)>| async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            crate::hardening::answer_without_body(addr, &partial_import(&token, &fields, size))
                .await
        };
        let owned = |f: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
            f.iter().map(|(k, v)| (*k, v.to_string())).collect()
        };
        let (status, body) = answer(reader.token.clone(), owned(&by_id)).await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = answer(outsider.token.clone(), owned(&by_id)).await;
        assert_eq!(status, 404, "{body}");
        // By names: a product the outsider cannot see is as missing as one that does not exist.
        let by_name = [
            ("scan_type", "ZAP Scan"),
            ("product_name", "P"),
            ("engagement_name", "ci"),
            ("auto_create_context", "true"),
        ];
        let (status, body) = answer(outsider.token.clone(), owned(&by_name)).await;
        assert_eq!(status, 404, "{body}");
        assert_eq!(app.count("tests").await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_id_of_yours_with_another_tenants_names_is_refused_without_naming_it() {
        let app = TestApp::new().await;
        let mine = app.hierarchy().await;
        let other_pt = app.product_type("Theirs").await;
        app.product(&other_pt, "Victim").await;
        let me = app.user("me").await;
        app.grant_product(&mine.product, &me.id, "OWNER").await;
        let engagement = crate::helpers::db_id(&mine.engagement).to_string();
        let before = app.snapshot().await;
        let fields = [
            ("scan_type", "ZAP Scan"),
            ("engagement", engagement.as_str()),
            ("product_name", "Victim"),
            ("engagement_name", "E"),
        ];
        let (status, r) = import_as(&app, &me.token, &fields).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
        assert!(!r.to_string().contains("Theirs"), "{r}");
        assert_eq!(app.snapshot().await, before);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_auto_creates_make_one_product_and_engagement() {
        let app = TestApp::new().await;
        let imports = (0..8).map(|_| {
            let db = app.state.db.clone();
            let root = app.root.clone();
            let o = options("ZAP Scan", ZAP, "raced", "ci");
            async move { dojoql::service::import::import_scan(&db, &root, o, sample(ZAP)).await }
        });
        let results = futures_util::future::join_all(imports).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(app.count("products").await, 1);
        assert_eq!(app.count("engagements").await, 1);
        assert_eq!(app.count("tests").await, 8);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reimports_into_one_test_serialize() {
        let app = TestApp::new().await;
        let o = || options("ZAP Scan", ZAP, "p", "ci");
        dojoql::service::import::import_scan(&app.state.db, &app.root, o(), sample(ZAP))
            .await
            .unwrap();
        let file = "zap/1_zap_sample_0_and_new_absent.xml";
        let runs =
            (0..6).map(|_| {
                let db = app.state.db.clone();
                let root = app.root.clone();
                let opts = o();
                async move {
                    dojoql::service::import::reimport_scan(&db, &root, opts, sample(file)).await
                }
            });
        let results = futures_util::future::join_all(runs).await;
        let created: i64 = results
            .iter()
            .map(|r| r.as_ref().unwrap().statistics.delta.created.total.total)
            .sum();
        assert_eq!(created, 1, "the new finding is created once");
        assert_eq!(app.count("findings").await, 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hostile_xml_is_refused_fast_and_reads_nothing() {
        let app = TestApp::new().await;
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<OWASPZAPReport><site name="x"><alerts><alertitem><alert>&lol3;</alert></alertitem></alerts></site></OWASPZAPReport>"#;
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<OWASPZAPReport><site name="x"><alerts><alertitem><alert>&x;</alert><riskcode>3</riskcode></alertitem></alerts></site></OWASPZAPReport>"#;
        for doc in [bomb, xxe] {
            let started = std::time::Instant::now();
            let r = dojoql::service::import::import_scan(
                &app.state.db,
                &app.root,
                options("ZAP Scan", "x.xml", "p", "e"),
                doc.as_bytes().to_vec(),
            )
            .await;
            let e = r.expect_err("refused");
            assert_eq!(e.code(), "PARSE_ERROR", "{}", e.message());
            assert!(!e.message().contains("root:"), "{}", e.message());
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
        }
        assert_eq!(app.count("findings").await, 0);
        assert_eq!(app.count("products").await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_imports_and_reimports_through_the_rest_endpoints() {
    let app = TestApp::new().await;
    let addr = app.serve().await;
    let file = format!(
        "{}/tests/fixtures/scans/zap/0_zap_sample.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let run = |extra: &'static [&'static str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dojoql"));
        cmd.args([
            "import",
            "--url",
            &format!("http://{addr}"),
            "--scan-type",
            "ZAP Scan",
        ])
        .args(["--file", &file, "--product-type", "Web", "--product", "cli"])
        .args(["--engagement", "ci", "--auto-create"])
        .args(extra)
        .env("DOJOQL_TOKEN", &app.root_token);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
    };
    let out = run(&[]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("findings: critical 0, high 0, medium 1, low 3, info 0, total 4"),
        "{text}"
    );
    let out = run(&["--reimport"]).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("untouched: critical 0, high 0, medium 1, low 3, info 0, total 4"),
        "{text}"
    );
    // A bad token: the server's answer, and a failing exit status.
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_dojoql"));
    cmd.args([
        "import",
        "--url",
        &format!("http://{addr}"),
        "--token",
        "nope",
    ])
    .args([
        "--scan-type",
        "ZAP Scan",
        "--file",
        &file,
        "--product",
        "cli",
    ])
    .args(["--engagement", "ci"]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

mod graphql {
    //! `importScan` / `reimportScan` as GraphQL multipart requests, and the event they publish.

    use axum::{
        body::Body,
        http::{Request, header},
    };
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::sample;
    use crate::helpers::{TestApp, ws};

    const B: &str = "gqlImportBoundary";

    fn request(token: &str, query: &str, variables: Value, file: &[u8]) -> Request<Body> {
        let operations = json!({ "query": query, "variables": variables });
        let mut body = Vec::new();
        let mut part = |headers: &str, content: &[u8]| {
            body.extend_from_slice(format!("--{B}\r\n{headers}\r\n\r\n").as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        };
        part(
            "Content-Disposition: form-data; name=\"operations\"",
            operations.to_string().as_bytes(),
        );
        part(
            "Content-Disposition: form-data; name=\"map\"",
            br#"{"0": ["variables.f"]}"#,
        );
        part(
            "Content-Disposition: form-data; name=\"0\"; filename=\"report.sarif\"\r\nContent-Type: application/json",
            file,
        );
        body.extend_from_slice(format!("--{B}--\r\n").as_bytes());
        Request::post("/graphql")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={B}"),
            )
            .header(header::AUTHORIZATION, format!("Token {token}"))
            .body(Body::from(body))
            .unwrap()
    }

    async fn send(app: &TestApp, req: Request<Body>) -> Value {
        let res = app.raw_router().oneshot(req).await.unwrap();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    const IMPORT: &str = "mutation($f: Upload!) { importScan(input: {scanType: \"SARIF\", file: $f, \
        productTypeName: \"Web\", productName: \"shop\", engagementName: \"ci\", autoCreateContext: true}) \
        { test { id findings(first: 5) { nodes { title severity } } } \
          statistics { after { total { active total } } } product { name } engagement { name } } }";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_scan_selects_what_the_client_wants_and_publishes_one_event() {
        let app = TestApp::with_events(|_| {}).await;
        let addr = app.serve().await;
        let mut socket = ws::acked(addr, ws::TRANSPORT, &app.root_token).await;
        let before = app.state.events.receivers();
        ws::send(
            &mut socket,
            ws::subscribe(
                ws::TRANSPORT,
                "1",
                "subscription { findingsImported { test { id } statistics } }",
            ),
        )
        .await;
        crate::helpers::attached(&app.state.events, before, 1).await;
        let r = send(
            &app,
            request(
                &app.root_token,
                IMPORT,
                json!({ "f": null }),
                &sample("sarif/njsscan.sarif"),
            ),
        )
        .await;
        assert!(r.get("errors").is_none(), "{r}");
        let d = &r["data"]["importScan"];
        assert_eq!(d["statistics"]["after"]["total"]["total"], 3, "{r}");
        assert_eq!(d["test"]["findings"]["nodes"].as_array().unwrap().len(), 3);
        assert_eq!(
            (
                d["product"]["name"].as_str(),
                d["engagement"]["name"].as_str()
            ),
            (Some("shop"), Some("ci"))
        );
        let event = ws::recv(&mut socket).await;
        assert_eq!(
            event["payload"]["data"]["findingsImported"]["test"]["id"], d["test"]["id"],
            "{event}"
        );
        assert_eq!(
            event["payload"]["data"]["findingsImported"]["statistics"]["after"]["total"]["total"],
            3
        );
        // One event per import, not one per finding.
        assert_eq!(
            app.count("event_outbox WHERE kind = 'FINDINGS_IMPORTED'")
                .await,
            1
        );
        assert_eq!(
            app.count("event_outbox WHERE kind = 'FINDING_CREATED'")
                .await,
            0
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_is_refused_before_the_report_is_read() {
        let app = TestApp::new().await;
        let h = app.hierarchy().await;
        let reader = app.user("reader").await;
        app.grant_product(&h.product, &reader.id, "READER").await;
        let query = "mutation($e: ID!, $f: Upload!) { importScan(input: {scanType: \"SARIF\", engagementId: $e, file: $f}) { test { id } } }";
        let r = send(
            &app,
            request(
                &reader.token,
                query,
                json!({ "e": h.engagement, "f": null }),
                b"not even SARIF",
            ),
        )
        .await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "FORBIDDEN", "{r}");
        // A report that does not parse (for someone allowed): PARSE_ERROR, nothing written.
        let before = app.snapshot().await;
        let r = send(
            &app,
            request(
                &app.root_token,
                query,
                json!({ "e": h.engagement, "f": null }),
                b"{\"runs\": [",
            ),
        )
        .await;
        assert_eq!(r["errors"][0]["extensions"]["code"], "PARSE_ERROR", "{r}");
        assert_eq!(app.snapshot().await, before);
        let types = app.ok("{ scanTypes }", json!({})).await;
        for t in ["Generic Findings Import", "SARIF", "Trivy Scan", "ZAP Scan"] {
            assert!(
                types["scanTypes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x == t),
                "{types}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_findings_show_their_fields_endpoints_and_history() {
    use serde_json::json;
    let app = TestApp::new().await;
    let first = import(
        &app,
        options(ZAP, "zap/0_zap_sample.xml", "hist", "ci"),
        "zap/0_zap_sample.xml",
    )
    .await;
    reimport(
        &app,
        options(ZAP, "zap/0_zap_sample.xml", "hist", "ci"),
        "zap/1_zap_sample_0_and_new_absent.xml",
    )
    .await;
    let test = dojoql::graphql::ids::encode(first.test.id);
    let d = app
        .ok(
            "query($t: ID!) { node(id: $t) { ... on Test {
                findings(first: 10, orderBy: {field: ID}) { nodes { title severity cwe scannerConfidence scannerConfidenceText
                  endpoints { protocol host port path url mitigated } } }
                imports { kind scanType fileName user { username }
                  statistics { before { total { total } } delta { created { total { total } } closed { total { total } } untouched { total { total } } } after { total { total active } } }
                  created: findings(action: CREATED) { action finding { title } }
                  all: findings { action } } } } }",
            json!({ "t": test.0 }),
        )
        .await;
    let t = &d["node"];
    let findings = t["findings"]["nodes"].as_array().unwrap();
    assert_eq!(findings.len(), 5);
    let endpoints = findings[0]["endpoints"].as_array().unwrap();
    assert!(!endpoints.is_empty(), "{:#}", findings[0]);
    assert!(endpoints[0]["host"].is_string() && endpoints[0]["url"].is_string());
    let imports = t["imports"].as_array().unwrap();
    assert_eq!(imports.len(), 2, "{t:#}");
    assert_eq!(imports[0]["kind"], "REIMPORT");
    assert_eq!(imports[1]["kind"], "IMPORT");
    assert_eq!(imports[0]["fileName"], "0_zap_sample.xml");
    assert_eq!(imports[0]["user"]["username"], "tester");
    let s = &imports[0]["statistics"];
    assert_eq!(s["before"]["total"]["total"], 4);
    assert_eq!(s["delta"]["created"]["total"]["total"], 1);
    assert_eq!(s["delta"]["closed"]["total"]["total"], 1);
    assert_eq!(s["delta"]["untouched"]["total"]["total"], 3);
    assert_eq!(s["after"]["total"], json!({ "total": 5, "active": 4 }));
    assert_eq!(imports[0]["created"].as_array().unwrap().len(), 1);
    assert_eq!(
        imports[0]["all"].as_array().unwrap().len(),
        5,
        "1 created + 1 closed + 3 untouched"
    );
    assert_eq!(imports[1]["created"].as_array().unwrap().len(), 4);

    // A finding deleted since stays in the history, as null.
    let deleted = first.test.id;
    let mut c = app.sql().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "DELETE FROM findings WHERE id = (SELECT min(id) FROM findings WHERE test_id = {deleted})"
        )),
        &mut c,
    )
    .await
    .unwrap();
    let d = app
        .ok(
            "query($t: ID!) { node(id: $t) { ... on Test {
                imports { created: findings(action: CREATED) { action finding { title } } } } } }",
            json!({ "t": test.0 }),
        )
        .await;
    let created = d["node"]["imports"][1]["created"].as_array().unwrap();
    assert_eq!(created.len(), 4);
    assert_eq!(
        created[0]["finding"],
        serde_json::Value::Null,
        "{created:?}"
    );
    assert!(
        created[1..]
            .iter()
            .all(|c| c["finding"]["title"].is_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deduplication_can_be_switched_off() {
    use serde_json::json;
    let app = TestApp::new().await;
    let d = app
        .ok("{ systemSettings { enableDeduplication } }", json!({}))
        .await;
    assert_eq!(
        d["systemSettings"]["enableDeduplication"], true,
        "on by default"
    );
    app.ok(
        "mutation { updateSystemSettings(input: {enableDeduplication: false}) { systemSettings { enableDeduplication } } }",
        json!({}),
    )
    .await;
    let file = "zap/dvwa_baseline_dojo.xml";
    let one = import(&app, options(ZAP, file, "p", "e1"), file).await;
    import(&app, options(ZAP, file, "p", "e2"), file).await;
    assert_eq!(duplicates(&app, None, Some(one.product_id)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_findings_get_their_product_sla_deadline() {
    let app = TestApp::new().await;
    let r = import(
        &app,
        options(ZAP, "zap/0_zap_sample.xml", "sla", "ci"),
        "zap/0_zap_sample.xml",
    )
    .await;
    let rows = "SELECT f.id, f.severity, f.sla_expiration_date - f.date AS days \
                FROM findings f";
    let at_import = app.dump(rows).await;
    // The default configuration: 7/30/90/120 days, info has none.
    let days: Vec<serde_json::Value> = serde_json::from_str(&at_import).unwrap();
    assert!(!days.is_empty());
    for d in &days {
        let want = match d["severity"].as_str().unwrap() {
            "CRITICAL" => serde_json::json!(7),
            "HIGH" => serde_json::json!(30),
            "MEDIUM" => serde_json::json!(90),
            "LOW" => serde_json::json!(120),
            _ => serde_json::Value::Null,
        };
        assert_eq!(d["days"], want, "{d}");
    }
    // The bulk SQL form of the rule agrees with the deadlines computed at import.
    let mut c = app.sql().await;
    dojoql::db::finding::recompute_sla(&mut c, dojoql::db::finding::SlaScope::Test(r.test.id))
        .await
        .unwrap();
    assert_eq!(app.dump(rows).await, at_import);
}

/// A Generic Findings Import JSON report of `n` distinct findings, then `extra` ones.
/// Imports (or re-imports) a Generic Findings Import `report` into `engagement` of `product`,
/// as root.
async fn generic_into(
    app: &TestApp,
    product: &str,
    engagement: &str,
    report: Vec<u8>,
    reimport: bool,
) -> ImportResult {
    let mut o = options("Generic Findings Import", "r.json", product, engagement);
    o.file_name = Some("r.json".into());
    let done = if reimport {
        import::reimport_scan(&app.state.db, &app.root, o, report).await
    } else {
        import::import_scan(&app.state.db, &app.root, o, report).await
    };
    done.unwrap_or_else(|e| panic!("{}", e.message()))
}

fn generic_report(n: usize, extra: &[serde_json::Value]) -> Vec<u8> {
    let mut findings: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({"title": format!("Finding {i}"), "severity": "Medium",
                "description": format!("Issue number {i}"), "file_path": format!("src/f{}.rs", i % 7),
                "line": i + 1})
        })
        .collect();
    findings.extend(extra.iter().cloned());
    serde_json::to_vec(&serde_json::json!({"findings": findings})).unwrap()
}

/// Duplicates are decided before they are written, in report order as DefectDojo does one by
/// one: repeats inside a report point at its first copy, never at another duplicate, and go in
/// inactive and unverified; a second import points every finding at the first import's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_in_a_report_point_at_its_first_copy_and_never_at_a_duplicate() {
    let app = TestApp::new().await;
    let a = serde_json::json!({"title": "Same", "severity": "High", "description": "d",
        "file_path": "src/a.rs", "line": 1, "verified": true});
    let b = serde_json::json!({"title": "Other", "severity": "Low", "description": "d",
        "file_path": "src/b.rs", "line": 2, "verified": true});
    let report = generic_report(0, &[a.clone(), a.clone(), b, a]);
    for engagement in ["first", "second"] {
        generic_into(&app, "repeats", engagement, report.clone(), false).await;
    }
    let rows = app
        .dump("SELECT f.id, f.title, f.active, f.verified, f.duplicate_finding_id AS original FROM findings f ORDER BY f.id")
        .await;
    let rows: serde_json::Value = serde_json::from_str(&rows).unwrap();
    let row = |id: u32, title: &str, original: Option<u32>| {
        let original_ = original.is_none();
        serde_json::json!({"id": id, "title": title, "active": original_, "verified": original_,
            "original": original})
    };
    assert_eq!(
        rows,
        serde_json::json!([
            row(1, "Same", None),
            row(2, "Same", Some(1)),
            row(3, "Other", None),
            row(4, "Same", Some(1)),
            row(5, "Same", Some(1)),
            row(6, "Same", Some(1)),
            row(7, "Other", Some(3)),
            row(8, "Same", Some(1)),
        ])
    );
    assert_eq!(
        app.count("findings WHERE duplicate <> (duplicate_finding_id IS NOT NULL)")
            .await,
        0
    );
}

/// A re-import matches in DefectDojo's sorted order but creates what is new in the report's
/// order: findings keep the parser's order (ascending ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reimport_creates_new_findings_in_the_reports_order() {
    let app = TestApp::new().await;
    let finding = |title: &str| {
        serde_json::json!({"title": title, "severity": "Medium", "description": "d",
            "file_path": format!("src/{title}.rs"), "line": 1})
    };
    let first = generic_report(0, &[finding("kept")]);
    let titles = ["zeta", "alpha", "mu", "kept", "beta", "omega", "gamma"];
    let second = generic_report(0, &titles.map(finding));
    for (report, reimport) in [(first, false), (second, true)] {
        generic_into(&app, "order", "ci", report, reimport).await;
    }
    let rows = app.dump("SELECT id, title FROM findings").await;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).unwrap();
    let in_id_order: Vec<&str> = rows.iter().map(|r| r["title"].as_str().unwrap()).collect();
    assert_eq!(
        in_id_order,
        ["kept", "zeta", "alpha", "mu", "beta", "omega", "gamma"]
    );
}

/// Reports are stored chunk by chunk while the parser reads on (a chunk is 1,000 findings):
/// a finding in a later chunk is a duplicate of one in the first, and a report that breaks
/// after several chunks have been stored leaves nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_read_in_chunks_deduplicates_across_them_and_a_late_error_writes_nothing() {
    const GENERIC: &str = "Generic Findings Import";
    let app = TestApp::new().await;
    let mut o = options(GENERIC, "big.json", "chunks", "ci");
    o.file_name = Some("big.json".into());
    let again = serde_json::json!({"title": "Finding 3", "severity": "Medium",
        "description": "Issue number 3", "file_path": "src/f3.rs", "line": 4});
    let r = import::import_scan(&app.state.db, &app.root, o, generic_report(2_500, &[again]))
        .await
        .unwrap_or_else(|e| panic!("{}", e.message()));
    assert_eq!(delta(&r), (2_501, 0, 0, 0));
    assert_eq!(duplicates(&app, Some(r.test.id), None).await, 1);
    let pairs = app
        .dump(
            "SELECT d.id, d.title AS duplicate, o.title AS original, d.id > o.id AS later \
             FROM findings d JOIN findings o ON o.id = d.duplicate_finding_id",
        )
        .await;
    let pairs: Vec<serde_json::Value> = serde_json::from_str(&pairs).unwrap();
    assert_eq!(pairs.len(), 1, "{pairs:?}");
    assert_eq!(pairs[0]["duplicate"], "Finding 3");
    assert_eq!(pairs[0]["original"], "Finding 3");
    assert_eq!(pairs[0]["later"], true);

    let before = app.snapshot().await;
    let broken = serde_json::json!({"title": "Broken", "severity": "High", "cwe": "not a number"});
    let mut o = options(GENERIC, "big.json", "never created", "ci");
    o.file_name = Some("big.json".into());
    let e = import::import_scan(
        &app.state.db,
        &app.root,
        o,
        generic_report(2_500, &[broken]),
    )
    .await
    .expect_err("a broken report is refused");
    assert_eq!(e.code(), "PARSE_ERROR", "{}", e.message());
    assert!(e.message().contains("findings[2500]"), "{}", e.message());
    assert_eq!(
        app.snapshot().await,
        before,
        "nothing of the broken report is written"
    );
}

/// List columns travel as array literals: quotes, backslashes, commas, braces, blanks and the
/// word NULL come back as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_fields_keep_every_character() {
    let app = TestApp::new().await;
    let odd = [
        "a\"b",
        "back\\slash",
        "x,y",
        "{braces}",
        " spaced out ",
        "NULL",
        "ünï",
    ];
    let finding = serde_json::json!({"title": "Odd", "severity": "Low", "description": "d",
        "vulnerability_ids": odd, "tags": ["Tag\"One", "two,three"], "cwes": [79, 89]});
    generic_into(&app, "lists", "ci", generic_report(0, &[finding]), false).await;
    let rows = app
        .dump("SELECT id, vulnerability_ids, tags, cwes FROM findings")
        .await;
    let rows: serde_json::Value = serde_json::from_str(&rows).unwrap();
    assert_eq!(rows[0]["vulnerability_ids"], serde_json::json!(odd));
    assert_eq!(
        rows[0]["tags"],
        serde_json::json!(["tag\"one", "two,three"])
    );
    assert_eq!(rows[0]["cwes"], serde_json::json!([79, 89]));
}

/// New findings of a re-import are written a whole chunk at a time however the report mixes
/// them with known ones, still in the report's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reimport_mixing_new_and_known_findings_over_several_chunks_keeps_report_order() {
    let app = TestApp::new().await;
    let finding = |title: String| {
        serde_json::json!({"title": title, "severity": "Medium", "description": "d",
            "file_path": "src/x.rs", "line": 1})
    };
    let known: Vec<_> = (0..1_500)
        .map(|i| finding(format!("known {i:04}")))
        .collect();
    // 1,500 known and 1,500 new findings, alternating, over three chunks of the parser.
    let mixed: Vec<_> = (0..1_500)
        .flat_map(|i| {
            [
                finding(format!("new {i:04}")),
                finding(format!("known {i:04}")),
            ]
        })
        .collect();
    for (report, reimport) in [(known, false), (mixed, true)] {
        let r = generic_into(&app, "mixed", "ci", generic_report(0, &report), reimport).await;
        if reimport {
            assert_eq!(delta(&r), (1_500, 0, 0, 1_500));
        }
    }
    let rows = app
        .dump("SELECT id, title FROM findings WHERE title LIKE 'new %'")
        .await;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).unwrap();
    let titles: Vec<&str> = rows.iter().map(|r| r["title"].as_str().unwrap()).collect();
    let expected: Vec<String> = (0..1_500).map(|i| format!("new {i:04}")).collect();
    assert_eq!(titles, expected);
    assert_eq!(app.count("findings").await, 3_000);
}

/// A re-import keeps a matched finding's endpoints in step with the report: those still
/// reported stay open (or reopen), new ones are added, those the report no longer names are
/// mitigated by the importer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reimport_mitigates_the_endpoints_a_matched_finding_no_longer_has() {
    let app = TestApp::new().await;
    let finding = |endpoints: &[&str]| {
        serde_json::json!({"title": "Open port", "severity": "High", "description": "d",
            "file_path": "x", "line": 1, "endpoints": endpoints})
    };
    let first = generic_report(0, &[finding(&["https://a.example", "https://b.example"])]);
    let second = generic_report(0, &[finding(&["https://a.example", "https://c.example"])]);
    for (report, reimport) in [(first, false), (second, true)] {
        let r = generic_into(&app, "endpoints", "ci", report, reimport).await;
        if reimport {
            assert_eq!(delta(&r), (0, 0, 0, 1));
        }
    }
    let rows = app
        .dump(
            "SELECT n.id, n.host, s.mitigated, s.mitigated_by_id IS NOT NULL AS by_someone \
             FROM endpoint_status s JOIN endpoints n ON n.id = s.endpoint_id",
        )
        .await;
    let rows: Vec<serde_json::Value> = serde_json::from_str(&rows).unwrap();
    let state: Vec<(&str, bool, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["host"].as_str().unwrap(),
                r["mitigated"].as_bool().unwrap(),
                r["by_someone"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        state,
        [
            ("a.example", false, false),
            ("b.example", true, true),
            ("c.example", false, false)
        ]
    );
}

/// `finding_counts` (kept by triggers, read by `findingCounts`) against counting the active
/// findings, keyed by test and severity.
async fn assert_counters_match(app: &TestApp, stage: &str) {
    let kept = app
        .dump(
            "SELECT concat_ws('/', test_id, severity) AS id, product_id, engagement_id, active AS n \
             FROM finding_counts WHERE active <> 0",
        )
        .await;
    let counted = app
        .dump(
            "SELECT concat_ws('/', test_id, severity) AS id, product_id, engagement_id, count(*) AS n \
             FROM findings WHERE active GROUP BY test_id, severity, product_id, engagement_id",
        )
        .await;
    assert_eq!(kept, counted, "after {stage}");
    assert_ne!(counted, "[]", "after {stage}: nothing counted");
    // The per-product delta rows sum to the same counts.
    let summed = app
        .dump(
            "SELECT concat_ws('/', product_id, severity) AS id, sum(active)::bigint AS n \
             FROM product_finding_counts GROUP BY product_id, severity HAVING sum(active) <> 0",
        )
        .await;
    let counted = app
        .dump(
            "SELECT concat_ws('/', product_id, severity) AS id, count(*) AS n \
             FROM findings WHERE active GROUP BY product_id, severity",
        )
        .await;
    assert_eq!(summed, counted, "after {stage}: per-product counters");
}

/// The jobs round folds the per-product delta rows to one per product and severity, leaving
/// the sums as they were.
async fn compact_counters(app: &TestApp) {
    let loose = "(SELECT 1 FROM product_finding_counts GROUP BY product_id, severity \
                 HAVING count(*) > 1) loose";
    assert!(
        app.count(loose).await > 0,
        "writes append delta rows, so some product has several"
    );
    let round = dojoql::service::jobs::run_once(app.state.events.db(), dojoql::db::today())
        .await
        .unwrap();
    assert!(round.counters_compacted > 0, "{round:?}");
    assert_eq!(
        app.count(loose).await,
        0,
        "one row per product and severity"
    );
    assert_eq!(
        app.count("product_finding_counts WHERE active = 0").await,
        0
    );
    assert_counters_match(app, "compaction").await;
}

/// The counters hold after every kind of write: imports, duplicates (inactive), a re-import that
/// closes and one that reopens findings, edits of severity and status, and deletes of a finding,
/// a test and an engagement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_counters_match_counting_after_every_kind_of_write() {
    let app = TestApp::new().await;
    let high = serde_json::json!({"title": "H", "severity": "High", "description": "d",
        "file_path": "src/h.rs", "line": 1});
    let critical = serde_json::json!({"title": "C", "severity": "Critical", "description": "d",
        "file_path": "src/c.rs", "line": 2});
    let full = generic_report(30, &[high.clone(), critical.clone()]);
    let first = generic_into(&app, "counted", "e1", full.clone(), false).await;
    assert_counters_match(&app, "an import").await;
    let second = generic_into(&app, "counted", "e2", full.clone(), false).await;
    assert_counters_match(&app, "an import of duplicates").await;
    generic_into(&app, "counted", "e1", generic_report(20, &[high]), true).await;
    assert_counters_match(&app, "a re-import that closes findings").await;
    generic_into(&app, "counted", "e1", full, true).await;
    assert_counters_match(&app, "a re-import that reopens them").await;
    compact_counters(&app).await;

    let ids: Vec<i32> = {
        let rows = app
            .dump(&format!(
                "SELECT id FROM findings WHERE test_id = {} AND active",
                first.test.id.get()
            ))
            .await;
        serde_json::from_str::<Vec<serde_json::Value>>(&rows)
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap() as i32)
            .collect()
    };
    let gid = |id: i32| dojoql::domain::ids::encode_id(dojoql::domain::ids::FindingId::new(id));
    let update =
        "mutation($i: UpdateFindingInput!) { updateFinding(input: $i) { finding { id } } }";
    app.ok(
        update,
        json!({ "i": { "id": gid(ids[0]), "severity": "CRITICAL" } }),
    )
    .await;
    assert_counters_match(&app, "a new severity").await;
    app.ok(
        update,
        json!({ "i": { "id": gid(ids[1]), "active": false } }),
    )
    .await;
    assert_counters_match(&app, "a deactivation").await;
    app.ok(
        update,
        json!({ "i": { "id": gid(ids[2]), "isMitigated": true, "active": false } }),
    )
    .await;
    assert_counters_match(&app, "a mitigation").await;
    app.ok(
        "mutation($id: ID!) { deleteFinding(input: {id: $id}) { deletedId } }",
        json!({ "id": gid(ids[3]) }),
    )
    .await;
    assert_counters_match(&app, "a deleted finding").await;
    app.ok(
        "mutation($id: ID!) { deleteTest(input: {id: $id}) { deletedId } }",
        json!({ "id": dojoql::domain::ids::encode_id(second.test.id) }),
    )
    .await;
    assert_counters_match(&app, "a deleted test").await;
    // One more engagement with findings, so that something is left to count.
    generic_into(&app, "counted", "e3", generic_report(5, &[critical]), false).await;
    app.ok(
        "mutation($id: ID!) { deleteEngagement(input: {id: $id}) { deletedId } }",
        json!({ "id": dojoql::domain::ids::encode_id(first.engagement_id) }),
    )
    .await;
    assert_counters_match(&app, "a deleted engagement").await;
    compact_counters(&app).await;

    // totalCount of a list filtered only by activity, severity and place is such a sum.
    for (filter, condition) in [
        (json!({ "active": true }), "active"),
        (
            json!({ "active": true, "severity": ["HIGH", "CRITICAL"] }),
            "active AND severity IN ('HIGH', 'CRITICAL')",
        ),
        (json!({ "active": false }), "NOT active"),
    ] {
        let d = app
            .ok(
                "query($f: FindingFilter) { findings(filter: $f, first: 1) { totalCount } }",
                json!({ "f": filter }),
            )
            .await;
        let counted = app.count(&format!("findings WHERE {condition}")).await;
        assert!(counted > 0, "{condition}");
        assert_eq!(d["findings"]["totalCount"], counted, "{filter}");
    }
}
