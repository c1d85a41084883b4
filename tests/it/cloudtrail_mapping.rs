//! CloudTrail event -> IAM action, rule by rule: every event-source exception, every mapped event
//! family and every request-dependent rule, each with the exact action expected, and each expected
//! action checked to be a real action of the bundled catalog.

use iamtrim::iam::catalog::Catalog;
use iamtrim::usage::cloudtrail::mapping::{
    PartiqlVerbs, RequestFacts, actions_for_event, actions_for_request, data_event_type,
    is_console_event, request_actions, service_prefix,
};

/// Asserts that the catalog knows `action` (in any case) and spells it as given.
fn assert_in_catalog(action: &str) {
    let known = Catalog::embedded().lookup(action);
    assert_eq!(
        known.map(|a| a.name()),
        Some(action),
        "{action} is an action of the catalog"
    );
}

fn host(prefix_host: &str) -> String {
    format!("{prefix_host}.amazonaws.com")
}

#[test]
fn the_thirteen_event_sources_that_are_not_their_iam_prefix() {
    for (source, prefix) in [
        ("pinpoint", "mobiletargeting"),
        ("mturk-requester", "mechanicalturk"),
        ("qconnect", "wisdom"),
        ("application-insights", "applicationinsights"),
        ("amazonmq", "mq"),
        ("servicecatalog-appregistry", "servicecatalog"),
        ("migrationhub", "mgh"),
        ("cloudcontrolapi", "cloudformation"),
        ("rdsdata", "rds-data"),
        ("pricelist", "pricing"),
        ("marketplacecatalog", "aws-marketplace"),
        ("contact-lens", "connect"),
        ("partnercentral-selling", "partnercentral"),
    ] {
        assert_eq!(
            service_prefix(&host(source)).as_deref(),
            Some(prefix),
            "{source}"
        );
        assert!(
            Catalog::embedded().has_service(prefix),
            "{prefix} is a service of the catalog"
        );
    }
    // And an event of each becomes an action of the real service.
    for (source, event, action) in [
        ("pinpoint", "GetApps", "mobiletargeting:GetApps"),
        ("mturk-requester", "ListHITs", "mechanicalturk:ListHITs"),
        ("qconnect", "ListAssistants", "wisdom:ListAssistants"),
        (
            "application-insights",
            "ListApplications",
            "applicationinsights:ListApplications",
        ),
        ("amazonmq", "ListBrokers", "mq:ListBrokers"),
        (
            "servicecatalog-appregistry",
            "CreateApplication",
            "servicecatalog:CreateApplication",
        ),
        (
            "migrationhub",
            "ListMigrationTasks",
            "mgh:ListMigrationTasks",
        ),
        (
            "cloudcontrolapi",
            "GetResource",
            "cloudformation:GetResource",
        ),
        ("rdsdata", "ExecuteStatement", "rds-data:ExecuteStatement"),
        ("pricelist", "GetProducts", "pricing:GetProducts"),
        (
            "marketplacecatalog",
            "DescribeEntity",
            "aws-marketplace:DescribeEntity",
        ),
        (
            "contact-lens",
            "ListRealtimeContactAnalysisSegments",
            "connect:ListRealtimeContactAnalysisSegments",
        ),
        (
            "partnercentral-selling",
            "ListOpportunities",
            "partnercentral:ListOpportunities",
        ),
    ] {
        assert_eq!(
            actions_for_event(&host(source), event),
            Some(vec![action.to_string()]),
            "{source} {event}"
        );
        assert_in_catalog(action);
    }
}

#[test]
fn every_row_of_the_event_source_table_names_a_catalog_service_and_a_page() {
    let table = include_str!("../../data/mapping/event-sources.tsv");
    let mut rows = 0;
    for line in table
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "three columns: {line}");
        assert!(
            Catalog::embedded().has_service(cols[1]),
            "{} is a service of the catalog",
            cols[1]
        );
        assert!(
            cols[2].starts_with("https://docs.aws.amazon.com/"),
            "{line}"
        );
        assert_eq!(
            service_prefix(&host(cols[0])).as_deref(),
            Some(cols[1]),
            "{line}"
        );
        rows += 1;
    }
    assert!(rows >= 35, "{rows} rows");
}

#[test]
fn every_row_of_the_tag_on_create_table_names_a_catalog_action() {
    let table = include_str!("../../data/mapping/tag-on-create.tsv");
    for line in table
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "four columns: {line}");
        assert_in_catalog(cols[2]);
        assert!(cols[2].starts_with(&format!("{}:", cols[0])), "{line}");
    }
}

