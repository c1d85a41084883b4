//! Raw command-line arguments (clap derive). Validation and resolution happen in [`super::settings`].

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// AWS IAM least privilege for Terraform.
///
/// Finds every IAM role, user and group in a `terraform show -json` plan with the policies that reach it,
/// learns what each principal really used, and suggests a smaller policy as a patch to your own `.tf` files.
#[derive(Debug, Parser)]
#[command(
    name = "iamtrim",
    version,
    propagate_version = true,
    max_term_width = 110
)]
#[command(
    after_help = "Example:\n  terraform plan -out=tfplan && terraform show -json tfplan > plan.json\n  iamtrim scan plan.json"
)]
pub struct Cli {
    /// The Terraform root module directory (where .tf files, .terraform/ and .iamtrim/ live).
    #[arg(long, global = true, value_name = "DIR", default_value = ".")]
    pub chdir: PathBuf,
    /// When to color output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print less (warnings are hidden).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more (each policy source in `scan`).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Color when stdout is a terminal and NO_COLOR is unset.
    Auto,
    /// Always color.
    Always,
    /// Never color.
    Never,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Text,
    /// The versioned report, documented in docs/report-schema.md.
    Json,
    /// A pull-request comment.
    Markdown,
}

/// `suggest --aws-managed`: where AWS-managed policy documents come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum AwsManagedMode {
    /// The IAM API (GetPolicyVersion, with the AWS flags), then the bundled snapshot for misses.
    Online,
    /// The snapshot bundled in iamtrim.
    #[default]
    Snapshot,
    /// Leave AWS-managed policies unresolved and suggest no replacement.
    Off,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every IAM principal in a plan with the policies that reach it, riskiest first.
    #[command(
        after_help = "Examples:\n  iamtrim scan plan.json\n  terraform show -json tfplan | iamtrim scan - --format json\n  iamtrim scan plan.json -v   # list each policy source"
    )]
    Scan(ScanArgs),
    /// Ask IAM Access Analyzer (or Athena, or CloudTrail Lake) what each existing principal used, and
    /// cache it (.iamtrim/cache/).
    ///
    /// One job at a time per account and region, within the daily quota; jobs are recorded in
    /// .iamtrim/jobs.json, so an interrupted run (Ctrl-C) resumes them instead of starting new ones.
    #[command(
        after_help = "Examples:\n  iamtrim generate plan.json --trail-arn arn:aws:cloudtrail:eu-west-1:111122223333:trail/main \\\n      --access-role-arn arn:aws:iam::111122223333:role/AccessAnalyzerMonitorServiceRole\n  iamtrim generate --principal arn:aws:iam::111122223333:role/app --trail-arn ... --access-role-arn ...\n  iamtrim generate plan.json --trail-arn ... --access-role-arn ... --cancel\n  iamtrim generate plan.json --athena cloudtrail.logs --athena-output s3://athena-results/iamtrim/\n  iamtrim generate plan.json --cloudtrail-lake arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/EXAMPLE"
    )]
    Generate(GenerateArgs),
    /// Suggest smaller policies from real usage, as patches to your own .tf files.
    ///
    /// Usage comes from the cache (.iamtrim/cache/), or from CloudTrail logs with --cloudtrail (a folder
    /// or s3://bucket/prefix), or from one aggregate query with --athena DB.TABLE or --cloudtrail-lake
    /// EVENT_DATA_STORE; what is read is cached. Writes <module dir>/iamtrim.patch (apply it with
    /// `iamtrim apply` or `git apply`) and iamtrim.suggested.tf where a policy cannot be edited in place.
    #[command(
        after_help = "Examples:\n  iamtrim suggest plan.json --cloudtrail ./cloudtrail-logs\n  iamtrim suggest plan.json --cloudtrail s3://trail-bucket/AWSLogs/ --window-days 90\n  iamtrim suggest plan.json --athena cloudtrail.logs --athena-partitions org-projection --window-days 90\n  iamtrim suggest plan.json --dry-run --format markdown > comment.md"
    )]
    Suggest(SuggestArgs),
    /// Fail when principals grant actions their cached usage says are unused (pre-commit, CI).
    ///
    /// Reads only the cache: no network, no AWS credentials, writes nothing.
    #[command(
        after_help = "Examples:\n  iamtrim check plan.json\n  iamtrim check plan.json --max-unused 5"
    )]
    Check(CheckArgs),
    /// Apply the patches `suggest` wrote (default: every iamtrim.patch under the repository root).
    ///
    /// A patch whose target changed since it was written is refused; applying twice is a no-op.
    #[command(
        after_help = "Examples:\n  iamtrim apply\n  iamtrim apply modules/worker/iamtrim.patch"
    )]
    Apply(ApplyArgs),
}

/// `iamtrim suggest`.
#[derive(Debug, Args)]
pub struct SuggestArgs {
    /// The plan JSON (`terraform show -json PLANFILE`), or `-` for stdin.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// CloudTrail logs: a folder, or s3://bucket/prefix (the S3 delivery layout).
    #[arg(long, value_name = "PATH|S3-URL", conflicts_with_all = ["athena", "cloudtrail_lake"])]
    pub cloudtrail: Option<String>,
    /// Read only the last N days of CloudTrail logs.
    #[arg(long, value_name = "DAYS")]
    pub window_days: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write patches and suggestion files under DIR instead of next to the modules.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Compute and report, write no file.
    #[arg(long)]
    pub dry_run: bool,
    /// Where AWS-managed policy documents come from, for their customer-managed replacements.
    #[arg(long, value_enum, default_value_t = AwsManagedMode::Snapshot, value_name = "SOURCE")]
    pub aws_managed: AwsManagedMode,
    /// AWS connection (for s3:// logs, Athena, CloudTrail Lake and `--aws-managed online`).
    #[command(flatten)]
    pub aws: AwsFlags,
    /// Usage from an aggregate query (Athena, CloudTrail Lake); last, as its help heading is.
    #[command(flatten)]
    pub aggregate: AggregateFlags,
}

