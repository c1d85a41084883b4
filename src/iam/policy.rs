//! IAM policy documents: the full JSON grammar, parsed with JSON-path errors and printed back losslessly.
//!
//! One `PolicyDocument` type serves parsing, minimizing, proving and emitting. Unknown keys are kept
//! (in order) so a round trip loses nothing; the only normalization is the JSON text's whitespace.

use serde_json::{Map, Value};
use std::fmt;

/// A parse failure, with the JSON path inside the document where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// JSON path such as `$.Statement[2].Action`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl PolicyError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A string-or-list field (`Action`, `Resource`, ...), remembering which form the author used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringList {
    /// The values in the author's order.
    pub values: Vec<String>,
    /// True when the JSON had a bare string rather than an array.
    pub single: bool,
}

impl StringList {
    /// A list written as a JSON array.
    pub fn list(values: Vec<String>) -> Self {
        StringList {
            values,
            single: false,
        }
    }

    fn parse(value: &Value, path: &str) -> Result<Self, PolicyError> {
        match value {
            Value::String(s) => Ok(StringList {
                values: vec![s.clone()],
                single: true,
            }),
            Value::Array(items) => {
                let mut values = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => values.push(s.clone()),
                        other => {
                            return Err(PolicyError::new(
                                format!("{path}[{i}]"),
                                format!("expected a string, found {}", json_kind(other)),
                            ));
                        }
                    }
                }
                Ok(StringList {
                    values,
                    single: false,
                })
            }
            other => Err(PolicyError::new(
                path,
                format!(
                    "expected a string or an array of strings, found {}",
                    json_kind(other)
                ),
            )),
        }
    }

    fn to_value(&self) -> Value {
        if self.single && self.values.len() == 1 {
            Value::String(self.values[0].clone())
        } else {
            Value::Array(self.values.iter().cloned().map(Value::String).collect())
        }
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Takes away, whatever else allows.
    Deny,
}

/// The action element of a statement: `Action` or its complement `NotAction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionSpec {
    /// `Action`: the listed patterns.
    Action(StringList),
    /// `NotAction`: every action but the listed patterns.
    NotAction(StringList),
}

impl ActionSpec {
    /// The patterns, whichever form.
    pub fn patterns(&self) -> &[String] {
        match self {
            ActionSpec::Action(l) | ActionSpec::NotAction(l) => &l.values,
        }
    }
}

/// The resource element: `Resource` or `NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceSpec {
    /// `Resource`.
    Resource(StringList),
    /// `NotResource`.
    NotResource(StringList),
}

/// The names of the grammar's keys, which [`KeyOrder`] stores as their position here plus one.
const KNOWN_KEYS: [&str; 12] = [
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// The keys of a document or statement object in the author's order, so printing restores it.
///
/// Parsing makes thousands of these: when every key is one of [`KNOWN_KEYS`] (as good as always)
/// they are packed four bits a key into one integer, which allocates nothing; any other key (or
/// more than 16 keys) switches to a list of names. Either way it holds the same sequence of names,
/// and each sequence has exactly one representation, so the derived equality compares names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum KeyOrder {
    /// Codes (position in [`KNOWN_KEYS`] plus one), the first key in the lowest four bits; 0 ends.
    Packed(u64),
    /// The names, when one of them is not in [`KNOWN_KEYS`].
    Listed(Vec<String>),
}

impl Default for KeyOrder {
    fn default() -> Self {
        KeyOrder::Packed(0)
    }
}

impl KeyOrder {
    /// The order of `keys`.
    fn of<'k>(keys: impl IntoIterator<Item = &'k (impl AsRef<str> + ?Sized + 'k)>) -> Self {
        let mut order = KeyOrder::default();
        for key in keys {
            order.push(key.as_ref());
        }
        order
    }

    fn code(key: &str) -> Option<u64> {
        KNOWN_KEYS
            .iter()
            .position(|k| *k == key)
            .map(|i| i as u64 + 1)
    }

    /// How many codes `bits` holds (codes are never 0, and fill the low bits first).
    fn packed_len(bits: u64) -> u32 {
        (64 - bits.leading_zeros()).div_ceil(4)
    }

    /// Appends a key.
    fn push(&mut self, key: &str) {
        match self {
            KeyOrder::Packed(bits) => {
                let len = Self::packed_len(*bits);
                match Self::code(key) {
                    Some(code) if len < 16 => *bits |= code << (4 * len),
                    _ => {
                        let mut names: Vec<String> =
                            self.keys().into_iter().map(str::to_string).collect();
                        names.push(key.to_string());
                        *self = KeyOrder::Listed(names);
                    }
                }
            }
            KeyOrder::Listed(names) => names.push(key.to_string()),
        }
    }

