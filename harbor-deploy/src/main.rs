//! The `harbor-deploy` command: render a Harbor installation from harbor.yml and deploy it.

mod migrate;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use harbor_deploy::{
    Action, Error, ErrorKind, GencertOptions, PrepareOptions, RenderOptions, UpOptions,
};

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
    Up(UpArgs),
    /// Show what `up` would create, recreate or remove, writing nothing to disk or engine.
    Plan(PlanArgs),
    /// List the project's services with state, health, image and ports.
    Status(StatusArgs),
    /// Remove the project's containers and network; keep the data unless --purge --yes.
    Down(DownArgs),
}

/// Inputs shared by the commands that render.
#[derive(Args, Clone)]
struct RenderArgs {
    /// The harbor.yml; without it the built-in default configuration is used.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Hostname for the built-in default configuration (default: this machine's name).
    #[arg(long, value_name = "NAME", conflicts_with = "config")]
    hostname: Option<String>,
    /// Prefix for every absolute host path harbor.yml names (the data volume included);
    /// prepare and validate only, as up and plan deploy the paths as they are.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Deploy the Trivy scanner too.
    #[arg(long)]
    with_trivy: bool,
    /// The Harbor release to render for.
    #[arg(long, value_name = "VERSION")]
    harbor_version: Option<String>,
    /// Apply HARBOR__* variables (and the setupwrapper's old names) from the environment on top
    /// of the configuration; see docs/environment.md.
    #[arg(long)]
    env: bool,
    /// With --env, read only HARBOR__* variables and ignore the setupwrapper's old names.
    #[arg(long, requires = "env")]
    env_prefix_only: bool,
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
    /// The directory to write the CA and the pairs into: an absolute one below --root, a relative one below the current directory.
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

impl RenderArgs {
    fn options(&self) -> RenderOptions {
        RenderOptions {
            config: self.config.clone(),
            hostname: self.hostname.clone(),
            root: self.root.clone(),
            with_trivy: self.with_trivy,
            harbor_version: self.harbor_version.clone(),
            env: self.env,
            env_prefix_only: self.env_prefix_only,
        }
    }
}

/// Inputs of `up` and `plan`.
#[derive(Args, Clone)]
struct UpArgs {
    #[command(flatten)]
    render: RenderArgs,
    /// The installer directory (default: the config file's directory, or the current one).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: Option<PathBuf>,
    /// Project name: the network's name and the label of every container.
    #[arg(long, value_name = "NAME", default_value = "harbor")]
    project: String,
    /// Prefix every image reference with a registry or namespace, e.g. `mirror.example/`.
    #[arg(long, value_name = "P", conflicts_with = "images")]
    image_prefix: Option<String>,
    /// A YAML map from service name to image reference, overriding the compose file's.
    #[arg(long, value_name = "FILE")]
    images: Option<PathBuf>,
    /// Seconds to wait for every container to be healthy.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    timeout: u64,
    /// Publish every port on 127.0.0.1 only (for tests and single-host setups behind a proxy).
    #[arg(long)]
    publish_loopback: bool,
    /// Add this to every published host port that the compose file binds on all interfaces.
    #[arg(long, value_name = "N", default_value_t = 0)]
    port_offset: u16,
}

/// Inputs of `plan`.
#[derive(Args, Clone)]
struct PlanArgs {
    #[command(flatten)]
    up: UpArgs,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

impl UpArgs {
    fn options(&self) -> UpOptions {
        UpOptions {
            render: self.render.options(),
            out: self.out.clone(),
            project: self.project.clone(),
            image_prefix: self.image_prefix.clone(),
            images: self.images.clone(),
            timeout: std::time::Duration::from_secs(self.timeout),
            publish_loopback: self.publish_loopback,
            port_offset: self.port_offset,
            // Ctrl-C ends the command; a later up carries on from what it did
            cancel: None,
        }
    }
}

/// Inputs of `status`.
#[derive(Args)]
struct StatusArgs {
    /// Project name.
    #[arg(long, value_name = "NAME", default_value = "harbor")]
    project: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Inputs of `down`.
#[derive(Args)]
struct DownArgs {
    /// Project name.
    #[arg(long, value_name = "NAME", default_value = "harbor")]
    project: String,
    /// Also delete the data volume's contents and the rendered secrets (needs --yes).
    #[arg(long)]
    purge: bool,
    /// Confirm --purge.
    #[arg(long, requires = "purge")]
    yes: bool,
    /// With --purge: the harbor.yml of an installation to purge even when none of its
    /// containers is left.
    #[arg(long, short = 'c', value_name = "FILE", requires = "purge")]
    config: Option<PathBuf>,
    /// With --config: the installer directory, when up was given one.
    #[arg(long, short = 'o', value_name = "DIR", requires = "config")]
    out: Option<PathBuf>,
}

fn now(arg: Option<&str>) -> Result<Option<i64>, Error> {
    arg.map(harbor_deploy::parse_now).transpose()
}

fn print_warnings(warnings: &[String]) {
    for w in warnings {
        progress::print_warning(w);
    }
}

fn validate(args: &ValidateArgs) -> Result<(), Error> {
    let v = harbor_deploy::validate(&args.render.options(), now(args.now.as_deref())?)?;
    print_warnings(&v.warnings);
    println!("{}: valid for harbor {}", v.name, v.release);
    Ok(())
}

fn prepare(args: &PrepareArgs) -> Result<(), Error> {
    let p = harbor_deploy::prepare(&PrepareOptions {
        render: args.render.options(),
        out: args.out.clone(),
        seed_file: args.seed_file.clone(),
        now: now(args.now.as_deref())?,
    })?;
    print_warnings(&p.warnings);
    if !p.owners_set {
        eprintln!(
            "warning: not running as root, so files keep your user as owner; Harbor's \
             containers need the owners upstream uses (10000, 999), so run prepare as root \
             before deploying"
        );
    }
    println!(
        "prepared harbor {} for {}: {} file(s) written, {} unchanged; installer in {}, data in {}",
        p.release,
        p.hostname,
        p.changed.len(),
        p.unchanged,
        p.out.display(),
        p.data.display()
    );
    Ok(())
}

fn gencert(a: &GencertArgs) -> Result<(), Error> {
    let g = harbor_deploy::gencert(&GencertOptions {
        path: a.path.clone(),
        days: a.days,
        root: a.root.clone(),
        seed_file: a.seed_file.clone(),
        force: a.force,
        now: now(a.now.as_deref())?,
    })?;
    println!(
        "wrote the internal TLS CA and {} file(s) to {}, valid {} day(s)",
        g.files.len(),
        g.dir.display(),
        a.days
    );
    Ok(())
}

fn plan(args: &PlanArgs) -> Result<(), Error> {
    let plan = harbor_deploy::plan(&args.up.options())?;
    if args.json {
        let steps: Vec<serde_json::Value> = plan
            .steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "service": s.service,
                    "container": s.container,
                    "action": s.action.as_str(),
                    "reason": s.reason,
                })
            })
            .collect();
        let files: Vec<String> = plan.files.iter().map(|f| f.display().to_string()).collect();
        let doc = serde_json::json!({
            "project": plan.project,
            "changed": plan.changed,
            "steps": steps,
            "files": files,
            "warnings": plan.warnings,
        });
        println!("{doc:#}");
        return Ok(());
    }
    print_warnings(&plan.warnings);
    for s in &plan.steps {
        println!("{}: {} ({})", s.service, s.action.as_str(), s.reason);
    }
    for f in &plan.files {
        println!("file {}: write", f.display());
    }
    if !plan.changed {
        println!("project {}: nothing to change", plan.project);
    }
    Ok(())
}

