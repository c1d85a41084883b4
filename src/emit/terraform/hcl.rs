//! A format-preserving editor for one Terraform file: [`TerraformFileMut`] wraps hcl-edit's `Body`
//! and rewrites the policy at a [`PolicyLocation`] in the author's own style.
//!
//! Only the expression that changes is replaced, and the replaced node keeps its `Decor`, so every
//! comment, blank line and unrelated attribute prints back byte-identical. Forms handled in place:
//! `jsonencode({...})`, `data "aws_iam_policy_document"` statement blocks, heredoc JSON and quoted JSON
//! strings; `file()`/`templatefile()` are reported back ([`Rewrite::JsonFile`]) for the caller to patch,
//! anything computed is reported as [`Rewrite::Computed`]. A kept list over
//! `STATEMENT_ACTION_CAP` keeps its first part in the edited statement and inserts copies of that
//! statement, with the next parts and numbered Sids, right after it, as the suggestion lists them.
//! This module does no I/O.

use crate::emit::terraform::edit::{EmitError, PolicyLocation, PolicyTarget, StatementChange};
use crate::emit::terraform::json_text;
use crate::minimize::size::{STATEMENT_ACTION_CAP, part_sid};
use hcl_edit::expr::{Array, Expression, Object, ObjectKey};
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::template::{Element, HeredocTemplate, Template};
use hcl_edit::{Decorate, Decorated, Ident, Span};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How a policy is written, for the ones rewritten in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyForm {
    /// `policy = jsonencode({...})`.
    JsonEncode,
    /// `data "aws_iam_policy_document"` with `statement` blocks.
    PolicyDocumentBlocks,
    /// `policy = <<EOF ... EOF`.
    Heredoc,
    /// `policy = "{...}"`.
    QuotedString,
    /// `policy = file("x.json")` / `templatefile(...)`: a JSON file next to the module.
    JsonFile,
}

/// What [`TerraformFileMut::replace_policy_actions`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// The policy expression was rewritten in place.
    Edited(PolicyForm),
    /// Every statement is kept: nothing to do.
    Unchanged,
    /// The policy is read from this file (as written, relative to the module directory); patch it.
    JsonFile {
        /// Path relative to the module directory (`${path.module}/` stripped).
        path: String,
        /// True for `templatefile()`, whose text is a template rather than plain JSON.
        templated: bool,
        /// `file:line:column` of the call.
        place: String,
    },
    /// The policy is computed; a suggestion file is needed.
    Computed {
        /// `file:line:column` of the expression.
        place: String,
        /// Why it cannot be rewritten in place.
        why: String,
    },
}

/// One parsed `.tf` file, editable without losing its formatting.
#[derive(Debug, Clone)]
pub struct TerraformFileMut {
    path: PathBuf,
    /// The text as read.
    original: String,
    /// The text as parsed: `original` with CRLF turned into LF when every line ends in CRLF.
    source: String,
    /// True when `source` was converted from CRLF, so rendering converts back.
    crlf: bool,
    body: Body,
}

/// Why an edit cannot be made in place, with the span it concerns.
struct NotLiteral {
    span: Option<Range<usize>>,
    why: String,
}

impl NotLiteral {
    fn new(span: Option<Range<usize>>, why: impl Into<String>) -> Self {
        NotLiteral {
            span,
            why: why.into(),
        }
    }
}

impl TerraformFileMut {
    /// Parses `text`; `path` names the file in errors and places.
    pub fn parse(path: impl Into<PathBuf>, text: &str) -> Result<Self, EmitError> {
        let path = path.into();
        // hcl-edit writes a CRLF after an attribute back as LF, so CRLF files are edited as LF.
        let crlf =
            text.contains("\r\n") && text.matches('\n').count() == text.matches("\r\n").count();
        let source = if crlf {
            text.replace("\r\n", "\n")
        } else {
            text.to_string()
        };
        let body = hcl_edit::parser::parse_body(&source).map_err(|e| EmitError::Hcl {
            path: path.clone(),
            message: e.to_string().replace('\n', " "),
        })?;
        Ok(TerraformFileMut {
            path,
            original: text.to_string(),
            source,
            crlf,
            body,
        })
    }

    /// The file's path as given to [`TerraformFileMut::parse`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text as parsed, before any edit.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The current text: the original, byte for byte, outside the edited expressions.
    pub fn render(&self) -> String {
        let text = self.body.to_string();
        if self.crlf {
            text.replace('\n', "\r\n")
        } else {
            text
        }
    }

    /// True when this file holds the `resource`/`data` block of `location`.
    pub fn has_block(&self, location: &PolicyLocation) -> bool {
        let labels = [
            location.resource_type.as_str(),
            location.resource_name.as_str(),
        ];
        self.body
            .get_blocks(block_kind(location))
            .any(|b| b.has_exact_labels(&labels))
    }

    /// Rewrites the policy at `location` so its statements follow `changes` (one per statement).
    ///
    /// Nothing is modified unless the whole rewrite succeeds.
    pub fn replace_policy_actions(
        &mut self,
        location: &PolicyLocation,
        changes: &[StatementChange],
    ) -> Result<Rewrite, EmitError> {
        let labels = [
            location.resource_type.as_str(),
            location.resource_name.as_str(),
        ];
        let mut body = self.body.clone();
        let Some(block) = body
            .get_blocks_mut(block_kind(location))
            .find(|b| b.has_exact_labels(&labels))
        else {
            return Err(EmitError::Mismatch {
                place: self.path.display().to_string(),
                message: format!("no block for {}", location.block_address()),
            });
        };
        let block_span = block.span();
        let outcome = if location.is_data && location.resource_type == "aws_iam_policy_document" {
            if changes.iter().all(|c| *c == StatementChange::Keep) {
                return Ok(Rewrite::Unchanged);
            }
            match edit_statement_blocks(&mut block.body, changes, block_span.clone()) {
                Ok(()) => Ok(Rewrite::Edited(PolicyForm::PolicyDocumentBlocks)),
                // Like a jsonencode list: the file does not match the plan (a stale plan), so
                // nothing is suggested for it either.
                Err(Found::Mismatch { span, message }) => {
                    return Err(EmitError::Mismatch {
                        place: self.place(span),
                        message,
                    });
                }
                Err(Found::NotLiteral(e)) => Err(e),
                Err(Found::File { span, .. }) => Err(NotLiteral::new(span, "a file reference")),
            }
        } else {
            let target = match policy_body(block, location) {
                Ok(body) => body,
                Err(e) => return Ok(self.computed(e)),
            };
            let attribute = location.target.attribute();
            let Some(mut attr) = target.get_attribute_mut(attribute) else {
                return Err(EmitError::Mismatch {
                    place: self.place(block_span),
                    message: format!(
                        "{} has no `{attribute}` attribute",
                        location.block_address()
                    ),
                });
            };
            let value = attr.value_mut();
            if changes.iter().all(|c| *c == StatementChange::Keep)
                && !matches!(value, Expression::FuncCall(_))
            {
                return Ok(Rewrite::Unchanged);
            }
            match rewrite_policy_expression(value, changes) {
                Ok(Some(form)) => Ok(Rewrite::Edited(form)),
                Ok(None) => Ok(Rewrite::Unchanged),
                Err(Found::File {
                    path,
                    templated,
                    span,
                }) => {
                    return Ok(Rewrite::JsonFile {
                        path,
                        templated,
                        place: self.place(span),
                    });
                }
                Err(Found::NotLiteral(e)) => Err(e),
                Err(Found::Mismatch { span, message }) => {
                    return Err(EmitError::Mismatch {
                        place: self.place(span),
                        message,
                    });
                }
            }
        };
        match outcome {
            Ok(rewrite) => {
                if rewrite != Rewrite::Unchanged {
                    self.body = body;
                }
                Ok(rewrite)
            }
            Err(e) => Ok(self.computed(e)),
        }
    }

