//! The JSON format: the serialized [`Report`], pretty-printed.
//!
//! A large plan's report runs to tens of megabytes (68 MB for the 100 MB benchmark plan, more than a
//! third of it indentation), and serializing it was most of the difference between `scan --format
//! json` and the text report. The principals, which are nearly all of it, are serialized in batches
//! on the thread pool, each at its depth into its own buffer, and written in order, one batch while
//! the next is serialized; each distinct policy document is printed once and copied wherever it
//! appears (an AWS-managed policy reaching hundreds of principals was most of a large report). The
//! bytes are exactly those of `serde_json::to_writer_pretty` on the whole report (tested), and memory
//! holds two batches at a time.

use super::Report;
use rayon::prelude::*;
use serde::Serialize;
use std::io::{self, Write};

/// Principals serialized per batch: enough for the pool to share, few enough that a batch of a large
/// report stays a few megabytes.
const BATCH: usize = 64;

/// Each batch is cut into this many runs of principals, each serialized into its own buffer; the
/// buffers are kept from batch to batch (fresh ones cost a page fault every 4 KB).
const RUNS: usize = 8;

/// Below this many principals the report is serialized in one go.
const PARALLEL_MIN: usize = 64;

/// Where the principals go in the pretty-printed report without them: the key of the top-level
/// object (one level of indentation; a string value holding these characters would have its quotes
/// escaped, so this can only be the key).
const EMPTY_PRINCIPALS: &str = "\n  \"principals\": []";

/// Writes the report as JSON text (with a trailing newline), streamed: a large plan's report runs to
/// tens of megabytes, never held whole in memory.
pub fn render(report: &Report, out: &mut impl Write) -> io::Result<()> {
    if report.principals.len() < PARALLEL_MIN || rayon::current_num_threads() < 2 {
        serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
        return out.write_all(b"\n");
    }
    // Every field but the principals, by name: a field added to `Report` fails to compile here
    // rather than going missing.
    let frame = Report {
        schema_version: report.schema_version,
        command: report.command,
        plan: report.plan.clone(),
        summary: report.summary.clone(),
        principals: Vec::new(),
        files: report.files.clone(),
        warnings: report.warnings.clone(),
    };
    let frame = serde_json::to_string_pretty(&frame).map_err(io::Error::from)?;
    let Some(at) = frame.find(EMPTY_PRINCIPALS) else {
        serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
        return out.write_all(b"\n");
    };
    out.write_all(&frame.as_bytes()[..at + EMPTY_PRINCIPALS.len() - 1])?;
    // Two sets of per-run buffers: while one batch's are written (on this thread: `out` need not
    // be `Send`), the next batch is serialized into the other on the pool.
    let mut ready: Vec<Vec<u8>> = vec![Vec::new(); RUNS];
    let mut filling: Vec<Vec<u8>> = vec![Vec::new(); RUNS];
    let batches: Vec<&[super::PrincipalReport]> = report.principals.chunks(BATCH).collect();
    let mut ready_runs = 0;
    for n in 0..=batches.len() {
        let next = batches.get(n).copied();
        let (filled, written) = rayon::in_place_scope(|scope| {
            let (filled_tx, filled_rx) = std::sync::mpsc::channel();
            if let Some(batch) = next {
                let filling = &mut filling;
                scope.spawn(move |_| {
                    let _ = filled_tx.send(serialize_batch(batch, n == 0, filling));
                });
            }
            let written = ready[..ready_runs]
                .iter()
                .try_for_each(|buffer| out.write_all(buffer));
            (filled_rx, written)
        });
        written?;
        ready_runs = match (next, filled.recv()) {
            (Some(_), Ok(runs)) => runs?,
            _ => 0,
        };
        std::mem::swap(&mut ready, &mut filling);
    }
    out.write_all(b"\n  ]")?;
    out.write_all(&frame.as_bytes()[at + EMPTY_PRINCIPALS.len()..])?;
    out.write_all(b"\n")
}

/// Serializes one batch of principals into `buffers`, a run of them per buffer, on the pool; how
/// many buffers it filled.
fn serialize_batch(
    batch: &[super::PrincipalReport],
    first_batch: bool,
    buffers: &mut [Vec<u8>],
) -> io::Result<usize> {
    let run = batch.len().div_ceil(buffers.len());
    buffers
        .par_iter_mut()
        .zip(batch.par_chunks(run))
        .enumerate()
        .try_for_each(|(r, (buffer, principals))| {
            buffer.clear();
            for (i, principal) in principals.iter().enumerate() {
                element(principal, first_batch && r == 0 && i == 0, buffer)?;
            }
            Ok::<(), io::Error>(())
        })?;
    Ok(batch.len().div_ceil(run))
}

/// Appends one element of the top-level `principals` array as the pretty printer writes it there:
/// after a comma unless it is the first, on a new line, two levels deep.
fn element(principal: &super::PrincipalReport, first: bool, out: &mut Vec<u8>) -> io::Result<()> {
    out.extend_from_slice(if first { b"\n    " } else { b",\n    " });
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, Nested::at(2));
    PRETTY_DOCUMENTS.set(true);
    let result = principal.serialize(&mut serializer);
    PRETTY_DOCUMENTS.set(false);
    result.map_err(io::Error::from)
}

/// How deep a policy's document is in the report: `principals[i].policies[j].document` (the report
/// object, the principals array, a principal, its policies array, a policy).
const DOCUMENT_LEVEL: usize = 5;

