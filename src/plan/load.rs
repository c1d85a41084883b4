//! Loading a plan: bytes from a file or stdin, decoded from UTF-8 / UTF-8+BOM / UTF-16 (PowerShell),
//! parsed into [`Plan`], with the format version checked.

use super::mapped;
use super::model::{Plan, with_strict_field_names};
use super::split;
use std::io::Read;
use std::path::Path;

/// Format versions this build was written against.
const KNOWN_VERSIONS: &[(u64, u64)] = &[(0, 1), (0, 2), (1, 0), (1, 1), (1, 2)];

/// Why a plan could not be read. Every variant names the file; none ever quotes a value from it.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The file could not be opened or read.
    #[error(
        "{path}: cannot read plan: {source}; check the path, or write the plan with `terraform show -json PLANFILE > plan.json`"
    )]
    Io {
        /// The plan path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A directory was given.
    #[error(
        "{path}: is a directory; pass the JSON file written by `terraform show -json PLANFILE`"
    )]
    IsDirectory {
        /// The plan path.
        path: String,
    },
    /// Zero bytes (or only whitespace).
    #[error("{path}: the plan is empty; write it with `terraform show -json PLANFILE > plan.json`")]
    Empty {
        /// The plan path.
        path: String,
    },
    /// Not decodable text.
    #[error("{path}: not a JSON plan: {detail}")]
    Encoding {
        /// The plan path.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// JSON syntax error or a field of the wrong type.
    #[error(
        "{path}:{line}:{column}: {}{message}; pass the unedited output of `terraform show -json PLANFILE`",
        json_path_prefix(json_path)
    )]
    Json {
        /// The plan path.
        path: String,
        /// Line in the decoded text.
        line: usize,
        /// Column in the decoded text.
        column: usize,
        /// Where in the document, e.g. `resource_changes[3].change.actions[0]`.
        json_path: String,
        /// What was wrong, with any quoted input value removed.
        message: String,
    },
    /// The file ends in the middle of the JSON.
    #[error("{path}:{line}:{column}: the JSON ends early (truncated file?)")]
    Truncated {
        /// The plan path.
        path: String,
        /// Line where it ended.
        line: usize,
        /// Column where it ended.
        column: usize,
    },
    /// A second JSON document after the first (two plans joined into one file).
    #[error(
        "{path}:{line}:{column}: the file holds more than one JSON document; the second begins here (write one plan per file)"
    )]
    SeveralDocuments {
        /// The plan path.
        path: String,
        /// Line where the second document begins.
        line: usize,
        /// Column where it begins.
        column: usize,
    },
    /// Well-formed JSON whose top level is not an object.
    #[error(
        "{path}: the file holds a JSON {found}, not the object `terraform show -json PLANFILE` writes"
    )]
    NotAnObject {
        /// The plan path.
        path: String,
        /// What the top level is: `array`, `string`, `number`, `boolean` or `null`.
        found: &'static str,
    },
    /// A state file or state JSON rather than a plan.
    #[error(
        "{path}: this is Terraform {what}, not a plan; run `terraform plan -out=tfplan && terraform show -json tfplan`"
    )]
    NotAPlan {
        /// The plan path.
        path: String,
        /// `a state file` or `state JSON`.
        what: &'static str,
    },
    /// No `format_version` and nothing else recognisable.
    #[error("{path}: no \"format_version\": not the output of `terraform show -json`")]
    NoFormatVersion {
        /// The plan path.
        path: String,
    },
    /// A major format version this build cannot read.
    #[error(
        "{path}: plan format_version {version} is not supported (this iamtrim reads 0.x and 1.x); upgrade iamtrim"
    )]
    UnsupportedVersion {
        /// The plan path.
        path: String,
        /// The version found.
        version: String,
    },
}

/// `json_path` followed by `: `, or nothing when the error has no place in the document (a syntax
/// error before the first key: serde_path_to_error then says `?`).
fn json_path_prefix(json_path: &str) -> String {
    if json_path.is_empty() || json_path == "?" {
        String::new()
    } else {
        format!("{json_path}: ")
    }
}

/// A parsed plan with where it came from and any warnings raised while reading it.
#[derive(Debug)]
pub struct LoadedPlan {
    /// The plan.
    pub plan: Plan,
    /// The path as the user gave it (`-` for stdin).
    pub path: String,
    /// Non-fatal notes, e.g. an unknown minor format version.
    pub warnings: Vec<String>,
}

