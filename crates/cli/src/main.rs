//! The `appwarden` binary: parses flags, loads configuration, calls the
//! crates, prints. Exit codes: 0 success, 1 the input has problems (a
//! validation failed), 2 usage error or an operational failure.

#![forbid(unsafe_code)]

mod alerting;
mod alerts_cmd;
mod api;
mod export_cmd;
mod follow;
mod monitor_agg;
mod monitor_cmd;
mod render;
mod scan_cmd;
mod serve;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use catalog::{Catalog, Day, LoadError};
use clap::{Parser, Subcommand, ValueEnum};
use policy::{Policy, PolicyError, PolicyFile};

#[derive(Parser)]
#[command(
    name = "appwarden",
    version,
    about = "Decide about risky consumer apps and make the decision hold: on the network, on devices, in the logs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// What is known about apps: operators, identifiers, network footprint, incidents, restrictions.
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// The risk register: score, level and decision per app for this organisation, with evidence.
    Assess(AssessArgs),
    /// The organisation's policy file (appwarden.toml) and the EnforcementPlan compiled from it.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// The bundled risk profiles.
    #[command(subcommand)]
    Profile(ProfileCmd),
    /// Run appwarden: the filtering DNS resolver enforcing the policy, with its query log.
    Serve(serve::ServeArgs),
    /// Run only the filtering DNS resolver.
    Dns(serve::ServeArgs),
    /// The plan as files for DNS servers, firewalls, proxies, IDS and MDMs.
    Export(Box<export_cmd::ExportArgs>),
    /// Read the organisation's own logs for use of banned apps and bypass attempts.
    #[command(subcommand)]
    Monitor(monitor_cmd::MonitorCmd),
    /// Static analysis of an APK / XAPK / APKS / IPA, and the app's assessment with that evidence.
    Scan(scan_cmd::ScanArgs),
    /// The alert store: list, show and acknowledge alerts.
    #[command(subcommand)]
    Alerts(alerts_cmd::AlertsCmd),
}

#[derive(Subcommand)]
enum CatalogCmd {
    /// List apps (and bypass methods).
    List {
        /// Only apps in this category.
        #[arg(long)]
        category: Option<String>,
        /// Only apps or only bypass methods.
        #[arg(long, value_enum)]
        kind: Option<KindArg>,
        /// A catalog overlay directory on top of the bundled catalog.
        #[arg(long)]
        overlay: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Everything known about one app, with sources.
    Show {
        /// App id, name or identifier (package, bundle id, store id).
        app: String,
        /// A catalog overlay directory on top of the bundled catalog.
        #[arg(long)]
        overlay: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ShowFormat::Text)]
        format: ShowFormat,
    },
    /// Check the bundled catalog, or an overlay directory on top of it.
    Validate {
        /// Overlay directory to check (default: only the bundled catalog).
        dir: Option<PathBuf>,
        /// Check DIR as a complete catalog on its own, not as an overlay.
        #[arg(long, requires = "dir")]
        standalone: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    App,
    Bypass,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum ListFormat {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum ShowFormat {
    Text,
    Json,
}

/// Output format of assessments.
#[derive(Clone, Copy, ValueEnum, PartialEq)]
pub(crate) enum Format {
    Table,
    Json,
    Markdown,
}

#[derive(clap::Args)]
pub(crate) struct OrgArgs {
    /// Policy file; its organisation, profile, overlay and exceptions are used.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Risk profile: defense-contractor, government, bank, hospital, school, retail, media-agency, or a .toml file.
    #[arg(long, short = 'p')]
    profile: Option<String>,
    /// Organisation jurisdiction (ISO 3166: US, US-TX, DE, GB, …); overrides the policy file's.
    #[arg(long)]
    jurisdiction: Option<String>,
    /// Organisation sector (repeatable): government, government-contractor, finance, health, …; overrides the policy file's.
    #[arg(long = "sector")]
    sectors: Vec<String>,
    /// A catalog overlay directory; overrides the policy file's.
    #[arg(long)]
    overlay: Option<PathBuf>,
    /// Assess as of this day (YYYY-MM-DD); default today (UTC).
    #[arg(long, value_parser = parse_day)]
    as_of: Option<Day>,
}

#[derive(clap::Args)]
struct AssessArgs {
    /// Apps to assess (id, name or identifier); default every app in the catalog.
    apps: Vec<String>,
    #[command(flatten)]
    org: OrgArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Merge the static analysis of this package (.apk, .xapk, .apks, .ipa) of APP into its assessment (repeatable).
    #[arg(long = "with-scan", value_name = "FILE")]
    with_scan: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Write a commented appwarden.toml to start from.
    Init {
        /// Risk profile for the organisation.
        #[arg(long, short = 'p')]
        profile: String,
        /// Organisation name.
        #[arg(long, default_value = "Example organisation")]
        name: String,
        /// Organisation jurisdiction (ISO 3166).
        #[arg(long, default_value = "US")]
        jurisdiction: String,
        /// Organisation sector (repeatable).
        #[arg(long = "sector")]
        sectors: Vec<String>,
        /// Where to write it (`-` for standard output).
        #[arg(long, short = 'o', default_value = "appwarden.toml")]
        output: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Validate a policy file; every problem names file, line and field.
    Check {
        /// Policy file.
        #[arg(long, short = 'c', default_value = "appwarden.toml")]
        config: PathBuf,
    },
    /// Print the EnforcementPlan the resolver, the exports and the monitor consume.
    Plan {
        #[command(flatten)]
        org: OrgArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Summary)]
        format: PlanFormat,
    },
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum PlanFormat {
    Summary,
    Json,
}

#[derive(Subcommand)]
enum ProfileCmd {
    /// List the bundled profiles with their weights and thresholds.
    List,
    /// Print a profile as TOML (a starting point for your own).
    Show {
        /// Profile id.
        id: String,
    },
}

fn parse_day(s: &str) -> Result<Day, String> {
    s.parse()
}

/// Input problems (exit 1), as opposed to operational failures (exit 2).
#[derive(Debug)]
struct Problems;

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("problems found")
    }
}

