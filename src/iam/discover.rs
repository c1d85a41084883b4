//! Discovery: from a parsed plan to every principal and the policies that reach it.
//!
//! Three steps. [`PlanIndex`] gathers each IAM resource instance once (from `resource_changes`,
//! then `planned_values` and `prior_state` for what those leave out) with its configuration block.
//! Each resource type's handler (see [`super::resources`]) turns instances into facts in [`Facts`]:
//! principals, policy documents, managed policies and links. [`resolve`] then joins the links, by
//! value where the plan knows it and through configuration references where it does not.

use super::policy::PolicyDocument;
use super::principal::{
    PolicyKind, PolicyOrigin, PolicySource, Principal, PrincipalKind, UnknownReason,
};
use super::resources;
use super::risk;
use crate::plan::model::Attributes;
use crate::plan::model::{
    self, ConfigModule, ConfigResource, Expr, InstanceKey, Mode, ModuleCall, Plan, Values,
    ValuesModule,
};
use rayon::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
// foldhash: keys are addresses from the plan being read (no flooding risk), hashed many times.
use foldhash::HashMap;

/// One resource instance of an IAM type with everything the plan says about it.
#[derive(Debug)]
pub struct Instance<'p> {
    /// Absolute instance address.
    pub address: &'p str,
    /// Module instance address (`module.a["x"]`), empty at the root.
    pub module_address: &'p str,
    /// Resource type.
    pub resource_type: &'p str,
    /// Resource name.
    pub name: &'p str,
    /// Managed or data.
    pub mode: Mode,
    /// Instance key.
    pub index: Option<&'p InstanceKey>,
    /// Values before the plan.
    pub before: Option<Attributes<'p>>,
    /// Values after the plan (unknown leaves left out).
    pub after: Option<Attributes<'p>>,
    /// `true` at unknown leaves of `after`.
    pub after_unknown: Option<Attributes<'p>>,
    /// What the plan marks sensitive, before and after (see [`Marks`]).
    pub sensitive: Marks,
    /// The parts of the change (`change.after`, `change.before`) that hold a value other than an
    /// object or `null`: nothing in them is read, and documents are reported invalid.
    pub malformed: Malformed,
    /// Plan action: `create`, `update`, `replace`, `delete`, `no-op`, `read`.
    pub action: Cow<'static, str>,
    /// The configuration block, when the plan has configuration.
    pub config: Option<&'p ConfigResource>,
}

impl Instance<'_> {
    /// The block address without instance keys: `module.a.aws_iam_role.r`.
    pub fn block_address(&self) -> String {
        block_address(
            &strip_instance_keys(self.module_address),
            self.mode,
            self.resource_type,
            self.name,
        )
    }

    /// A known string attribute (after, else before; the configuration's constant when the plan
    /// leaves it unknown).
    pub fn string(&self, attr: &str) -> Option<String> {
        if self.is_unknown(attr) {
            return match self.constant(attr)? {
                Value::String(s) => Some(s),
                _ => None,
            };
        }
        self.after
            .as_ref()
            .or(self.before.as_ref())
            .and_then(|v| v.get_str(attr))
    }

    /// An attribute's value: after, else before; when the plan leaves it unknown, the constant the
    /// configuration sets (`managed_policy_arns = []` can show as unknown after the change), else
    /// `None`. `Value::Null` for a known null.
    pub fn value(&self, attr: &str) -> Option<Value> {
        if self.is_unknown(attr) {
            return self.constant(attr);
        }
        self.after.as_ref().or(self.before.as_ref())?.get(attr)
    }

    /// The configuration's constant value of an attribute, when it is one.
    pub fn constant(&self, attr: &str) -> Option<Value> {
        self.expr(attr)?.leaf()?.constant_value.clone()
    }

    /// A known string attribute (after, else before) that may be shown: `None` when the plan marks
    /// it sensitive.
    pub fn shown_string(&self, attr: &str) -> Option<String> {
        if self.is_sensitive(attr) {
            None
        } else {
            self.string(attr)
        }
    }

    /// A known string attribute from `before` only.
    pub fn before_string(&self, attr: &str) -> Option<String> {
        self.before.as_ref().and_then(|v| v.get_str(attr))
    }

    /// A known list-of-strings attribute (as [`Instance::value`]); `None` when unknown or absent.
    pub fn strings(&self, attr: &str) -> Option<Vec<String>> {
        let v = self.value(attr)?;
        let items = v.as_array()?;
        Some(
            items
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
        )
    }

    /// True when `after_unknown` marks the attribute (or any part of it) unknown.
    pub fn is_unknown(&self, attr: &str) -> bool {
        self.after_unknown
            .as_ref()
            .and_then(|v| v.get(attr))
            .is_some_and(|v| any_true(&v))
    }

    /// True when `after_unknown` marks the value at `path` (or any part of it) unknown.
    pub fn is_unknown_at(&self, path: &[Step<'_>]) -> bool {
        let Some((Step::Key(attr), rest)) = path.split_first() else {
            return false;
        };
        self.after_unknown
            .as_ref()
            .and_then(|v| v.get(attr))
            .is_some_and(|v| covers(&v, rest))
    }

    /// True when the attribute (or anything in it) is marked sensitive, before or after the plan.
    pub fn is_sensitive(&self, attr: &str) -> bool {
        self.sensitive.covers(&[Step::Key(attr)])
    }

    /// True when the value at `path` (or anything in it) is marked sensitive, before or after.
    pub fn is_sensitive_at(&self, path: &[Step<'_>]) -> bool {
        self.sensitive.covers(path)
    }

    /// The configuration expression of an attribute.
    pub fn expr(&self, attr: &str) -> Option<&Expr> {
        self.config?.expressions.get(attr)
    }

    /// True when the instance is gone after this plan.
    pub fn is_deleted(&self) -> bool {
        self.action == "delete" || self.action == "forget"
    }
}

/// `module.a.aws_iam_role.r` from a module address without instance keys and the block's parts.
fn block_address(module: &str, mode: Mode, resource_type: &str, name: &str) -> String {
    let local = match mode {
        Mode::Managed => format!("{resource_type}.{name}"),
        Mode::Data => format!("data.{resource_type}.{name}"),
    };
    if module.is_empty() {
        local
    } else {
        format!("{module}.{local}")
    }
}

/// One step into a value: an object key or a list position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// An attribute or object key.
    Key(&'a str),
    /// A position in a list (or a set, in the plan's order).
    Index(usize),
}

/// What the plan marks sensitive in one instance: each of `after_sensitive` and `before_sensitive`
/// (or a values tree's `sensitive_values`), decoded.
///
/// A mark is a tree shaped like the value: `true` at a node makes everything under it sensitive,
/// whatever the depth (`true` for the whole object, `{"inline_policy": true}`,
/// `{"inline_policy": [true]}`, `{"inline_policy": [{"policy": true}]}` all cover an inline
/// policy's document). One walk ([`Marks::covers`]) answers for every shape; a mark that does not
/// line up with the path (a list where an object was expected, a position past its end) covers
/// the whole node, so a misread shape hides a value rather than showing it.
#[derive(Debug, Default, Clone)]
pub struct Marks(Vec<Value>);

impl Marks {
    /// Marks from raw sensitivity values (`null`, `false` and absent ones mark nothing).
    pub fn of<'a>(raws: impl IntoIterator<Item = &'a Option<Box<RawValue>>>) -> Self {
        Marks(
            raws.into_iter()
                .filter_map(model::decode)
                .filter(any_true)
                .collect(),
        )
    }

    /// True when the value at `path`, or anything under it, is marked sensitive.
    pub fn covers(&self, path: &[Step<'_>]) -> bool {
        self.0.iter().any(|mark| covers(mark, path))
    }
}

fn covers(mark: &Value, path: &[Step<'_>]) -> bool {
    let mut node = mark;
    for step in path {
        if node == &Value::Bool(true) {
            return true;
        }
        node = match (step, node) {
            (Step::Key(k), Value::Object(o)) => match o.get(*k) {
                Some(v) => v,
                None => return false,
            },
            (Step::Index(i), Value::Array(a)) => match a.get(*i) {
                Some(v) => v,
                None => return any_true(node),
            },
            // `false`, `null`, `{}` mark nothing; any other mismatch is a shape not understood.
            _ => return any_true(node),
        };
    }
    any_true(node)
}

fn any_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Array(a) => a.iter().any(any_true),
        Value::Object(o) => o.values().any(any_true),
        _ => false,
    }
}

