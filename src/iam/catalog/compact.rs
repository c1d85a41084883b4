//! Reading the compact catalog format written by `scripts/catalog/generate.py`.
//!
//! One record a line, TAB-separated: a header, a `source` line, then per service an `S` line, its
//! resource-type table `R`, its condition-key table `C`, and one `A` line per action that refers to
//! those tables by index. The generator's docstring is the format's specification. This module only
//! parses; lookups and expansion live in the parent module.

use super::info::{AccessLevel, ActionInfo, DataEventType, Flags, ResourceType};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Read;
use std::sync::Arc;

/// The first line of every catalog this code can read.
const HEADER: &str = "iamtrim-catalog 2";

/// Why catalog data could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The bytes are not a gzip stream.
    #[error("catalog data is not valid gzip")]
    Decompress(#[source] std::io::Error),
    /// The decompressed text is not UTF-8.
    #[error("catalog data is not UTF-8")]
    NotUtf8(#[source] std::string::FromUtf8Error),
    /// A line does not follow the format.
    #[error("catalog data line {line}: {reason}")]
    Malformed {
        /// 1-based line number in the decompressed text.
        line: usize,
        /// What was wrong.
        reason: String,
    },
}

/// One service's actions as read, before the catalog sorts and flattens them.
pub(super) struct ParsedService {
    pub prefix: Box<str>,
    pub name: Box<str>,
    pub actions: Vec<ActionInfo>,
}

/// What a catalog file holds.
pub(super) struct Parsed {
    pub source: String,
    pub services: Vec<ParsedService>,
}

/// Decompresses gzip'd catalog data into its text.
pub(super) fn gunzip(bytes: &[u8]) -> Result<String, CatalogError> {
    // The raw text is about five times the gzip'd size; reserving avoids repeated regrowth.
    let mut raw = Vec::with_capacity(bytes.len().saturating_mul(5));
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut raw)
        .map_err(CatalogError::Decompress)?;
    String::from_utf8(raw).map_err(CatalogError::NotUtf8)
}

/// Parses the decompressed text.
///
/// Services are independent (each `S` line starts its own tables), so the text after the header is
/// cut at service lines into pieces parsed on threads of their own: a small plan's whole run waits
/// for the catalog, and one thread took about 20 ms of a 40 ms `scan`.
pub(super) fn parse(text: &str) -> Result<Parsed, CatalogError> {
    let malformed = |line: usize, reason: String| CatalogError::Malformed { line, reason };
    let (first, rest) = next_line(text);
    match first {
        Some(HEADER) => {}
        Some(other) => {
            return Err(malformed(
                1,
                format!("expected `{HEADER}`, found `{other}`"),
            ));
        }
        None => return Err(malformed(1, "empty catalog".into())),
    }
    let (second, body) = next_line(rest);
    let source = match second {
        Some(l) if l.starts_with("source ") => l["source ".len()..].to_string(),
        Some(_) => return Err(malformed(2, "expected a `source` line".into())),
        None => return Err(malformed(2, "missing `source` line".into())),
    };
    let pieces = service_pieces(body, 3, PIECES);
    let parsed: Vec<Result<Vec<ParsedService>, CatalogError>> = std::thread::scope(|scope| {
        let mut pieces = pieces.into_iter();
        let first = pieces.next();
        let others: Vec<_> = pieces
            .map(|(line, piece)| scope.spawn(move || parse_services(piece, line)))
            .collect();
        let mut parsed =
            vec![first.map_or(Ok(Vec::new()), |(line, piece)| parse_services(piece, line))];
        parsed.extend(others.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }));
        parsed
    });
    let mut services = Vec::new();
    // The first error in the text wins, as when one thread read it all.
    for piece in parsed {
        services.append(&mut piece?);
    }
    Ok(Parsed { source, services })
}

/// How many pieces [`parse`] cuts the services into (one per thread).
const PIECES: usize = 2;

/// The first line of `text` (without its `\n` or `\r\n`, as `str::lines` gives it) and the rest.
fn next_line(text: &str) -> (Option<&str>, &str) {
    if text.is_empty() {
        return (None, text);
    }
    let (line, rest) = text.split_once('\n').unwrap_or((text, ""));
    (Some(line.strip_suffix('\r').unwrap_or(line)), rest)
}

/// `body` cut into at most `count` pieces of about equal length, each but the first starting with a
/// service (`S`) line; with the 1-based line number each starts on (`body` starts on `first_line`).
fn service_pieces(body: &str, first_line: usize, count: usize) -> Vec<(usize, &str)> {
    let mut pieces = Vec::with_capacity(count);
    let (mut start, mut line) = (0, first_line);
    let step = body.len() / count.max(1);
    while pieces.len() + 1 < count {
        // Bytes, not `str`: `start + step` may fall inside a character; what is found is a line
        // break, after which a character starts.
        let Some(found) = body
            .as_bytes()
            .get(start + step..)
            .and_then(|after| memchr::memmem::find(after, b"\nS\t"))
        else {
            break;
        };
        let end = start + step + found + 1;
        pieces.push((line, &body[start..end]));
        line += memchr::memchr_iter(b'\n', &body.as_bytes()[start..end]).count();
        start = end;
    }
    pieces.push((line, &body[start..]));
    pieces
}

