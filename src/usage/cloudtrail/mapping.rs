//! CloudTrail event -> IAM action: every table that differs from "`eventSource` host = IAM prefix,
//! `eventName` = action name" lives here, in one place.
//!
//! Owns [`service_prefix`], [`action_for_event`] and [`is_data_event`]. It does not validate against
//! the action catalog: the caller's `known_action` hook does that, and whatever it rejects is
//! reported as unmapped.

use std::borrow::Cow;

/// `eventSource` hosts (without `.amazonaws.com`) whose IAM service prefix is different.
const SOURCE_PREFIX_EXCEPTIONS: &[(&str, &str)] = &[
    ("monitoring", "cloudwatch"),
    ("email", "ses"),
    ("tagging", "tag"),
    ("models.lex", "lex"),
    ("runtime.lex", "lex"),
    ("runtime-v2-lex", "lex"),
    ("runtime.sagemaker", "sagemaker"),
    ("metering-marketplace", "aws-marketplace"),
    (
        "marketplacecommerceanalytics",
        "marketplacecommerceanalytics",
    ),
    ("api.pricing", "pricing"),
    ("api.ecr", "ecr"),
    ("ecr-public", "ecr-public"),
    ("data.iot", "iot"),
    ("iotdata", "iot"),
    ("elasticloadbalancingv2", "elasticloadbalancing"),
    ("api.mediatailor", "mediatailor"),
    ("sso-directory", "sso-directory"),
    ("identitystore", "identitystore"),
    ("access-analyzer", "access-analyzer"),
    ("bedrock-runtime", "bedrock"),
    ("bedrock-agent-runtime", "bedrock"),
    ("s3-outposts", "s3-outposts"),
];

