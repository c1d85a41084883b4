//! Serde types for `terraform show -json PLANFILE`, every format version from 0.1 to 1.2.
//!
//! Attribute values of resources (`before`, `after`, `values`, ...) are kept as raw JSON text and only
//! decoded for the resources iamtrim reads, which keeps parsing a large plan close to the cost of
//! merely validating it. Unknown keys are ignored everywhere, as the format's minor versions require.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// The top-level plan document.
#[derive(Debug, Deserialize)]
pub struct Plan {
    /// `format_version`, e.g. `"1.2"`; absent in state files, which the loader rejects.
    pub format_version: Option<String>,
    /// The Terraform version that wrote the plan.
    pub terraform_version: Option<String>,
    /// Planned values of every resource after apply.
    pub planned_values: Option<Values>,
    /// One entry per resource instance the plan touches (or leaves alone, as `no-op`).
    #[serde(default)]
    pub resource_changes: Vec<ResourceChange>,
    /// Changes made outside Terraform since the last apply.
    #[serde(default)]
    pub resource_drift: Vec<ResourceChange>,
    /// The state the plan was made against.
    pub prior_state: Option<State>,
    /// The configuration: module calls, resources and their expressions.
    pub configuration: Option<Configuration>,
    /// Present in state JSON (`terraform show -json` without a plan); used to say so.
    pub values: Option<IgnoredAny>,
    /// Present in raw `terraform.tfstate` files; used to say so.
    pub lineage: Option<IgnoredAny>,
}

/// `prior_state`: the state format embedded in a plan.
#[derive(Debug, Deserialize)]
pub struct State {
    /// Its own format version.
    pub format_version: Option<String>,
    /// The values tree.
    pub values: Option<Values>,
}

/// `planned_values` / `prior_state.values`.
#[derive(Debug, Deserialize)]
pub struct Values {
    /// The root module and, recursively, its children.
    pub root_module: Option<ValuesModule>,
}

/// A module in a values tree.
#[derive(Debug, Deserialize)]
pub struct ValuesModule {
    /// Absolute module address with instance keys (`module.a["x"]`); absent for the root.
    pub address: Option<String>,
    /// Resource instances in this module.
    #[serde(default)]
    pub resources: Vec<ValuesResource>,
    /// Child modules.
    #[serde(default)]
    pub child_modules: Vec<ValuesModule>,
}

/// A resource instance in a values tree.
#[derive(Debug, Deserialize)]
pub struct ValuesResource {
    /// Absolute instance address.
    pub address: String,
    /// `managed` or `data`.
    #[serde(default)]
    pub mode: Mode,
    /// Resource type, e.g. `aws_iam_role`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Resource name.
    pub name: String,
    /// `count` / `for_each` key.
    pub index: Option<InstanceKey>,
    /// Attribute values (raw; decode with [`decode`]).
    pub values: Option<Box<RawValue>>,
    /// Which attribute values are sensitive (same shape, `true` at sensitive leaves).
    pub sensitive_values: Option<Box<RawValue>>,
}

/// `managed` (a `resource` block) or `data` (a `data` block).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `resource "..." "..."`.
    #[default]
    Managed,
    /// `data "..." "..."`.
    Data,
}

/// A `count` index (number) or a `for_each` key (string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(untagged)]
pub enum InstanceKey {
    /// `count.index`.
    Int(i64),
    /// `each.key`.
    Str(String),
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// One `resource_changes[]` / `resource_drift[]` entry.
#[derive(Debug, Deserialize)]
pub struct ResourceChange {
    /// Absolute instance address, e.g. `module.poc.aws_iam_role.r6["p1"]`.
    pub address: String,
    /// Address before a `moved` block.
    pub previous_address: Option<String>,
    /// Module instance address (`module.a[0].module.b`); absent at the root.
    pub module_address: Option<String>,
    /// `managed` or `data`.
    #[serde(default)]
    pub mode: Mode,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Resource name.
    pub name: String,
    /// Instance key.
    pub index: Option<InstanceKey>,
    /// Deposed object key, for deposed instances.
    pub deposed: Option<String>,
    /// Why the action was chosen (`replace_because_tainted`, `read_because_config_unknown`, ...).
    pub action_reason: Option<String>,
    /// The change itself.
    pub change: Change,
}

/// A change: actions and the object before and after.
#[derive(Debug, Deserialize)]
pub struct Change {
    /// e.g. `["create"]`, `["delete","create"]`.
    #[serde(default)]
    pub actions: Vec<ChangeAction>,
    /// The object before (null on create).
    pub before: Option<Box<RawValue>>,
    /// The object after (null on delete); unknown leaves are left out.
    pub after: Option<Box<RawValue>>,
    /// `true` at leaves unknown until apply.
    pub after_unknown: Option<Box<RawValue>>,
    /// `true` at sensitive leaves of `before`.
    pub before_sensitive: Option<Box<RawValue>>,
    /// `true` at sensitive leaves of `after`.
    pub after_sensitive: Option<Box<RawValue>>,
}

/// One element of `change.actions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeAction {
    /// Nothing to do.
    NoOp,
    /// Create.
    Create,
    /// Read (a data source read deferred to apply).
    Read,
    /// Update in place.
    Update,
    /// Delete.
    Delete,
    /// Remove from state without destroying (TF 1.7+).
    Forget,
    /// An action this version of iamtrim does not know.
    #[serde(other)]
    Unknown,
}