    fn computed(&self, e: NotLiteral) -> Rewrite {
        Rewrite::Computed {
            place: self.place(e.span),
            why: e.why,
        }
    }

    /// `file:line:column` for a byte span of the original text.
    fn place(&self, span: Option<Range<usize>>) -> String {
        let file = self.path.display();
        let Some(span) = span else {
            return file.to_string();
        };
        let before = self.source.get(..span.start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{file}:{line}:{column}")
    }
}

fn block_kind(location: &PolicyLocation) -> &'static str {
    if location.is_data { "data" } else { "resource" }
}

/// The body that holds the policy attribute: the block's own, or a role's `inline_policy` block.
fn policy_body<'a>(
    block: &'a mut Block,
    location: &PolicyLocation,
) -> Result<&'a mut Body, NotLiteral> {
    let PolicyTarget::InlinePolicyBlock { name } = &location.target else {
        return Ok(&mut block.body);
    };
    let span = block.span();
    let wanted = name.clone().unwrap_or_default();
    let has_dynamic = block
        .body
        .get_blocks("dynamic")
        .any(|b| b.has_exact_labels(&["inline_policy"]));
    let found = block.body.get_blocks_mut("inline_policy").find(|b| {
        matches!(b.body.get_attribute("name").map(|a| &a.value), Some(Expression::String(s)) if s.value() == &wanted)
    });
    match found {
        Some(inline) => Ok(&mut inline.body),
        None if has_dynamic => Err(NotLiteral::new(
            span,
            "inline_policy comes from a dynamic block",
        )),
        None => Err(NotLiteral::new(
            span,
            format!("no inline_policy block with the literal name {wanted:?}"),
        )),
    }
}

/// A policy expression that is not edited here, and why.
enum Found {
    File {
        path: String,
        templated: bool,
        span: Option<Range<usize>>,
    },
    NotLiteral(NotLiteral),
    Mismatch {
        span: Option<Range<usize>>,
        message: String,
    },
}

impl From<NotLiteral> for Found {
    fn from(e: NotLiteral) -> Self {
        Found::NotLiteral(e)
    }
}

fn rewrite_policy_expression(
    value: &mut Expression,
    changes: &[StatementChange],
) -> Result<Option<PolicyForm>, Found> {
    let span = value.span();
    match value {
        Expression::FuncCall(call) if call.name.namespace.is_empty() => {
            let name = call.name.name.as_str().to_string();
            match name.as_str() {
                "jsonencode" if call.args.len() == 1 => {
                    if changes.iter().all(|c| *c == StatementChange::Keep) {
                        return Ok(None);
                    }
                    match call.args.get_mut(0) {
                        Some(Expression::Object(obj)) => {
                            edit_jsonencode_document(obj, changes, span)?;
                            Ok(Some(PolicyForm::JsonEncode))
                        }
                        _ => Err(NotLiteral::new(
                            span,
                            "jsonencode() of a value that is not an object literal",
                        )
                        .into()),
                    }
                }
                "file" | "templatefile" => match call.args.get(0).and_then(module_relative_path) {
                    Some(path) => Err(Found::File {
                        path,
                        templated: name == "templatefile",
                        span,
                    }),
                    None => Err(NotLiteral::new(
                        span,
                        format!("{name}() of a path that is not a literal"),
                    )
                    .into()),
                },
                other => Err(
                    NotLiteral::new(span, format!("the policy is computed by {other}()")).into(),
                ),
            }
        }
        Expression::HeredocTemplate(heredoc) => {
            let text = literal_template_text(&heredoc.template).ok_or_else(|| {
                NotLiteral::new(span.clone(), "the heredoc interpolates or has directives")
            })?;
            let new_text =
                json_text::rewrite(&text, changes).map_err(|message| Found::Mismatch {
                    span: span.clone(),
                    message,
                })?;
            if new_text == text {
                return Ok(None);
            }
            let mut new = HeredocTemplate::new(
                heredoc.delimiter.clone(),
                Template::from(vec![Element::from(new_text)]),
            );
            if let Some(indent) = heredoc.indent() {
                new.set_indent(indent);
            }
            new.set_trailing(heredoc.trailing().clone());
            *new.decor_mut() = heredoc.decor().clone();
            **heredoc = new;
            Ok(Some(PolicyForm::Heredoc))
        }
        Expression::String(s) => {
            let text = s.value().clone();
            let new_text =
                json_text::rewrite(&text, changes).map_err(|message| Found::Mismatch {
                    span: span.clone(),
                    message,
                })?;
            if new_text == text {
                return Ok(None);
            }
            let mut new = Decorated::new(new_text);
            *new.decor_mut() = s.decor().clone();
            *s = new;
            Ok(Some(PolicyForm::QuotedString))
        }
        Expression::StringTemplate(_) => {
            Err(NotLiteral::new(span, "the policy string interpolates values").into())
        }
        Expression::Traversal(_) => {
            let text = value.to_string();
            Err(NotLiteral::new(span, format!("the policy comes from {}", text.trim())).into())
        }
        Expression::Variable(v) => Err(NotLiteral::new(
            span,
            format!("the policy comes from {}", v.value().as_str()),
        )
        .into()),
        Expression::ForExpr(_) => {
            Err(NotLiteral::new(span, "the policy is built by a for expression").into())
        }
        _ => Err(NotLiteral::new(span, "the policy is computed").into()),
    }
}

/// The concatenated text of a template made only of literals (`$${` already unescaped by the parser).
fn literal_template_text(template: &Template) -> Option<String> {
    let mut out = String::new();
    for element in template.iter() {
        out.push_str(element.as_literal()?.value());
    }
    Some(out)
}

/// `"x.json"` or `"${path.module}/x.json"` -> `x.json`.
fn module_relative_path(arg: &Expression) -> Option<String> {
    match arg {
        Expression::String(s) => Some(s.value().clone()),
        Expression::StringTemplate(t) => {
            let mut elements = t.iter();
            let first = elements.next()?.as_interpolation()?;
            if first.expr.to_string().trim() != "path.module" {
                return None;
            }
            let mut rest = String::new();
            for element in elements {
                rest.push_str(element.as_literal()?.value());
            }
            rest.strip_prefix('/').map(str::to_string)
        }
        _ => None,
    }
}

/// The key's name, for identifiers and quoted strings.
fn key_name(key: &ObjectKey) -> Option<&str> {
    match key {
        ObjectKey::Ident(i) => Some(i.value().as_str()),
        ObjectKey::Expression(Expression::String(s)) => Some(s.value().as_str()),
        ObjectKey::Expression(_) => None,
    }
}

