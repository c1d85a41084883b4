//! Parsing a large plan's big sections (`planned_values`, `resource_changes`, `prior_state`) on
//! separate threads.
//!
//! `terraform show -json` writes each section as one value of a top-level key. A byte search finds
//! where `"planned_values":` and `"resource_changes":` first appear, and `"prior_state":` last
//! appears (it comes after the other two, so that search runs from the end), after a `,` or `{` (a
//! `"` right after a `,` or `{` can never be inside a string, so such a match is always an object
//! key, but maybe a nested one). Each section is parsed from there by its own deserializer as exactly one JSON value, and the
//! rest of the document (the *skeleton*: the text with each section replaced by a placeholder) is
//! parsed as a [`Plan`] and checked to hold every placeholder as the value of its top-level key, once.
//! Only then is the result the one the sequential parse gives; anything that does not check out
//! returns `None`, and the caller parses the whole text sequentially, which also words any error.
//!
//! It does not decode, validate UTF-8 or check versions: [`super::load`] does.

use super::model::{Attributes, Plan, ResourceChanges, State, Values, ValuesModule};
use serde::de::DeserializeOwned;

/// Below this size the sequential parse is already quick and splitting does not pay.
pub(super) const MIN_SPLIT_BYTES: usize = 1 << 20;

/// Module nesting beyond this falls back: a section parsed on its own starts one level shallower
/// than in the whole document, so only a tree well inside serde_json's recursion limit (128) is
/// known to parse the same both ways.
const MAX_MODULE_DEPTH: usize = 32;

/// A section's value, parsed on its own.
enum Parsed {
    PlannedValues(Option<Values>),
    ResourceChanges(ResourceChanges),
    PriorState(Option<State>),
}

/// A parsed section: where its value starts and ends in the text, which section, the value.
type ParsedAt = (usize, usize, Section, Parsed);

/// One section to split out.
#[derive(Clone, Copy)]
struct Section {
    /// The top-level key.
    key: &'static str,
    /// What the skeleton holds instead of the value: it parses into the field's empty value.
    placeholder: &'static [u8],
    /// Searched for from the end of the text: Terraform writes `prior_state` after the other two
    /// sections, followed only by the configuration, so that search is short.
    from_end: bool,
}

const SECTIONS: [Section; 3] = [
    Section {
        key: "planned_values",
        placeholder: b"null",
        from_end: false,
    },
    Section {
        key: "resource_changes",
        placeholder: b"[]",
        from_end: false,
    },
    Section {
        key: "prior_state",
        placeholder: b"null",
        from_end: true,
    },
];

/// Parses `text` as a [`Plan`] with its big sections on separate threads, running `side` (the UTF-8
/// check) beside them. `Err(side)` when not worth trying (small text, one thread, fewer than two
/// sections found); `None` for the plan when anything about the split does not check out. Either way
/// the caller then parses sequentially.
pub(super) fn parse_split<R: Send, F: FnOnce() -> R + Send>(
    text: &[u8],
    side: F,
) -> Result<(R, Option<Plan>), F> {
    if text.len() < MIN_SPLIT_BYTES || rayon::current_num_threads() < 2 {
        return Err(side);
    }
    // The first two searches run from the start, the last from the end, beside them.
    let (front, back) = rayon::join(
        || [SECTIONS[0], SECTIONS[1]].map(|s| value_start(text, s)),
        || value_start(text, SECTIONS[2]),
    );
    let starts = [front[0], front[1], back];
    let found: Vec<(usize, Section)> = starts
        .iter()
        .zip(SECTIONS)
        .filter_map(|(start, s)| start.map(|at| (at, s)))
        .collect();
    if found.len() < 2 {
        return Err(side);
    }
    let (side_result, parsed) = run_balanced(text, &found, side);
    Ok((side_result, parsed.and_then(|p| assemble(text, p))))
}

/// Where the value of the first `"key":` (the last, for a section searched from the end) starts, if
/// it follows a `,` or `{`. Which match is taken does not matter for correctness: [`assemble`] checks
/// that it is the top-level key.
fn value_start(text: &[u8], section: Section) -> Option<usize> {
    let needle = format!("\"{}\":", section.key);
    let at = if section.from_end {
        rfind(text, needle.as_bytes())?
    } else {
        memchr::memmem::find(text, needle.as_bytes())?
    };
    let before = *text.get(at.checked_sub(1)?)?;
    (before == b',' || before == b'{').then_some(at + needle.len())
}

