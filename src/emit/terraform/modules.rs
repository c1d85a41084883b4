//! Where each module's `.tf` files live: [`ModuleDirs`] maps a module key (`"app.db"`) to a
//! [`ModuleDir`], from `.terraform/modules/modules.json` when `terraform init` wrote one, else from the
//! local `source` paths in the plan's `configuration`.
//!
//! Registry and git modules (anything under `.terraform/modules`, or a non-local `source`) are
//! [`ModuleDir::Remote`]: not the user's code. A directory that canonicalizes outside the repository
//! root (a `../..` source, a symlink) is [`ModuleDir::Outside`] and is never written.

use crate::emit::terraform::edit::EmitError;
use crate::plan::model::{ConfigModule, Expr, Plan};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Where a module's files are, as far as writing is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleDir {
    /// In the repository: the canonical directory.
    Local(PathBuf),
    /// A registry or git module, or a module inside one.
    Remote {
        /// Its `source` as the manifest or configuration has it.
        source: String,
    },
    /// Resolves outside the repository root.
    Outside {
        /// The resolved directory.
        path: PathBuf,
    },
    /// The directory does not exist (a checkout without it, or a plan from elsewhere).
    Missing {
        /// The directory looked for.
        path: PathBuf,
    },
}

/// Module key -> directory for one repository.
#[derive(Debug, Clone)]
pub struct ModuleDirs {
    root: PathBuf,
    dirs: BTreeMap<String, ModuleDir>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(rename = "Modules", default)]
    modules: Vec<ManifestEntry>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Source", default)]
    source: String,
    #[serde(rename = "Dir")]
    dir: String,
}

/// True for `./x` and `../x` sources, the only ones whose files are in the repository.
pub fn is_local_source(source: &str) -> bool {
    source.starts_with("./") || source.starts_with("../") || source == "." || source == ".."
}

impl ModuleDirs {
    /// Resolves every module under `root`: the manifest first, then the plan's local `source` paths.
    pub fn discover(root: &Path, plan: Option<&Plan>) -> Result<Self, EmitError> {
        Self::discover_in(root, root, plan)
    }

    /// Like [`ModuleDirs::discover`] for a Terraform root module (`module_root`, where `.terraform/`
    /// lives and local sources start) inside a larger repository (`root`, the write boundary).
    pub fn discover_in(
        root: &Path,
        module_root: &Path,
        plan: Option<&Plan>,
    ) -> Result<Self, EmitError> {
        let canonical_root = root.canonicalize().map_err(|e| EmitError::io(root, e))?;
        let module_root = module_root
            .canonicalize()
            .map_err(|e| EmitError::io(module_root, e))?;
        let mut dirs = ModuleDirs {
            root: canonical_root,
            dirs: BTreeMap::new(),
        };
        let top = dirs.classify(&module_root);
        dirs.dirs.insert(String::new(), top);
        let root = module_root.as_path();
        let manifest_path = root.join(".terraform").join("modules").join("modules.json");
        if manifest_path.is_file() {
            let text = std::fs::read_to_string(&manifest_path)
                .map_err(|e| EmitError::io(&manifest_path, e))?;
            let manifest: Manifest = serde_json::from_str(text.trim_start_matches('\u{feff}'))
                .map_err(|e| EmitError::Manifest {
                    path: manifest_path.clone(),
                    message: e.to_string(),
                })?;
            for entry in manifest.modules {
                let dir = Path::new(entry.dir.trim_start_matches("./"));
                let under_terraform =
                    dir.components().next() == Some(Component::Normal(".terraform".as_ref()));
                let resolved = if under_terraform
                    || (!entry.key.is_empty() && !is_local_source(&entry.source))
                {
                    ModuleDir::Remote {
                        source: entry.source,
                    }
                } else {
                    dirs.classify(&root.join(dir))
                };
                dirs.dirs.insert(entry.key, resolved);
            }
        }
        if let Some(config) = plan.and_then(|p| p.configuration.as_ref()) {
            let root_dir = module_root.clone();
            dirs.add_calls(&config.root_module, "", Some(&root_dir), None);
        }
        Ok(dirs)
    }

    /// The directory for a module key, if known.
    pub fn get(&self, key: &str) -> Option<&ModuleDir> {
        self.dirs.get(key)
    }

    /// The canonical repository root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The closest enclosing module (possibly `key` itself, else the root) whose files are local.
    pub fn nearest_local(&self, key: &str) -> (String, PathBuf) {
        let mut current = key.to_string();
        loop {
            if let Some(ModuleDir::Local(dir)) = self.dirs.get(&current) {
                return (current, dir.clone());
            }
            match current.rfind('.') {
                Some(i) => current.truncate(i),
                None if !current.is_empty() => current.clear(),
                None => return (String::new(), self.root.clone()),
            }
        }
    }

    /// Local when the canonical path is inside the root, `Outside` otherwise (or when missing).
    fn classify(&self, dir: &Path) -> ModuleDir {
        match dir.canonicalize() {
            Ok(canonical) if canonical.starts_with(&self.root) => ModuleDir::Local(canonical),
            Ok(canonical) => ModuleDir::Outside { path: canonical },
            Err(_) => ModuleDir::Missing {
                path: dir.to_path_buf(),
            },
        }
    }