fn up(args: &UpArgs) -> Result<(), Error> {
    let mut display = progress::Display::new();
    let result = harbor_deploy::up(&args.options(), &mut |p| display.show(p));
    display.finish();
    // the warnings were shown as they came, above the progress
    let report = result?;

    let kept = report.steps.iter().all(|s| s.action == Action::Keep);
    if kept {
        println!(
            "project {}: nothing changed; {} container(s) untouched and healthy",
            report.project,
            report.steps.len()
        );
    } else {
        let running = report
            .steps
            .iter()
            .filter(|s| s.action != Action::Remove)
            .count();
        println!(
            "project {}: {running} container(s) healthy after {:.1}s",
            report.project,
            report.elapsed.as_secs_f64()
        );
    }
    Ok(())
}

fn status(args: &StatusArgs) -> Result<(), Error> {
    let rows = harbor_deploy::status(&args.project)?;
    if args.json {
        let text = serde_json::to_string_pretty(&rows)
            .map_err(|e| Error::new(ErrorKind::Other, format!("cannot format json: {e}")))?;
        println!("{text}");
    } else if rows.is_empty() {
        println!("project {}: no containers", args.project);
    } else {
        println!(
            "{:<14} {:<18} {:<8} {:<10} {:<40} PORTS",
            "SERVICE", "CONTAINER", "STATE", "HEALTH", "IMAGE"
        );
        for r in &rows {
            println!(
                "{:<14} {:<18} {:<8} {:<10} {:<40} {}",
                r.service,
                r.container,
                r.state,
                r.health,
                r.image,
                r.ports.join(",")
            );
        }
    }
    Ok(())
}

fn down(args: &DownArgs) -> Result<(), Error> {
    if args.purge && !args.yes {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "--purge deletes the data volume and the secrets; add --yes to confirm",
        ));
    }
    let report = harbor_deploy::down_with(&harbor_deploy::DownOptions::naming(
        &args.project,
        args.purge,
        args.config.clone(),
        args.out.clone(),
    ))?;
    if report.removed.is_empty()
        && !report.network_removed
        && report.purged.is_empty()
        && report.kept.is_empty()
    {
        println!("project {}: nothing to take down", report.project);
        return Ok(());
    }
    for s in &report.removed {
        println!("{s}: removed");
    }
    if report.network_removed {
        println!("network {}: removed", report.project);
    }
    if args.purge {
        for p in &report.purged {
            println!("purged {}", p.display());
        }
        for p in &report.kept {
            println!(
                "kept {}: it was there before harbor-deploy made the installation; delete it \
                 yourself if it holds nothing else",
                p.display()
            );
        }
    } else {
        println!("project {}: down; the data volume is kept", report.project);
    }
    Ok(())
}

fn main() -> ExitCode {
    // directories this tool creates are never writable by others, whatever the caller's umask
    let umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
    rustix::process::umask(umask | rustix::fs::Mode::from_raw_mode(0o022));

    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(a) => prepare(&a),
        Command::Validate(a) => validate(&a),
        Command::Gencert(a) => gencert(&a),
        Command::Up(a) => up(&a),
        Command::Plan(a) => plan(&a),
        Command::Status(a) => status(&a),
        Command::Down(a) => down(&a),
        Command::Migrate(a) => {
            return match migrate::run(&a.config, a.to.as_deref(), a.out, a.in_place) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(e.kind().exit_code())
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == ErrorKind::InvalidConfig => {
            eprintln!("{e}");
            ExitCode::from(e.kind().exit_code())
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.kind().exit_code())
        }
    }
}