/// The last match of `needle`: the forward (vectorized) search over chunks taken from the end, since
/// `memmem::rfind` is several times slower per byte.
fn rfind(text: &[u8], needle: &[u8]) -> Option<usize> {
    const CHUNK: usize = 4 << 20;
    let finder = memchr::memmem::Finder::new(needle);
    let mut end = text.len();
    loop {
        // Chunks overlap by the needle's length less one, so a match across a boundary is found.
        let start = end.saturating_sub(CHUNK);
        let stop = (end + needle.len() - 1).min(text.len());
        if let Some(at) = finder.find_iter(&text[start..stop]).last() {
            return Some(start + at);
        }
        if start == 0 {
            return None;
        }
        end = start;
    }
}

/// Parses the sections (and runs `side`) in two groups of about equal work, one per thread.
fn run_balanced<R: Send>(
    text: &[u8],
    found: &[(usize, Section)],
    side: impl FnOnce() -> R + Send,
) -> (R, Option<Vec<ParsedAt>>) {
    // A section's size is about the distance to the next section (or the end).
    let mut by_start: Vec<(usize, Section)> = found.to_vec();
    by_start.sort_by_key(|(at, _)| *at);
    let sized: Vec<(usize, usize, Section)> = by_start
        .iter()
        .enumerate()
        .map(|(i, &(at, s))| {
            let next = by_start.get(i + 1).map_or(text.len(), |n| n.0);
            (next.saturating_sub(at), at, s)
        })
        .collect();
    // Largest first into the lighter group (longest processing time first); the UTF-8 check costs
    // about a tenth of a parse per byte. `None` stands for the side task.
    let mut items: Vec<(usize, Option<(usize, Section)>)> = sized
        .into_iter()
        .map(|(size, at, s)| (size, Some((at, s))))
        .collect();
    items.push((text.len() / 10, None));
    items.sort_by_key(|item| std::cmp::Reverse(item.0));
    let (mut left, mut right) = (Vec::new(), Vec::new());
    let (mut left_load, mut right_load, mut side_left) = (0usize, 0usize, true);
    for (size, item) in items {
        let to_left = left_load <= right_load;
        match item {
            Some(section) if to_left => left.push(section),
            Some(section) => right.push(section),
            None => side_left = to_left,
        }
        *(if to_left {
            &mut left_load
        } else {
            &mut right_load
        }) += size;
    }
    let parse_group = |group: &[(usize, Section)]| -> Option<Vec<ParsedAt>> {
        group
            .iter()
            .map(|&(at, s)| parse_section(text, at, s))
            .collect()
    };
    let (side_l, side_r) = if side_left {
        (Some(side), None)
    } else {
        (None, Some(side))
    };
    let ((done_l, left), (done_r, right)) = rayon::join(
        || (side_l.map(|f| f()), parse_group(&left)),
        || (side_r.map(|f| f()), parse_group(&right)),
    );
    let Some(side_result) = done_l.or(done_r) else {
        unreachable!("the side task is in one group")
    };
    let parsed = left.zip(right).map(|(mut l, r)| {
        l.extend(r);
        l
    });
    (side_result, parsed)
}

/// Parses one section's value from `at`; (value start, value end, section, value).
fn parse_section(text: &[u8], at: usize, section: Section) -> Option<ParsedAt> {
    let parsed = match section.key {
        "planned_values" => {
            let (v, end) = parse_one::<Option<Values>>(text, at)?;
            (end, Parsed::PlannedValues(v))
        }
        "resource_changes" => {
            let (v, end) = parse_one::<ResourceChanges>(text, at)?;
            (end, Parsed::ResourceChanges(v))
        }
        _ => {
            let (v, end) = parse_one::<Option<State>>(text, at)?;
            (end, Parsed::PriorState(v))
        }
    };
    Some((at, parsed.0, section, parsed.1))
}

/// One JSON value from `at`, and the offset just past it.
fn parse_one<T: DeserializeOwned>(text: &[u8], at: usize) -> Option<(T, usize)> {
    let mut stream = serde_json::Deserializer::from_slice(text.get(at..)?).into_iter::<T>();
    let value = stream.next()?.ok()?;
    Some((value, at + stream.byte_offset()))
}

