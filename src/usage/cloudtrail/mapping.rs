//! CloudTrail event -> IAM action: every table that differs from "`eventSource` host = IAM prefix,
//! `eventName` = action name" lives here, in one place.
//!
//! Owns [`service_prefix`] (with the host table `data/mapping/event-sources.tsv`, each row citing
//! the AWS pages it comes from), [`actions_for_event`] (renames, events that need several actions,
//! API Gateway's HTTP-method actions), the request-aware rules ([`RequestFacts`],
//! [`actions_for_request`], [`request_actions`], with the tag-on-create table
//! `data/mapping/tag-on-create.tsv`), [`is_console_event`], [`data_event_type`] and
//! [`is_data_event`]. It does not validate against the action catalog: the caller's `known_action`
//! hook does that, and whatever it rejects is reported as unmapped.

pub use super::request::{PartiqlVerbs, RequestFacts};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

/// `data/mapping/event-sources.tsv`: host -> IAM prefix, with the pages that say so.
const EVENT_SOURCES_TSV: &str = include_str!("../../../data/mapping/event-sources.tsv");

/// `data/mapping/tag-on-create.tsv`: which create calls carrying tags need which tagging action.
const TAG_ON_CREATE_TSV: &str = include_str!("../../../data/mapping/tag-on-create.tsv");

/// The rows of a tab-separated table, comments and blank lines left out.
fn tsv_rows(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| line.split('\t').collect())
}

/// Host (without `.amazonaws.com`) -> IAM prefix, for hosts that are not their prefix.
static SOURCE_PREFIX_EXCEPTIONS: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| {
        tsv_rows(EVENT_SOURCES_TSV)
            .filter_map(|row| Some((*row.first()?, *row.get(1)?)))
            .collect()
    });

/// One tag-on-create rule: `(prefix, event name or `Prefix*` or `*`, tagging action)`.
static TAG_ON_CREATE: LazyLock<Vec<(&'static str, &'static str, &'static str)>> =
    LazyLock::new(|| {
        tsv_rows(TAG_ON_CREATE_TSV)
            .filter_map(|row| Some((*row.first()?, *row.get(1)?, *row.get(2)?)))
            .collect()
    });

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
    // Bucket configuration calls: a Delete is authorized by the Put permission, a List of
    // configurations by the Get permission.
    (
        "s3",
        "DeleteBucketPublicAccessBlock",
        "PutBucketPublicAccessBlock",
    ),
    (
        "s3",
        "PutBucketNotificationConfiguration",
        "PutBucketNotification",
    ),
    (
        "s3",
        "GetBucketNotificationConfiguration",
        "GetBucketNotification",
    ),
    (
        "s3",
        "DeleteBucketInventoryConfiguration",
        "PutInventoryConfiguration",
    ),
    (
        "s3",
        "ListBucketInventoryConfigurations",
        "GetInventoryConfiguration",
    ),
    (
        "s3",
        "DeleteBucketAnalyticsConfiguration",
        "PutAnalyticsConfiguration",
    ),
    (
        "s3",
        "ListBucketAnalyticsConfigurations",
        "GetAnalyticsConfiguration",
    ),
    (
        "s3",
        "DeleteBucketMetricsConfiguration",
        "PutMetricsConfiguration",
    ),
    (
        "s3",
        "ListBucketMetricsConfigurations",
        "GetMetricsConfiguration",
    ),
    (
        "s3",
        "DeleteBucketIntelligentTieringConfiguration",
        "PutIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "ListBucketIntelligentTieringConfigurations",
        "GetIntelligentTieringConfiguration",
    ),
    (
        "s3",
        "DeleteBucketOwnershipControls",
        "PutBucketOwnershipControls",
    ),
    ("lambda", "Invoke", "InvokeFunction"),
    ("lambda", "InvokeWithResponseStream", "InvokeFunction"),
    ("lambda", "GetLayerVersionByArn", "GetLayerVersion"),
    // SQS batch calls are authorized by the single-message permission.
    ("sqs", "SendMessageBatch", "SendMessage"),
    ("sqs", "DeleteMessageBatch", "DeleteMessage"),
    (
        "sqs",
        "ChangeMessageVisibilityBatch",
        "ChangeMessageVisibility",
    ),
    // Timestream's query API is authorized by `timestream:Select`.
    ("timestream", "Query", "Select"),
    // Budgets: `ModifyBudget` covers budgets, notifications and subscribers; `ViewBudget` reads them.
    ("budgets", "CreateBudget", "ModifyBudget"),
    ("budgets", "UpdateBudget", "ModifyBudget"),
    ("budgets", "DeleteBudget", "ModifyBudget"),
    ("budgets", "CreateNotification", "ModifyBudget"),
    ("budgets", "UpdateNotification", "ModifyBudget"),
    ("budgets", "DeleteNotification", "ModifyBudget"),
    ("budgets", "CreateSubscriber", "ModifyBudget"),
    ("budgets", "UpdateSubscriber", "ModifyBudget"),
    ("budgets", "DeleteSubscriber", "ModifyBudget"),
    ("budgets", "DescribeBudget", "ViewBudget"),
    ("budgets", "DescribeBudgets", "ViewBudget"),
    ("budgets", "DescribeNotificationsForBudget", "ViewBudget"),
    (
        "budgets",
        "DescribeSubscribersForNotification",
        "ViewBudget",
    ),
    ("budgets", "DescribeBudgetPerformanceHistory", "ViewBudget"),
    (
        "budgets",
        "DescribeBudgetNotificationsForAccount",
        "ViewBudget",
    ),
];

