//! The CloudTrail record fields iamtrim reads: the borrowed serde model ([`Record`]) that both
//! readers fill, the field limits, and what `requestParameters` shows ([`RequestFacts`]).
//!
//! Shared by the serde reader ([`super::record`]) and the fast envelope scanner ([`super::skim`]),
//! so that neither imports the other. It reads no file form itself.

use super::mapping;
use super::request::{FactMember, PartiqlVerbs, RequestFacts};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// One CloudTrail record, only the fields the scan needs; strings borrow from the file when unescaped.
#[derive(Debug, Default, Deserialize)]
pub struct Record<'a> {
    /// RFC 3339 UTC time of the call.
    #[serde(rename = "eventTime", borrow, default)]
    pub event_time: Option<Cow<'a, str>>,
    /// Service host, e.g. `s3.amazonaws.com`.
    #[serde(rename = "eventSource", borrow, default)]
    pub event_source: Option<Cow<'a, str>>,
    /// API operation name.
    #[serde(rename = "eventName", borrow, default)]
    pub event_name: Option<Cow<'a, str>>,
    /// `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleSignIn`...
    #[serde(rename = "eventType", borrow, default)]
    pub event_type: Option<Cow<'a, str>>,
    /// `Management`, `Data`, `Insight` (event version 1.07 and later).
    #[serde(rename = "eventCategory", borrow, default)]
    pub event_category: Option<Cow<'a, str>>,
    /// False for data events (event version 1.06 and later).
    #[serde(rename = "managementEvent", default)]
    pub management_event: Option<bool>,
    /// Set when the call failed (`AccessDenied`, `NoSuchEntity`...).
    #[serde(rename = "errorCode", borrow, default)]
    pub error_code: Option<Cow<'a, str>>,
    /// The account whose trail logged the event.
    #[serde(rename = "recipientAccountId", borrow, default)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    /// Who made the call.
    #[serde(rename = "userIdentity", borrow, default)]
    pub user_identity: Option<UserIdentity<'a>>,
    /// Resources the call named (`resources[].ARN`).
    #[serde(borrow, default)]
    pub resources: Option<Vec<ResourceRef<'a>>>,
    /// What `requestParameters` shows that changes the actions the call needs.
    #[serde(
        rename = "requestParameters",
        default,
        deserialize_with = "request_facts"
    )]
    pub request: RequestFacts,
    /// Event-history form only: the full record as a JSON string.
    #[serde(rename = "CloudTrailEvent", borrow, default)]
    pub embedded: Option<Cow<'a, str>>,
}

/// Longest `eventSource`, `eventName`, `eventType`, `eventCategory`, `errorCode`, `eventTime`,
/// account id, identity type or resource type a record may have, in bytes. Real values are
/// under 100 bytes; a longer one is no CloudTrail record, and copying it into the report, the
/// warnings and the cache would make them as large as the input.
pub const MAX_FIELD_LEN: usize = 256;

/// Longest ARN (`userIdentity.arn`, `sessionIssuer.arn`, `resources[].ARN`) a record may have,
/// in bytes. IAM ARNs are at most 2,048 characters and S3 object ARNs about 1,100 bytes (a key
/// is at most 1,024).
pub const MAX_ARN_LEN: usize = 4096;

