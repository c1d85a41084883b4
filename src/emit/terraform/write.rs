//! [`write_suggestions`]: decides, for every [`PolicyEdit`], whether the user's own files are patched
//! or a suggestion file is written, and writes `<module dir>/iamtrim.patch` and
//! `<module dir>/iamtrim.suggested.tf` (or under `--out`), never outside the root; and puts each
//! AWS-managed [`PolicyReplacement`] in its attaching module's suggestion file.
//!
//! Three steps, in `write_suggestions_and_replacements`: plan (`Writer::plan_edit` gives each edit
//! one [`Outcome`]: patched, a suggestion file, or skipped with the reason, and stages its text in
//! the module's pending work), render (`Writer::render`: the patch and suggestion file of each
//! module), commit (the files of one run together, [`crate::repo_root::Staged`]: all of them or
//! none). A suggestion over IAM's size limit for its kind of policy, or moving out because its
//! principal's inline policies are together over their aggregate limit, is never patched: it goes
//! to the suggestion file as several managed policies (`crate::emit::terraform::split`).
//!
//! Edits of one `for_each`/`count` resource share a block, so they are merged first: a statement is
//! removed only when every instance removes it, and keeps the union of the actions its instances keep.

use crate::emit::terraform::edit::{
    EmitError, PolicyEdit, PolicyLocation, PolicyTarget, StatementChange,
};
use crate::emit::terraform::hcl::{PolicyForm, Rewrite, TerraformFileMut};
use crate::emit::terraform::json_text;
use crate::emit::terraform::modules::{ModuleDir, ModuleDirs, feeding_input};
use crate::emit::terraform::patch::{FileChange, PATCH_FILE_NAME, render_patch};
use crate::emit::terraform::replacement::{PolicyReplacement, replacement_blocks};
use crate::emit::terraform::split::{OverLimit, size_limit, split_blocks, split_note};
use crate::emit::terraform::suggestion::{policy_document_block, suggestion_name};
use crate::iam::policy::PolicyDocument;
use crate::minimize::size::{InlineOverflow, policy_size, split_for_size, split_long_statements};
use crate::plan::model::Plan;
use crate::repo_root::{RepoRoot, remove_stale_temporaries};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The suggestion file's name in a module directory.
pub const SUGGESTION_FILE_NAME: &str = "iamtrim.suggested.tf";

/// Where and whether to write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Write patches and suggestion files under this directory (mirroring module paths) instead.
    pub out_dir: Option<PathBuf>,
    /// Compute everything, write nothing.
    pub dry_run: bool,
    /// The Terraform root module (where `.terraform/` lives and local sources start) when it is
    /// not the repository root itself; `None` means the same.
    pub module_root: Option<PathBuf>,
}

/// The kind of a file written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WrittenKind {
    /// `iamtrim.patch`.
    Patch,
    /// `iamtrim.suggested.tf`.
    SuggestionFile,
}

/// A file written (or, with `dry_run`, that would be).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WrittenFile {
    /// Where.
    pub path: PathBuf,
    /// What.
    pub kind: WrittenKind,
    /// Its text.
    pub text: String,
}

/// What became of one edit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The user's files are patched: these files (relative to the root), in this form.
    Patched {
        /// Patched files.
        files: Vec<String>,
        /// How the policy was written.
        form: PolicyForm,
    },
    /// A suggested document was written to a suggestion file, with a note.
    SuggestionFile {
        /// The suggestion file.
        path: PathBuf,
        /// What to change by hand.
        note: String,
    },
    /// Every statement is kept.
    Unchanged,
    /// Nothing written.
    Skipped {
        /// Why.
        why: String,
    },
}

/// The outcome for one input edit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EditOutcome {
    /// The policy's address, e.g. `module.app.aws_iam_role_policy.x (policy)`.
    pub address: String,
    /// What happened.
    pub outcome: Outcome,
}

/// What [`write_suggestions`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteReport {
    /// Files written (with `dry_run`: that would be written).
    pub files: Vec<WrittenFile>,
    /// One per input edit, in input order.
    pub outcomes: Vec<EditOutcome>,
}

/// Pending work for one local module directory.
#[derive(Default)]
struct ModuleWork {
    files: Option<Result<Vec<TerraformFileMut>, String>>,
    json: BTreeMap<PathBuf, (String, String)>,
    suggestions: Vec<String>,
    names: Vec<String>,
}

