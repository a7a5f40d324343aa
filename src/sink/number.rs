//! Number formatting shared by the sinks: shortest round-trip ([`super::shortest`], whole
//! numbers included) and fixed decimals, written into the caller's buffer. No `core::fmt`, which is larger and
//! slower.

/// Largest number of fixed decimals a sink accepts.
pub const MAX_DECIMALS: u8 = 6;

/// `10^decimals` for 0..=MAX_DECIMALS; each is exact in an f32.
const SCALES: [f32; MAX_DECIMALS as usize + 1] = [1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6];

/// Scaled values below this magnitude round within i32 (2^31 ≈ 2.147e9), with margin.
const I32_SAFE: f32 = 2.0e9;

/// How a number is written.
pub(crate) enum Style {
    /// Shortest text that reads back as the same f32; whole numbers without a fraction.
    Shortest,
    /// Exactly this many decimals (0..=6), rounded half away from zero.
    Fixed(u8),
}

/// Why [`write`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// NaN or ±infinity, which no wire format here can carry.
    NonFinite,
    /// `out` is too short for the text.
    NoRoom,
}

/// Writes `value` in `style` at the start of `out` and returns its length: straight into the
/// caller's buffer, no stack buffer and no copy.
#[inline(always)]
pub(crate) fn write(value: f32, style: &Style, out: &mut [u8]) -> Result<usize, Refused> {
    if !value.is_finite() {
        return Err(Refused::NonFinite);
    }
    match *style {
        Style::Shortest => shortest(value, out),
        Style::Fixed(decimals) => fixed(value, decimals, out),
    }
}

use crate::decimal::{U32_DIGITS, U64_DIGITS, format_u32, format_u64};

/// The shortest text that reads back as `value` ([`super::shortest`]), whole numbers below
/// 2^24 without a fraction (`742`, and `-0.0` as `0`).
#[inline(always)]
fn shortest(value: f32, out: &mut [u8]) -> Result<usize, Refused> {
    super::shortest::write(value, out).ok_or(Refused::NoRoom)
}

/// `value` with `decimals` decimals, or its shortest form when it is too large for exact
/// fixed point. Out of line, like [`super::shortest::write`]: inlined into each caller only as
/// a call.
#[inline(never)]
fn fixed(value: f32, decimals: u8, out: &mut [u8]) -> Result<usize, Refused> {
    let decimals = decimals.min(MAX_DECIMALS);
    let scaled = value * SCALES[usize::from(decimals)];
    // Beyond 2^53 nothing is exact anyway; beyond i64 the cast saturates. Fall back to the
    // shortest form, which is exact, rather than print a wrong fixed-point number.
    if scaled.abs() >= 9.0e15 {
        return shortest(value, out);
    }
    // Round half away from zero without adding 0.5 in f32: above 2^23 an f32 cannot hold the
    // .5 and `x + 0.5` rounds to even, so 10132575.0 would become 10132576. Splitting off the
    // integer part is exact (the difference of two nearby f32 is representable). On a 32-bit
    // MCU 64-bit conversions and divisions are library calls that cost more than the digits
    // (and about 1 KB of flash): readings that fit 32 bits (nearly all) stay in 32 bits, and
    // larger ones are whole numbers taken from their bits (`fixed_large`).
    let written = if scaled.abs() >= I32_SAFE {
        fixed_large(scaled, decimals, out)
    } else {
        let truncated = scaled as i32;
        let fraction = (scaled - truncated as f32).abs();
        let rounded = match (fraction >= 0.5, scaled < 0.0) {
            (true, false) => truncated + 1,
            (true, true) => truncated - 1,
            (false, _) => truncated,
        };
        // The sign comes from the rounded number, so -0.001 at 2 decimals prints "0.00".
        let mut digits = [0u8; U32_DIGITS];
        let start = format_u32(rounded.unsigned_abs(), &mut digits);
        with_point(rounded < 0, &digits[start..], decimals, out)
    };
    written.ok_or(Refused::NoRoom)
}