    /// True when `key` is one of the keys.
    fn contains(&self, key: &str) -> bool {
        match self {
            KeyOrder::Packed(bits) => Self::code(key).is_some_and(|code| {
                (0..Self::packed_len(*bits)).any(|i| (bits >> (4 * i)) & 0xf == code)
            }),
            KeyOrder::Listed(names) => names.iter().any(|k| k == key),
        }
    }

    /// The names in order.
    fn keys(&self) -> Vec<&str> {
        match self {
            KeyOrder::Packed(bits) => (0..Self::packed_len(*bits))
                .map(|i| KNOWN_KEYS[((bits >> (4 * i)) & 0xf) as usize - 1])
                .collect(),
            KeyOrder::Listed(names) => names.iter().map(String::as_str).collect(),
        }
    }

    /// Renames the first `from` (if any) to `to`, in its place; both must be in [`KNOWN_KEYS`].
    fn rename(&mut self, from: &'static str, to: &'static str) {
        match self {
            KeyOrder::Packed(bits) => {
                let (Some(from), Some(to)) = (Self::code(from), Self::code(to)) else {
                    return;
                };
                if let Some(i) =
                    (0..Self::packed_len(*bits)).find(|i| (*bits >> (4 * i)) & 0xf == from)
                {
                    *bits = (*bits & !(0xf << (4 * i))) | (to << (4 * i));
                }
            }
            KeyOrder::Listed(names) => {
                if let Some(k) = names.iter_mut().find(|k| *k == from) {
                    *k = to.to_string();
                }
            }
        }
    }
}

/// One statement of a policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// `Sid`, when present.
    pub sid: Option<String>,
    /// `Effect`.
    pub effect: Effect,
    /// `Principal` or `NotPrincipal` verbatim (resource and trust policies), with its key.
    pub principal: Option<(String, Value)>,
    /// `Action` / `NotAction`; `None` only in malformed-but-tolerated documents.
    pub action: Option<ActionSpec>,
    /// `Resource` / `NotResource`.
    pub resource: Option<ResourceSpec>,
    /// `Condition`: operator -> key -> value(s), verbatim.
    pub condition: Option<Map<String, Value>>,
    /// Every key of the statement in the author's order, so printing restores it.
    key_order: KeyOrder,
    /// Keys this grammar does not know, kept verbatim.
    pub extra: Map<String, Value>,
}