/// `module.a["x"].module.b[0]` -> `module.a.module.b`.
pub fn strip_instance_keys(address: &str) -> String {
    let mut out = String::with_capacity(address.len());
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in address.chars() {
        if depth > 0 {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            } else if c == '"' {
                in_string = true;
            } else if c == ']' {
                depth -= 1;
            } else if c == '[' {
                depth += 1;
            }
            continue;
        }
        if c == '[' {
            depth = 1;
        } else {
            out.push(c);
        }
    }
    out
}

/// Parts of a change that are not objects: (part, what it holds instead), e.g.
/// (`change.after`, `a string`).
pub type Malformed = Vec<(&'static str, &'static str)>;

/// The raw values that are neither an object nor `null` (nor absent): (name, what it is instead).
fn malformed(raws: &[(&'static str, &Option<Box<RawValue>>)]) -> Malformed {
    raws.iter()
        .filter_map(|(name, raw)| {
            let found = match raw.as_ref()?.get().trim_start().bytes().next()? {
                b'{' | b'n' => return None,
                b'"' => "a string",
                b'[' => "a list",
                b't' | b'f' => "a boolean",
                _ => "a number",
            };
            Some((*name, found))
        })
        .collect()
}

/// Every IAM resource instance of a plan, indexed.
#[derive(Debug, Default)]
pub struct PlanIndex<'p> {
    /// Instances in plan order.
    pub instances: Vec<Instance<'p>>,
    /// Positions in `instances` by block (module instance, type, name, data or not), in plan order, so
    /// resolving a reference does not scan every instance.
    by_block: HashMap<BlockKey<'p>, Vec<usize>>,
    /// `module` blocks by module path without instance keys (`module.a.module.b`), to follow a
    /// module variable to the expression its caller passes.
    module_calls: HashMap<String, &'p ModuleCall>,
    /// Policy document data sources by instance address, once read (the first pass of [`discover`]);
    /// the other handlers look documents up here.
    pub documents: BTreeMap<String, DocumentFact>,
}

/// (module instance address, resource type, resource name, is a data source).
type BlockKey<'p> = (&'p str, &'p str, &'p str, bool);

/// True for resource types iamtrim reads (decoding values costs time, so others are skipped).
fn is_iam_type(t: &str) -> bool {
    t.starts_with("aws_iam_")
}

