//! A synthetic CloudTrail corpus for benchmarks and tests: the S3 delivery layout, gzip level 6, 50-400
//! realistic records a file (real API names, assumed-role and user identities, request parameters,
//! resources, data events, a few denials and service events), deterministic for a given size.
//!
//! Generated once under `target/bench-data/cloudtrail-<MB>mb/` and reused while its marker exists.
#![allow(dead_code)]

use flate2::Compression;
use flate2::write::GzEncoder;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Environment variable: uncompressed corpus size in MB.
pub const SIZE_VAR: &str = "IAMTRIM_BENCH_CT_MB";

/// The corpus size asked for by `IAMTRIM_BENCH_CT_MB`, or `default_mb`.
pub fn size_mb(default_mb: u64) -> u64 {
    std::env::var(SIZE_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&mb| mb > 0)
        .unwrap_or(default_mb)
}

/// What was generated.
pub struct Corpus {
    /// Root folder (holds `AWSLogs/`).
    pub root: PathBuf,
    /// Every `.json.gz` file.
    pub files: Vec<PathBuf>,
    /// Total uncompressed bytes.
    pub uncompressed: u64,
    /// Total compressed bytes.
    pub compressed: u64,
}

/// Generates (or reuses) a corpus of at least `mb` MB uncompressed.
pub fn corpus(mb: u64) -> Corpus {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-data/cloudtrail-{mb}mb"));
    let marker = root.join("COMPLETE");
    if !marker.exists() {
        let _ = std::fs::remove_dir_all(&root);
        generate(&root, mb * 1_000_000);
        std::fs::write(&marker, b"").expect("write marker");
    }
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let text = std::fs::read_to_string(root.join("SIZES")).expect("sizes");
    let mut it = text
        .split_whitespace()
        .map(|n| n.parse::<u64>().expect("number"));
    let (uncompressed, compressed) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    Corpus {
        root,
        files,
        uncompressed,
        compressed,
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read corpus dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.to_string_lossy().ends_with(".json.gz") {
            out.push(path);
        }
    }
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let _ = write!(s, "{:016x}", self.next());
        }
        s.truncate(len);
        s
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

const ACCOUNTS: &[&str] = &["111122223333", "444455556666", "777788889999"];
const REGIONS: &[&str] = &["us-east-1", "eu-west-1", "eu-central-1"];
const ROLES: &[&str] = &[
    "app-runner",
    "etl-worker",
    "ci-deployer",
    "lambda-ingest",
    "ecs-task-api",
    "batch-reporting",
    "eks-node",
    "data-scientist",
    "readonly-audit",
    "backup-operator",
    "terraform-plan",
    "web-frontend",
];
const USERS: &[&str] = &["deployer", "alice", "bob", "monitoring-bot", "legacy-app"];
const AGENTS: &[&str] = &[
    "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/s3#1.47.7",
    "Boto3/1.34.34 md/Botocore#1.34.34 ua/2.0 os/linux#5.10.205 md/arch#x86_64 lang/python#3.11.6 cfg/retry-mode#legacy Botocore/1.34.34",
    "aws-cli/2.15.17 Python/3.11.6 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/s3.ls",
    "Terraform/1.7.3 (+https://www.terraform.io) terraform-provider-aws/5.36.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.24.1",
    "aws-sdk-java/2.21.29 Linux/5.10.205 OpenJDK_64-Bit_Server_VM/17.0.9+9-LTS Java/17.0.9 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache",
];

