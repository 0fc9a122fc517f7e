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
        Command::Serve { demo } => {
            dojoql::telemetry::init();
            let config = dojoql::config::Config::from_env()?;
            tracing::info!(?config, "starting");
            dojoql::app::serve(config, demo).await
        }
    }
}
