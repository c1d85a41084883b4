//! One report model, many renderers: a versioned, serializable [`Report`] built once per run; each
//! format is a module. The JSON format is the serialized `Report` (docs/report-schema.md) and can be
//! read back and rendered into the others.

mod build;
pub mod json;
pub mod markdown;
pub mod text;

use crate::iam::{
    Discovery, PolicyDocument, PolicyKind, PolicySource, Principal, PrincipalKind, RiskFlag,
};
use crate::minimize::{Applicability, KeepReason, PrincipalStatus};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The formats a report renders into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for people ([`text`]).
    Text(text::TextStyle),
    /// The serialized report ([`json`]).
    Json,
    /// A pull-request comment ([`markdown`]).
    Markdown,
}

/// Writes `report` in `format` into `out`: the scan table for `scan`, the suggestions otherwise.
pub fn render(
    report: &Report,
    format: Format,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    match (format, report.command) {
        (Format::Json, _) => json::render(report, out),
        (Format::Markdown, ReportCommand::Scan) => markdown::render_scan(report, out),
        (Format::Markdown, ReportCommand::Suggest | ReportCommand::Check) => {
            markdown::render_suggest(report, out)
        }
        (Format::Text(style), ReportCommand::Scan) => text::render_scan(report, style, out),
        (Format::Text(style), ReportCommand::Suggest | ReportCommand::Check) => {
            text::render_suggest(report, style, out)
        }
    }
}

/// Bumped when a field is removed or changes meaning; adding fields does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything a run found, in one serializable value.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The command that made it.
    pub command: ReportCommand,
    /// The plan read.
    pub plan: PlanInfo,
    /// Counts.
    pub summary: Summary,
    /// Principals, riskiest first.
    pub principals: Vec<PrincipalReport>,
    /// Files written (`suggest`), relative to the repository root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileReport>,
    /// Notes for the user (ambiguous links, unknown format minors...).
    pub warnings: Vec<String>,
}

/// A file `suggest` wrote (or would write with `--dry-run`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileReport {
    /// Path relative to the repository root.
    pub path: String,
    /// A patch or a suggestion file.
    pub kind: FileKind,
    /// False with `--dry-run`.
    pub written: bool,
}

/// The command a report comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportCommand {
    /// `iamtrim scan`.
    Scan,
    /// `iamtrim suggest`.
    Suggest,
    /// `iamtrim check`.
    Check,
}

/// What kind of file `suggest` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// A unified diff of `.tf` files (`iamtrim.patch`).
    Patch,
    /// A `.tf` file with a suggested policy that cannot be edited in place.
    Suggestion,
}

/// Whether a suggestion keeps an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Still granted.
    Keep,
    /// No longer granted.
    Remove,
}

impl Verdict {
    /// The word reports print.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Keep => "keep",
            Verdict::Remove => "remove",
        }
    }
}

/// One suggested policy change.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuggestionReport {
    /// Terraform address of the policy's source block.
    pub policy_address: String,
    /// `safe` (every removed action would have been visible to the complete usage source) or
    /// `review-needed` (the notes, and each action's `review`, say why).
    pub applicability: Applicability,
    /// The document today.
    pub current: serde_json::Value,
    /// The suggested document; null means "detach this policy" (nothing of it was used).
    pub suggested: Option<serde_json::Value>,
    /// Explicit actions granted today (wildcards expanded over the catalog).
    pub granted: usize,
    /// Explicit actions the suggestion keeps.
    pub kept: usize,
    /// One verdict per granted action.
    pub actions: Vec<ActionReport>,
    /// Notes (kept statements, unknown actions...).
    pub notes: Vec<String>,
}

/// The verdict on one action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionReport {
    /// `service:Action`.
    pub action: String,
    /// Keep or remove.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
    /// Why it stays, as data (`used`, `never-logged`, `needed-by-used-action`, ...; see
    /// docs/report-schema.md); absent when removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<KeepReason>,
    /// True when it is removed although the usage source could not have seen it used: the
    /// reason, per action, that the suggestion needs review.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub review: bool,
}

impl SuggestionReport {
    /// The report of one minimizer suggestion.
    pub fn from_suggestion(s: &crate::minimize::PolicySuggestion) -> Self {
        SuggestionReport {
            policy_address: s.policy_address.clone(),
            applicability: s.applicability,
            current: s.current.to_value(),
            suggested: s.suggested.as_ref().map(|d| d.to_value()),
            granted: s.granted,
            kept: s.kept,
            actions: s
                .actions
                .iter()
                .map(|a| ActionReport {
                    action: a.action.to_string(),
                    verdict: if a.keep {
                        Verdict::Keep
                    } else {
                        Verdict::Remove
                    },
                    reason: a.reason.to_string(),
                    kind: a.kind,
                    review: a.review,
                })
                .collect(),
            notes: s.notes.clone(),
        }
    }
}

