//! Number formatting shared by the sinks: shortest round-trip (ryu), whole numbers (itoa) and
//! fixed decimals, into a small stack buffer. No `core::fmt`, which is larger and slower.

/// Longest text this module writes: sign, 10 integer digits of an i64 we allow, point, 6
/// decimals, or ryu's worst case for f32 (16 bytes). 24 leaves margin.
pub(crate) const MAX_NUMBER_LEN: usize = 24;

/// Largest number of fixed decimals a sink accepts.
pub const MAX_DECIMALS: u8 = 6;

/// Whole numbers up to this magnitude print without a fraction: within it every f32 integer is
/// exact (2^24), so `742.0` prints `742`, as MicroPython's `ujson.dumps(742)` does.
const WHOLE_LIMIT: f32 = 16_777_216.0;

/// A formatted number, held on the stack.
pub(crate) struct NumberText {
    bytes: [u8; MAX_NUMBER_LEN],
    len: usize,
}

impl NumberText {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn from_slice(text: &[u8]) -> Self {
        let mut bytes = [0; MAX_NUMBER_LEN];
        let len = text.len().min(MAX_NUMBER_LEN);
        bytes[..len].copy_from_slice(&text[..len]);
        Self { bytes, len }
    }
}

/// How a number is written.
pub(crate) enum Style {
    /// Shortest text that reads back as the same f32; whole numbers without a fraction.
    Shortest,
    /// Exactly this many decimals (0..=6), rounded half away from zero.
    Fixed(u8),
}

/// Formats a finite `value`; `None` for NaN or ±infinity, which no wire format here can carry.
pub(crate) fn format(value: f32, style: &Style) -> Option<NumberText> {
    if !value.is_finite() {
        return None;
    }
    match *style {
        Style::Shortest => Some(shortest(value)),
        Style::Fixed(decimals) => Some(fixed(value, decimals)),
    }
}

fn shortest(value: f32) -> NumberText {
    if value.abs() < WHOLE_LIMIT && value == (value as i32) as f32 {
        // Whole number: also turns -0.0 into "0".
        let mut buf = itoa::Buffer::new();
        return NumberText::from_slice(buf.format(value as i32).as_bytes());
    }
    let mut buf = ryu::Buffer::new();
    NumberText::from_slice(buf.format_finite(value).as_bytes())
}

fn fixed(value: f32, decimals: u8) -> NumberText {
    let decimals = decimals.min(MAX_DECIMALS);
    let scale = 10i64.pow(u32::from(decimals)) as f32;
    let scaled = value * scale;
    // Beyond 2^53 nothing is exact anyway; beyond i64 the cast saturates. Fall back to the
    // shortest form, which is exact, rather than print a wrong fixed-point number.
    if scaled.abs() >= 9.0e15 {
        return shortest(value);
    }
    // Round half away from zero without adding 0.5 in f32: above 2^23 an f32 cannot hold the
    // .5 and `x + 0.5` rounds to even, so 10132575.0 would become 10132576. Splitting off the
    // integer part is exact (the difference of two nearby f32 is representable).
    let truncated = scaled as i64;
    let fraction = (scaled - truncated as f32).abs();
    let rounded = match (fraction >= 0.5, scaled < 0.0) {
        (true, false) => truncated + 1,
        (true, true) => truncated - 1,
        (false, _) => truncated,
    };
    let mut out = [0u8; MAX_NUMBER_LEN];
    let mut len = 0;
    // The sign comes from the rounded number, so -0.001 at 2 decimals prints "0.00".
    if rounded < 0 {
        out[0] = b'-';
        len = 1;
    }
    let magnitude = rounded.unsigned_abs();
    let divisor = 10u64.pow(u32::from(decimals));
    let mut int_buf = itoa::Buffer::new();
    let int_text = int_buf.format(magnitude / divisor).as_bytes();
    out[len..len + int_text.len()].copy_from_slice(int_text);
    len += int_text.len();
    if decimals > 0 {
        out[len] = b'.';
        len += 1;
        let mut frac = magnitude % divisor;
        let end = len + usize::from(decimals);
        for slot in out[len..end].iter_mut().rev() {
            *slot = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        len = end;
    }
    NumberText { bytes: out, len }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(value: f32, style: Style, expected: &str) {
        let text = format(value, &style).unwrap();
        assert_eq!(core::str::from_utf8(text.as_bytes()).unwrap(), expected);
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

    #[test]
    fn huge_fixed_falls_back_to_exact_shortest() {
        check(3.0e38, Style::Fixed(2), "3e38");
    }
}