/// Parses the skeleton, checks where each placeholder landed, and puts the sections in.
fn assemble(text: &[u8], mut parsed: Vec<ParsedAt>) -> Option<Plan> {
    parsed.sort_by_key(|p| p.0);
    let mut skeleton = Vec::new();
    let mut copied = 0;
    let mut placeholders = Vec::with_capacity(parsed.len());
    for (start, end, section, _) in &parsed {
        // Sections must not overlap (a nested match would, or would fail to parse).
        skeleton.extend_from_slice(text.get(copied..*start)?);
        placeholders.push((section.key, skeleton.len(), section.placeholder));
        skeleton.extend_from_slice(section.placeholder);
        copied = *end;
    }
    skeleton.extend_from_slice(text.get(copied..)?);
    // Each placeholder must be the value of its key in the top-level object, and the key appear once.
    let top = Attributes::parse_slice(&skeleton)?;
    for (key, offset, placeholder) in &placeholders {
        let mut values = top.raw_all(key);
        let raw = values.next()?;
        let here = raw.get().as_ptr() as usize - skeleton.as_ptr() as usize;
        if values.next().is_some() || here != *offset || raw.get().as_bytes() != *placeholder {
            return None;
        }
    }
    let mut plan: Plan = serde_json::from_slice(&skeleton).ok()?;
    for (_, _, _, value) in parsed {
        match value {
            Parsed::PlannedValues(v) => plan.planned_values = v,
            Parsed::ResourceChanges(v) => plan.resource_changes = v,
            Parsed::PriorState(v) => plan.prior_state = v,
        }
    }
    let deep = |v: Option<&Values>| {
        v.and_then(|v| v.root_module.as_ref())
            .is_some_and(|m| module_depth(m, 0) > MAX_MODULE_DEPTH)
    };
    if deep(plan.planned_values.as_ref())
        || deep(plan.prior_state.as_ref().and_then(|s| s.values.as_ref()))
    {
        return None;
    }
    Some(plan)
}