impl<'p> PlanIndex<'p> {
    /// Builds the index from a plan.
    pub fn build(plan: &'p Plan) -> Self {
        let iam_changes: Vec<&'p model::ResourceChange> = plan
            .resource_changes
            .kept
            .iter()
            .filter(|rc| is_iam_type(&rc.resource_type) && rc.deposed.is_none())
            .collect();
        // Splitting the attribute objects is the costly part and independent per instance: in
        // parallel, beside listing the instances (which needs none of them).
        let (attributes, listed) = rayon::join(
            || {
                iam_changes
                    .par_iter()
                    .map(|rc| {
                        let values = [
                            Attributes::parse(&rc.change.before),
                            Attributes::parse(&rc.change.after),
                            Attributes::parse(&rc.change.after_unknown),
                        ];
                        // Both sides: a value marked on either is never shown.
                        let marks =
                            Marks::of([&rc.change.after_sensitive, &rc.change.before_sensitive]);
                        let malformed = malformed(&[
                            ("change.after", &rc.change.after),
                            ("change.before", &rc.change.before),
                        ]);
                        (values, marks, malformed)
                    })
                    .collect::<Vec<_>>()
            },
            || list_instances(plan, &iam_changes),
        );
        let Listed {
            mut instances,
            added,
            fills,
            by_block,
            module_calls,
        } = listed;
        for (inst, ([before, after, after_unknown], sensitive, malformed)) in
            instances.iter_mut().zip(attributes)
        {
            inst.before = before;
            inst.after = after;
            inst.after_unknown = after_unknown;
            inst.sensitive = sensitive;
            inst.malformed = malformed;
        }
        let first_new = iam_changes.len();
        let split: Vec<(Option<Attributes<'p>>, Marks, Malformed)> = added
            .par_iter()
            .map(|r| {
                (
                    Attributes::parse(&r.values),
                    Marks::of([&r.sensitive_values]),
                    malformed(&[("values", &r.values)]),
                )
            })
            .collect();
        for (inst, (values, sensitive, malformed)) in instances[first_new..].iter_mut().zip(split) {
            inst.malformed = malformed;
            // An instance first seen in prior_state is unchanged: before and after are its values.
            if inst.action == "no-op" {
                inst.before = values.clone();
            }
            inst.after = values;
            inst.sensitive = sensitive;
        }
        let filled: Vec<(Option<Attributes<'p>>, Marks)> = fills
            .par_iter()
            .map(|(_, r)| {
                (
                    Attributes::parse(&r.values),
                    Marks::of([&r.sensitive_values]),
                )
            })
            .collect();
        for ((i, _), (before, marks)) in fills.iter().zip(filled) {
            let inst = &mut instances[*i];
            if inst.before.is_none() {
                inst.before = before;
            }
            // What the prior state marks stays marked, whatever the change says.
            inst.sensitive.0.extend(marks.0);
        }
        PlanIndex {
            instances,
            by_block,
            module_calls,
            documents: BTreeMap::new(),
        }
    }

    /// Instances of one block in one module instance that still exist after the plan, in plan order.
    fn live_block_instances(
        &self,
        module_address: &str,
        resource_type: &str,
        name: &str,
        is_data: bool,
    ) -> Vec<&Instance<'p>> {
        let Some(positions) = self
            .by_block
            .get(&(module_address, resource_type, name, is_data))
        else {
            return Vec::new();
        };
        positions
            .iter()
            .filter_map(|&i| self.instances.get(i))
            .filter(|i| !i.is_deleted())
            .collect()
    }
}

/// The instances of a plan before their attributes are split (see [`PlanIndex::build`]).
struct Listed<'p> {
    /// Instances in plan order: first one per IAM resource change, then those only the values
    /// trees have; attributes not yet split.
    instances: Vec<Instance<'p>>,
    /// The values-tree resources behind the instances after the resource changes' ones, in order.
    added: Vec<&'p model::ValuesResource>,
    /// (instance, prior values that become its `before` if it has none by then), in walk order.
    fills: Vec<(usize, &'p model::ValuesResource)>,
    /// Positions in `instances` by block.
    by_block: HashMap<BlockKey<'p>, Vec<usize>>,
    /// `module` blocks by module path without instance keys (`module.a.module.b`).
    module_calls: HashMap<String, &'p ModuleCall>,
}

/// Lists the instances of `iam_changes` and of the values trees, with their configuration blocks.
fn list_instances<'p>(plan: &'p Plan, iam_changes: &[&'p model::ResourceChange]) -> Listed<'p> {
    let mut configs: HashMap<String, &'p ConfigResource> = HashMap::default();
    let mut module_calls: HashMap<String, &'p ModuleCall> = HashMap::default();
    if let Some(cfg) = &plan.configuration {
        collect_config(&cfg.root_module, "", &mut configs, &mut module_calls);
    }
    let mut blocks = BlockAddresses::default();
    let mut instances = Vec::with_capacity(iam_changes.len());
    let mut seen: HashMap<&'p str, usize> = HashMap::default();
    for rc in iam_changes {
        let mut inst = Instance {
            address: &rc.address,
            module_address: rc.module_address.as_deref().unwrap_or(""),
            resource_type: &rc.resource_type,
            name: &rc.name,
            mode: rc.mode,
            index: rc.index.as_ref(),
            before: None,
            after: None,
            after_unknown: None,
            sensitive: Marks::default(),
            malformed: Vec::new(),
            action: action_name(&rc.change.actions),
            config: None,
        };
        inst.config = configs.get(&blocks.of(&inst)).copied();
        seen.insert(inst.address, instances.len());
        instances.push(inst);
    }
    // Data sources read during planning (and resources of very old plans) appear only in values
    // trees. The walk decides which instances they add or fill in; their attributes are split
    // afterwards, in parallel.
    let trees: [(Option<&'p Values>, bool); 2] = [
        (plan.planned_values.as_ref(), true),
        (
            plan.prior_state.as_ref().and_then(|s| s.values.as_ref()),
            false,
        ),
    ];
    let mut added: Vec<&'p model::ValuesResource> = Vec::new();
    let mut fills: Vec<(usize, &'p model::ValuesResource)> = Vec::new();
    for (values, planned) in trees {
        let Some(root) = values.and_then(|v| v.root_module.as_ref()) else {
            continue;
        };
        let mut stack: Vec<(&ValuesModule, &'p str)> = vec![(root, "")];
        while let Some((module, module_address)) = stack.pop() {
            for r in &module.resources {
                // resource_changes lists every managed instance; the values trees add data sources
                // (read while planning) and stand in only for plans without resource_changes.
                let wanted = r.mode == Mode::Data || plan.resource_changes.total == 0;
                if !is_iam_type(&r.resource_type) || !wanted {
                    continue;
                }
                if let Some(&i) = seen.get(r.address.as_str()) {
                    // Fill in what resource_changes left out (data sources have no before there).
                    if !planned && instances[i].action != "create" {
                        fills.push((i, r));
                    }
                    continue;
                }
                let mut inst = Instance {
                    address: &r.address,
                    module_address,
                    resource_type: &r.resource_type,
                    name: &r.name,
                    mode: r.mode,
                    index: r.index.as_ref(),
                    before: None,
                    after: None,
                    after_unknown: None,
                    sensitive: Marks::default(),
                    malformed: Vec::new(),
                    action: Cow::Borrowed(if planned { "read" } else { "no-op" }),
                    config: None,
                };
                inst.config = configs.get(&blocks.of(&inst)).copied();
                seen.insert(inst.address, instances.len());
                instances.push(inst);
                added.push(r);
            }
            for child in &module.child_modules {
                stack.push((child, child.address.as_deref().unwrap_or("")));
            }
        }
    }
    let mut by_block: HashMap<BlockKey<'p>, Vec<usize>> = HashMap::default();
    for (i, inst) in instances.iter().enumerate() {
        let key = (
            inst.module_address,
            inst.resource_type,
            inst.name,
            inst.mode == Mode::Data,
        );
        by_block.entry(key).or_default().push(i);
    }
    Listed {
        instances,
        added,
        fills,
        by_block,
        module_calls,
    }
}

/// Block addresses (the configuration's keys) of instances, with the instance keys of each module
/// address stripped once rather than once per instance.
#[derive(Default)]
struct BlockAddresses<'p> {
    modules: HashMap<&'p str, String>,
}

impl<'p> BlockAddresses<'p> {
    /// The same as [`Instance::block_address`].
    fn of(&mut self, inst: &Instance<'p>) -> String {
        let module = self
            .modules
            .entry(inst.module_address)
            .or_insert_with(|| strip_instance_keys(inst.module_address));
        block_address(module, inst.mode, inst.resource_type, inst.name)
    }
}

fn collect_config<'p>(
    module: &'p ConfigModule,
    prefix: &str,
    out: &mut HashMap<String, &'p ConfigResource>,
    calls: &mut HashMap<String, &'p ModuleCall>,
) {
    for r in &module.resources {
        let key = if prefix.is_empty() {
            r.address.clone()
        } else {
            format!("{prefix}.{}", r.address)
        };
        out.insert(key, r);
    }
    for (name, call) in &module.module_calls {
        let child = if prefix.is_empty() {
            format!("module.{name}")
        } else {
            format!("{prefix}.module.{name}")
        };
        collect_config(&call.module, &child, out, calls);
        calls.insert(child, call);
    }
}

fn action_name(actions: &[model::ChangeAction]) -> Cow<'static, str> {
    use model::ChangeAction as A;
    match actions {
        [A::Delete, A::Create] | [A::Create, A::Delete] => "replace".into(),
        [a] => Cow::Borrowed(plan_action_name(*a)),
        [] => "no-op".into(),
        many => many
            .iter()
            .map(|a| plan_action_name(*a))
            .collect::<Vec<_>>()
            .join("+")
            .into(),
    }
}

/// An action's name in the plan (its serialized form), without serializing it for every instance.
fn plan_action_name(action: model::ChangeAction) -> &'static str {
    use model::ChangeAction as A;
    match action {
        A::NoOp => "no-op",
        A::Create => "create",
        A::Read => "read",
        A::Update => "update",
        A::Delete => "delete",
        A::Forget => "forget",
        A::Unknown => "unknown",
    }
}

/// A reference to a principal, as written on a linking resource.
#[derive(Debug, Clone)]
pub enum PrincipalRef {
    /// By IAM name, known at plan time.
    Name(PrincipalKind, String),
    /// By instance address, when resolved through configuration.
    Address(String),
}

/// A reference to a managed policy.
#[derive(Debug, Clone)]
pub enum PolicyRef {
    /// By ARN, known at plan time.
    Arn(String),
    /// By instance address of an `aws_iam_policy`, resolved through configuration.
    Address(String),
    /// Unknown at plan time and not resolvable.
    Unknown(UnknownReason),
}

/// A document, known or not.
#[derive(Debug, Clone)]
pub struct DocumentFact {
    /// The document after this plan (shared by every principal it reaches).
    pub after: Result<Arc<PolicyDocument>, UnknownReason>,
    /// The document before this plan.
    pub before: Option<Arc<PolicyDocument>>,
    /// The data source that renders it, if any.
    pub document_source: Option<String>,
}

/// A customer-managed policy defined in the plan.
#[derive(Debug, Clone)]
pub struct ManagedPolicyFact {
    /// Instance address.
    pub address: String,
    /// Name, when known.
    pub name: Option<String>,
    /// ARN, when known (existing policies).
    pub arn: Option<String>,
    /// Its document.
    pub document: DocumentFact,
}

/// An inline policy on a principal.
#[derive(Debug, Clone)]
pub struct InlineFact {
    /// The principal it is on.
    pub principal: PrincipalRef,
    /// Address of the resource holding it.
    pub address: String,
    /// Policy name, when it may be shown.
    pub name: Option<String>,
    /// Policy name for matching (shown or not): what a role's refreshed `inline_policy` lists.
    pub match_name: Option<String>,
    /// Its document.
    pub document: DocumentFact,
    /// Where it is written.
    pub origin: PolicyOrigin,
}

/// A policy an existing role has in AWS (its refreshed `inline_policy` / `managed_policy_arns`)
/// that the configuration does not set on the role itself: attached outside this configuration,
/// unless a resource of the configuration claims it (the join decides).
#[derive(Debug, Clone)]
pub struct OutsideFact {
    /// The role.
    pub principal: PrincipalRef,
    /// The policy.
    pub policy: OutsidePolicy,
}

/// A policy found on a role in AWS.
#[derive(Debug, Clone)]
pub enum OutsidePolicy {
    /// An inline policy, by name, with its document.
    Inline {
        /// The name, for matching.
        name: String,
        /// The name when it may be shown.
        shown_name: Option<String>,
        /// Its document's value as the plan holds it (unparsed: it is read only when no resource
        /// claims the policy); `None` when sensitive.
        document: Option<Value>,
        /// True when the plan marks the document sensitive.
        sensitive: bool,
    },
    /// A managed policy, by ARN.
    Arn(String),
}

/// A policy that a resource this plan deletes still puts on a principal.
#[derive(Debug, Clone)]
pub struct ClaimFact {
    /// The principal.
    pub principal: PrincipalRef,
    /// The policy.
    pub policy: Claim,
}

/// What a resource of the configuration puts on a principal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Claim {
    /// An inline policy of this name.
    InlineName(String),
    /// The managed policy of this ARN.
    Arn(String),
}

