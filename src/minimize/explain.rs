//! A plain-text rendering of a suggestion's verdicts: what stays, what goes, and why.

use super::{PolicySuggestion, StatementChange};
use std::fmt::Write;

/// Explains a suggestion in plain text, one line per statement change and per action.
pub fn explain(s: &PolicySuggestion) -> String {
    let mut out = String::new();
    let name = if s.policy_address.is_empty() {
        "policy"
    } else {
        &s.policy_address
    };
    let _ = writeln!(
        out,
        "{name}: {} ({} of {} actions kept)",
        s.applicability, s.kept, s.granted
    );
    for (i, (change, st)) in s.statements.iter().zip(&s.current.statements).enumerate() {
        let sid = st
            .sid
            .as_deref()
            .map(|x| format!(" {x:?}"))
            .unwrap_or_default();
        let what = match change {
            StatementChange::Keep => "keep".to_string(),
            StatementChange::Remove => "remove".to_string(),
            StatementChange::SetActions(a) => format!("actions -> {}", a.join(", ")),
        };
        let _ = writeln!(out, "  statement {i}{sid}: {what}");
    }
    let width = s.actions.iter().map(|v| v.action.len()).max().unwrap_or(0);
    for v in s.actions.iter() {
        let verb = if v.keep { "keep  " } else { "remove" };
        let _ = writeln!(out, "  {verb} {:<width$}  {}", v.action, v.reason);
    }
    for note in &s.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}