impl std::error::Error for Problems {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Problems>() => ExitCode::from(1),
        Err(e) => {
            // a closed pipe (`| head`) is not an error worth a message
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("appwarden: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Catalog(cmd) => catalog_cmd(cmd, &mut out),
        Command::Assess(args) if !args.with_scan.is_empty() => scan_cmd::assess(&args, &mut out),
        Command::Assess(args) => {
            let (policy, as_of) = load_policy(&args.org)?;
            let register = policy.register(&args.apps, as_of).map_err(anyhow::Error::msg)?;
            let detailed = !args.apps.is_empty();
            render::assessments(&mut out, &register, &policy, args.format, detailed)?;
            Ok(())
        }
        Command::Policy(cmd) => policy_cmd(cmd, &mut out),
        Command::Profile(ProfileCmd::List) => {
            let profiles: Vec<risk::Profile> = risk::Profile::bundled_ids()
                .map(risk::Profile::bundled)
                .collect::<Result<_, _>>()?;
            render::profiles(&mut out, &profiles)?;
            Ok(())
        }
        Command::Serve(args) | Command::Dns(args) => serve::run(&args),
        Command::Export(args) => export_cmd::run(&args, &mut out),
        Command::Monitor(cmd) => monitor_cmd::run(&cmd, &mut out),
        Command::Scan(args) => scan_cmd::run(&args, &mut out),
        Command::Alerts(cmd) => alerts_cmd::run(&cmd, &mut out),
        Command::Profile(ProfileCmd::Show { id }) => {
            let (_, text) = risk::profile_source(&id).ok_or_else(|| anyhow::anyhow!("no bundled profile `{id}`"))?;
            out.write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

/// Prints diagnostics and turns them into [`Problems`].
fn report(diags: &[catalog::Diagnostic]) -> anyhow::Error {
    let mut err = std::io::stderr().lock();
    for d in diags {
        let _ = writeln!(err, "{d}");
    }
    let _ = writeln!(err, "{} problem(s)", diags.len());
    Problems.into()
}

fn load_catalog(overlay: Option<&Path>) -> Result<Catalog> {
    match Catalog::load(overlay) {
        Ok(c) => Ok(c),
        Err(LoadError::Invalid(d)) => Err(report(&d)),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn policy_error(e: PolicyError) -> anyhow::Error {
    match e {
        PolicyError::Invalid(d) | PolicyError::Catalog(LoadError::Invalid(d)) => report(&d),
        other => other.into(),
    }
}

pub(crate) fn load_policy(args: &OrgArgs) -> Result<(Policy, Day)> {
    let as_of = args.as_of.unwrap_or_else(Day::today_utc);
    let (mut file, name, text, base) = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let file: PolicyFile = match toml::from_str(&text) {
                Ok(f) => f,
                Err(_) => {
                    // let the policy crate produce the located diagnostic
                    return Err(policy_error(
                        Policy::parse(&text, &path.display().to_string(), path.parent(), None)
                            .err()
                            .ok_or_else(|| anyhow::anyhow!("unparsable policy"))?,
                    ));
                }
            };
            (
                file,
                path.display().to_string(),
                text,
                path.parent().map(Path::to_path_buf),
            )
        }
        None => (
            PolicyFile::default_policy(),
            "<builtin default>".to_string(),
            String::new(),
            None,
        ),
    };
    if let Some(p) = &args.profile {
        file.organisation.profile = p.clone();
    }
    if let Some(j) = &args.jurisdiction {
        file.organisation.jurisdiction = j.clone();
    }
    if !args.sectors.is_empty() {
        file.organisation.sectors = args.sectors.clone();
    }
    let policy =
        Policy::from_parts(file, name, &text, base.as_deref(), args.overlay.as_deref()).map_err(policy_error)?;
    Ok((policy, as_of))
}

fn catalog_cmd(cmd: CatalogCmd, out: &mut impl Write) -> Result<()> {
    match cmd {
        CatalogCmd::List {
            category,
            kind,
            overlay,
            format,
        } => {
            let cat = load_catalog(overlay.as_deref())?;
            if let Some(c) = &category
                && !cat.categories.contains_key(c)
            {
                bail!(
                    "unknown category `{c}`; categories: {}",
                    cat.categories.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            }
            let apps: Vec<&catalog::App> = cat
                .apps
                .values()
                .filter(|a| category.as_ref().is_none_or(|c| a.categories.contains(c)))
                .filter(|a| match kind {
                    None => true,
                    Some(KindArg::App) => a.kind == catalog::AppKind::App,
                    Some(KindArg::Bypass) => a.kind == catalog::AppKind::Bypass,
                })
                .collect();
            if format == ListFormat::Json {
                serde_json::to_writer_pretty(&mut *out, &apps)?;
                writeln!(out)?;
            } else {
                render::catalog_list(out, &cat, &apps)?;
            }
            Ok(())
        }
        CatalogCmd::Show { app, overlay, format } => {
            let cat = load_catalog(overlay.as_deref())?;
            let a = cat
                .find(&app)
                .ok_or_else(|| anyhow::anyhow!("no app `{app}` in the catalog (try `appwarden catalog list`)"))?;
            if format == ShowFormat::Json {
                serde_json::to_writer_pretty(&mut *out, a)?;
                writeln!(out)?;
            } else {
                render::catalog_show(out, &cat, a)?;
            }
            Ok(())
        }
        CatalogCmd::Validate { dir, standalone } => {
            let result = match (&dir, standalone) {
                (Some(d), true) => Catalog::load_standalone(d),
                (d, _) => Catalog::load(d.as_deref()),
            };
            match result {
                Ok(cat) => {
                    let apps = cat.apps.values().filter(|a| a.kind == catalog::AppKind::App).count();
                    let domains: usize = cat
                        .apps
                        .values()
                        .flat_map(|a| &a.network)
                        .map(|n| n.domains.len() + n.exact.len() + n.cname_targets.len() + n.patterns.len())
                        .sum();
                    writeln!(
                        out,
                        "ok: {} files, {} apps, {} bypass entries, {} operators, {} restrictions, {} sources, {} network names (snapshot {})",
                        cat.snapshot.files,
                        apps,
                        cat.apps.len() - apps,
                        cat.operators.len(),
                        cat.restrictions.len(),
                        cat.sources.len(),
                        domains,
                        cat.snapshot.short()
                    )?;
                    Ok(())
                }
                Err(LoadError::Invalid(d)) => Err(report(&d)),
                Err(e) => Err(e.into()),
            }
        }
    }
}

fn policy_cmd(cmd: PolicyCmd, out: &mut impl Write) -> Result<()> {
    match cmd {
        PolicyCmd::Init {
            profile,
            name,
            jurisdiction,
            sectors,
            output,
            force,
        } => {
            let p = risk::Profile::resolve(&profile)?;
            let text = policy::init_template(&p, &name, &jurisdiction, &sectors, Day::today_utc());
            // what we write must itself pass `policy check`
            Policy::parse(&text, "<template>", None, None).map_err(policy_error)?;
            if output.as_os_str() == "-" {
                out.write_all(text.as_bytes())?;
            } else {
                if output.exists() && !force {
                    bail!("{} exists; use --force to overwrite", output.display());
                }
                std::fs::write(&output, text).with_context(|| format!("writing {}", output.display()))?;
                writeln!(
                    out,
                    "wrote {} (profile {}); check it with `appwarden policy check -c {}`",
                    output.display(),
                    p.id,
                    output.display()
                )?;
            }
            Ok(())
        }
        PolicyCmd::Check { config } => {
            let policy = Policy::load(&config, None).map_err(policy_error)?;
            writeln!(
                out,
                "ok: {} — organisation {:?}, profile {} {}, {} group(s), {} override(s), {} exception(s), catalog {}",
                config.display(),
                policy.file.organisation.name,
                policy.profile.id,
                policy.profile.version,
                policy.groups.len(),
                policy.file.overrides.len(),
                policy.file.exceptions.len(),
                policy.catalog.snapshot.short()
            )?;
            Ok(())
        }
        PolicyCmd::Plan { org, format } => {
            let (policy, as_of) = load_policy(&org)?;
            let plan = policy.plan(as_of);
            match format {
                PlanFormat::Json => {
                    serde_json::to_writer_pretty(&mut *out, &plan)?;
                    writeln!(out)?;
                }
                PlanFormat::Summary => render::plan_summary(out, &plan)?,
            }
            Ok(())
        }
    }
}
