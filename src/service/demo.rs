//! Demo data for `dojoql serve --demo`: 2 product types, 4 products, 12 engagements in several
//! statuses, 24 tests and 312 findings of every severity, with notes. Loaded in one transaction,
//! only into a database that has no product types yet.

use chrono::{Days, NaiveDate, Utc};
use diesel::{QueryDsl, dsl::count_star};
use diesel_async::RunQueryDsl;

use crate::{
    db::{
        Db, DbError,
        attachment::Attachment,
        engagement::{EngagementChanges, NewEngagement},
        finding::FindingFields,
        lookup::TestTypeByName,
        note::NewNote,
        product, product_type,
        schema::product_types,
        test::NewTest,
        user,
    },
    domain::{
        EngagementStatus, EngagementType, Severity,
        finding_status::StatusChange,
        ids::{
            ApiTokenId, DevelopmentEnvironmentId, ProductId, ProductTypeId, SlaConfigurationId,
            TestTypeId, UserId,
        },
    },
    service::lifecycle::{
        attachment,
        engagement::{self, create_in as create_engagement},
        finding,
        test::{self, CreateTest},
    },
};

/// A small deterministic pseudo-random sequence (so every demo database looks the same).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const WEAKNESSES: &[(&str, i32, &str)] = &[
    (
        "SQL Injection",
        89,
        "User input reaches a SQL statement without parameterization.",
    ),
    (
        "Cross-Site Scripting (Reflected)",
        79,
        "Request parameters are echoed into HTML without encoding.",
    ),
    (
        "Server-Side Request Forgery",
        918,
        "The server fetches URLs supplied by the client.",
    ),
    (
        "Hard-coded Credentials",
        798,
        "A secret is committed to the repository.",
    ),
    (
        "Outdated TLS Configuration",
        326,
        "TLS 1.0 and weak ciphers are enabled.",
    ),
    (
        "Missing Security Headers",
        693,
        "Content-Security-Policy and HSTS are not set.",
    ),
    (
        "Insecure Deserialization",
        502,
        "Untrusted data is deserialized into objects.",
    ),
    (
        "Path Traversal",
        22,
        "File names from requests are joined to a base directory unchecked.",
    ),
    (
        "Vulnerable Dependency",
        1104,
        "A third-party component has a known CVE.",
    ),
    (
        "Verbose Error Messages",
        209,
        "Stack traces are returned to clients.",
    ),
    (
        "Open Redirect",
        601,
        "A redirect target is taken from a query parameter.",
    ),
    (
        "Weak Password Hashing",
        916,
        "Passwords are hashed with unsalted SHA-1.",
    ),
    (
        "Information Disclosure",
        200,
        "Internal version numbers are exposed in headers.",
    ),
];

const STATUSES: [EngagementStatus; 12] = [
    EngagementStatus::InProgress,
    EngagementStatus::Completed,
    EngagementStatus::NotStarted,
    EngagementStatus::InProgress,
    EngagementStatus::Blocked,
    EngagementStatus::Scheduled,
    EngagementStatus::OnHold,
    EngagementStatus::Completed,
    EngagementStatus::WaitingForResource,
    EngagementStatus::InProgress,
    EngagementStatus::Cancelled,
    EngagementStatus::InProgress,
];

/// Loads the demo data unless product types already exist; returns whether it loaded.
pub async fn load(db: &Db) -> anyhow::Result<bool> {
    let loaded = db
        .write(|c| {
            Box::pin(async move {
                let existing: i64 = product_types::table
                    .select(count_star())
                    .get_result(c)
                    .await?;
                if existing > 0 {
                    return Ok(false);
                }
                seed(c).await?;
                Ok(true)
            })
        })
        .await?;
    Ok(loaded)
}

fn day(today: NaiveDate, offset: i64) -> NaiveDate {
    if offset >= 0 {
        today + Days::new(offset as u64)
    } else {
        today - Days::new((-offset) as u64)
    }
}

