//! The `harbor-deploy` command: render a Harbor installation from harbor.yml and deploy it.

mod compose;
mod disk;
mod engine;
mod migrate;
mod prepare;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Stand up Harbor from one harbor.yml.
#[derive(Parser)]
#[command(name = "harbor-deploy", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render docker-compose.yml, common/config and the data volume's secrets.
    Prepare(PrepareArgs),
    /// Check a harbor.yml and print every problem.
    Validate(ValidateArgs),
    /// Create the internal-TLS CA and component certificates in a directory.
    Gencert(GencertArgs),
    /// Upgrade an older harbor.yml (schema 1.9 or later) or a harbor.cfg to a release's schema.
    Migrate(MigrateArgs),
    /// Render, then bring the engine to the bundle: create, recreate or keep each container
    /// and wait until all are healthy.
    Up(engine::UpArgs),
    /// Show what `up` would create, recreate or remove, without touching the engine.
    Plan(engine::UpArgs),
    /// List the project's services with state, health, image and ports.
    Status(engine::StatusArgs),
    /// Remove the project's containers and network; keep the data unless --purge --yes.
    Down(engine::DownArgs),
}

/// Inputs shared by the commands that render.
#[derive(Args, Clone)]
pub struct RenderArgs {
    /// The harbor.yml; without it the built-in default configuration is used.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Hostname for the built-in default configuration (default: this machine's name).
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    pub hostname: Option<String>,
    /// Prefix for every absolute host path harbor.yml names (the data volume included).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Deploy the Trivy scanner too.
    #[arg(long)]
    pub with_trivy: bool,
    /// The Harbor release to render for.
    #[arg(long, value_name = "VERSION")]
    pub harbor_version: Option<String>,
    /// Apply HARBOR__* variables (and the setupwrapper's old names) from the environment on top
    /// of the configuration; see docs/environment.md.
    #[arg(long)]
    pub env: bool,
    /// With --env, read only HARBOR__* variables and ignore the setupwrapper's old names.
    #[arg(long, requires = "env")]
    pub env_prefix_only: bool,
}

#[derive(Args)]
struct PrepareArgs {
    #[command(flatten)]
    render: RenderArgs,
    /// The installer directory for docker-compose.yml and common/config (default: the config
    /// file's directory, or the current directory for the built-in default).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: Option<PathBuf>,
    /// A 32-byte seed for a first run; later runs use the seed stored in the data volume.
    #[arg(long, value_name = "FILE")]
    seed_file: Option<PathBuf>,
    /// The time certificates start from, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
}

#[derive(Args)]
struct ValidateArgs {
    #[command(flatten)]
    render: RenderArgs,
    /// The time certificates are checked at, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
}

#[derive(Args)]
struct GencertArgs {
    /// The directory to write the CA and the pairs into (below --root).
    #[arg(long, short = 'p', value_name = "DIR")]
    path: PathBuf,
    /// Validity of the certificates in days.
    #[arg(long, default_value_t = harbor_prep::pki::GENCERT_DEFAULT_DAYS)]
    days: u32,
    /// Prefix for absolute paths, as for prepare.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// A 32-byte seed to derive the keys from (default: the data volume's seed when
    /// `<root>/data/secret/keys/seed` exists, else fresh randomness).
    #[arg(long, value_name = "FILE")]
    seed_file: Option<PathBuf>,
    /// Replace files that already exist.
    #[arg(long)]
    force: bool,
    /// The time certificates start from, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
}

#[derive(Args)]
struct MigrateArgs {
    /// The harbor.yml (or harbor.cfg) to migrate.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: PathBuf,
    /// The release to migrate to (default: the newest supported).
    #[arg(long, value_name = "VERSION")]
    to: Option<String>,
    /// Write the migrated file here; without it only the diff is printed.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// Allow --out to name the input file itself.
    #[arg(long)]
    in_place: bool,
}

/// A problem with what the user gave (a flag, a file's contents), as opposed to the machine:
/// exits 2, like a configuration that does not validate.
#[derive(Debug)]
pub struct InputError(String);

impl InputError {
    /// An input error with its message.
    pub fn new(message: impl Into<String>) -> InputError {
        InputError(message.into())
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn main() -> ExitCode {
    // directories this tool creates are never writable by others, whatever the caller's umask
    let umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    rustix::process::umask(umask | rustix::fs::Mode::from_raw_mode(0o022));

    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(a) => prepare::prepare(&a.render, a.out, a.seed_file, a.now),
        Command::Validate(a) => prepare::validate(&a.render, a.now),
        Command::Gencert(a) => {
            prepare::gencert(&a.path, a.days, &a.root, a.seed_file, a.force, a.now)
        }
        Command::Up(a) => engine::up(&a),
        Command::Plan(a) => engine::plan(&a),
        Command::Status(a) => engine::status(&a),
        Command::Down(a) => engine::down(&a),
        Command::Migrate(a) => migrate::run(&a.config, a.to.as_deref(), a.out, a.in_place),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<InputError>().is_some() => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