/// An attachment of a managed policy to a principal.
#[derive(Debug, Clone)]
pub struct AttachmentFact {
    /// The principal.
    pub principal: PrincipalRef,
    /// The policy.
    pub policy: PolicyRef,
    /// The attaching resource (or the principal itself for `managed_policy_arns`).
    pub address: String,
}

/// A user's membership in a group.
#[derive(Debug, Clone)]
pub struct MembershipFact {
    /// The user.
    pub user: PrincipalRef,
    /// The group.
    pub group: PrincipalRef,
}

/// A principal as declared, before links are resolved.
#[derive(Debug, Clone)]
pub struct PrincipalFact {
    /// Instance address.
    pub address: String,
    /// Block address.
    pub block_address: String,
    /// Module instance address.
    pub module_address: String,
    /// Instance key.
    pub index: Option<InstanceKey>,
    /// Kind.
    pub kind: PrincipalKind,
    /// Name.
    pub name: Option<String>,
    /// ARN when it exists.
    pub arn: Option<String>,
    /// Plan action.
    pub action: String,
    /// AWS service principals its trust policy lets in (roles), sorted.
    pub trusted_services: Vec<String>,
}

/// Everything the handlers learned, waiting to be joined.
#[derive(Debug, Default)]
pub struct Facts {
    /// Principals.
    pub principals: Vec<PrincipalFact>,
    /// Managed policies by instance address.
    pub managed: BTreeMap<String, ManagedPolicyFact>,
    /// Policy document data sources by instance address (moved to [`PlanIndex::documents`] before
    /// the other handlers run).
    pub documents: BTreeMap<String, DocumentFact>,
    /// Inline policies.
    pub inline: Vec<InlineFact>,
    /// Attachments.
    pub attachments: Vec<AttachmentFact>,
    /// Group memberships.
    pub memberships: Vec<MembershipFact>,
    /// Policies existing roles have in AWS that the configuration does not set on them.
    pub outside: Vec<OutsideFact>,
    /// Policies that resources this plan deletes still put on principals.
    pub claims: Vec<ClaimFact>,
    /// Notes for the user (ambiguous links, unparseable documents).
    pub warnings: Vec<String>,
}

/// The result of discovery.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Principals, riskiest first, then by address.
    pub principals: Vec<Principal>,
    /// Notes for the user.
    pub warnings: Vec<String>,
}

