//! A deterministic generator of large `terraform show -json` plans (format 1.2, minified, as
//! terraform writes them), for the discovery regression test (`tests/it/plan_generated.rs`) and the
//! benchmarks that include it by path (`benches/plan.rs`, `benches/plan_mem.rs`, `benches/check*.rs`):
//! tests hold the generators, benches borrow them, never the reverse.
//!
//! The plan models a root module calling a `service` module with `for_each`; each service instance
//! holds non-IAM resources with bulky attribute values (tags, nested blocks, long strings), a nested
//! `network` module (`count`) and a nested `iam` module (`count`) with roles (with `inline_policy`
//! blocks), managed policies rendered from `aws_iam_policy_document` data sources, inline policies,
//! attachments (linked by value, or by configuration reference when the value is unknown until
//! apply), a user, a group and a membership. Services are created, unchanged or updated in turn.
//! [`generate`] returns the bytes with the counts discovery must find ([`Expected`]).
//!
//! At 100 MB it writes 20,000 resource instances of which 5,000 are IAM; smaller sizes scale both
//! counts down. It does not try to be valid against a real provider schema beyond what iamtrim reads.

#![allow(dead_code)] // each bench / test uses a different part

use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::PathBuf;

/// Environment variable giving the plan size in megabytes.
pub const SIZE_ENV: &str = "IAMTRIM_BENCH_PLAN_MB";
/// Size used when [`SIZE_ENV`] is unset: small, so `cargo test --all-targets` stays fast.
pub const DEFAULT_MB: f64 = 2.0;
/// IAM resource instances in one `iam` module instance.
const IAM_PER_SERVICE: usize = 23;
/// Role keys of the `iam` module's `for_each`.
const ROLE_KEYS: [&str; 3] = ["reader", "writer", "operator"];
const ACCOUNT: &str = "123456789012";
const PROVIDER: &str = "registry.terraform.io/hashicorp/aws";

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct PlanSpec {
    /// Approximate size of the plan in bytes.
    pub target_bytes: usize,
    /// Seed of every random choice.
    pub seed: u64,
}

impl PlanSpec {
    /// A plan of `mb` megabytes (10^6 bytes) with the default seed.
    pub fn megabytes(mb: f64) -> Self {
        PlanSpec {
            target_bytes: (mb * 1e6) as usize,
            seed: 0x1a4_7217,
        }
    }

    /// The size from `IAMTRIM_BENCH_PLAN_MB`, else [`DEFAULT_MB`].
    pub fn from_env() -> Self {
        let mb = std::env::var(SIZE_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| *v > 0.0);
        Self::megabytes(mb.unwrap_or(DEFAULT_MB))
    }

    /// The file name under `target/bench-data/`.
    pub fn file_name(&self) -> String {
        format!("plan-{}b-seed{:x}.json", self.target_bytes, self.seed)
    }
}

/// What discovery must find in the generated plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected {
    /// Resource instances (managed resources and data sources).
    pub resources: usize,
    /// Of which of an `aws_iam_*` type.
    pub iam_resources: usize,
    /// Roles.
    pub roles: usize,
    /// Users.
    pub users: usize,
    /// Groups.
    pub groups: usize,
    /// Inline policy sources (role `inline_policy` blocks, `aws_iam_{role,user}_policy`).
    pub inline: usize,
    /// Customer-managed policy attachments.
    pub managed: usize,
    /// AWS-managed policy attachments.
    pub aws_managed: usize,
    /// Policies users inherit from their groups.
    pub inherited: usize,
    /// Policy sources whose document is known.
    pub known_documents: usize,
}

impl Expected {
    /// Every principal.
    pub fn principals(&self) -> usize {
        self.roles + self.users + self.groups
    }

    /// Every policy source of every principal.
    pub fn policy_sources(&self) -> usize {
        self.inline + self.managed + self.aws_managed + self.inherited
    }
}

/// A generated plan.
pub struct GeneratedPlan {
    /// The minified JSON.
    pub bytes: Vec<u8>,
    /// What discovery must find.
    pub expected: Expected,
}

/// Generates a plan of about `spec.target_bytes`: the bulk of non-IAM attribute values is
/// calibrated from two trial runs (size is linear in it).
pub fn generate(spec: &PlanSpec) -> GeneratedPlan {
    let layout = Layout::new(spec);
    let small = layout.render(0.0).bytes.len();
    let probe = 4.0;
    let larger = layout.render(probe).bytes.len();
    let per_unit = (larger.saturating_sub(small) as f64 / probe).max(1.0);
    let bulk = (spec.target_bytes.saturating_sub(small) as f64 / per_unit).max(0.0);
    layout.render(bulk)
}

/// Writes the plan to `target/bench-data/` (reusing it when already there) and returns its path with
/// the expected counts. Generation is deterministic, so a file of the same name is the same plan.
pub fn write_bench_plan(spec: &PlanSpec) -> std::io::Result<(PathBuf, Expected)> {
    let dir = bench_data_dir();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(spec.file_name());
    let generated = generate(spec);
    let fresh = std::fs::metadata(&path)
        .map(|m| m.len() as usize == generated.bytes.len())
        .unwrap_or(false);
    if !fresh {
        let tmp = path.with_extension("json.tmp");
        std::fs::File::create(&tmp)?.write_all(&generated.bytes)?;
        std::fs::rename(&tmp, &path)?;
    }
    Ok((path, generated.expected))
}

/// `target/bench-data` (honouring `CARGO_TARGET_DIR`).
pub fn bench_data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target")));
    target.join("bench-data")
}

/// splitmix64: small, fast and good enough for picking shapes.
struct Rng(u64);

