//! Resolved settings: validated paths, the repository root, output styling.

use super::args::{Cli, ColorChoice};
use anyhow::{Context, bail};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

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
