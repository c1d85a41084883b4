//! Where CloudTrail puts its files, and the time window: which files to read before opening any.
//!
//! Owns [`classify_key`] (the S3 delivery layout `AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/
//! YYYY/MM/DD/<file>.json.gz`, digests, non-log files) and [`ScanWindow`] (the window as sortable
//! UTC timestamps). It does not read files.

/// What a file path (or S3 key) is, judged from its name alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// A log file; `day` is `YYYY-MM-DD` when the path follows the delivery layout.
    Log {
        /// Delivery day from the path, when known.
        day: Option<String>,
    },
    /// A `CloudTrail-Digest` integrity file: no events.
    Digest,
    /// A `CloudTrail-Insight` file: anomaly summaries, not API calls.
    Insight,
    /// Not a JSON log (other extension).
    Other,
}

/// Classifies a `/`-separated path or S3 key.
pub fn classify_key(key: &str) -> KeyKind {
    let parts: Vec<&str> = key.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    let Some(file) = parts.last() else {
        return KeyKind::Other;
    };
    if parts.iter().any(|p| p.contains("CloudTrail-Digest")) {
        return KeyKind::Digest;
    }
    if parts.iter().any(|p| p.contains("CloudTrail-Insight")) {
        return KeyKind::Insight;
    }
    let lower = file.to_ascii_lowercase();
    let is_log = [".json", ".json.gz", ".jsonl", ".jsonl.gz"]
        .iter()
        .any(|ext| lower.ends_with(ext));
    if !is_log {
        return KeyKind::Other;
    }
    // `.../CloudTrail/<region>/YYYY/MM/DD/<file>`; the org-trail layout only adds a level before it.
    let day = parts
        .iter()
        .rposition(|p| *p == "CloudTrail")
        .filter(|&i| i + 5 < parts.len())
        .and_then(|i| day_of(parts[i + 2], parts[i + 3], parts[i + 4]));
    KeyKind::Log { day }
}

/// What to do with a folder (an S3 prefix ending in `/`, or a directory) before listing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderKind {
    /// List it: it may hold logs of the window.
    List,
    /// A year, month or day folder of the delivery layout (`CloudTrail/<region>/YYYY/MM/DD/`)
    /// whose days are all outside the window.
    OutsideWindow,
    /// A `CloudTrail-Digest` or `CloudTrail-Insight` folder: every file in it is skipped.
    NoEvents,
}

/// Classifies a `/`-separated folder path (S3 prefix or directory), so that folders whose every
/// file [`classify_key`] and the window would skip are not listed at all.
///
/// A digest or insight folder is left out exactly as its files would be. A year, month or day
/// folder outside the window is left out whatever it holds: CloudTrail writes files only in day
/// folders, so what else such a folder may hold (a file with no day in its path, a deeper folder
/// also named `CloudTrail`) is not a delivered log.
pub fn classify_folder(path: &str, window: Option<&ScanWindow>) -> FolderKind {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|p| !p.is_empty()).collect();
    if parts
        .iter()
        .any(|p| p.contains("CloudTrail-Digest") || p.contains("CloudTrail-Insight"))
    {
        return FolderKind::NoEvents;
    }
    let Some(window) = window else {
        return FolderKind::List;
    };
    let Some(i) = parts.iter().rposition(|p| *p == "CloudTrail") else {
        return FolderKind::List;
    };
    // The window's first and last delivery days, compared on as many characters as the folder
    // names (a year, a month, a day).
    let (first, last) = (&window.start[..10], &window.end[..10]);
    let outside = match parts.get(i + 2..) {
        Some([y]) if digits(y, 4) => **y < first[..4] || **y > last[..4],
        Some([y, m]) if digits(y, 4) && digits(m, 2) => {
            let month = format!("{y}-{m}");
            *month < first[..7] || *month > last[..7]
        }
        Some([y, m, d]) => day_of(y, m, d).is_some_and(|day| !window.may_hold_day(&day)),
        _ => false,
    };
    match outside {
        true => FolderKind::OutsideWindow,
        false => FolderKind::List,
    }
}

/// `YYYY`, `MM`, `DD` folder names as `YYYY-MM-DD`, when they have that shape.
fn day_of(y: &str, m: &str, d: &str) -> Option<String> {
    (digits(y, 4) && digits(m, 2) && digits(d, 2)).then(|| format!("{y}-{m}-{d}"))
}