/// `--athena` and `--cloudtrail-lake`: usage from one aggregate query over the organization's
/// trail instead of reading its logs (see docs/athena.md).
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Athena and CloudTrail Lake")]
pub struct AggregateFlags {
    /// Usage from the CloudTrail table in Athena (db.table): one aggregate query, no log download.
    #[arg(long, value_name = "DB.TABLE", conflicts_with = "cloudtrail_lake")]
    pub athena: Option<String>,
    /// Athena workgroup (default: primary).
    #[arg(long, value_name = "NAME", requires = "athena")]
    pub athena_workgroup: Option<String>,
    /// Where Athena writes query results (s3://bucket/prefix/), when the workgroup sets none.
    #[arg(long, value_name = "S3-URL", requires = "athena")]
    pub athena_output: Option<String>,
    /// Athena data catalog (default: AwsDataCatalog).
    #[arg(long, value_name = "NAME", requires = "athena")]
    pub athena_catalog: Option<String>,
    /// How the CloudTrail table is partitioned.
    #[arg(long, value_enum, default_value_t = AthenaPartitions::Projection, value_name = "LAYOUT", requires = "athena")]
    pub athena_partitions: AthenaPartitions,
    /// Only events of this region (repeatable; prunes the region partition). Default: all.
    #[arg(long = "athena-region", value_name = "REGION", requires = "athena")]
    pub athena_regions: Vec<String>,
    /// Usage from a CloudTrail Lake event data store (ID or ARN): one aggregate query.
    #[arg(long, value_name = "EVENT_DATA_STORE")]
    pub cloudtrail_lake: Option<String>,
    /// Price per TB scanned in US dollars, for the cost the report and cache record.
    #[arg(long, value_name = "USD", default_value = "5.00")]
    pub price_per_tb: String,
}

/// `--athena-partitions`: the table layouts the CloudTrail console and the AWS docs create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum AthenaPartitions {
    /// Partition projection on `timestamp` (yyyy/MM/dd).
    #[default]
    Projection,
    /// Partition projection on `account`, `region` and `timestamp` (an organization trail).
    OrgProjection,
    /// Hive-style `region`, `year`, `month`, `day` partitions.
    Hive,
    /// Hive-style `account`, `region`, `year`, `month`, `day` partitions (an organization trail).
    OrgHive,
    /// No partitions: only the event time prunes, every file is read.
    None,
}

/// `iamtrim check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The plan JSON, or `-` for stdin.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Findings only when a principal has more than N unused actions.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_unused: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `iamtrim apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Patch files (default: every iamtrim.patch under the repository root).
    #[arg(value_name = "PATCH")]
    pub patches: Vec<PathBuf>,
}

impl AwsFlags {
    /// The usage layer's view of these flags.
    pub fn to_aws_args(&self) -> crate::usage::aws::AwsArgs {
        crate::usage::aws::AwsArgs {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            max_attempts: None,
        }
    }
}

/// AWS connection flags, resolved the AWS way (default credential chain, AWS_PROFILE, AWS_REGION,
/// AWS_ENDPOINT_URL*).
#[derive(Debug, Args, Clone)]
pub struct AwsFlags {
    /// Named profile from ~/.aws/config.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Region of the AWS calls (default: AWS_REGION or the profile's); S3 logs are read from
    /// their bucket's own region.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Endpoint URL for every AWS service (an emulator, a VPC endpoint).
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// `iamtrim generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The plan JSON whose existing principals to generate for (riskiest first), or `-` for stdin.
    #[arg(value_name = "PLAN", required_unless_present = "principal")]
    pub plan: Option<PathBuf>,
    /// A principal ARN to generate for (repeatable), with or instead of a plan.
    #[arg(long, value_name = "ARN")]
    pub principal: Vec<String>,
    /// The CloudTrail trail Access Analyzer reads.
    #[arg(long, value_name = "ARN", required_unless_present_any = ["athena", "cloudtrail_lake"])]
    pub trail_arn: Option<String>,
    /// A region of the trail to read (repeatable; default: all).
    #[arg(long = "trail-region", value_name = "REGION")]
    pub trail_regions: Vec<String>,
    /// The role Access Analyzer assumes to read the trail.
    #[arg(long, value_name = "ARN", required_unless_present_any = ["athena", "cloudtrail_lake"])]
    pub access_role_arn: Option<String>,
    /// Days of history to read (at most 90).
    #[arg(long, default_value_t = 90, value_name = "DAYS")]
    pub window_days: u32,
    /// Policy generations allowed per 24 hours in this account and region (5 in some regions).
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub daily_quota: u32,
    /// Cancel the jobs recorded by earlier runs instead of generating.
    #[arg(long)]
    pub cancel: bool,
    /// First wait between polls, in milliseconds (doubles up to 60 s).
    #[arg(long, default_value_t = 5000, value_name = "MS", hide = true)]
    pub poll_ms: u64,
    /// AWS connection.
    #[command(flatten)]
    pub aws: AwsFlags,
    /// Usage from an aggregate query (Athena, CloudTrail Lake) instead of Access Analyzer; last,
    /// as its help heading is.
    #[command(flatten)]
    pub aggregate: AggregateFlags,
}

/// `iamtrim scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The plan JSON (`terraform show -json PLANFILE`), or `-` for stdin.
    #[arg(value_name = "PLAN")]
    pub plan: PathBuf,
    /// Output format (`markdown` is accepted and renders the same table).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}