/// Edits of one location, merged.
struct Merged {
    location: PolicyLocation,
    changes: Vec<StatementChange>,
    suggested: PolicyDocument,
    /// The first aggregate overflow among its inputs: one instance moving out moves the shared
    /// block.
    inline_overflow: Option<InlineOverflow>,
    inputs: Vec<usize>,
}

fn merge(edits: &[PolicyEdit]) -> Vec<Merged> {
    let mut merged: Vec<Merged> = Vec::new();
    for (i, edit) in edits.iter().enumerate() {
        if let Some(m) = merged
            .iter_mut()
            .find(|m| m.location == edit.location && m.changes.len() == edit.statements.len())
        {
            for (have, new) in m.changes.iter_mut().zip(&edit.statements) {
                *have = match (&*have, new) {
                    (StatementChange::Remove, other) | (other, StatementChange::Remove) => {
                        other.clone()
                    }
                    (StatementChange::Keep, _) | (_, StatementChange::Keep) => {
                        StatementChange::Keep
                    }
                    (StatementChange::SetActions(a), StatementChange::SetActions(b)) => {
                        let mut union = a.clone();
                        union.extend(b.iter().filter(|x| !a.contains(x)).cloned());
                        StatementChange::SetActions(union)
                    }
                };
            }
            m.suggested = json_text::apply_changes(&edit.current, &m.changes)
                .unwrap_or_else(|_| m.suggested.clone());
            if m.inline_overflow.is_none() {
                m.inline_overflow = edit.inline_overflow.clone();
            }
            m.inputs.push(i);
        } else {
            merged.push(Merged {
                location: edit.location.clone(),
                changes: edit.statements.clone(),
                suggested: edit.suggested.clone(),
                inline_overflow: edit.inline_overflow.clone(),
                inputs: vec![i],
            });
        }
    }
    merged
}

fn load_module_files(dir: &Path, root: &Path) -> Result<Vec<TerraformFileMut>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "tf")
                && p.file_name().is_some_and(|n| n != SUGGESTION_FILE_NAME)
        })
        .collect();
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let shown = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        files.push(TerraformFileMut::parse(shown, &text).map_err(|e| e.to_string())?);
    }
    Ok(files)
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes patches and suggestion files for `edits` into the repository at `root`.
pub fn write_suggestions(
    root: &Path,
    plan: &Plan,
    edits: &[PolicyEdit],
    opts: &WriteOptions,
) -> Result<WriteReport, EmitError> {
    write_suggestions_and_replacements(root, plan, edits, &[], opts)
}

/// [`write_suggestions`], plus a customer-managed policy for each AWS-managed attachment in
/// `replacements`, written to the attaching module's suggestion file. Their outcomes follow those
/// of `edits` in [`WriteReport::outcomes`], in input order.
///
/// Three steps: plan (what becomes of each edit: a patch, a suggestion, a skip with its reason),
/// render (patch and suggestion file text per module), commit (every file in one staged set).
pub fn write_suggestions_and_replacements(
    root: &Path,
    plan: &Plan,
    edits: &[PolicyEdit],
    replacements: &[PolicyReplacement],
    opts: &WriteOptions,
) -> Result<WriteReport, EmitError> {
    let dirs = ModuleDirs::discover_in(
        root,
        opts.module_root.as_deref().unwrap_or(root),
        Some(plan),
    )?;
    let root = dirs.root().to_path_buf();
    let mut writer = Writer {
        plan,
        dirs: &dirs,
        root: &root,
        out_dir: opts.out_dir.as_deref(),
        work: BTreeMap::new(),
    };
    // Plan: one outcome per merged edit, given to every input edit it merges.
    let mut outcomes: Vec<Option<Outcome>> = vec![None; edits.len()];
    for m in merge(edits) {
        let outcome = writer.plan_edit(&m);
        for &i in &m.inputs {
            outcomes[i] = Some(outcome.clone());
        }
    }
    let replacement_outcomes = writer.plan_replacements(replacements);
    // Render, then commit.
    let files = writer.render();
    if !opts.dry_run {
        commit(&files, opts.out_dir.as_deref(), &root)?;
    }
    let mut outcomes: Vec<EditOutcome> = edits
        .iter()
        .zip(outcomes)
        .map(|(edit, outcome)| EditOutcome {
            address: edit.location.describe(),
            outcome: outcome.unwrap_or(Outcome::Skipped {
                why: "not processed".to_string(),
            }),
        })
        .collect();
    outcomes.extend(replacement_outcomes);
    Ok(WriteReport { files, outcomes })
}