impl Drop for Discovery {
    fn drop(&mut self) {
        // A large discovery is tens of thousands of small allocations (policy documents): freed on
        // two threads, as they were made.
        if self.principals.len() >= PARALLEL_DROP_MIN {
            // In pieces that either thread takes (principals differ a lot in size).
            std::mem::take(&mut self.principals)
                .into_par_iter()
                .for_each(drop);
        }
    }
}

/// From this many principals, [`Discovery`] is dropped on two threads.
const PARALLEL_DROP_MIN: usize = 256;

/// Finds every principal in a plan and the policies that reach it.
pub fn discover(plan: &Plan) -> Discovery {
    let mut index = PlanIndex::build(plan);
    // Policy documents first: other handlers look them up by address.
    let documents = run_handlers(&index, true);
    index.documents = documents.documents;
    let mut facts = run_handlers(&index, false);
    facts.warnings.splice(0..0, documents.warnings);
    // The facts own what they need: the index (thousands of small allocations) is freed meanwhile.
    rayon::join(|| resolve(facts), move || drop(index)).0
}

/// Runs the handlers of the data sources (`data`) or of the managed resources, in parallel: a handler
/// reads its instance and the index and only adds facts, so each chunk of instances gets its own
/// [`Facts`], merged in plan order (a later insert into a map wins, as when run one by one).
fn run_handlers(index: &PlanIndex<'_>, data: bool) -> Facts {
    index
        .instances
        .par_iter()
        .filter(|inst| (inst.mode == Mode::Data) == data)
        .fold(Facts::default, |mut facts, inst| {
            if let Some(handler) = resources::handler_for(inst.mode, inst.resource_type) {
                handler(inst, index, &mut facts);
            }
            facts
        })
        .reduce(Facts::default, Facts::append)
}

impl Facts {
    /// `self` then `later`, as if `later`'s handlers had run after `self`'s.
    fn append(mut self, later: Facts) -> Facts {
        let Facts {
            principals,
            managed,
            documents,
            inline,
            attachments,
            memberships,
            outside,
            claims,
            warnings,
        } = later;
        self.principals.extend(principals);
        self.managed.extend(managed);
        self.documents.extend(documents);
        self.inline.extend(inline);
        self.attachments.extend(attachments);
        self.memberships.extend(memberships);
        self.outside.extend(outside);
        self.claims.extend(claims);
        self.warnings.extend(warnings);
        self
    }
}

