//! Serde types for `terraform show -json PLANFILE`, every format version from 0.1 to 1.2.
//!
//! Attribute values of resources (`before`, `after`, `values`, ...) are kept as raw JSON text and only
//! decoded for the resources iamtrim reads, and the values trees keep only those resources, which
//! keeps parsing a large plan close to the cost of merely validating it. Unknown keys are ignored
//! everywhere, as the format's minor versions require.

use serde::Deserialize;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
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
    /// One entry per resource instance the plan touches (or leaves alone, as `no-op`): every entry
    /// is read and checked, those of the types iamtrim reads ([`keeps_values`]) are kept.
    #[serde(default)]
    pub resource_changes: ResourceChanges,
    /// Changes made outside Terraform since the last apply (the same way).
    #[serde(default)]
    pub resource_drift: ResourceChanges,
    /// The state the plan was made against.
    pub prior_state: Option<State>,
    /// The configuration: module calls, resources and their expressions.
    pub configuration: Option<Configuration>,
    /// Present in state JSON (`terraform show -json` without a plan); used to say so.
    pub values: Option<IgnoredAny>,
    /// Present in raw `terraform.tfstate` files; used to say so.
    pub lineage: Option<IgnoredAny>,
}

impl Drop for Plan {
    fn drop(&mut self) {
        // A large plan is a few small allocations per resource in each section, made on two threads
        // by the split parse (`super::split`): freed on two threads too.
        if self.resource_changes.kept.len() >= PARALLEL_DROP_MIN {
            use rayon::prelude::*;
            let changes = std::mem::take(&mut self.resource_changes.kept);
            let trees = (self.planned_values.take(), self.prior_state.take());
            // The changes in pieces that either thread takes, so that the two threads even out
            // whatever the (now smaller) trees cost.
            rayon::join(
                move || changes.into_par_iter().for_each(drop),
                move || drop(trees),
            );
        }
    }
}

/// From this many resource changes, [`Plan`] is dropped on two threads.
const PARALLEL_DROP_MIN: usize = 4096;

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
    /// The instances in this module of the resource types iamtrim reads ([`keeps_values`]): the
    /// others are read (and checked) while parsing, then left out, since nothing uses them.
    #[serde(default, deserialize_with = "kept_resources")]
    pub resources: Vec<ValuesResource>,
    /// Child modules.
    #[serde(default)]
    pub child_modules: Vec<ValuesModule>,
}

/// A resource instance in a values tree.
///
/// `values` and `sensitive_values` are kept only for types iamtrim reads ([`keeps_values`]); for
/// the others they are skipped while parsing and left `None`.
#[derive(Debug)]
pub struct ValuesResource {
    /// Absolute instance address.
    pub address: String,
    /// `managed` or `data`.
    pub mode: Mode,
    /// Resource type, e.g. `aws_iam_role`.
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstanceKey {
    /// `count.index`.
    Int(i64),
    /// `each.key`.
    Str(String),
}

impl<'de> Deserialize<'de> for InstanceKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(KeyText::deserialize(d)?.into_key())
    }
}

/// An instance key as read, a string key still borrowed from the text when it can be (see [`Text`]).
enum KeyText<'de> {
    Int(i64),
    Str(Text<'de>),
}

impl KeyText<'_> {
    fn into_key(self) -> InstanceKey {
        match self {
            KeyText::Int(i) => InstanceKey::Int(i),
            KeyText::Str(s) => InstanceKey::Str(s.into_string()),
        }
    }
}

impl<'de> Deserialize<'de> for KeyText<'de> {
    // By hand rather than `#[serde(untagged)]`, which buffers every value before trying each variant.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = KeyText<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count index (integer) or a for_each key (string)")
            }

            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<KeyText<'de>, E> {
                Ok(KeyText::Int(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<KeyText<'de>, E> {
                i64::try_from(v)
                    .map(KeyText::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<KeyText<'de>, E> {
                Ok(KeyText::Str(Text(std::borrow::Cow::Borrowed(v))))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyText<'de>, E> {
                Ok(KeyText::Str(Text(std::borrow::Cow::Owned(v.to_string()))))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl fmt::Display for InstanceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceKey::Int(i) => write!(f, "[{i}]"),
            InstanceKey::Str(s) => write!(f, "[{}]", serde_json::Value::String(s.clone())),
        }
    }
}

/// `resource_changes` / `resource_drift`: the entries of the types iamtrim reads, and how many
/// there were in all.
///
/// A large plan is mostly resources of other types; each entry is read and checked (a field of the
/// wrong type is an error wherever it is), but only those of [`keeps_values`] types are kept; the
/// others cost no allocation but the copy of a string with escapes (a `for_each` address).
#[derive(Debug, Default)]
pub struct ResourceChanges {
    /// The entries of `aws_iam_*` types, in document order.
    pub kept: Vec<ResourceChange>,
    /// Every entry, kept or not.
    pub total: usize,
}