thread_local! {
    /// Set while [`element`] serializes a principal on this thread: its policies' documents are then
    /// at [`DOCUMENT_LEVEL`] under the pretty printer, and may be written as text printed once.
    static PRETTY_DOCUMENTS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a document serialized now is one of [`element`]'s (see [`PRETTY_DOCUMENTS`]).
pub(super) fn pretty_documents_here() -> bool {
    PRETTY_DOCUMENTS.get()
}

/// `document` as the report's pretty printer writes it at [`DOCUMENT_LEVEL`], as a raw value the
/// serializer copies as it is; `None` if that fails (the caller then serializes the value).
pub(super) fn pretty_document(
    document: &serde_json::Value,
) -> Option<Box<serde_json::value::RawValue>> {
    let mut text = Vec::new();
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut text, Nested::at(DOCUMENT_LEVEL));
    document.serialize(&mut serializer).ok()?;
    serde_json::value::RawValue::from_string(String::from_utf8(text).ok()?).ok()
}

/// `serde_json`'s pretty printer (two spaces a level) for a value that starts `level` levels deep,
/// so that it writes what the printer of the whole report writes there.
struct Nested {
    level: usize,
    has_value: bool,
}

impl Nested {
    fn at(level: usize) -> Self {
        Nested {
            level,
            has_value: false,
        }
    }

    fn indent<W: ?Sized + Write>(&self, writer: &mut W) -> io::Result<()> {
        for _ in 0..self.level {
            writer.write_all(b"  ")?;
        }
        Ok(())
    }
}

// Arrays and objects are printed alike: an opening bracket one level deeper, each element on its
// own line, the closing bracket back on the outer level (on the same line when empty).
impl Nested {
    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.level -= 1;
        if self.has_value {
            writer.write_all(b"\n")?;
            self.indent(writer)?;
        }
        writer.write_all(bracket)
    }

    fn next_line<W: ?Sized + Write>(&self, writer: &mut W, first: bool) -> io::Result<()> {
        writer.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(writer)
    }
}

impl serde_json::ser::Formatter for Nested {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.next_line(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.next_line(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Reads a report back from its JSON text.
pub fn parse(text: &str) -> Result<Report, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_report_is_the_pretty_printed_one_byte_for_byte() {
        // The report used to be built as one String with `to_string_pretty`; streaming it must not
        // change a byte of what readers of `--format json` get.
        let text = r#"{"schema_version":1,"command":"check","plan":{"path":"p.json","format_version":"1.2","terraform_version":null},
            "summary":{"principals":1,"new_principals":0,"policies":0,"unknown_documents":0,"flagged":1},
            "principals":[{"address":"aws_iam_role.r","kind":"role","name":"r","arn":"arn:aws:iam::1:role/r","account":"1",
              "plan_action":"no-op","flags":["passrole-any"],"granted_actions":2,"policies":[],"status":"no usage data",
              "suggestions":[{"policy_address":"aws_iam_role_policy.p","applicability":"review-needed","current":{"Statement":[]},
                "suggested":null,"granted":2,"kept":0,"actions":[{"action":"s3:GetObject","verdict":"remove","reason":"unused \u00e9","review":true}],
                "notes":["a \"quoted\" note"]}]}],
            "files":[{"path":"iamtrim.patch","kind":"patch","written":false}],"warnings":["w"]}"#;
        let report = parse(text).expect("a report");
        let mut streamed = Vec::new();
        render(&report, &mut streamed).expect("rendered");
        let whole = serde_json::to_string_pretty(&report).expect("serialized") + "\n";
        assert_eq!(String::from_utf8(streamed).expect("UTF-8"), whole);
        assert!(whole.contains("\"status\": \"no usage data\""));
    }

    #[test]
    fn a_large_report_serialized_in_batches_is_the_pretty_printed_one_byte_for_byte() {
        // Enough principals for several batches, the last one partial; line breaks, quotes and
        // non-ASCII inside strings, nested documents, and fields after `principals`.
        let one = |i: usize| {
            format!(
                r#"{{"address":"module.m[\"k{i}\"].aws_iam_role.r","kind":"role","name":"r{i}\nnext","arn":null,"account":null,
                "plan_action":"create","flags":[],"granted_actions":{i},"policies":[{{"address":"aws_iam_policy.p{i}","kind":"managed",
                "name":null,"arn":null,"attachment":null,"via_group":null,"document":{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow",
                "Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b\u00e9/{i}","Condition":{{"StringEquals":{{"a":["x","y"]}}}}}}]}},
                "unknown_reason":null}}]}}"#
            )
        };
        let principals: Vec<String> = (0..2 * BATCH + 17).map(one).collect();
        let text = format!(
            r#"{{"schema_version":1,"command":"scan","plan":{{"path":"p\"].json","format_version":"1.2","terraform_version":null}},
            "summary":{{"principals":3,"new_principals":3,"policies":3,"unknown_documents":0,"flagged":0}},
            "principals":[{}],"files":[{{"path":"iamtrim.patch","kind":"patch","written":false}}],"warnings":["w\n  \"principals\": []"]}}"#,
            principals.join(",")
        );
        let report = parse(&text).expect("a report");
        assert!(report.principals.len() > PARALLEL_MIN);
        let mut batched = Vec::new();
        // Two threads whatever the machine has, so the batched path runs.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| render(&report, &mut batched))
            .expect("rendered");
        let whole = serde_json::to_string_pretty(&report).expect("serialized") + "\n";
        assert_eq!(String::from_utf8(batched).expect("UTF-8"), whole);
    }
}