/// Edits the `Statement` of a `jsonencode({...})` literal.
fn edit_jsonencode_document(
    doc: &mut Object,
    changes: &[StatementChange],
    span: Option<Range<usize>>,
) -> Result<(), Found> {
    let statement = doc
        .iter_mut()
        .find(|(k, _)| key_name(k.get()) == Some("Statement"))
        .map(|(_, v)| v)
        .ok_or_else(|| NotLiteral::new(span.clone(), "no literal Statement key"))?;
    let statement_span = statement.expr().span();
    match statement.expr_mut() {
        Expression::Array(statements) => {
            if statements.len() != changes.len() {
                return Err(Found::Mismatch {
                    span: statement_span,
                    message: format!(
                        "{} statements here, {} in the plan",
                        statements.len(),
                        changes.len()
                    ),
                });
            }
            if changes.iter().all(|c| *c == StatementChange::Remove) {
                return Err(NotLiteral::new(
                    statement_span,
                    "every statement would be removed; delete the policy instead",
                )
                .into());
            }
            // The statements each long kept list adds after its own, by index before removal.
            let mut added: Vec<(usize, Vec<Object>)> = Vec::new();
            for (i, (element, change)) in statements.iter_mut().zip(changes).enumerate() {
                let element_span = element.span();
                let Expression::Object(obj) = element else {
                    return Err(NotLiteral::new(
                        element_span,
                        "a statement that is not an object literal",
                    )
                    .into());
                };
                if let StatementChange::SetActions(actions) = change {
                    set_object_actions(obj, first_piece(actions), element_span.clone())?;
                    if actions.len() > STATEMENT_ACTION_CAP {
                        added.push((i, object_pieces(obj, actions, element_span)?));
                    }
                }
            }
            remove_elements(statements, changes);
            // From the last, so the indices of the earlier ones still hold.
            for (i, pieces) in added.into_iter().rev() {
                let removed_before = changes[..i]
                    .iter()
                    .filter(|c| **c == StatementChange::Remove)
                    .count();
                insert_elements_after(statements, i - removed_before, pieces);
            }
            Ok(())
        }
        Expression::Object(obj) => match changes {
            [StatementChange::SetActions(actions)] if actions.len() > STATEMENT_ACTION_CAP => {
                set_object_actions(obj, first_piece(actions), statement_span.clone())?;
                let pieces = object_pieces(obj, actions, statement_span)?;
                // One statement object becomes a list of them: `[{...}, {...}]`.
                let expr = statement.expr_mut();
                let mut first = std::mem::replace(expr, Expression::Array(Array::new()));
                let decor = first.decor().clone();
                *first.decor_mut() = hcl_edit::Decor::default();
                let mut array = Array::with_capacity(pieces.len() + 1);
                array.push(first);
                for piece in pieces {
                    let mut piece = Expression::Object(piece);
                    *piece.decor_mut() = hcl_edit::Decor::default();
                    array.push(piece);
                }
                *array.decor_mut() = decor;
                *expr = Expression::Array(array);
                Ok(())
            }
            [StatementChange::SetActions(actions)] => {
                Ok(set_object_actions(obj, actions, statement_span)?)
            }
            [StatementChange::Keep] => Ok(()),
            [StatementChange::Remove] => Err(NotLiteral::new(
                statement_span,
                "the only statement would be removed; delete the policy instead",
            )
            .into()),
            _ => Err(Found::Mismatch {
                span: statement_span,
                message: format!("1 statement here, {} in the plan", changes.len()),
            }),
        },
        _ => Err(NotLiteral::new(statement_span, "Statement is not a literal list").into()),
    }
}

/// Removes the array elements whose change is `Remove`, keeping the first element's layout.
fn remove_elements(array: &mut Array, changes: &[StatementChange]) {
    let first_prefix = array.get(0).and_then(|e| e.decor().prefix().cloned());
    let last = array.len().checked_sub(1);
    let last_suffix = last
        .and_then(|i| array.get(i))
        .and_then(|e| e.decor().suffix().cloned());
    let last_removed = last.is_some_and(|i| changes.get(i) == Some(&StatementChange::Remove));
    for (i, change) in changes.iter().enumerate().rev() {
        if *change == StatementChange::Remove && i < array.len() {
            array.remove(i);
        }
    }
    if let (Some(prefix), Some(first)) = (first_prefix, array.get_mut(0)) {
        first.decor_mut().set_prefix(prefix);
    }
    // Without a trailing comma, the line break before `]` is the last element's suffix: when that
    // element goes, the new last one takes it, or `]` would move up onto its line.
    if last_removed && !array.trailing_comma() {
        let new_last = array.len().checked_sub(1);
        if let (Some(suffix), Some(e)) = (last_suffix, new_last.and_then(|i| array.get_mut(i))) {
            e.decor_mut().set_suffix(suffix);
        }
    }
}

/// The actions the edited statement itself keeps: all of them, or the first
/// [`STATEMENT_ACTION_CAP`] when the list is written as several statements.
fn first_piece(actions: &[String]) -> &[String] {
    &actions[..actions.len().min(STATEMENT_ACTION_CAP)]
}

/// The statement objects inserted after `obj` (already holding the first piece) for the rest of
/// `actions`: copies of it with the next pieces and numbered Sids, as `split_statement` writes them.
fn object_pieces(
    obj: &Object,
    actions: &[String],
    span: Option<Range<usize>>,
) -> Result<Vec<Object>, NotLiteral> {
    let mut pieces = Vec::new();
    for (n, chunk) in actions.chunks(STATEMENT_ACTION_CAP).enumerate().skip(1) {
        let mut piece = obj.clone();
        set_object_actions(&mut piece, chunk, span.clone())?;
        if let Some((_, sid)) = piece
            .iter_mut()
            .find(|(k, _)| key_name(k.get()) == Some("Sid"))
        {
            let Expression::String(old) = sid.expr_mut() else {
                return Err(NotLiteral::new(
                    span,
                    "a statement Sid that is not a literal string",
                ));
            };
            let mut new = Decorated::new(part_sid(old.value(), n));
            *new.decor_mut() = old.decor().clone();
            *old = new;
        }
        pieces.push(piece);
    }
    Ok(pieces)
}

/// Inserts `pieces` right after element `index` of a statement list, each on its own line at the
/// element's indent (or after `, ` when the list is on one line).
fn insert_elements_after(array: &mut Array, index: usize, pieces: Vec<Object>) {
    let last_without_comma = index + 1 == array.len() && !array.trailing_comma();
    let Some(element) = array.get_mut(index) else {
        return;
    };
    let prefix = element
        .decor()
        .prefix()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let between = match prefix.rfind('\n') {
        Some(at) => format!("\n{}", &prefix[at + 1..]),
        None => " ".to_string(),
    };
    // Without a trailing comma, the line break before `]` is the last element's suffix: it goes
    // to the new last element.
    let moved_suffix = if last_without_comma {
        let suffix = element.decor().suffix().cloned();
        element.decor_mut().set_suffix("");
        suffix
    } else {
        None
    };
    let count = pieces.len();
    for (k, piece) in pieces.into_iter().enumerate() {
        let mut piece = Expression::Object(piece);
        piece.decor_mut().set_prefix(between.clone());
        piece.decor_mut().set_suffix("");
        if k + 1 == count {
            if let Some(suffix) = &moved_suffix {
                piece.decor_mut().set_suffix(suffix.clone());
            }
        }
        array.insert(index + 1 + k, piece);
    }
}

