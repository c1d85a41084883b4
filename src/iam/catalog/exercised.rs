//! Permission-only actions that AWS services exercise with a role they assume (S3 Replication's
//! `s3:ReplicateObject`, ECS Exec's `ssmmessages:*Channel`): the curated table
//! `data/catalog/service-exercised.tsv`, compiled in. The minimizer keeps such an action when the
//! principal's trust policy lets the service in. This module only reads the table.

use crate::iam::action::ActionPattern;
use std::sync::LazyLock;

/// The table as compiled in.
static TABLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/catalog/service-exercised.tsv"
));

/// One row: a service principal exercises the actions `pattern` matches.
#[derive(Debug, Clone)]
pub struct ExercisedAction {
    /// The service principal, lower case (`s3.amazonaws.com`).
    pub service: String,
    /// The actions it exercises.
    pub pattern: ActionPattern,
    /// What the service does with them, for the reason a report gives.
    pub why: String,
}

/// Every row of the table. Malformed rows are skipped here; a test checks that there is none.
pub fn exercised_actions() -> &'static [ExercisedAction] {
    static ROWS: LazyLock<Vec<ExercisedAction>> = LazyLock::new(|| parse(TABLE).0);
    &ROWS
}

/// The rows for the service principal `service` (any case).
pub fn exercised_by(service: &str) -> impl Iterator<Item = &'static ExercisedAction> + '_ {
    exercised_actions()
        .iter()
        .filter(move |r| r.service.eq_ignore_ascii_case(service))
}

/// The rows of `text`, and the 1-based numbers of lines that are not `service<TAB>pattern<TAB>why`.
fn parse(text: &str) -> (Vec<ExercisedAction>, Vec<usize>) {
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        match fields[..] {
            [service, pattern, why] if service.contains('.') && pattern.contains(':') => {
                rows.push(ExercisedAction {
                    service: service.to_ascii_lowercase(),
                    pattern: ActionPattern::new(pattern),
                    why: why.to_string(),
                });
            }
            _ => bad.push(i + 1),
        }
    }
    (rows, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::catalog::{Catalog, Visibility};

    #[test]
    fn every_row_is_well_formed_and_names_permission_only_actions() {
        let (rows, bad) = parse(TABLE);
        assert!(bad.is_empty(), "malformed lines {bad:?}");
        assert!(!rows.is_empty());
        let catalog = Catalog::embedded();
        for row in rows {
            let found = catalog.expand(&row.pattern);
            assert!(!found.is_empty(), "{} matches nothing", row.pattern);
            for a in found {
                assert_eq!(
                    a.visibility(),
                    Visibility::PermissionOnly,
                    "{} ({})",
                    a.name(),
                    row.pattern
                );
            }
        }
    }

    #[test]
    fn s3_replication_is_exercised_by_s3() {
        assert!(exercised_by("S3.amazonaws.com").any(|r| r.pattern.matches("s3:ReplicateObject")));
        assert!(exercised_by("lambda.amazonaws.com").next().is_none());
    }
}