/// `s` is `n` ASCII digits.
fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// The scan window as `YYYY-MM-DDTHH:MM:SS` keys, which sort like the instants they name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanWindow {
    /// Inclusive start, RFC 3339 UTC (`...Z`).
    pub start: String,
    /// Exclusive end, RFC 3339 UTC (`...Z`).
    pub end: String,
}

impl ScanWindow {
    /// Parses `YYYY-MM-DD` or RFC 3339 UTC bounds; `None` when a bound is malformed or end <= start.
    pub fn parse(start: &str, end: &str) -> Option<Self> {
        let (start, end) = (normalize_bound(start)?, normalize_bound(end)?);
        (start < end).then_some(ScanWindow { start, end })
    }

    /// True when an event at `event_time` (RFC 3339 UTC) falls in the window.
    pub fn contains_time(&self, event_time: &str) -> bool {
        let key = sort_key(event_time);
        key >= sort_key(&self.start) && key < sort_key(&self.end)
    }

    /// True when a delivery-day folder may hold events of the window.
    ///
    /// A file is delivered up to about 15 minutes after its events, so the day the window ends
    /// is kept too; the records' own times decide.
    pub fn may_hold_day(&self, day: &str) -> bool {
        day >= &self.start[..10] && day <= &self.end[..10]
    }
}

/// `2024-01-05` -> `2024-01-05T00:00:00Z`; RFC 3339 UTC passes through without fractions.
fn normalize_bound(bound: &str) -> Option<String> {
    let b = bound.trim().as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_digit());
    let date_ok = b.len() >= 10
        && [0, 1, 2, 3, 5, 6, 8, 9].iter().all(|&i| digit(i))
        && b[4] == b'-'
        && b[7] == b'-';
    if !date_ok {
        return None;
    }
    let date = &bound.trim()[..10];
    if b.len() == 10 {
        return Some(format!("{date}T00:00:00Z"));
    }
    let time_ok = b.len() >= 20
        && (b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        && [11, 12, 14, 15, 17, 18].iter().all(|&i| digit(i))
        && b[13] == b':'
        && b[16] == b':';
    // Only UTC (`Z`): other offsets would need calendar arithmetic to compare with eventTime.
    let utc = matches!(b.last(), Some(b'Z' | b'z'));
    let fraction_ok = b[19..b.len() - 1].iter().enumerate().all(|(i, c)| {
        if i == 0 {
            *c == b'.'
        } else {
            c.is_ascii_digit()
        }
    });
    (time_ok && utc && fraction_ok).then(|| format!("{date}T{}Z", &bound.trim()[11..19]))
}