/// The state of one run of the writer: where modules are, and the work pending per directory.
struct Writer<'a> {
    plan: &'a Plan,
    dirs: &'a ModuleDirs,
    root: &'a Path,
    out_dir: Option<&'a Path>,
    work: BTreeMap<PathBuf, ModuleWork>,
}

/// Where an edit's module is, once it is known to be writable at all.
enum Place {
    /// A module directory of this repository: its files are patched.
    Local(PathBuf),
    /// A remote module: the document goes to the nearest local directory, with a note on the
    /// input of the module call that feeds it (when found).
    Remote {
        dir: PathBuf,
        note: String,
        input: Option<(String, String)>,
    },
}

impl Writer<'_> {
    /// Where the edit's module is; `Err` with the reason it is skipped.
    fn place(&self, location: &PolicyLocation) -> Result<Place, String> {
        match self.dirs.get(&location.module_key) {
            None => Err(format!(
                "module {:?} is neither in modules.json nor in the plan's configuration",
                location.module_key
            )),
            Some(ModuleDir::Outside { path }) => Err(format!(
                "module directory {} is outside the repository root; not written",
                path.display()
            )),
            Some(ModuleDir::Missing { path }) => Err(format!(
                "module directory {} does not exist",
                path.display()
            )),
            Some(ModuleDir::Remote { source }) => {
                let (_, dir) = self.dirs.nearest_local(&location.module_key);
                let input = feeding_input(
                    self.plan,
                    self.dirs,
                    &location.module_key,
                    &location.block_address(),
                    location.target.label(),
                );
                let target = match &input {
                    Some((call, var)) => format!(
                        "the input `{var}` of module.{}",
                        call.replace('.', ".module.")
                    ),
                    None => "the input of the module call that sets this policy".to_string(),
                };
                let note = format!(
                    "{} is in the module {source}, which is not in this repository; pass the document below to {target}.",
                    location.describe()
                );
                Ok(Place::Remote { dir, note, input })
            }
            Some(ModuleDir::Local(dir)) => Ok(Place::Local(dir.clone())),
        }
    }

    /// Decides what becomes of one merged edit, and stages its text in the module's work.
    fn plan_edit(&mut self, m: &Merged) -> Outcome {
        let place = match self.place(&m.location) {
            Ok(place) => place,
            Err(why) => return Outcome::Skipped { why },
        };
        // Over its size limit, the document is never written in place: several managed
        // policies in the suggestion file instead.
        let limit = size_limit(self.plan, &m.location);
        let doc = split_long_statements(&m.suggested);
        let size = policy_size(&doc);
        let over = if size > limit.max_chars() {
            Some(OverLimit::Alone { size, limit })
        } else {
            m.inline_overflow.as_ref().map(OverLimit::Together)
        };
        if let Some(over) = over {
            let dir = match &place {
                Place::Remote { dir, .. } | Place::Local(dir) => dir.clone(),
            };
            return self.suggest_split(&dir, m, &doc, over);
        }
        let (dir, note, input) = match place {
            Place::Remote { dir, note, input } => (dir, note, input),
            Place::Local(dir) => {
                let module = self.work.entry(dir.clone()).or_default();
                match rewrite_local(module, &dir, self.root, m) {
                    Ok(outcome) => return outcome,
                    Err(Unwritable::Skip(why)) => return Outcome::Skipped { why },
                    Err(Unwritable::Computed(note)) => (dir, note, None),
                }
            }
        };
        self.suggest(&dir, m, &note, input.as_ref())
    }

    /// Stages the suggested document of `m` in `dir`'s suggestion file, with `note` and how to
    /// use it; the outcome names the file.
    fn suggest(
        &mut self,
        dir: &Path,
        m: &Merged,
        note: &str,
        input: Option<&(String, String)>,
    ) -> Outcome {
        let location = &m.location;
        let module = self.work.entry(dir.to_path_buf()).or_default();
        let name = module.claim_name(suggestion_name(&[
            &location.resource_name,
            location.target.block_name().unwrap_or(""),
            "iamtrim",
        ]));
        let how = how_to_use(location, &name, input);
        module.suggestions.push(format!(
            "# {note}\n# Then {how}.\n{}",
            policy_document_block(&name, &m.suggested)
        ));
        Outcome::SuggestionFile {
            path: self.suggestion_path(dir),
            note: format!("{note} Then {how}."),
        }
    }

    /// Stages `doc` (the suggestion of `m`, over a limit as `over` says) as managed policies
    /// within their limit in `dir`'s suggestion file.
    fn suggest_split(
        &mut self,
        dir: &Path,
        m: &Merged,
        doc: &PolicyDocument,
        over: OverLimit<'_>,
    ) -> Outcome {
        let location = &m.location;
        let parts = split_for_size(doc);
        let module = self.work.entry(dir.to_path_buf()).or_default();
        let name = module.claim_name(suggestion_name(&[
            &location.resource_name,
            location.target.block_name().unwrap_or(""),
            "iamtrim",
        ]));
        let note = split_note(location, &name, parts.len(), over);
        module
            .suggestions
            .push(split_blocks(&name, location, &parts, &note));
        Outcome::SuggestionFile {
            path: self.suggestion_path(dir),
            note,
        }
    }

    /// Stages each AWS-managed replacement in its module's suggestion file; one outcome each.
    fn plan_replacements(&mut self, replacements: &[PolicyReplacement]) -> Vec<EditOutcome> {
        let mut outcomes: Vec<EditOutcome> = Vec::new();
        // `for_each` instances of one attachment share a block, so they share one replacement.
        let mut written_blocks: BTreeMap<(PathBuf, String, String), usize> = BTreeMap::new();
        for r in replacements {
            let key = r.module_key();
            let outcome = match self.dirs.get(&key) {
                Some(ModuleDir::Local(dir)) => {
                    let block_key = (dir.clone(), r.block_in_module(), r.arn.clone());
                    match written_blocks.get(&block_key) {
                        Some(&first) => outcomes[first].outcome.clone(),
                        None => {
                            let module = self.work.entry(dir.clone()).or_default();
                            let name = module.claim_name(r.suggested_name());
                            module.suggestions.push(replacement_blocks(&name, r));
                            written_blocks.insert(block_key, outcomes.len());
                            Outcome::SuggestionFile {
                                path: self.suggestion_path(dir),
                                note: r.note(&name),
                            }
                        }
                    }
                }
                _ => Outcome::Skipped {
                    why: format!(
                        "{} is in module {key:?}, which is not a local directory of this repository",
                        r.attachment
                    ),
                },
            };
            outcomes.push(EditOutcome {
                address: r.policy_address.clone(),
                outcome,
            });
        }
        outcomes
    }

    /// Where files for the module in `dir` are written: `dir`, or its mirror under `--out`.
    fn output_dir(&self, dir: &Path) -> PathBuf {
        match self.out_dir {
            Some(out) => out.join(relative(self.root, dir)),
            None => dir.to_path_buf(),
        }
    }

    fn suggestion_path(&self, dir: &Path) -> PathBuf {
        self.output_dir(dir).join(SUGGESTION_FILE_NAME)
    }

    /// The patch and suggestion file of every module with pending work, in directory order.
    fn render(&self) -> Vec<WrittenFile> {
        let mut files = Vec::new();
        for (dir, module) in &self.work {
            let out_dir = self.output_dir(dir);
            let patch = render_patch(&module.file_changes(self.root));
            if !patch.is_empty() {
                files.push(WrittenFile {
                    path: out_dir.join(PATCH_FILE_NAME),
                    kind: WrittenKind::Patch,
                    text: patch,
                });
            }
            if !module.suggestions.is_empty() {
                let text = format!(
                    "# Written by iamtrim: suggested least-privilege policy documents for this module.\n# Review each one, make the change its comment describes, then delete this file.\n\n{}",
                    module.suggestions.join("\n")
                );
                files.push(WrittenFile {
                    path: out_dir.join(SUGGESTION_FILE_NAME),
                    kind: WrittenKind::SuggestionFile,
                    text,
                });
            }
        }
        files
    }
}