async fn seed(c: &mut diesel_async::AsyncPgConnection) -> Result<(), DbError> {
    let today = Utc::now().date_naive();
    let mut rng = Lcg(42);
    let mut people = Vec::new();
    for (name, first, last) in [
        ("alice", "Alice", "Archer"),
        ("bob", "Bob", "Baker"),
        ("carol", "Carol", "Chen"),
    ] {
        people.push(
            user::create(
                c,
                user::NewUser {
                    username: name.into(),
                    email: Some(format!("{name}@example.com")),
                    first_name: Some(first.into()),
                    last_name: Some(last.into()),
                    is_superuser: false,
                },
            )
            .await?
            .id,
        );
    }
    let types = [
        ("Web Applications", "Customer-facing web properties.", true),
        (
            "Mobile & Infrastructure",
            "Apps and the platforms under them.",
            false,
        ),
    ];
    let products = [
        (
            0,
            "Shop Frontend",
            "The storefront single-page app.",
            vec!["pci", "web"],
        ),
        (
            0,
            "Payments API",
            "Card and wallet payments service.",
            vec!["pci", "api"],
        ),
        (
            1,
            "Mobile App",
            "iOS and Android shopping app.",
            vec!["mobile"],
        ),
        (
            1,
            "Core Network",
            "Edge routers, VPN and DNS.",
            vec!["infra"],
        ),
    ];
    let mut type_ids = Vec::new();
    for (name, description, critical) in types {
        let row = product_type::create(
            c,
            product_type::NewProductType {
                name: name.into(),
                description: Some(description.into()),
                critical_product: critical,
                key_product: !critical,
            },
        )
        .await?;
        type_ids.push(row.id);
    }
    let mut engagement_no = 0usize;
    for (p, (type_index, name, description, tags)) in products.into_iter().enumerate() {
        let product = product::create(
            c,
            product::NewProduct {
                name: name.into(),
                description: description.into(),
                product_type_id: type_ids[type_index],
                sla_configuration_id: SlaConfigurationId::new(1),
                product_manager_id: Some(people[p % 3]),
                technical_contact_id: Some(people[(p + 1) % 3]),
                team_manager_id: None,
                business_criticality: None,
                platform: None,
                lifecycle: None,
                origin: None,
                user_records: Some(10_000 * (p as i64 + 1)),
                revenue: None,
                external_audience: p != 3,
                internet_accessible: p != 3,
                regulations: if p < 2 {
                    vec!["PCI DSS".into()]
                } else {
                    Vec::new()
                },
                technologies: serde_json::json!([{ "name": "Rust", "version": "1.95" }]),
                tags: tags.into_iter().map(String::from).collect(),
                enable_simple_risk_acceptance: false,
                enable_full_risk_acceptance: true,
                disable_sla_breach_notifications: false,
            },
        )
        .await?;
        for e in 0..3 {
            let status = STATUSES[engagement_no];
            let kind = if e == 0 {
                EngagementType::CiCd
            } else {
                EngagementType::Interactive
            };
            let start = day(today, -120 + 30 * e as i64 + 7 * p as i64);
            let end = day(start, if engagement_no % 4 == 3 { 20 } else { 150 });
            let eng = create_engagement(
                c,
                NewEngagement {
                    product_id: product.id,
                    name: match e {
                        0 => "CI pipeline".to_string(),
                        1 => format!("Q{} pentest", 1 + p % 4),
                        _ => "Architecture review".to_string(),
                    },
                    description: Some(format!("Demo engagement {} of {name}.", e + 1)),
                    version: Some(format!("{}.{}.0", 1 + p, e)),
                    first_contacted: None,
                    target_start: start,
                    target_end: end,
                    lead_id: Some(people[engagement_no % 3]),
                    reason: None,
                    tracker: None,
                    test_strategy: None,
                    source_code_management_uri: Some(format!(
                        "https://git.example.com/{}",
                        name.to_lowercase().replace(' ', "-")
                    )),
                    engagement_type: kind,
                    status: EngagementStatus::InProgress,
                    active: true,
                    done_testing: false,
                    build_id: (kind == EngagementType::CiCd)
                        .then(|| format!("build-{}", 100 + engagement_no)),
                    commit_hash: None,
                    branch_tag: (kind == EngagementType::CiCd).then(|| "main".to_string()),
                    environment_id: Some(DevelopmentEnvironmentId::new(
                        1 + (engagement_no % 3) as i32,
                    )),
                    deduplication_on_engagement: false,
                    tags: Vec::new(),
                },
            )
            .await?;
            for t in 0..2 {
                let test_type = [
                    "Static Check",
                    "Pen Test",
                    "Web Application Test",
                    "Manual Code Review",
                ][(engagement_no + t) % 4];
                let test_row = test::create_in(
                    c,
                    CreateTest {
                        test: NewTest {
                            engagement_id: eng.id,
                            product_id: ProductId::new(0),
                            test_type_id: TestTypeId::new(0),
                            lead_id: Some(people[(engagement_no + t) % 3]),
                            scan_type: None,
                            title: Some(format!("{test_type} #{}", t + 1)),
                            description: None,
                            target_start: start,
                            target_end: day(start, 5),
                            percent_complete: Some(100),
                            environment_id: None,
                            version: None,
                            build_id: None,
                            commit_hash: None,
                            branch_tag: None,
                            tags: Vec::new(),
                        },
                        test_type: test_type.into(),
                    },
                    TestTypeByName::CreateMissing,
                )
                .await?;
                for f in 0..13 {
                    let (title, cwe, description) =
                        WEAKNESSES[(f + engagement_no + t) % WEAKNESSES.len()];
                    let severity = Severity::ALL[(f + t + p) % 5];
                    let roll = rng.next(100);
                    let status = StatusChange {
                        verified: Some(roll < 40),
                        is_mitigated: Some((40..55).contains(&roll)),
                        false_p: Some((55..60).contains(&roll)),
                        out_of_scope: Some(roll == 60),
                        ..StatusChange::default()
                    };
                    let found = finding::create_in(
                        c,
                        test_row.id,
                        FindingFields {
                            title: title.into(),
                            description: description.into(),
                            severity: Some(severity),
                            date: Some(day(start, rng.next(30) as i64)),
                            mitigation: Some("See the remediation guide.".into()),
                            cwe: Some(cwe),
                            vulnerability_ids: if cwe == 1104 {
                                vec![format!("CVE-2025-{}", 10_000 + rng.next(9_000))]
                            } else {
                                Vec::new()
                            },
                            file_path: (t == 0).then(|| format!("src/module_{}.rs", f % 5)),
                            line: (t == 0).then(|| 10 + rng.next(400) as i32),
                            component_name: (cwe == 1104).then(|| "openssl".to_string()),
                            component_version: (cwe == 1104).then(|| "1.1.1".to_string()),
                            reporter_id: Some(people[f % 3]),
                            ..FindingFields::default()
                        },
                        status,
                    )
                    .await?;
                    if f == 0 {
                        attachment::add_note_in(
                            c,
                            NewNote {
                                on: Attachment::Finding(found.id),
                                entry: "Confirmed manually; ticket filed.".into(),
                                private: false,
                                author_id: Some(people[0]),
                            },
                        )
                        .await?;
                    }
                }
            }
            attachment::add_note_in(
                c,
                NewNote {
                    on: Attachment::Engagement(eng.id),
                    entry: format!("Kick-off with the {name} team done."),
                    private: false,
                    author_id: Some(people[engagement_no % 3]),
                },
            )
            .await?;
            match status {
                EngagementStatus::Completed => {
                    engagement::set_open_in(c, eng.id, false).await?;
                }
                EngagementStatus::InProgress => {}
                other => {
                    engagement::update_in(
                        c,
                        eng.id,
                        EngagementChanges {
                            status: Some(other),
                            ..Default::default()
                        },
                    )
                    .await?;
                }
            }
            engagement_no += 1;
        }
    }
    Ok(())
}