impl<'de> Deserialize<'de> for ResourceChanges {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = ResourceChanges;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // The words of `Vec`'s visitor, so errors read as they did.
                f.write_str("a sequence")
            }

            fn visit_seq<S: serde::de::SeqAccess<'de>>(
                self,
                mut seq: S,
            ) -> Result<Self::Value, S::Error> {
                let mut out = ResourceChanges::default();
                while let Some(parts) = seq.next_element_seed(ChangeVisitor { listed: true })? {
                    out.total += 1;
                    if keeps_values(&parts.resource_type.0) {
                        out.kept.push(parts.into_change());
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_seq(Visit)
    }
}

/// One `resource_changes[]` / `resource_drift[]` entry.
///
/// The attribute values in `change` are kept only for types iamtrim reads ([`keeps_values`]); for
/// the others they are skipped while parsing and left `None` (`actions` is always read).
#[derive(Debug)]
pub struct ResourceChange {
    /// Absolute instance address, e.g. `module.poc.aws_iam_role.r6["p1"]` (empty when absent, as in
    /// TF 1.0.0's `resource_drift`).
    pub address: String,
    /// Address before a `moved` block.
    pub previous_address: Option<String>,
    /// Module instance address (`module.a[0].module.b`); absent at the root.
    pub module_address: Option<String>,
    /// `managed` or `data`.
    pub mode: Mode,
    /// Resource type.
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
#[derive(Debug, Default)]
pub struct Change {
    /// e.g. `["create"]`, `["delete","create"]`.
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
            let is_leaf = map.is_empty()
                || map.contains_key("constant_value")
                || map.contains_key("references");
            if is_leaf {
                let constant_value = map.get("constant_value").cloned();
                let references = match map.get("references") {
                    Some(Value::Array(r)) => Some(
                        r.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect(),
                    ),
                    Some(_) => {
                        return Err("expected \"references\" to be an array of strings".into());
                    }
                    None => None,
                };
                Ok(Expr::Leaf(Expression {
                    constant_value,
                    references,
                }))
            } else {
                Ok(Expr::Block(block_from_map(map)?))
            }
        }
        _ => Err("expected an expression object or a nested block array".into()),
    }
}

fn block_from_map(map: serde_json::Map<String, Value>) -> Result<BTreeMap<String, Expr>, String> {
    map.into_iter()
        .map(|(k, v)| Ok((k, expr_from_value(v)?)))
        .collect()
}

/// Decodes a raw attribute object into a JSON value; `None` for absent or `null`.
pub fn decode(raw: &Option<Box<RawValue>>) -> Option<Value> {
    let raw = raw.as_ref()?;
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Null) | Err(_) => None,
        Ok(v) => Some(v),
    }
}

/// A resource's attribute object, split into its top-level attributes without decoding them: handlers
/// read a few attributes (`name`, `arn`, `policy`, ...) of each instance, so decoding the whole
/// object (tags, nested blocks) into a [`Value`] would cost more than the rest of discovery.
///
/// Borrows the raw text from the plan. A value that is not an object has no attributes.
#[derive(Debug, Clone, Default)]
pub struct Attributes<'p> {
    /// Attributes in document order; a repeated key is looked up from the end, as `Value` keeps the last.
    fields: Vec<Field<'p>>,
}

impl<'p> Attributes<'p> {
    /// Splits a raw attribute object; `None` for absent, `null` or malformed values (as [`decode`]).
    pub fn parse(raw: &'p Option<Box<RawValue>>) -> Option<Self> {
        let text = raw.as_ref()?.get();
        if text == "null" {
            return None;
        }
        serde_json::from_str::<AttributesSeedless<'p>>(text)
            .ok()
            .map(|a| a.0)
    }

    /// Splits a JSON object given as bytes (`None` when they are not one JSON value).
    pub(crate) fn parse_slice(text: &'p [u8]) -> Option<Self> {
        serde_json::from_slice::<AttributesSeedless<'p>>(text)
            .ok()
            .map(|a| a.0)
    }