/// Reads and parses a plan from `path`, or from stdin when `path` is `-`.
pub fn load_plan(path: &Path) -> Result<LoadedPlan, PlanError> {
    let shown = if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    };
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|source| PlanError::Io {
                path: shown.clone(),
                source,
            })?;
        mapped::FileBytes::Read(buf)
    } else {
        if path.is_dir() {
            return Err(PlanError::IsDirectory { path: shown });
        }
        mapped::file_bytes(path, &shown, mapped::MAP_MIN_BYTES).map_err(|source| PlanError::Io {
            path: shown.clone(),
            source,
        })?
    };
    parse_plan_bytes(&bytes, &shown)
}

/// Parses plan bytes; `shown` names the source in errors.
pub fn parse_plan_bytes(bytes: &[u8], shown: &str) -> Result<LoadedPlan, PlanError> {
    let (text, check) = decode_text(bytes, shown)?;
    let text: &[u8] = &text;
    // The UTF-8 check of undecoded bytes runs beside the parse (which skips most strings without
    // checking them); its error still wins over anything the parse says, as when it ran first.
    let (valid, parsed) = match check {
        Utf8Check::Pending => parse_beside(text, || check_utf8(text, shown)),
        Utf8Check::Done => parse_beside(text, || Ok(())),
    };
    valid?;
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(PlanError::Empty {
            path: shown.to_string(),
        });
    }
    // Fast path without path tracking; on failure, parse again the strict way (some field names are
    // read fast but loosely, see `model::with_strict_field_names`), which decides, and to find where.
    let plan: Plan = match parsed {
        Ok(plan) => plan,
        Err(_) => match with_strict_field_names(|| serde_json::from_slice::<Plan>(text)) {
            Ok(plan) => plan,
            Err(err) => {
                if let Some(found) = not_an_object(text) {
                    return Err(PlanError::NotAnObject {
                        path: shown.to_string(),
                        found,
                    });
                }
                return Err(with_strict_field_names(|| json_error(text, err, shown)));
            }
        },
    };
    let mut warnings = Vec::new();
    let Some(version) = plan.format_version.clone() else {
        if plan.lineage.is_some() {
            return Err(PlanError::NotAPlan {
                path: shown.to_string(),
                what: "a state file",
            });
        }
        return Err(PlanError::NoFormatVersion {
            path: shown.to_string(),
        });
    };
    if plan.values.is_some() && plan.planned_values.is_none() && plan.resource_changes.total == 0 {
        return Err(PlanError::NotAPlan {
            path: shown.to_string(),
            what: "state JSON",
        });
    }
    let parsed = version
        .split_once('.')
        .and_then(|(maj, min)| Some((maj.parse::<u64>().ok()?, min.parse::<u64>().ok()?)));
    match parsed {
        Some((major, minor)) if major <= 1 => {
            if !KNOWN_VERSIONS.contains(&(major, minor)) {
                warnings.push(format!(
                    "{shown}: plan format_version {version} is newer than this iamtrim knows; reading it as {major}.x"
                ));
            }
        }
        _ => {
            return Err(PlanError::UnsupportedVersion {
                path: shown.to_string(),
                version,
            });
        }
    }
    Ok(LoadedPlan {
        plan,
        path: shown.to_string(),
        warnings,
    })
}

/// What the top level of `text` is, when it is well-formed JSON but not an object (a failed parse
/// only: it reads the whole text again).
fn not_an_object(text: &[u8]) -> Option<&'static str> {
    let found = match text.iter().find(|b| !b.is_ascii_whitespace())? {
        b'[' => "array",
        b'"' => "string",
        b'-' | b'0'..=b'9' => "number",
        b't' | b'f' => "boolean",
        b'n' => "null",
        _ => return None,
    };
    serde_json::from_slice::<serde::de::IgnoredAny>(text)
        .is_ok()
        .then_some(found)
}

/// Parses the text while `side` runs on another thread: large plans with their big sections in
/// parallel ([`split`]), anything else (or anything the split cannot vouch for) sequentially.
fn parse_beside<R: Send>(
    text: &[u8],
    side: impl FnOnce() -> R + Send,
) -> (R, Result<Plan, serde_json::Error>) {
    match split::parse_split(text, side) {
        Ok((done, Some(plan))) => (done, Ok(plan)),
        Ok((done, None)) => (done, serde_json::from_slice(text)),
        Err(side) => rayon::join(side, || serde_json::from_slice(text)),
    }
}