impl ModuleWork {
    /// `name`, or `name_`, `name__`, ... when the module's suggestion file already uses it.
    fn claim_name(&mut self, mut name: String) -> String {
        while self.names.contains(&name) {
            name.push('_');
        }
        self.names.push(name.clone());
        name
    }

    /// The edited `.tf` files and JSON policy files of the module, as before/after pairs.
    fn file_changes(&self, root: &Path) -> Vec<FileChange> {
        let mut changes: Vec<FileChange> = Vec::new();
        if let Some(Ok(tf_files)) = &self.files {
            for file in tf_files {
                let after = file.render();
                if after != file.original() {
                    changes.push(FileChange {
                        path: relative(Path::new(""), file.path()),
                        before: file.original().to_string(),
                        after,
                    });
                }
            }
        }
        for (path, (before, after)) in &self.json {
            changes.push(FileChange {
                path: relative(root, path),
                before: before.clone(),
                after: after.clone(),
            });
        }
        changes
    }
}

/// What to do with a suggested document named `name` in place of the policy at `location`.
fn how_to_use(location: &PolicyLocation, name: &str, input: Option<&(String, String)>) -> String {
    if let Some((call, var)) = input {
        let call_name = call.rsplit('.').next().unwrap_or(call);
        format!(
            "set `{var} = data.aws_iam_policy_document.{name}.json` in the module {call_name:?} block"
        )
    } else if location.is_data && location.resource_type == "aws_iam_policy_document" {
        format!(
            "replace the statements of {} with these, or use data.aws_iam_policy_document.{name}.json where it is used",
            location.block_address()
        )
    } else if let PolicyTarget::InlinePolicyBlock { name: Some(block) } = &location.target {
        format!(
            "set `policy = data.aws_iam_policy_document.{name}.json` in the inline_policy block {block:?} of {}",
            location.block_address()
        )
    } else {
        format!(
            "set `{} = data.aws_iam_policy_document.{name}.json` on {}",
            location.target,
            location.block_address()
        )
    }
}