    /// Every value of an attribute, in document order (a key may repeat in raw JSON).
    pub(crate) fn raw_all<'s>(&'s self, attr: &'s str) -> impl Iterator<Item = &'p RawValue> + 's {
        self.fields
            .iter()
            .filter(move |(k, _)| k == attr)
            .map(|(_, v)| *v)
    }

    /// The raw text of an attribute.
    pub fn raw(&self, attr: &str) -> Option<&'p RawValue> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == attr)
            .map(|(_, v)| *v)
    }

    /// An attribute decoded into a JSON value (`Value::Null` for an explicit `null`).
    pub fn get(&self, attr: &str) -> Option<Value> {
        self.raw(attr)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// A string attribute; `None` when absent or not a string.
    pub fn get_str(&self, attr: &str) -> Option<String> {
        self.raw(attr)
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }
}

/// Deserializes [`Attributes`] from borrowed text.
struct AttributesSeedless<'p>(Attributes<'p>);

/// One attribute: its name and raw value.
type Field<'p> = (std::borrow::Cow<'p, str>, &'p RawValue);

/// Attributes gathered on the stack before [`Attributes`] is allocated (IAM resources have fewer).
const HEAD: usize = 24;

/// A key borrowed from the text when it has no escapes.
struct AttributeKey<'p>(std::borrow::Cow<'p, str>);

impl<'de> Deserialize<'de> for AttributeKey<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = AttributeKey<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute name")
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(AttributeKey(std::borrow::Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(AttributeKey(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(Visit)
    }
}

impl<'de> Deserialize<'de> for AttributesSeedless<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = AttributesSeedless<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Discovery splits four objects per IAM instance: gathered on the stack first so
                // that each costs one allocation of the right size, not a growing vector's several.
                let mut head: [Option<Field<'de>>; HEAD] = std::array::from_fn(|_| None);
                let mut len = 0;
                let mut rest = Vec::new();
                while let Some((AttributeKey(k), v)) =
                    map.next_entry::<AttributeKey<'de>, &'de RawValue>()?
                {
                    match head.get_mut(len) {
                        Some(slot) => *slot = Some((k, v)),
                        None => rest.push((k, v)),
                    }
                    len += 1;
                }
                let mut fields = Vec::with_capacity(len);
                fields.extend(head.into_iter().flatten());
                fields.extend(rest);
                Ok(AttributesSeedless(Attributes { fields }))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(AttributesSeedless(Attributes::default()))
            }

            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(AttributesSeedless(Attributes::default()))
            }

            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(AttributesSeedless(Attributes::default()))
            }

            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(AttributesSeedless(Attributes::default()))
            }

            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(AttributesSeedless(Attributes::default()))
            }

            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(AttributesSeedless(Attributes::default()))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// True for resource types whose attribute values the model keeps: iamtrim reads only `aws_iam_*`,
/// and skipping the rest keeps parsing a large plan close to the cost of validating its JSON.
pub fn keeps_values(resource_type: &str) -> bool {
    resource_type.starts_with("aws_iam_")
}

/// Sets a field once, as serde's derive does, rejecting a duplicate key.
fn set_once<T, E: serde::de::Error>(
    slot: &mut Option<T>,
    value: T,
    name: &'static str,
) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads an attribute value when kept, else skips it without copying.
fn next_raw<'de, A: MapAccess<'de>>(
    map: &mut A,
    keep: bool,
) -> Result<Option<Box<RawValue>>, A::Error> {
    if keep {
        map.next_value::<Option<Box<RawValue>>>()
    } else {
        map.next_value::<IgnoredAny>()?;
        Ok(None)
    }
}

enum ValuesResourceField {
    Address,
    Mode,
    Type,
    Name,
    Index,
    Values,
    SensitiveValues,
    Other,
}

impl ValuesResourceField {
    fn of(name: &[u8]) -> Self {
        match name {
            b"address" => Self::Address,
            b"mode" => Self::Mode,
            b"type" => Self::Type,
            b"name" => Self::Name,
            b"index" => Self::Index,
            b"values" => Self::Values,
            b"sensitive_values" => Self::SensitiveValues,
            _ => Self::Other,
        }
    }
}

impl<'de> Deserialize<'de> for ValuesResourceField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        field_name(d, Self::of)
    }
}

impl<'de> Deserialize<'de> for ValuesResource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(d.deserialize_map(ResourceVisitor)?.into_resource())
    }
}

/// A values-tree resource as read, its strings still borrowed from the text where they can be, so
/// that a resource of a type iamtrim does not read costs no allocation (see [`kept_resources`]).
struct ResourceParts<'de> {
    address: Option<Text<'de>>,
    mode: Option<Mode>,
    resource_type: Text<'de>,
    name: Text<'de>,
    index: Option<KeyText<'de>>,
    values: Option<Box<RawValue>>,
    sensitive_values: Option<Box<RawValue>>,
}