/// Whether decoded text still needs its UTF-8 check.
enum Utf8Check {
    /// Bytes taken as UTF-8 as they are: [`check_utf8`] must pass before they are trusted.
    Pending,
    /// Text decoded from UTF-16, or text after a UTF-8 BOM (which was never checked up front).
    Done,
}

/// Finds the encoding (UTF-8, UTF-8 with a BOM, UTF-16 with or without one) and decodes to UTF-8 bytes.
fn decode_text<'a>(
    bytes: &'a [u8],
    shown: &str,
) -> Result<(std::borrow::Cow<'a, [u8]>, Utf8Check), PlanError> {
    use std::borrow::Cow;
    let enc_err = |detail: String| PlanError::Encoding {
        path: shown.to_string(),
        detail,
    };
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Ok((Cow::Borrowed(rest), Utf8Check::Done));
    }
    let utf16 = |rest: &[u8], le: bool| -> Result<(Cow<'a, [u8]>, Utf8Check), PlanError> {
        if rest.len() % 2 != 0 {
            return Err(enc_err(
                "UTF-16 text with an odd number of bytes (truncated file?)".into(),
            ));
        }
        let units = rest.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        let s: String = char::decode_utf16(units)
            .collect::<Result<String, _>>()
            .map_err(|e| enc_err(format!("invalid UTF-16: {e}")))?;
        Ok((Cow::Owned(s.into_bytes()), Utf8Check::Done))
    };
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, true);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, false);
    }
    // UTF-16 without a BOM: a JSON document starts with an ASCII character, so one zero byte tells.
    if bytes.len() >= 4 && bytes[0] != 0 && bytes[1] == 0 && bytes[3] == 0 {
        return utf16(bytes, true);
    }
    if bytes.len() >= 4 && bytes[0] == 0 && bytes[2] == 0 && bytes[1] != 0 {
        return utf16(bytes, false);
    }
    Ok((Cow::Borrowed(bytes), Utf8Check::Pending))
}

/// The UTF-8 check of text taken as it is, with the error naming the first bad byte.
fn check_utf8(bytes: &[u8], shown: &str) -> Result<(), PlanError> {
    let enc_err = |detail: String| PlanError::Encoding {
        path: shown.to_string(),
        detail,
    };
    // The SIMD check is several times faster; the standard one only words the error.
    if simdutf8::basic::from_utf8(bytes).is_ok() {
        return Ok(());
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => Ok(()),
        Err(e) => {
            let first = bytes
                .iter()
                .find(|b| !b.is_ascii_whitespace())
                .copied()
                .unwrap_or(0);
            if first != b'{' {
                Err(enc_err(format!(
                    "binary data, not JSON text (invalid UTF-8 at byte {})",
                    e.valid_up_to()
                )))
            } else {
                Err(enc_err(format!(
                    "invalid UTF-8 at byte {}",
                    e.valid_up_to()
                )))
            }
        }
    }
}

fn json_error(text: &[u8], err: serde_json::Error, shown: &str) -> PlanError {
    if err.is_eof() {
        return PlanError::Truncated {
            path: shown.to_string(),
            line: err.line(),
            column: err.column(),
        };
    }
    if err.is_syntax() && err.to_string().starts_with("trailing characters") {
        let second = byte_at(text, err.line(), err.column());
        if matches!(second, Some(b'{' | b'[')) {
            return PlanError::SeveralDocuments {
                path: shown.to_string(),
                line: err.line(),
                column: err.column(),
            };
        }
    }
    let mut de = serde_json::Deserializer::from_slice(text);
    let (json_path, err) = match serde_path_to_error::deserialize::<_, Plan>(&mut de) {
        Err(e) => (e.path().to_string(), e.into_inner()),
        Ok(_) => (".".to_string(), err),
    };
    let json_path = if json_path == "." || json_path.is_empty() {
        "$".to_string()
    } else {
        json_path
    };
    let message =
        if err.is_syntax() && text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            "not JSON: the file does not start with `{`".to_string()
        } else {
            redact_serde_message(&err.to_string())
        };
    PlanError::Json {
        path: shown.to_string(),
        line: err.line(),
        column: err.column(),
        json_path,
        message,
    }
}

/// The byte at serde's 1-based `line` and `column` (a column counts bytes), if there is one.
fn byte_at(text: &[u8], line: usize, column: usize) -> Option<u8> {
    let start = if line <= 1 {
        0
    } else {
        text.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)?
            .0
            + 1
    };
    text.get(start + column.checked_sub(1)?).copied()
}