/// How deep child modules nest below `module`, stopping once past the limit.
fn module_depth(module: &ValuesModule, depth: usize) -> usize {
    if depth > MAX_MODULE_DEPTH {
        return depth;
    }
    module
        .child_modules
        .iter()
        .map(|c| module_depth(c, depth + 1))
        .max()
        .unwrap_or(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sections parsed apart, forced on small text; `None` when the split falls back.
    fn split(text: &str) -> Option<Plan> {
        let text = text.as_bytes();
        let starts = SECTIONS.map(|s| value_start(text, s));
        let found: Vec<(usize, Section)> = starts
            .iter()
            .zip(SECTIONS)
            .filter_map(|(start, s)| start.map(|at| (at, s)))
            .collect();
        let parsed = found
            .iter()
            .map(|&(at, s)| parse_section(text, at, s))
            .collect::<Option<Vec<_>>>()?;
        assemble(text, parsed)
    }

    fn sequential(text: &str) -> Option<Plan> {
        serde_json::from_str(text).ok()
    }

    const RC: &str = r#"[{"address":"aws_iam_role.r","mode":"managed","type":"aws_iam_role","name":"r","change":{"actions":["create"],"before":null,"after":{"name":"x"}}},{"address":"aws_s3_bucket.b","type":"aws_s3_bucket","name":"b","index":"k","change":{"actions":["no-op"],"before":{"bucket":"b"}}}]"#;
    const PV: &str = r#"{"root_module":{"resources":[{"address":"data.aws_iam_policy_document.d","mode":"data","type":"aws_iam_policy_document","name":"d","values":{"json":"{}"}}],"child_modules":[{"address":"module.m","resources":[]}]}}"#;
    const PS: &str = r#"{"format_version":"1.0","values":{"root_module":{"resources":[{"address":"aws_iam_user.u","mode":"managed","type":"aws_iam_user","name":"u","values":{"name":"u"}}]}}}"#;

    #[test]
    fn same_plan_as_the_sequential_parse() {
        let texts = [
            format!(
                r#"{{"format_version":"1.2","variables":{{"v":{{"value":"x"}}}},"planned_values":{PV},"resource_changes":{RC},"prior_state":{PS},"configuration":{{"root_module":{{}}}}}}"#
            ),
            // Another key order, whitespace, and a section first.
            format!(
                r#"{{"prior_state": {PS} ,"resource_changes":{RC},"format_version":"1.2","planned_values":
                {PV}}}"#
            ),
            r#"{"planned_values":null,"resource_changes":[],"format_version":"1.1"}"#.to_string(),
            // resource_drift stays in the skeleton.
            format!(
                r#"{{"format_version":"1.2","resource_drift":{RC},"resource_changes":{RC},"prior_state":{PS}}}"#
            ),
        ];
        for text in &texts {
            let split = split(text).unwrap_or_else(|| panic!("split fell back: {text}"));
            assert_eq!(
                format!("{split:?}"),
                format!("{:?}", sequential(text).unwrap()),
                "{text}"
            );
        }
    }

    #[test]
    fn falls_back_when_anything_does_not_check_out() {
        let texts = [
            // The first match is nested in another value.
            format!(
                r#"{{"format_version":"1.2","variables":{{"planned_values":{PV},"resource_changes":[]}},"planned_values":{PV},"resource_changes":{RC}}}"#
            ),
            // A key twice: the sequential parse rejects it.
            format!(
                r#"{{"format_version":"1.2","planned_values":{PV},"resource_changes":{RC},"resource_changes":[]}}"#
            ),
            format!(
                r#"{{"format_version":"1.2","planned_values":{PV},"resource_changes":{RC},"resource_\u0063hanges":[]}}"#
            ),
            // Wrong types, truncation, trailing garbage, not an object.
            format!(r#"{{"format_version":"1.2","planned_values":{PV},"resource_changes":null}}"#),
            format!(r#"{{"format_version":"1.2","planned_values":{PV},"resource_changes":{RC}"#),
            format!(r#"{{"format_version":"1.2","planned_values":{PV},"resource_changes":{RC}}}x"#),
            format!(r#"["planned_values":{PV},"resource_changes":{RC}]"#),
            format!(r#"{{"format_version":"1.2","planned_values":{PV}"resource_changes":{RC}}}"#),
        ];
        for text in &texts {
            let ok = sequential(text);
            match split(text) {
                None => {}
                Some(p) => assert_eq!(
                    Some(format!("{p:?}")),
                    ok.map(|o| format!("{o:?}")),
                    "{text}"
                ),
            }
        }
        // A nested match that parses on its own must still not be taken for the top-level key.
        let nested = format!(
            r#"{{"format_version":"1.2","variables":{{"x":{{"planned_values":{PV},"resource_changes":{RC}}}}},"planned_values":null}}"#
        );
        assert!(split(&nested).is_none());
    }

    #[test]
    fn a_large_plan_parses_in_parallel_as_sequentially() {
        let change = |i: usize| {
            format!(
                r#"{{"address":"aws_s3_bucket.b[{i}]","type":"aws_s3_bucket","name":"b","index":{i},"change":{{"actions":["create"],"after":{{"bucket":"{}"}}}}}}"#,
                "x".repeat(200)
            )
        };
        let changes: Vec<String> = (0..6000).map(change).collect();
        let text = format!(
            r#"{{"format_version":"1.2","planned_values":{PV},"resource_changes":[{}],"prior_state":{PS},"configuration":{{}}}}"#,
            changes.join(",")
        );
        assert!(text.len() >= MIN_SPLIT_BYTES);
        let sequential = format!("{:?}", sequential(&text).unwrap());
        match parse_split(text.as_bytes(), || 7) {
            Ok((side, Some(plan))) => {
                assert_eq!(side, 7);
                assert_eq!(format!("{plan:?}"), sequential);
            }
            Ok((_, None)) => panic!("the split fell back"),
            Err(_) => assert!(rayon::current_num_threads() < 2, "the split was not tried"),
        }
    }

    #[test]
    fn finds_the_last_match_across_chunk_boundaries() {
        let needle = b"\"prior_state\":";
        for len in [0usize, 5, 100, (4 << 20) - 3, (4 << 20) + 7, (9 << 20) + 1] {
            for at in [0, 1, len / 2, len.saturating_sub(needle.len() + 1)] {
                let mut text = vec![b'x'; len];
                if at + needle.len() <= len {
                    text[at..at + needle.len()].copy_from_slice(needle);
                }
                assert_eq!(
                    rfind(&text, needle),
                    memchr::memmem::rfind(&text, needle),
                    "{len} {at}"
                );
            }
        }
        let mut text = vec![b'x'; 9 << 20];
        for at in [3, 4 << 20, (8 << 20) - 5] {
            text[at..at + needle.len()].copy_from_slice(needle);
        }
        assert_eq!(rfind(&text, needle), Some((8 << 20) - 5));
    }

    #[test]
    fn deep_module_trees_fall_back() {
        let mut module = String::from(r#"{"resources":[]}"#);
        for _ in 0..=MAX_MODULE_DEPTH {
            module = format!(r#"{{"child_modules":[{module}]}}"#);
        }
        let text = format!(
            r#"{{"format_version":"1.2","planned_values":{{"root_module":{module}}},"resource_changes":{RC}}}"#
        );
        assert!(sequential(&text).is_some());
        assert!(split(&text).is_none());
    }
}
