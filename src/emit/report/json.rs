//! The JSON format: the serialized [`Report`], pretty-printed.
//!
//! A large plan's report runs to tens of megabytes (68 MB for the 100 MB benchmark plan, more than a
//! third of it indentation), and serializing it was most of the difference between `scan --format
//! json` and the text report. The principals, which are nearly all of it, are serialized in batches
//! on the thread pool, each at its depth into its own buffer, and written in order, one batch while
//! the next is serialized. Each distinct policy document is printed once, and written from there
//! wherever it appears (a vectored write of the batch's text and the documents in their places),
//! never copied: an AWS-managed policy reaching hundreds of principals was most of a large report.
//! The bytes are exactly those of `serde_json::to_writer_pretty` on the whole report (tested), and
//! memory holds two batches at a time.

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
    if report.principals.len() < PARALLEL_MIN {
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
    // Two sets of runs: while one batch's are written (on this thread: `out` need not be `Send`),
    // the next batch is serialized into the other on the pool.
    let mut ready: Vec<Run> = (0..RUNS).map(|_| Run::default()).collect();
    let mut filling: Vec<Run> = (0..RUNS).map(|_| Run::default()).collect();
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
                .try_for_each(|run| run.write(&mut *out));
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

/// Serializes one batch of principals into `runs`, a run of them in each, on the pool; how many runs
/// it filled.
fn serialize_batch(
    batch: &[super::PrincipalReport],
    first_batch: bool,
    runs: &mut [Run],
) -> io::Result<usize> {
    let per_run = batch.len().div_ceil(runs.len());
    runs.par_iter_mut()
        .zip(batch.par_chunks(per_run))
        .enumerate()
        .try_for_each(|(r, (run, principals))| run.fill(principals, first_batch && r == 0))?;
    Ok(batch.len().div_ceil(per_run))
}

/// A run of principals serialized: their text, with a [`SPLICE`] byte wherever a policy document
/// goes, and those documents in order. The documents are written from the text printed once for
/// each ([`pretty_document`]), never copied into the run (most of a large report is a few
/// AWS-managed policies reaching hundreds of principals each).
#[derive(Default)]
struct Run {
    text: Vec<u8>,
    documents: Vec<super::DocumentJson>,
    /// Where each document goes in `text` (its [`SPLICE`] byte).
    places: Vec<usize>,
}

/// Stands for a document in a [`Run`]'s text. The serializer writes no other raw byte below 0x20
/// but line breaks (strings escape them), so this byte is only ever a document's place.
const SPLICE: u8 = 0;

impl Run {
    /// Serializes `principals` into this run (which it clears first) as elements of the top-level
    /// `principals` array; `first` if they start it.
    fn fill(&mut self, principals: &[super::PrincipalReport], first: bool) -> io::Result<()> {
        self.text.clear();
        self.documents.clear();
        self.places.clear();
        let documents = SPLICED.replace(Some(std::mem::take(&mut self.documents)));
        debug_assert!(
            documents.is_none(),
            "runs are filled one at a time on a thread"
        );
        let result = principals
            .iter()
            .enumerate()
            .try_for_each(|(i, principal)| element(principal, first && i == 0, &mut self.text));
        self.documents = SPLICED.take().unwrap_or_default();
        result?;
        self.places.extend(memchr::memchr_iter(SPLICE, &self.text));
        if self.places.len() != self.documents.len() {
            return Err(io::Error::other(format!(
                "report: {} document places for {} documents",
                self.places.len(),
                self.documents.len()
            )));
        }
        Ok(())
    }

    /// Writes the run: its text, with each document's printed text in its place, in as few system
    /// calls as `out` allows.
    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut slices = Vec::with_capacity(2 * self.documents.len() + 1);
        let mut from = 0;
        for (&at, document) in self.places.iter().zip(&self.documents) {
            let text = document.pretty_text().ok_or_else(|| {
                io::Error::other("report: a document was not printed before it was written")
            })?;
            slices.push(io::IoSlice::new(&self.text[from..at]));
            slices.push(io::IoSlice::new(text.as_bytes()));
            from = at + 1;
        }
        slices.push(io::IoSlice::new(&self.text[from..]));
        write_all_vectored(out, &mut slices)
    }
}