/// (eventSource host, eventName, readOnly, data event)
const CALLS: &[(&str, &str, bool, bool)] = &[
    ("s3", "GetObject", true, true),
    ("s3", "GetObject", true, true),
    ("s3", "PutObject", false, true),
    ("s3", "HeadObject", true, true),
    ("s3", "ListObjects", true, true),
    ("s3", "GetBucketLocation", true, false),
    ("ec2", "DescribeInstances", true, false),
    ("ec2", "DescribeSecurityGroups", true, false),
    ("ec2", "RunInstances", false, false),
    ("ec2", "CreateTags", false, false),
    ("sts", "GetCallerIdentity", true, false),
    ("kms", "Decrypt", true, false),
    ("kms", "Decrypt", true, false),
    ("kms", "GenerateDataKey", true, false),
    ("lambda", "Invoke", false, true),
    ("lambda", "GetFunction20150331v2", true, false),
    ("lambda", "ListFunctions20150331", true, false),
    ("monitoring", "PutMetricData", false, false),
    ("monitoring", "GetMetricData", true, false),
    ("monitoring", "DescribeAlarms", true, false),
    ("logs", "CreateLogStream", false, false),
    ("logs", "DescribeLogGroups", true, false),
    ("dynamodb", "GetItem", true, true),
    ("dynamodb", "PutItem", false, true),
    ("dynamodb", "Query", true, true),
    ("dynamodb", "DescribeTable", true, false),
    ("iam", "GetRole", true, false),
    ("iam", "ListRoles", true, false),
    ("iam", "CreateRole", false, false),
    ("sqs", "SendMessage", false, true),
    ("ssm", "GetParameter", true, false),
    ("secretsmanager", "GetSecretValue", true, false),
    ("ecr", "GetAuthorizationToken", true, false),
    ("autoscaling", "DescribeAutoScalingGroups", true, false),
    ("elasticloadbalancing", "DescribeTargetHealth", true, false),
    ("cloudformation", "DescribeStacks", true, false),
    ("signin", "ConsoleLogin", false, false),
];

fn generate(root: &Path, target_bytes: u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut total = 0u64;
    let mut compressed = 0u64;
    let mut file_no = 0u64;
    let mut body = String::with_capacity(1 << 20);
    while total < target_bytes {
        let account = *rng.pick(ACCOUNTS);
        let region = *rng.pick(REGIONS);
        let day = 1 + (file_no % 28);
        let hour = rng.below(24);
        let minute = rng.below(12) * 5;
        let dir = root.join(format!(
            "AWSLogs/{account}/CloudTrail/{region}/2024/03/{day:02}"
        ));
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        let name = format!(
            "{account}_CloudTrail_{region}_202403{day:02}T{hour:02}{minute:02}Z_{}.json.gz",
            rng.hex(16)
        );
        let records = 50 + rng.below(351);
        body.clear();
        body.push_str("{\"Records\":[");
        for i in 0..records {
            if i > 0 {
                body.push(',');
            }
            let time = format!(
                "2024-03-{day:02}T{hour:02}:{:02}:{:02}Z",
                minute + rng.below(5),
                rng.below(60)
            );
            record(&mut rng, &mut body, account, region, &time);
        }
        body.push_str("]}");
        let mut gz = GzEncoder::new(Vec::with_capacity(body.len() / 8), Compression::new(6));
        gz.write_all(body.as_bytes()).expect("gzip");
        let bytes = gz.finish().expect("gzip");
        std::fs::write(dir.join(name), &bytes).expect("write corpus file");
        total += body.len() as u64;
        compressed += bytes.len() as u64;
        file_no += 1;
    }
    std::fs::write(root.join("SIZES"), format!("{total} {compressed}\n")).expect("write sizes");
}