/// Replaces a statement object's `Action`/`NotAction` value by `actions` (renaming `NotAction`).
fn set_object_actions(
    obj: &mut Object,
    actions: &[String],
    span: Option<Range<usize>>,
) -> Result<(), NotLiteral> {
    let Some((key, value)) = obj
        .iter()
        .find(|(k, _)| matches!(key_name(k), Some("Action" | "NotAction")))
    else {
        return Err(NotLiteral::new(
            span,
            "a statement without a literal Action key",
        ));
    };
    let is_not_action = key_name(key) == Some("NotAction");
    let new_value = rebuild_string_list(value.expr(), actions)?;
    if !is_not_action {
        if let Some((_, v)) = obj
            .iter_mut()
            .find(|(k, _)| key_name(k.get()) == Some("Action"))
        {
            *v.expr_mut() = new_value;
        }
        return Ok(());
    }
    // Object keys cannot be renamed in place, so the object is rebuilt in its order.
    let old = std::mem::take(obj);
    let mut rebuilt = Object::with_capacity(old.len());
    *rebuilt.decor_mut() = old.decor().clone();
    rebuilt.set_trailing(old.trailing().clone());
    for (key, mut value) in old {
        if key_name(&key) == Some("NotAction") {
            let new_key = renamed_key(&key, "Action");
            *value.expr_mut() = new_value.clone();
            rebuilt.insert(new_key, value);
        } else {
            rebuilt.insert(key, value);
        }
    }
    *obj = rebuilt;
    realign_object(obj);
    Ok(())
}

/// True when a prefix starts a new alignment group: a blank line or a comment before the key.
fn breaks_alignment(prefix: &str, newlines_in_plain_prefix: usize) -> bool {
    prefix.matches('\n').count() > newlines_in_plain_prefix
        || prefix.contains('#')
        || prefix.contains("//")
        || prefix.contains("/*")
}

/// Re-aligns `=` within runs of keys that were aligned (as `terraform fmt` leaves them), after a
/// rename changed one key's length. Runs that were not aligned are left alone.
fn realign(keys: &[(usize, usize, bool)]) -> Vec<Option<usize>> {
    // (key length, current suffix width, starts a group) -> new suffix width per key.
    let mut out = vec![None; keys.len()];
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && !keys[end].2 {
            end += 1;
        }
        let group = &keys[start..end];
        let columns: Vec<usize> = group.iter().map(|(len, width, _)| len + width).collect();
        let aligned = columns.windows(2).all(|w| w[0] == w[1]);
        if aligned && group.len() > 1 {
            let max = group.iter().map(|(len, _, _)| *len).max().unwrap_or(0);
            for (i, (len, _, _)) in group.iter().enumerate() {
                out[start + i] = Some(max - len + 1);
            }
        }
        start = end;
    }
    out
}

fn key_len(key: &ObjectKey) -> usize {
    match key {
        ObjectKey::Ident(i) => i.value().as_str().len(),
        ObjectKey::Expression(Expression::String(s)) => s.value().len() + 2,
        ObjectKey::Expression(e) => e.to_string().trim().len(),
    }
}

fn realign_object(obj: &mut Object) {
    if !Expression::Object(obj.clone()).to_string().contains('\n') {
        return; // a one-line object has nothing to align
    }
    let mut keys: Vec<(usize, usize, bool)> = Vec::new();
    for (key, _) in obj.iter() {
        // Entries end in a newline terminator, so a key's prefix holds only blank lines and comments.
        let prefix = key
            .decor()
            .prefix()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let width = key.decor().suffix().map_or(1, |s| s.len());
        keys.push((key_len(key), width, breaks_alignment(&prefix, 0)));
    }
    let widths = realign(&keys);
    for ((mut key, _), width) in obj.iter_mut().zip(widths) {
        if let Some(width) = width {
            key.decor_mut().set_suffix(" ".repeat(width));
        }
    }
}

fn realign_body(body: &mut Body) {
    let mut keys: Vec<(usize, usize, bool)> = Vec::new();
    let mut after_block = true;
    let mut indices = Vec::new();
    for (i, structure) in body.iter().enumerate() {
        let Some(attr) = structure.as_attribute() else {
            after_block = true;
            continue;
        };
        let prefix = attr
            .decor()
            .prefix()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let width = attr.key.decor().suffix().map_or(1, |s| s.len());
        keys.push((
            attr.key.value().as_str().len(),
            width,
            after_block || breaks_alignment(&prefix, 0),
        ));
        indices.push(i);
        after_block = false;
    }
    let widths = realign(&keys);
    for (i, width) in indices.into_iter().zip(widths) {
        if let (Some(width), Some(Structure::Attribute(attr))) = (width, body.get_mut(i)) {
            attr.key.decor_mut().set_suffix(" ".repeat(width));
        }
    }
}

/// `NotAction` -> `Action`, keeping the key's quoting and decor and the `=` column.
fn renamed_key(key: &ObjectKey, name: &str) -> ObjectKey {
    let (old_len, decor) = match key {
        ObjectKey::Ident(i) => (i.value().as_str().len(), i.decor().clone()),
        ObjectKey::Expression(e) => (e.to_string().trim().len(), e.decor().clone()),
    };
    let mut new = match key {
        ObjectKey::Ident(_) => ObjectKey::Ident(Decorated::new(Ident::new(name))),
        ObjectKey::Expression(_) => {
            ObjectKey::Expression(Expression::String(Decorated::new(name.to_string())))
        }
    };
    let new_len = match key {
        ObjectKey::Ident(_) => name.len(),
        ObjectKey::Expression(_) => name.len() + 2,
    };
    *new.decor_mut() = padded_decor(decor, old_len, new_len);
    new
}

/// The decor with its suffix padded so whatever follows (the `=`) stays in its column.
fn padded_decor(mut decor: hcl_edit::Decor, old_len: usize, new_len: usize) -> hcl_edit::Decor {
    let suffix = decor
        .suffix()
        .map(|s| s.to_string())
        .unwrap_or_else(|| " ".to_string());
    let pad = " ".repeat(old_len.saturating_sub(new_len));
    decor.set_suffix(format!("{pad}{suffix}"));
    decor
}

