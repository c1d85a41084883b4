//! What a call's `requestParameters` show that changes the IAM actions it needs.
//!
//! Owns [`RequestFacts`] (tags on a create call, a `versionId`, a copy source, the verbs of
//! DynamoDB PartiQL statements), [`FactMember`] (which top-level member tells which fact) and
//! [`PartiqlVerbs`]. Both CloudTrail readers fill the facts from the members named here; the
//! Athena and Lake rows carry the same struct. Which events the facts matter for, and what they
//! change, is the mapping's business ([`super::mapping::facts_matter`],
//! [`super::mapping::actions_for_request`]); this module reads no table.

/// What a call's `requestParameters` show that changes the actions it needs.
///
/// The CloudTrail reader takes these from the top-level members of `requestParameters`; the
/// Athena reader groups its rows by the first three facts (its rows leave `partiql` empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RequestFacts {
    /// A non-empty `tags`, `tagSpecificationSet`, `tagSpecifications`, `tagSpecification`,
    /// `tagList` or `resourceTags` member (any case): the call tags what it creates.
    pub tags: bool,
    /// A `versionId` member, or a copy source naming `versionId=`: the call reads (or changes)
    /// one version of an object.
    pub version_id: bool,
    /// An `x-amz-copy-source` (or `copySource`) member: the call reads another object.
    pub copy_source: bool,
    /// The verbs of the PartiQL statements of a DynamoDB `ExecuteStatement`,
    /// `BatchExecuteStatement` or `ExecuteTransaction`; empty when the request shows none.
    pub partiql: PartiqlVerbs,
}

impl RequestFacts {
    /// The facts as a number below [`RequestFacts::COUNT`], for tables indexed by them.
    pub fn index(self) -> usize {
        usize::from(self.tags)
            | usize::from(self.version_id) << 1
            | usize::from(self.copy_source) << 2
            | usize::from(self.partiql.0) << 3
    }

    /// How many different facts there are ([`RequestFacts::index`] is below it).
    pub const COUNT: usize = 1 << 7;

    /// True for a `requestParameters` member name that carries tags.
    pub fn is_tags_member(name: &str) -> bool {
        FactMember::of(name) == Some(FactMember::Tags)
    }

    /// True for a `requestParameters` member name that names a copy source.
    pub fn is_copy_source_member(name: &str) -> bool {
        FactMember::of(name) == Some(FactMember::CopySource)
    }
}

/// A top-level member of `requestParameters` that tells a fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactMember {
    /// `versionId`: the call names an object version.
    VersionId,
    /// `x-amz-copy-source` or `copySource` (any case): the object a copy reads.
    CopySource,
    /// `tags`, `tagSpecificationSet`, `tagSpecifications`, `tagSpecification`, `tagList`,
    /// `resourceTags` (any case): tags on what the call creates.
    Tags,
    /// `statement`: one PartiQL statement (DynamoDB `ExecuteStatement`).
    Statement,
    /// `requestItems` or `transactStatements`: a list of `{"statement": ...}` (DynamoDB
    /// `BatchExecuteStatement` as CloudTrail logs it, `ExecuteTransaction`); also `statements`,
    /// the batch's API name, should a log use it.
    Statements,
}

impl FactMember {
    /// The fact a member of this name tells, if any.
    #[inline]
    pub fn of(name: &str) -> Option<FactMember> {
        Self::of_bytes(name.as_bytes())
    }

    /// [`FactMember::of`] for a name as the file spells it (no escapes), unchecked as UTF-8: all
    /// the names it knows are ASCII.
    #[inline]
    pub fn of_bytes(name: &[u8]) -> Option<FactMember> {
        // Most members are none of these: the length alone rules out nearly all of them.
        let is = |m: &[u8]| m.eq_ignore_ascii_case(name);
        match name.len() {
            4 if is(b"tags") => Some(FactMember::Tags),
            7 if is(b"tagList") => Some(FactMember::Tags),
            9 if name == b"versionId" => Some(FactMember::VersionId),
            9 if name == b"statement" => Some(FactMember::Statement),
            10 if is(b"copySource") => Some(FactMember::CopySource),
            10 if name == b"statements" => Some(FactMember::Statements),
            12 if is(b"resourceTags") => Some(FactMember::Tags),
            12 if name == b"requestItems" => Some(FactMember::Statements),
            16 if is(b"tagSpecification") => Some(FactMember::Tags),
            17 if is(b"tagSpecifications") => Some(FactMember::Tags),
            17 if is(b"x-amz-copy-source") => Some(FactMember::CopySource),
            18 if name == b"transactStatements" => Some(FactMember::Statements),
            19 if is(b"tagSpecificationSet") => Some(FactMember::Tags),
            _ => None,
        }
    }
}