/// `(IAM prefix, eventName)` pairs that need several actions. Where the request decides which of
/// them (a PartiQL statement's verb, the items of a transaction), all are listed: keeping one
/// that the call did not need is safe, removing one it did is not.
const EVENT_EXPANSIONS: &[(&str, &str, &[&str])] = &[
    ("kms", "ReEncrypt", &["ReEncryptFrom", "ReEncryptTo"]),
    (
        "dynamodb",
        "TransactWriteItems",
        &["PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"],
    ),
    ("dynamodb", "TransactGetItems", &["GetItem"]),
    (
        "dynamodb",
        "ExecuteStatement",
        &[
            "PartiQLSelect",
            "PartiQLInsert",
            "PartiQLUpdate",
            "PartiQLDelete",
        ],
    ),
    (
        "dynamodb",
        "BatchExecuteStatement",
        &[
            "PartiQLSelect",
            "PartiQLInsert",
            "PartiQLUpdate",
            "PartiQLDelete",
        ],
    ),
    (
        "dynamodb",
        "ExecuteTransaction",
        &[
            "PartiQLSelect",
            "PartiQLInsert",
            "PartiQLUpdate",
            "PartiQLDelete",
        ],
    ),
    // GetObjectAttributes needs both (S3 API reference, GetObjectAttributes, "Permissions").
    (
        "s3",
        "GetObjectAttributes",
        &["GetObject", "GetObjectAttributes"],
    ),
];

/// S3 object calls that name a `versionId`: the permission of the versioned form replaces the
/// plain one (S3 API reference, "Permissions" of each call). `GetObjectAttributes` needs both
/// versioned permissions.
const VERSIONED_S3: &[(&str, &[&str])] = &[
    ("GetObject", &["GetObjectVersion"]),
    ("HeadObject", &["GetObjectVersion"]),
    ("DeleteObject", &["DeleteObjectVersion"]),
    ("GetObjectAcl", &["GetObjectVersionAcl"]),
    ("PutObjectAcl", &["PutObjectVersionAcl"]),
    ("GetObjectTagging", &["GetObjectVersionTagging"]),
    ("PutObjectTagging", &["PutObjectVersionTagging"]),
    ("DeleteObjectTagging", &["DeleteObjectVersionTagging"]),
    ("GetObjectTorrent", &["GetObjectVersionTorrent"]),
    (
        "GetObjectAttributes",
        &["GetObjectVersion", "GetObjectVersionAttributes"],
    ),
];

/// Services where an event name that is itself an action of the catalog wins over the table
/// here: API Gateway's portal and domain calls are named actions, its REST resource calls are
/// authorized by their HTTP method.
pub const NAMED_ACTIONS_FIRST: &[&str] = &["apigateway"];