impl ResourceParts<'_> {
    fn into_resource(self) -> ValuesResource {
        ValuesResource {
            // TF 1.0.0 wrote `resource_drift` entries without an address.
            address: self.address.map(Text::into_string).unwrap_or_default(),
            mode: self.mode.unwrap_or_default(),
            resource_type: self.resource_type.into_string(),
            name: self.name.into_string(),
            index: self.index.map(KeyText::into_key),
            values: self.values,
            sensitive_values: self.sensitive_values,
        }
    }
}

/// A JSON string, borrowed from the text when it has no escapes; rejects other types exactly as
/// `String` does.
///
/// (Borrowing escaped strings too, as `&RawValue`, saves the copy of each `for_each` address of a
/// resource that is not kept, but measured slower: reading a raw value costs more than the copy.)
struct Text<'de>(std::borrow::Cow<'de, str>);

impl Text<'_> {
    fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // The words of `String`'s visitor, so errors read as they did.
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v.to_string())))
            }

            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_string(Visit)
    }
}

/// Reads one values-tree resource object into [`ResourceParts`].
struct ResourceVisitor;

impl<'de> DeserializeSeed<'de> for ResourceVisitor {
    type Value = ResourceParts<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResourceVisitor {
    type Value = ResourceParts<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct ValuesResource")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use ValuesResourceField as F;
        let (mut address, mut mode, mut resource_type, mut name, mut index) =
            (None, None, None, None, None);
        let (mut values, mut sensitive_values) = (None, None);
        // Terraform writes `type` before `values`; when it does not, values are kept until the end.
        let keep = |t: &Option<Text<'_>>| t.as_ref().is_none_or(|t| keeps_values(&t.0));
        while let Some(field) = map.next_key::<F>()? {
            match field {
                F::Address => set_once(&mut address, map.next_value()?, "address")?,
                F::Mode => set_once(&mut mode, map.next_value()?, "mode")?,
                F::Type => set_once(&mut resource_type, map.next_value()?, "type")?,
                F::Name => set_once(&mut name, map.next_value()?, "name")?,
                F::Index => set_once(&mut index, map.next_value()?, "index")?,
                F::Values => set_once(
                    &mut values,
                    next_raw(&mut map, keep(&resource_type))?,
                    "values",
                )?,
                F::SensitiveValues => {
                    let raw = next_raw(&mut map, keep(&resource_type))?;
                    set_once(&mut sensitive_values, raw, "sensitive_values")?
                }
                F::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let resource_type: Text<'de> =
            resource_type.ok_or_else(|| A::Error::missing_field("type"))?;
        let kept = keeps_values(&resource_type.0);
        Ok(ResourceParts {
            address,
            mode,
            name: name.ok_or_else(|| A::Error::missing_field("name"))?,
            index: index.flatten(),
            values: values.flatten().filter(|_| kept),
            sensitive_values: sensitive_values.flatten().filter(|_| kept),
            resource_type,
        })
    }
}

/// `resources` of a values-tree module: every element is read (and checked) as a
/// [`ValuesResource`], but only those of types iamtrim reads ([`keeps_values`]) are kept.
fn kept_resources<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ValuesResource>, D::Error> {
    struct Visit;
    impl<'de> Visitor<'de> for Visit {
        type Value = Vec<ValuesResource>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            // The words of `Vec`'s visitor, so errors read as they did.
            f.write_str("a sequence")
        }

        fn visit_seq<S: serde::de::SeqAccess<'de>>(
            self,
            mut seq: S,
        ) -> Result<Self::Value, S::Error> {
            let mut out = Vec::new();
            while let Some(parts) = seq.next_element_seed(ResourceVisitor)? {
                if keeps_values(&parts.resource_type.0) {
                    out.push(parts.into_resource());
                }
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Visit)
}

enum ResourceChangeField {
    Address,
    PreviousAddress,
    ModuleAddress,
    Mode,
    Type,
    Name,
    Index,
    Deposed,
    ActionReason,
    Change,
    Other,
}

impl ResourceChangeField {
    fn of(name: &[u8]) -> Self {
        match name {
            b"address" => Self::Address,
            b"previous_address" => Self::PreviousAddress,
            b"module_address" => Self::ModuleAddress,
            b"mode" => Self::Mode,
            b"type" => Self::Type,
            b"name" => Self::Name,
            b"index" => Self::Index,
            b"deposed" => Self::Deposed,
            b"action_reason" => Self::ActionReason,
            b"change" => Self::Change,
            _ => Self::Other,
        }
    }
}

impl<'de> Deserialize<'de> for ResourceChangeField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        field_name(d, Self::of)
    }
}

impl<'de> Deserialize<'de> for ResourceChange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(d.deserialize_map(ChangeVisitor { listed: false })?
            .into_change())
    }
}

