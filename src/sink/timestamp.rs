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
    // Days in 32 bits (no 64-bit division, a library call on a 32-bit MCU): 86 400 is
    // 128 × 675 and secs / 128 < 2^31, so ⌊⌊secs / 128⌋ / 675⌋ = ⌊secs / 86 400⌋.
    let days = (secs >> 7) as u32 / 675;
    let rem = (secs - u64::from(days) * 86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00Z";
    put(&mut out[0..4], year);
    put(&mut out[5..7], month);
    put(&mut out[8..10], day);
    put(&mut out[11..13], rem / 3600);
    put(&mut out[14..16], rem % 3600 / 60);
    put(&mut out[17..19], rem % 60);
    out
}

/// Writes `value` as zero-padded decimal digits filling `slot`. Out of line: one loop for
/// the six fields instead of six unrolled copies (about 250 bytes of flash).
#[inline(never)]
fn put(slot: &mut [u8], mut value: u32) {
    for digit in slot.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`, restricted to non-negative days up to year 9999, so every
/// intermediate fits 32 bits).
fn civil_from_days(days: u32) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u32::from(month <= 2);
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
        assert_eq!(&iso8601(253_402_300_799), b"9999-12-31T23:59:59Z");
        assert_eq!(&iso8601(4_294_967_296), b"2106-02-07T06:28:16Z");
    }

    /// The 32-bit arithmetic against a plain 64-bit day count, a day at a time through
    /// leap years and centuries, and at the edges of every day.
    #[test]
    fn days_and_seconds_agree_with_64_bit_division() {
        for day in (0u64..2_932_897).step_by(97).chain([0, 1, 2_932_896]) {
            for secs in [day * 86_400, day * 86_400 + 86_399] {
                let text = iso8601(secs);
                let hms = secs % 86_400;
                let want = std::format!("{:02}:{:02}:{:02}", hms / 3600, hms % 3600 / 60, hms % 60);
                assert_eq!(&text[11..19], want.as_bytes(), "{secs}");
                let (y, m, d) = civil_from_days(day as u32);
                let date = std::format!("{y:04}-{m:02}-{d:02}");
                assert_eq!(&text[..10], date.as_bytes(), "{secs}");
            }
        }
    }
}
