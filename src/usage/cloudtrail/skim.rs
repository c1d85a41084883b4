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
//! What it does not do: validate the JSON inside values it skips (a skipped value only has to have
//! balanced brackets and closed strings), or handle JSON lines; those go to serde.

use super::record::{self, Record, ResourceRef, SessionContext, SessionIssuer, UserIdentity};
use std::borrow::Cow;

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

/// Streams the records of a `{"Records":[...]}` (or `{"Events":[...]}`) file to `sink`.
pub fn skim_envelope(text: &[u8], sink: &mut dyn FnMut(&Record<'_>)) -> Skim {
    let mut skimmer = Skimmer {
        text,
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

struct Skimmer<'t> {
    text: &'t [u8],
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

impl<'t> Skimmer<'t> {
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
                    self.skip_value().map_err(|_| Stop::File)?;
                    let slice = self.text.get(start..self.pos).ok_or(Stop::File)?;
                    let parsed: Record<'_> =
                        serde_json::from_slice(slice).map_err(|_| Stop::File)?;
                    record::deliver(&parsed, sink).map_err(|_| Stop::File)?;
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
                // The event-history form: serde unwraps the embedded record.
                b"CloudTrailEvent" => return Err(Stop::Record),
                _ => s.skip_value()?,
            }
            Ok(())
        })
    }

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

    /// The members of an object whose `{` was read, each key handed to `field` with the cursor
    /// on its value.
    fn fields(&mut self, mut field: impl FnMut(&mut Self, &'t [u8]) -> Step<()>) -> Step<()> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.key()?;
            self.ws();
            self.expect_in_record(b':')?;
            self.ws();
            field(self, key)?;
            self.ws();
            match self.next_byte()? {
                b',' => continue,
                b'}' => return Ok(()),
                _ => return Err(Stop::Record),
            }
        }
    }

    /// A string field: `null` or a string without escapes, borrowed from the text.
    fn field_str(
        &mut self,
        seen: &mut Seen,
        bit: u32,
        slot: &mut Option<Cow<'t, str>>,
    ) -> Step<()> {
        seen.first(bit)?;
        *slot = match self.peek() {
            Some(b'"') => {
                let raw = self.key()?;
                Some(Cow::Borrowed(
                    std::str::from_utf8(raw).map_err(|_| Stop::Record)?,
                ))
            }
            _ => {
                self.literal(b"null")?;
                None
            }
        };
        Ok(())
    }

    /// `true`, `false` or `null`.
    fn opt_bool(&mut self) -> Step<Option<bool>> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| Some(true)),
            Some(b'f') => self.literal(b"false").map(|()| Some(false)),
            _ => self.literal(b"null").map(|()| None),
        }
    }

    /// True after reading `null`; false after reading `open`; anything else is unusual.
    fn null_or(&mut self, open: u8) -> Step<bool> {
        if self.peek() == Some(open) {
            self.pos += 1;
            Ok(false)
        } else {
            self.literal(b"null").map(|()| true)
        }
    }

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
    fn key(&mut self) -> Step<&'t [u8]> {
        if self.peek() != Some(b'"') {
            return Err(Stop::Record);
        }
        let start = self.pos + 1;
        let rest = self.text.get(start..).ok_or(Stop::File)?;
        match memchr::memchr2(b'"', b'\\', rest) {
            Some(n) if rest[n] == b'"' => {
                self.pos = start + n + 1;
                Ok(&rest[..n])
            }
            Some(_) => Err(Stop::Record),
            None => Err(Stop::File),
        }
    }

    /// Skips one value of any kind; only strings and bracket balance are checked.
    fn skip_value(&mut self) -> Step<()> {
        match self.peek() {
            Some(b'"') => self.skip_string(),
            Some(b'{' | b'[') => self.skip_container(),
            Some(_) => {
                // A number or literal: runs to the next delimiter.
                let rest = &self.text[self.pos..];
                let n = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'))
                    .ok_or(Stop::File)?;
                if n == 0 {
                    return Err(Stop::Record);
                }
                self.pos += n;
                Ok(())
            }
            None => Err(Stop::File),
        }
    }

    /// Skips a string, escapes included; the cursor is on its opening quote.
    fn skip_string(&mut self) -> Step<()> {
        let mut at = self.pos + 1;
        loop {
            let rest = self.text.get(at..).ok_or(Stop::File)?;
            match memchr::memchr2(b'"', b'\\', rest) {
                Some(n) if rest[n] == b'"' => {
                    self.pos = at + n + 1;
                    return Ok(());
                }
                // Whatever follows a backslash is part of the string.
                Some(n) => at += n + 2,
                None => return Err(Stop::File),
            }
        }
    }

    /// Skips an object or array by counting brackets outside strings.
    fn skip_container(&mut self) -> Step<()> {
        self.pos = container_end(self.text, self.pos).ok_or(Stop::File)?;
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

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

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.pos) {
            self.pos += 1;
        }
    }
}

/// Bracket depth and string state while skipping a container.
#[derive(Default)]
struct Nesting {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Nesting {
    /// Feeds one byte; true when it closes the outermost bracket.
    #[inline]
    fn feed(&mut self, b: u8) -> bool {
        if self.escaped {
            self.escaped = false;
        } else if self.in_string {
            match b {
                b'\\' => self.escaped = true,
                b'"' => self.in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.wrapping_sub(1);
                    return self.depth == 0;
                }
                _ => {}
            }
        }
        false
    }
}