/// Joins the facts into principals with their policy sources.
pub fn resolve(facts: Facts) -> Discovery {
    let Facts {
        principals: pfacts,
        managed,
        inline,
        attachments,
        memberships,
        outside,
        claims,
        mut warnings,
        ..
    } = facts;
    // Positions as one-element slices, so a lookup borrows its answer rather than allocating it.
    let by_address: HashMap<&str, [usize; 1]> = pfacts
        .iter()
        .enumerate()
        .map(|(i, p)| (p.address.as_str(), [i]))
        .collect();
    // One map of names per kind (role, user, group).
    let kind_index = |k: PrincipalKind| match k {
        PrincipalKind::Role => 0,
        PrincipalKind::User => 1,
        PrincipalKind::Group => 2,
    };
    let mut by_name: [HashMap<&str, Vec<usize>>; 3] = Default::default();
    for (i, p) in pfacts.iter().enumerate() {
        if let Some(n) = &p.name {
            by_name[kind_index(p.kind)]
                .entry(n.as_str())
                .or_default()
                .push(i);
        }
    }
    let lookup = borrowing_lookup(|r| match r {
        PrincipalRef::Address(a) => by_address.get(a.as_str()).map_or(&[], |i| &i[..]),
        PrincipalRef::Name(kind, n) => by_name[kind_index(*kind)]
            .get(n.as_str())
            .map_or(&[], Vec::as_slice),
    });
    let mut managed = managed;
    let managed_by_arn: HashMap<String, String> = managed
        .values()
        .filter_map(|m| m.arn.as_ref().map(|a| (a.clone(), m.address.clone())))
        .collect();
    // Which managed policy (by address) an attachment brings, if it is one defined in the plan.
    let managed_of = |policy: &PolicyRef| -> Option<String> {
        match policy {
            PolicyRef::Arn(arn) if is_aws_managed(arn) => None,
            PolicyRef::Arn(arn) => managed_by_arn.get(arn.as_str()).cloned(),
            PolicyRef::Address(addr) => managed.contains_key(addr).then(|| addr.clone()),
            PolicyRef::Unknown(_) => None,
        }
    };
    // Documents are moved into their last attachment's source rather than cloned for every one.
    let mut uses_left: HashMap<String, usize> = HashMap::default();
    for a in &attachments {
        if let Some(addr) = managed_of(&a.policy) {
            *uses_left.entry(addr).or_default() += 1;
        }
    }

    // What the configuration's resources put on each principal, by inline name and by ARN: a
    // policy a role has in AWS is attached outside this configuration only when none of them does.
    let mut claimed: BTreeSet<(usize, Claim)> = BTreeSet::new();
    let claims_needed = !outside.is_empty();
    for f in inline.iter().filter(|_| claims_needed) {
        if let Some(name) = &f.match_name {
            for &i in lookup(&f.principal) {
                claimed.insert((i, Claim::InlineName(name.clone())));
            }
        }
    }
    for a in attachments.iter().filter(|_| claims_needed) {
        let arn = match &a.policy {
            PolicyRef::Arn(arn) => Some(arn.clone()),
            PolicyRef::Address(addr) => managed.get(addr).and_then(|m| m.arn.clone()),
            PolicyRef::Unknown(_) => None,
        };
        if let Some(arn) = arn {
            for &i in lookup(&a.principal) {
                claimed.insert((i, Claim::Arn(arn.clone())));
            }
        }
    }
    for c in claims {
        for &i in lookup(&c.principal) {
            claimed.insert((i, c.policy.clone()));
        }
    }
    let mut outside_sources: Vec<(usize, PolicySource)> = Vec::new();
    for f in outside {
        for &i in lookup(&f.principal) {
            let claim = match &f.policy {
                OutsidePolicy::Inline { name, .. } => Claim::InlineName(name.clone()),
                OutsidePolicy::Arn(arn) => Claim::Arn(arn.clone()),
            };
            if !claimed.contains(&(i, claim)) {
                let source = outside_source(
                    &pfacts[i].address,
                    f.policy.clone(),
                    &managed_by_arn,
                    &managed,
                );
                outside_sources.push((i, source));
            }
        }
    }
    let mut sources: Vec<Vec<PolicySource>> = vec![Vec::new(); pfacts.len()];
    for (i, s) in outside_sources {
        sources[i].push(s);
    }
    for f in inline {
        let targets = lookup(&f.principal);
        let Some((&last, rest)) = targets.split_last() else {
            continue;
        };
        // Moved rather than cloned: an inline policy almost always has one principal.
        let DocumentFact { after, before, .. } = f.document;
        let (document, unknown_reason) = match after {
            Ok(d) => (Some(d), None),
            Err(r) => (None, Some(r)),
        };
        let source = PolicySource {
            address: f.address,
            kind: PolicyKind::Inline,
            name: f.name,
            arn: None,
            attachment: None,
            via_group: None,
            document,
            before,
            unknown_reason,
            origin: Some(f.origin),
        };
        for &i in rest {
            sources[i].push(source.clone());
        }
        sources[last].push(source);
    }
    for a in &attachments {
        let targets = lookup(&a.principal);
        let source = match &a.policy {
            PolicyRef::Arn(arn) if is_aws_managed(arn) => PolicySource {
                address: arn.clone(),
                kind: PolicyKind::AwsManaged,
                name: arn.rsplit('/').next().map(str::to_string),
                arn: Some(arn.clone()),
                attachment: Some(a.address.clone()),
                via_group: None,
                document: None,
                before: None,
                unknown_reason: Some(UnknownReason::AwsManagedNotResolved),
                origin: None,
            },
            PolicyRef::Arn(arn) => match managed_by_arn.get(arn.as_str()) {
                Some(addr) => match managed_use(&mut managed, &mut uses_left, addr) {
                    Some(m) => managed_source(m, &a.address),
                    None => continue,
                },
                None => PolicySource {
                    address: arn.clone(),
                    kind: PolicyKind::Managed,
                    name: arn.rsplit('/').next().map(str::to_string),
                    arn: Some(arn.clone()),
                    attachment: Some(a.address.clone()),
                    via_group: None,
                    document: None,
                    before: None,
                    unknown_reason: Some(UnknownReason::NotInPlan),
                    origin: None,
                },
            },
            PolicyRef::Address(addr) => match managed_use(&mut managed, &mut uses_left, addr) {
                Some(m) => managed_source(m, &a.address),
                None => continue,
            },
            PolicyRef::Unknown(reason) => PolicySource {
                address: a.address.clone(),
                kind: PolicyKind::Managed,
                name: None,
                arn: None,
                attachment: Some(a.address.clone()),
                via_group: None,
                document: None,
                before: None,
                unknown_reason: Some(reason.clone()),
                origin: None,
            },
        };
        let mut fresh: Vec<usize> = Vec::with_capacity(targets.len());
        for &i in targets {
            let dup = sources[i]
                .iter()
                .any(|s| s.address == source.address && s.kind == source.kind);
            if !dup && !fresh.contains(&i) {
                fresh.push(i);
            }
        }
        if let Some((&last, rest)) = fresh.split_last() {
            for &i in rest {
                sources[i].push(source.clone());
            }
            sources[last].push(source);
        }
    }
    // Users inherit their groups' policies.
    let mut inherited: Vec<(usize, PolicySource)> = Vec::new();
    let mut member_of: BTreeSet<(usize, usize)> = BTreeSet::new();
    for m in &memberships {
        for &u in lookup(&m.user) {
            for &g in lookup(&m.group) {
                if pfacts[u].kind == PrincipalKind::User && pfacts[g].kind == PrincipalKind::Group {
                    member_of.insert((u, g));
                }
            }
        }
    }
    for &(u, g) in &member_of {
        for s in &sources[g] {
            let mut s = s.clone();
            s.via_group = Some(pfacts[g].address.clone());
            s.kind = PolicyKind::InheritedFromGroup;
            inherited.push((u, s));
        }
    }
    for (u, s) in inherited {
        sources[u].push(s);
    }
    let mut principals: Vec<Principal> = pfacts
        .into_par_iter()
        .zip(sources)
        .map(|(p, policies)| {
            let flags = risk::flags(policies.iter().filter_map(|s| s.document.as_deref()));
            Principal {
                address: p.address,
                block_address: p.block_address,
                kind: p.kind,
                account: p.arn.as_deref().and_then(account_of),
                name: p.name,
                arn: p.arn,
                plan_action: p.action,
                policies,
                flags,
                trusted_services: p.trusted_services,
            }
        })
        .collect();
    principals.sort_by(|a, b| {
        risk::rank(b)
            .cmp(&risk::rank(a))
            .then_with(|| a.address.cmp(&b.address))
    });
    warnings.sort();
    warnings.dedup();
    Discovery {
        principals,
        warnings,
    }
}

/// `f` as it is: gives a closure the signature that lets its answer borrow from what it captures.
fn borrowing_lookup<'m, F: Fn(&PrincipalRef) -> &'m [usize]>(f: F) -> F {
    f
}

/// A managed policy for one attachment: borrowed while later attachments still need it, taken out of
/// `managed` (so its documents move rather than being copied) at its last attachment.
enum ManagedUse<'m> {
    Shared(&'m ManagedPolicyFact),
    Last(Box<ManagedPolicyFact>),
}

fn managed_use<'m>(
    managed: &'m mut BTreeMap<String, ManagedPolicyFact>,
    uses_left: &mut HashMap<String, usize>,
    addr: &str,
) -> Option<ManagedUse<'m>> {
    let left = uses_left.get_mut(addr)?;
    *left = left.saturating_sub(1);
    if *left == 0 {
        managed.remove(addr).map(|m| ManagedUse::Last(Box::new(m)))
    } else {
        managed.get(addr).map(ManagedUse::Shared)
    }
}

fn managed_source(m: ManagedUse<'_>, attachment: &str) -> PolicySource {
    let (address, name, arn, document) = match m {
        ManagedUse::Shared(m) => (
            m.address.clone(),
            m.name.clone(),
            m.arn.clone(),
            m.document.clone(),
        ),
        ManagedUse::Last(m) => {
            let m = *m;
            (m.address, m.name, m.arn, m.document)
        }
    };
    let (after, unknown_reason) = match document.after {
        Ok(d) => (Some(d), None),
        Err(r) => (None, Some(r)),
    };
    PolicySource {
        origin: Some(PolicyOrigin {
            resource: address.clone(),
            attribute: "policy".into(),
            block_name: None,
            document_source: document.document_source,
        }),
        address,
        kind: PolicyKind::Managed,
        name,
        arn,
        attachment: Some(attachment.to_string()),
        via_group: None,
        document: after,
        before: document.before,
        unknown_reason,
    }
}