/// A resource change as read, its strings still borrowed from the text where they can be (those
/// without escapes), so that an entry of a type iamtrim does not read costs next to no allocation
/// (see [`ResourceChanges`]).
struct ChangeParts<'de> {
    address: Option<Text<'de>>,
    previous_address: Option<Text<'de>>,
    module_address: Option<Text<'de>>,
    mode: Option<Mode>,
    resource_type: Text<'de>,
    name: Text<'de>,
    index: Option<KeyText<'de>>,
    deposed: Option<Text<'de>>,
    action_reason: Option<Text<'de>>,
    change: Change,
}

impl ChangeParts<'_> {
    fn into_change(self) -> ResourceChange {
        ResourceChange {
            // TF 1.0.0 wrote `resource_drift` entries without an address.
            address: self.address.map(Text::into_string).unwrap_or_default(),
            previous_address: self.previous_address.map(Text::into_string),
            module_address: self.module_address.map(Text::into_string),
            mode: self.mode.unwrap_or_default(),
            resource_type: self.resource_type.into_string(),
            name: self.name.into_string(),
            index: self.index.map(KeyText::into_key),
            deposed: self.deposed.map(Text::into_string),
            action_reason: self.action_reason.map(Text::into_string),
            change: self.change,
        }
    }
}

/// Reads one resource change object into [`ChangeParts`].
struct ChangeVisitor {
    /// Read as an element of [`ResourceChanges`], which drops an entry whose values are not kept:
    /// its `actions` are then checked, not kept.
    listed: bool,
}

impl<'de> DeserializeSeed<'de> for ChangeVisitor {
    type Value = ChangeParts<'de>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChangeVisitor {
    type Value = ChangeParts<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct ResourceChange")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use ResourceChangeField as F;
        let (mut address, mut previous_address, mut module_address) = (None, None, None);
        let (mut mode, mut resource_type, mut name, mut index) = (None, None, None, None);
        let (mut deposed, mut action_reason, mut change) = (None, None, None);
        while let Some(field) = map.next_key::<F>()? {
            match field {
                F::Address => set_once(&mut address, map.next_value()?, "address")?,
                F::PreviousAddress => {
                    set_once(&mut previous_address, map.next_value()?, "previous_address")?
                }
                F::ModuleAddress => {
                    set_once(&mut module_address, map.next_value()?, "module_address")?
                }
                F::Mode => set_once(&mut mode, map.next_value()?, "mode")?,
                F::Type => set_once(&mut resource_type, map.next_value()?, "type")?,
                F::Name => set_once(&mut name, map.next_value()?, "name")?,
                F::Index => set_once(&mut index, map.next_value()?, "index")?,
                F::Deposed => set_once(&mut deposed, map.next_value()?, "deposed")?,
                F::ActionReason => {
                    set_once(&mut action_reason, map.next_value()?, "action_reason")?
                }
                F::Change => {
                    // Terraform writes `type` before `change`; when it does not, values are kept.
                    let keep = resource_type
                        .as_ref()
                        .is_none_or(|t: &Text<'_>| keeps_values(&t.0));
                    let seed = ChangeSeed {
                        keep,
                        keep_actions: keep || !self.listed,
                    };
                    set_once(&mut change, map.next_value_seed(seed)?, "change")?
                }
                F::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let resource_type: Text<'de> =
            resource_type.ok_or_else(|| A::Error::missing_field("type"))?;
        let mut change = change.ok_or_else(|| A::Error::missing_field("change"))?;
        if !keeps_values(&resource_type.0) {
            change = Change {
                actions: change.actions,
                ..Change::default()
            };
        }
        Ok(ChangeParts {
            address,
            previous_address: previous_address.flatten(),
            module_address: module_address.flatten(),
            mode,
            name: name.ok_or_else(|| A::Error::missing_field("name"))?,
            index: index.flatten(),
            deposed: deposed.flatten(),
            action_reason: action_reason.flatten(),
            resource_type,
            change,
        })
    }
}

/// Reads a `change` object, keeping its attribute values only when `keep`.
struct ChangeSeed {
    keep: bool,
    /// Whether `actions` is kept (it is always checked).
    keep_actions: bool,
}

enum ChangeField {
    Actions,
    Before,
    After,
    AfterUnknown,
    BeforeSensitive,
    AfterSensitive,
    Other,
}

impl ChangeField {
    fn of(name: &[u8]) -> Self {
        match name {
            b"actions" => Self::Actions,
            b"before" => Self::Before,
            b"after" => Self::After,
            b"after_unknown" => Self::AfterUnknown,
            b"before_sensitive" => Self::BeforeSensitive,
            b"after_sensitive" => Self::AfterSensitive,
            _ => Self::Other,
        }
    }
}

impl<'de> Deserialize<'de> for ChangeField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        field_name(d, Self::of)
    }
}