/// `(IAM prefix, eventName)` pairs whose IAM action has another name.
///
/// S3 is the main offender: the REST operation and the permission that authorizes it differ.
const EVENT_RENAMES: &[(&str, &str, &str)] = &[
    ("s3", "ListObjects", "ListBucket"),
    ("s3", "ListObjectsV2", "ListBucket"),
    ("s3", "HeadBucket", "ListBucket"),
    ("s3", "ListObjectVersions", "ListBucketVersions"),
    ("s3", "ListBuckets", "ListAllMyBuckets"),
    ("s3", "HeadObject", "GetObject"),
    ("s3", "SelectObjectContent", "GetObject"),
    ("s3", "CopyObject", "PutObject"),
    ("s3", "UploadPart", "PutObject"),
    ("s3", "UploadPartCopy", "PutObject"),
    ("s3", "CreateMultipartUpload", "PutObject"),
    ("s3", "CompleteMultipartUpload", "PutObject"),
    ("s3", "DeleteObjects", "DeleteObject"),
    ("s3", "ListParts", "ListMultipartUploadParts"),
    ("s3", "ListMultipartUploads", "ListBucketMultipartUploads"),
    ("s3", "GetBucketEncryption", "GetEncryptionConfiguration"),
    ("s3", "PutBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "DeleteBucketEncryption", "PutEncryptionConfiguration"),
    ("s3", "GetBucketLifecycle", "GetLifecycleConfiguration"),
    (
        "s3",
        "GetBucketLifecycleConfiguration",
        "GetLifecycleConfiguration",
    ),
    ("s3", "PutBucketLifecycle", "PutLifecycleConfiguration"),
    (
        "s3",
        "PutBucketLifecycleConfiguration",
        "PutLifecycleConfiguration",
    ),
    ("s3", "DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    ("s3", "GetBucketReplication", "GetReplicationConfiguration"),
    ("s3", "PutBucketReplication", "PutReplicationConfiguration"),
    (
        "s3",
        "DeleteBucketReplication",
        "PutReplicationConfiguration",
    ),
    ("s3", "GetBucketCors", "GetBucketCORS"),
    ("s3", "PutBucketCors", "PutBucketCORS"),
    ("s3", "DeleteBucketCors", "PutBucketCORS"),
    ("s3", "DeleteBucketTagging", "PutBucketTagging"),
    (
        "s3",
        "GetBucketInventoryConfiguration",
        "GetInventoryConfiguration",
    ),
    (
        "s3",
        "PutBucketInventoryConfiguration",
        "PutInventoryConfiguration",
    ),
    (
        "s3",
        "GetBucketAnalyticsConfiguration",
        "GetAnalyticsConfiguration",
    ),
    (
        "s3",
        "PutBucketAnalyticsConfiguration",
        "PutAnalyticsConfiguration",
    ),
    (
        "s3",
        "GetBucketMetricsConfiguration",
        "GetMetricsConfiguration",
    ),
    (
        "s3",
        "PutBucketMetricsConfiguration",
        "PutMetricsConfiguration",
    ),
    (
        "s3",
        "GetBucketAccelerateConfiguration",
        "GetAccelerateConfiguration",
    ),
    (
        "s3",
        "PutBucketAccelerateConfiguration",
        "PutAccelerateConfiguration",
    ),
    (
        "s3",
        "GetBucketIntelligentTieringConfiguration",
        "GetIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "PutBucketIntelligentTieringConfiguration",
        "PutIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "GetObjectLockConfiguration",
        "GetBucketObjectLockConfiguration",
    ),
    (
        "s3",
        "PutObjectLockConfiguration",
        "PutBucketObjectLockConfiguration",
    ),
    ("lambda", "Invoke", "InvokeFunction"),
];

/// Events that no IAM action authorizes (console sign-in and the like): always reported as unmapped.
const NOT_IAM_ACTIONS: &[(&str, &str)] = &[
    ("signin", "ConsoleLogin"),
    ("signin", "CheckMfa"),
    ("signin", "SwitchRole"),
    ("signin", "ExitRole"),
    ("signin", "RenewRole"),
    ("signin", "CredentialChallenge"),
    ("signin", "CredentialVerification"),
];

/// Services whose event names carry an API version suffix (`GetFunction20150331v2`,
/// `ListDistributions2019_03_26`) that the IAM action does not.
const VERSIONED_NAME_SERVICES: &[&str] = &["lambda", "cloudfront"];

/// IAM service prefix for an `eventSource` such as `monitoring.amazonaws.com`, or `None` when it is
/// not an AWS service host.
pub fn service_prefix(event_source: &str) -> Option<Cow<'_, str>> {
    let host = event_source.strip_suffix(".amazonaws.com")?;
    if host.is_empty() {
        return None;
    }
    if let Some((_, prefix)) = SOURCE_PREFIX_EXCEPTIONS.iter().find(|(h, _)| *h == host) {
        return Some(Cow::Borrowed(prefix));
    }
    // An unknown dotted host (`runtime.foo`) has no evident prefix; guessing would invent actions.
    if host.contains('.') {
        return None;
    }
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(Cow::Owned(host.to_ascii_lowercase()));
    }
    Some(Cow::Borrowed(host))
}

/// The candidate IAM action (`prefix:Name`) for an event, before catalog validation; `None` when
/// the event cannot be an IAM action.
pub fn action_for_event(event_source: &str, event_name: &str) -> Option<String> {
    let prefix = service_prefix(event_source)?;
    let prefix = prefix.as_ref();
    if event_name.is_empty() || NOT_IAM_ACTIONS.contains(&(prefix, event_name)) {
        return None;
    }
    let name = if VERSIONED_NAME_SERVICES.contains(&prefix) {
        strip_api_version(event_name)
    } else {
        event_name
    };
    let name = EVENT_RENAMES
        .iter()
        .find(|(p, n, _)| *p == prefix && *n == name)
        .map_or(name, |(_, _, action)| action);
    Some(format!("{prefix}:{name}"))
}