/// Writes `-` if `negative`, then `digits` with a point before the last `decimals` of them,
/// padded with leading zeros to at least one digit before the point (`5` at 2 decimals is
/// `0.05`); its length, or `None` (nothing written) when `out` is too short.
fn with_point(negative: bool, digits: &[u8], decimals: u8, out: &mut [u8]) -> Option<usize> {
    let decimals = usize::from(decimals);
    let shown = digits.len().max(decimals + 1);
    let sign = usize::from(negative);
    let point = usize::from(decimals > 0);
    let len = sign + shown + point;
    let out = out.get_mut(..len)?;
    out[0] = b'-';
    // Right to left: digits, the point after `decimals` of them, then zeros to fill `shown`.
    let mut source = digits.iter().rev();
    let mut at = len;
    for i in 0..shown {
        if i == decimals && point != 0 {
            at -= 1;
            out[at] = b'.';
        }
        at -= 1;
        out[at] = source.next().copied().unwrap_or(b'0');
    }
    Some(len)
}

/// [`fixed`] of a scaled value from 2 × 10^9 up (below 9 × 10^15): such an `f32` is a whole
/// number (from 2^24 up it has no fraction bits), so no rounding, and its bits give the
/// integer without a 64-bit float conversion; its digits, at least 10, get the point put
/// before the last `decimals` of them, without a 64-bit division.
fn fixed_large(scaled: f32, decimals: u8, out: &mut [u8]) -> Option<usize> {
    let bits = scaled.abs().to_bits();
    // value = mantissa × 2^(exponent − 150), the exponent at least 150 + 7 here.
    let mantissa = u64::from((bits & 0x007F_FFFF) | 0x0080_0000);
    let shift = (bits >> 23).saturating_sub(150);
    let magnitude = mantissa << shift.min(40);
    let mut digits = [0u8; U64_DIGITS];
    let start = format_u64(magnitude, &mut digits);
    with_point(scaled < 0.0, &digits[start..], decimals, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(value: f32, style: &Style) -> Option<std::string::String> {
        let mut out = [0u8; 32];
        let len = write(value, style, &mut out).ok()?;
        Some(std::string::String::from_utf8(out[..len].to_vec()).unwrap())
    }

    #[test]
    fn a_short_buffer_is_refused() {
        assert_eq!(
            write(21.53, &Style::Shortest, &mut [0u8; 4]),
            Err(Refused::NoRoom)
        );
        assert_eq!(
            write(742.0, &Style::Shortest, &mut [0u8; 2]),
            Err(Refused::NoRoom)
        );
        assert_eq!(
            write(1.0e20, &Style::Shortest, &mut [0u8; 3]),
            Err(Refused::NoRoom)
        );
        assert_eq!(
            write(21.5, &Style::Fixed(2), &mut [0u8; 4]),
            Err(Refused::NoRoom)
        );
        // `1e20` fits exactly.
        assert_eq!(write(1.0e20, &Style::Shortest, &mut [0u8; 4]), Ok(4));
    }

    #[track_caller]
    fn check(value: f32, style: Style, expected: &str) {
        assert_eq!(format(value, &style).unwrap(), expected);
    }

    #[test]
    fn shortest_matches_micropython_ujson() {
        check(742.0, Style::Shortest, "742");
        check(21.53, Style::Shortest, "21.53");
        check(45.2, Style::Shortest, "45.2");
        check(-0.0, Style::Shortest, "0");
        check(-12.0, Style::Shortest, "-12");
        check(1.0e20, Style::Shortest, "1e20");
    }

    #[test]
    fn fixed_pads_and_rounds_half_away_from_zero() {
        check(21.5, Style::Fixed(2), "21.50");
        check(21.53, Style::Fixed(1), "21.5");
        check(-0.001, Style::Fixed(2), "0.00");
        check(-1.25, Style::Fixed(1), "-1.3");
        check(0.04, Style::Fixed(0), "0");
        check(101325.0, Style::Fixed(0), "101325");
        check(-0.5, Style::Fixed(3), "-0.500");
        // Above 2^23 / 100 an f32 cannot hold x.5: no round-to-even into the next integer.
        check(101_325.75, Style::Fixed(2), "101325.75");
        check(-101_325.75, Style::Fixed(2), "-101325.75");
        check(8_388_609.0, Style::Fixed(0), "8388609");
        check(2.5, Style::Fixed(0), "3");
        check(-2.5, Style::Fixed(0), "-3");
    }

    #[test]
    fn non_finite_is_refused() {
        assert!(format(f32::NAN, &Style::Shortest).is_none());
        assert!(format(f32::INFINITY, &Style::Fixed(2)).is_none());
        assert!(format(f32::NEG_INFINITY, &Style::Shortest).is_none());
    }

    /// Fixed decimals computed in 64 bits throughout, as the 32-bit fast path must match.
    fn fixed_in_64_bits(value: f32, decimals: u8) -> std::string::String {
        let scaled = value * 10i64.pow(u32::from(decimals)) as f32;
        let truncated = scaled as i64;
        let rounded = match ((scaled - truncated as f32).abs() >= 0.5, scaled < 0.0) {
            (true, false) => truncated + 1,
            (true, true) => truncated - 1,
            (false, _) => truncated,
        };
        let divisor = 10u64.pow(u32::from(decimals));
        let (int, frac) = (
            rounded.unsigned_abs() / divisor,
            rounded.unsigned_abs() % divisor,
        );
        let sign = if rounded < 0 { "-" } else { "" };
        match decimals {
            0 => std::format!("{sign}{int}"),
            d => std::format!("{sign}{int}.{frac:0width$}", width = usize::from(d)),
        }
    }

    #[test]
    fn fixed_is_the_same_on_both_sides_of_the_32_bit_range() {
        // Around 2^31 scaled (the end of the 32-bit path), 2^32, up to the end of fixed
        // point (9e15, past which the shortest form is written), and ordinary readings.
        let mut values = std::vec![21.53f32, 45.2, -1.75, 0.005, 101_325.0, 1.0e9, 4.0e9];
        for decimals in 0..=MAX_DECIMALS {
            let scale = 10f32.powi(i32::from(decimals));
            for edge in [
                2.0e9f32,
                2.147_483_6e9,
                4.294_967_3e9,
                1.0e12,
                3.3e14,
                8.9e15,
            ] {
                for step in [0.999f32, 1.0, 1.001] {
                    values.push(edge * step / scale);
                    values.push(-edge * step / scale);
                }
            }
        }
        for &value in &values {
            for decimals in 0..=MAX_DECIMALS {
                if (value * SCALES[usize::from(decimals)]).abs() >= 9.0e15 {
                    continue; // the shortest form: `huge_fixed_falls_back_to_exact_shortest`
                }
                assert_eq!(
                    format(value, &Style::Fixed(decimals)).unwrap(),
                    fixed_in_64_bits(value, decimals),
                    "{value} at {decimals} decimals"
                );
            }
        }
    }

    /// The wire format must not change with the formatter: ours writes what ryu wrote, for
    /// a sweep of every 4,099th bit pattern (all exponents, both signs, subnormals) and for
    /// the neighbours of every power of ten, where the shortest form switches notation.
    #[test]
    fn shortest_is_ryus_text_for_every_f32_tried() {
        let mut checked = 0u32;
        let mut compare = |value: f32| {
            if !value.is_finite() {
                return;
            }
            let ours = format(value, &Style::Shortest).unwrap();
            // ryu's text, without the `.0` of whole numbers below 2^24.
            let theirs = crate::sink::shortest::tests::reference(value);
            assert_eq!(ours, theirs, "bits {:#010x}", value.to_bits());
            checked += 1;
        };
        for bits in (0..=u32::MAX).step_by(4099) {
            compare(f32::from_bits(bits));
        }
        for exponent in -45..=38 {
            let power = 10f64.powi(exponent) as f32;
            let bits = power.to_bits();
            for offset in 0..8 {
                compare(f32::from_bits(bits.wrapping_add(offset)));
                compare(f32::from_bits(bits.wrapping_sub(offset)));
                compare(-f32::from_bits(bits.wrapping_add(offset)));
            }
        }
        assert!(checked > 1_000_000);
    }

    #[test]
    fn huge_fixed_falls_back_to_exact_shortest() {
        check(3.0e38, Style::Fixed(2), "3e38");
    }
}
