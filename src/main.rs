//! The `dojoql` binary: `serve [--demo]`, `migrate`, `export-schema`, `create-user`, `import`.

use clap::{Parser, Subcommand};

/// mimalloc: the GraphQL executor allocates many small objects per field, and glibc malloc's
/// arena locks showed up as a quarter of the CPU profile under concurrent load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "dojoql",
    version,
    about = "GraphQL server for application-security programs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database and serve the API (GraphiQL at `/`).
    Serve {
        /// Load demo data when the database has none.
        #[arg(long)]
        demo: bool,
    },
    /// Run pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to stdout.
    ExportSchema,
    /// Create a user with an API token; the token is printed alone on the last line.
    CreateUser {
        username: String,
        /// Make the user a superuser (may do everything).
        #[arg(long)]
        superuser: bool,
        #[arg(long)]
        email: Option<String>,
    },
    /// Upload a scanner report to a dojoql (or DefectDojo) server, as a CI step would:
    /// `dojoql import --url https://dojo --token … --scan-type "Trivy Scan" --file report.json
    /// --product shop --engagement ci --auto-create [--reimport]`. Prints the statistics.
    Import(Box<ImportArgs>),
}

/// The arguments of `dojoql import` (DefectDojo's import-scan fields).
#[derive(clap::Args)]
struct ImportArgs {
    /// The server's base URL.
    #[arg(long, env = "DOJOQL_URL")]
    url: String,
    /// An API token.
    #[arg(long, env = "DOJOQL_TOKEN", hide_env_values = true)]
    token: String,
    /// The scan type as DefectDojo names it ("Trivy Scan", "SARIF", "ZAP Scan", …).
    #[arg(long)]
    scan_type: String,
    /// The report.
    #[arg(long)]
    file: std::path::PathBuf,
    #[arg(long)]
    product_type: Option<String>,
    #[arg(long)]
    product: Option<String>,
    #[arg(long)]
    engagement: Option<String>,
    /// Target an engagement by id instead of by names.
    #[arg(long)]
    engagement_id: Option<i32>,
    /// Re-import into this test (by id).
    #[arg(long)]
    test_id: Option<i32>,
    #[arg(long)]
    test_title: Option<String>,
    /// Create the product type, product and engagement when they do not exist.
    #[arg(long)]
    auto_create: bool,
    /// Re-import into the latest test of this scan type (or `--test-id`).
    #[arg(long)]
    reimport: bool,
    /// Info, Low, Medium, High or Critical.
    #[arg(long)]
    minimum_severity: Option<String>,
    #[arg(long)]
    active: Option<bool>,
    #[arg(long)]
    verified: Option<bool>,
    /// YYYY-MM-DD.
    #[arg(long)]
    scan_date: Option<String>,
    #[arg(long)]
    close_old_findings: Option<bool>,
    #[arg(long)]
    do_not_reactivate: bool,
    #[arg(long)]
    version: Option<String>,
    #[arg(long)]
    build_id: Option<String>,
    #[arg(long)]
    branch_tag: Option<String>,
    #[arg(long)]
    commit_hash: Option<String>,
    #[arg(long)]
    service: Option<String>,
    #[arg(long)]
    environment: Option<String>,
    /// A tag of the test (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Print the server's whole JSON answer instead of a summary.
    #[arg(long)]
    json: bool,
}

impl ImportArgs {
    fn command(self) -> (dojoql::app::client::ImportCommand, bool) {
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut add = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                fields.push((name.to_string(), v));
            }
        };
        add("product_type_name", self.product_type);
        add("product_name", self.product);
        add("engagement_name", self.engagement);
        add("engagement", self.engagement_id.map(|i| i.to_string()));
        add("test", self.test_id.map(|i| i.to_string()));
        add("test_title", self.test_title);
        add(
            "auto_create_context",
            self.auto_create.then(|| "true".into()),
        );
        add("minimum_severity", self.minimum_severity);
        add("active", self.active.map(|b| b.to_string()));
        add("verified", self.verified.map(|b| b.to_string()));
        add("scan_date", self.scan_date);
        add(
            "close_old_findings",
            self.close_old_findings.map(|b| b.to_string()),
        );
        add(
            "do_not_reactivate",
            self.do_not_reactivate.then(|| "true".into()),
        );
        add("version", self.version);
        add("build_id", self.build_id);
        add("branch_tag", self.branch_tag);
        add("commit_hash", self.commit_hash);
        add("service", self.service);
        add("environment", self.environment);
        for tag in self.tags {
            add("tags", Some(tag));
        }
        (
            dojoql::app::client::ImportCommand {
                url: self.url,
                token: self.token,
                scan_type: self.scan_type,
                file: self.file,
                reimport: self.reimport,
                fields,
            },
            self.json,
        )
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::ExportSchema => {
            print!("{}", dojoql::graphql::sdl());
            Ok(())
        }
        Command::Migrate => {
            dojoql::telemetry::init();
            let config = dojoql::config::Config::from_env()?;
            dojoql::db::ensure_database(&config.database_url).await?;
            let ran = dojoql::db::migrate(&config.database_url).await?;
            tracing::info!(migrations = ran, "database migrated");
            Ok(())
        }
        Command::CreateUser {
            username,
            superuser,
            email,
        } => {
            dojoql::telemetry::init();
            let config = dojoql::config::Config::from_env()?;
            dojoql::db::ensure_database(&config.database_url).await?;
            dojoql::db::migrate(&config.database_url).await?;
            let state = dojoql::app::AppState::new(config)?;
            let username = dojoql::domain::clean_name("username", &username, 150)
                .map_err(|e| anyhow::anyhow!(e.0))?;
            let new = dojoql::db::user::NewUser {
                username,
                email,
                first_name: None,
                last_name: None,
                is_superuser: superuser,
            };
            let (user, token) = dojoql::auth::create_user_with_token(&state.db, new, "cli").await?;
            println!(
                "created {}user {} (id {}); its API token (shown once):",
                if user.is_superuser { "super" } else { "" },
                user.username,
                user.id
            );
            println!("{token}");
            Ok(())
        }
        Command::Import(args) => {
            let (command, json) = args.command();
            let answer =
                tokio::task::spawn_blocking(move || dojoql::app::client::run(&command)).await??;
            if json {
                println!("{}", serde_json::to_string_pretty(&answer)?);
            } else {
                print!("{}", dojoql::app::client::summary(&answer));
            }
            Ok(())
        }
        Command::Serve { demo } => {
            dojoql::telemetry::init();
            let config = dojoql::config::Config::from_env()?;
            tracing::info!(?config, "starting");
            dojoql::app::serve(config, demo).await
        }
    }
}
