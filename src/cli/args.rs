//! Raw command-line arguments (clap derive). Validation and resolution happen in [`super::settings`].

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// AWS IAM least privilege for Terraform.
///
/// Finds every IAM role, user and group in a `terraform show -json` plan with the policies that reach it,
/// learns what each principal really used, and suggests a smaller policy as a patch to your own `.tf` files.
#[derive(Debug, Parser)]
#[command(name = "iamtrim", version, propagate_version = true, max_term_width = 110)]
#[command(after_help = "Example:\n  terraform plan -out=tfplan && terraform show -json tfplan > plan.json\n  iamtrim scan plan.json")]
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

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every IAM principal in a plan with the policies that reach it, riskiest first.
    #[command(after_help = "Examples:\n  iamtrim scan plan.json\n  terraform show -json tfplan | iamtrim scan - --format json\n  iamtrim scan plan.json -v   # list each policy source")]
    Scan(ScanArgs),
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