fn record(rng: &mut Rng, out: &mut String, account: &str, region: &str, time: &str) {
    let &(host, name, read_only, data) = rng.pick(CALLS);
    let roll = rng.below(100);
    let agent = *rng.pick(AGENTS);
    let ip = format!(
        "10.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        rng.below(256)
    );
    let identity = if roll < 8 {
        format!(
            "{{\"type\":\"AWSService\",\"invokedBy\":\"{}.amazonaws.com\"}}",
            rng.pick(&["ec2", "lambda", "cloudformation", "autoscaling"])
        )
    } else if roll < 9 {
        "{\"type\":\"AWSAccount\",\"principalId\":\"\",\"accountId\":\"ANONYMOUS_PRINCIPAL\"}"
            .to_string()
    } else if roll < 25 {
        let user = rng.pick(USERS);
        format!(
            "{{\"type\":\"IAMUser\",\"principalId\":\"AIDA{}\",\"arn\":\"arn:aws:iam::{account}:user/{user}\",\"accountId\":\"{account}\",\"accessKeyId\":\"AKIA{}\",\"userName\":\"{user}\"}}",
            rng.hex(16).to_uppercase(),
            rng.hex(16).to_uppercase()
        )
    } else {
        let role = rng.pick(ROLES);
        let session = format!("session-{}", rng.below(1_000_000));
        let role_id = format!("AROA{}", rng.hex(17).to_uppercase());
        format!(
            "{{\"type\":\"AssumedRole\",\"principalId\":\"{role_id}:{session}\",\"arn\":\"arn:aws:sts::{account}:assumed-role/{role}/{session}\",\"accountId\":\"{account}\",\"accessKeyId\":\"ASIA{}\",\"sessionContext\":{{\"sessionIssuer\":{{\"type\":\"Role\",\"principalId\":\"{role_id}\",\"arn\":\"arn:aws:iam::{account}:role/{role}\",\"accountId\":\"{account}\",\"userName\":\"{role}\"}},\"webIdFederationData\":{{}},\"attributes\":{{\"creationDate\":\"{time}\",\"mfaAuthenticated\":\"false\"}}}}}}",
            rng.hex(16).to_uppercase()
        )
    };
    let bucket = format!(
        "{}-data-{account}",
        rng.pick(&["app", "etl", "logs", "backups"])
    );
    let key = format!(
        "{}/{}/part-{:05}.parquet",
        rng.pick(&["in", "out", "tmp"]),
        rng.below(400),
        rng.below(100_000)
    );
    let (params, resources) = match host {
        "s3" => (
            format!(
                "{{\"bucketName\":\"{bucket}\",\"Host\":\"{bucket}.s3.{region}.amazonaws.com\",\"key\":\"{key}\",\"x-id\":\"{name}\"}}"
            ),
            format!(
                ",\"resources\":[{{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::{bucket}/{key}\"}},{{\"accountId\":\"{account}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{bucket}\"}}]"
            ),
        ),
        "kms" => {
            let key_id = rng.uuid();
            (
                format!(
                    "{{\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\",\"encryptionContext\":{{\"aws:lambda:FunctionArn\":\"arn:aws:lambda:{region}:{account}:function:ingest\"}}}}"
                ),
                format!(
                    ",\"resources\":[{{\"accountId\":\"{account}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{region}:{account}:key/{key_id}\"}}]"
                ),
            )
        }
        "dynamodb" => (
            format!(
                "{{\"tableName\":\"orders-{}\",\"key\":{{\"pk\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}},\"consistentRead\":false}}",
                rng.below(20)
            ),
            format!(
                ",\"resources\":[{{\"accountId\":\"{account}\",\"type\":\"AWS::DynamoDB::Table\",\"ARN\":\"arn:aws:dynamodb:{region}:{account}:table/orders-{}\"}}]",
                rng.below(20)
            ),
        ),
        "ec2" => (
            format!(
                "{{\"instancesSet\":{{\"items\":[{{\"instanceId\":\"i-{}\"}}]}},\"filterSet\":{{\"items\":[{{\"name\":\"tag:Environment\",\"valueSet\":{{\"items\":[{{\"value\":\"prod\"}}]}}}}]}}}}",
                rng.hex(17)
            ),
            String::new(),
        ),
        "lambda" => (
            format!(
                "{{\"functionName\":\"arn:aws:lambda:{region}:{account}:function:ingest-{}\"}}",
                rng.below(30)
            ),
            String::new(),
        ),
        _ => ("null".to_string(), String::new()),
    };
    let error = if rng.below(100) < 3 {
        ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"User is not authorized to perform this operation because no identity-based policy allows the action\""
    } else {
        ""
    };
    let response = if read_only || !error.is_empty() {
        "null".to_string()
    } else {
        format!("{{\"requestId\":\"{}\"}}", rng.uuid())
    };
    let _ = write!(
        out,
        "{{\"eventVersion\":\"1.09\",\"userIdentity\":{identity},\"eventTime\":\"{time}\",\"eventSource\":\"{host}.amazonaws.com\",\"eventName\":\"{name}\",\"awsRegion\":\"{region}\",\"sourceIPAddress\":\"{ip}\",\"userAgent\":\"{agent}\"{error},\"requestParameters\":{params},\"responseElements\":{response},\"requestID\":\"{}\",\"eventID\":\"{}\",\"readOnly\":{read_only}{resources},\"eventType\":\"AwsApiCall\",\"managementEvent\":{},\"recipientAccountId\":\"{account}\",\"eventCategory\":\"{}\",\"tlsDetails\":{{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\"{host}.{region}.amazonaws.com\"}}}}",
        rng.uuid(),
        rng.uuid(),
        !data,
        if data { "Data" } else { "Management" },
    );
}
