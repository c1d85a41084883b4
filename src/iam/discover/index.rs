//! The plan index: every IAM resource instance of a plan, gathered once (from `resource_changes`,
//! then `planned_values` and `prior_state` for what those leave out) with its configuration block,
//! its attributes split and its sensitivity marks decoded ([`PlanIndex`], [`Instance`]).
//!
//! It reads the plan and records nothing: handlers read it and record [`super::facts`].

use super::facts::DocumentFact;
use super::marks::{Marks, Step, any_true, covers};
use crate::iam::address::{block_address, strip_instance_keys};
use crate::plan::model::Attributes;
use crate::plan::model::{
    self, ConfigModule, ConfigResource, Expr, InstanceKey, Mode, ModuleCall, Plan, Values,
    ValuesModule,
};
use rayon::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
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
    /// Policy document data sources by instance address, once read (the first pass of [`super::discover()`]);
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
            inst.sensitive.extend(marks);
        }
        PlanIndex {
            instances,
            by_block,
            module_calls,
            documents: BTreeMap::new(),
        }
    }

    /// Instances of one block in one module instance that still exist after the plan, in plan order.
    pub(super) fn live_block_instances(
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

    /// The `module` block of a module path without instance keys (`module.a.module.b`).
    pub(super) fn module_call(&self, module_path: &str) -> Option<&'p ModuleCall> {
        self.module_calls.get(module_path).copied()
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
}