/// `(eventSource host, eventName, the actions expected)`.
const FAMILIES: &[(&str, &str, &[&str])] = &[
    // API Gateway management calls are authorized by their HTTP method.
    ("apigateway", "GetRestApis", &["apigateway:GET"]),
    ("apigateway", "GetResource", &["apigateway:GET"]),
    ("apigateway", "CreateRestApi", &["apigateway:POST"]),
    ("apigateway", "CreateDeployment", &["apigateway:POST"]),
    ("apigateway", "PutMethod", &["apigateway:PUT"]),
    ("apigateway", "PutIntegration", &["apigateway:PUT"]),
    ("apigateway", "UpdateStage", &["apigateway:PATCH"]),
    ("apigateway", "DeleteResource", &["apigateway:DELETE"]),
    ("apigateway", "FlushStageCache", &["apigateway:DELETE"]),
    ("apigateway", "ImportRestApi", &["apigateway:POST"]),
    ("apigateway", "ImportApi", &["apigateway:PUT"]),
    (
        "apigateway",
        "TagResource",
        &["apigateway:PUT", "apigateway:POST"],
    ),
    ("apigateway", "UntagResource", &["apigateway:DELETE"]),
    // Budgets.
    ("budgets", "CreateBudget", &["budgets:ModifyBudget"]),
    ("budgets", "DeleteSubscriber", &["budgets:ModifyBudget"]),
    ("budgets", "DescribeBudgets", &["budgets:ViewBudget"]),
    (
        "budgets",
        "DescribeBudgetPerformanceHistory",
        &["budgets:ViewBudget"],
    ),
    (
        "budgets",
        "CreateBudgetAction",
        &["budgets:CreateBudgetAction"],
    ),
    // S3 bucket configuration calls.
    (
        "s3",
        "PutBucketPublicAccessBlock",
        &["s3:PutBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "DeleteBucketPublicAccessBlock",
        &["s3:PutBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "GetBucketPublicAccessBlock",
        &["s3:GetBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "PutBucketNotificationConfiguration",
        &["s3:PutBucketNotification"],
    ),
    (
        "s3",
        "GetBucketNotificationConfiguration",
        &["s3:GetBucketNotification"],
    ),
    (
        "s3",
        "PutBucketAnalyticsConfiguration",
        &["s3:PutAnalyticsConfiguration"],
    ),
    (
        "s3",
        "DeleteBucketAnalyticsConfiguration",
        &["s3:PutAnalyticsConfiguration"],
    ),
    (
        "s3",
        "ListBucketAnalyticsConfigurations",
        &["s3:GetAnalyticsConfiguration"],
    ),
    (
        "s3",
        "PutBucketInventoryConfiguration",
        &["s3:PutInventoryConfiguration"],
    ),
    (
        "s3",
        "DeleteBucketInventoryConfiguration",
        &["s3:PutInventoryConfiguration"],
    ),
    (
        "s3",
        "ListBucketInventoryConfigurations",
        &["s3:GetInventoryConfiguration"],
    ),
    (
        "s3",
        "PutBucketMetricsConfiguration",
        &["s3:PutMetricsConfiguration"],
    ),
    (
        "s3",
        "DeleteBucketMetricsConfiguration",
        &["s3:PutMetricsConfiguration"],
    ),
    (
        "s3",
        "ListBucketMetricsConfigurations",
        &["s3:GetMetricsConfiguration"],
    ),
    (
        "s3",
        "DeleteBucketOwnershipControls",
        &["s3:PutBucketOwnershipControls"],
    ),
    (
        "s3",
        "GetObjectAttributes",
        &["s3:GetObject", "s3:GetObjectAttributes"],
    ),
    // DynamoDB PartiQL and transactions.
    (
        "dynamodb",
        "ExecuteStatement",
        &[
            "dynamodb:PartiQLSelect",
            "dynamodb:PartiQLInsert",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
        ],
    ),
    (
        "dynamodb",
        "BatchExecuteStatement",
        &[
            "dynamodb:PartiQLSelect",
            "dynamodb:PartiQLInsert",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
        ],
    ),
    (
        "dynamodb",
        "ExecuteTransaction",
        &[
            "dynamodb:PartiQLSelect",
            "dynamodb:PartiQLInsert",
            "dynamodb:PartiQLUpdate",
            "dynamodb:PartiQLDelete",
        ],
    ),
    (
        "dynamodb",
        "TransactWriteItems",
        &[
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:ConditionCheckItem",
        ],
    ),
    ("dynamodb", "TransactGetItems", &["dynamodb:GetItem"]),
    // KMS, SQS, Lambda, Timestream.
    (
        "kms",
        "ReEncrypt",
        &["kms:ReEncryptFrom", "kms:ReEncryptTo"],
    ),
    ("sqs", "SendMessageBatch", &["sqs:SendMessage"]),
    ("sqs", "DeleteMessageBatch", &["sqs:DeleteMessage"]),
    (
        "sqs",
        "ChangeMessageVisibilityBatch",
        &["sqs:ChangeMessageVisibility"],
    ),
    (
        "lambda",
        "GetLayerVersionByArn",
        &["lambda:GetLayerVersion"],
    ),
    (
        "lambda",
        "InvokeWithResponseStream",
        &["lambda:InvokeFunction"],
    ),
    ("timestream", "Query", &["timestream:Select"]),
];

#[test]
fn every_mapped_event_family_gives_its_actions() {
    for (source, event, expected) in FAMILIES {
        let expected: Vec<String> = expected.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            actions_for_event(&host(source), event),
            Some(expected.clone()),
            "{source} {event}"
        );
        for action in &expected {
            assert_in_catalog(action);
        }
    }
}

#[test]
fn an_api_gateway_call_with_an_unknown_verb_is_no_action() {
    assert_eq!(actions_for_event(&host("apigateway"), "Frobnicate"), None);
    // `Getaway` is not `Get` + a name.
    assert_eq!(actions_for_event(&host("apigateway"), "Getaway"), None);
}

fn facts(tags: bool, version_id: bool, copy_source: bool) -> RequestFacts {
    RequestFacts {
        tags,
        version_id,
        copy_source,
        ..RequestFacts::default()
    }
}

/// The facts of a DynamoDB PartiQL call whose statements are `statements`.
fn partiql(statements: &[&str]) -> RequestFacts {
    RequestFacts {
        partiql: statements
            .iter()
            .map(|s| PartiqlVerbs::of_statement(s))
            .fold(PartiqlVerbs::default(), PartiqlVerbs::union),
        ..RequestFacts::default()
    }
}

#[test]
fn a_partiql_call_needs_only_the_verbs_of_its_statements() {
    let strings = |a: &[&str]| Some(a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let all = [
        "dynamodb:PartiQLSelect",
        "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PartiQLDelete",
    ];
    for event in [
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    ] {
        let needs = |statements: &[&str]| {
            actions_for_request(&host("dynamodb"), event, partiql(statements))
        };
        assert_eq!(
            needs(&["SELECT * FROM t WHERE k = 'a'"]),
            strings(&["dynamodb:PartiQLSelect"]),
            "{event}"
        );
        assert_eq!(
            needs(&["INSERT INTO t VALUE {'k' : ***(Redacted)}"]),
            strings(&["dynamodb:PartiQLInsert"]),
            "{event}"
        );
        assert_eq!(
            needs(&["UPDATE t SET a = ***(Redacted) WHERE k = 'a'"]),
            strings(&["dynamodb:PartiQLUpdate"]),
            "{event}"
        );
        assert_eq!(
            needs(&["DELETE FROM t WHERE k = 'a'"]),
            strings(&["dynamodb:PartiQLDelete"]),
            "{event}"
        );
        // A batch or transaction mixing verbs needs each of them.
        assert_eq!(
            needs(&[
                "delete FROM t WHERE k = 'a'",
                "Select * FROM t",
                "DELETE FROM u"
            ]),
            strings(&["dynamodb:PartiQLSelect", "dynamodb:PartiQLDelete"]),
            "{event}"
        );
        // No statement, or one whose verb is not read: all four.
        assert_eq!(needs(&[]), strings(&all), "{event}");
        assert_eq!(
            needs(&["SELECT * FROM t", "EXISTS(SELECT * FROM u)"]),
            strings(&all),
            "{event}"
        );
    }
    // Statement verbs change nothing for other calls.
    assert_eq!(
        actions_for_request(&host("dynamodb"), "GetItem", partiql(&["SELECT 1"])),
        strings(&["dynamodb:GetItem"])
    );
    for action in all {
        assert_in_catalog(action);
    }
}

#[test]
fn a_copy_needs_get_object_on_its_source() {
    for event in ["CopyObject", "UploadPartCopy"] {
        assert_eq!(
            actions_for_request(&host("s3"), event, facts(false, false, true)),
            Some(vec!["s3:PutObject".to_string()])
        );
        assert_eq!(
            request_actions(&host("s3"), event, facts(false, false, true)),
            ["s3:GetObject"],
            "{event}"
        );
        // A copy source naming a version reads that version.
        assert_eq!(
            request_actions(&host("s3"), event, facts(false, true, true)),
            ["s3:GetObjectVersion"],
            "{event}"
        );
        // No copy source in the request: nothing to read.
        assert!(request_actions(&host("s3"), event, RequestFacts::default()).is_empty());
    }
}

#[test]
fn a_create_call_that_carries_tags_needs_the_tagging_action() {
    for (source, event, action) in [
        ("ec2", "RunInstances", "ec2:CreateTags"),
        ("ec2", "CreateVolume", "ec2:CreateTags"),
        ("ec2", "CreateSecurityGroup", "ec2:CreateTags"),
        ("rds", "CreateDBInstance", "rds:AddTagsToResource"),
        ("rds", "CreateDBCluster", "rds:AddTagsToResource"),
        (
            "elasticloadbalancing",
            "CreateLoadBalancer",
            "elasticloadbalancing:AddTags",
        ),
        ("lambda", "CreateFunction20150331", "lambda:TagResource"),
        ("sqs", "CreateQueue", "sqs:TagQueue"),
        ("iam", "CreateRole", "iam:TagRole"),
        ("logs", "CreateLogGroup", "logs:TagResource"),
        ("dynamodb", "CreateTable", "dynamodb:TagResource"),
        ("ssm", "PutParameter", "ssm:AddTagsToResource"),
    ] {
        assert_eq!(
            request_actions(&host(source), event, facts(true, false, false)),
            [action],
            "{source} {event}"
        );
        assert!(
            request_actions(&host(source), event, RequestFacts::default()).is_empty(),
            "{source} {event} without tags"
        );
        assert_in_catalog(action);
    }
    // A service without a rule needs nothing more.
    assert!(request_actions(&host("sts"), "AssumeRole", facts(true, false, false)).is_empty());
    // Lambda's rule is for creating functions, not for every call that carries tags.
    assert!(request_actions(&host("lambda"), "TagResource", facts(true, false, false)).is_empty());
}

#[test]
fn a_version_id_turns_object_calls_into_their_version_actions() {
    for (event, plain, versioned) in [
        (
            "GetObject",
            &["s3:GetObject"][..],
            &["s3:GetObjectVersion"][..],
        ),
        ("HeadObject", &["s3:GetObject"], &["s3:GetObjectVersion"]),
        (
            "DeleteObject",
            &["s3:DeleteObject"],
            &["s3:DeleteObjectVersion"],
        ),
        (
            "GetObjectAcl",
            &["s3:GetObjectAcl"],
            &["s3:GetObjectVersionAcl"],
        ),
        (
            "PutObjectAcl",
            &["s3:PutObjectAcl"],
            &["s3:PutObjectVersionAcl"],
        ),
        (
            "GetObjectTagging",
            &["s3:GetObjectTagging"],
            &["s3:GetObjectVersionTagging"],
        ),
        (
            "PutObjectTagging",
            &["s3:PutObjectTagging"],
            &["s3:PutObjectVersionTagging"],
        ),
        (
            "DeleteObjectTagging",
            &["s3:DeleteObjectTagging"],
            &["s3:DeleteObjectVersionTagging"],
        ),
        (
            "GetObjectAttributes",
            &["s3:GetObject", "s3:GetObjectAttributes"],
            &["s3:GetObjectVersion", "s3:GetObjectVersionAttributes"],
        ),
    ] {
        let strings = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            actions_for_request(&host("s3"), event, RequestFacts::default()),
            Some(strings(plain)),
            "{event}"
        );
        assert_eq!(
            actions_for_request(&host("s3"), event, facts(false, true, false)),
            Some(strings(versioned)),
            "{event} with versionId"
        );
        for action in plain.iter().chain(versioned) {
            assert_in_catalog(action);
        }
    }
    // A versionId changes nothing for calls without a versioned permission.
    assert_eq!(
        actions_for_request(&host("s3"), "PutObject", facts(false, true, false)),
        Some(vec!["s3:PutObject".to_string()])
    );
}

#[test]
fn console_and_sign_in_events_are_no_permission() {
    for (source, event, kind) in [
        (
            "signin.amazonaws.com",
            "ConsoleLogin",
            Some("AwsConsoleSignIn"),
        ),
        (
            "signin.amazonaws.com",
            "SwitchRole",
            Some("AwsConsoleSignIn"),
        ),
        ("signin.amazonaws.com", "SwitchRole", None),
        ("signin.amazonaws.com", "ExitRole", None),
        ("signin.amazonaws.com", "GetSigninToken", None),
        ("s3.amazonaws.com", "ListBuckets", Some("AwsConsoleAction")),
    ] {
        assert!(is_console_event(source, event, kind), "{source} {event}");
    }
    assert_eq!(
        actions_for_event("signin.amazonaws.com", "SwitchRole"),
        None
    );
    assert!(!is_console_event(
        "s3.amazonaws.com",
        "ListBuckets",
        Some("AwsApiCall")
    ));
}

#[test]
fn data_event_types_by_source() {
    assert_eq!(data_event_type("s3.amazonaws.com"), Some("AWS::S3::Object"));
    assert_eq!(
        data_event_type("lambda.amazonaws.com"),
        Some("AWS::Lambda::Function")
    );
    assert_eq!(
        data_event_type("dynamodb.amazonaws.com"),
        Some("AWS::DynamoDB::Table")
    );
    assert_eq!(data_event_type("sns.amazonaws.com"), None);
}
