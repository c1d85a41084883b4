//! The fast path for the S3 delivery envelope: a hand-written scanner that reads only the record
//! fields iamtrim needs and skips everything else by matching quotes and brackets.
//!
//! Owns [`skim_envelope`]. It fills the same borrowed [`Record`] as the serde model, one record at
//! a time, reusing one record and one `resources` buffer for the whole file. Anything it does not
//! expect in a record (an escape in a field it reads, a repeated field, a value of another type,
//! the event-history `CloudTrailEvent` form) sends that one record through serde instead; a
//! structural problem in the file (truncation, trailing bytes) is reported as [`Skim::Fallback`]
//! so the caller can let serde produce the error and the records after the ones already delivered.
//!
//! Strings and nested values are skipped with the bit masks of [`Structure`], built once per file;
//! the file is checked to be UTF-8 once, so the fields read are borrowed as `&str` without a check
//! each (a file that is not UTF-8 somewhere checks each field it reads instead).
//!
//! What it does not do: validate the JSON inside values it skips (a skipped value only has to have
//! balanced brackets and closed strings), or handle JSON lines; those go to serde.

use super::fields::{
    self, MemberValue, Record, ResourceRef, SessionContext, SessionIssuer, StatementListVerbs,
    StatementVerbs, UserIdentity,
};
use super::mapping;
use super::request::FactMember;
use super::request::RequestFacts;
use super::structure::{Quotes, Structure};
use std::borrow::Cow;
use std::cell::RefCell;

/// How skimming one file ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Skim {
    /// Every record was delivered.
    Done,
    /// The file needs the serde path; this many records were already delivered.
    Fallback {
        /// Records already passed to the sink, which serde must not pass again.
        delivered: u64,
    },
}

/// Why the scanner stopped reading the current value.
enum Stop {
    /// This record is unusual: parse it with serde.
    Record,
    /// The file is malformed or unusual at the top level: parse it with serde.
    File,
}

type Step<T> = Result<T, Stop>;

thread_local! {
    /// The masks of the file being read; kept per thread so their storage is reused.
    static STRUCTURE: RefCell<Structure> = RefCell::new(Structure::default());
}

/// Streams the records of a `{"Records":[...]}` (or `{"Events":[...]}`) file to `sink`.
pub fn skim_envelope(text: &[u8], sink: &mut dyn FnMut(&Record<'_>)) -> Skim {
    // Taken out rather than borrowed, so a sink that reads another file cannot trip the cell.
    let mut structure = STRUCTURE.take();
    let skim = skim_indexed(text, &mut structure, sink);
    STRUCTURE.set(structure);
    skim
}

fn skim_indexed(text: &[u8], structure: &mut Structure, sink: &mut dyn FnMut(&Record<'_>)) -> Skim {
    if structure.index(text).is_err() {
        return Skim::Fallback { delivered: 0 };
    }
    let mut skimmer = Skimmer {
        text,
        utf8: simdutf8::basic::from_utf8(text).ok(),
        structure,
        quotes: structure.quotes_from(0),
        pos: 0,
        delivered: 0,
        resources: Vec::new(),
    };
    match skimmer.envelope(sink) {
        Ok(()) => Skim::Done,
        Err(_) => Skim::Fallback {
            delivered: skimmer.delivered,
        },
    }
}

struct Skimmer<'t, 's> {
    text: &'t [u8],
    /// The same text when it is all UTF-8.
    utf8: Option<&'t str>,
    /// Where its strings and brackets are.
    structure: &'s Structure,
    /// The string quotes from the cursor on.
    quotes: Quotes<'s>,
    pos: usize,
    delivered: u64,
    /// Reused `resources[]` storage, so a record costs no allocation.
    resources: Vec<ResourceRef<'t>>,
}

/// Bits of the fields already seen in one object: serde rejects a repeated field.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    fn first(&mut self, bit: u32) -> Step<()> {
        if self.0 & bit != 0 {
            return Err(Stop::Record);
        }
        self.0 |= bit;
        Ok(())
    }
}

