//! The `dojoql` binary: `serve [--demo]`, `migrate`, `export-schema`.

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
        Command::Serve { demo } => {
            dojoql::telemetry::init();
            let config = dojoql::config::Config::from_env()?;
            tracing::info!(?config, "starting");
            dojoql::app::serve(config, demo).await
        }
    }
}