/// `GetFunction20150331v2` -> `GetFunction`, `ListDistributions2019_03_26` -> `ListDistributions`.
pub fn strip_api_version(name: &str) -> &str {
    let bytes = name.as_bytes();
    let mut end = bytes.len();
    // Optional `v<digits>` after the date.
    let digits = bytes[..end]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits > 0 && end > digits && bytes[end - digits - 1] == b'v' {
        end -= digits + 1;
    }
    let tail = &name[..end];
    for date_len in [8usize, 10] {
        if tail.len() <= date_len {
            continue;
        }
        let (head, date) = tail.split_at(tail.len() - date_len);
        let is_date = match date_len {
            8 => date.bytes().all(|b| b.is_ascii_digit()),
            _ => date.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'_'
                } else {
                    b.is_ascii_digit()
                }
            }),
        };
        if is_date && (date.starts_with("19") || date.starts_with("20")) {
            return head;
        }
    }
    name
}

/// True for data-plane events (S3 objects, Lambda invokes, DynamoDB items...), which a trail logs
/// only when data events are enabled.
pub fn is_data_event(event_category: Option<&str>, management_event: Option<bool>) -> bool {
    event_category == Some("Data") || management_event == Some(false)
}

/// True when `errorCode` says the call was refused by authorization, so it proves no use.
pub fn is_denied(error_code: &str) -> bool {
    matches!(
        error_code,
        "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "Client.UnauthorizedOperation"
            | "Client.AccessDenied"
            | "UnauthorizedAccess"
            | "UnauthorizedException"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitoring_maps_to_cloudwatch() {
        assert_eq!(
            action_for_event("monitoring.amazonaws.com", "PutMetricData").as_deref(),
            Some("cloudwatch:PutMetricData")
        );
    }

    #[test]
    fn lambda_versioned_names_lose_their_version() {
        assert_eq!(
            action_for_event("lambda.amazonaws.com", "GetFunction20150331v2").as_deref(),
            Some("lambda:GetFunction")
        );
        assert_eq!(
            action_for_event("lambda.amazonaws.com", "ListFunctions20150331").as_deref(),
            Some("lambda:ListFunctions")
        );
        assert_eq!(
            action_for_event("lambda.amazonaws.com", "Invoke").as_deref(),
            Some("lambda:InvokeFunction")
        );
        assert_eq!(
            action_for_event("cloudfront.amazonaws.com", "ListDistributions2019_03_26").as_deref(),
            Some("cloudfront:ListDistributions")
        );
        // Names that merely end in digits elsewhere stay untouched.
        assert_eq!(
            action_for_event("ec2.amazonaws.com", "RunInstances").as_deref(),
            Some("ec2:RunInstances")
        );
        assert_eq!(strip_api_version("Describe2"), "Describe2");
    }

    #[test]
    fn s3_operations_map_to_their_permissions() {
        for (event, action) in [
            ("ListObjects", "s3:ListBucket"),
            ("ListObjectsV2", "s3:ListBucket"),
            ("HeadObject", "s3:GetObject"),
            ("GetObject", "s3:GetObject"),
            ("ListBuckets", "s3:ListAllMyBuckets"),
        ] {
            assert_eq!(
                action_for_event("s3.amazonaws.com", event).as_deref(),
                Some(action),
                "{event}"
            );
        }
    }

    #[test]
    fn sign_in_and_foreign_sources_are_not_actions() {
        assert_eq!(
            action_for_event("signin.amazonaws.com", "ConsoleLogin"),
            None
        );
        assert_eq!(action_for_event("example.com", "Foo"), None);
        assert_eq!(
            action_for_event("runtime.unknown.amazonaws.com", "Foo"),
            None
        );
    }

    #[test]
    fn denied_codes() {
        assert!(is_denied("AccessDenied"));
        assert!(is_denied("Client.UnauthorizedOperation"));
        assert!(!is_denied("NoSuchEntity"));
    }
}