/// A literal list of strings with the new values, laid out like `old` (one line or one per line).
fn rebuild_string_list(old: &Expression, values: &[String]) -> Result<Expression, NotLiteral> {
    match old {
        Expression::String(s) if values.len() == 1 => {
            let mut new = Decorated::new(values[0].clone());
            *new.decor_mut() = s.decor().clone();
            Ok(Expression::String(new))
        }
        Expression::String(s) => {
            let mut array = Array::with_capacity(values.len());
            for v in values {
                array.push(Expression::String(Decorated::new(v.clone())));
            }
            *array.decor_mut() = s.decor().clone();
            Ok(Expression::Array(array))
        }
        Expression::Array(old_array) => {
            let mut old_items: Vec<Option<&Decorated<String>>> =
                Vec::with_capacity(old_array.len());
            for item in old_array.iter() {
                match item {
                    Expression::String(s) => old_items.push(Some(s)),
                    other => {
                        return Err(NotLiteral::new(
                            other.span(),
                            "an action list that is not all literal strings",
                        ));
                    }
                }
            }
            let prefix_of = |i: usize| {
                old_array
                    .get(i)
                    .and_then(|e| e.decor().prefix())
                    .map(|p| p.to_string())
            };
            let first_prefix = prefix_of(0).unwrap_or_default();
            let multiline = old_array
                .iter()
                .any(|e| e.decor().prefix().is_some_and(|p| p.contains('\n')));
            // The whitespace that starts a following element: newline plus indent, or one space.
            let between = if multiline {
                let source = if first_prefix.contains('\n') {
                    first_prefix.clone()
                } else {
                    prefix_of(1).unwrap_or_default()
                };
                format!("\n{}", source.rsplit('\n').next().unwrap_or(""))
            } else {
                " ".to_string()
            };
            let mut array = Array::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                let reused = old_items
                    .iter_mut()
                    .enumerate()
                    .find(|(_, s)| s.is_some_and(|s| s.value() == v));
                let mut item = match reused {
                    Some((j, slot)) => {
                        let mut kept = slot
                            .take()
                            .cloned()
                            .unwrap_or_else(|| Decorated::new(v.clone()));
                        if (i == 0) != (j == 0) || !multiline {
                            kept.decor_mut().set_prefix(if i == 0 {
                                first_prefix.clone()
                            } else {
                                between.clone()
                            });
                        }
                        kept
                    }
                    None => {
                        let mut fresh = Decorated::new(v.clone());
                        fresh.decor_mut().set_prefix(if i == 0 {
                            first_prefix.clone()
                        } else {
                            between.clone()
                        });
                        fresh.decor_mut().set_suffix("");
                        fresh
                    }
                };
                if !multiline && i > 0 {
                    item.decor_mut().set_prefix(" ");
                }
                array.push(Expression::String(item));
            }
            // A comment after the old last element described it; it goes when that element does.
            let last_kept = !old_array.is_empty()
                && old_items.last().is_some_and(Option::is_none)
                && values.last()
                    == old_array
                        .iter()
                        .last()
                        .and_then(|e| e.as_str())
                        .map(str::to_string)
                        .as_ref();
            let trailing = old_array.trailing().to_string();
            if last_kept
                || !(trailing.contains('#') || trailing.contains("//") || trailing.contains("/*"))
            {
                array.set_trailing(old_array.trailing().clone());
            } else {
                array.set_trailing(format!("\n{}", trailing.rsplit('\n').next().unwrap_or("")));
            }
            array.set_trailing_comma(old_array.trailing_comma() && !values.is_empty());
            *array.decor_mut() = old_array.decor().clone();
            Ok(Expression::Array(array))
        }
        other => Err(NotLiteral::new(
            other.span(),
            "the action list is not a literal",
        )),
    }
}

const MERGED_DOCUMENT_ATTRIBUTES: [&str; 4] = [
    "source_policy_documents",
    "override_policy_documents",
    "source_json",
    "override_json",
];

/// Edits the `statement` blocks of a `data "aws_iam_policy_document"` body.
fn edit_statement_blocks(
    body: &mut Body,
    changes: &[StatementChange],
    span: Option<Range<usize>>,
) -> Result<(), Found> {
    if body
        .get_blocks("dynamic")
        .any(|b| b.has_exact_labels(&["statement"]))
    {
        return Err(NotLiteral::new(span, "statements come from a dynamic block").into());
    }
    if let Some(attr) = MERGED_DOCUMENT_ATTRIBUTES
        .iter()
        .find(|a| body.has_attribute(a))
    {
        return Err(NotLiteral::new(span, format!("statements are merged from `{attr}`")).into());
    }
    let indices: Vec<usize> = body
        .iter()
        .enumerate()
        .filter(|(_, s)| s.as_block().is_some_and(|b| b.has_ident("statement")))
        .map(|(i, _)| i)
        .collect();
    if indices.len() != changes.len() {
        return Err(Found::Mismatch {
            span,
            message: format!(
                "{} statement blocks here, {} in the plan",
                indices.len(),
                changes.len()
            ),
        });
    }
    if changes.iter().all(|c| *c == StatementChange::Remove) {
        return Err(NotLiteral::new(
            span,
            "every statement would be removed; delete the policy instead",
        )
        .into());
    }
    // The statement blocks each long kept list adds after its own, by body index.
    let mut added: BTreeMap<usize, Vec<Block>> = BTreeMap::new();
    for (&index, change) in indices.iter().zip(changes) {
        let StatementChange::SetActions(actions) = change else {
            continue;
        };
        let Some(Structure::Block(statement)) = body.get_mut(index) else {
            continue;
        };
        let statement_span = statement.span();
        set_block_actions(
            &mut statement.body,
            first_piece(actions),
            statement_span.clone(),
        )?;
        if actions.len() > STATEMENT_ACTION_CAP {
            added.insert(index, block_pieces(statement, actions, statement_span)?);
        }
    }
    // From the last, so the indices of the earlier ones still hold.
    for (&index, change) in indices.iter().zip(changes).rev() {
        if *change == StatementChange::Remove {
            body.remove(index);
        } else if let Some(pieces) = added.remove(&index) {
            for (k, piece) in pieces.into_iter().enumerate() {
                body.insert(index + 1 + k, piece);
            }
        }
    }
    // With the body's first structure gone, its successor's leading blank lines would follow the `{`.
    let first_removed =
        indices.first() == Some(&0) && changes.first() == Some(&StatementChange::Remove);
    if let (true, Some(first)) = (first_removed, body.get_mut(0)) {
        if let Some(prefix) = first.decor().prefix().map(|p| p.to_string()) {
            first
                .decor_mut()
                .set_prefix(without_leading_blank_lines(&prefix));
        }
    }
    Ok(())
}

/// The `statement` blocks inserted after `statement` (already holding the first piece) for the
/// rest of `actions`: copies of it with the next pieces and numbered `sid`s, each after a blank
/// line at the block's indent, as `split_statement` writes them.
fn block_pieces(
    statement: &Block,
    actions: &[String],
    span: Option<Range<usize>>,
) -> Result<Vec<Block>, NotLiteral> {
    let prefix = statement
        .decor()
        .prefix()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let indent = prefix.rsplit('\n').next().unwrap_or("").to_string();
    let mut pieces = Vec::new();
    for (n, chunk) in actions.chunks(STATEMENT_ACTION_CAP).enumerate().skip(1) {
        let mut piece = statement.clone();
        set_block_actions(&mut piece.body, chunk, span.clone())?;
        if let Some(mut sid) = piece.body.get_attribute_mut("sid") {
            let Expression::String(old) = sid.value_mut() else {
                return Err(NotLiteral::new(
                    span,
                    "a statement sid that is not a literal string",
                ));
            };
            let mut new = Decorated::new(part_sid(old.value(), n));
            *new.decor_mut() = old.decor().clone();
            *old = new;
        }
        piece.decor_mut().set_prefix(format!("\n{indent}"));
        piece.decor_mut().set_suffix("");
        pieces.push(piece);
    }
    Ok(pieces)
}

/// `prefix` without its leading whitespace-only lines (comments and the final indent stay).
fn without_leading_blank_lines(prefix: &str) -> String {
    let mut rest = prefix;
    while let Some(i) = rest.find('\n') {
        if rest[..i].trim().is_empty() {
            rest = &rest[i + 1..];
        } else {
            break;
        }
    }
    rest.to_string()
}

