//! Unix seconds to an ISO 8601 UTC timestamp (`2026-11-26T03:37:26Z`), ThingSpeak's
//! `created_at` format, without a date-time library.

/// Length of `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) const ISO8601_LEN: usize = 20;

/// Formats `unix_seconds` as `YYYY-MM-DDTHH:MM:SSZ`. Years past 9999 are clamped to
/// 9999-12-31T23:59:59Z so the text keeps its fixed width.
pub(crate) fn iso8601(unix_seconds: u64) -> [u8; ISO8601_LEN] {
    // 9999-12-31T23:59:59Z
    const MAX: u64 = 253_402_300_799;
    let secs = unix_seconds.min(MAX);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00Z";
    put(&mut out[0..4], u64::from(year));
    put(&mut out[5..7], u64::from(month));
    put(&mut out[8..10], u64::from(day));
    put(&mut out[11..13], rem / 3600);
    put(&mut out[14..16], rem % 3600 / 60);
    put(&mut out[17..19], rem % 60);
    out
}

/// Writes `value` as zero-padded decimal digits filling `slot`.
fn put(slot: &mut [u8], mut value: u64) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`, restricted to non-negative days).
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + u64::from(month <= 2)) as u32;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(&iso8601(0), b"1970-01-01T00:00:00Z");
        assert_eq!(&iso8601(951_782_400), b"2000-02-29T00:00:00Z");
        assert_eq!(&iso8601(1_795_667_846), b"2026-11-26T04:37:26Z");
        assert_eq!(&iso8601(u64::MAX), b"9999-12-31T23:59:59Z");
    }
}
