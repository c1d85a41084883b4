//! Resolved settings (ripgrep's LowArgs -> HiArgs): the clap structs of [`super::args`] are
//! resolved once into validated values: the global [`Settings`] (paths, the repository root, output
//! styling) and one settings type per command ([`CommandSettings`]: plan, format, `--out`, the
//! usage source, AWS arguments, window). Commands receive these, never raw flags.

use super::analyze::UsageInputs;
use super::args::{
    AggregateFlags, AthenaPartitions, AwsManagedMode, Cli, ColorChoice, Command, Format,
};
use crate::usage::aggregate::sql::Partitions;
use crate::usage::aggregate::{AggregateSource, AthenaTable, parse_price_cents};
use crate::usage::aws::AwsArgs;
use crate::usage::gather::AggregateRequest;
use crate::usage::iam_policies::AwsManagedSource;
use anyhow::{Context, bail};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings shared by every command, resolved from global flags.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Terraform root module directory, canonical.
    pub root_module: PathBuf,
    /// The repository root: the git top level above the root module, else the root module itself.
    /// Nothing outside it is ever written.
    pub repo_root: PathBuf,
    /// Whether to color stdout.
    pub color: bool,
    /// -q.
    pub quiet: bool,
    /// -v count.
    pub verbose: u8,
}

impl Settings {
    /// Validates the global flags.
    pub fn resolve(cli: &Cli) -> anyhow::Result<Self> {
        let dir = &cli.chdir;
        if !dir.is_dir() {
            bail!(
                "--chdir {}: not a directory; give the Terraform root module's folder",
                dir.display()
            );
        }
        let root_module = dir
            .canonicalize()
            .with_context(|| format!("--chdir {}", dir.display()))?;
        let repo_root = find_repo_root(&root_module).unwrap_or_else(|| root_module.clone());
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        };
        Ok(Settings {
            root_module,
            repo_root,
            color,
            quiet: cli.quiet,
            verbose: cli.verbose,
        })
    }
}

fn find_repo_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// A command with its resolved settings.
#[derive(Debug)]
pub enum CommandSettings {
    /// `scan`.
    Scan(ScanSettings),
    /// `generate`.
    Generate(GenerateSettings),
    /// `suggest`.
    Suggest(SuggestSettings),
    /// `check`.
    Check(CheckSettings),
    /// `apply`.
    Apply(ApplySettings),
}

/// `scan`.
#[derive(Debug)]
pub struct ScanSettings {
    /// The plan (`-` for stdin).
    pub plan: PathBuf,
    /// The report format.
    pub format: Format,
}

/// `suggest`.
#[derive(Debug)]
pub struct SuggestSettings {
    /// The plan (`-` for stdin).
    pub plan: PathBuf,
    /// The report format.
    pub format: Format,
    /// Where patches and suggestion files go.
    pub out: OutDir,
    /// Compute and report, write nothing (the cache included).
    pub dry_run: bool,
    /// Where usage comes from.
    pub usage: UsageInputs,
}

/// `check`: the cache only.
#[derive(Debug)]
pub struct CheckSettings {
    /// The plan (`-` for stdin).
    pub plan: PathBuf,
    /// Findings only above this many unused actions per principal.
    pub max_unused: usize,
    /// The report format.
    pub format: Format,
}

/// `apply`.
#[derive(Debug)]
pub struct ApplySettings {
    /// Patch files, canonical; empty means every `iamtrim.patch` under the repository root.
    pub patches: Vec<PathBuf>,
}

/// `generate`.
#[derive(Debug)]
pub struct GenerateSettings {
    /// The plan whose existing principals to generate for.
    pub plan: Option<PathBuf>,
    /// Principal ARNs given with `--principal`.
    pub principals: Vec<String>,
    /// Days of history.
    pub window_days: u32,
    /// The AWS connection.
    pub aws: AwsArgs,
    /// Access Analyzer or an aggregate query.
    pub source: GenerateSource,
}

/// Where `generate` asks.
#[derive(Debug)]
pub enum GenerateSource {
    /// IAM Access Analyzer policy generation.
    AccessAnalyzer {
        /// The trail it reads.
        trail_arn: String,
        /// The role it assumes to read the trail.
        access_role_arn: String,
        /// Regions of the trail (empty: all).
        trail_regions: Vec<String>,
        /// Generations allowed per 24 hours.
        daily_quota: u32,
        /// Cancel recorded jobs instead of generating.
        cancel: bool,
        /// First wait between polls.
        first_poll: Duration,
    },
    /// One aggregate query (Athena, CloudTrail Lake).
    Aggregate(AggregateRequest),
}

/// Where `suggest` writes patches and suggestion files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutDir {
    /// Next to each module's files.
    BesideModules,
    /// Under this folder (`--out`), as given.
    Folder(PathBuf),
}