thread_local! {
    /// Set while [`with_strict_field_names`] runs on this thread.
    static STRICT_FIELD_NAMES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with the field names of resource objects read as serde's derive reads them (see
/// [`field_name`]): the loader parses this way when the fast parse fails, so that what a plan with
/// unusual field names parses into, and every error's wording and position, are as they always were.
pub(crate) fn with_strict_field_names<T>(f: impl FnOnce() -> T) -> T {
    let before = STRICT_FIELD_NAMES.with(|s| s.replace(true));
    let out = f();
    STRICT_FIELD_NAMES.with(|s| s.set(before));
    out
}

/// The refusal of a field name the fast way cannot vouch for; never shown (the strict parse that
/// follows words the real outcome).
const UNUSUAL_FIELD_NAME: &str = "a field name that is not plain ASCII";

/// Reads an object key of a resource object (millions in a large plan) and names the field.
///
/// serde's derived field names are read as `str`, which checks each key's UTF-8 on its own; here the
/// key is read as bytes. Only a key of printable ASCII without escapes is taken (it is valid UTF-8
/// whatever the loader checked: text after a UTF-8 BOM is not checked up front); any other key (an
/// escape, a control character, any non-ASCII byte) is refused, and the loader parses again with
/// [`with_strict_field_names`], which reads keys as the derive did.
fn field_name<'de, D: serde::Deserializer<'de>, F>(
    d: D,
    of: fn(&[u8]) -> F,
) -> Result<F, D::Error> {
    if STRICT_FIELD_NAMES.with(std::cell::Cell::get) {
        d.deserialize_identifier(FieldName(of))
    } else {
        d.deserialize_bytes(FieldName(of))
    }
}

/// The visitor of [`field_name`].
struct FieldName<F>(fn(&[u8]) -> F);

impl<'de, F> Visitor<'de> for FieldName<F> {
    type Value = F;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The words of serde's derived field visitor.
        f.write_str("field identifier")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<F, E> {
        Ok((self.0)(v.as_bytes()))
    }

    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<F, E> {
        // Borrowed: the key had no escape. JSON forbids raw control characters in strings, and a
        // non-ASCII byte would need the UTF-8 check that `str` does.
        if v.iter().any(|b| *b < 0x20 || *b >= 0x80) {
            return Err(E::custom(UNUSUAL_FIELD_NAME));
        }
        Ok((self.0)(v))
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<F, E> {
        // Copied: the key had an escape, which the byte read does not check as `str` does.
        Err(E::custom(UNUSUAL_FIELD_NAME))
    }
}

impl<'de> DeserializeSeed<'de> for ChangeSeed {
    type Value = Change;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Change, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChangeSeed {
    type Value = Change;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct Change")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Change, A::Error> {
        use ChangeField as F;
        let keep = self.keep;
        let mut actions = None;
        let (mut before, mut after, mut after_unknown, mut before_sensitive, mut after_sensitive) =
            (None, None, None, None, None);
        while let Some(field) = map.next_key::<F>()? {
            match field {
                F::Actions => set_once(
                    &mut actions,
                    map.next_value_seed(ActionsSeed {
                        keep: self.keep_actions,
                    })?,
                    "actions",
                )?,
                F::Before => set_once(&mut before, next_raw(&mut map, keep)?, "before")?,
                F::After => set_once(&mut after, next_raw(&mut map, keep)?, "after")?,
                F::AfterUnknown => set_once(
                    &mut after_unknown,
                    next_raw(&mut map, keep)?,
                    "after_unknown",
                )?,
                F::BeforeSensitive => set_once(
                    &mut before_sensitive,
                    next_raw(&mut map, keep)?,
                    "before_sensitive",
                )?,
                F::AfterSensitive => set_once(
                    &mut after_sensitive,
                    next_raw(&mut map, keep)?,
                    "after_sensitive",
                )?,
                F::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Change {
            actions: actions.unwrap_or_default(),
            before: before.flatten(),
            after: after.flatten(),
            after_unknown: after_unknown.flatten(),
            before_sensitive: before_sensitive.flatten(),
            after_sensitive: after_sensitive.flatten(),
        })
    }
}

/// Reads `change.actions`: each element is checked, and the list kept only when `keep`.
struct ActionsSeed {
    keep: bool,
}

impl<'de> DeserializeSeed<'de> for ActionsSeed {
    type Value = Vec<ChangeAction>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ActionsSeed {
    type Value = Vec<ChangeAction>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The words of `Vec`'s visitor, so errors read as they did.
        f.write_str("a sequence")
    }

    fn visit_seq<S: serde::de::SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut out = Vec::new();
        while let Some(action) = seq.next_element::<ChangeAction>()? {
            if self.keep {
                out.push(action);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(json: &str) -> ResourceChange {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn keeps_iam_values_whatever_the_key_order() {
        let type_first = r#"{"address":"aws_iam_role.r","type":"aws_iam_role","name":"r","change":{"actions":["create"],"before":null,"after":{"name":"x"},"after_unknown":{"arn":true}}}"#;
        let type_last = r#"{"address":"aws_iam_role.r","name":"r","change":{"actions":["create"],"before":null,"after":{"name":"x"},"after_unknown":{"arn":true}},"type":"aws_iam_role"}"#;
        for text in [type_first, type_last] {
            let rc = change(text);
            assert_eq!(
                rc.change.after.as_ref().map(|r| r.get()),
                Some(r#"{"name":"x"}"#),
                "{text}"
            );
            assert_eq!(
                rc.change.after_unknown.as_ref().map(|r| r.get()),
                Some(r#"{"arn":true}"#),
                "{text}"
            );
            assert!(rc.change.before.is_none());
            assert_eq!(rc.change.actions, vec![ChangeAction::Create]);
        }
    }

    #[test]
    fn resource_changes_keep_iam_entries_and_count_all() {
        let iam = |n: &str| {
            format!(
                r#"{{"address":"aws_iam_role.{n}","type":"aws_iam_role","name":"{n}","index":"k{n}","change":{{"actions":["update"],"after":{{"name":"{n}"}}}}}}"#
            )
        };
        let other = |n: &str| {
            format!(
                r#"{{"address":"aws_s3_bucket.b[\"{n}\"]","type":"aws_s3_bucket","name":"b","index":"{n}","change":{{"actions":["create"],"after":{{"bucket":"{n}"}}}}}}"#
            )
        };
        let text = format!("[{},{},{},{}]", other("a"), iam("x"), other("b"), iam("y"));
        let changes: ResourceChanges = serde_json::from_str(&text).unwrap();
        assert_eq!(changes.total, 4);
        let kept: Vec<_> = changes.kept.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(kept, ["aws_iam_role.x", "aws_iam_role.y"]);
        assert_eq!(changes.kept[1].index, Some(InstanceKey::Str("ky".into())));
        assert_eq!(changes.kept[1].change.actions, [ChangeAction::Update]);
        assert_eq!(
            changes.kept[0].change.after.as_ref().map(|r| r.get()),
            Some(r#"{"name":"x"}"#)
        );
        // An entry left out is checked as strictly as one kept, actions included.
        for bad in [
            other("a").replace(r#"["create"]"#, r#"["create",7]"#),
            other("a").replace(r#""index":"a""#, r#""index":[1]"#),
            other("a").replace(r#""name":"b""#, r#""name":false"#),
        ] {
            let text = format!("[{},{bad}]", iam("x"));
            assert!(
                serde_json::from_str::<ResourceChanges>(&text).is_err(),
                "{bad}"
            );
        }
        // Read on its own, an entry of any type keeps its actions.
        let alone: ResourceChange = serde_json::from_str(&other("c")).unwrap();
        assert_eq!(alone.change.actions, [ChangeAction::Create]);
        assert_eq!(alone.address, r#"aws_s3_bucket.b["c"]"#);
    }

    #[test]
    fn skips_other_values_whatever_the_key_order() {
        let type_first = r#"{"address":"aws_s3_bucket.b","mode":"managed","type":"aws_s3_bucket","name":"b","index":0,"change":{"actions":["delete","create"],"before":{"bucket":"x"},"after":{"bucket":"y"}}}"#;
        let type_last = r#"{"address":"aws_s3_bucket.b","name":"b","index":0,"change":{"actions":["delete","create"],"before":{"bucket":"x"},"after":{"bucket":"y"}},"type":"aws_s3_bucket"}"#;
        for text in [type_first, type_last] {
            let rc = change(text);
            assert!(
                rc.change.before.is_none() && rc.change.after.is_none(),
                "{text}"
            );
            assert_eq!(
                rc.change.actions,
                vec![ChangeAction::Delete, ChangeAction::Create]
            );
            assert_eq!(
                (rc.address.as_str(), rc.index),
                ("aws_s3_bucket.b", Some(InstanceKey::Int(0)))
            );
        }
        let v: ValuesResource = serde_json::from_str(
            r#"{"address":"a.b","values":{"x":1},"type":"a","name":"b","sensitive_values":{}}"#,
        )
        .unwrap();
        assert!(v.values.is_none() && v.sensitive_values.is_none());
        let v: ValuesResource = serde_json::from_str(
            r#"{"address":"a.b","values":{"x":1},"type":"aws_iam_user","name":"b","mode":"data"}"#,
        )
        .unwrap();
        assert_eq!(v.values.as_ref().map(|r| r.get()), Some(r#"{"x":1}"#));
        assert_eq!(v.mode, Mode::Data);
    }

    #[test]
    fn values_trees_keep_only_iam_resources_and_check_the_others() {
        let module: ValuesModule = serde_json::from_str(
            r#"{"resources":[{"address":"aws_s3_bucket.b","mode":"managed","type":"aws_s3_bucket","name":"b","index":"k","values":{"bucket":"x"}},{"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","name":"r","values":{"name":"x"}},{"type":"aws_s\u0033_bucket","name":"\u0062","address":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(module.resources.len(), 1);
        assert_eq!(module.resources[0].address, "aws_iam_role.r");
        assert_eq!(
            module.resources[0].values.as_ref().map(|r| r.get()),
            Some(r#"{"name":"x"}"#)
        );
        // A resource left out is still read as strictly as one kept.
        for (bad, want) in [
            (r#"{"type":"aws_s3_bucket"}"#, "missing field `name`"),
            (r#"{"name":"b"}"#, "missing field `type`"),
            (
                r#"{"type":"aws_s3_bucket","name":1}"#,
                "invalid type: integer `1`, expected a string",
            ),
            (
                r#"{"type":"aws_s3_bucket","name":"b","name":"c"}"#,
                "duplicate field `name`",
            ),
        ] {
            let text = format!(r#"{{"resources":[{bad}]}}"#);
            let err = serde_json::from_str::<ValuesModule>(&text).unwrap_err();
            assert!(err.to_string().contains(want), "{bad}: {err}");
            let err = serde_json::from_str::<ValuesResource>(bad).unwrap_err();
            assert!(err.to_string().contains(want), "{bad}: {err}");
        }
        let err = serde_json::from_str::<ValuesModule>(r#"{"resources":{}}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid type: map, expected a sequence"),
            "{err}"
        );
    }

    #[test]
    fn reads_instance_keys_and_attributes() {
        let key = |t: &str| serde_json::from_str::<Option<InstanceKey>>(t).ok();
        assert_eq!(key("3"), Some(Some(InstanceKey::Int(3))));
        assert_eq!(key("-1"), Some(Some(InstanceKey::Int(-1))));
        assert_eq!(
            key(r#""a\"b""#),
            Some(Some(InstanceKey::Str("a\"b".into())))
        );
        assert_eq!(key("null"), Some(None));
        assert_eq!(key("1.5"), None);
        assert_eq!(key("18446744073709551615"), None);
        let raw: Option<Box<RawValue>> =
            serde_json::from_str(r#"{"name":"a","n\u0061me":"b","tags":{"k":"v"},"x":null}"#)
                .unwrap();
        let attrs = Attributes::parse(&raw).unwrap();
        assert_eq!(
            attrs.get_str("name").as_deref(),
            Some("b"),
            "a repeated key keeps the last value"
        );
        assert_eq!(attrs.get("tags"), Some(serde_json::json!({"k": "v"})));
        assert_eq!(attrs.get("x"), Some(Value::Null));
        assert_eq!(attrs.get_str("tags"), None);
        let null: Option<Box<RawValue>> = Some(RawValue::from_string("null".into()).unwrap());
        assert!(Attributes::parse(&null).is_none());
        let scalar: Option<Box<RawValue>> = Some(RawValue::from_string("true".into()).unwrap());
        assert!(Attributes::parse(&scalar).is_some_and(|a| a.get("x").is_none()));
    }

    #[test]
    fn rejects_what_the_derived_parser_rejected() {
        let missing_type = r#"{"address":"a","name":"n","change":{"actions":[]}}"#;
        assert!(
            serde_json::from_str::<ResourceChange>(missing_type)
                .unwrap_err()
                .to_string()
                .contains("missing field `type`")
        );
        let missing_change = r#"{"address":"a","type":"t","name":"n"}"#;
        assert!(
            serde_json::from_str::<ResourceChange>(missing_change)
                .unwrap_err()
                .to_string()
                .contains("`change`")
        );
        let duplicate = r#"{"address":"a","type":"t","type":"u","name":"n","change":{}}"#;
        assert!(
            serde_json::from_str::<ResourceChange>(duplicate)
                .unwrap_err()
                .to_string()
                .contains("duplicate field `type`")
        );
    }
}