/// An IAM policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    /// `Version`.
    pub version: Option<String>,
    /// `Id`.
    pub id: Option<String>,
    /// `Statement`, in order.
    pub statements: Vec<Statement>,
    /// True when `Statement` was a single object rather than an array.
    pub single_statement: bool,
    key_order: KeyOrder,
    /// Unknown top-level keys, kept verbatim.
    pub extra: Map<String, Value>,
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl PolicyDocument {
    /// A copy with `statements` in place of its own, without copying those first.
    pub fn with_statements(&self, statements: Vec<Statement>) -> PolicyDocument {
        PolicyDocument {
            version: self.version.clone(),
            id: self.id.clone(),
            statements,
            single_statement: self.single_statement,
            key_order: self.key_order.clone(),
            extra: self.extra.clone(),
        }
    }

    /// Parses policy JSON text.
    pub fn parse_str(text: &str) -> Result<Self, PolicyError> {
        let text = text.trim_start_matches('\u{feff}');
        // Straight into the struct when the document is well formed; anything unusual (an error, a
        // repeated key) goes the `Value` way below, which words the error and decides repeated keys.
        if let Ok(direct) = serde_json::from_str::<direct::DirectDocument>(text) {
            return Ok(direct.0);
        }
        // `Value` keeps the last of a repeated key, so a statement with two `Action` keys would be
        // read as its last one: IAM's own parser refuses it, and so does this one.
        if let Some((path, key)) = repeated::first_repeated_key(text) {
            return Err(PolicyError::new(path, format!("duplicate key `{key}`")));
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            PolicyError::new(
                "$",
                format!(
                    "not valid JSON (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        Self::from_value(&value)
    }

    /// Parses an already-decoded JSON value.
    pub fn from_value(value: &Value) -> Result<Self, PolicyError> {
        let Value::Object(obj) = value else {
            return Err(PolicyError::new(
                "$",
                format!("expected an object, found {}", json_kind(value)),
            ));
        };
        let mut doc = PolicyDocument {
            version: None,
            id: None,
            statements: Vec::new(),
            single_statement: false,
            key_order: KeyOrder::of(obj.keys()),
            extra: Map::new(),
        };
        let mut saw_statement = false;
        for (key, v) in obj {
            match key.as_str() {
                "Version" => doc.version = Some(expect_string(v, "$.Version")?),
                "Id" => doc.id = Some(expect_string(v, "$.Id")?),
                "Statement" => {
                    saw_statement = true;
                    match v {
                        Value::Object(_) => {
                            doc.single_statement = true;
                            doc.statements
                                .push(Statement::from_value(v, "$.Statement")?);
                        }
                        Value::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                doc.statements.push(Statement::from_value(
                                    item,
                                    &format!("$.Statement[{i}]"),
                                )?);
                            }
                        }
                        other => {
                            return Err(PolicyError::new(
                                "$.Statement",
                                format!(
                                    "expected an object or an array, found {}",
                                    json_kind(other)
                                ),
                            ));
                        }
                    }
                }
                _ => {
                    doc.extra.insert(key.clone(), v.clone());
                }
            }
        }
        if !saw_statement {
            return Err(PolicyError::new("$", "missing \"Statement\""));
        }
        Ok(doc)
    }

    /// Builds a document from statements, `Version` 2012-10-17.
    pub fn new(statements: Vec<Statement>) -> Self {
        PolicyDocument {
            version: Some("2012-10-17".to_string()),
            id: None,
            statements,
            single_statement: false,
            key_order: KeyOrder::of(["Version", "Statement"]),
            extra: Map::new(),
        }
    }

    /// The document as a JSON value, keys in the author's order.
    pub fn to_value(&self) -> Value {
        let mut out = Map::new();
        let mut order = self.key_order.keys();
        for (key, present) in [
            ("Version", self.version.is_some()),
            ("Id", self.id.is_some()),
            ("Statement", true),
        ] {
            if present && !order.contains(&key) {
                order.push(key);
            }
        }
        for key in self.extra.keys() {
            if !order.contains(&key.as_str()) {
                order.push(key);
            }
        }
        for key in order {
            let key = key.to_string();
            match key.as_str() {
                "Version" => {
                    if let Some(v) = &self.version {
                        out.insert(key, Value::String(v.clone()));
                    }
                }
                "Id" => {
                    if let Some(v) = &self.id {
                        out.insert(key, Value::String(v.clone()));
                    }
                }
                "Statement" => {
                    let value = if self.single_statement && self.statements.len() == 1 {
                        self.statements[0].to_value()
                    } else {
                        Value::Array(self.statements.iter().map(Statement::to_value).collect())
                    };
                    out.insert(key, value);
                }
                _ => {
                    if let Some(v) = self.extra.get(&key) {
                        out.insert(key, v.clone());
                    }
                }
            }
        }
        Value::Object(out)
    }

    /// Compact JSON text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Pretty JSON text (two-space indent).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.to_value()).unwrap_or_default()
    }
}

impl fmt::Display for PolicyDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_json())
    }
}

impl serde::Serialize for PolicyDocument {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

fn expect_string(v: &Value, path: &str) -> Result<String, PolicyError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(PolicyError::new(
            path,
            format!("expected a string, found {}", json_kind(other)),
        )),
    }
}

