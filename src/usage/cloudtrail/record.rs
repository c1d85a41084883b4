//! The file forms CloudTrail records come in, and the reader that picks the fast path.
//!
//! Owns [`for_each_record`], which streams the records of one decompressed file to a callback: the
//! S3 delivery envelope `{"Records":[...]}`, the `lookup-events` output `{"Events":[...]}`, and
//! JSON lines of event-history entries (the record as a JSON string in `CloudTrailEvent`) or of
//! bare records. The envelope goes to the scanner of [`super::skim`] first; serde reads everything
//! else. Every field not in [`Record`] is skipped unparsed; no `serde_json::Value` is built.

use super::fields::deliver;
pub use super::fields::{
    MAX_ARN_LEN, MAX_FIELD_LEN, Record, ResourceRef, SessionContext, SessionIssuer, UserIdentity,
};
use super::skim::{self, Skim};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Which reader turns file text into records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordParser {
    /// The hand-written scanner for the S3 envelope ([`super::skim`]), serde for everything else.
    #[default]
    Skim,
    /// serde only: the reference the scanner is tested against.
    Serde,
}

/// Streams every record of one decompressed file to `sink`; returns the parse error that stopped it.
///
/// Records already passed to `sink` stay passed when a later part of the file is malformed.
pub fn for_each_record(
    text: &[u8],
    sink: &mut dyn FnMut(&Record<'_>),
) -> Result<(), serde_json::Error> {
    for_each_record_with(text, RecordParser::Skim, sink)
}

/// [`for_each_record`] with the reader chosen; both give the same records in the same order.
pub fn for_each_record_with(
    text: &[u8],
    parser: RecordParser,
    sink: &mut dyn FnMut(&Record<'_>),
) -> Result<(), serde_json::Error> {
    if parser == RecordParser::Skim && is_envelope(text) {
        match skim::skim_envelope(text, sink) {
            Skim::Done => return Ok(()),
            // serde reads the file again for its error (or its unusual form), passing on only the
            // records the scanner did not.
            Skim::Fallback { delivered } => {
                let mut already = delivered;
                return serde_records(text, &mut |r| match already.checked_sub(1) {
                    Some(left) => already = left,
                    None => sink(r),
                });
            }
        }
    }
    serde_records(text, sink)
}

/// The serde reader for every file form.
fn serde_records(text: &[u8], sink: &mut dyn FnMut(&Record<'_>)) -> Result<(), serde_json::Error> {
    if is_envelope(text) {
        let mut de = serde_json::Deserializer::from_slice(text);
        (&mut de).deserialize_map(EnvelopeVisitor { sink })?;
        de.end()
    } else {
        // JSON lines (or concatenated objects): each is an event-history entry or a bare record.
        for item in serde_json::Deserializer::from_slice(text).into_iter::<Record<'_>>() {
            deliver(item?, sink)?;
        }
        Ok(())
    }
}

/// True when the first key of the top-level object is `Records` or `Events`.
fn is_envelope(text: &[u8]) -> bool {
    let mut rest = text.trim_ascii_start();
    match rest.split_first() {
        Some((b'{', tail)) => rest = tail.trim_ascii_start(),
        _ => return false,
    }
    rest.starts_with(b"\"Records\"") || rest.starts_with(b"\"Events\"")
}

struct EnvelopeVisitor<'s, 'f> {
    sink: &'s mut (dyn FnMut(&Record<'_>) + 'f),
}

impl<'de> Visitor<'de> for EnvelopeVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log object {\"Records\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Records" || key == "Events" {
                map.next_value_seed(RecordsSeed {
                    sink: &mut *self.sink,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RecordsSeed<'s, 'f> {
    sink: &'s mut (dyn FnMut(&Record<'_>) + 'f),
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // One record at a time: the array is never collected.
        while let Some(record) = seq.next_element::<Record<'de>>()? {
            deliver(record, &mut *self.sink).map_err(serde::de::Error::custom)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_record(text.as_bytes(), &mut |r| {
            out.push(r.event_name.as_deref().unwrap_or("?").to_string());
        })
        .expect("parses");
        out
    }

    #[test]
    fn envelope_records_stream_in_order() {
        let text = r#"{"Records":[{"eventName":"A","requestParameters":{"x":[1,2,{"y":null}]}},{"eventName":"B"}]}"#;
        assert_eq!(names(text), ["A", "B"]);
    }

    #[test]
    fn event_history_lines_unwrap_the_embedded_record() {
        let text = concat!(
            r#"{"EventName":"Outer","CloudTrailEvent":"{\"eventName\":\"Inner1\"}"}"#,
            "\n",
            r#"{"EventName":"Outer","CloudTrailEvent":"{\"eventName\":\"Inner2\"}"}"#
        );
        assert_eq!(names(text), ["Inner1", "Inner2"]);
    }

    #[test]
    fn lookup_events_envelope_is_read() {
        let text = r#"{"Events":[{"CloudTrailEvent":"{\"eventName\":\"X\"}"}],"NextToken":"t"}"#;
        assert_eq!(names(text), ["X"]);
    }

    #[test]
    fn truncated_envelope_is_an_error() {
        let err = for_each_record(br#"{"Records":[{"eventName":"A"},{"event"#, &mut |_| {});
        assert!(err.is_err());
    }
}