/// `Write::write_all_vectored`, which is not stable yet.
fn write_all_vectored(out: &mut impl Write, mut slices: &mut [io::IoSlice<'_>]) -> io::Result<()> {
    io::IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Appends one element of the top-level `principals` array as the pretty printer writes it there:
/// after a comma unless it is the first, on a new line, two levels deep.
fn element(principal: &super::PrincipalReport, first: bool, out: &mut Vec<u8>) -> io::Result<()> {
    out.extend_from_slice(if first { b"\n    " } else { b",\n    " });
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, Nested::splicing_at(2));
    principal
        .serialize(&mut serializer)
        .map_err(io::Error::from)
}

/// How deep a policy's document is in the report: `principals[i].policies[j].document` (the report
/// object, the principals array, a principal, its policies array, a policy).
const DOCUMENT_LEVEL: usize = 5;

thread_local! {
    /// While a [`Run`] is filled on this thread, the documents its principals' policies hold, in
    /// the order they are serialized: each is at [`DOCUMENT_LEVEL`] under the pretty printer, and
    /// is written from its text printed once.
    static SPLICED: std::cell::RefCell<Option<Vec<super::DocumentJson>>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether a document serialized now is in a [`Run`]: it is then serialized as its printed text
/// ([`pretty_document`]) and passed to [`splice`].
pub(super) fn splicing_here() -> bool {
    SPLICED.with_borrow(Option::is_some)
}

/// Records that `document` goes where its raw text is serialized next (the printer writes a
/// [`SPLICE`] byte there). True if it was recorded (a [`Run`] is being filled on this thread).
pub(super) fn splice(document: &super::DocumentJson) -> bool {
    SPLICED.with_borrow_mut(|spliced| {
        spliced
            .as_mut()
            .map(|documents| documents.push(document.clone()))
            .is_some()
    })
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
    /// Raw values (documents, see [`splice`]) are written as one [`SPLICE`] byte.
    splicing: bool,
}

impl Nested {
    fn at(level: usize) -> Self {
        Nested {
            level,
            has_value: false,
            splicing: false,
        }
    }

    fn splicing_at(level: usize) -> Self {
        Nested {
            splicing: true,
            ..Nested::at(level)
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

    fn write_raw_fragment<W: ?Sized + Write>(&mut self, w: &mut W, raw: &str) -> io::Result<()> {
        w.write_all(if self.splicing {
            &[SPLICE]
        } else {
            raw.as_bytes()
        })
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
        // Enough principals for several batches, the last one partial; line breaks, quotes, a NUL
        // (the byte that marks a document's place, escaped in a string) and non-ASCII inside
        // strings, nested documents, one document shared by many principals, and fields after
        // `principals`.
        let one = |i: usize| {
            format!(
                r#"{{"address":"module.m[\"k{i}\"].aws_iam_role.r","kind":"role","name":"r{i}\nnext\u0000","arn":null,"account":null,
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
        let mut report = parse(&text).expect("a report");
        assert!(report.principals.len() > PARALLEL_MIN);
        let shared = report.principals[1].policies[0].document.clone();
        for principal in report.principals.iter_mut().skip(2).step_by(3) {
            principal.policies[0].document = shared.clone();
        }
        let whole = serde_json::to_string_pretty(&report).expect("serialized") + "\n";
        // One thread (a machine with one core, or a process pinned to one) and two, whatever the
        // machine has.
        for threads in [1, 2] {
            let mut batched = Vec::new();
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| render(&report, &mut batched))
                .expect("rendered");
            assert_eq!(
                String::from_utf8(batched).expect("UTF-8"),
                whole,
                "{threads} threads"
            );
        }
    }
}