impl Statement {
    /// An `Allow` statement over the given actions and resources.
    pub fn allow(actions: Vec<String>, resources: Vec<String>) -> Self {
        Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: Some(ActionSpec::Action(StringList::list(actions))),
            resource: Some(ResourceSpec::Resource(StringList::list(resources))),
            condition: None,
            key_order: KeyOrder::of(["Effect", "Action", "Resource"]),
            extra: Map::new(),
        }
    }

    fn from_value(value: &Value, path: &str) -> Result<Self, PolicyError> {
        let Value::Object(obj) = value else {
            return Err(PolicyError::new(
                path,
                format!("expected an object, found {}", json_kind(value)),
            ));
        };
        let mut st = Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: None,
            resource: None,
            condition: None,
            key_order: KeyOrder::of(obj.keys()),
            extra: Map::new(),
        };
        let mut effect = None;
        for (key, v) in obj {
            let here = format!("{path}.{key}");
            match key.as_str() {
                "Sid" => st.sid = Some(expect_string(v, &here)?),
                "Effect" => {
                    effect = Some(match v.as_str() {
                        Some("Allow") => Effect::Allow,
                        Some("Deny") => Effect::Deny,
                        _ => {
                            return Err(PolicyError::new(
                                here,
                                format!("expected \"Allow\" or \"Deny\", found {v}"),
                            ));
                        }
                    })
                }
                "Principal" | "NotPrincipal" => {
                    if st.principal.is_some() {
                        return Err(PolicyError::new(here, "both Principal and NotPrincipal"));
                    }
                    match v {
                        Value::String(_) | Value::Object(_) => {
                            st.principal = Some((key.clone(), v.clone()))
                        }
                        other => {
                            return Err(PolicyError::new(
                                here,
                                format!("expected \"*\" or an object, found {}", json_kind(other)),
                            ));
                        }
                    }
                }
                "Action" | "NotAction" => {
                    if st.action.is_some() {
                        return Err(PolicyError::new(here, "both Action and NotAction"));
                    }
                    let list = StringList::parse(v, &here)?;
                    st.action = Some(if key == "Action" {
                        ActionSpec::Action(list)
                    } else {
                        ActionSpec::NotAction(list)
                    });
                }
                "Resource" | "NotResource" => {
                    if st.resource.is_some() {
                        return Err(PolicyError::new(here, "both Resource and NotResource"));
                    }
                    let list = StringList::parse(v, &here)?;
                    st.resource = Some(if key == "Resource" {
                        ResourceSpec::Resource(list)
                    } else {
                        ResourceSpec::NotResource(list)
                    });
                }
                "Condition" => st.condition = Some(parse_condition(v, &here)?),
                _ => {
                    st.extra.insert(key.clone(), v.clone());
                }
            }
        }
        st.effect = effect.ok_or_else(|| PolicyError::new(path, "missing \"Effect\""))?;
        if st.action.is_none() {
            return Err(PolicyError::new(
                path,
                "missing \"Action\" or \"NotAction\"",
            ));
        }
        Ok(st)
    }

    /// The statement as a JSON value, keys in the author's order.
    pub fn to_value(&self) -> Value {
        let mut order = self.key_order.keys();
        let action_key = match &self.action {
            Some(ActionSpec::Action(_)) => Some("Action"),
            Some(ActionSpec::NotAction(_)) => Some("NotAction"),
            None => None,
        };
        let resource_key = match &self.resource {
            Some(ResourceSpec::Resource(_)) => Some("Resource"),
            Some(ResourceSpec::NotResource(_)) => Some("NotResource"),
            None => None,
        };
        let principal_key = self.principal.as_ref().map(|(k, _)| k.as_str());
        let wanted = [
            ("Sid", self.sid.is_some()),
            ("Effect", true),
            (principal_key.unwrap_or(""), principal_key.is_some()),
            (action_key.unwrap_or(""), action_key.is_some()),
            (resource_key.unwrap_or(""), resource_key.is_some()),
            ("Condition", self.condition.is_some()),
        ];
        for (key, present) in wanted {
            if present && !order.contains(&key) {
                order.push(key);
            }
        }
        for key in self.extra.keys() {
            if !order.contains(&key.as_str()) {
                order.push(key);
            }
        }
        let mut out = Map::new();
        for key in order {
            let key = key.to_string();
            let value = match key.as_str() {
                "Sid" => self.sid.clone().map(Value::String),
                "Effect" => Some(Value::String(match self.effect {
                    Effect::Allow => "Allow".into(),
                    Effect::Deny => "Deny".into(),
                })),
                "Principal" | "NotPrincipal" => self
                    .principal
                    .as_ref()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| v.clone()),
                "Action" | "NotAction" => match &self.action {
                    Some(ActionSpec::Action(l)) if key == "Action" => Some(l.to_value()),
                    Some(ActionSpec::NotAction(l)) if key == "NotAction" => Some(l.to_value()),
                    _ => None,
                },
                "Resource" | "NotResource" => match &self.resource {
                    Some(ResourceSpec::Resource(l)) if key == "Resource" => Some(l.to_value()),
                    Some(ResourceSpec::NotResource(l)) if key == "NotResource" => {
                        Some(l.to_value())
                    }
                    _ => None,
                },
                "Condition" => self.condition.clone().map(Value::Object),
                _ => self.extra.get(&key).cloned(),
            };
            if let Some(v) = value {
                out.insert(key, v);
            }
        }
        Value::Object(out)
    }

    /// A copy with `actions` as its `Action` list, as [`Statement::set_actions`] leaves it,
    /// without copying the old list first.
    pub fn with_actions(&self, actions: Vec<String>) -> Statement {
        let mut st = Statement {
            sid: self.sid.clone(),
            effect: self.effect,
            principal: self.principal.clone(),
            action: None,
            resource: self.resource.clone(),
            condition: self.condition.clone(),
            key_order: self.key_order.clone(),
            extra: self.extra.clone(),
        };
        st.set_actions(actions);
        st
    }

    /// Replaces the `Action` list (keeps the key's place; turns `NotAction` into `Action`).
    pub fn set_actions(&mut self, actions: Vec<String>) {
        self.key_order.rename("NotAction", "Action");
        self.action = Some(ActionSpec::Action(StringList::list(actions)));
    }
}