impl<'t> Skimmer<'t, '_> {
    fn envelope(&mut self, sink: &mut dyn FnMut(&Record<'_>)) -> Step<()> {
        self.ws();
        self.expect(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.ws();
                let key = self.key().map_err(|_| Stop::File)?;
                self.ws();
                self.expect(b':')?;
                self.ws();
                if key == b"Records" || key == b"Events" {
                    self.records(sink)?;
                } else {
                    self.skip_value().map_err(|_| Stop::File)?;
                }
                self.ws();
                match self.next_byte()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return Err(Stop::File),
                }
            }
        }
        self.ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(Stop::File)
        }
    }

    fn records(&mut self, sink: &mut dyn FnMut(&Record<'_>)) -> Step<()> {
        self.expect(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let start = self.pos;
            let mut rec = Record::default();
            self.resources.clear();
            match self.record(&mut rec) {
                Ok(()) => {
                    rec.settle_request();
                    if let Some(resources) = &mut rec.resources {
                        std::mem::swap(resources, &mut self.resources);
                    }
                    sink(&rec);
                    if let Some(resources) = &mut rec.resources {
                        std::mem::swap(resources, &mut self.resources);
                    }
                }
                Err(Stop::Record) => {
                    // The same bytes through serde, as the serde path would have read them.
                    self.pos = start;
                    self.quotes.seek(start);
                    self.skip_value().map_err(|_| Stop::File)?;
                    let slice = self.text.get(start..self.pos).ok_or(Stop::File)?;
                    let parsed: Record<'_> =
                        serde_json::from_slice(slice).map_err(|_| Stop::File)?;
                    fields::deliver(parsed, sink).map_err(|_| Stop::File)?;
                }
                Err(Stop::File) => return Err(Stop::File),
            }
            self.delivered += 1;
            self.ws();
            match self.next_byte()? {
                b',' => continue,
                b']' => return Ok(()),
                _ => return Err(Stop::File),
            }
        }
    }

    #[inline(always)]
    fn record(&mut self, rec: &mut Record<'t>) -> Step<()> {
        self.expect_in_record(b'{')?;
        let mut seen = Seen::default();
        self.fields(|s, key| {
            match key {
                b"eventTime" => s.field_str(&mut seen, 1, &mut rec.event_time)?,
                b"eventSource" => s.field_str(&mut seen, 1 << 1, &mut rec.event_source)?,
                b"eventName" => s.field_str(&mut seen, 1 << 2, &mut rec.event_name)?,
                b"eventType" => s.field_str(&mut seen, 1 << 3, &mut rec.event_type)?,
                b"eventCategory" => s.field_str(&mut seen, 1 << 4, &mut rec.event_category)?,
                b"errorCode" => s.field_str(&mut seen, 1 << 5, &mut rec.error_code)?,
                b"recipientAccountId" => {
                    s.field_str(&mut seen, 1 << 6, &mut rec.recipient_account_id)?
                }
                b"managementEvent" => {
                    seen.first(1 << 7)?;
                    rec.management_event = s.opt_bool()?;
                }
                b"userIdentity" => {
                    seen.first(1 << 8)?;
                    rec.user_identity = match s.null_or(b'{')? {
                        true => None,
                        false => Some(s.user_identity()?),
                    };
                }
                b"resources" => {
                    seen.first(1 << 9)?;
                    rec.resources = match s.null_or(b'[')? {
                        true => None,
                        false => {
                            s.resources()?;
                            Some(Vec::new())
                        }
                    };
                }
                b"requestParameters" => {
                    seen.first(1 << 10)?;
                    s.request_parameters(rec)?;
                }
                // The event-history form: serde unwraps the embedded record.
                b"CloudTrailEvent" => return Err(Stop::Record),
                _ => s.skip_value()?,
            }
            Ok(())
        })
    }

    #[inline(always)]
    fn user_identity(&mut self) -> Step<UserIdentity<'t>> {
        let mut id = UserIdentity::default();
        let mut seen = Seen::default();
        self.fields(|s, key| {
            match key {
                b"type" => s.field_str(&mut seen, 1, &mut id.kind)?,
                b"arn" => s.field_str(&mut seen, 1 << 1, &mut id.arn)?,
                b"accountId" => s.field_str(&mut seen, 1 << 2, &mut id.account_id)?,
                b"principalId" => s.field_str(&mut seen, 1 << 3, &mut id.principal_id)?,
                b"sessionContext" => {
                    seen.first(1 << 4)?;
                    id.session_context = match s.null_or(b'{')? {
                        true => None,
                        false => Some(s.session_context()?),
                    };
                }
                _ => s.skip_value()?,
            }
            Ok(())
        })?;
        Ok(id)
    }

    #[inline(always)]
    fn session_context(&mut self) -> Step<SessionContext<'t>> {
        let mut ctx = SessionContext::default();
        let mut seen = Seen::default();
        self.fields(|s, key| {
            match key {
                b"sessionIssuer" => {
                    seen.first(1)?;
                    ctx.session_issuer = match s.null_or(b'{')? {
                        true => None,
                        false => Some(s.session_issuer()?),
                    };
                }
                _ => s.skip_value()?,
            }
            Ok(())
        })?;
        Ok(ctx)
    }

    #[inline(always)]
    fn session_issuer(&mut self) -> Step<SessionIssuer<'t>> {
        let mut issuer = SessionIssuer::default();
        let mut seen = Seen::default();
        self.fields(|s, key| {
            match key {
                b"type" => s.field_str(&mut seen, 1, &mut issuer.kind)?,
                b"arn" => s.field_str(&mut seen, 1 << 1, &mut issuer.arn)?,
                _ => s.skip_value()?,
            }
            Ok(())
        })?;
        Ok(issuer)
    }

    /// `[{"ARN": ...}, ...]` into `self.resources`, the `[` already read.
    #[inline(always)]
    fn resources(&mut self) -> Step<()> {
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            self.expect_in_record(b'{')?;
            let mut resource = ResourceRef::default();
            let mut seen = Seen::default();
            self.fields(|s, key| {
                match key {
                    b"ARN" => s.field_str(&mut seen, 1, &mut resource.arn)?,
                    b"type" => s.field_str(&mut seen, 1 << 1, &mut resource.kind)?,
                    _ => s.skip_value()?,
                }
                Ok(())
            })?;
            self.resources.push(resource);
            self.ws();
            match self.next_byte()? {
                b',' => continue,
                b']' => return Ok(()),
                _ => return Err(Stop::Record),
            }
        }
    }

    /// `requestParameters` into `rec.request`. Kept out of line: the record's field closure
    /// stays small enough to be inlined into the member loop, which is most of the reading time.
    #[inline(never)]
    fn request_parameters(&mut self, rec: &mut Record<'t>) -> Step<()> {
        // CloudTrail writes the event's source and name first: when no request fact can change
        // what the event needs, its parameters are skipped unread (as is anything but an object,
        // which holds no facts).
        let skip = self.peek() != Some(b'{')
            || match (&rec.event_source, &rec.event_name) {
                (Some(source), Some(name)) => !mapping::facts_matter(source, name),
                _ => false,
            };
        if skip {
            self.skip_value()
        } else {
            rec.request = self.request_facts()?;
            Ok(())
        }
    }

    /// `requestParameters`: the facts from its top-level members, whose values are skipped
    /// unless a fact needs to look at them. Anything but an object gives no facts.
    #[inline(always)]
    fn request_facts(&mut self) -> Step<RequestFacts> {
        let mut facts = RequestFacts::default();
        if self.peek() != Some(b'{') {
            self.skip_value()?;
            return Ok(facts);
        }
        self.pos += 1;
        self.fields(|s, key| {
            // Most members are none of the few that matter: their values are skipped unread.
            let member = match FactMember::of_bytes(key) {
                Some(member) => member,
                None => return s.skip_value(),
            };
            match member {
                FactMember::Statement | FactMember::Statements => {
                    // Rare (DynamoDB PartiQL) and often escaped (`"Table"`): serde reads them.
                    let start = s.pos;
                    s.skip_value()?;
                    let value = s.text.get(start..s.pos).ok_or(Stop::File)?;
                    let verbs = match member {
                        FactMember::Statement => serde_json::from_slice::<StatementVerbs>(value)
                            .map(|StatementVerbs(v)| v),
                        _ => serde_json::from_slice::<StatementListVerbs>(value)
                            .map(|StatementListVerbs(v)| v),
                    };
                    facts.partiql = facts.partiql.union(verbs.map_err(|_| Stop::Record)?);
                }
                _ => s.member_value()?.note(member, &mut facts),
            }
            Ok(())
        })?;
        Ok(facts)
    }

    /// Reads what [`MemberValue`] needs of the value at the cursor, and moves past it.
    #[inline(always)]
    fn member_value(&mut self) -> Step<MemberValue> {
        match self.peek() {
            Some(b'"') => {
                let text = self.key()?;
                Ok(MemberValue {
                    non_empty: !text.is_empty(),
                    names_version: memchr::memmem::find(text, b"versionId=").is_some(),
                })
            }
            Some(b'{' | b'[') => {
                let start = self.pos;
                self.skip_value()?;
                // Empty when only whitespace lies between the brackets.
                let inner = self.text.get(start + 1..self.pos - 1).ok_or(Stop::File)?;
                Ok(MemberValue {
                    non_empty: !inner.trim_ascii().is_empty(),
                    names_version: false,
                })
            }
            Some(b'n') => {
                self.literal(b"null")?;
                Ok(MemberValue::default())
            }
            _ => {
                // A number or `true`/`false`; serde refuses anything else.
                let start = self.pos;
                self.skip_scalar()?;
                let scalar = self.text.get(start..self.pos).ok_or(Stop::File)?;
                if !(scalar == b"true"
                    || scalar == b"false"
                    || serde_json::from_slice::<serde_json::Number>(scalar).is_ok())
                {
                    return Err(Stop::Record);
                }
                Ok(MemberValue {
                    non_empty: true,
                    names_version: false,
                })
            }
        }
    }

    /// The members of an object whose `{` was read, each key handed to `field` with the cursor
    /// on its value.
    #[inline(always)]
    fn fields(&mut self, mut field: impl FnMut(&mut Self, &'t [u8]) -> Step<()>) -> Step<()> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        // Whitespace is checked for only where the compact form's byte is not found.
        loop {
            let key = self.key()?;
            // The compact form `"key":value` in one look; anything else the general way.
            if self.peek() == Some(b':') && self.text.get(self.pos + 1).is_some_and(|&b| b > b' ') {
                self.pos += 1;
            } else {
                self.ws();
                self.expect_in_record(b':')?;
                self.ws();
            }
            field(self, key)?;
            match self.next_byte()? {
                b',' => continue,
                b'}' => return Ok(()),
                b' ' | b'\n' | b'\r' | b'\t' => {
                    self.ws();
                    match self.next_byte()? {
                        b',' => continue,
                        b'}' => return Ok(()),
                        _ => return Err(Stop::Record),
                    }
                }
                _ => return Err(Stop::Record),
            }
        }
    }

    /// A string field: `null` or a string without escapes, borrowed from the text.
    #[inline(always)]
    fn field_str(
        &mut self,
        seen: &mut Seen,
        bit: u32,
        slot: &mut Option<Cow<'t, str>>,
    ) -> Step<()> {
        seen.first(bit)?;
        *slot = match self.peek() {
            Some(b'"') => {
                let start = self.pos + 1;
                let raw = self.key()?;
                let text = match self.utf8 {
                    // Quotes are ASCII, so the content starts and ends on character boundaries.
                    Some(all) => all.get(start..start + raw.len()),
                    None => std::str::from_utf8(raw).ok(),
                };
                Some(Cow::Borrowed(text.ok_or(Stop::Record)?))
            }
            _ => {
                self.literal(b"null")?;
                None
            }
        };
        Ok(())
    }

    /// `true`, `false` or `null`.
    #[inline(always)]
    fn opt_bool(&mut self) -> Step<Option<bool>> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| Some(true)),
            Some(b'f') => self.literal(b"false").map(|()| Some(false)),
            _ => self.literal(b"null").map(|()| None),
        }
    }

    /// True after reading `null`; false after reading `open`; anything else is unusual.
    #[inline(always)]
    fn null_or(&mut self, open: u8) -> Step<bool> {
        if self.peek() == Some(open) {
            self.pos += 1;
            Ok(false)
        } else {
            self.literal(b"null").map(|()| true)
        }
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Step<()> {
        let end = self.pos + word.len();
        if self.text.get(self.pos..end) != Some(word) {
            return Err(Stop::Record);
        }
        // `nullx` is not `null`.
        if self
            .text
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric())
        {
            return Err(Stop::Record);
        }
        self.pos = end;
        Ok(())
    }

    /// A string without escapes (an object key, or a value read as a key would be); the
    /// content between the quotes.
    #[inline(always)]
    fn key(&mut self) -> Step<&'t [u8]> {
        let (start, end, may_escape) = self.string()?;
        let key = self.text.get(start..end).ok_or(Stop::File)?;
        if may_escape && memchr::memchr(b'\\', key).is_some() {
            // serde reads the escapes.
            return Err(Stop::Record);
        }
        Ok(key)
    }

    /// The string at the cursor, as the range between its quotes and whether it may hold an
    /// escape; the cursor moves past it.
    #[inline(always)]
    fn string(&mut self) -> Step<(usize, usize, bool)> {
        // No string starts here (or it is not closed: the record's serde fallback finds that).
        let (open, close, may_escape) = self.quotes.string().ok_or(Stop::Record)?;
        if open != self.pos {
            // Only whitespace may come first.
            self.ws();
            if open != self.pos {
                return Err(Stop::Record);
            }
        }
        self.pos = close + 1;
        Ok((open + 1, close, may_escape))
    }

    /// Skips one value of any kind; only strings and bracket balance are checked.
    #[inline(always)]
    fn skip_value(&mut self) -> Step<()> {
        match self.peek() {
            Some(b'"') => self.string().map(|_| ()),
            Some(b'{' | b'[') => {
                self.pos = self.structure.container_end(self.pos).ok_or(Stop::File)?;
                self.quotes.seek(self.pos);
                Ok(())
            }
            _ => self.skip_scalar(),
        }
    }

    /// Skips a number or literal: it runs to the next delimiter.
    fn skip_scalar(&mut self) -> Step<()> {
        let rest = self.text.get(self.pos..).ok_or(Stop::File)?;
        let n = rest
            .iter()
            .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
            .ok_or(Stop::File)?;
        if n == 0 {
            return Err(Stop::Record);
        }
        self.pos += n;
        // Not JSON if it ran over a quote: keep the quote cursor with the text cursor.
        self.quotes.seek(self.pos);
        Ok(())
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    #[inline(always)]
    fn next_byte(&mut self) -> Step<u8> {
        let b = self.peek().ok_or(Stop::File)?;
        self.pos += 1;
        Ok(b)
    }

    /// A byte the top level needs; anything else makes the file go to serde.
    fn expect(&mut self, want: u8) -> Step<()> {
        match self.next_byte()? {
            b if b == want => Ok(()),
            _ => Err(Stop::File),
        }
    }

    /// A byte a record needs; anything else makes the record go to serde.
    #[inline(always)]
    fn expect_in_record(&mut self, want: u8) -> Step<()> {
        match self.peek() {
            Some(b) if b == want => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(Stop::Record),
            None => Err(Stop::File),
        }
    }

    /// Skips whitespace; compact files have none, so the check comes first.
    #[inline(always)]
    fn ws(&mut self) {
        if self.text.get(self.pos).is_some_and(|&b| b <= b' ') {
            self.ws_run();
        }
    }

    #[cold]
    fn ws_run(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{RecordParser, for_each_record_with};

    /// Everything a record yields, as text, for comparing the two readers.
    fn digest(text: &str, parser: RecordParser) -> (Vec<String>, bool) {
        let mut out = Vec::new();
        let result = for_each_record_with(text.as_bytes(), parser, &mut |r| {
            out.push(format!("{r:?}"));
        });
        (out, result.is_ok())
    }

    fn same_as_serde(text: &str) -> Vec<String> {
        let fast = digest(text, RecordParser::Skim);
        assert_eq!(fast, digest(text, RecordParser::Serde), "{text}");
        fast.0
    }

    #[test]
    fn reads_every_needed_field_and_skips_the_rest() {
        let text = r#"{"Records":[{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"P","arn":"arn:aws:sts::1:assumed-role/r/s","accountId":"1","sessionContext":{"attributes":{"x":"}"},"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::1:role/r","userName":"r"}}},"eventTime":"2024-03-05T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","requestParameters":{"a":[1,-2.5e3,true,null,{"b":"]\"["}]},"responseElements":null,"eventType":"AwsApiCall","managementEvent":false,"eventCategory":"Data","errorCode":"AccessDenied","recipientAccountId":"1","resources":[{"ARN":"arn:aws:s3:::b/k","type":"AWS::S3::Object"},{"type":"x"}]}]}"#;
        let records = same_as_serde(text);
        assert_eq!(records.len(), 1);
        for needed in [
            "GetObject",
            "arn:aws:iam::1:role/r",
            "b/k",
            "AccessDenied",
            "Data",
        ] {
            assert!(records[0].contains(needed), "{needed} in {}", records[0]);
        }
    }

    #[test]
    fn unusual_records_give_what_serde_gives() {
        for text in [
            // Escapes in a field that is read, and in one that is skipped.
            r#"{"Records":[{"eventName":"Get\u004fbject"},{"eventName":"B","x":"q\"\\"}]}"#,
            // Whitespace everywhere.
            "{ \"Records\" : [ { \"eventName\" : \"A\" , \"managementEvent\" : true } ,\n{ } ] }\n",
            // nulls for objects, arrays and strings.
            r#"{"Records":[{"userIdentity":null,"resources":null,"errorCode":null}]}"#,
            r#"{"Records":[{"userIdentity":{"sessionContext":{"sessionIssuer":null}}}]}"#,
            // A repeated field is an error for serde.
            r#"{"Records":[{"eventName":"A"},{"eventName":"B","eventName":"C"}]}"#,
            // A value of the wrong type.
            r#"{"Records":[{"eventName":"A"},{"eventName":7}]}"#,
            r#"{"Records":[{"managementEvent":"yes"}]}"#,
            // The event-history form inside the lookup-events envelope.
            r#"{"Events":[{"EventName":"X","CloudTrailEvent":"{\"eventName\":\"Inner\"}"}],"NextToken":"t"}"#,
            // Other top-level keys, before and after.
            r#"{"Records":[{"eventName":"A"}],"Other":{"x":[1]},"Records":[{"eventName":"B"}]}"#,
            r#"{"Records":[]}"#,
            // Truncated, trailing bytes, a record that is not an object.
            r#"{"Records":[{"eventName":"A"},{"eventName":"B"},{"event"#,
            r#"{"Records":[{"eventName":"A"}]} x"#,
            r#"{"Records":[{"eventName":"A"},[1],{"eventName":"B"}]}"#,
            r#"{"Records":[{"eventName":"A"}, null]}"#,
        ] {
            same_as_serde(text);
        }
    }

    #[test]
    fn request_facts_are_read_alike_by_both_readers() {
        for (text, facts) in [
            (
                r#"{"versionId":"v1","key":"k"}"#,
                "tags: false, version_id: true, copy_source: false",
            ),
            (
                r#"{"versionId":""}"#,
                "tags: false, version_id: false, copy_source: false",
            ),
            (
                r#"{"versionId":null}"#,
                "tags: false, version_id: false, copy_source: false",
            ),
            (
                r#"{"x-amz-copy-source":"b/k?versionId=3"}"#,
                "tags: false, version_id: true, copy_source: true",
            ),
            (
                r#"{"x-amz-copy-source":"b/k"}"#,
                "tags: false, version_id: false, copy_source: true",
            ),
            (
                r#"{"copySource":"b/k"}"#,
                "tags: false, version_id: false, copy_source: true",
            ),
            (
                r#"{"tagSpecificationSet":{"items":[{"tags":[]}]}}"#,
                "tags: true, version_id: false, copy_source: false",
            ),
            (
                r#"{"tagSpecificationSet":{ }}"#,
                "tags: false, version_id: false, copy_source: false",
            ),
            (
                r#"{"Tags":[ ]}"#,
                "tags: false, version_id: false, copy_source: false",
            ),
            (
                r#"{"tags":[{"key":"a"}]}"#,
                "tags: true, version_id: false, copy_source: false",
            ),
            (
                r#"{"TagList":{"k":"v"}}"#,
                "tags: true, version_id: false, copy_source: false",
            ),
            (
                r#"{"tags":7}"#,
                "tags: true, version_id: false, copy_source: false",
            ),
            // Facts come from top-level members only, and from objects only.
            (
                r#"{"x":{"versionId":"v"}}"#,
                "tags: false, version_id: false, copy_source: false",
            ),
            (
                r#"["versionId"]"#,
                "tags: false, version_id: false, copy_source: false",
            ),
            (
                r#""versionId""#,
                "tags: false, version_id: false, copy_source: false",
            ),
            (
                r#"null"#,
                "tags: false, version_id: false, copy_source: false",
            ),
            // An escaped member name is read by serde.
            (
                r#"{"version\u0049d":"v"}"#,
                "tags: false, version_id: true, copy_source: false",
            ),
        ] {
            // An event whose facts matter, with its parameters after its name (as CloudTrail
            // writes them) and before it.
            let event = r#""eventSource":"ec2.amazonaws.com","eventName":"RunInstances""#;
            for record in [
                format!(r#"{{"Records":[{{{event},"requestParameters":{text}}}]}}"#),
                format!(r#"{{"Records":[{{"requestParameters":{text},{event}}}]}}"#),
            ] {
                let records = same_as_serde(&record);
                assert_eq!(records.len(), 1);
                assert!(
                    records[0].contains(&format!("RequestFacts {{ {facts}, partiql: {{}} }}")),
                    "{text}: {}",
                    records[0]
                );
            }
        }
    }

    #[test]
    fn facts_that_cannot_change_the_mapping_are_left_out_by_both_readers() {
        let params = r#"{"versionId":"v1","tags":[{"k":"v"}],"x-amz-copy-source":"b/k"}"#;
        for event in [
            r#""eventSource":"kms.amazonaws.com","eventName":"Decrypt""#,
            r#""eventSource":"s3.amazonaws.com","eventName":"ListObjects""#,
            r#""eventName":"GetObject""#,
        ] {
            for record in [
                format!(r#"{{"Records":[{{{event},"requestParameters":{params}}}]}}"#),
                format!(r#"{{"Records":[{{"requestParameters":{params},{event}}}]}}"#),
            ] {
                let records = same_as_serde(&record);
                assert!(
                    records[0].contains(
                        "RequestFacts { tags: false, version_id: false, copy_source: false, partiql: {} }"
                    ),
                    "{record}: {}",
                    records[0]
                );
            }
        }
        // The same parameters on a call they matter for are read.
        let record = format!(
            r#"{{"Records":[{{"eventSource":"s3.amazonaws.com","eventName":"GetObject","requestParameters":{params}}}]}}"#
        );
        assert!(
            same_as_serde(&record)[0].contains("tags: true, version_id: true, copy_source: true")
        );
    }

    #[test]
    fn partiql_statements_are_read_alike_by_both_readers() {
        for (name, params, verbs) in [
            (
                "ExecuteStatement",
                r#"{"statement":"SELECT * FROM \"Music\" WHERE Artist = 'x' AND nonKey = ***(Redacted)"}"#,
                r#"{"PartiQLSelect"}"#,
            ),
            (
                "ExecuteStatement",
                r#"{"statement":"delete FROM Music WHERE k = 'v'","parameters":[{"S":"x"}]}"#,
                r#"{"PartiQLDelete"}"#,
            ),
            (
                "BatchExecuteStatement",
                r#"{"requestItems":[{"statement":"UPDATE Music SET a = ***(Redacted) WHERE k = 'v'"},{"statement":"INSERT INTO Music VALUE {'k' : ***(Redacted)}"}]}"#,
                r#"{"PartiQLInsert", "PartiQLUpdate"}"#,
            ),
            (
                "ExecuteTransaction",
                r#"{"transactStatements":[{"statement":"INSERT INTO t VALUE {'k':1}"},{"statement":"INSERT INTO u VALUE {'k':2}"}],"clientRequestToken":"x"}"#,
                r#"{"PartiQLInsert"}"#,
            ),
            // Unreadable statements and items without one: all four.
            (
                "ExecuteStatement",
                r#"{"statement":"EXISTS(SELECT * FROM t)"}"#,
                r#"{"PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"}"#,
            ),
            (
                "ExecuteStatement",
                r#"{"statement":7}"#,
                r#"{"PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"}"#,
            ),
            (
                "BatchExecuteStatement",
                r#"{"requestItems":[{"statement":"SELECT * FROM t"},{"parameters":[]}]}"#,
                r#"{"PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"}"#,
            ),
            (
                "BatchExecuteStatement",
                r#"{"requestItems":{"t":[]}}"#,
                r#"{"PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete"}"#,
            ),
            // No statement logged: none seen (the mapping keeps all four).
            ("ExecuteStatement", r#"{"statement":null}"#, "{}"),
            ("ExecuteStatement", r#"{"limit":3}"#, "{}"),
            ("ExecuteTransaction", r#"{"transactStatements":[]}"#, "{}"),
        ] {
            let record = format!(
                r#"{{"Records":[{{"eventSource":"dynamodb.amazonaws.com","eventName":"{name}","requestParameters":{params}}}]}}"#
            );
            let records = same_as_serde(&record);
            assert!(
                records[0].contains(&format!("partiql: {verbs} }}")),
                "{params}: {}",
                records[0]
            );
        }
    }

    /// Builds CloudTrail-like files from a stream of random numbers: the fields the scanner reads
    /// (with escapes, nulls and values of other types), nested keys named like the record's,
    /// strings full of brackets, quotes and backslash runs, whitespace, repeated fields, and a
    /// shift in front so that everything lands across 64-byte block boundaries.
    struct Writer<'p> {
        picks: &'p [u32],
        at: usize,
        out: String,
    }

    const READ_KEYS: &[&str] = &[
        "eventTime",
        "eventSource",
        "eventName",
        "eventType",
        "eventCategory",
        "errorCode",
        "recipientAccountId",
    ];
    const OTHER_KEYS: &[&str] = &[
        "requestParameters",
        "versionId",
        "x-amz-copy-source",
        "tagSpecificationSet",
        "Tags",
        "userAgent",
        "eventNam",
        "eventNamee",
        "EventName",
        "event\\u004eame",
        "type",
        "arn",
        "ARN",
        "sessionIssuer",
    ];
    /// String contents as JSON text: escapes, brackets, non-ASCII, and a long run.
    const PIECES: &[&str] = &[
        "a",
        "Get",
        "\\\"",
        "\\\\",
        "\\\\\\\"",
        "\\\\\\\\",
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\u{e9}",
        "\\u00e9",
        "\\n",
        " ",
        "arn:aws:iam::111111111111:role/some-role-with-a-long-name",
    ];

    impl Writer<'_> {
        fn pick(&mut self, n: usize) -> usize {
            let p = self.picks.get(self.at).copied().unwrap_or(0) as usize;
            self.at += 1;
            p % n
        }

        fn ws(&mut self) {
            let ws = [" ", "", "", "", "", "\n  ", "\t"][self.pick(7)];
            self.out.push_str(ws);
        }

        fn string(&mut self) {
            self.out.push('"');
            for _ in 0..self.pick(6) {
                let piece = PIECES[self.pick(PIECES.len())];
                self.out.push_str(piece);
            }
            self.out.push('"');
        }

        fn value(&mut self, depth: usize) {
            match self.pick(if depth > 3 { 4 } else { 7 }) {
                0 | 1 => self.string(),
                2 => {
                    let scalar = ["null", "true", "false", "-1.5e3", "0"][self.pick(5)];
                    self.out.push_str(scalar);
                }
                3 => self.string(),
                4 | 5 => self.object(depth + 1, &[], 4),
                _ => {
                    self.out.push('[');
                    for i in 0..self.pick(4) {
                        if i > 0 {
                            self.out.push(',');
                        }
                        self.ws();
                        self.value(depth + 1);
                    }
                    self.ws();
                    self.out.push(']');
                }
            }
        }

        /// A read string field's value: mostly a string, sometimes `null` or another type.
        fn field_value(&mut self, depth: usize) {
            match self.pick(24) {
                0 | 1 => self.out.push_str("null"),
                2 => self.value(depth),
                _ => self.string(),
            }
        }

        /// A key from `keys` (or one named like them); a repeated one only now and then, as serde
        /// rejects a repeated field.
        fn key(&mut self, keys: &[&str], used: &mut Vec<String>) -> String {
            let mut key = match self.pick(3) {
                0 => OTHER_KEYS[self.pick(OTHER_KEYS.len())],
                _ if !keys.is_empty() => keys[self.pick(keys.len())],
                _ => READ_KEYS[self.pick(READ_KEYS.len())],
            }
            .to_string();
            if used.contains(&key) && self.pick(20) != 0 {
                key = format!("x{}", used.len());
            }
            used.push(key.clone());
            self.out.push('"');
            self.out.push_str(&key);
            self.out.push('"');
            self.ws();
            self.out.push(':');
            self.ws();
            key
        }

        fn object(&mut self, depth: usize, keys: &[&str], max: usize) {
            self.out.push('{');
            let mut used = Vec::new();
            for i in 0..self.pick(max) {
                if i > 0 {
                    self.out.push(',');
                }
                self.ws();
                let key = self.key(keys, &mut used);
                self.member(depth, &key);
                self.ws();
            }
            self.out.push('}');
        }

        fn member(&mut self, depth: usize, key: &str) {
            match key {
                "userIdentity" => match self.pick(20) {
                    0 => self.value(depth),
                    _ => self.object(
                        depth + 1,
                        &["type", "arn", "accountId", "principalId", "sessionContext"],
                        7,
                    ),
                },
                "sessionContext" => self.object(depth + 1, &["sessionIssuer", "attributes"], 3),
                "sessionIssuer" => self.object(depth + 1, &["type", "arn", "userName"], 4),
                "resources" => match self.pick(20) {
                    0 => self.value(depth),
                    _ => {
                        self.out.push('[');
                        for i in 0..self.pick(4) {
                            if i > 0 {
                                self.out.push(',');
                            }
                            self.ws();
                            match self.pick(20) {
                                0 => self.value(depth + 1),
                                _ => self.object(depth + 1, &["ARN", "type", "accountId"], 3),
                            }
                        }
                        self.out.push(']');
                    }
                },
                "managementEvent" => {
                    let value = ["true", "false", "null", "true", "false", "\"yes\""][self.pick(6)];
                    self.out.push_str(value);
                }
                "requestParameters" | "attributes" => self.value(depth),
                _ if depth > 4 => self.value(depth),
                _ => self.field_value(depth),
            }
        }

        fn file(mut self) -> String {
            let shift = self.pick(70);
            self.out.push_str(&" ".repeat(shift));
            self.out.push_str("{\"Records\":[");
            let record_keys =
                [READ_KEYS, &["managementEvent", "userIdentity", "resources"]].concat();
            for i in 0..self.pick(5) {
                if i > 0 {
                    self.out.push(',');
                }
                self.ws();
                self.object(0, &record_keys, 16);
            }
            self.ws();
            self.out.push_str("]}");
            self.out
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        #[test]
        fn generated_files_give_what_serde_gives(
            picks in proptest::collection::vec(proptest::num::u32::ANY, 0..1500),
        ) {
            let text = Writer { picks: &picks, at: 0, out: String::new() }.file();
            same_as_serde(&text);
        }
    }

    #[test]
    fn records_after_a_fallback_are_not_repeated() {
        let text = r#"{"Records":[{"eventName":"A"},{"eventName":"B"}],"Re\u0063ords":[{"eventName":"C"}]}"#;
        let names = same_as_serde(text);
        assert_eq!(names.len(), 3);
        assert!(names[2].contains("\"C\""));
    }
}
