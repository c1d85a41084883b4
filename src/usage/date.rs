//! Calendar dates, the one civil-date conversion of the crate: a [`Date`] is a day number (days since
//! 1970-01-01, proleptic Gregorian, UTC), printed and parsed as `YYYY-MM-DD`. Usage windows, log
//! windows and the minimizer's "how many days of usage" all count days with it.
//!
//! Instants with a time of day (RFC 3339) stay with the AWS SDK's `DateTime`
//! (`crate::usage::cache::rfc3339`); this module only knows days.

use std::fmt;
use std::time::SystemTime;

/// A UTC calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Days since 1970-01-01.
    days: i64,
}

impl Date {
    /// The date `days` days after 1970-01-01 (before it when negative).
    pub fn from_day_number(days: i64) -> Date {
        Date { days }
    }

    /// Days since 1970-01-01.
    pub fn day_number(self) -> i64 {
        self.days
    }

    /// The UTC date of `t` (1970-01-01 for a time before it).
    pub fn of(t: SystemTime) -> Date {
        let secs = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date {
            days: i64::try_from(secs / 86_400).unwrap_or(i64::MAX),
        }
    }

    /// The date of `year-month-day`; `None` for a month outside 1-12 or a day outside 1-31 (a day
    /// past the month's end rolls over, as the civil formula does).
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let (m, d) = (i64::from(month), i64::from(day));
        // Howard Hinnant's days_from_civil: years start in March, so leap days come last.
        let y = if m <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (m + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Some(Date {
            days: era * 146_097 + doe - 719_468,
        })
    }

    /// `(year, month, day)`: Howard Hinnant's civil_from_days.
    pub fn ymd(self) -> (i64, u32, u32) {
        let z = self.days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        // Both are in range by construction (1..=31, 1..=12).
        (
            y,
            u32::try_from(m).unwrap_or(1),
            u32::try_from(d).unwrap_or(1),
        )
    }

    /// The date an RFC 3339 instant or a `YYYY-MM-DD` date starts with.
    pub fn parse_prefix(text: &str) -> Option<Date> {
        let date = text.get(..10)?;
        let mut parts = date.split('-');
        let y: i64 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let d: u32 = parts.next()?.parse().ok()?;
        Date::from_ymd(y, m, d)
    }

    /// `days` days later (earlier when negative).
    pub fn plus_days(self, days: i64) -> Date {
        Date {
            days: self.days.saturating_add(days),
        }
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        later.days - self.days
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_print() {
        assert_eq!(Date::from_day_number(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_day_number(20_422).to_string(), "2025-11-30");
        assert_eq!(Date::from_day_number(11_016).to_string(), "2000-02-29");
    }

    #[test]
    fn both_directions_agree_over_four_centuries() {
        // 1900 (not a leap year), 2000 (a leap year) and 2100 are all crossed.
        for days in -30_000..120_000 {
            let date = Date::from_day_number(days);
            let (y, m, d) = date.ymd();
            assert_eq!(Date::from_ymd(y, m, d), Some(date), "{date}");
            assert_eq!(Date::parse_prefix(&date.to_string()), Some(date));
        }
    }

    #[test]
    fn instants_and_bad_dates() {
        assert_eq!(
            Date::parse_prefix("2024-03-01T00:00:00Z").map(|d| d.to_string()),
            Some("2024-03-01".to_string())
        );
        assert_eq!(Date::parse_prefix("2024-13-01"), None);
        assert_eq!(Date::parse_prefix("2024-1"), None);
        let a = Date::parse_prefix("2024-02-01").unwrap();
        let b = Date::parse_prefix("2024-03-01").unwrap();
        assert_eq!(a.days_until(b), 29);
    }
}