fn parse_condition(v: &Value, path: &str) -> Result<Map<String, Value>, PolicyError> {
    let Value::Object(ops) = v else {
        return Err(PolicyError::new(
            path,
            format!("expected an object, found {}", json_kind(v)),
        ));
    };
    for (op, keys) in ops {
        let op_path = format!("{path}.{op}");
        let Value::Object(keys) = keys else {
            return Err(PolicyError::new(
                op_path,
                format!(
                    "expected an object of condition keys, found {}",
                    json_kind(keys)
                ),
            ));
        };
        for (key, value) in keys {
            let key_path = format!("{op_path}.{key}");
            let scalar_ok =
                |x: &Value| matches!(x, Value::String(_) | Value::Bool(_) | Value::Number(_));
            match value {
                x if scalar_ok(x) => {}
                Value::Array(items) => {
                    if let Some((i, bad)) = items.iter().enumerate().find(|(_, x)| !scalar_ok(x)) {
                        return Err(PolicyError::new(
                            format!("{key_path}[{i}]"),
                            format!(
                                "expected a string, boolean or number, found {}",
                                json_kind(bad)
                            ),
                        ));
                    }
                }
                other => {
                    return Err(PolicyError::new(
                        key_path,
                        format!(
                            "expected a string, boolean, number or array, found {}",
                            json_kind(other)
                        ),
                    ));
                }
            }
        }
    }
    Ok(ops.clone())
}

