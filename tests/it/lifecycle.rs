//! Rules that exist in two forms, Rust and SQL, computed both ways for a table of cases against
//! Postgres (the overdue rule, the SLA deadline), and the engagement copy's column lists checked
//! against the schema, so that a new column cannot silently be left out of a copy.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use diesel::{
    QueryableByName,
    sql_types::{Date, Integer, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use dojoql::{
    db::{
        copy, engagement,
        finding::{SlaScope, recompute_sla},
        sql::Sql,
    },
    domain::{EngagementStatus, EngagementType, Severity, engagement::is_overdue, sla::SlaPolicy},
};

use crate::helpers::TestApp;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Integer)]
    id: i32,
}

/// Runs an `INSERT … RETURNING id` written by the test (values inlined).
async fn insert(c: &mut AsyncPgConnection, statement: &str) -> i32 {
    diesel::sql_query(statement)
        .get_result::<Id>(c)
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"))
        .id
}

/// A product (with a new product type) on SLA configuration `sla`, with one engagement and one
/// test: (product, engagement, test).
async fn hierarchy(c: &mut AsyncPgConnection, name: &str, sla: i32) -> (i32, i32, i32) {
    let pt = insert(
        c,
        &format!("INSERT INTO product_types (name) VALUES ('{name}') RETURNING id"),
    )
    .await;
    let product = insert(
        c,
        &format!(
            "INSERT INTO products (name, description, product_type_id, sla_configuration_id) \
             VALUES ('{name}', 'd', {pt}, {sla}) RETURNING id"
        ),
    )
    .await;
    let engagement = insert(
        c,
        &format!(
            "INSERT INTO engagements (product_id, name, target_start, target_end) \
             VALUES ({product}, 'E', '2026-01-01', '2026-01-02') RETURNING id"
        ),
    )
    .await;
    let test = insert(
        c,
        &format!(
            "INSERT INTO tests (engagement_id, product_id, test_type_id, target_start, target_end) \
             VALUES ({engagement}, {product}, (SELECT min(id) FROM test_types), '2026-01-01', '2026-01-02') \
             RETURNING id"
        ),
    )
    .await;
    (product, engagement, test)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_deadlines_in_sql_match_the_rust_rule() {
    let app = TestApp::new().await;
    let mut c = app.sql().await;
    // (days, enforced) for critical, high, medium, low.
    let policies: [[(i32, bool); 4]; 3] = [
        [(7, true), (30, true), (90, true), (120, true)],
        [(1, false), (365, true), (45, true), (2, false)],
        [(10, false), (20, false), (30, false), (40, false)],
    ];
    let dates = ["2024-02-28", "2024-02-29", "2026-01-31", "2026-12-31"];
    let starts = [None, Some("2025-02-28"), Some("2023-12-31")];
    let mut expected = HashMap::new();
    for (n, days) in policies.iter().enumerate() {
        let [critical, high, medium, low] = *days;
        let sla = insert(
            &mut c,
            &format!(
                "INSERT INTO sla_configurations (name, critical, high, medium, low, \
                 enforce_critical, enforce_high, enforce_medium, enforce_low) \
                 VALUES ('Policy {n}', {}, {}, {}, {}, {}, {}, {}, {}) RETURNING id",
                critical.0, high.0, medium.0, low.0, critical.1, high.1, medium.1, low.1
            ),
        )
        .await;
        let policy = SlaPolicy {
            critical: critical.1.then_some(critical.0),
            high: high.1.then_some(high.0),
            medium: medium.1.then_some(medium.0),
            low: low.1.then_some(low.0),
        };
        let (product, engagement, test) = hierarchy(&mut c, &format!("P{n}"), sla).await;
        for severity in Severity::ALL {
            for date in dates {
                for start in starts {
                    let id = insert(
                        &mut c,
                        &format!(
                            "INSERT INTO findings (test_id, engagement_id, product_id, title, \
                             description, severity, numerical_severity, date, sla_start_date) \
                             VALUES ({test}, {engagement}, {product}, 't', 'd', '{}', '{}', \
                             '{date}', {}) RETURNING id",
                            severity.as_str(),
                            severity.numerical(),
                            start.map_or("NULL".to_string(), |s| format!("'{s}'")),
                        ),
                    )
                    .await;
                    let rust = policy.expiration(*severity, day(date), start.map(day));
                    expected.insert(id, (rust, format!("{days:?} {severity} {date} {start:?}")));
                }
            }
        }
        recompute_sla(&mut c, SlaScope::Product(product.into()))
            .await
            .unwrap();
    }

    #[derive(QueryableByName)]
    struct Deadline {
        #[diesel(sql_type = Integer)]
        id: i32,
        #[diesel(sql_type = Nullable<Date>)]
        sla_expiration_date: Option<NaiveDate>,
    }
    let rows: Vec<Deadline> = diesel::sql_query("SELECT id, sla_expiration_date FROM findings")
        .load(&mut c)
        .await
        .unwrap();
    assert_eq!(rows.len(), expected.len());
    assert!(rows.iter().any(|r| r.sla_expiration_date.is_some()));
    assert!(rows.iter().any(|r| r.sla_expiration_date.is_none()));
    for row in rows {
        let (rust, case) = &expected[&row.id];
        assert_eq!(&row.sla_expiration_date, rust, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_in_sql_matches_the_rust_rule() {
    let app = TestApp::new().await;
    let mut c = app.sql().await;
    let (product, first, _) = hierarchy(&mut c, "P", 1).await;
    let base = day("2026-03-20");
    let mut rows = vec![(
        first,
        EngagementStatus::NotStarted,
        EngagementType::Interactive,
        day("2026-01-02"),
    )];
    for status in EngagementStatus::ALL {
        for kind in EngagementType::ALL {
            for offset in [-12i64, -11, -10, -9, -1, 0, 1] {
                let end = base + chrono::Duration::days(offset);
                let id = insert(
                    &mut c,
                    &format!(
                        "INSERT INTO engagements (product_id, name, target_start, target_end, \
                         status, engagement_type) VALUES ({product}, '{status} {kind} {offset}', \
                         '2026-01-01', '{end}', '{status}', '{kind}') RETURNING id"
                    ),
                )
                .await;
                rows.push((id, *status, *kind, end));
            }
        }
    }
    for today in [base, base + chrono::Duration::days(5), day("2027-01-01")] {
        let mut sql = Sql::new("SELECT t.id FROM engagements t WHERE t.product_id = ");
        sql.bind::<Integer, _>(product).push(" AND ");
        engagement::push_overdue(&mut sql, "t.", today);
        let in_sql: HashSet<i32> = sql
            .build()
            .load::<Id>(&mut c)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        let in_rust: HashSet<i32> = rows
            .iter()
            .filter(|(_, status, kind, end)| is_overdue(*status, *kind, *end, today))
            .map(|(id, ..)| *id)
            .collect();
        assert!(!in_rust.is_empty(), "{today}");
        assert_eq!(in_sql, in_rust, "{today}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engagement_copy_writes_or_defaults_every_column() {
    let app = TestApp::new().await;
    let mut c = app.sql().await;
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        column_name: String,
    }
    for table in copy::TABLES {
        let in_schema: BTreeSet<String> = diesel::sql_query(
            "SELECT column_name::text AS column_name FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1",
        )
        .bind::<Text, _>(table.table)
        .load::<Column>(&mut c)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.column_name)
        .collect();
        assert!(!in_schema.is_empty(), "{}", table.table);
        let listed: Vec<&str> = [table.remapped, table.copied, table.defaulted].concat();
        let in_copy: BTreeSet<String> = listed.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            in_copy.len(),
            listed.len(),
            "{}: a column is listed twice",
            table.table
        );
        assert_eq!(
            in_copy, in_schema,
            "{}: every column must be copied, remapped or defaulted by db::copy",
            table.table
        );
    }
}