impl Rng {
    fn for_address(seed: u64, address: &str) -> Self {
        // FNV-1a of the address, so each instance draws the same values in every section.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in address.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Rng(seed ^ h)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn hex(&mut self, len: usize) -> String {
        let mut s = String::with_capacity(len);
        while s.len() < len {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(len);
        s
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// How a service's resources change in this plan.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Create,
    NoOp,
    Update,
}

/// One service instance: its key, state and how many non-IAM instances of each block it has.
struct Service {
    key: String,
    state: State,
    /// Role names unknown until apply (`name_prefix`), so links go through configuration references.
    prefixed_roles: bool,
    instances: usize,
    lambdas: usize,
    subnets: usize,
    route_tables: usize,
}

/// The shape of the plan, fixed before any bytes are written.
struct Layout {
    seed: u64,
    services: Vec<Service>,
    /// Root-level `aws_iam_role.extra[count]`, to reach the IAM count exactly.
    extra_roles: usize,
}

/// A resource instance being written.
struct Inst {
    module: String,
    mode: &'static str,
    rtype: &'static str,
    name: &'static str,
    index: Option<Value>,
    before: Option<Value>,
    after: Option<Value>,
    after_unknown: Value,
    /// Data sources read during planning appear only in the values trees.
    data_read: bool,
}

impl Inst {
    fn address(&self) -> String {
        let mut a = String::new();
        if !self.module.is_empty() {
            a.push_str(&self.module);
            a.push('.');
        }
        if self.mode == "data" {
            a.push_str("data.");
        }
        a.push_str(self.rtype);
        a.push('.');
        a.push_str(self.name);
        match &self.index {
            Some(Value::Number(n)) => a.push_str(&format!("[{n}]")),
            Some(Value::String(s)) => a.push_str(&format!("[{}]", Value::String(s.clone()))),
            _ => {}
        }
        a
    }
}

/// The values tree of one module instance.
#[derive(Default)]
struct ModuleTree {
    address: String,
    resources: Vec<Value>,
    children: Vec<ModuleTree>,
}

impl ModuleTree {
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        if !self.address.is_empty() {
            m.insert("address".into(), json!(self.address));
        }
        m.insert("resources".into(), Value::Array(self.resources.clone()));
        if !self.children.is_empty() {
            m.insert(
                "child_modules".into(),
                Value::Array(self.children.iter().map(ModuleTree::to_value).collect()),
            );
        }
        Value::Object(m)
    }
}

/// Everything written so far, section by section.
struct Sections {
    changes: Vec<u8>,
    planned: ModuleTree,
    prior: ModuleTree,
    expected: Expected,
}

impl Layout {
    fn new(spec: &PlanSpec) -> Self {
        let scale = spec.target_bytes as f64 / 100e6;
        let total = ((20_000.0 * scale).round() as usize).max(120);
        let iam = total / 4;
        let services_n = (iam / IAM_PER_SERVICE).max(1);
        let extra_roles = iam.saturating_sub(services_n * IAM_PER_SERVICE);
        let non_iam = total - services_n * IAM_PER_SERVICE - extra_roles;
        let services = (0..services_n)
            .map(|i| {
                let n = non_iam / services_n + usize::from(i < non_iam % services_n);
                // Three single blocks (security group, bucket, table), the rest spread over counted blocks.
                let r = n.saturating_sub(3);
                let lambdas = r / 5;
                let instances = (r - 2 * lambdas) / 3;
                let subnets = (r - 2 * lambdas - instances) / 2;
                let route_tables = r - 2 * lambdas - instances - subnets;
                // Every fifth service from the third on has roles named by `name_prefix`.
                let state = match i % 5 {
                    0 | 2 => State::Create,
                    1 | 4 => State::NoOp,
                    _ => State::Update,
                };
                Service {
                    key: format!("svc-{i:04}"),
                    state,
                    prefixed_roles: i % 5 == 2,
                    instances,
                    lambdas,
                    subnets,
                    route_tables,
                }
            })
            .collect();
        Layout {
            seed: spec.seed,
            services,
            extra_roles,
        }
    }

