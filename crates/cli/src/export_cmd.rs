//! `appwarden export`: the plan in other systems' formats.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use export::{BlockedAnswer, DevicePlatform, Format, LogOnlyMode, Options, PatternFallback};

/// `appwarden export FORMAT [--group G] [-o FILE]`, `export all --dir DIR`, `export --list`.
#[derive(clap::Args)]
pub struct ExportArgs {
    /// Format name (see --list), or `all`.
    pub format: Option<String>,
    /// List the formats.
    #[arg(long)]
    pub list: bool,
    /// Policy group (default: the default group). With `all`: every group.
    #[arg(long)]
    pub group: Option<String>,
    /// Output file (default: standard output).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Output directory for `all` (writes GROUP/FORMAT.EXT files and manifest.json).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub org: crate::OrgArgs,
    /// Blocked answer: nxdomain, nodata, null-ip, or an address (block page).
    #[arg(long, default_value = "nxdomain")]
    pub answer: String,
    /// Log-only rules: native (where the format can log), omit, enforce.
    #[arg(long, default_value = "native")]
    pub log_only: String,
    /// Wildcard patterns where a format has none: comment (list and count) or widen (block the fixed suffix).
    #[arg(long, default_value = "comment")]
    pub patterns: String,
    /// TTL of written DNS records.
    #[arg(long, default_value_t = 300)]
    pub ttl: u32,
    /// Serial of the RPZ zone currently loaded (the new one will be larger).
    #[arg(long)]
    pub previous_serial: Option<u32>,
    /// Intune platform: ios or android.
    #[arg(long, default_value = "ios")]
    pub platform: String,
    /// Apple / AMAPI: allow-list mode (only the group's sandbox apps).
    #[arg(long)]
    pub allow_list: bool,
    /// Apple: also write the deprecated pre-iOS-15 keys.
    #[arg(long)]
    pub legacy_keys: bool,
}

fn options(a: &ExportArgs) -> Result<Options> {
    let answer = match a.answer.as_str() {
        "nxdomain" => BlockedAnswer::Nxdomain,
        "nodata" => BlockedAnswer::Nodata,
        "null-ip" => BlockedAnswer::NullIp,
        ip => match ip.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(v4)) => BlockedAnswer::Ip { v4, v6: None },
            _ => bail!("--answer: nxdomain, nodata, null-ip or an IPv4 address, not `{ip}`"),
        },
    };
    let mut o = Options {
        answer,
        ..Options::default()
    };
    o.log_only = match a.log_only.as_str() {
        "native" => LogOnlyMode::Native,
        "omit" => LogOnlyMode::Omit,
        "enforce" => LogOnlyMode::Enforce,
        x => bail!("--log-only: native, omit or enforce, not `{x}`"),
    };
    o.patterns = match a.patterns.as_str() {
        "comment" => PatternFallback::Comment,
        "widen" => PatternFallback::Widen,
        x => bail!("--patterns: comment or widen, not `{x}`"),
    };
    o.platform = match a.platform.as_str() {
        "ios" => DevicePlatform::Ios,
        "android" => DevicePlatform::Android,
        x => bail!("--platform: ios or android, not `{x}`"),
    };
    o.ttl = a.ttl;
    o.previous_serial = a.previous_serial;
    o.apple.allow_list = a.allow_list;
    o.apple.legacy_keys = a.legacy_keys;
    o.amapi.allow_list = a.allow_list;
    Ok(o)
}

/// Runs the command.
pub fn run(a: &ExportArgs, out: &mut impl Write) -> Result<()> {
    if a.list || a.format.is_none() {
        for f in Format::ALL.iter().copied() {
            writeln!(
                out,
                "{:<20} {:<8} {}",
                f.name(),
                if f.is_device_format() { "device" } else { "network" },
                f.description()
            )?;
        }
        return Ok(());
    }
    let (policy, as_of) = crate::load_policy(&a.org)?;
    let plan = policy.plan(as_of);
    let opts = options(a)?;
    let name = a.format.as_deref().unwrap_or_default();
    if name == "all" {
        let dir = a.dir.clone().context("export all needs --dir DIR")?;
        let manifest = export::render_all(&plan, &opts)?;
        for art in &manifest.files {
            let path = dir.join(&art.path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(&path, &art.bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        let mpath = dir.join("manifest.json");
        std::fs::write(&mpath, manifest.to_json()?).with_context(|| format!("writing {}", mpath.display()))?;
        writeln!(out, "wrote {} files and {}", manifest.files.len(), mpath.display())?;
        return Ok(());
    }
    let format = Format::from_name(name)?;
    let group = match &a.group {
        Some(g) => g.clone(),
        None => export::default_group(&plan)?.to_string(),
    };
    let bytes = export::render(&plan, format, &group, &opts)?;
    match &a.output {
        Some(p) => std::fs::write(p, &bytes).with_context(|| format!("writing {}", p.display()))?,
        None => out.write_all(&bytes)?,
    }
    Ok(())
}