/// The source of a policy attached to `principal` outside this configuration.
fn outside_source(
    principal: &str,
    policy: OutsidePolicy,
    managed_by_arn: &HashMap<String, String>,
    managed: &BTreeMap<String, ManagedPolicyFact>,
) -> PolicySource {
    let (address, name, arn, document, before, unknown_reason) = match policy {
        OutsidePolicy::Inline {
            name,
            shown_name,
            document,
            sensitive,
        } => {
            let parsed = match (&document, sensitive) {
                (_, true) => Err(UnknownReason::Sensitive),
                (Some(Value::String(text)), false) => PolicyDocument::parse_str(text)
                    .map(Arc::new)
                    .map_err(|e| UnknownReason::Invalid(e.to_string())),
                (Some(Value::Null) | None, false) => Err(UnknownReason::ComputedAtApply),
                (Some(_), false) => Err(UnknownReason::WrongType(
                    "an `inline_policy` block's `policy` is not a JSON string".into(),
                )),
            };
            let (doc, reason) = match parsed {
                Ok(d) => (Some(d), None),
                Err(r) => (None, Some(r)),
            };
            // Unchanged by this plan: what it is now is what it was.
            let before = doc.clone();
            // The name is part of the address only when it may be shown.
            let address = match &shown_name {
                Some(n) => format!("{principal} (inline policy {n})"),
                None => format!("{principal} (inline policy)"),
            };
            drop(name);
            (address, shown_name, None, doc, before, reason)
        }
        OutsidePolicy::Arn(arn) => {
            let name = arn.rsplit('/').next().map(str::to_string);
            // A policy this plan defines but attaches only outside it: its document is known.
            let defined = managed_by_arn.get(&arn).and_then(|a| managed.get(a));
            let (doc, before, reason) = match defined {
                Some(m) => match &m.document.after {
                    Ok(d) => (Some(Arc::clone(d)), m.document.before.clone(), None),
                    Err(r) => (None, None, Some(r.clone())),
                },
                None if is_aws_managed(&arn) => {
                    (None, None, Some(UnknownReason::AwsManagedNotResolved))
                }
                None => (None, None, Some(UnknownReason::NotInPlan)),
            };
            (arn.clone(), name, Some(arn), doc, before, reason)
        }
    };
    PolicySource {
        address,
        kind: PolicyKind::OutsideConfiguration,
        name,
        arn,
        attachment: None,
        via_group: None,
        document,
        before,
        unknown_reason,
        // Never patched: nothing in the configuration writes it.
        origin: None,
    }
}

/// True for `arn:<partition>:iam::aws:policy/...`.
pub fn is_aws_managed(arn: &str) -> bool {
    let mut parts = arn.splitn(6, ':');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("arn"), Some(_), Some("iam"), Some(""), Some("aws"), Some(rest)) if rest.starts_with("policy/")
    )
}

/// The account id of an IAM ARN.
pub fn account_of(arn: &str) -> Option<String> {
    let acct = arn.split(':').nth(4)?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then(|| acct.to_string())
}

/// Resolves a configuration reference such as `aws_iam_role.r.name` or `aws_iam_role.r[0].id`, made
/// from the instance `from`, to instance addresses of type `target_type` in the same module instance.
///
/// With `count`/`for_each` on both sides and no explicit index, an instance links to the target
/// instance with the same key (the common "same for_each" pattern); when that cannot be decided it
/// links to every instance, which over-attributes (safe: minimizing then keeps more) rather than
/// missing a link (unsafe).
pub fn resolve_reference(
    index: &PlanIndex<'_>,
    from: &Instance<'_>,
    expr: Option<&Expr>,
    target_types: &[&str],
) -> Vec<String> {
    let Some(refs) = expr
        .and_then(Expr::leaf)
        .and_then(|e| e.references.as_ref())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    resolve_in(
        index,
        from.module_address,
        from.index,
        refs,
        target_types,
        0,
        &mut out,
    );
    out
}

/// Module nesting a variable is followed through at most (Terraform has no limit; plans seen in
/// the wild stay under ten).
const MAX_VARIABLE_DEPTH: usize = 64;

/// [`resolve_reference`] for the references `refs` written in module instance `module_address`,
/// from an instance (or a module instance) with key `key`. A module variable (`var.x`) is followed
/// to the expression the calling module passes for it, resolved in the caller's module instance
/// with the called module instance's key, through any number of levels.
fn resolve_in(
    index: &PlanIndex<'_>,
    module_address: &str,
    key: Option<&InstanceKey>,
    refs: &[String],
    target_types: &[&str],
    depth: usize,
    out: &mut Vec<String>,
) {
    // Terraform lists each traversal and its prefixes (`aws_iam_role.r[0].name`, `aws_iam_role.r[0]`,
    // sometimes `aws_iam_role.r`): keep one target per block, the most specific index.
    let mut targets: Vec<(String, String, bool, Option<InstanceKey>)> = Vec::new();
    let mut variables: Vec<&str> = Vec::new();
    for r in refs {
        if let Some(var) = r.strip_prefix("var.") {
            let name = var.split(['.', '[']).next().unwrap_or(var);
            if !variables.contains(&name) {
                variables.push(name);
            }
            continue;
        }
        let Some((rtype, rname, rindex)) = parse_reference(r) else {
            continue;
        };
        if !target_types.contains(&rtype.as_str()) {
            continue;
        }
        let is_data = r.starts_with("data.");
        match targets
            .iter_mut()
            .find(|t| t.0 == rtype && t.1 == rname && t.2 == is_data)
        {
            Some(t) => {
                if t.3.is_none() {
                    t.3 = rindex;
                }
            }
            None => targets.push((rtype, rname, is_data, rindex)),
        }
    }
    for (rtype, rname, is_data, rindex) in targets {
        let candidates: Vec<&Instance<'_>> =
            index.live_block_instances(module_address, &rtype, &rname, is_data);
        let chosen: Vec<&Instance<'_>> = match &rindex {
            Some(k) => candidates
                .into_iter()
                .filter(|i| i.index == Some(k))
                .collect(),
            None if candidates.len() <= 1 => candidates,
            None => {
                let same: Vec<&Instance<'_>> = candidates
                    .iter()
                    .copied()
                    .filter(|i| i.index.is_some() && i.index == key)
                    .collect();
                if same.len() == 1 { same } else { candidates }
            }
        };
        for c in chosen {
            if !out.iter().any(|o| o == c.address) {
                out.push(c.address.to_string());
            }
        }
    }
    if variables.is_empty() || depth >= MAX_VARIABLE_DEPTH {
        return;
    }
    let Some((parent, call_key)) = split_module_instance(module_address) else {
        return;
    };
    let Some(call) = index.module_calls.get(&strip_instance_keys(module_address)) else {
        return;
    };
    for name in variables {
        let Some(passed) = call
            .expressions
            .get(name)
            .and_then(Expr::leaf)
            .and_then(|e| e.references.as_ref())
        else {
            continue;
        };
        resolve_in(
            index,
            parent,
            call_key.as_ref(),
            passed,
            target_types,
            depth + 1,
            out,
        );
    }
}