/// Parses service records (`S`, `R`, `C`, `A` lines) from `text`, whose first line is line number
/// `first_line` of the catalog.
fn parse_services(text: &str, first_line: usize) -> Result<Vec<ParsedService>, CatalogError> {
    let lines = text.lines().enumerate().map(|(i, l)| (i + first_line, l));
    let malformed = |line: usize, reason: String| CatalogError::Malformed { line, reason };
    let mut services: Vec<ParsedService> = Vec::new();
    let mut resources: Vec<Arc<str>> = Vec::new();
    let mut conditions: Vec<Arc<str>> = Vec::new();
    let mut resource_lists: HashMap<&str, Arc<[ResourceType]>, ListHash> = HashMap::default();
    let mut condition_lists: HashMap<&str, Arc<[Arc<str>]>, ListHash> = HashMap::default();
    let no_dependents: Arc<[Box<str>]> = Arc::from(Vec::new());
    for (n, line) in lines {
        let mut fields = line.split('\t');
        match fields.next() {
            Some("S") => {
                let (Some(prefix), Some(name)) = (fields.next(), fields.next()) else {
                    return Err(malformed(
                        n,
                        "service line needs a prefix and a name".into(),
                    ));
                };
                if prefix.is_empty() || prefix.contains(':') {
                    return Err(malformed(n, format!("bad service prefix `{prefix}`")));
                }
                resources.clear();
                conditions.clear();
                resource_lists.clear();
                condition_lists.clear();
                services.push(ParsedService {
                    prefix: prefix.into(),
                    name: name.into(),
                    actions: Vec::new(),
                });
            }
            Some("R") => resources = fields.map(Arc::from).collect(),
            Some("C") => conditions = fields.map(Arc::from).collect(),
            Some("A") => {
                let Some(service) = services.last_mut() else {
                    return Err(malformed(n, "action before any service".into()));
                };
                let [
                    Some(name),
                    Some(level),
                    Some(flags),
                    Some(res),
                    Some(cond),
                    Some(deps),
                    Some(event_type),
                    None,
                ] = [
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                ]
                else {
                    return Err(malformed(n, "action line needs exactly 7 fields".into()));
                };
                if name.is_empty() || name.contains(':') {
                    return Err(malformed(n, format!("bad action name `{name}`")));
                }
                let level = AccessLevel::from_code(level)
                    .ok_or_else(|| malformed(n, format!("unknown access level `{level}`")))?;
                let flags = Flags::from_code(flags)
                    .ok_or_else(|| malformed(n, format!("unknown flags `{flags}`")))?;
                // Few distinct reference lists per service: share one slice per list instead of
                // allocating one per action (about 5,700 lists instead of 37,000).
                let resource_types = match resource_lists.get(res) {
                    Some(list) => Arc::clone(list),
                    None => {
                        let list = resource_list(&resources, res).ok_or_else(|| {
                            malformed(n, format!("bad resource type references `{res}`"))
                        })?;
                        resource_lists.insert(res, Arc::clone(&list));
                        list
                    }
                };
                let condition_keys = match condition_lists.get(cond) {
                    Some(list) => Arc::clone(list),
                    None => {
                        let list = refs(cond)
                            .map(|r| table_entry(&conditions, r))
                            .collect::<Option<Arc<[_]>>>()
                            .ok_or_else(|| {
                                malformed(n, format!("bad condition key references `{cond}`"))
                            })?;
                        condition_lists.insert(cond, Arc::clone(&list));
                        list
                    }
                };
                let data_event_type =
                    match event_type {
                        "-" => None,
                        t => Some(DataEventType::from_name(t).ok_or_else(|| {
                            malformed(n, format!("unknown data event type `{t}`"))
                        })?),
                    };
                if refs(deps).any(|d| !d.contains(':')) {
                    return Err(malformed(n, format!("bad dependent actions `{deps}`")));
                }
                // Most actions have none: share the one empty list.
                let dependent_actions: Arc<[Box<str>]> = if deps == "-" {
                    Arc::clone(&no_dependents)
                } else {
                    refs(deps).map(Box::from).collect()
                };
                service.actions.push(
                    ActionInfo::new(
                        &service.prefix,
                        name,
                        level,
                        flags,
                        resource_types,
                        condition_keys,
                    )
                    .with_evidence(dependent_actions, data_event_type),
                );
            }
            Some("") if line.is_empty() => {}
            _ => return Err(malformed(n, format!("unknown record `{line}`"))),
        }
    }
    Ok(services)
}