    /// Adds module calls the manifest did not list, resolving local sources against the parent dir.
    fn add_calls(
        &mut self,
        module: &ConfigModule,
        prefix: &str,
        parent_dir: Option<&Path>,
        remote: Option<&str>,
    ) {
        for (name, call) in &module.module_calls {
            let key = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let child_remote = remote
                .map(str::to_string)
                .or_else(|| (!is_local_source(&call.source)).then(|| call.source.clone()));
            if !self.dirs.contains_key(&key) {
                let resolved = match (&child_remote, parent_dir) {
                    (None, Some(parent)) => self.classify(&parent.join(&call.source)),
                    (Some(source), _) => ModuleDir::Remote {
                        source: source.clone(),
                    },
                    (None, None) => ModuleDir::Remote {
                        source: call.source.clone(),
                    },
                };
                self.dirs.insert(key.clone(), resolved);
            }
            let child_dir = match self.dirs.get(&key) {
                Some(ModuleDir::Local(dir)) => Some(dir.clone()),
                _ => None,
            };
            self.add_calls(
                &call.module,
                &key,
                child_dir.as_deref(),
                child_remote.as_deref(),
            );
        }
    }
}

/// The configuration of the module at `key`.
pub fn config_module<'a>(plan: &'a Plan, key: &str) -> Option<&'a ConfigModule> {
    let mut module = &plan.configuration.as_ref()?.root_module;
    if key.is_empty() {
        return Some(module);
    }
    for name in key.split('.') {
        module = &module.module_calls.get(name)?.module;
    }
    Some(module)
}

/// For a policy inside a remote module, the input of the outermost remote module call (the one the
/// user's own code makes) that feeds it: `("eks", "iam_role_policy")`.
pub fn feeding_input(
    plan: &Plan,
    dirs: &ModuleDirs,
    key: &str,
    block_address: &str,
    attribute: &str,
) -> Option<(String, String)> {
    let module = config_module(plan, key)?;
    let resource = module
        .resources
        .iter()
        .find(|r| r.address == block_address)?;
    let expr = resource.expressions.get(attribute)?;
    let mut var = variable_in(expr)?;
    let mut current = key.to_string();
    loop {
        let (parent, name) = match current.rfind('.') {
            Some(i) => (current[..i].to_string(), current[i + 1..].to_string()),
            None => (String::new(), current.clone()),
        };
        let parent_is_local = matches!(dirs.get(&parent), Some(ModuleDir::Local(_)));
        if parent_is_local || parent.is_empty() {
            return Some((current, var));
        }
        let call = config_module(plan, &parent)?.module_calls.get(&name)?;
        var = variable_in(call.expressions.get(&var)?)?;
        current = parent;
    }
}

/// The first `var.NAME` an expression references.
fn variable_in(expr: &Expr) -> Option<String> {
    let leaf = expr.leaf()?;
    leaf.references.as_ref()?.iter().find_map(|r| {
        r.strip_prefix("var.")
            .map(|v| v.split('.').next().unwrap_or(v).to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn manifest_local_remote_and_escaping_dirs() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        write(&root.join("modules/app/main.tf"), "");
        write(&tmp.path().join("elsewhere/main.tf"), "");
        write(
            &root.join(".terraform/modules/modules.json"),
            r#"{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"app","Source":"./modules/app","Dir":"modules/app"},{"Key":"eks","Source":"registry.terraform.io/terraform-aws-modules/eks/aws","Version":"20.37.2","Dir":".terraform/modules/eks"},{"Key":"eks.ng","Source":"./modules/ng","Dir":".terraform/modules/eks/modules/ng"},{"Key":"far","Source":"../elsewhere","Dir":"../elsewhere"}]}"#,
        );
        let dirs = ModuleDirs::discover(&root, None).unwrap();
        let canonical = root.canonicalize().unwrap();
        assert_eq!(dirs.get(""), Some(&ModuleDir::Local(canonical.clone())));
        assert_eq!(
            dirs.get("app"),
            Some(&ModuleDir::Local(canonical.join("modules/app")))
        );
        assert!(
            matches!(dirs.get("eks"), Some(ModuleDir::Remote { source }) if source.contains("eks/aws"))
        );
        assert!(matches!(dirs.get("eks.ng"), Some(ModuleDir::Remote { .. })));
        assert!(matches!(dirs.get("far"), Some(ModuleDir::Outside { .. })));
        let missing = ModuleDirs::discover(&root, None)
            .unwrap()
            .classify(&root.join("nope"));
        assert!(matches!(missing, ModuleDir::Missing { .. }));
        assert_eq!(
            dirs.nearest_local("eks.ng"),
            (String::new(), canonical.clone())
        );
        assert_eq!(
            dirs.nearest_local("app"),
            ("app".to_string(), canonical.join("modules/app"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_module_dir_outside_the_root_is_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        write(&root.join("main.tf"), "");
        write(&tmp.path().join("elsewhere/main.tf"), "");
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), root.join("linked")).unwrap();
        write(
            &root.join(".terraform/modules/modules.json"),
            r#"{"Modules":[{"Key":"","Source":"","Dir":"."},{"Key":"l","Source":"./linked","Dir":"linked"}]}"#,
        );
        let dirs = ModuleDirs::discover(&root, None).unwrap();
        assert!(matches!(dirs.get("l"), Some(ModuleDir::Outside { .. })));
    }

    #[test]
    fn broken_manifest_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            &tmp.path().join(".terraform/modules/modules.json"),
            "{not json",
        );
        let err = ModuleDirs::discover(tmp.path(), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("modules.json: not a Terraform module manifest"),
            "{err}"
        );
    }
}