/// `module.a["x"].module.b[0]` -> (`module.a["x"]`, the key `0`); `None` at the root.
fn split_module_instance(address: &str) -> Option<(&str, Option<InstanceKey>)> {
    // The last `module.` that starts a step, outside brackets (a key may hold `.module.`).
    let bytes = address.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut last = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' if depth > 0 => in_string = true,
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            _ if depth == 0
                && (i == 0 || bytes[i - 1] == b'.')
                && address[i..].starts_with("module.") =>
            {
                last = Some(i);
            }
            _ => {}
        }
    }
    let start = last?;
    let parent = address[..start].trim_end_matches('.');
    let step = &address[start..];
    let key = step.find('[').and_then(|open| {
        let k = step[open + 1..].strip_suffix(']')?;
        match k.parse::<i64>() {
            Ok(n) => Some(InstanceKey::Int(n)),
            Err(_) => serde_json::from_str::<String>(k).ok().map(InstanceKey::Str),
        }
    });
    Some((parent, key))
}

/// `data.aws_iam_policy_document.x.json` -> (`aws_iam_policy_document`, `x`, None);
/// `aws_iam_role.r["k"].name` -> (`aws_iam_role`, `r`, Some("k")).
fn parse_reference(r: &str) -> Option<(String, String, Option<InstanceKey>)> {
    let r = r.strip_prefix("data.").unwrap_or(r);
    let (rtype, rest) = r.split_once('.')?;
    if matches!(
        rtype,
        "var" | "local" | "module" | "each" | "count" | "path" | "terraform" | "self"
    ) {
        return None;
    }
    let name_end = rest.find(['.', '[']).unwrap_or(rest.len());
    let name = &rest[..name_end];
    let after = &rest[name_end..];
    let index = after
        .strip_prefix('[')
        .and_then(|s| s.split_once(']'))
        .and_then(|(k, _)| {
            if let Ok(n) = k.parse::<i64>() {
                Some(InstanceKey::Int(n))
            } else {
                serde_json::from_str::<String>(k).ok().map(InstanceKey::Str)
            }
        });
    Some((rtype.to_string(), name.to_string(), index))
}

/// True when an expression references only input variables / locals (its value comes from outside).
pub fn references_variable(expr: Option<&Expr>) -> bool {
    expr.and_then(Expr::leaf)
        .and_then(|e| e.references.as_ref())
        .is_some_and(|r| {
            r.iter().any(|x| {
                x.starts_with("var.") || x.starts_with("local.") || x.starts_with("each.value")
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_action_names_are_the_serialized_ones() {
        use model::ChangeAction as A;
        for a in [
            A::NoOp,
            A::Create,
            A::Read,
            A::Update,
            A::Delete,
            A::Forget,
            A::Unknown,
        ] {
            assert_eq!(
                serde_json::to_value(a).unwrap(),
                Value::String(plan_action_name(a).into())
            );
        }
    }

    #[test]
    fn a_sensitive_mark_covers_everything_under_it_whatever_its_shape() {
        let path = [
            Step::Key("inline_policy"),
            Step::Index(1),
            Step::Key("policy"),
        ];
        let marks = |v: Value| Marks(vec![v]);
        for (mark, covered) in [
            (serde_json::json!(true), true),
            (serde_json::json!({"inline_policy": true}), true),
            (serde_json::json!({"inline_policy": [false, true]}), true),
            (
                serde_json::json!({"inline_policy": [{}, {"policy": true}]}),
                true,
            ),
            // A mark that does not line up hides rather than shows.
            (serde_json::json!({"inline_policy": [{}]}), false),
            (serde_json::json!({"inline_policy": [true]}), true),
            (serde_json::json!({"inline_policy": {"policy": true}}), true),
            // Marks elsewhere cover nothing here.
            (
                serde_json::json!({"inline_policy": [true, {"name": true}]}),
                false,
            ),
            (serde_json::json!({"tags": true}), false),
            (serde_json::json!({}), false),
        ] {
            assert_eq!(marks(mark.clone()).covers(&path), covered, "{mark}");
        }
        // An attribute covers what is marked anywhere inside it.
        assert!(
            marks(serde_json::json!({"inline_policy": [{}, {"policy": true}]}))
                .covers(&[Step::Key("inline_policy")])
        );
        // Either side's mark counts.
        let both = Marks(vec![
            serde_json::json!({}),
            serde_json::json!({"policy": true}),
        ]);
        assert!(both.covers(&[Step::Key("policy")]));
    }

    #[test]
    fn splits_a_module_instance_from_its_caller() {
        assert_eq!(
            split_module_instance(r#"module.a["x.module.y]"].module.b[0]"#),
            Some((r#"module.a["x.module.y]"]"#, Some(InstanceKey::Int(0))))
        );
        assert_eq!(
            split_module_instance(r#"module.a["k"]"#),
            Some(("", Some(InstanceKey::Str("k".into()))))
        );
        assert_eq!(
            split_module_instance("module.a.module.submodule"),
            Some(("module.a", None))
        );
        assert_eq!(split_module_instance(""), None);
    }

    #[test]
    fn strips_instance_keys() {
        assert_eq!(
            strip_instance_keys(r#"module.a["x.y]"].module.b[0]"#),
            "module.a.module.b"
        );
        assert_eq!(strip_instance_keys("module.a"), "module.a");
        assert_eq!(strip_instance_keys(""), "");
    }

    #[test]
    fn parses_references() {
        let (t, n, i) = parse_reference(r#"aws_iam_role.r["k"].name"#).unwrap();
        assert_eq!(
            (t.as_str(), n.as_str(), i),
            ("aws_iam_role", "r", Some(InstanceKey::Str("k".into())))
        );
        let (t, n, i) = parse_reference("data.aws_iam_policy_document.d.json").unwrap();
        assert_eq!(
            (t.as_str(), n.as_str(), i),
            ("aws_iam_policy_document", "d", None)
        );
        assert!(parse_reference("var.x").is_none());
        assert_eq!(
            parse_reference("aws_iam_role.r[2]").unwrap().2,
            Some(InstanceKey::Int(2))
        );
    }

    #[test]
    fn recognises_aws_managed_arns() {
        assert!(is_aws_managed("arn:aws:iam::aws:policy/ReadOnlyAccess"));
        assert!(is_aws_managed(
            "arn:aws-us-gov:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
        ));
        assert!(!is_aws_managed("arn:aws:iam::123456789012:policy/mine"));
        assert_eq!(
            account_of("arn:aws:iam::123456789012:role/x").as_deref(),
            Some("123456789012")
        );
    }
}