/// Events of the console and of signing in: no IAM permission of the principal authorizes them,
/// so they are neither used actions nor unmapped events.
const CONSOLE_EVENTS: &[(&str, &str)] = &[
    ("signin", "ConsoleLogin"),
    ("signin", "CheckMfa"),
    ("signin", "SwitchRole"),
    ("signin", "ExitRole"),
    ("signin", "RenewRole"),
    ("signin", "CredentialChallenge"),
    ("signin", "CredentialVerification"),
    ("signin", "GetSigninToken"),
    ("signin", "UserAuthentication"),
    ("signin", "PasswordUpdated"),
];

/// `eventType` values of console sign-ins and console actions that are no API call.
pub const CONSOLE_EVENT_TYPES: &[&str] = &["AwsConsoleSignIn", "AwsConsoleAction"];

/// Services whose events the catalog does not know are all console or sign-in events: the
/// `signin` service's few IAM actions (OAuth2 tokens for the console) are mapped when the catalog
/// knows them, and nothing else of it is a permission of the principal.
pub const CONSOLE_ONLY_SERVICES: &[&str] = &["signin"];

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
    if let Some(prefix) = SOURCE_PREFIX_EXCEPTIONS.get(host) {
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

/// True for the `eventType` of a console sign-in or of a console action that is no API call.
pub fn is_console_event_type(event_type: &str) -> bool {
    CONSOLE_EVENT_TYPES.contains(&event_type)
}

/// True for console and sign-in events (`ConsoleLogin`, `SwitchRole`...), which no permission of
/// the principal authorizes.
pub fn is_console_event(event_source: &str, event_name: &str, event_type: Option<&str>) -> bool {
    if event_type.is_some_and(|t| CONSOLE_EVENT_TYPES.contains(&t)) {
        return true;
    }
    service_prefix(event_source)
        .is_some_and(|prefix| CONSOLE_EVENTS.contains(&(prefix.as_ref(), event_name)))
}

/// The candidate IAM action (`prefix:Name`) for an event, before catalog validation; `None` when
/// the event cannot be an IAM action. For an event that needs several actions, the first.
pub fn action_for_event(event_source: &str, event_name: &str) -> Option<String> {
    actions_for_event(event_source, event_name)?
        .into_iter()
        .next()
}

/// The IAM actions (`prefix:Name`) an event needs whatever its request, before catalog
/// validation; `None` when the event cannot be an IAM action.
pub fn actions_for_event(event_source: &str, event_name: &str) -> Option<Vec<String>> {
    let prefix = service_prefix(event_source)?;
    let prefix = prefix.as_ref();
    if event_name.is_empty() || CONSOLE_EVENTS.contains(&(prefix, event_name)) {
        return None;
    }
    let name = if VERSIONED_NAME_SERVICES.contains(&prefix) {
        strip_api_version(event_name)
    } else {
        event_name
    };
    if prefix == "apigateway" {
        return apigateway_methods(name)
            .map(|methods| methods.iter().map(|m| format!("apigateway:{m}")).collect());
    }
    if let Some((_, _, actions)) = EVENT_EXPANSIONS
        .iter()
        .find(|(p, n, _)| *p == prefix && *n == name)
    {
        return Some(actions.iter().map(|a| format!("{prefix}:{a}")).collect());
    }
    let name = EVENT_RENAMES
        .iter()
        .find(|(p, n, _)| *p == prefix && *n == name)
        .map_or(name, |(_, _, action)| action);
    Some(vec![format!("{prefix}:{name}")])
}

/// The HTTP methods that authorize an API Gateway management call (REST and HTTP/WebSocket APIs):
/// IAM knows them as `apigateway:GET`, `POST`, `PUT`, `PATCH` and `DELETE`, the method the call
/// is sent with (Service Authorization Reference, "Amazon API Gateway Management"). `None` for a
/// call whose method is not known here.
fn apigateway_methods(name: &str) -> Option<&'static [&'static str]> {
    const EXACT: &[(&str, &[&str])] = &[
        // PUT /v2/apis (import), PUT /v2/apis/{id} (reimport), PUT /restapis/{id}/documentation/parts.
        ("ImportApi", &["PUT"]),
        ("ReimportApi", &["PUT"]),
        ("ImportDocumentationParts", &["PUT"]),
        // POST /restapis?mode=import, POST /apikeys?mode=import.
        ("ImportRestApi", &["POST"]),
        ("ImportApiKeys", &["POST"]),
        // REST APIs tag with PUT /tags/{arn}, HTTP APIs with POST /v2/tags/{arn}.
        ("TagResource", &["PUT", "POST"]),
        ("UntagResource", &["DELETE"]),
        ("ExportApi", &["GET"]),
        ("ResetAuthorizersCache", &["DELETE"]),
    ];
    if let Some((_, methods)) = EXACT.iter().find(|(n, _)| *n == name) {
        return Some(methods);
    }
    const BY_VERB: &[(&str, &[&str])] = &[
        ("Get", &["GET"]),
        ("Create", &["POST"]),
        ("Generate", &["POST"]),
        ("TestInvoke", &["POST"]),
        ("Put", &["PUT"]),
        ("Update", &["PATCH"]),
        ("Delete", &["DELETE"]),
        ("Flush", &["DELETE"]),
    ];
    BY_VERB
        .iter()
        .find(|(verb, _)| {
            name.strip_prefix(verb)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .map(|(_, methods)| *methods)
}

/// The actions an event needs given what its request shows, before catalog validation: those of
/// [`actions_for_event`], with the versioned S3 permission in place of the plain one when the
/// call names a `versionId`, and only the PartiQL actions of the statements' verbs when a
/// DynamoDB PartiQL call shows its statements. The extra actions of [`request_actions`] are not included.
pub fn actions_for_request(
    event_source: &str,
    event_name: &str,
    facts: RequestFacts,
) -> Option<Vec<String>> {
    if !facts.partiql.is_empty()
        && event_source == "dynamodb.amazonaws.com"
        && PARTIQL_EVENTS.contains(&event_name)
    {
        return Some(
            facts
                .partiql
                .actions()
                .map(|a| format!("dynamodb:{a}"))
                .collect(),
        );
    }
    if facts.version_id
        && event_source == "s3.amazonaws.com"
        && let Some((_, actions)) = VERSIONED_S3.iter().find(|(n, _)| *n == event_name)
    {
        return Some(actions.iter().map(|a| format!("s3:{a}")).collect());
    }
    actions_for_event(event_source, event_name)
}

/// DynamoDB calls that run PartiQL statements: each statement needs the action of its verb
/// (`dynamodb:PartiQLSelect`...). CloudTrail logs the statement text, non-key values redacted:
/// `requestParameters.statement`, or `requestParameters.requestItems[].statement` for a batch
/// (DynamoDB Developer Guide, "Understanding DynamoDB log file entries").
const PARTIQL_EVENTS: &[&str] = &[
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
];

/// Per event source, the event names whose needed actions depend on their [`RequestFacts`]; built
/// once from the request rules below, so that a reader can skip the `requestParameters` of every
/// other event unread.
#[derive(Clone, Default)]
struct FactRules {
    /// Strip an API version from the name first (Lambda, CloudFront).
    versioned_names: bool,
    /// A `*` rule: every event of the service.
    every: bool,
    /// Exact event names.
    names: foldhash::HashSet<&'static str>,
    /// The heads of `Prefix*` rules.
    heads: Vec<&'static str>,
}

impl FactRules {
    fn add(&mut self, pattern: &'static str) {
        match pattern.strip_suffix('*') {
            Some("") => self.every = true,
            Some(head) => self.heads.push(head),
            None => {
                self.names.insert(pattern);
            }
        }
    }

    fn matches(&self, event_name: &str) -> bool {
        let name = if self.versioned_names {
            strip_api_version(event_name)
        } else {
            event_name
        };
        self.every
            || self.names.contains(name)
            || self.heads.iter().any(|head| name.starts_with(head))
    }
}

/// [`FactRules`] by every lower-case event source host of the prefixes that have any, and by
/// prefix. foldhash: hit once per record by the reader, with keys from the logs (a flood of
/// colliding hosts would cost time, never a wrong answer).
struct FactRuleIndex {
    by_host: foldhash::HashMap<String, FactRules>,
    by_prefix: foldhash::HashMap<&'static str, FactRules>,
}

static FACT_RULES: LazyLock<FactRuleIndex> = LazyLock::new(|| {
    let mut by_prefix: foldhash::HashMap<&'static str, FactRules> = Default::default();
    let mut add = |prefix: &'static str, names: &mut dyn Iterator<Item = &'static str>| {
        let rules = by_prefix.entry(prefix).or_insert_with(|| FactRules {
            versioned_names: VERSIONED_NAME_SERVICES.contains(&prefix),
            ..FactRules::default()
        });
        names.for_each(|pattern| rules.add(pattern));
    };
    for (prefix, pattern, _) in TAG_ON_CREATE.iter() {
        add(prefix, &mut std::iter::once(*pattern));
    }
    add("s3", &mut VERSIONED_S3.iter().map(|(name, _)| *name));
    add("s3", &mut ["CopyObject", "UploadPartCopy"].into_iter());
    add("dynamodb", &mut PARTIQL_EVENTS.iter().copied());
    // Every host whose prefix has rules: its own name, and the hosts the exceptions table maps to it.
    let hosts = by_prefix
        .keys()
        .map(|p| format!("{p}.amazonaws.com"))
        .chain(
            SOURCE_PREFIX_EXCEPTIONS
                .keys()
                .map(|h| format!("{h}.amazonaws.com")),
        )
        .collect::<Vec<_>>();
    let mut by_host: foldhash::HashMap<String, FactRules> = Default::default();
    for host in hosts {
        if let Some(prefix) = service_prefix(&host)
            && let Some(rules) = by_prefix.get(prefix.as_ref())
        {
            by_host.insert(host, rules.clone());
        }
    }
    FactRuleIndex { by_host, by_prefix }
});

/// True when what an event needs can depend on its [`RequestFacts`]: a reader may leave the
/// facts of every other event unread (they would map the same).
#[inline]
pub fn facts_matter(event_source: &str, event_name: &str) -> bool {
    let index = &*FACT_RULES;
    let rules = match index.by_host.get(event_source) {
        Some(rules) => Some(rules),
        // Only a host spelled with capitals can have rules and not be in the host table.
        None if event_source.bytes().any(|b| b.is_ascii_uppercase()) => {
            service_prefix(event_source).and_then(|p| index.by_prefix.get(p.as_ref()))
        }
        None => None,
    };
    rules.is_some_and(|rules| rules.matches(event_name))
}

/// The extra actions a call needs because of what its request carries, before catalog
/// validation: `s3:GetObject` (or `s3:GetObjectVersion`) on the source of a copy, and the tagging
/// action of a create call that carries tags (`data/mapping/tag-on-create.tsv`).
pub fn request_actions(event_source: &str, event_name: &str, facts: RequestFacts) -> Vec<String> {
    let mut extra = Vec::new();
    let Some(prefix) = service_prefix(event_source) else {
        return extra;
    };
    let prefix = prefix.as_ref();
    let event_name = if VERSIONED_NAME_SERVICES.contains(&prefix) {
        strip_api_version(event_name)
    } else {
        event_name
    };
    if facts.copy_source && prefix == "s3" && matches!(event_name, "CopyObject" | "UploadPartCopy")
    {
        // The copy reads its source: `x-amz-copy-source` names a version as `?versionId=`.
        extra.push(
            if facts.version_id {
                "s3:GetObjectVersion"
            } else {
                "s3:GetObject"
            }
            .to_string(),
        );
    }
    if facts.tags {
        for (p, pattern, action) in TAG_ON_CREATE.iter() {
            let matches = match pattern.strip_suffix('*') {
                Some(head) => event_name.starts_with(head),
                None => event_name == *pattern,
            };
            if *p == prefix && matches && !extra.iter().any(|a| a == action) {
                extra.push((*action).to_string());
            }
        }
    }
    extra
}

/// The data-event resource type of a data event, from its source when that says it
/// (`AWS::S3::Object` for S3, `AWS::Lambda::Function`, `AWS::DynamoDB::Table`); `None` when only
/// the record's `resources[].type` can tell.
pub fn data_event_type(event_source: &str) -> Option<&'static str> {
    const BY_SOURCE: &[(&str, &str)] = &[
        ("s3.amazonaws.com", "AWS::S3::Object"),
        ("lambda.amazonaws.com", "AWS::Lambda::Function"),
        ("dynamodb.amazonaws.com", "AWS::DynamoDB::Table"),
        ("s3-outposts.amazonaws.com", "AWS::S3Outposts::Object"),
        ("s3express.amazonaws.com", "AWS::S3Express::Object"),
    ];
    BY_SOURCE
        .iter()
        .find(|(s, _)| *s == event_source)
        .map(|(_, t)| *t)
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

    /// Every set of facts: the three flags, and no, one, some or all PartiQL verbs.
    fn every_facts() -> Vec<RequestFacts> {
        let verbs = [
            PartiqlVerbs::default(),
            PartiqlVerbs::of_statement("SELECT 1"),
            PartiqlVerbs::of_statement("DELETE FROM t").union(PartiqlVerbs::of_statement("INSERT")),
            PartiqlVerbs::ALL,
        ];
        let mut all = Vec::new();
        for bits in 0..8u8 {
            for partiql in verbs {
                all.push(RequestFacts {
                    tags: bits & 1 != 0,
                    version_id: bits & 2 != 0,
                    copy_source: bits & 4 != 0,
                    partiql,
                });
            }
        }
        all
    }

    /// The reader skips `requestParameters` when `facts_matter` says no: that must never change
    /// what an event needs, for any facts, or a used action would go missing.
    #[test]
    fn events_whose_facts_do_not_matter_map_alike_whatever_their_facts() {
        let mut hosts: Vec<String> = SOURCE_PREFIX_EXCEPTIONS
            .keys()
            .map(|h| format!("{h}.amazonaws.com"))
            .collect();
        for (prefix, _, _) in TAG_ON_CREATE.iter() {
            hosts.push(format!("{prefix}.amazonaws.com"));
            hosts.push(format!("{}.amazonaws.com", prefix.to_ascii_uppercase()));
        }
        hosts.extend(
            [
                "s3",
                "S3",
                "dynamodb",
                "sts",
                "kms",
                "madeup",
                "lambda",
                "cloudfront",
            ]
            .iter()
            .map(|p| format!("{p}.amazonaws.com")),
        );
        hosts.push("not-a-host".into());
        let mut names: Vec<String> = TAG_ON_CREATE
            .iter()
            .map(|(_, pattern, _)| pattern.replace('*', "Thing"))
            .collect();
        names.extend(VERSIONED_S3.iter().map(|(n, _)| n.to_string()));
        names.extend(PARTIQL_EVENTS.iter().map(|n| n.to_string()));
        names.extend(
            [
                "CopyObject",
                "UploadPartCopy",
                "PutObject",
                "ListObjects",
                "RunInstances",
                "CreateFunction20150331",
                "CreateFunction",
                "TagResource",
                "DescribeInstances",
                "GetItem",
                "TransactWriteItems",
                "Decrypt",
                "",
            ]
            .iter()
            .map(|n| n.to_string()),
        );
        let mut skipped = 0;
        for host in &hosts {
            for name in &names {
                if facts_matter(host, name) {
                    continue;
                }
                skipped += 1;
                let plain = (
                    actions_for_request(host, name, RequestFacts::default()),
                    request_actions(host, name, RequestFacts::default()),
                );
                for facts in every_facts() {
                    assert_eq!(
                        (
                            actions_for_request(host, name, facts),
                            request_actions(host, name, facts)
                        ),
                        plain,
                        "{host} {name} {facts:?}"
                    );
                }
            }
        }
        // The check above is not empty: most pairs are skipped.
        assert!(skipped > hosts.len() * names.len() / 2, "{skipped}");
    }

    #[test]
    fn facts_matter_for_the_events_the_request_rules_name() {
        for (host, name) in [
            ("s3.amazonaws.com", "GetObject"),
            ("s3.amazonaws.com", "CopyObject"),
            ("ec2.amazonaws.com", "DescribeInstances"),
            ("EC2.amazonaws.com", "RunInstances"),
            ("lambda.amazonaws.com", "CreateFunction20150331"),
            ("dynamodb.amazonaws.com", "ExecuteStatement"),
            ("dynamodb.amazonaws.com", "CreateTable"),
            ("elasticloadbalancing.amazonaws.com", "CreateTargetGroup"),
        ] {
            assert!(facts_matter(host, name), "{host} {name}");
        }
        for (host, name) in [
            ("s3.amazonaws.com", "ListObjects"),
            ("kms.amazonaws.com", "Decrypt"),
            ("dynamodb.amazonaws.com", "GetItem"),
            ("lambda.amazonaws.com", "Invoke"),
        ] {
            assert!(!facts_matter(host, name), "{host} {name}");
        }
    }

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
