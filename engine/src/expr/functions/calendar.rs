//! Civil-calendar arithmetic on epoch days and microseconds (proleptic Gregorian, no time zone),
//! branch-light integer code so per-row loops over timestamp buffers stay fast; chrono is used
//! only where names or ISO weeks are needed. The day/civil conversions are Howard Hinnant's
//! `days_from_civil`/`civil_from_days` algorithms.

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;
pub const MICROS_PER_HOUR: i64 = 60 * MICROS_PER_MINUTE;
pub const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// Days since 1970-01-01 of the civil date `year-month-day` (month 1..=12; any day, so a day
/// past the month's end rolls over).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of `days` since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The epoch day of `micros` (floored, so instants before 1970 fall on the right day).
pub fn day_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

/// `micros` moved by `months` calendar months; a day past the end of the target month is clamped
/// to its last day (2019-01-31 + 1 month = 2019-02-28), as Redshift, PostgreSQL and Presto do.
/// `None` when the result leaves the representable range.
pub fn add_months(micros: i64, months: i64) -> Option<i64> {
    let days = day_of(micros);
    let time = micros - days * MICROS_PER_DAY;
    let (year, month, day) = civil_from_days(days);
    let index = year.checked_mul(12)?.checked_add(month as i64 - 1)?.checked_add(months)?;
    let (y, m) = (index.div_euclid(12), (index.rem_euclid(12) + 1) as u32);
    if !(-262_000..=262_000).contains(&y) {
        return None;
    }
    let d = day.min(days_in_month(y, m));
    days_from_civil(y, m, d).checked_mul(MICROS_PER_DAY)?.checked_add(time)
}

/// The month ordinal `year * 12 + month - 1` of `micros`, for counting month boundaries.
pub fn month_index(micros: i64) -> i64 {
    let (year, month, _) = civil_from_days(day_of(micros));
    year * 12 + month as i64 - 1
}

/// 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday).
pub fn weekday_from_sunday(days: i64) -> u32 {
    (days + 4).rem_euclid(7) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 59, 365, 10_957, 18_262, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(weekday_from_sunday(0), 4);
    }

    #[test]
    fn months_clamp_to_month_end() {
        let at = |y, m, d| days_from_civil(y, m, d) * MICROS_PER_DAY;
        assert_eq!(add_months(at(2019, 1, 31), 1), Some(at(2019, 2, 28)));
        assert_eq!(add_months(at(2020, 1, 31), 1), Some(at(2020, 2, 29)));
        assert_eq!(add_months(at(2020, 3, 31), -1), Some(at(2020, 2, 29)));
        assert_eq!(add_months(at(2016, 2, 29), 12), Some(at(2017, 2, 28)));
        assert_eq!(add_months(at(2019, 12, 15) + 5, 1), Some(at(2020, 1, 15) + 5));
        assert_eq!(add_months(0, i64::MAX), None);
    }
}