/// `configuration`.
#[derive(Debug, Deserialize)]
pub struct Configuration {
    /// The root module's configuration.
    #[serde(default)]
    pub root_module: ConfigModule,
}

/// A module's configuration.
#[derive(Debug, Default, Deserialize)]
pub struct ConfigModule {
    /// Resource and data blocks, addresses relative to this module.
    #[serde(default)]
    pub resources: Vec<ConfigResource>,
    /// `module "name" { ... }` calls.
    #[serde(default)]
    pub module_calls: BTreeMap<String, ModuleCall>,
}

/// A `module` block.
#[derive(Debug, Deserialize)]
pub struct ModuleCall {
    /// `source`, exactly as written.
    #[serde(default)]
    pub source: String,
    /// `version`, when set (registry modules).
    pub version_constraint: Option<String>,
    /// Input expressions.
    #[serde(default)]
    pub expressions: BTreeMap<String, Expr>,
    /// `count`.
    pub count_expression: Option<Expression>,
    /// `for_each`.
    pub for_each_expression: Option<Expression>,
    /// The called module's configuration.
    #[serde(default)]
    pub module: ConfigModule,
}

/// A `resource` or `data` block in configuration.
#[derive(Debug, Deserialize)]
pub struct ConfigResource {
    /// Address relative to its module, e.g. `aws_iam_role.r6` or `data.aws_iam_policy_document.x`.
    pub address: String,
    /// `managed` or `data`.
    #[serde(default)]
    pub mode: Mode,
    /// Resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// Resource name.
    pub name: String,
    /// Attribute and nested-block expressions.
    #[serde(default)]
    pub expressions: BTreeMap<String, Expr>,
    /// `count`.
    pub count_expression: Option<Expression>,
    /// `for_each`.
    pub for_each_expression: Option<Expression>,
}

/// An attribute expression or a nested block list (`statement`, `inline_policy`, ...).
#[derive(Debug, Clone)]
pub enum Expr {
    /// A plain expression.
    Leaf(Expression),
    /// Nested blocks; each block maps names to expressions.
    Blocks(Vec<BTreeMap<String, Expr>>),
    /// A single nested block (nesting mode "single"): names to expressions.
    Block(BTreeMap<String, Expr>),
}

/// `{"constant_value": ...}`, `{"references": [...]}`, or `{}` (a function call without references).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Expression {
    /// The literal value, when the expression is a constant.
    pub constant_value: Option<Value>,
    /// Every reference, full traversal then prefixes.
    pub references: Option<Vec<String>>,
}

impl Expr {
    /// The leaf expression, if this is one.
    pub fn leaf(&self) -> Option<&Expression> {
        match self {
            Expr::Leaf(e) => Some(e),
            _ => None,
        }
    }

    /// The nested blocks, if this is a block list (a single block counts as a list of one).
    pub fn blocks(&self) -> Vec<&BTreeMap<String, Expr>> {
        match self {
            Expr::Blocks(b) => b.iter().collect(),
            Expr::Block(b) => vec![b],
            Expr::Leaf(_) => Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Configuration is small next to resource values, so going through `Value` costs little.
        let v = Value::deserialize(d)?;
        expr_from_value(v).map_err(serde::de::Error::custom)
    }
}

fn expr_from_value(v: Value) -> Result<Expr, String> {
    match v {
        Value::Array(items) => {
            let mut blocks = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Object(map) => blocks.push(block_from_map(map)?),
                    _ => return Err("expected a nested block object".into()),
                }
            }
            Ok(Expr::Blocks(blocks))
        }
        Value::Object(map) => {
            let is_leaf = map.is_empty() || map.contains_key("constant_value") || map.contains_key("references");
            if is_leaf {
                let constant_value = map.get("constant_value").cloned();
                let references = match map.get("references") {
                    Some(Value::Array(r)) => Some(r.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()),
                    Some(_) => return Err("expected \"references\" to be an array of strings".into()),
                    None => None,
                };
                Ok(Expr::Leaf(Expression { constant_value, references }))
            } else {
                Ok(Expr::Block(block_from_map(map)?))
            }
        }
        _ => Err("expected an expression object or a nested block array".into()),
    }
}

fn block_from_map(map: serde_json::Map<String, Value>) -> Result<BTreeMap<String, Expr>, String> {
    map.into_iter().map(|(k, v)| Ok((k, expr_from_value(v)?))).collect()
}

/// Decodes a raw attribute object into a JSON value; `None` for absent or `null`.
pub fn decode(raw: &Option<Box<RawValue>>) -> Option<Value> {
    let raw = raw.as_ref()?;
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Null) | Err(_) => None,
        Ok(v) => Some(v),
    }
}