/// The index just past the object or array that opens at `start`, `None` when it is not closed.
///
/// Most of a record is skipped here (`requestParameters`, `responseElements`...), so it looks at
/// 64 bytes at a time: quotes, brackets and backslashes as bit masks, strings found by a prefix
/// XOR of the quotes. A block with a backslash is walked byte by byte.
fn container_end(text: &[u8], start: usize) -> Option<usize> {
    let mut state = Nesting::default();
    let mut at = start;
    while let Some(block) = text.get(at..at + 64) {
        let masks = BlockMasks::of(block);
        if masks.backslash != 0 || state.escaped {
            for (i, &b) in block.iter().enumerate() {
                if state.feed(b) {
                    return Some(at + i + 1);
                }
            }
        } else {
            let inside = prefix_xor(masks.quote) ^ if state.in_string { u64::MAX } else { 0 };
            state.in_string = inside >> 63 == 1;
            let open = masks.open & !inside;
            let close = masks.close & !inside;
            if close.count_ones() as usize >= state.depth {
                let mut brackets = open | close;
                while brackets != 0 {
                    let bit = brackets.trailing_zeros();
                    if open >> bit & 1 == 1 {
                        state.depth += 1;
                    } else {
                        state.depth = state.depth.wrapping_sub(1);
                        if state.depth == 0 {
                            return Some(at + bit as usize + 1);
                        }
                    }
                    brackets &= brackets - 1;
                }
            } else {
                // The block cannot close the container: only the count matters.
                state.depth =
                    state.depth + open.count_ones() as usize - close.count_ones() as usize;
            }
        }
        at += 64;
    }
    let tail = text.get(at..)?;
    tail.iter().position(|&b| state.feed(b)).map(|i| at + i + 1)
}

/// Bit `i` is the parity of the quote bits up to and including `i`: set from an opening quote up
/// to (not including) its closing quote, when no quote is escaped.
#[inline]
fn prefix_xor(mut mask: u64) -> u64 {
    mask ^= mask << 1;
    mask ^= mask << 2;
    mask ^= mask << 4;
    mask ^= mask << 8;
    mask ^= mask << 16;
    mask ^= mask << 32;
    mask
}

/// Where the bytes that matter for nesting are in a block of 64.
struct BlockMasks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

impl BlockMasks {
    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn of(block: &[u8]) -> BlockMasks {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        debug_assert_eq!(block.len(), 64);
        let mut masks = BlockMasks {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        for (lane, chunk) in block.chunks_exact(16).enumerate() {
            // SAFETY: `chunk` is 16 readable bytes and `_mm_loadu_si128` has no alignment
            // requirement; SSE2 is part of every x86_64 target.
            let bits = |v: __m128i| unsafe { _mm_movemask_epi8(v) as u16 as u64 } << (lane * 16);
            let (q, bs, open, close) = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
                let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
                (
                    eq(b'"'),
                    eq(b'\\'),
                    _mm_or_si128(eq(b'{'), eq(b'[')),
                    _mm_or_si128(eq(b'}'), eq(b']')),
                )
            };
            masks.quote |= bits(q);
            masks.backslash |= bits(bs);
            masks.open |= bits(open);
            masks.close |= bits(close);
        }
        masks
    }

    #[cfg(not(target_arch = "x86_64"))]
    #[inline]
    fn of(block: &[u8]) -> BlockMasks {
        let mut masks = BlockMasks {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        for (i, &b) in block.iter().enumerate() {
            let bit = 1u64 << i;
            match b {
                b'"' => masks.quote |= bit,
                b'\\' => masks.backslash |= bit,
                b'{' | b'[' => masks.open |= bit,
                b'}' | b']' => masks.close |= bit,
                _ => {}
            }
        }
        masks
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

    /// Bytes that matter for nesting, in mixes: closing early, rarely, a random walk, and the
    /// same without backslashes or with rare ones (so whole blocks take the bit-mask path).
    fn alphabets() -> [Vec<u8>; 5] {
        let rare_backslash = [&b"{[}]\"\""[..], &[b'a'; 300], b"\\"].concat();
        [
            b"{}[]\"\\ax:,".to_vec(),
            b"{{[[}]\"\\aaaaaaaaaaaa".to_vec(),
            b"{[}]\"\"\\aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"{[}]\"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            rare_backslash,
        ]
    }

    proptest::proptest! {
        #[test]
        fn block_skip_ends_where_the_byte_walk_ends(
            alphabet in 0..5usize,
            picks in proptest::collection::vec(proptest::num::usize::ANY, 0..3000),
            open in proptest::sample::select(b"{[".to_vec()),
        ) {
            let letters = &alphabets()[alphabet];
            let mut text = vec![open];
            text.extend(picks.iter().map(|i| letters[i % letters.len()]));
            let mut walk = super::Nesting::default();
            let expected = text.iter().position(|&b| walk.feed(b)).map(|i| i + 1);
            proptest::prop_assert_eq!(super::container_end(&text, 0), expected);
            // The same, not starting at the front.
            let mut shifted = b"xyz".to_vec();
            shifted.extend(&text);
            proptest::prop_assert_eq!(super::container_end(&shifted, 3), expected.map(|e| e + 3));
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