/// Writes `files` all together, or none of them: under `out_dir` when given (the one other tree
/// a run may write to: the user named it), else under `root`.
fn commit(files: &[WrittenFile], out_dir: Option<&Path>, root: &Path) -> Result<(), EmitError> {
    if let Some(out) = out_dir {
        std::fs::create_dir_all(out).map_err(|e| EmitError::io(out, e))?;
    }
    let boundary = RepoRoot::open(out_dir.unwrap_or(root))?;
    let mut staged = boundary.stage();
    for file in files {
        let real = staged.add(&file.path, file.text.as_bytes())?;
        // What an interrupted run left next to this file; the real folder, never through a link.
        if let Some(dir) = real.parent() {
            remove_stale_temporaries(dir)?;
        }
    }
    staged.commit()?;
    Ok(())
}

/// Why an edit is not written as a patch.
enum Unwritable {
    Skip(String),
    Computed(String),
}

fn rewrite_local(
    module: &mut ModuleWork,
    dir: &Path,
    root: &Path,
    m: &Merged,
) -> Result<Outcome, Unwritable> {
    let location = &m.location;
    let files = module
        .files
        .get_or_insert_with(|| load_module_files(dir, root));
    let files = files.as_mut().map_err(|e| Unwritable::Skip(e.clone()))?;
    let Some(file) = files.iter_mut().find(|f| f.has_block(location)) else {
        return Err(Unwritable::Skip(format!(
            "no {} block in {}/*.tf",
            location.block_address(),
            relative(root, dir)
        )));
    };
    let rewrite = file
        .replace_policy_actions(location, &m.changes)
        .map_err(|e| Unwritable::Skip(e.to_string()))?;
    match rewrite {
        Rewrite::Edited(form) => Ok(Outcome::Patched {
            files: vec![relative(Path::new(""), file.path())],
            form,
        }),
        Rewrite::Unchanged => Ok(Outcome::Unchanged),
        Rewrite::Computed { place, why } => Err(Unwritable::Computed(format!(
            "{} at {place}: {why}.",
            location.describe()
        ))),
        Rewrite::JsonFile {
            path,
            templated,
            place,
        } => {
            let target = dir.join(&path);
            let canonical = target.canonicalize().map_err(|e| {
                Unwritable::Computed(format!(
                    "{} at {place}: cannot read {path}: {e}.",
                    location.describe()
                ))
            })?;
            if !canonical.starts_with(root) {
                return Err(Unwritable::Skip(format!(
                    "{place}: {path} is outside the repository root; not written"
                )));
            }
            let before = match module.json.get(&canonical) {
                Some((_, after)) => after.clone(),
                None => std::fs::read_to_string(&canonical)
                    .map_err(|e| Unwritable::Skip(format!("{}: {e}", canonical.display())))?,
            };
            if templated && (before.contains("${") || before.contains("%{")) {
                return Err(Unwritable::Computed(format!(
                    "{} at {place}: {path} is a template with interpolations.",
                    location.describe()
                )));
            }
            let after = json_text::rewrite(&before, &m.changes)
                .map_err(|e| Unwritable::Skip(format!("{}: {e}", relative(root, &canonical))))?;
            if after == before {
                return Ok(Outcome::Unchanged);
            }
            let original = module
                .json
                .get(&canonical)
                .map(|(b, _)| b.clone())
                .unwrap_or(before);
            module.json.insert(canonical.clone(), (original, after));
            Ok(Outcome::Patched {
                files: vec![relative(root, &canonical)],
                form: PolicyForm::JsonFile,
            })
        }
    }
}