/// The plan a report is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanInfo {
    /// Path as given (`<stdin>` for `-`).
    pub path: String,
    /// `format_version`.
    pub format_version: Option<String>,
    /// `terraform_version`.
    pub terraform_version: Option<String>,
}

/// Report counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Principals found.
    pub principals: usize,
    /// Of which this plan creates (no usage history).
    pub new_principals: usize,
    /// Policy sources over all principals.
    pub policies: usize,
    /// Policy sources whose document is unknown.
    pub unknown_documents: usize,
    /// Principals with at least one risk flag.
    pub flagged: usize,
}

/// One principal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrincipalReport {
    /// Terraform instance address.
    pub address: String,
    /// Role, user or group.
    pub kind: PrincipalKind,
    /// IAM name when known.
    pub name: Option<String>,
    /// ARN; null for a principal this plan creates.
    pub arn: Option<String>,
    /// Account id from the ARN.
    pub account: Option<String>,
    /// The plan's action on it.
    pub plan_action: String,
    /// Risk flags, most severe first.
    pub flags: Vec<RiskFlag>,
    /// Distinct actions its known documents allow, wildcards expanded over the action catalog.
    pub granted_actions: usize,
    /// Policies reaching it.
    pub policies: Vec<PolicyReport>,
    /// `suggest`/`check`: `minimized`, `no usage data`, `new`, `excluded`, `unchanged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PrincipalStatus>,
    /// `suggest`/`check`: the suggested changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<SuggestionReport>,
    /// `suggest`/`check`: why the principal was not minimized, and other notes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One policy reaching a principal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyReport {
    /// Terraform address (or ARN for policies outside the plan).
    pub address: String,
    /// How it reaches the principal.
    pub kind: PolicyKind,
    /// Policy name when known.
    pub name: Option<String>,
    /// Policy ARN when known.
    pub arn: Option<String>,
    /// The attachment resource, if any.
    pub attachment: Option<String>,
    /// The group it is inherited from, if any.
    pub via_group: Option<String>,
    /// The IAM JSON document, or null when unknown (shared by the principals a policy reaches).
    pub document: Option<DocumentJson>,
    /// Why the document is null.
    pub unknown_reason: Option<String>,
}

/// A policy's IAM JSON in a report, built from the discovered document only when something reads
/// it (serializing the report, `--format json`): the text and Markdown reports never print it, and
/// building every distinct document's JSON was about a tenth of a large plan's text `scan`. Clones
/// share one value, built at most once.
#[derive(Debug, Clone)]
pub struct DocumentJson(Arc<LazyJson>);

#[derive(Debug)]
struct LazyJson {
    /// What the JSON is built from; `None` for a report read back from its JSON.
    document: Option<Arc<PolicyDocument>>,
    json: std::sync::OnceLock<serde_json::Value>,
    /// The JSON as the JSON report's pretty printer writes it where documents go (see
    /// [`json::pretty_document`]); built once per document, however many principals it reaches.
    pretty: std::sync::OnceLock<Option<Box<serde_json::value::RawValue>>>,
}

impl DocumentJson {
    /// The JSON of `document`, built on first use.
    pub fn of(document: Arc<PolicyDocument>) -> Self {
        DocumentJson(Arc::new(LazyJson {
            document: Some(document),
            json: std::sync::OnceLock::new(),
            pretty: std::sync::OnceLock::new(),
        }))
    }

    /// JSON already built (a report read back).
    pub fn from_value(json: serde_json::Value) -> Self {
        DocumentJson(Arc::new(LazyJson {
            document: None,
            json: std::sync::OnceLock::from(json),
            pretty: std::sync::OnceLock::new(),
        }))
    }

    /// The document as JSON, keys in the author's order ([`PolicyDocument::to_value`]).
    pub fn value(&self) -> &serde_json::Value {
        self.0.json.get_or_init(|| match &self.0.document {
            Some(document) => document.to_value(),
            None => serde_json::Value::Null,
        })
    }

    /// How many statements the JSON's `Statement` holds (one for a single object), without
    /// building the JSON.
    pub fn statement_count(&self) -> usize {
        match (&self.0.document, self.0.json.get()) {
            (_, Some(json)) => json
                .get("Statement")
                .map_or(0, |v| v.as_array().map_or(1, Vec::len)),
            (Some(document), None) => document.statements.len(),
            (None, None) => 0,
        }
    }

    /// The JSON as the JSON report prints it inside a principal, if it was printed.
    fn pretty_text(&self) -> Option<&str> {
        self.0
            .pretty
            .get()?
            .as_deref()
            .map(serde_json::value::RawValue::get)
    }