/// A demo login printed at start-up.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub username: String,
    /// What the user may do, in words.
    pub access: String,
    pub token: String,
}

/// The demo users: `admin` (superuser) and one user per role on the "Web Applications" product
/// type. Created when missing; on every start their earlier demo tokens are revoked and fresh
/// ones issued (tokens are stored hashed, so they can only be shown when created).
pub async fn logins(db: &Db) -> anyhow::Result<Vec<DemoLogin>> {
    use crate::{
        auth,
        db::{
            api_token,
            membership::{Member, On},
            schema::{api_tokens, product_types as pt, users},
        },
        domain::Role,
        service::access::{self, Grant},
    };
    use diesel::{ExpressionMethods, OptionalExtension};

    const TOKEN_NAME: &str = "demo";
    let accounts: Vec<(&str, Option<Role>)> = vec![
        ("admin", None),
        ("reader", Some(Role::Reader)),
        ("api_importer", Some(Role::ApiImporter)),
        ("writer", Some(Role::Writer)),
        ("maintainer", Some(Role::Maintainer)),
        ("owner", Some(Role::Owner)),
    ];
    let mut tokens = Vec::new();
    for _ in &accounts {
        tokens.push(auth::generate_token().map_err(|e| anyhow::anyhow!("no randomness: {e}"))?);
    }
    let issued = tokens.clone();
    let logins = db
        .write(move |c| {
            Box::pin(async move {
                let web: Option<ProductTypeId> = pt::table
                    .filter(pt::name.eq("Web Applications"))
                    .select(pt::id)
                    .first(c)
                    .await
                    .optional()?;
                let mut out = Vec::new();
                for ((name, role), token) in accounts.into_iter().zip(issued) {
                    let existing: Option<UserId> = users::table
                        .filter(users::username.eq(name))
                        .select(users::id)
                        .first(c)
                        .await
                        .optional()?;
                    let id = match existing {
                        Some(id) => id,
                        None => {
                            let id = user::create(
                                c,
                                user::NewUser {
                                    username: name.into(),
                                    email: Some(format!("{name}@demo.invalid")),
                                    first_name: None,
                                    last_name: None,
                                    is_superuser: role.is_none(),
                                },
                            )
                            .await?
                            .id;
                            if let (Some(role), Some(web)) = (role, web) {
                                let on = On::ProductType(web);
                                let member = Member::User(id);
                                access::grant_as_system(c, Grant { on, member, role }).await?;
                            }
                            id
                        }
                    };
                    // The previous demo token goes, with every token created through it.
                    let previous: Vec<ApiTokenId> = api_tokens::table
                        .filter(api_tokens::user_id.eq(id))
                        .filter(api_tokens::name.eq(TOKEN_NAME))
                        .filter(api_tokens::revoked_at.is_null())
                        .select(api_tokens::id)
                        .load(c)
                        .await?;
                    if !previous.is_empty() {
                        access::revoke_tokens_as_system(c, &previous).await?;
                    }
                    api_token::create(
                        c,
                        api_token::NewApiToken {
                            user_id: id,
                            name: TOKEN_NAME.into(),
                            token_hash: auth::hash_token(&token),
                            expires_at: None,
                            created_by_token_id: None,
                        },
                    )
                    .await?;
                    out.push(DemoLogin {
                        username: name.into(),
                        access: match role {
                            None => "superuser".into(),
                            Some(r) => format!("{r} on product type \"Web Applications\""),
                        },
                        token,
                    });
                }
                Ok(out)
            })
        })
        .await?;
    Ok(logins)
}