/// Parsing straight from JSON text into [`PolicyDocument`], skipping the `serde_json::Value` tree.
///
/// Only accepts what [`PolicyDocument::from_value`] would accept with the same result; anything else
/// (a syntax error, a wrong type, a repeated key, a missing element) is refused without detail so
/// [`PolicyDocument::parse_str`] falls back to the `Value` route, which owns the error wording and the
/// JSON paths.
mod direct {
    use super::{
        ActionSpec, Effect, KeyOrder, PolicyDocument, ResourceSpec, Statement, StringList,
    };
    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};
    use std::borrow::Cow;
    use std::fmt;

    /// An object key, borrowed from the text when it has no escapes (most keys are then matched
    /// and dropped without being copied).
    struct ObjectKey<'de>(Cow<'de, str>);

    impl<'de> serde::Deserialize<'de> for ObjectKey<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct KeyVisitor;

            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = ObjectKey<'de>;

                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object key")
                }

                fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                    Ok(ObjectKey(Cow::Borrowed(v)))
                }

                fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(ObjectKey(Cow::Owned(v.to_string())))
                }

                fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                    Ok(ObjectKey(Cow::Owned(v)))
                }
            }
            d.deserialize_str(KeyVisitor)
        }
    }

    /// A document parsed the direct way.
    pub(super) struct DirectDocument(pub(super) PolicyDocument);

    /// The refusal; its text is never shown (the fallback words the real error).
    fn refuse<E: de::Error>() -> E {
        E::custom("not a plain policy document")
    }

    impl<'de> serde::Deserialize<'de> for DirectDocument {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_map(DocumentVisitor).map(DirectDocument)
        }
    }

    struct DocumentVisitor;

    impl<'de> Visitor<'de> for DocumentVisitor {
        type Value = PolicyDocument;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a policy document")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PolicyDocument, A::Error> {
            let mut doc = PolicyDocument {
                version: None,
                id: None,
                statements: Vec::new(),
                single_statement: false,
                key_order: KeyOrder::default(),
                extra: Map::new(),
            };
            let mut saw_statement = false;
            while let Some(ObjectKey(key)) = map.next_key()? {
                // A repeated key keeps its first place but its last value in `Value`: leave it to that route.
                if doc.key_order.contains(&key) {
                    return Err(refuse());
                }
                match key.as_ref() {
                    "Version" => doc.version = Some(map.next_value()?),
                    "Id" => doc.id = Some(map.next_value()?),
                    "Statement" => {
                        saw_statement = true;
                        let (statements, single) = map.next_value_seed(StatementsSeed)?;
                        doc.statements = statements;
                        doc.single_statement = single;
                    }
                    _ => {
                        let value: Value = map.next_value_seed(UniqueValue)?;
                        doc.extra.insert(key.to_string(), value);
                    }
                }
                doc.key_order.push(&key);
            }
            if !saw_statement {
                return Err(refuse());
            }
            Ok(doc)
        }
    }

    /// `Statement`: one object or an array of objects; yields the statements and whether it was one object.
    struct StatementsSeed;

    impl<'de> DeserializeSeed<'de> for StatementsSeed {
        type Value = (Vec<Statement>, bool);

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for StatementsSeed {
        type Value = (Vec<Statement>, bool);

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a statement or an array of statements")
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok((vec![StatementVisitor.visit_map(map)?], true))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(st) = seq.next_element_seed(StatementVisitor)? {
                out.push(st);
            }
            Ok((out, false))
        }
    }

    /// One statement object.
    struct StatementVisitor;

    impl<'de> DeserializeSeed<'de> for StatementVisitor {
        type Value = Statement;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Statement, D::Error> {
            d.deserialize_map(self)
        }
    }

    impl<'de> Visitor<'de> for StatementVisitor {
        type Value = Statement;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a statement")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Statement, A::Error> {
            let mut st = Statement {
                sid: None,
                effect: Effect::Allow,
                principal: None,
                action: None,
                resource: None,
                condition: None,
                key_order: KeyOrder::default(),
                extra: Map::new(),
            };
            let mut effect = None;
            while let Some(ObjectKey(key)) = map.next_key()? {
                if st.key_order.contains(&key) {
                    return Err(refuse());
                }
                match key.as_ref() {
                    "Sid" => st.sid = Some(map.next_value()?),
                    "Effect" => effect = Some(map.next_value_seed(EffectSeed)?),
                    "Principal" | "NotPrincipal" => {
                        let value: Value = map.next_value_seed(UniqueValue)?;
                        if st.principal.is_some()
                            || !matches!(value, Value::String(_) | Value::Object(_))
                        {
                            return Err(refuse());
                        }
                        st.principal = Some((key.to_string(), value));
                    }
                    "Action" | "NotAction" => {
                        let list = map.next_value_seed(StringListSeed)?;
                        if st.action.is_some() {
                            return Err(refuse());
                        }
                        st.action = Some(if key == "Action" {
                            ActionSpec::Action(list)
                        } else {
                            ActionSpec::NotAction(list)
                        });
                    }
                    "Resource" | "NotResource" => {
                        let list = map.next_value_seed(StringListSeed)?;
                        if st.resource.is_some() {
                            return Err(refuse());
                        }
                        st.resource = Some(if key == "Resource" {
                            ResourceSpec::Resource(list)
                        } else {
                            ResourceSpec::NotResource(list)
                        });
                    }
                    "Condition" => {
                        let Value::Object(ops) = map.next_value_seed(UniqueValue)? else {
                            return Err(refuse());
                        };
                        if !condition_is_valid(&ops) {
                            return Err(refuse());
                        }
                        st.condition = Some(ops);
                    }
                    _ => {
                        let value: Value = map.next_value_seed(UniqueValue)?;
                        st.extra.insert(key.to_string(), value);
                    }
                }
                st.key_order.push(&key);
            }
            st.effect = effect.ok_or_else(refuse)?;
            if st.action.is_none() {
                return Err(refuse());
            }
            Ok(st)
        }
    }

    /// Any JSON value, refused (for the `Value` route to word) when an object in it repeats a key,
    /// which `Value` would read as its last.
    struct UniqueValue;

    impl<'de> DeserializeSeed<'de> for UniqueValue {
        type Value = Value;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for UniqueValue {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(Value::Bool(v))
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(Value::from(v))
        }

        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(Value::String(v.to_string()))
        }

        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(Value::String(v))
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(v) = seq.next_element_seed(UniqueValue)? {
                out.push(v);
            }
            Ok(Value::Array(out))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value_seed(UniqueValue)?;
                if out.insert(key, value).is_some() {
                    return Err(refuse());
                }
            }
            Ok(Value::Object(out))
        }
    }

    /// The same test as `super::parse_condition`, without building error paths.
    fn condition_is_valid(ops: &Map<String, Value>) -> bool {
        let scalar_ok =
            |x: &Value| matches!(x, Value::String(_) | Value::Bool(_) | Value::Number(_));
        ops.values().all(|keys| match keys {
            Value::Object(keys) => keys.values().all(|value| match value {
                Value::Array(items) => items.iter().all(scalar_ok),
                other => scalar_ok(other),
            }),
            _ => false,
        })
    }

    /// `"Allow"` or `"Deny"`.
    struct EffectSeed;

    impl<'de> DeserializeSeed<'de> for EffectSeed {
        type Value = Effect;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Effect, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for EffectSeed {
        type Value = Effect;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("\"Allow\" or \"Deny\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Effect, E> {
            match v {
                "Allow" => Ok(Effect::Allow),
                "Deny" => Ok(Effect::Deny),
                _ => Err(refuse()),
            }
        }
    }

    /// A string or an array of strings.
    struct StringListSeed;

    impl<'de> DeserializeSeed<'de> for StringListSeed {
        type Value = StringList;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<StringList, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for StringListSeed {
        type Value = StringList;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an array of strings")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<StringList, E> {
            Ok(StringList {
                values: vec![v.to_string()],
                single: true,
            })
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<StringList, E> {
            Ok(StringList {
                values: vec![v],
                single: true,
            })
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
            let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(v) = seq.next_element::<String>()? {
                values.push(v);
            }
            Ok(StringList {
                values,
                single: false,
            })
        }
    }
}

/// Finding a key that repeats in a JSON object, at any depth, with the JSON path of its object.
mod repeated {
    use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::collections::HashSet;
    use std::fmt;

    /// The first repeated key in `text` (path of its object, key); `None` when there is none or
    /// the text is not JSON (the caller's parse words that).
    pub(super) fn first_repeated_key(text: &str) -> Option<(String, String)> {
        let mut found = None;
        let mut de = serde_json::Deserializer::from_str(text);
        let _ = Walk {
            path: "$".to_string(),
            found: &mut found,
        }
        .deserialize(&mut de);
        found
    }

    struct Walk<'f> {
        path: String,
        found: &'f mut Option<(String, String)>,
    }

    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }

        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            loop {
                let path = format!("{}[{i}]", self.path);
                let walk = Walk {
                    path,
                    found: &mut *self.found,
                };
                if seq.next_element_seed(walk)?.is_none() || self.found.is_some() {
                    return Ok(());
                }
                i += 1;
            }
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen: HashSet<String> = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    *self.found = Some((self.path, key));
                    return Err(serde::de::Error::custom("repeated key"));
                }
                let walk = Walk {
                    path: format!("{}.{key}", self.path),
                    found: &mut *self.found,
                };
                map.next_value_seed(walk)?;
                if self.found.is_some() {
                    return Err(serde::de::Error::custom("repeated key"));
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_with_two_action_keys_is_refused_not_read_as_the_last() {
        let text = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Allow","Action":"s3:GetObject","Action":"iam:*","Resource":"*"}]}"#;
        let e = PolicyDocument::parse_str(text).unwrap_err();
        assert_eq!(e.path, "$.Statement[1]");
        assert_eq!(e.to_string(), "$.Statement[1]: duplicate key `Action`");
        // At the top too, and in a nested object.
        let e =
            PolicyDocument::parse_str(r#"{"Statement":[],"Version":"2012-10-17","Statement":[]}"#)
                .unwrap_err();
        assert_eq!(e.to_string(), "$: duplicate key `Statement`");
        let e = PolicyDocument::parse_str(
            r#"{"Statement":{"Effect":"Allow","Action":"*","Condition":{"Bool":{"aws:SecureTransport":"true","aws:SecureTransport":"false"}}}}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "$.Statement.Condition.Bool: duplicate key `aws:SecureTransport`"
        );
    }

    fn round_trip(text: &str) {
        let doc = PolicyDocument::parse_str(text).unwrap();
        let back: Value = serde_json::from_str(&doc.to_json()).unwrap();
        let orig: Value = serde_json::from_str(text).unwrap();
        assert_eq!(back, orig);
        assert_eq!(doc.to_json(), orig.to_string(), "key order survives");
    }

    #[test]
    fn round_trips_every_element() {
        round_trip(
            r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":["arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10},"ForAnyValue:StringLike":{"aws:TagKeys":["a*","b"]}}},{"Effect":"Deny","NotAction":["iam:*"],"NotResource":"*"},{"Resource":"*","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root"]},"Action":["sts:AssumeRole"],"Custom":1}]}"#,
        );
        round_trip(
            r#"{"Statement":{"Effect":"Allow","NotPrincipal":"*","Action":"*","Resource":"*"},"Version":"2008-10-17"}"#,
        );
    }

    #[test]
    fn errors_name_the_json_path() {
        let err = PolicyDocument::parse_str(
            r#"{"Statement":[{"Effect":"Allow","Action":"a:b"},{"Effect":"Allow","Action":[1]}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.path, "$.Statement[1].Action[0]");
        let err = PolicyDocument::parse_str(r#"{"Statement":[{"Effect":"Maybe","Action":"a:b"}]}"#)
            .unwrap_err();
        assert_eq!(err.path, "$.Statement[0].Effect");
        let err = PolicyDocument::parse_str(r#"{"Statement":{"Effect":"Allow","Action":"a:b","Condition":{"StringEquals":{"k":{"x":1}}}}}"#)
            .unwrap_err();
        assert_eq!(err.path, "$.Statement.Condition.StringEquals.k");
        assert!(
            PolicyDocument::parse_str("{")
                .unwrap_err()
                .message
                .contains("not valid JSON")
        );
        assert!(
            PolicyDocument::parse_str("{}")
                .unwrap_err()
                .message
                .contains("Statement")
        );
    }

    /// The `Value` route on its own, which the direct route must agree with.
    fn via_value(text: &str) -> Result<PolicyDocument, PolicyError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| PolicyError::new("$", e.to_string()))?;
        PolicyDocument::from_value(&value)
    }

    #[test]
    fn direct_route_agrees_with_value_route() {
        let plain = [
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/*"}]}"#,
            r#"{"Id":"x","Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":["*"],"Condition":{"Bool":{"aws:SecureTransport":false},"NumericLessThan":{"k":[1,2.5]}}},"Custom":{"a":[1,null]}}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"sts:AssumeRole","X":1},{"Effect":"Allow","NotPrincipal":"*","Action":[]}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"a:\u0062","Resource":"*"}]}"#,
        ];
        for text in plain {
            let direct = serde_json::from_str::<direct::DirectDocument>(text)
                .unwrap_or_else(|e| panic!("direct route refused {text}: {e}"));
            assert_eq!(direct.0, via_value(text).unwrap(), "{text}");
            assert_eq!(
                direct.0.to_json(),
                via_value(text).unwrap().to_json(),
                "{text}"
            );
        }
        // Refused by the direct route, so `parse_str` gives exactly the `Value` route's answer.
        let unusual = [
            r#"{"Statement":[{"Effect":"Allow","Action":"a:b","NotAction":"c:d"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"a:b"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":1,"Action":"a:b"}]}"#,
            r#"{"Statement":[{"Effect":"allow","Action":"a:b"}]}"#,
            r#"{"Statement":[{"Effect":"Allow"}]}"#,
            r#"{"Statement":[{"Action":"a:b"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Condition":{"S":{"k":{}}}}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Condition":{"S":[1]}}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":[1]}]}"#,
            r#"{"Statement":null}"#,
            r#"{"Version":1,"Statement":[]}"#,
            r#"{"Version":"x"}"#,
            r#"[]"#,
            r#"{"Statement":[]} x"#,
        ];
        for text in unusual {
            assert!(
                serde_json::from_str::<direct::DirectDocument>(text).is_err(),
                "direct route accepted {text}"
            );
            match (PolicyDocument::parse_str(text), via_value(text)) {
                (Ok(a), Ok(b)) => assert_eq!(a.to_json(), b.to_json(), "{text}"),
                (Err(a), Err(b)) => assert_eq!(a.path, b.path, "{text}"),
                (a, b) => panic!("{text}: {a:?} vs {b:?}"),
            }
        }
        // A repeated key, which the `Value` route would read as its last, is refused by both.
        for text in [
            r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Action":"c:d"}]}"#,
            r#"{"Statement":[],"Statement":{"Effect":"Allow","Action":"a:b"}}"#,
            r#"{"Statement":[{"Action":"a:b","Effect":"Allow","Action":"c:d"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"a:b","Principal":{"AWS":"x","AWS":"y"}}]}"#,
        ] {
            assert!(
                serde_json::from_str::<direct::DirectDocument>(text).is_err(),
                "direct route accepted {text}"
            );
            let e = PolicyDocument::parse_str(text).unwrap_err();
            assert!(e.message.starts_with("duplicate key"), "{text}: {e}");
        }
    }

    #[test]
    fn key_order_survives_unknown_keys_and_renames() {
        let text = r#"{"Statement":[{"X":1,"NotAction":"iam:*","Effect":"Allow","Y":2,"Resource":"*"}],"Z":true}"#;
        let mut doc = PolicyDocument::parse_str(text).unwrap();
        assert_eq!(doc.to_json(), text);
        assert_eq!(doc, via_value(text).unwrap());
        doc.statements[0].set_actions(vec!["s3:GetObject".into()]);
        assert_eq!(
            doc.to_json(),
            r#"{"Statement":[{"X":1,"Action":["s3:GetObject"],"Effect":"Allow","Y":2,"Resource":"*"}],"Z":true}"#
        );
        let many: String = (0..20).map(|i| format!(r#""k{i}":{i},"#)).collect();
        let text = format!(r#"{{"Statement":{{{many}"Effect":"Allow","Action":"a:b"}}}}"#);
        assert_eq!(PolicyDocument::parse_str(&text).unwrap().to_json(), text);
        // The packed form holds 16 keys; one more switches to the list, in order.
        let mut order = KeyOrder::default();
        let names: Vec<&str> = KNOWN_KEYS.iter().cycle().take(17).copied().collect();
        for (i, name) in names.iter().enumerate() {
            order.push(name);
            assert_eq!(order.keys(), names[..=i], "{i}");
            assert_eq!(matches!(order, KeyOrder::Packed(_)), i < 16, "{i}");
        }
        assert!(order.contains("Condition") && !order.contains("Other"));
    }

    #[test]
    fn set_actions_keeps_key_position() {
        let mut doc = PolicyDocument::parse_str(
            r#"{"Statement":[{"NotAction":"iam:*","Effect":"Allow","Resource":"*"}]}"#,
        )
        .unwrap();
        doc.statements[0].set_actions(vec!["s3:GetObject".into()]);
        assert_eq!(
            doc.to_json(),
            r#"{"Statement":[{"Action":["s3:GetObject"],"Effect":"Allow","Resource":"*"}]}"#
        );
    }
}