/// A set of PartiQL verbs (`SELECT`, `INSERT`, `UPDATE`, `DELETE`), each the DynamoDB action
/// `dynamodb:PartiQL<Verb>` that authorizes it.
///
/// A statement whose verb is not one of the four (or that is not a string) adds all four: the
/// mapping never narrows on what it cannot read.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PartiqlVerbs(u8);

impl PartiqlVerbs {
    /// Every verb: what a call needs when its statements cannot be read.
    pub const ALL: PartiqlVerbs = PartiqlVerbs(0b1111);
    /// The verbs with their action names, in bit order.
    const ACTIONS: [(&'static str, &'static str); 4] = [
        ("SELECT", "PartiQLSelect"),
        ("INSERT", "PartiQLInsert"),
        ("UPDATE", "PartiQLUpdate"),
        ("DELETE", "PartiQLDelete"),
    ];

    /// The verb of one statement: its first word, any case; [`PartiqlVerbs::ALL`] for any other.
    pub fn of_statement(statement: &str) -> PartiqlVerbs {
        let text = statement.trim_start();
        let word_len = text
            .bytes()
            .position(|b| !b.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let word = &text[..word_len];
        Self::ACTIONS
            .iter()
            .position(|(verb, _)| verb.eq_ignore_ascii_case(word))
            .map_or(Self::ALL, |bit| PartiqlVerbs(1 << bit))
    }

    /// Both sets.
    pub fn union(self, other: PartiqlVerbs) -> PartiqlVerbs {
        PartiqlVerbs(self.0 | other.0)
    }

    /// True when no statement was seen.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The action names (`PartiQLSelect`...) of the verbs in the set, without the prefix.
    pub fn actions(self) -> impl Iterator<Item = &'static str> {
        Self::ACTIONS
            .iter()
            .enumerate()
            .filter(move |(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, (_, action))| *action)
    }
}

impl std::fmt::Debug for PartiqlVerbs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.actions()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_gives_its_verb_in_any_case() {
        for (statement, action) in [
            ("SELECT * FROM Music WHERE Artist = 'x'", "PartiQLSelect"),
            (
                "  insert INTO Music VALUE {'a' : ***(Redacted)}",
                "PartiQLInsert",
            ),
            (
                "Update Music SET Album = ***(Redacted) WHERE k = 'v'",
                "PartiQLUpdate",
            ),
            ("DELETE FROM Music WHERE k = 'v'", "PartiQLDelete"),
        ] {
            let verbs: Vec<_> = PartiqlVerbs::of_statement(statement).actions().collect();
            assert_eq!(verbs, [action], "{statement}");
        }
    }

    #[test]
    fn an_unknown_verb_gives_all_four() {
        for statement in [
            "",
            "EXISTS(SELECT * FROM t)",
            "SELECTX * FROM t",
            "(SELECT 1)",
            "42",
        ] {
            assert_eq!(PartiqlVerbs::of_statement(statement), PartiqlVerbs::ALL);
        }
    }

    #[test]
    fn members_are_told_apart_by_name() {
        for (name, member) in [
            ("versionId", Some(FactMember::VersionId)),
            ("VersionId", None),
            ("statement", Some(FactMember::Statement)),
            ("requestItems", Some(FactMember::Statements)),
            ("statements", Some(FactMember::Statements)),
            ("transactStatements", Some(FactMember::Statements)),
            ("X-Amz-Copy-Source", Some(FactMember::CopySource)),
            ("TagSpecificationSet", Some(FactMember::Tags)),
            ("RESOURCETAGS", Some(FactMember::Tags)),
            ("tag", None),
            ("bucketName", None),
        ] {
            assert_eq!(FactMember::of(name), member, "{name}");
        }
    }
}