    /// Whether two values share one JSON (the same policy reaching several principals).
    pub fn ptr_eq(a: &DocumentJson, b: &DocumentJson) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl Serialize for DocumentJson {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Inside the JSON report's principals, the text printed once for this document, written
        // from there (an AWS-managed policy reaching hundreds of principals was most of a large
        // report).
        if json::splicing_here() {
            let pretty = self
                .0
                .pretty
                .get_or_init(|| json::pretty_document(self.value()));
            if let Some(raw) = pretty
                && json::splice(self)
            {
                return raw.serialize(serializer);
            }
        }
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DocumentJson {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(deserializer).map(DocumentJson::from_value)
    }
}

impl Report {
    /// Builds the report of `scan` from a discovery.
    pub fn from_discovery(
        command: ReportCommand,
        plan: PlanInfo,
        discovery: &Discovery,
        extra_warnings: &[String],
    ) -> Self {
        use rayon::prelude::*;
        let catalog = crate::iam::catalog::Catalog::embedded();
        // A managed policy reaches many principals: its JSON is built once, by its address.
        let mut shared: SharedJson<'_> = HashMap::new();
        for s in discovery.principals.iter().flat_map(|p| &p.policies) {
            if let Some(doc) = &s.document {
                shared
                    .entry(s.address.as_str())
                    .or_insert_with(|| (&**doc, DocumentJson::of(Arc::clone(doc))));
            }
        }
        let principals: Vec<PrincipalReport> = discovery
            .principals
            .par_iter()
            // Each piece gets its own expansion cache, which AWS-managed policies' hundreds of
            // wildcards fill: a few large pieces, rather than rayon's many small ones.
            .with_min_len((discovery.principals.len() / (4 * rayon::current_num_threads())).max(1))
            .map_init(
                || crate::minimize::GrantCounter::new(catalog),
                |grants, p| principal_report(grants, &shared, p),
            )
            .collect();
        let summary = Summary {
            principals: principals.len(),
            new_principals: principals.iter().filter(|p| p.arn.is_none()).count(),
            policies: principals.iter().map(|p| p.policies.len()).sum(),
            unknown_documents: principals
                .iter()
                .flat_map(|p| &p.policies)
                .filter(|s| s.document.is_none())
                .count(),
            flagged: principals.iter().filter(|p| !p.flags.is_empty()).count(),
        };
        let mut warnings = extra_warnings.to_vec();
        warnings.extend(discovery.warnings.iter().cloned());
        Report {
            schema_version: SCHEMA_VERSION,
            command,
            plan,
            summary,
            principals,
            files: Vec::new(),
            warnings,
        }
    }
}

/// Documents' JSON by policy address, with the document it was built from.
type SharedJson<'d> = HashMap<&'d str, (&'d PolicyDocument, DocumentJson)>;

fn principal_report<'d>(
    grants: &mut crate::minimize::GrantCounter<'_, 'd>,
    shared: &SharedJson<'_>,
    p: &'d Principal,
) -> PrincipalReport {
    PrincipalReport {
        address: p.address.clone(),
        kind: p.kind,
        name: p.name.clone(),
        arn: p.arn.clone(),
        account: p.account.clone(),
        plan_action: p.plan_action.clone(),
        flags: p.flags.clone(),
        granted_actions: grants.count(p.policies.iter().filter_map(|s| s.document.as_deref())),
        policies: p
            .policies
            .iter()
            .map(|s| policy_report(shared, s))
            .collect(),
        status: None,
        suggestions: Vec::new(),
        notes: Vec::new(),
    }
}

fn policy_report(shared: &SharedJson<'_>, s: &PolicySource) -> PolicyReport {
    let document = s
        .document
        .as_ref()
        .map(|doc| match shared.get(s.address.as_str()) {
            // The same address holds the same document; compared anyway, which costs far less.
            Some((built, json)) if std::ptr::eq(*built, &**doc) || **built == **doc => json.clone(),
            _ => DocumentJson::of(Arc::clone(doc)),
        });
    PolicyReport {
        address: s.address.clone(),
        kind: s.kind,
        name: s.name.clone(),
        arn: s.arn.clone(),
        attachment: s.attachment.clone(),
        via_group: s.via_group.clone(),
        document,
        unknown_reason: s.unknown_reason.as_ref().map(ToString::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::{PolicyKind, PrincipalKind};

    fn source(address: &str, json: &str) -> PolicySource {
        PolicySource {
            address: address.to_string(),
            kind: PolicyKind::Managed,
            name: None,
            arn: None,
            attachment: None,
            via_group: None,
            document: Some(Arc::new(PolicyDocument::parse_str(json).unwrap())),
            before: None,
            unknown_reason: None,
            origin: None,
        }
    }

    fn principal(address: &str, policies: Vec<PolicySource>) -> Principal {
        Principal {
            address: address.to_string(),
            block_address: address.to_string(),
            kind: PrincipalKind::Role,
            name: None,
            arn: None,
            account: None,
            plan_action: "create".to_string(),
            policies,
            flags: Vec::new(),
            trusted_services: Vec::new(),
        }
    }

    /// The JSON word of a closed-set value.
    fn word<T: Serialize>(value: T) -> String {
        match serde_json::to_value(value).unwrap() {
            serde_json::Value::String(s) => s,
            other => panic!("not a string: {other}"),
        }
    }

    #[test]
    fn report_enums_serialize_to_the_words_reports_always_printed() {
        // The report's closed sets were strings built from each type's Display; typed now, their
        // JSON must stay the same words (a renamed flag would break every consumer of the JSON).
        use crate::minimize::{Applicability, KeepReason, PrincipalStatus};
        for k in [
            PrincipalKind::Role,
            PrincipalKind::User,
            PrincipalKind::Group,
        ] {
            assert_eq!(word(k), k.to_string());
        }
        for k in [
            PolicyKind::Inline,
            PolicyKind::Managed,
            PolicyKind::AwsManaged,
            PolicyKind::InheritedFromGroup,
            PolicyKind::OutsideConfiguration,
        ] {
            assert_eq!(word(k), k.to_string());
        }
        for f in [
            RiskFlag::FullAdmin,
            RiskFlag::IamWrite,
            RiskFlag::PassRoleAny,
            RiskFlag::NotActionAllow,
        ] {
            assert_eq!(word(f), f.to_string());
        }
        for s in [
            PrincipalStatus::Minimized,
            PrincipalStatus::NoUsageData,
            PrincipalStatus::New,
            PrincipalStatus::Excluded,
            PrincipalStatus::Unchanged,
        ] {
            assert_eq!(word(s), s.to_string());
        }
        for a in [Applicability::Safe, Applicability::ReviewNeeded] {
            assert_eq!(word(a), a.to_string());
        }
        for r in [
            KeepReason::Used,
            KeepReason::NeverLogged,
            KeepReason::NeededByUsedAction,
            KeepReason::NeededByTrustedService,
            KeepReason::DataEventNotSeen,
            KeepReason::UnmappedEvents,
            KeepReason::NoActionLevelData,
            KeepReason::NewInPlan,
            KeepReason::Allowlisted,
            KeepReason::UnknownToCatalog,
            KeepReason::ServiceLeftAlone,
            KeepReason::StatementKeptWhole,
        ] {
            assert_eq!(word(r), r.as_str());
        }
        assert_eq!(word(Verdict::Keep), "keep");
        assert_eq!(word(Verdict::Remove), "remove");
        assert_eq!(word(FileKind::Patch), "patch");
        assert_eq!(word(FileKind::Suggestion), "suggestion");
        assert_eq!(word(ReportCommand::Scan), "scan");
        assert_eq!(word(ReportCommand::Suggest), "suggest");
        assert_eq!(word(ReportCommand::Check), "check");
        // And they read back.
        let flag: RiskFlag = serde_json::from_str("\"passrole-any\"").unwrap();
        assert_eq!(flag, RiskFlag::PassRoleAny);
        let status: PrincipalStatus = serde_json::from_str("\"no usage data\"").unwrap();
        assert_eq!(status, PrincipalStatus::NoUsageData);
    }

    #[test]
    fn a_policy_reaching_many_principals_is_built_once_and_each_document_is_its_own() {
        let shared = r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let other =
            r#"{"Statement":[{"Effect":"Allow","Action":"sqs:SendMessage","Resource":"*"}]}"#;
        let discovery = Discovery {
            principals: vec![
                principal("aws_iam_role.a", vec![source("aws_iam_policy.p", shared)]),
                principal("aws_iam_role.b", vec![source("aws_iam_policy.p", shared)]),
                // The same address with another document (never seen in a plan) gets its own JSON.
                principal("aws_iam_role.c", vec![source("aws_iam_policy.p", other)]),
            ],
            warnings: Vec::new(),
        };
        let info = PlanInfo {
            path: "plan.json".to_string(),
            format_version: None,
            terraform_version: None,
        };
        let report = Report::from_discovery(ReportCommand::Scan, info, &discovery, &[]);
        let json = |i: usize| report.principals[i].policies[0].document.clone().unwrap();
        for (i, p) in discovery.principals.iter().enumerate() {
            assert_eq!(
                *json(i).value(),
                p.policies[0].document.as_deref().unwrap().to_value()
            );
            assert_eq!(
                json(i).statement_count(),
                DocumentJson::from_value(json(i).value().clone()).statement_count()
            );
        }
        assert!(DocumentJson::ptr_eq(&json(0), &json(1)));
        assert_ne!(json(0).value(), json(2).value());
        assert_eq!(report.principals[2].granted_actions, 1);
    }
}