impl OutDir {
    /// The folder to write under, absolute: created (and made canonical) for a real run; a dry run
    /// writes nothing, so the folder is neither created nor required to exist. Called once the
    /// analysis is done, so a run that fails earlier leaves no folder behind.
    pub fn prepare(&self, dry_run: bool) -> anyhow::Result<Option<PathBuf>> {
        let OutDir::Folder(dir) = self else {
            return Ok(None);
        };
        let context = || format!("--out {}", dir.display());
        if dry_run {
            return Ok(Some(std::path::absolute(dir).with_context(context)?));
        }
        std::fs::create_dir_all(dir).with_context(context)?;
        Ok(Some(dir.canonicalize().with_context(context)?))
    }
}

impl CommandSettings {
    /// Validates and resolves the command's flags, in the order the commands used to check them.
    pub fn resolve(command: Command) -> anyhow::Result<Self> {
        Ok(match command {
            Command::Scan(a) => CommandSettings::Scan(ScanSettings {
                plan: a.plan,
                format: a.format,
            }),
            Command::Suggest(a) => {
                let aggregate = aggregate_request(&a.aggregate)?;
                CommandSettings::Suggest(SuggestSettings {
                    plan: a.plan,
                    format: a.format,
                    out: a.out.map_or(OutDir::BesideModules, OutDir::Folder),
                    dry_run: a.dry_run,
                    usage: UsageInputs {
                        cloudtrail: a.cloudtrail,
                        window_days: a.window_days,
                        aws: a.aws.to_aws_args(),
                        aws_managed: match a.aws_managed {
                            AwsManagedMode::Online => AwsManagedSource::Online,
                            AwsManagedMode::Snapshot => AwsManagedSource::Snapshot,
                            AwsManagedMode::Off => AwsManagedSource::Off,
                        },
                        aggregate,
                        write_cache: !a.dry_run,
                    },
                })
            }
            Command::Check(a) => CommandSettings::Check(CheckSettings {
                plan: a.plan,
                max_unused: a.max_unused,
                format: a.format,
            }),
            Command::Apply(a) => CommandSettings::Apply(ApplySettings {
                patches: a
                    .patches
                    .iter()
                    .map(|p| {
                        p.canonicalize()
                            .with_context(|| format!("{}: cannot read patch", p.display()))
                    })
                    .collect::<Result<_, _>>()?,
            }),
            Command::Generate(a) => {
                let source = match aggregate_request(&a.aggregate)? {
                    Some(query) => GenerateSource::Aggregate(query),
                    None => {
                        let (Some(trail_arn), Some(access_role_arn)) =
                            (a.trail_arn, a.access_role_arn)
                        else {
                            bail!(
                                "generate needs --trail-arn and --access-role-arn (Access Analyzer), or --athena / --cloudtrail-lake"
                            );
                        };
                        GenerateSource::AccessAnalyzer {
                            trail_arn,
                            access_role_arn,
                            trail_regions: a.trail_regions,
                            daily_quota: a.daily_quota,
                            cancel: a.cancel,
                            first_poll: Duration::from_millis(a.poll_ms.max(1)),
                        }
                    }
                };
                CommandSettings::Generate(GenerateSettings {
                    plan: a.plan,
                    principals: a.principal,
                    window_days: a.window_days,
                    aws: a.aws.to_aws_args(),
                    source,
                })
            }
        })
    }
}

/// `check`'s usage: the cache alone, and no AWS-managed replacements (replacing them is
/// `suggest`'s advice; `check` gates on editable policies).
pub fn check_usage() -> UsageInputs {
    UsageInputs {
        aws_managed: AwsManagedSource::Off,
        ..UsageInputs::default()
    }
}

/// Resolves the aggregate flags; `None` when neither `--athena` nor `--cloudtrail-lake` is given.
fn aggregate_request(flags: &AggregateFlags) -> anyhow::Result<Option<AggregateRequest>> {
    let price_per_tb_cents = parse_price_cents(&flags.price_per_tb).with_context(|| {
        format!(
            "--price-per-tb {:?}: expected US dollars such as 5 or 6.25",
            flags.price_per_tb
        )
    })?;
    let source = match (&flags.athena, &flags.cloudtrail_lake) {
        (Some(table), _) => {
            let (partitions, account_partition) = match flags.athena_partitions {
                AthenaPartitions::Projection => (Partitions::Projection, false),
                AthenaPartitions::OrgProjection => (Partitions::Projection, true),
                AthenaPartitions::Hive => (Partitions::Hive, false),
                AthenaPartitions::OrgHive => (Partitions::Hive, true),
                AthenaPartitions::None => (Partitions::None, false),
            };
            AggregateSource::Athena(AthenaTable {
                table: table.clone(),
                workgroup: flags.athena_workgroup.clone(),
                output: flags.athena_output.clone(),
                catalog: flags.athena_catalog.clone(),
                partitions,
                account_partition,
                regions: flags.athena_regions.clone(),
            })
        }
        (None, Some(store)) => AggregateSource::Lake {
            event_data_store: store.clone(),
        },
        (None, None) => return Ok(None),
    };
    Ok(Some(AggregateRequest {
        source,
        price_per_tb_cents,
    }))
}