/// The words after which serde quotes an input value in backticks (its `Unexpected` kinds).
const VALUE_WORDS: &[&str] = &[
    "variant ",
    "integer ",
    "boolean ",
    "floating point ",
    "character ",
];

/// serde's messages quote the offending value (`invalid type: string "hunter2", expected ...`);
/// plan values may be sensitive, so quoted literals, numbers and the trailing position are cut.
fn redact_serde_message(msg: &str) -> String {
    let msg = msg.rfind(" at line ").map_or(msg, |i| &msg[..i]);
    let mut out = String::with_capacity(msg.len());
    let mut quote: Option<char> = None;
    for c in msg.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            // Double quotes hold input values; backticks hold schema names, except after a word
            // that says an input value follows (`invalid type: integer `42``, `unknown variant`).
            None if c == '"' || (c == '`' && VALUE_WORDS.iter().any(|w| out.ends_with(w))) => {
                quote = Some(c);
                if out.ends_with(' ') {
                    out.pop();
                }
            }
            None => out.push(c),
        }
    }
    out.split(' ')
        .filter(|w| w.trim_end_matches(',').parse::<f64>().is_err())
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LoadedPlan, PlanError> {
        parse_plan_bytes(text.as_bytes(), "p.json")
    }

    #[test]
    fn reads_every_known_version_and_warns_on_unknown_minor() {
        for v in ["0.1", "0.2", "1.0", "1.1", "1.2"] {
            let p = parse(&format!(
                r#"{{"format_version":"{v}","resource_changes":[]}}"#
            ))
            .unwrap();
            assert!(p.warnings.is_empty(), "{v}");
        }
        let p = parse(r#"{"format_version":"1.9"}"#).unwrap();
        assert_eq!(p.warnings.len(), 1);
        let e = parse(r#"{"format_version":"2.0"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("format_version 2.0 is not supported"),
            "{e}"
        );
    }

    #[test]
    fn bad_input_gets_one_line_errors() {
        let cases = [
            ("", "empty"),
            ("  \n", "empty"),
            (
                r#"{"format_version":"1.2","resource_changes":["#,
                "ends early",
            ),
            (
                r#"{"version":4,"serial":1,"lineage":"x","resources":[]}"#,
                "state file",
            ),
            (r#"{"format_version":"1.0","values":{}}"#, "state JSON"),
            (
                r#"{"format_version":"1.2","resource_changes":[{"address":"a","type":"t","name":"n","change":{"actions":"create"}}]}"#,
                "resource_changes[0].change.actions",
            ),
            ("hello", "not JSON"),
            (r#"{"resource_changes":[]}"#, "no \"format_version\""),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
            assert!(e.starts_with("p.json"), "{e}");
        }
        let e = parse_plan_bytes(&[0x89, b'P', b'N', b'G', 0xff, 0xfe, 0x00], "g.bin")
            .unwrap_err()
            .to_string();
        assert!(e.contains("g.bin"), "{e}");
    }

    #[test]
    fn wrong_type_errors_never_quote_values() {
        let e = parse(
            r#"{"format_version":"1.2","resource_changes":[{"address":"a","type":"t","name":"n","change":{"actions":["create"]},"index":{"x":"hunter2"}}]}"#,
        );
        let text = e.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(!text.contains("hunter2"), "{text}");
        // Numbers and booleans are values too (serde quotes them in backticks).
        for (value, at) in [
            ("true", "index"),
            ("42.17", "index"),
            ("4217", "address"),
            ("-4217", "address"),
            ("false", "address"),
        ] {
            let text = format!(
                r#"{{"format_version":"1.2","resource_changes":[{{"address":"a","type":"t","name":"n","change":{{"actions":["create"]}},"{at}":{value}}}]}}"#
            )
            .replacen(r#""address":"a","#, "", usize::from(at == "address"));
            let e = parse(&text).unwrap_err().to_string();
            assert!(!e.contains(value.trim_start_matches('-')), "{e}");
            assert!(!e.contains('`') || e.contains("expected"), "{e}");
            assert!(e.contains(&format!("resource_changes[0].{at}")), "{e}");
        }
        let e = parse(r#"{"format_version":"1.2","resource_changes":[{"address":"a","type":"t","name":"n","change":{"actions":["create"]},"mode":"s3cr3t"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(e.contains("resource_changes[0].mode"), "{e}");
    }

    #[test]
    fn unusual_field_names_read_as_strictly_as_ever() {
        // Escaped and control-character keys stop the fast read; the strict parse decides.
        let plan = parse(
            r#"{"format_version":"1.2","resource_changes":[{"address":"aws_iam_role.b","type":"aws_iam_role","n\u0061me":"b","change":{"\u0061ctions":["create"]}}]}"#,
        )
        .unwrap();
        let rc = &plan.plan.resource_changes.kept[0];
        assert_eq!(rc.name, "b");
        assert_eq!(
            rc.change.actions,
            vec![super::super::model::ChangeAction::Create]
        );
        for (text, want) in [
            (
                "{\"format_version\":\"1.2\",\"resource_changes\":[{\"a\tb\":1}]}",
                "control character",
            ),
            (
                r#"{"format_version":"1.2","resource_changes":[{"\ud800":1}]}"#,
                "hex escape",
            ),
            (
                r#"{"format_version":"1.2","resource_changes":[{"type":"t","n\u0061me":"b","name":"c","change":{}}]}"#,
                "duplicate field `name`",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        // After a UTF-8 BOM the text is not checked up front: a key's bytes must still be.
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(
            b"{\"format_version\":\"1.2\",\"resource_changes\":[{\"a\xffb\":1}]}",
        );
        let e = parse_plan_bytes(&bom, "p.json").unwrap_err().to_string();
        assert!(e.contains("invalid unicode code point"), "{e}");
    }

    #[test]
    fn json_that_is_not_an_object_says_what_it_is() {
        for (text, found) in [
            ("[]", "array"),
            (" [{\"format_version\":\"1.2\"}]\n", "array"),
            ("\"plan\"", "string"),
            ("-1.5", "number"),
            ("true", "boolean"),
            ("null", "null"),
        ] {
            assert_eq!(
                parse(text).unwrap_err().to_string(),
                format!(
                    "p.json: the file holds a JSON {found}, not the object `terraform show -json PLANFILE` writes"
                ),
                "{text:?}"
            );
        }
        // Not well-formed: the parse error with its place, as before.
        let e = parse("[1,").unwrap_err().to_string();
        assert!(
            e.starts_with("p.json:1:") && !e.contains("holds a JSON"),
            "{e}"
        );
    }

    #[test]
    fn two_json_documents_in_one_file_say_so_and_where_the_second_begins() {
        let one = r#"{"format_version":"1.2","resource_changes":[]}"#;
        let e = parse(&format!("{one}\n{one}\n")).unwrap_err().to_string();
        assert_eq!(
            e,
            "p.json:2:1: the file holds more than one JSON document; the second begins here (write one plan per file)"
        );
        let e = parse(&format!("{one}  {one}")).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "p.json:1:{}: the file holds more than one",
                one.len() + 3
            )),
            "{e}"
        );
        // Other text after the document is not a second document.
        let e = parse(&format!("{one} x")).unwrap_err().to_string();
        assert!(e.contains("trailing characters"), "{e}");
    }

    #[test]
    fn decodes_bom_and_utf16() {
        let json = r#"{"format_version":"1.2","resource_changes":[]}"#;
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(json.as_bytes());
        assert!(parse_plan_bytes(&bom, "x").is_ok());
        let crlf = json.replace(',', ",\r\n");
        let mut le = vec![0xFF, 0xFE];
        le.extend(crlf.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert!(parse_plan_bytes(&le, "x").is_ok());
        let mut be = vec![0xFE, 0xFF];
        be.extend(json.encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert!(parse_plan_bytes(&be, "x").is_ok());
        let le_nobom: Vec<u8> = json.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert!(parse_plan_bytes(&le_nobom, "x").is_ok());
    }

    #[test]
    fn invalid_utf8_is_an_encoding_error_even_where_the_parse_skips() {
        // The parse skips non-IAM values without looking at their bytes; the UTF-8 check must still
        // catch them, and its error wins over a JSON error further on.
        for (text, byte) in [
            (
                &b"{\"format_version\":\"1.2\",\"planned_values\":{\"x\":\"\xff\"}}"[..],
                47,
            ),
            (&b"{\"format_version\":\"1.2\",\"x\":\"\xff\",}"[..], 29),
        ] {
            match parse_plan_bytes(text, "p.json") {
                Err(PlanError::Encoding { detail, .. }) => {
                    assert_eq!(detail, format!("invalid UTF-8 at byte {byte}"))
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            parse_plan_bytes(b"\x00\xff\xfe", "p.json"),
            Err(PlanError::Encoding { .. })
        ));
    }
}