/// FNV-1a for the short, trusted reference-list keys: SipHash's DoS resistance buys nothing here
/// and showed in the load profile.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type ListHash = BuildHasherDefault<Fnv>;

/// The comma-separated references of a field, none for `-`.
fn refs(field: &str) -> impl Iterator<Item = &str> {
    (field != "-")
        .then(|| field.split(','))
        .into_iter()
        .flatten()
}

/// Resolves a resource-type reference list such as `0!,2`; `None` on a bad reference.
fn resource_list(table: &[Arc<str>], field: &str) -> Option<Arc<[ResourceType]>> {
    refs(field)
        .map(|r| {
            let (index, required) = match r.strip_suffix('!') {
                Some(i) => (i, true),
                None => (r, false),
            };
            Some(ResourceType {
                name: table_entry(table, index)?,
                required,
            })
        })
        .collect()
}

fn table_entry(table: &[Arc<str>], index: &str) -> Option<Arc<str>> {
    table.get(index.parse::<usize>().ok()?).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tables_and_references() {
        let text = "iamtrim-catalog 2\nsource test 1\nS\ts3\tAmazon S3\nR\tbucket\tobject\nC\ts3:prefix\n\
                    A\tGetObject\tR\tdx\t1!\t0\tkms:Decrypt\tAWS::S3::Object\n\
                    A\tListAllMyBuckets\tL\tn\t-\t-\t-\t-\n";
        let parsed = parse(text).expect("valid catalog text");
        assert_eq!(parsed.source, "test 1");
        let actions = &parsed.services[0].actions;
        assert_eq!(actions[0].name(), "s3:GetObject");
        assert_eq!(actions[0].resource_types()[0].name.as_ref(), "object");
        assert!(actions[0].resource_types()[0].required);
        assert_eq!(actions[0].condition_keys()[0].as_ref(), "s3:prefix");
        assert!(actions[0].is_data_event() && !actions[0].is_unlogged());
        assert!(actions[1].resource_types().is_empty());
        assert_eq!(&*actions[0].dependent_actions()[0], "kms:Decrypt");
        assert_eq!(actions[0].data_event_type(), Some(DataEventType::S3Object));
        assert!(actions[1].is_never_logged() && actions[1].dependent_actions().is_empty());
    }

    #[test]
    fn reports_the_line_of_a_bad_reference() {
        let text = "iamtrim-catalog 2\nsource test 1\nS\ts3\tAmazon S3\nR\tbucket\nC\nA\tGetObject\tR\t-\t3\t-\t-\t-\n";
        match parse(text) {
            Err(CatalogError::Malformed { line, .. }) => assert_eq!(line, 6),
            other => panic!("expected a malformed-line error, got {:?}", other.err()),
        }
    }

    #[test]
    fn services_cut_into_pieces_parse_as_one_and_errors_keep_their_line() {
        let service = |prefix: &str| {
            format!(
                "S\t{prefix}\tService {prefix}\nR\tthing\nC\n\
                     A\tGetThing\tR\t-\t0\t-\t-\t-\nA\tListThings\tL\t-\t-\t-\t-\t-\n"
            )
        };
        let body: String = ["a", "b", "c", "d", "e"].map(service).concat();
        let pieces = service_pieces(&body, 3, 3);
        assert_eq!(pieces.len(), 3, "{pieces:?}");
        assert_eq!(pieces.iter().map(|p| p.1).collect::<String>(), body);
        for (line, piece) in &pieces {
            assert!(piece.starts_with("S\t"), "{piece:?}");
            // The line each starts on is the line of its text in the whole body.
            assert_eq!(body.lines().nth(line - 3), piece.lines().next());
        }
        let text = format!("{HEADER}\nsource test 1\n{body}");
        let names = |p: &Parsed| -> Vec<String> {
            p.services
                .iter()
                .flat_map(|s| s.actions.iter().map(|a| a.name().to_string()))
                .collect()
        };
        let parsed = parse(&text).expect("valid catalog text");
        assert_eq!(names(&parsed).len(), 10);
        assert_eq!(names(&parsed)[9], "e:ListThings");
        // A bad reference at the end of the last service, in the last piece: after the header's 2
        // lines and 5 services of 5 lines.
        let broken = format!("{text}A\tBad\tR\t-\t7\t-\t-\t-\n");
        match parse(&broken) {
            Err(CatalogError::Malformed { line, .. }) => assert_eq!(line, 2 + 5 * 5 + 1),
            other => panic!("expected a malformed-line error, got {:?}", other.err()),
        }
    }

    #[test]
    fn rejects_an_unknown_header() {
        assert!(matches!(
            parse("iamtrim-catalog 1\n"),
            Err(CatalogError::Malformed { line: 1, .. })
        ));
    }
}