/// The first 19 bytes of an RFC 3339 time (`YYYY-MM-DDTHH:MM:SS`), enough to order UTC instants.
fn sort_key(time: &str) -> &str {
    time.get(..19).unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_layout_gives_the_day() {
        assert_eq!(
            classify_key(
                "AWSLogs/111111111111/CloudTrail/eu-central-1/2024/03/05/111111111111_CloudTrail_eu-central-1_20240305T1505Z_abc.json.gz"
            ),
            KeyKind::Log {
                day: Some("2024-03-05".into())
            }
        );
        assert_eq!(
            classify_key(
                "prefix/AWSLogs/o-abc123/111111111111/CloudTrail/us-east-1/2024/03/05/x.json"
            ),
            KeyKind::Log {
                day: Some("2024-03-05".into())
            }
        );
        assert_eq!(
            classify_key("loose/events.jsonl"),
            KeyKind::Log { day: None }
        );
    }

    #[test]
    fn digests_insights_and_other_files_are_not_logs() {
        assert_eq!(
            classify_key(
                "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2024/03/05/x_CloudTrail-Digest_y.json.gz"
            ),
            KeyKind::Digest
        );
        assert_eq!(
            classify_key("AWSLogs/1/CloudTrail-Insight/us-east-1/2024/03/05/x.json.gz"),
            KeyKind::Insight
        );
        assert_eq!(
            classify_key("AWSLogs/1/CloudTrail/README.md"),
            KeyKind::Other
        );
    }

    #[test]
    fn folders_left_out_are_those_whose_files_would_be() {
        let w = ScanWindow::parse("2024-03-01", "2024-03-05T12:00:00Z").expect("valid");
        let kind = |path: &str| classify_folder(path, Some(&w));
        let root = "logs/AWSLogs/o-abc/111111111111/CloudTrail/us-east-1";
        assert_eq!(
            kind(&format!("{root}/2024/02/29/")),
            FolderKind::OutsideWindow
        );
        assert_eq!(
            kind(&format!("{root}/2024/03/06")),
            FolderKind::OutsideWindow
        );
        for inside in [
            "2024/03/01/",
            "2024/03/05/",
            "2024/",
            "2024/03/",
            "2024/03/5/",
        ] {
            assert_eq!(
                kind(&format!("{root}/{inside}")),
                FolderKind::List,
                "{inside}"
            );
        }
        // Deeper than a day folder, or not under `CloudTrail/<region>/`: listed.
        assert_eq!(kind(&format!("{root}/2024/02/29/x/")), FolderKind::List);
        assert_eq!(
            kind("AWSLogs/1/Other/us-east-1/2024/02/29/"),
            FolderKind::List
        );
        assert_eq!(
            classify_folder(&format!("{root}/2024/02/29/"), None),
            FolderKind::List
        );
        for no_events in [
            "AWSLogs/1/CloudTrail-Digest/",
            "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/03/02/",
            "AWSLogs/1/CloudTrail-Insight/us-east-1/",
        ] {
            assert_eq!(kind(no_events), FolderKind::NoEvents, "{no_events}");
            assert_eq!(classify_folder(no_events, None), FolderKind::NoEvents);
        }
        // Whatever a left-out folder holds, the files' own classification would skip it too.
        assert_eq!(kind(&format!("{root}/2023/")), FolderKind::OutsideWindow);
        assert_eq!(kind(&format!("{root}/2025/")), FolderKind::OutsideWindow);
        assert_eq!(kind(&format!("{root}/2024/02/")), FolderKind::OutsideWindow);
        assert_eq!(kind(&format!("{root}/2024/04/")), FolderKind::OutsideWindow);
        // Not shaped like the layout: listed.
        for odd in ["20x4/", "2024/3/", "2023/3/01/", "y/"] {
            assert_eq!(kind(&format!("{root}/{odd}")), FolderKind::List, "{odd}");
        }
        for (folder, file) in [
            (
                format!("{root}/2023/"),
                "12/31/111111111111_CloudTrail_us-east-1_x.json.gz",
            ),
            (
                format!("{root}/2024/04/"),
                "01/111111111111_CloudTrail_us-east-1_x.json.gz",
            ),
            (
                format!("{root}/2024/02/29/"),
                "111111111111_CloudTrail_us-east-1_x.json.gz",
            ),
            (
                "AWSLogs/1/CloudTrail-Digest/us-east-1/".to_string(),
                "2024/03/02/d.json.gz",
            ),
            (
                "AWSLogs/1/CloudTrail-Insight/".to_string(),
                "us-east-1/2024/03/02/i.json.gz",
            ),
        ] {
            let key = format!("{folder}{file}");
            let skipped = match classify_key(&key) {
                KeyKind::Log { day: Some(day) } => !w.may_hold_day(&day),
                KeyKind::Log { day: None } => false,
                KeyKind::Digest | KeyKind::Insight | KeyKind::Other => true,
            };
            assert!(skipped, "{key}");
        }
    }

    #[test]
    fn window_bounds_accept_dates_and_utc_times() {
        let w = ScanWindow::parse("2024-03-01", "2024-03-05T12:00:00.5Z").expect("valid");
        assert_eq!(w.start, "2024-03-01T00:00:00Z");
        assert_eq!(w.end, "2024-03-05T12:00:00Z");
        assert!(w.contains_time("2024-03-01T00:00:00Z"));
        assert!(w.contains_time("2024-03-05T11:59:59Z"));
        assert!(!w.contains_time("2024-03-05T12:00:00Z"));
        assert!(!w.contains_time("2024-02-29T23:59:59Z"));
        assert!(w.may_hold_day("2024-03-05"));
        assert!(!w.may_hold_day("2024-03-06"));
        assert!(!w.may_hold_day("2024-02-29"));
        assert_eq!(ScanWindow::parse("2024-03-05", "2024-03-01"), None);
        assert_eq!(
            ScanWindow::parse("2024-03-01T00:00:00+02:00", "2024-03-05"),
            None
        );
        assert_eq!(ScanWindow::parse("yesterday", "2024-03-05"), None);
    }
}