/// Replaces a statement block's `actions`/`not_actions` by `actions = [...]`.
fn set_block_actions(
    body: &mut Body,
    actions: &[String],
    span: Option<Range<usize>>,
) -> Result<(), NotLiteral> {
    let Some(index) = body.iter().position(|s| {
        s.as_attribute()
            .is_some_and(|a| a.has_key("actions") || a.has_key("not_actions"))
    }) else {
        return Err(NotLiteral::new(
            span,
            "a statement block without a literal `actions`",
        ));
    };
    let Some(Structure::Attribute(attr)) = body.get_mut(index) else {
        return Err(NotLiteral::new(
            span,
            "a statement block without a literal `actions`",
        ));
    };
    let new_value = rebuild_string_list(&attr.value, actions)?;
    if attr.has_key("actions") {
        attr.value = new_value;
        return Ok(());
    }
    let old_len = attr.key.value().as_str().len();
    let mut key = Decorated::new(Ident::new("actions"));
    *key.decor_mut() = padded_decor(attr.key.decor().clone(), old_len, "actions".len());
    let mut renamed = Attribute::new(key, new_value);
    *renamed.decor_mut() = attr.decor().clone();
    // A body cannot hold two attributes with one key, so the old one goes before the new one comes.
    body.remove(index);
    body.insert(index, renamed);
    realign_body(body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(resource_type: &str, name: &str, is_data: bool) -> PolicyLocation {
        PolicyLocation {
            module_key: String::new(),
            resource_type: resource_type.into(),
            resource_name: name.into(),
            is_data,
            target: PolicyTarget::PolicyAttribute,
        }
    }

    fn set(actions: &[&str]) -> StatementChange {
        StatementChange::SetActions(actions.iter().map(|s| s.to_string()).collect())
    }

    fn edit(
        text: &str,
        location: &PolicyLocation,
        changes: &[StatementChange],
    ) -> (Rewrite, String) {
        let mut file = TerraformFileMut::parse("main.tf", text).unwrap();
        let rewrite = file.replace_policy_actions(location, changes).unwrap();
        let out = file.render();
        hcl_edit::parser::parse_body(&out).unwrap();
        (rewrite, out)
    }

    const JSONENCODE: &str = r#"# Role policy for the app.
resource "aws_iam_role_policy" "app" {
  name = "app" # inline comment
  role = aws_iam_role.app.id

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Read"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = "*"
      },
      {
        Effect    = "Allow"
        NotAction = [
          "iam:*", # everything but IAM
        ]
        Resource  = "*"
      },
      {
        Effect   = "Allow"
        Action   = "ec2:*"
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role" "app" {
  name = "app"
}
"#;

    #[test]
    fn unedited_file_prints_back_byte_identical() {
        for text in [
            JSONENCODE,
            "a = 1\n\n\n# c\nb = <<-EOF\n  x $${y}\n  EOF\n",
            "x = [\r\n  1, # one\r\n  2,\r\n]\r\n",
        ] {
            assert_eq!(
                TerraformFileMut::parse("t.tf", text).unwrap().render(),
                text
            );
        }
    }

    #[test]
    fn jsonencode_actions_shrink_in_place() {
        let loc = location("aws_iam_role_policy", "app", false);
        let (rewrite, out) = edit(
            JSONENCODE,
            &loc,
            &[
                set(&["s3:GetObject"]),
                set(&["sqs:SendMessage", "sqs:ReceiveMessage"]),
                StatementChange::Remove,
            ],
        );
        assert_eq!(rewrite, Rewrite::Edited(PolicyForm::JsonEncode));
        let expected = JSONENCODE
            .replace(r#"["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]"#, r#"["s3:GetObject"]"#)
            .replace(
                "        Effect    = \"Allow\"\n        NotAction = [\n          \"iam:*\", # everything but IAM\n        ]\n        Resource  = \"*\"\n",
                "        Effect   = \"Allow\"\n        Action   = [\n          \"sqs:SendMessage\",\n          \"sqs:ReceiveMessage\",\n        ]\n        Resource = \"*\"\n",
            )
            .replace("      },\n      {\n        Effect   = \"Allow\"\n        Action   = \"ec2:*\"\n        Resource = \"*\"\n      },\n", "      },\n");
        assert_ne!(expected, JSONENCODE);
        assert_eq!(out, expected);
    }

    fn snapshot_edit(
        name: &str,
        text: &str,
        location: &PolicyLocation,
        changes: &[StatementChange],
    ) -> Rewrite {
        let (rewrite, out) = edit(text, location, changes);
        insta::assert_snapshot!(name, out);
        rewrite
    }

    #[test]
    fn removing_the_first_statement_keeps_the_layout() {
        let loc = location("aws_iam_role_policy", "app", false);
        let (_, out) = edit(
            JSONENCODE,
            &loc,
            &[
                StatementChange::Remove,
                StatementChange::Keep,
                StatementChange::Keep,
            ],
        );
        assert!(
            out.contains(
                "    Statement = [\n      {\n        Effect    = \"Allow\"\n        NotAction"
            ),
            "{out}"
        );
        assert!(!out.contains("s3:GetObject"));
    }

    #[test]
    fn removing_the_last_statement_without_trailing_comma_keeps_the_bracket_on_its_line() {
        let text = JSONENCODE.replace(
            "        Resource = \"*\"\n      },\n    ]",
            "        Resource = \"*\"\n      }\n    ]",
        );
        assert_ne!(text, JSONENCODE);
        let loc = location("aws_iam_role_policy", "app", false);
        let (_, out) = edit(
            &text,
            &loc,
            &[
                StatementChange::Keep,
                StatementChange::Keep,
                StatementChange::Remove,
            ],
        );
        assert!(
            out.contains("        Resource  = \"*\"\n      }\n    ]\n  })"),
            "{out}"
        );
        assert!(!out.contains("ec2:*"));
    }

    const POLICY_DOCUMENT: &str = r#"data "aws_iam_policy_document" "app" {
  # Reads.
  statement {
    sid       = "Read"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = ["arn:aws:s3:::b/$${aws:username}/*"]
  }

  # Everything but IAM.
  statement {
    effect      = "Allow"
    not_actions = ["iam:*"]
    resources   = ["*"]
  }

  statement {
    actions   = ["ec2:*"]
    resources = ["*"]
  }
}
"#;

    #[test]
    fn policy_document_statement_blocks() {
        let loc = location("aws_iam_policy_document", "app", true);
        let rewrite = snapshot_edit(
            "policy_document_statement_blocks",
            POLICY_DOCUMENT,
            &loc,
            &[
                set(&["s3:GetObject"]),
                set(&["sqs:SendMessage"]),
                StatementChange::Remove,
            ],
        );
        assert_eq!(rewrite, Rewrite::Edited(PolicyForm::PolicyDocumentBlocks));
    }

    #[test]
    fn heredoc_json_keeps_indentation_and_escapes() {
        let text = r#"resource "aws_iam_policy" "p" {
  name   = "p"
  policy = <<-EOF
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::b/$${aws:username}/*"
            }
        ]
    }
  EOF
}
"#;
        let loc = location("aws_iam_policy", "p", false);
        let rewrite = snapshot_edit("heredoc_indented", text, &loc, &[set(&["s3:GetObject"])]);
        assert_eq!(rewrite, Rewrite::Edited(PolicyForm::Heredoc));
        let plain = "resource \"aws_iam_policy\" \"p\" {\n  policy = <<EOF\n{\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:*\", \"Resource\": \"*\"}]\n}\nEOF\n}\n";
        snapshot_edit(
            "heredoc_plain",
            plain,
            &loc,
            &[set(&["s3:GetObject", "s3:PutObject"])],
        );
    }

    #[test]
    fn quoted_json_string() {
        let text = "resource \"aws_iam_policy\" \"p\" {\n  policy = \"{\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":[\\\"s3:*\\\"],\\\"Resource\\\":\\\"arn:aws:s3:::b/$${aws:username}\\\"}]}\" # inline\n}\n";
        let loc = location("aws_iam_policy", "p", false);
        let (rewrite, out) = edit(text, &loc, &[set(&["s3:GetObject"])]);
        assert_eq!(rewrite, Rewrite::Edited(PolicyForm::QuotedString));
        assert_eq!(
            out,
            text.replace("[\\\"s3:*\\\"]", "[\\\"s3:GetObject\\\"]")
        );
    }

    #[test]
    fn file_calls_point_at_the_json_file() {
        let loc = location("aws_iam_policy", "p", false);
        for (call, templated) in [
            (r#"file("${path.module}/policies/p.json")"#, false),
            (r#"templatefile("policies/p.json", {})"#, true),
        ] {
            let text = format!("resource \"aws_iam_policy\" \"p\" {{\n  policy = {call}\n}}\n");
            let mut file = TerraformFileMut::parse("main.tf", &text).unwrap();
            let rewrite = file
                .replace_policy_actions(&loc, &[set(&["s3:GetObject"])])
                .unwrap();
            assert_eq!(
                rewrite,
                Rewrite::JsonFile {
                    path: "policies/p.json".into(),
                    templated,
                    place: "main.tf:2:12".into()
                }
            );
            assert_eq!(file.render(), text);
        }
    }

    #[test]
    fn computed_policies_are_reported_with_their_place() {
        let loc = location("aws_iam_policy", "p", false);
        let cases = [
            ("var.policy", "the policy comes from var.policy"),
            (
                "data.aws_iam_policy_document.x.json",
                "the policy comes from data.aws_iam_policy_document.x.json",
            ),
            (
                "jsonencode(merge(local.a, local.b))",
                "jsonencode() of a value that is not an object literal",
            ),
            (
                "jsonencode({ Statement = [for s in var.s : s] })",
                "Statement is not a literal list",
            ),
            (
                "jsonencode({ Statement = [{ Effect = \"Allow\", Action = var.actions }] })",
                "the action list is not a literal",
            ),
            (
                "\"{\\\"Statement\\\": ${var.s}}\"",
                "the policy string interpolates values",
            ),
        ];
        for (expr, why) in cases {
            let text = format!(
                "resource \"aws_iam_policy\" \"p\" {{\n  name   = \"p\"\n  policy = {expr}\n}}\n"
            );
            let mut file = TerraformFileMut::parse("m/main.tf", &text).unwrap();
            match file
                .replace_policy_actions(&loc, &[set(&["s3:GetObject"])])
                .unwrap()
            {
                Rewrite::Computed { place, why: got } => {
                    assert!(place.starts_with("m/main.tf:3:"), "{place}");
                    assert_eq!(got, why, "{expr}");
                }
                other => panic!("{expr}: {other:?}"),
            }
            assert_eq!(file.render(), text, "nothing is modified");
        }
        let dynamic = "data \"aws_iam_policy_document\" \"d\" {\n  dynamic \"statement\" {\n    for_each = var.s\n    content {\n      actions = statement.value\n    }\n  }\n}\n";
        let mut file = TerraformFileMut::parse("main.tf", dynamic).unwrap();
        let rewrite = file
            .replace_policy_actions(
                &location("aws_iam_policy_document", "d", true),
                &[set(&["a:b"])],
            )
            .unwrap();
        assert!(
            matches!(rewrite, Rewrite::Computed { ref why, .. } if why.contains("dynamic")),
            "{rewrite:?}"
        );
    }

    #[test]
    fn role_inline_policy_block_by_name() {
        let text = r#"resource "aws_iam_role" "r" {
  name = "r"

  inline_policy {
    name   = "other"
    policy = jsonencode({ Statement = [{ Effect = "Allow", Action = ["sqs:*"], Resource = "*" }] })
  }

  inline_policy {
    name   = "s3"
    policy = jsonencode({ Statement = [{ Effect = "Allow", Action = ["s3:*", "s3:GetObject"], Resource = "*" }] })
  }
}
"#;
        let mut loc = location("aws_iam_role", "r", false);
        loc.target = PolicyTarget::InlinePolicyBlock {
            name: Some("s3".into()),
        };
        let (rewrite, out) = edit(text, &loc, &[set(&["s3:GetObject"])]);
        assert_eq!(rewrite, Rewrite::Edited(PolicyForm::JsonEncode));
        assert_eq!(
            out,
            text.replace(r#"["s3:*", "s3:GetObject"]"#, r#"["s3:GetObject"]"#)
        );
    }

    #[test]
    fn removing_the_first_statement_block_leaves_no_blank_line_after_the_brace() {
        let loc = location("aws_iam_policy_document", "app", true);
        let (_, out) = edit(
            POLICY_DOCUMENT,
            &loc,
            &[
                StatementChange::Remove,
                StatementChange::Keep,
                StatementChange::Keep,
            ],
        );
        assert!(out.starts_with("data \"aws_iam_policy_document\" \"app\" {\n  # Everything but IAM.\n  statement {\n"), "{out}");
    }

    #[test]
    fn crlf_files_stay_crlf() {
        let text = JSONENCODE.replace('\n', "\r\n");
        let loc = location("aws_iam_role_policy", "app", false);
        let (_, out) = edit(
            &text,
            &loc,
            &[
                set(&["s3:GetObject"]),
                StatementChange::Keep,
                StatementChange::Keep,
            ],
        );
        assert_eq!(out.matches('\n').count(), out.matches("\r\n").count());
        assert_eq!(
            out,
            text.replace(
                r#"["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]"#,
                r#"["s3:GetObject"]"#
            )
        );
    }

    #[test]
    fn single_statement_object_and_bare_action_string() {
        let text = "resource \"aws_iam_policy\" \"p\" {\n  policy = jsonencode({\n    Statement = {\n      Effect    = \"Allow\"\n      NotAction = \"iam:*\"\n      Resource  = \"*\"\n    }\n  })\n}\n";
        let loc = location("aws_iam_policy", "p", false);
        let (_, out) = edit(text, &loc, &[set(&["s3:GetObject"])]);
        assert_eq!(
            out,
            "resource \"aws_iam_policy\" \"p\" {\n  policy = jsonencode({\n    Statement = {\n      Effect   = \"Allow\"\n      Action   = \"s3:GetObject\"\n      Resource = \"*\"\n    }\n  })\n}\n"
        );
        let (_, out) = edit(text, &loc, &[set(&["s3:GetObject", "s3:PutObject"])]);
        assert!(
            out.contains("      Action   = [\"s3:GetObject\", \"s3:PutObject\"]\n"),
            "{out}"
        );
    }

    /// `n` invented action names, in order.
    fn many(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("s3:Act{i:03}")).collect()
    }

    /// A one-line HCL list of `actions`, as the editor writes a fresh one.
    fn hcl_list(actions: &[String]) -> String {
        let quoted: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
        format!("[{}]", quoted.join(", "))
    }

    #[test]
    fn a_kept_list_over_the_cap_inserts_statement_objects_after_its_own() {
        // Regression (issue 14): the patch set 320 actions on one statement while the
        // suggestion lists them as three statements of at most 150.
        let actions = many(320);
        let loc = location("aws_iam_role_policy", "app", false);
        let (rewrite, out) = edit(
            JSONENCODE,
            &loc,
            &[
                StatementChange::SetActions(actions.clone()),
                StatementChange::Keep,
                StatementChange::Remove,
            ],
        );
        assert_eq!(rewrite, Rewrite::Edited(PolicyForm::JsonEncode));
        let piece = |sid: &str, list: &[String]| {
            format!(
                "      {{\n        Sid      = \"{sid}\"\n        Effect   = \"Allow\"\n        Action   = {}\n        Resource = \"*\"\n      }},\n",
                hcl_list(list)
            )
        };
        let first = "      {\n        Sid      = \"Read\"\n        Effect   = \"Allow\"\n        Action   = [\"s3:GetObject\", \"s3:PutObject\", \"s3:DeleteObject\"]\n        Resource = \"*\"\n      },\n";
        let ec2 = "      {\n        Effect   = \"Allow\"\n        Action   = \"ec2:*\"\n        Resource = \"*\"\n      },\n";
        assert!(JSONENCODE.contains(first) && JSONENCODE.contains(ec2));
        let expected = JSONENCODE.replace(ec2, "").replace(
            first,
            &[
                piece("Read", &actions[..150]),
                piece("ReadPart2", &actions[150..300]),
                piece("ReadPart3", &actions[300..]),
            ]
            .concat(),
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn a_long_list_in_the_last_statement_without_trailing_comma_keeps_the_bracket_after_the_last_piece()
     {
        let text = "resource \"aws_iam_policy\" \"p\" {\n  policy = jsonencode({\n    Statement = [{\n      Effect   = \"Allow\"\n      Action   = [\"s3:*\", \"ec2:*\"]\n      Resource = \"*\"\n    }]\n  })\n}\n";
        let actions = many(151);
        let loc = location("aws_iam_policy", "p", false);
        let (_, out) = edit(text, &loc, &[StatementChange::SetActions(actions.clone())]);
        let piece = |list: &[String]| {
            format!(
                "{{\n      Effect   = \"Allow\"\n      Action   = {}\n      Resource = \"*\"\n    }}",
                hcl_list(list)
            )
        };
        assert_eq!(
            out,
            format!(
                "resource \"aws_iam_policy\" \"p\" {{\n  policy = jsonencode({{\n    Statement = [{}, {}]\n  }})\n}}\n",
                piece(&actions[..150]),
                piece(&actions[150..])
            )
        );
    }

    #[test]
    fn a_single_statement_object_over_the_cap_becomes_a_list_of_statements() {
        let text = "resource \"aws_iam_policy\" \"p\" {\n  policy = jsonencode({\n    Statement = {\n      Sid       = \"All\"\n      Effect    = \"Allow\"\n      NotAction = \"iam:*\"\n      Resource  = \"*\"\n    }\n  })\n}\n";
        let actions = many(200);
        let loc = location("aws_iam_policy", "p", false);
        let (_, out) = edit(text, &loc, &[StatementChange::SetActions(actions.clone())]);
        let piece = |sid: &str, list: &[String]| {
            format!(
                "{{\n      Sid      = \"{sid}\"\n      Effect   = \"Allow\"\n      Action   = {}\n      Resource = \"*\"\n    }}",
                hcl_list(list)
            )
        };
        assert_eq!(
            out,
            format!(
                "resource \"aws_iam_policy\" \"p\" {{\n  policy = jsonencode({{\n    Statement = [{}, {}]\n  }})\n}}\n",
                piece("All", &actions[..150]),
                piece("AllPart2", &actions[150..])
            )
        );
    }

    #[test]
    fn a_kept_list_over_the_cap_inserts_statement_blocks_after_its_own() {
        let actions = many(301);
        let loc = location("aws_iam_policy_document", "app", true);
        let (rewrite, out) = edit(
            POLICY_DOCUMENT,
            &loc,
            &[
                StatementChange::SetActions(actions.clone()),
                set(&["sqs:SendMessage"]),
                StatementChange::Remove,
            ],
        );
        assert_eq!(rewrite, Rewrite::Edited(PolicyForm::PolicyDocumentBlocks));
        let piece = |sid: &str, list: &[String]| {
            format!(
                "  statement {{\n    sid       = \"{sid}\"\n    actions   = {}\n    resources = [\"arn:aws:s3:::b/$${{aws:username}}/*\"]\n  }}\n",
                hcl_list(list)
            )
        };
        let expected = format!(
            "data \"aws_iam_policy_document\" \"app\" {{\n  # Reads.\n{}\n{}\n{}\n  # Everything but IAM.\n  statement {{\n    effect    = \"Allow\"\n    actions   = [\"sqs:SendMessage\"]\n    resources = [\"*\"]\n  }}\n}}\n",
            piece("Read", &actions[..150]),
            piece("ReadPart2", &actions[150..300]),
            piece("ReadPart3", &actions[300..]),
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn a_sid_that_is_not_a_literal_cannot_be_numbered_so_nothing_is_edited() {
        let text = POLICY_DOCUMENT.replace("sid       = \"Read\"", "sid       = var.sid");
        let loc = location("aws_iam_policy_document", "app", true);
        let mut file = TerraformFileMut::parse("main.tf", &text).unwrap();
        let rewrite = file
            .replace_policy_actions(
                &loc,
                &[
                    StatementChange::SetActions(many(151)),
                    StatementChange::Keep,
                    StatementChange::Keep,
                ],
            )
            .unwrap();
        assert!(
            matches!(&rewrite, Rewrite::Computed { why, .. } if why.contains("sid")),
            "{rewrite:?}"
        );
        assert_eq!(file.render(), text);
    }

    #[test]
    fn errors_are_one_line() {
        let err = TerraformFileMut::parse("bad.tf", "resource \"a\" {\n  x = \n}\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("bad.tf: not valid HCL:"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn statement_count_mismatch_is_an_error_naming_the_place() {
        let loc = location("aws_iam_role_policy", "app", false);
        let mut file = TerraformFileMut::parse("main.tf", JSONENCODE).unwrap();
        let err = file
            .replace_policy_actions(&loc, &[StatementChange::Remove])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "main.tf:8:17: 3 statements here, 1 in the plan");
    }

    #[test]
    fn statement_block_count_mismatch_is_an_error_not_a_suggestion() {
        let loc = location("aws_iam_policy_document", "app", true);
        let mut file = TerraformFileMut::parse("main.tf", POLICY_DOCUMENT).unwrap();
        let err = file
            .replace_policy_actions(&loc, &[StatementChange::Keep, StatementChange::Remove])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "main.tf:1:1: 3 statement blocks here, 2 in the plan");
    }
}
