//! Managed policy documents from the IAM API: `GetPolicy` for the default version id, then
//! `GetPolicyVersion` for its document, which IAM returns URL-encoded (RFC 3986).
//!
//! Main entry points: [`fetch_policy_document`] (one ARN), [`fetch_policy_documents`] (many,
//! keeping going past policies IAM does not have) and [`resolve_aws_managed`] (the pipeline step
//! that fills the AWS-managed documents of a plan's principals, online or from the snapshot).
//! Errors are [`AwsError`]s sorted by `crate::usage::aws::classify`. Which document wins (online,
//! snapshot) is `crate::iam::aws_managed::resolve`.

use super::aws::{AwsArgs, AwsError, classify};
use crate::iam::Principal;
use crate::iam::aws_managed::{self, AwsManagedPolicies};
use crate::iam::policy::PolicyDocument;
use std::collections::BTreeMap;

/// Where AWS-managed policy documents come from (`--aws-managed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AwsManagedSource {
    /// The IAM API, then the bundled snapshot for misses.
    Online,
    /// The snapshot bundled in iamtrim.
    #[default]
    Snapshot,
    /// Left unresolved: no replacement is suggested.
    Off,
}

/// Why AWS-managed documents could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Online documents asked of a command that does not use the network.
    #[error("--aws-managed online needs the network, which this command does not use")]
    OnlineWithoutNetwork,
    /// AWS could not be reached (credentials, configuration).
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The async runtime could not start.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Why a policy document could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum IamPolicyError {
    /// The IAM call failed.
    #[error("{arn}: {source}")]
    Aws {
        /// The policy.
        arn: String,
        /// The classified SDK error.
        #[source]
        source: AwsError,
    },
    /// IAM answered without the field we need.
    #[error("{arn}: {operation} returned no {field}")]
    Incomplete {
        /// The policy.
        arn: String,
        /// The API operation.
        operation: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// The document does not decode or parse as a policy.
    #[error("{arn} version {version}: the document is not a policy: {reason}")]
    Invalid {
        /// The policy.
        arn: String,
        /// Its version id.
        version: String,
        /// What is wrong.
        reason: String,
    },
}

impl IamPolicyError {
    /// True when IAM has no such policy (the caller may fall back to another source).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            IamPolicyError::Aws {
                source: AwsError::NotFound { .. },
                ..
            }
        )
    }
}

/// A fetched document and the version it is.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedPolicy {
    /// The default version id, e.g. `v188`.
    pub version_id: String,
    /// Its document.
    pub document: PolicyDocument,
}

/// The default version's document of the managed policy `arn`.
pub async fn fetch_policy_document(
    client: &aws_sdk_iam::Client,
    arn: &str,
) -> Result<FetchedPolicy, IamPolicyError> {
    let aws = |source: AwsError| IamPolicyError::Aws {
        arn: arn.to_string(),
        source,
    };
    let policy = client
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| aws(classify("GetPolicy", e)))?;
    let version_id = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .ok_or_else(|| IamPolicyError::Incomplete {
            arn: arn.to_string(),
            operation: "GetPolicy",
            field: "DefaultVersionId",
        })?
        .to_string();
    let version = client
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&version_id)
        .send()
        .await
        .map_err(|e| aws(classify("GetPolicyVersion", e)))?;
    let encoded = version
        .policy_version()
        .and_then(|v| v.document())
        .ok_or_else(|| IamPolicyError::Incomplete {
            arn: arn.to_string(),
            operation: "GetPolicyVersion",
            field: "Document",
        })?;
    let invalid = |reason: String| IamPolicyError::Invalid {
        arn: arn.to_string(),
        version: version_id.clone(),
        reason,
    };
    let text = decode_document(encoded).map_err(invalid)?;
    let document = PolicyDocument::parse_str(&text).map_err(|e| invalid(e.to_string()))?;
    Ok(FetchedPolicy {
        version_id,
        document,
    })
}

/// Fetches each of `arns`; the found ones by ARN, the failures in input order.
///
/// A credentials or access problem fails every call alike, so it stops at the first such error
/// rather than repeating it once per policy.
pub async fn fetch_policy_documents(
    client: &aws_sdk_iam::Client,
    arns: &[String],
) -> (BTreeMap<String, FetchedPolicy>, Vec<IamPolicyError>) {
    let mut found = BTreeMap::new();
    let mut failed = Vec::new();
    for arn in arns {
        match fetch_policy_document(client, arn).await {
            Ok(p) => {
                found.insert(arn.clone(), p);
            }
            Err(e) => {
                let fatal = matches!(
                    &e,
                    IamPolicyError::Aws {
                        source: AwsError::Credentials { .. } | AwsError::AccessDenied { .. },
                        ..
                    }
                );
                failed.push(e);
                if fatal {
                    break;
                }
            }
        }
    }
    (found, failed)
}

/// A policy document as IAM returns it: URL-encoded, or (from some emulators) plain JSON.
pub fn decode_document(text: &str) -> Result<String, String> {
    // An encoded document starts with `%7B`; a plain one with `{`, which decoding could corrupt
    // where a value holds a literal `%`.
    if text.trim_start().starts_with('{') {
        return Ok(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent escape at byte {i}"))?;
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| format!("decoded document is not UTF-8: {e}"))
}

/// Fills AWS-managed documents of `principals` as `source` says (online: the IAM API, then the
/// bundled snapshot for misses); returns notes for the report.
pub fn resolve_aws_managed(
    principals: &mut [Principal],
    source: AwsManagedSource,
    aws: &AwsArgs,
    network: bool,
) -> Result<Vec<String>, ResolveError> {
    let mut notes = Vec::new();
    let mut online: BTreeMap<String, PolicyDocument> = BTreeMap::new();
    match source {
        AwsManagedSource::Off => return Ok(notes),
        AwsManagedSource::Snapshot => {}
        AwsManagedSource::Online => {
            if !network {
                return Err(ResolveError::OnlineWithoutNetwork);
            }
            let arns = aws_managed::unresolved_arns(principals);
            if !arns.is_empty() {
                let (found, failed) = super::aws::run_with_aws(aws, 0, |config| async move {
                    let client = aws_sdk_iam::Client::new(&config);
                    Ok::<_, ResolveError>(fetch_policy_documents(&client, &arns).await)
                })?;
                for e in failed {
                    notes.push(format!(
                        "AWS-managed policy not fetched, using the bundled snapshot: {e}"
                    ));
                }
                online = found.into_iter().map(|(a, p)| (a, p.document)).collect();
            }
        }
    }
    // Nothing to look up: the snapshot is not waited for (a plan without AWS-managed policies).
    if !aws_managed::any_unresolved(principals) {
        return Ok(notes);
    }
    let snapshot = AwsManagedPolicies::embedded();
    let resolution = aws_managed::resolve(principals, &online, Some(snapshot));
    for arn in resolution.missing {
        notes.push(format!(
            "{arn}: AWS-managed policy not in the bundled snapshot ({}); not minimized",
            snapshot.source_version()
        ));
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_encoded_documents_decode() {
        assert_eq!(
            decode_document("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D")
                .unwrap(),
            r#"{"Version":"2012-10-17","Statement":[]}"#
        );
        // Plain JSON (moto) is kept as it is, `%` and all.
        assert_eq!(decode_document(r#"{"a":"50%"}"#).unwrap(), r#"{"a":"50%"}"#);
        assert!(decode_document("%7").is_err());
        assert!(decode_document("%FF").is_err());
    }
}