impl Record<'_> {
    /// The name of the first field longer than its limit ([`MAX_FIELD_LEN`], [`MAX_ARN_LEN`]),
    /// if any: such a record is refused, and its value never copied anywhere.
    pub fn oversized_field(&self) -> Option<&'static str> {
        let long = |value: &Option<Cow<'_, str>>, limit: usize| {
            value.as_deref().is_some_and(|v| v.len() > limit)
        };
        let fields = [
            ("eventSource", &self.event_source, MAX_FIELD_LEN),
            ("eventName", &self.event_name, MAX_FIELD_LEN),
            ("eventType", &self.event_type, MAX_FIELD_LEN),
            ("eventCategory", &self.event_category, MAX_FIELD_LEN),
            ("eventTime", &self.event_time, MAX_FIELD_LEN),
            ("errorCode", &self.error_code, MAX_FIELD_LEN),
            (
                "recipientAccountId",
                &self.recipient_account_id,
                MAX_FIELD_LEN,
            ),
        ];
        if let Some((name, _, _)) = fields.iter().find(|(_, v, limit)| long(v, *limit)) {
            return Some(name);
        }
        if let Some(id) = &self.user_identity {
            let issuer = id
                .session_context
                .as_ref()
                .and_then(|c| c.session_issuer.as_ref());
            let fields = [
                ("userIdentity.type", &id.kind, MAX_FIELD_LEN),
                ("userIdentity.arn", &id.arn, MAX_ARN_LEN),
                ("userIdentity.accountId", &id.account_id, MAX_FIELD_LEN),
                ("userIdentity.principalId", &id.principal_id, MAX_ARN_LEN),
            ];
            if let Some((name, _, _)) = fields.iter().find(|(_, v, limit)| long(v, *limit)) {
                return Some(name);
            }
            if let Some(issuer) = issuer {
                if long(&issuer.arn, MAX_ARN_LEN) {
                    return Some("userIdentity.sessionContext.sessionIssuer.arn");
                }
                if long(&issuer.kind, MAX_FIELD_LEN) {
                    return Some("userIdentity.sessionContext.sessionIssuer.type");
                }
            }
        }
        for resource in self.resources.iter().flatten() {
            if long(&resource.arn, MAX_ARN_LEN) {
                return Some("resources[].ARN");
            }
            if long(&resource.kind, MAX_FIELD_LEN) {
                return Some("resources[].type");
            }
        }
        None
    }
}

/// `userIdentity`, the fields that name the principal.
#[derive(Debug, Default, Deserialize)]
pub struct UserIdentity<'a> {
    /// `IAMUser`, `AssumedRole`, `Root`, `AWSService`, `AWSAccount`, `FederatedUser`...
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    /// The caller's ARN (an STS session ARN for assumed roles).
    #[serde(borrow, default)]
    pub arn: Option<Cow<'a, str>>,
    /// The caller's account.
    #[serde(rename = "accountId", borrow, default)]
    pub account_id: Option<Cow<'a, str>>,
    /// `ANONYMOUS_PRINCIPAL` for unauthenticated S3 requests.
    #[serde(rename = "principalId", borrow, default)]
    pub principal_id: Option<Cow<'a, str>>,
    /// Session details; the issuer is the role behind an assumed-role session.
    #[serde(rename = "sessionContext", borrow, default)]
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Default, Deserialize)]
pub struct SessionContext<'a> {
    /// The role or user that issued the session.
    #[serde(rename = "sessionIssuer", borrow, default)]
    pub session_issuer: Option<SessionIssuer<'a>>,
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Default, Deserialize)]
pub struct SessionIssuer<'a> {
    /// `Role` or `IAMUser`.
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
    /// The issuer's ARN, e.g. `arn:aws:iam::111111111111:role/someRole`.
    #[serde(borrow, default)]
    pub arn: Option<Cow<'a, str>>,
}

/// One entry of `resources[]`.
#[derive(Debug, Default, Deserialize)]
pub struct ResourceRef<'a> {
    /// The resource ARN.
    #[serde(rename = "ARN", borrow, default)]
    pub arn: Option<Cow<'a, str>>,
    /// The resource type, e.g. `AWS::S3::Object`.
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Cow<'a, str>>,
}

/// What one member of `requestParameters` holds, as far as [`RequestFacts`] care.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct MemberValue {
    /// Not `null`, `""`, `[]` or `{}`.
    pub non_empty: bool,
    /// A string that names an object version (`...?versionId=...`).
    pub names_version: bool,
}

impl MemberValue {
    /// Folds one member into the facts.
    pub fn note(self, member: FactMember, facts: &mut RequestFacts) {
        if !self.non_empty {
            return;
        }
        match member {
            FactMember::VersionId => facts.version_id = true,
            FactMember::CopySource => {
                facts.copy_source = true;
                facts.version_id |= self.names_version;
            }
            FactMember::Tags => facts.tags = true,
            // Read by `StatementVerbs` and `StatementListVerbs`.
            FactMember::Statement | FactMember::Statements => {}
        }
    }
}

impl Record<'_> {
    /// Forgets request facts that cannot change what this event needs
    /// ([`mapping::facts_matter`]): the scanner skips those events' `requestParameters` unread,
    /// and both readers must give the same record.
    #[inline]
    pub(super) fn settle_request(&mut self) {
        if self.request != RequestFacts::default()
            && !mapping::facts_matter(
                self.event_source.as_deref().unwrap_or(""),
                self.event_name.as_deref().unwrap_or(""),
            )
        {
            self.request = RequestFacts::default();
        }
    }
}

