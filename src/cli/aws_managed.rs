//! AWS-managed policies in the pipeline: resolving their documents after discovery (online through
//! the IAM API, else the bundled snapshot), as `--aws-managed` says. Their customer-managed
//! replacements are the minimizer's (`crate::minimize::aws_managed`).

use super::args::AwsManagedMode;
use crate::iam::aws_managed::{self, AwsManagedPolicies};
use crate::iam::{PolicyDocument, Principal};
use crate::usage::aws::AwsArgs;
use crate::usage::iam_policies::fetch_policy_documents;
use std::collections::BTreeMap;

/// Fills AWS-managed documents of `principals` as `mode` says; returns notes for the report.
pub fn resolve(
    principals: &mut [Principal],
    mode: AwsManagedMode,
    aws: &AwsArgs,
    network: bool,
) -> anyhow::Result<Vec<String>> {
    let mut notes = Vec::new();
    let mut online: BTreeMap<String, PolicyDocument> = BTreeMap::new();
    match mode {
        AwsManagedMode::Off => return Ok(notes),
        AwsManagedMode::Snapshot => {}
        AwsManagedMode::Online => {
            if !network {
                anyhow::bail!(
                    "--aws-managed online needs the network, which this command does not use"
                );
            }
            let arns = aws_managed::unresolved_arns(principals);
            if !arns.is_empty() {
                let (found, failed) =
                    crate::usage::aws::run_with_aws(aws, 0, |config| async move {
                        let client = aws_sdk_iam::Client::new(&config);
                        anyhow::Ok(fetch_policy_documents(&client, &arns).await)
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