    /// Writes the plan with `bulk` units of filler per non-IAM value on average.
    fn render(&self, bulk: f64) -> GeneratedPlan {
        let mut s = Sections {
            changes: Vec::new(),
            planned: ModuleTree::default(),
            prior: ModuleTree::default(),
            expected: Expected::default(),
        };
        let mut prior_root = Vec::new();
        let mut planned_root = Vec::new();
        for i in 0..self.extra_roles {
            let name = format!("extra-{i:03}");
            let mut rng = Rng::for_address(self.seed, &name);
            let inst = role(
                &mut rng,
                "",
                "extra",
                Some(json!(i)),
                &name,
                false,
                State::Create,
                "root",
            );
            self.emit(&mut s, inst, &mut planned_root, &mut prior_root);
            s.expected.roles += 1;
            s.expected.inline += 1;
            s.expected.known_documents += 1;
        }
        for svc in &self.services {
            let module = format!("module.service[{}]", Value::String(svc.key.clone()));
            let mut planned = ModuleTree {
                address: module.clone(),
                ..Default::default()
            };
            let mut prior = ModuleTree {
                address: module.clone(),
                ..Default::default()
            };
            self.service_resources(
                &mut s,
                svc,
                &module,
                bulk,
                &mut planned.resources,
                &mut prior.resources,
            );
            let network = format!("{module}.module.network[0]");
            let mut planned_net = ModuleTree {
                address: network.clone(),
                ..Default::default()
            };
            let mut prior_net = ModuleTree {
                address: network.clone(),
                ..Default::default()
            };
            self.network_resources(
                &mut s,
                svc,
                &network,
                bulk,
                &mut planned_net.resources,
                &mut prior_net.resources,
            );
            let iam = format!("{module}.module.iam[0]");
            let mut planned_iam = ModuleTree {
                address: iam.clone(),
                ..Default::default()
            };
            let mut prior_iam = ModuleTree {
                address: iam.clone(),
                ..Default::default()
            };
            self.iam_resources(
                &mut s,
                svc,
                &iam,
                &mut planned_iam.resources,
                &mut prior_iam.resources,
            );
            planned.children = vec![planned_iam, planned_net];
            prior.children = vec![prior_iam, prior_net];
            s.planned.children.push(planned);
            s.prior.children.push(prior);
        }
        s.planned.resources = planned_root;
        s.prior.resources = prior_root;

        let mut out = Vec::with_capacity(1 << 20);
        out.extend_from_slice(br#"{"format_version":"1.2","terraform_version":"1.9.8","variables":{"environment":{"value":"bench"},"region":{"value":"eu-west-1"}},"planned_values":{"root_module":"#);
        serde_json::to_writer(&mut out, &s.planned.to_value()).expect("writing to a Vec");
        out.extend_from_slice(br#"},"resource_changes":["#);
        out.extend_from_slice(&s.changes);
        out.extend_from_slice(br#"],"prior_state":{"format_version":"1.0","terraform_version":"1.9.8","values":{"root_module":"#);
        serde_json::to_writer(&mut out, &s.prior.to_value()).expect("writing to a Vec");
        out.extend_from_slice(br#"}},"configuration":"#);
        serde_json::to_writer(&mut out, &configuration()).expect("writing to a Vec");
        out.extend_from_slice(br#","relevant_attributes":[{"resource":"module.service.module.iam.aws_iam_policy.this","attribute":["arn"]}],"timestamp":"2026-01-01T00:00:00Z","applyable":true,"complete":true,"errored":false}"#);
        GeneratedPlan {
            bytes: out,
            expected: s.expected,
        }
    }

    /// Records an instance in `resource_changes` and the values trees.
    fn emit(&self, s: &mut Sections, inst: Inst, planned: &mut Vec<Value>, prior: &mut Vec<Value>) {
        let address = inst.address();
        s.expected.resources += 1;
        if inst.rtype.starts_with("aws_iam_") {
            s.expected.iam_resources += 1;
        }
        let sensitive_of = |v: &Option<Value>| {
            v.as_ref()
                .map(sensitive_shape)
                .unwrap_or_else(|| json!(false))
        };
        let values_entry = |values: &Value| {
            let mut m = Map::new();
            m.insert("address".into(), json!(address));
            m.insert("mode".into(), json!(inst.mode));
            m.insert("type".into(), json!(inst.rtype));
            m.insert("name".into(), json!(inst.name));
            if let Some(i) = &inst.index {
                m.insert("index".into(), i.clone());
            }
            m.insert("provider_name".into(), json!(PROVIDER));
            m.insert("schema_version".into(), json!(0));
            m.insert("values".into(), values.clone());
            m.insert("sensitive_values".into(), sensitive_shape(values));
            Value::Object(m)
        };
        if let Some(after) = &inst.after {
            planned.push(values_entry(after));
        }
        if let Some(before) = &inst.before {
            prior.push(values_entry(before));
        }
        if inst.data_read {
            return;
        }
        let actions = match (&inst.before, &inst.after) {
            (None, _) => json!(["create"]),
            (Some(b), Some(a)) if b == a => json!(["no-op"]),
            _ => json!(["update"]),
        };
        let mut m = Map::new();
        m.insert("address".into(), json!(address));
        if !inst.module.is_empty() {
            m.insert("module_address".into(), json!(inst.module));
        }
        m.insert("mode".into(), json!(inst.mode));
        m.insert("type".into(), json!(inst.rtype));
        m.insert("name".into(), json!(inst.name));
        if let Some(i) = &inst.index {
            m.insert("index".into(), i.clone());
        }
        m.insert("provider_name".into(), json!(PROVIDER));
        let change = json!({
            "actions": actions,
            "before": inst.before.clone().unwrap_or(Value::Null),
            "after": inst.after.clone().unwrap_or(Value::Null),
            "after_unknown": inst.after_unknown,
            "before_sensitive": sensitive_of(&inst.before),
            "after_sensitive": sensitive_of(&inst.after),
        });
        m.insert("change".into(), change);
        if !s.changes.is_empty() {
            s.changes.push(b',');
        }
        serde_json::to_writer(&mut s.changes, &Value::Object(m)).expect("writing to a Vec");
    }

    fn service_resources(
        &self,
        s: &mut Sections,
        svc: &Service,
        module: &str,
        bulk: f64,
        planned: &mut Vec<Value>,
        prior: &mut Vec<Value>,
    ) {
        let blocks: [(&'static str, &'static str, usize, bool); 6] = [
            ("aws_security_group", "app", 1, false),
            ("aws_s3_bucket", "data", 1, false),
            ("aws_dynamodb_table", "state", 1, false),
            ("aws_instance", "app", svc.instances, true),
            ("aws_lambda_function", "handler", svc.lambdas, false),
            ("aws_cloudwatch_log_group", "handler", svc.lambdas, false),
        ];
        for (rtype, name, n, counted) in blocks {
            for i in 0..n {
                let index = match (rtype, counted, n) {
                    (_, true, _) => Some(json!(i)),
                    ("aws_lambda_function" | "aws_cloudwatch_log_group", _, _) => {
                        Some(json!(format!("fn-{i:02}")))
                    }
                    _ => None,
                };
                let inst = self.bulky(module, rtype, name, index, svc, bulk);
                self.emit(s, inst, planned, prior);
            }
        }
    }

    fn network_resources(
        &self,
        s: &mut Sections,
        svc: &Service,
        module: &str,
        bulk: f64,
        planned: &mut Vec<Value>,
        prior: &mut Vec<Value>,
    ) {
        for (rtype, name, n) in [
            ("aws_subnet", "private", svc.subnets),
            ("aws_route_table", "private", svc.route_tables),
        ] {
            for i in 0..n {
                let inst = self.bulky(module, rtype, name, Some(json!(i)), svc, bulk);
                self.emit(s, inst, planned, prior);
            }
        }
    }

    /// A non-IAM instance: a handful of typed attributes plus `bulk` units of tags, nested blocks
    /// and long strings.
    fn bulky(
        &self,
        module: &str,
        rtype: &'static str,
        name: &'static str,
        index: Option<Value>,
        svc: &Service,
        bulk: f64,
    ) -> Inst {
        let mut inst = Inst {
            module: module.to_string(),
            mode: "managed",
            rtype,
            name,
            index,
            before: None,
            after: None,
            after_unknown: json!({}),
            data_read: false,
        };
        let mut rng = Rng::for_address(self.seed, &inst.address());
        let units = bulk.floor() as usize + usize::from(rng.unit() < bulk.fract());
        let id = format!(
            "{}-{}",
            rtype.trim_start_matches("aws_").replace('_', "-"),
            rng.hex(17)
        );
        let mut v = Map::new();
        v.insert(
            "arn".into(),
            json!(format!(
                "arn:aws:{}:eu-west-1:{ACCOUNT}:{}/{}",
                rtype.split('_').nth(1).unwrap_or("ec2"),
                rtype,
                id
            )),
        );
        v.insert("id".into(), json!(id));
        let mut tags = Map::new();
        tags.insert(
            "Name".into(),
            json!(format!("{}-{}-{}", svc.key, name, rng.hex(6))),
        );
        tags.insert("Service".into(), json!(svc.key));
        tags.insert("Environment".into(), json!("bench"));
        tags.insert(
            "CostCenter".into(),
            json!(format!("cc-{}", rng.below(9000) + 1000)),
        );
        let mut nested = Vec::new();
        for u in 0..units {
            tags.insert(
                format!(
                    "team:{}:{u}",
                    rng.pick(&["platform", "payments", "search", "data"])
                ),
                json!(format!("owner-{}@example.com", rng.hex(8))),
            );
            nested.push(json!({
                "cidr_blocks": [format!("10.{}.{}.0/24", rng.below(255), rng.below(255)), format!("172.16.{}.0/24", rng.below(255))],
                "description": format!("rule {u} for {} managed by terraform ({})", svc.key, rng.hex(24)),
                "from_port": rng.below(65535), "to_port": rng.below(65535), "protocol": rng.pick(&["tcp", "udp", "-1"]),
                "ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": false,
            }));
        }
        let long = |rng: &mut Rng, n: usize| -> String {
            (0..n).map(|_| rng.hex(64)).collect::<Vec<_>>().join("")
        };
        match rtype {
            "aws_security_group" => {
                v.insert("ingress".into(), Value::Array(nested));
                v.insert("egress".into(), json!([{"cidr_blocks":["0.0.0.0/0"],"description":"","from_port":0,"to_port":0,"protocol":"-1","ipv6_cidr_blocks":[],"prefix_list_ids":[],"security_groups":[],"self":false}]));
                v.insert("vpc_id".into(), json!(format!("vpc-{}", rng.hex(17))));
            }
            "aws_instance" => {
                v.insert("ami".into(), json!(format!("ami-{}", rng.hex(17))));
                v.insert(
                    "instance_type".into(),
                    json!(rng.pick(&["t3.micro", "m6i.large", "c7g.xlarge"])),
                );
                v.insert(
                    "user_data_base64".into(),
                    json!(long(&mut rng, units.div_ceil(2))),
                );
                v.insert("root_block_device".into(), json!([{"delete_on_termination":true,"encrypted":true,"iops":3000,"volume_size":50,"volume_type":"gp3","tags":{}}]));
                v.insert("ebs_block_device".into(), Value::Array(nested));
            }
            "aws_lambda_function" => {
                let vars: Map<String, Value> = (0..units)
                    .map(|u| (format!("VAR_{u}"), json!(long(&mut rng, 1))))
                    .collect();
                v.insert("environment".into(), json!([{ "variables": vars }]));
                v.insert("runtime".into(), json!("python3.12"));
                v.insert("handler".into(), json!("app.handler"));
                v.insert("source_code_hash".into(), json!(rng.hex(44)));
            }
            "aws_route_table" => {
                v.insert("route".into(), Value::Array(nested));
            }
            _ => {
                v.insert("settings".into(), Value::Array(nested));
                v.insert(
                    "description".into(),
                    json!(long(&mut rng, units.div_ceil(3))),
                );
            }
        }
        v.insert("tags_all".into(), Value::Object(tags.clone()));
        v.insert("tags".into(), Value::Object(tags));
        let after = Value::Object(v);
        match svc.state {
            State::Create => {
                let mut after = after;
                if let Some(o) = after.as_object_mut() {
                    o.remove("arn");
                    o.remove("id");
                }
                inst.after_unknown = json!({"arn": true, "id": true, "tags": {}, "tags_all": {}});
                inst.after = Some(after);
            }
            State::NoOp => {
                inst.before = Some(after.clone());
                inst.after = Some(after);
            }
            State::Update => {
                let mut before = after.clone();
                if let Some(t) = before.get_mut("tags").and_then(Value::as_object_mut) {
                    t.insert("Environment".into(), json!("staging"));
                }
                inst.before = Some(before);
                inst.after = Some(after);
            }
        }
        inst
    }

    /// The `iam` module instance of a service: 23 IAM instances, 5 principals, 15 policy sources.
    fn iam_resources(
        &self,
        s: &mut Sections,
        svc: &Service,
        module: &str,
        planned: &mut Vec<Value>,
        prior: &mut Vec<Value>,
    ) {
        let known = |v: Value| -> (Option<Value>, Option<Value>) {
            match svc.state {
                State::Create => (None, Some(v)),
                State::NoOp | State::Update => (Some(v.clone()), Some(v)),
            }
        };
        let existing = svc.state != State::Create;
        let mut emit = |s: &mut Sections, inst: Inst| self.emit(s, inst, planned, prior);
        for key in ROLE_KEYS {
            let role_name = format!("{}-{key}", svc.key);
            let policy_name = format!("{role_name}-access");
            let policy_arn = format!("arn:aws:iam::{ACCOUNT}:policy/{policy_name}");
            let idx = Some(json!(key));
            let mut rng = Rng::for_address(self.seed, &format!("{module}/{key}"));

            // The role, with one inline_policy block.
            let role_inst = role(
                &mut rng,
                module,
                "this",
                idx.clone(),
                &role_name,
                svc.prefixed_roles,
                svc.state,
                &svc.key,
            );
            emit(s, role_inst);
            s.expected.roles += 1;
            s.expected.inline += 1;
            s.expected.known_documents += 1;

            // The policy document data source, read during planning.
            let doc = policy_json(&mut rng, &svc.key, 4);
            let doc_values = json!({
                "id": format!("{}", rng.below(1 << 31)),
                "json": doc.text,
                "minified_json": doc.minified,
                "override_json": null, "override_policy_documents": null, "policy_id": null,
                "source_json": null, "source_policy_documents": null,
                "statement": doc.statements,
                "version": "2012-10-17",
            });
            emit(
                s,
                Inst {
                    module: module.into(),
                    mode: "data",
                    rtype: "aws_iam_policy_document",
                    name: "this",
                    index: idx.clone(),
                    before: Some(doc_values.clone()),
                    after: Some(doc_values),
                    after_unknown: json!({}),
                    data_read: true,
                },
            );

            // The managed policy, rendered from the data source.
            let mut pv = json!({"description": format!("Access for {role_name}"), "name": policy_name, "name_prefix": "", "path": "/", "policy": doc.text, "tags": {"Service": svc.key}, "tags_all": {"Service": svc.key}});
            let policy_unknown = if existing {
                let o = pv.as_object_mut().expect("an object");
                o.insert("arn".into(), json!(policy_arn));
                o.insert("id".into(), json!(policy_arn));
                o.insert(
                    "policy_id".into(),
                    json!(format!("ANPA{}", rng.hex(17).to_uppercase())),
                );
                o.insert("attachment_count".into(), json!(1));
                json!({})
            } else {
                json!({"arn": true, "attachment_count": true, "id": true, "policy_id": true, "tags": {}, "tags_all": {}})
            };
            let (before, after) = known(pv);
            emit(
                s,
                Inst {
                    module: module.into(),
                    mode: "managed",
                    rtype: "aws_iam_policy",
                    name: "this",
                    index: idx.clone(),
                    before,
                    after,
                    after_unknown: policy_unknown,
                    data_read: false,
                },
            );

            // An extra inline policy, its role linked by name or (prefixed roles) by reference.
            let inline = policy_json(&mut rng, &svc.key, 3);
            let mut rp = json!({"name": format!("{role_name}-extra"), "name_prefix": "", "policy": inline.minified});
            let mut rp_unknown = json!({"id": true});
            link_role(
                &mut rp,
                &mut rp_unknown,
                "role",
                &role_name,
                svc.prefixed_roles,
            );
            if existing {
                rp["id"] = json!(format!("{role_name}:{role_name}-extra"));
            }
            let (before, after) = known(rp);
            emit(
                s,
                Inst {
                    module: module.into(),
                    mode: "managed",
                    rtype: "aws_iam_role_policy",
                    name: "extra",
                    index: idx.clone(),
                    before,
                    after,
                    after_unknown: rp_unknown,
                    data_read: false,
                },
            );
            s.expected.inline += 1;
            s.expected.known_documents += 1;

            // An AWS-managed attachment, policy ARN by value.
            let managed_arn = format!(
                "arn:aws:iam::aws:policy/{}",
                rng.pick(&[
                    "CloudWatchLogsReadOnlyAccess",
                    "AmazonS3ReadOnlyAccess",
                    "AWSXRayDaemonWriteAccess"
                ])
            );
            let mut at = json!({"policy_arn": managed_arn});
            let mut at_unknown = json!({"id": true});
            link_role(
                &mut at,
                &mut at_unknown,
                "role",
                &role_name,
                svc.prefixed_roles,
            );
            if existing {
                at["id"] = json!(format!("{role_name}-{}", rng.hex(26)));
            }
            let (before, after) = known(at);
            emit(
                s,
                Inst {
                    module: module.into(),
                    mode: "managed",
                    rtype: "aws_iam_role_policy_attachment",
                    name: "managed",
                    index: idx.clone(),
                    before,
                    after,
                    after_unknown: at_unknown,
                    data_read: false,
                },
            );
            s.expected.aws_managed += 1;

            // The customer-managed attachment: by value when the policy exists, else unknown until apply
            // and linked through `aws_iam_policy.this[each.key].arn`.
            let mut at = json!({});
            let mut at_unknown = json!({"id": true});
            link_role(
                &mut at,
                &mut at_unknown,
                "role",
                &role_name,
                svc.prefixed_roles,
            );
            if existing {
                at["policy_arn"] = json!(policy_arn);
                at["id"] = json!(format!("{role_name}-{}", rng.hex(26)));
            } else {
                at_unknown["policy_arn"] = json!(true);
            }
            let (before, after) = known(at);
            emit(
                s,
                Inst {
                    module: module.into(),
                    mode: "managed",
                    rtype: "aws_iam_role_policy_attachment",
                    name: "custom",
                    index: idx,
                    before,
                    after,
                    after_unknown: at_unknown,
                    data_read: false,
                },
            );
            s.expected.managed += 1;
            s.expected.known_documents += 1;
        }

        let mut rng = Rng::for_address(self.seed, &format!("{module}/people"));
        let user_name = format!("{}-deployer", svc.key);
        let group_name = format!("{}-operators", svc.key);
        let arn_fields = |v: &mut Value, kind: &str, name: &str, rng: &mut Rng| {
            if existing {
                v["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:{kind}/{name}"));
                v["id"] = json!(name);
                v["unique_id"] = json!(format!("AID{}", rng.hex(18).to_uppercase()));
            }
        };
        let principal_unknown = if existing {
            json!({})
        } else {
            json!({"arn": true, "id": true, "unique_id": true, "tags_all": {}})
        };

        let mut user = json!({"force_destroy": false, "name": user_name, "path": "/", "permissions_boundary": null, "tags": {"Service": svc.key}, "tags_all": {"Service": svc.key}});
        arn_fields(&mut user, "user", &user_name, &mut rng);
        let (before, after) = known(user);
        emit(
            s,
            Inst {
                module: module.into(),
                mode: "managed",
                rtype: "aws_iam_user",
                name: "this",
                index: Some(json!(0)),
                before,
                after,
                after_unknown: principal_unknown.clone(),
                data_read: false,
            },
        );
        s.expected.users += 1;

        let mut group = json!({"name": group_name, "path": "/"});
        arn_fields(&mut group, "group", &group_name, &mut rng);
        let (before, after) = known(group);
        emit(
            s,
            Inst {
                module: module.into(),
                mode: "managed",
                rtype: "aws_iam_group",
                name: "this",
                index: Some(json!(0)),
                before,
                after,
                after_unknown: principal_unknown,
                data_read: false,
            },
        );
        s.expected.groups += 1;

        let (before, after) = known(
            json!({"group": group_name, "id": format!("{}-membership", svc.key), "name": format!("{}-membership", svc.key), "users": [user_name]}),
        );
        emit(
            s,
            Inst {
                module: module.into(),
                mode: "managed",
                rtype: "aws_iam_group_membership",
                name: "this",
                index: None,
                before,
                after,
                after_unknown: json!({"users": [false]}),
                data_read: false,
            },
        );

        let (before, after) = known(
            json!({"group": group_name, "id": format!("{group_name}-{}", rng.hex(26)), "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        );
        emit(
            s,
            Inst {
                module: module.into(),
                mode: "managed",
                rtype: "aws_iam_group_policy_attachment",
                name: "read_only",
                index: None,
                before,
                after,
                after_unknown: json!({"id": true}),
                data_read: false,
            },
        );
        s.expected.aws_managed += 1;
        // The user inherits the group's attachment.
        s.expected.inherited += 1;

        let inline = policy_json(&mut rng, &svc.key, 2);
        let (before, after) = known(
            json!({"id": format!("{user_name}:deploy"), "name": "deploy", "name_prefix": "", "policy": inline.minified, "user": user_name}),
        );
        emit(
            s,
            Inst {
                module: module.into(),
                mode: "managed",
                rtype: "aws_iam_user_policy",
                name: "deploy",
                index: None,
                before,
                after,
                after_unknown: json!({"id": true}),
                data_read: false,
            },
        );
        s.expected.inline += 1;
        s.expected.known_documents += 1;
    }
}

/// Sets the principal attribute `attr` to `name`, or marks it unknown when the name is not known yet.
fn link_role(values: &mut Value, unknown: &mut Value, attr: &str, name: &str, unknown_name: bool) {
    if unknown_name {
        unknown[attr] = json!(true);
    } else {
        values[attr] = json!(name);
    }
}

/// An `aws_iam_role` instance with one `inline_policy` block.
#[allow(clippy::too_many_arguments)]
fn role(
    rng: &mut Rng,
    module: &str,
    name: &'static str,
    index: Option<Value>,
    role_name: &str,
    prefixed: bool,
    state: State,
    service: &str,
) -> Inst {
    let assume = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": rng.pick(&["lambda.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"])}, "Action": "sts:AssumeRole"}]});
    let inline = policy_json(rng, service, 3);
    let mut v = json!({
        "assume_role_policy": assume.to_string(),
        "description": format!("Role {role_name} of {service}"),
        "force_detach_policies": false,
        "inline_policy": [{"name": format!("{role_name}-inline"), "policy": inline.minified}],
        "max_session_duration": 3600,
        "path": "/",
        "permissions_boundary": null,
        "tags": {"Service": service, "Role": role_name},
        "tags_all": {"Service": service, "Role": role_name},
    });
    let mut unknown = json!({"arn": true, "create_date": true, "id": true, "inline_policy": [{}], "managed_policy_arns": true, "tags": {}, "tags_all": {}, "unique_id": true});
    if prefixed {
        v["name_prefix"] = json!(format!("{role_name}-"));
        unknown["name"] = json!(true);
    } else {
        v["name"] = json!(role_name);
        v["name_prefix"] = json!("");
    }
    let mut inst = Inst {
        module: module.into(),
        mode: "managed",
        rtype: "aws_iam_role",
        name,
        index,
        before: None,
        after: None,
        after_unknown: unknown,
        data_read: false,
    };
    if state == State::Create {
        inst.after = Some(v);
    } else {
        v["arn"] = json!(format!("arn:aws:iam::{ACCOUNT}:role/{role_name}"));
        v["id"] = json!(role_name);
        v["unique_id"] = json!(format!("AROA{}", rng.hex(17).to_uppercase()));
        v["create_date"] = json!("2025-06-01T10:00:00Z");
        v["managed_policy_arns"] =
            json!([format!("arn:aws:iam::{ACCOUNT}:policy/{role_name}-access")]);
        inst.after_unknown = json!({"inline_policy": [{}], "tags": {}, "tags_all": {}});
        let mut before = v.clone();
        if state == State::Update {
            before["description"] = json!(format!("Old role {role_name}"));
        }
        inst.before = Some(before);
        inst.after = Some(v);
    }
    inst
}

/// A policy as the provider renders it: pretty JSON text, minified text and `statement` blocks.
struct PolicyText {
    text: String,
    minified: String,
    statements: Value,
}

fn policy_json(rng: &mut Rng, service: &str, max_statements: usize) -> PolicyText {
    let statements = 1 + rng.below(max_statements);
    const SERVICES: [(&str, &[&str]); 4] = [
        (
            "s3",
            &[
                "s3:GetObject",
                "s3:PutObject",
                "s3:ListBucket",
                "s3:DeleteObject",
                "s3:GetBucketLocation",
            ],
        ),
        (
            "dynamodb",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "dynamodb:BatchWriteItem",
            ],
        ),
        (
            "sqs",
            &[
                "sqs:SendMessage",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ],
        ),
        (
            "logs",
            &[
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogGroups",
            ],
        ),
    ];
    let mut doc_statements = Vec::new();
    let mut blocks = Vec::new();
    for i in 0..statements {
        let (svc, actions) = SERVICES[rng.below(SERVICES.len())];
        let n = 1 + rng.below(actions.len());
        let acts: Vec<&str> = actions[..n].to_vec();
        let res = match svc {
            "s3" => vec![
                format!("arn:aws:s3:::{service}-data"),
                format!("arn:aws:s3:::{service}-data/*"),
            ],
            "dynamodb" => vec![format!(
                "arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/{service}-state"
            )],
            "sqs" => vec![format!(
                "arn:aws:sqs:eu-west-1:{ACCOUNT}:{service}-queue-{}",
                rng.below(8)
            )],
            _ => vec![format!(
                "arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/{service}-*"
            )],
        };
        let sid = format!("S{i}{}", svc.to_uppercase());
        let mut st = json!({"Sid": sid, "Effect": "Allow", "Action": acts, "Resource": res});
        let mut conditions = json!([]);
        if rng.below(3) == 0 {
            st["Condition"] = json!({"StringEquals": {"aws:RequestedRegion": "eu-west-1"}});
            conditions = json!([{"test": "StringEquals", "variable": "aws:RequestedRegion", "values": ["eu-west-1"]}]);
        }
        doc_statements.push(st);
        blocks.push(json!({"actions": acts, "condition": conditions, "effect": "Allow", "not_actions": [], "not_principals": [], "not_resources": [], "principals": [], "resources": res, "sid": sid}));
    }
    let doc = json!({"Version": "2012-10-17", "Statement": doc_statements});
    PolicyText {
        text: serde_json::to_string_pretty(&doc).expect("a JSON value"),
        minified: doc.to_string(),
        statements: Value::Array(blocks),
    }
}

/// `sensitive_values` / `*_sensitive`: the value's shape with no sensitive leaf (`{}` / `[]` / `false`).
fn sensitive_shape(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter_map(|(k, x)| match x {
                    Value::Object(_) | Value::Array(_) => Some((k.clone(), sensitive_shape(x))),
                    _ => None,
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| {
                    if x.is_object() || x.is_array() {
                        sensitive_shape(x)
                    } else {
                        json!(false)
                    }
                })
                .collect(),
        ),
        _ => json!(false),
    }
}

fn leaf(v: Value) -> Value {
    json!({ "constant_value": v })
}

fn refs(r: &[&str]) -> Value {
    json!({ "references": r })
}

fn config_resource(
    address: &str,
    mode: &str,
    rtype: &str,
    name: &str,
    expressions: Value,
    meta: Option<(&str, Value)>,
) -> Value {
    let mut m = Map::new();
    m.insert("address".into(), json!(address));
    m.insert("mode".into(), json!(mode));
    m.insert("type".into(), json!(rtype));
    m.insert("name".into(), json!(name));
    m.insert("provider_config_key".into(), json!("aws"));
    m.insert("expressions".into(), expressions);
    m.insert("schema_version".into(), json!(0));
    if let Some((k, v)) = meta {
        m.insert(k.into(), v);
    }
    Value::Object(m)
}

/// The `configuration` section: one block per resource block, module calls nested.
fn configuration() -> Value {
    let tags = refs(&["local.tags", "var.name"]);
    let iam = json!({
        "resources": [
            config_resource("aws_iam_role.this", "managed", "aws_iam_role", "this", json!({
                "name": refs(&["var.use_prefix", "var.name", "each.key"]),
                "name_prefix": refs(&["var.use_prefix", "var.name", "each.key"]),
                "assume_role_policy": refs(&["data.aws_iam_policy_document.assume.json", "data.aws_iam_policy_document.assume"]),
                "inline_policy": [{"name": refs(&["var.name", "each.key"]), "policy": refs(&["var.bucket_arn"])}],
                "tags": tags,
            }), Some(("for_each_expression", refs(&["local.role_keys"])))),
            config_resource("data.aws_iam_policy_document.this", "data", "aws_iam_policy_document", "this", json!({
                "statement": [{"actions": refs(&["each.value.actions", "each.value"]), "effect": leaf(json!("Allow")), "resources": refs(&["each.value.resources", "each.value"])}],
            }), Some(("for_each_expression", refs(&["local.role_keys"])))),
            config_resource("aws_iam_policy.this", "managed", "aws_iam_policy", "this", json!({
                "name": refs(&["var.name", "each.key"]),
                "description": refs(&["var.name", "each.key"]),
                "policy": refs(&["data.aws_iam_policy_document.this", "each.key"]),
                "tags": tags,
            }), Some(("for_each_expression", refs(&["local.role_keys"])))),
            config_resource("aws_iam_role_policy.extra", "managed", "aws_iam_role_policy", "extra", json!({
                "name": refs(&["var.name", "each.key"]),
                "policy": refs(&["var.extra_statements"]),
                "role": refs(&["aws_iam_role.this", "each.key"]),
            }), Some(("for_each_expression", refs(&["local.role_keys"])))),
            config_resource("aws_iam_role_policy_attachment.managed", "managed", "aws_iam_role_policy_attachment", "managed", json!({
                "policy_arn": refs(&["each.value.managed_policy"]),
                "role": refs(&["aws_iam_role.this", "each.key"]),
            }), Some(("for_each_expression", refs(&["local.role_keys"])))),
            config_resource("aws_iam_role_policy_attachment.custom", "managed", "aws_iam_role_policy_attachment", "custom", json!({
                "policy_arn": refs(&["aws_iam_policy.this", "each.key"]),
                "role": refs(&["aws_iam_role.this", "each.key"]),
            }), Some(("for_each_expression", refs(&["local.role_keys"])))),
            config_resource("aws_iam_user.this", "managed", "aws_iam_user", "this", json!({"name": refs(&["var.name"]), "tags": tags}), Some(("count_expression", leaf(json!(1))))),
            config_resource("aws_iam_group.this", "managed", "aws_iam_group", "this", json!({"name": refs(&["var.name"])}), Some(("count_expression", leaf(json!(1))))),
            config_resource("aws_iam_group_membership.this", "managed", "aws_iam_group_membership", "this", json!({
                "name": refs(&["var.name"]),
                "group": refs(&["aws_iam_group.this[0].name", "aws_iam_group.this[0]", "aws_iam_group.this"]),
                "users": refs(&["aws_iam_user.this[0].name", "aws_iam_user.this[0]", "aws_iam_user.this"]),
            }), None),
            config_resource("aws_iam_group_policy_attachment.read_only", "managed", "aws_iam_group_policy_attachment", "read_only", json!({
                "group": refs(&["aws_iam_group.this[0].name", "aws_iam_group.this[0]", "aws_iam_group.this"]),
                "policy_arn": leaf(json!("arn:aws:iam::aws:policy/ReadOnlyAccess")),
            }), None),
            config_resource("aws_iam_user_policy.deploy", "managed", "aws_iam_user_policy", "deploy", json!({
                "name": leaf(json!("deploy")),
                "policy": refs(&["var.deploy_statements"]),
                "user": refs(&["aws_iam_user.this[0].name", "aws_iam_user.this[0]", "aws_iam_user.this"]),
            }), None),
        ],
        "variables": {"name": {}, "use_prefix": {"default": false}, "bucket_arn": {}, "extra_statements": {}, "deploy_statements": {}},
    });
    let network = json!({
        "resources": [
            config_resource("aws_subnet.private", "managed", "aws_subnet", "private", json!({"cidr_block": refs(&["var.cidr", "count.index"]), "vpc_id": refs(&["var.vpc_id"]), "tags": tags}), Some(("count_expression", refs(&["var.subnet_count"])))),
            config_resource("aws_route_table.private", "managed", "aws_route_table", "private", json!({"vpc_id": refs(&["var.vpc_id"]), "route": [{"cidr_block": leaf(json!("0.0.0.0/0")), "nat_gateway_id": refs(&["var.nat_gateway_id"])}], "tags": tags}), Some(("count_expression", refs(&["var.route_table_count"])))),
        ],
        "variables": {"cidr": {}, "vpc_id": {}, "subnet_count": {}, "route_table_count": {}},
    });
    let service = json!({
        "resources": [
            config_resource("aws_security_group.app", "managed", "aws_security_group", "app", json!({"ingress": refs(&["local.ingress"]), "vpc_id": refs(&["var.vpc_id"]), "tags": tags}), None),
            config_resource("aws_s3_bucket.data", "managed", "aws_s3_bucket", "data", json!({"bucket": refs(&["var.name"]), "tags": tags}), None),
            config_resource("aws_dynamodb_table.state", "managed", "aws_dynamodb_table", "state", json!({"name": refs(&["var.name"]), "billing_mode": leaf(json!("PAY_PER_REQUEST")), "hash_key": leaf(json!("pk")), "attribute": [{"name": leaf(json!("pk")), "type": leaf(json!("S"))}], "tags": tags}), None),
            config_resource("aws_instance.app", "managed", "aws_instance", "app", json!({"ami": refs(&["var.ami"]), "instance_type": refs(&["var.instance_type"]), "subnet_id": refs(&["module.network.subnet_ids", "module.network"]), "user_data_base64": refs(&["local.user_data"]), "root_block_device": [{"volume_size": leaf(json!(50)), "volume_type": leaf(json!("gp3")), "encrypted": leaf(json!(true))}], "tags": tags}), Some(("count_expression", refs(&["var.instance_count"])))),
            config_resource("aws_lambda_function.handler", "managed", "aws_lambda_function", "handler", json!({"function_name": refs(&["var.name", "each.key"]), "runtime": leaf(json!("python3.12")), "handler": leaf(json!("app.handler")), "role": refs(&["module.iam.role_arns", "module.iam"]), "environment": [{"variables": refs(&["each.value.env", "each.value"])}], "tags": tags}), Some(("for_each_expression", refs(&["local.functions"])))),
            config_resource("aws_cloudwatch_log_group.handler", "managed", "aws_cloudwatch_log_group", "handler", json!({"name": refs(&["each.key"]), "retention_in_days": leaf(json!(30)), "tags": tags}), Some(("for_each_expression", refs(&["local.functions"])))),
        ],
        "module_calls": {
            "iam": {"source": "../iam", "expressions": {"name": refs(&["var.name"]), "use_prefix": refs(&["var.use_prefix"]), "bucket_arn": refs(&["aws_s3_bucket.data.arn", "aws_s3_bucket.data"])}, "count_expression": leaf(json!(1)), "module": iam},
            "network": {"source": "../network", "expressions": {"vpc_id": refs(&["var.vpc_id"]), "subnet_count": refs(&["var.subnet_count"])}, "count_expression": leaf(json!(1)), "module": network},
        },
        "variables": {"name": {}, "vpc_id": {}, "ami": {}, "instance_type": {"default": "t3.micro"}, "instance_count": {}, "subnet_count": {}, "use_prefix": {"default": false}},
    });
    json!({
        "provider_config": {"aws": {"name": "aws", "full_name": PROVIDER, "version_constraint": "~> 5.0", "expressions": {"region": refs(&["var.region"])}}},
        "root_module": {
            "resources": [
                config_resource("aws_iam_role.extra", "managed", "aws_iam_role", "extra", json!({
                    "name": refs(&["count.index"]),
                    "assume_role_policy": leaf(json!("{}")),
                    "inline_policy": [{"name": refs(&["count.index"]), "policy": refs(&["local.extra_policy"])}],
                }), Some(("count_expression", refs(&["var.extra_roles"])))),
            ],
            "module_calls": {
                "service": {"source": "./modules/service", "expressions": {"name": refs(&["each.key"]), "vpc_id": refs(&["var.vpc_id"]), "ami": refs(&["data.aws_ami.base.id", "data.aws_ami.base"])}, "for_each_expression": refs(&["local.services"]), "module": service},
            },
            "variables": {"environment": {}, "region": {}, "vpc_id": {"default": "vpc-0123"}, "extra_roles": {"default": 0}},
        },
    })
}