/// The verb of a `statement` member: a string's verb, nothing for `null`, all four for anything
/// else.
pub(super) struct StatementVerbs(pub PartiqlVerbs);

impl<'de> Deserialize<'de> for StatementVerbs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatementVerbs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a PartiQL statement")
            }
            fn visit_str<E>(self, s: &str) -> Result<StatementVerbs, E> {
                Ok(StatementVerbs(PartiqlVerbs::of_statement(s)))
            }
            fn visit_none<E>(self) -> Result<StatementVerbs, E> {
                Ok(StatementVerbs(PartiqlVerbs::default()))
            }
            fn visit_unit<E>(self) -> Result<StatementVerbs, E> {
                Ok(StatementVerbs(PartiqlVerbs::default()))
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<StatementVerbs, D2::Error> {
                d.deserialize_any(self)
            }
            fn visit_bool<E>(self, _: bool) -> Result<StatementVerbs, E> {
                Ok(StatementVerbs(PartiqlVerbs::ALL))
            }
            fn visit_i64<E>(self, _: i64) -> Result<StatementVerbs, E> {
                Ok(StatementVerbs(PartiqlVerbs::ALL))
            }
            fn visit_u64<E>(self, _: u64) -> Result<StatementVerbs, E> {
                Ok(StatementVerbs(PartiqlVerbs::ALL))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StatementVerbs, E> {
                Ok(StatementVerbs(PartiqlVerbs::ALL))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatementVerbs, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StatementVerbs(PartiqlVerbs::ALL))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StatementVerbs, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StatementVerbs(PartiqlVerbs::ALL))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// The verbs of a `requestItems` or `transactStatements` member, a list of
/// `{"statement": ...}`: all four when an item is not such an object or the member is not a list.
pub(super) struct StatementListVerbs(pub PartiqlVerbs);

impl<'de> Deserialize<'de> for StatementListVerbs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// One item: the verb of its `statement`, all four without one.
        struct Item(PartiqlVerbs);
        impl<'de> Deserialize<'de> for Item {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = Item;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a PartiQL statement item")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                        let mut verbs = None;
                        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                            if key == "statement" {
                                let StatementVerbs(v) = map.next_value()?;
                                let seen: PartiqlVerbs = verbs.unwrap_or_default();
                                verbs = Some(seen.union(v));
                            } else {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                        // An item with no statement (or a null one) cannot be narrowed.
                        Ok(Item(match verbs {
                            Some(v) if !v.is_empty() => v,
                            _ => PartiqlVerbs::ALL,
                        }))
                    }
                    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Item, D2::Error> {
                        d.deserialize_any(self)
                    }
                    fn visit_none<E>(self) -> Result<Item, E> {
                        Ok(Item(PartiqlVerbs::ALL))
                    }
                    fn visit_unit<E>(self) -> Result<Item, E> {
                        Ok(Item(PartiqlVerbs::ALL))
                    }
                    fn visit_bool<E>(self, _: bool) -> Result<Item, E> {
                        Ok(Item(PartiqlVerbs::ALL))
                    }
                    fn visit_i64<E>(self, _: i64) -> Result<Item, E> {
                        Ok(Item(PartiqlVerbs::ALL))
                    }
                    fn visit_u64<E>(self, _: u64) -> Result<Item, E> {
                        Ok(Item(PartiqlVerbs::ALL))
                    }
                    fn visit_f64<E>(self, _: f64) -> Result<Item, E> {
                        Ok(Item(PartiqlVerbs::ALL))
                    }
                    fn visit_str<E>(self, _: &str) -> Result<Item, E> {
                        Ok(Item(PartiqlVerbs::ALL))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
                        while seq.next_element::<IgnoredAny>()?.is_some() {}
                        Ok(Item(PartiqlVerbs::ALL))
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatementListVerbs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of PartiQL statements")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StatementListVerbs, A::Error> {
                let mut verbs = PartiqlVerbs::default();
                while let Some(Item(v)) = seq.next_element()? {
                    verbs = verbs.union(v);
                }
                Ok(StatementListVerbs(verbs))
            }
            fn visit_some<D2: Deserializer<'de>>(
                self,
                d: D2,
            ) -> Result<StatementListVerbs, D2::Error> {
                d.deserialize_any(self)
            }
            fn visit_none<E>(self) -> Result<StatementListVerbs, E> {
                Ok(StatementListVerbs(PartiqlVerbs::default()))
            }
            fn visit_unit<E>(self) -> Result<StatementListVerbs, E> {
                Ok(StatementListVerbs(PartiqlVerbs::default()))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<StatementListVerbs, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(StatementListVerbs(PartiqlVerbs::ALL))
            }
            fn visit_str<E>(self, _: &str) -> Result<StatementListVerbs, E> {
                Ok(StatementListVerbs(PartiqlVerbs::ALL))
            }
            fn visit_bool<E>(self, _: bool) -> Result<StatementListVerbs, E> {
                Ok(StatementListVerbs(PartiqlVerbs::ALL))
            }
            fn visit_i64<E>(self, _: i64) -> Result<StatementListVerbs, E> {
                Ok(StatementListVerbs(PartiqlVerbs::ALL))
            }
            fn visit_u64<E>(self, _: u64) -> Result<StatementListVerbs, E> {
                Ok(StatementListVerbs(PartiqlVerbs::ALL))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StatementListVerbs, E> {
                Ok(StatementListVerbs(PartiqlVerbs::ALL))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `requestParameters` -> [`RequestFacts`]; any value that is not an object gives none.
fn request_facts<'de, D: Deserializer<'de>>(deserializer: D) -> Result<RequestFacts, D::Error> {
    struct FactsVisitor;
    impl<'de> Visitor<'de> for FactsVisitor {
        type Value = RequestFacts;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("requestParameters")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestFacts, A::Error> {
            let mut facts = RequestFacts::default();
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                match FactMember::of(&key) {
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                    Some(FactMember::Statement) => {
                        let StatementVerbs(verbs) = map.next_value()?;
                        facts.partiql = facts.partiql.union(verbs);
                    }
                    Some(FactMember::Statements) => {
                        let StatementListVerbs(verbs) = map.next_value()?;
                        facts.partiql = facts.partiql.union(verbs);
                    }
                    Some(member) => map.next_value::<MemberValue>()?.note(member, &mut facts),
                }
            }
            Ok(facts)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RequestFacts, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(RequestFacts::default())
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<RequestFacts, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_none<E>(self) -> Result<RequestFacts, E> {
            Ok(RequestFacts::default())
        }
        fn visit_unit<E>(self) -> Result<RequestFacts, E> {
            Ok(RequestFacts::default())
        }
        fn visit_bool<E>(self, _: bool) -> Result<RequestFacts, E> {
            Ok(RequestFacts::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<RequestFacts, E> {
            Ok(RequestFacts::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<RequestFacts, E> {
            Ok(RequestFacts::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<RequestFacts, E> {
            Ok(RequestFacts::default())
        }
        fn visit_str<E>(self, _: &str) -> Result<RequestFacts, E> {
            Ok(RequestFacts::default())
        }
    }
    deserializer.deserialize_any(FactsVisitor)
}

impl<'de> Deserialize<'de> for MemberValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = MemberValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MemberValue, A::Error> {
                let mut non_empty = false;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {
                    non_empty = true;
                }
                Ok(MemberValue {
                    non_empty,
                    names_version: false,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MemberValue, A::Error> {
                let mut non_empty = false;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    non_empty = true;
                }
                Ok(MemberValue {
                    non_empty,
                    names_version: false,
                })
            }
            fn visit_str<E>(self, s: &str) -> Result<MemberValue, E> {
                Ok(MemberValue {
                    non_empty: !s.is_empty(),
                    names_version: s.contains("versionId="),
                })
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<MemberValue, D2::Error> {
                d.deserialize_any(self)
            }
            fn visit_none<E>(self) -> Result<MemberValue, E> {
                Ok(MemberValue::default())
            }
            fn visit_unit<E>(self) -> Result<MemberValue, E> {
                Ok(MemberValue::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<MemberValue, E> {
                Ok(MemberValue {
                    non_empty: true,
                    names_version: false,
                })
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<MemberValue, E> {
                self.visit_bool(true)
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<MemberValue, E> {
                self.visit_bool(true)
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<MemberValue, E> {
                self.visit_bool(true)
            }
        }
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Passes a record on, first unwrapping the event-history form; the serde reader's last step.
pub(super) fn deliver(
    mut record: Record<'_>,
    sink: &mut dyn FnMut(&Record<'_>),
) -> Result<(), serde_json::Error> {
    match &record.embedded {
        Some(inner) => {
            let mut inner: Record<'_> = serde_json::from_str(inner)?;
            inner.settle_request();
            sink(&inner);
        }
        None => {
            record.settle_request();
            sink(&record);
        }
    }
    Ok(())
}
