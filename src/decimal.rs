//! 64-bit numbers in 32-bit arithmetic. A Cortex-M has a 32-bit hardware divide, but a `u64`
//! division is a library call (`__aeabi_uldivmod`, about 900 bytes of flash and a few hundred
//! instructions a call); the few `u64` values here (Unix seconds, fixed-point numbers past
//! 2^32, nanosecond clocks) are divided by small constants, 16 bits at a time, instead.

/// `n / d` and `n % d` for a divisor `1 ≤ d < 2^16`: long division of `n`'s four 16-bit limbs,
/// each step one 32-bit division (the remainder stays below `d`, so `r << 16 | limb` fits).
/// Inlined, so `d` is a constant at every call and no division-by-zero check is left.
#[inline(always)]
pub(crate) const fn div_rem_small(n: u64, d: u16) -> (u64, u32) {
    let d = d as u32;
    let mut q = 0u64;
    let mut r = 0u32;
    let mut shift = 64;
    while shift > 0 {
        shift -= 16;
        let cur = (r << 16) | ((n >> shift) as u32 & 0xFFFF);
        q |= ((cur / d) as u64) << shift;
        r = cur % d;
    }
    (q, r)
}

/// `n / 1000`.
#[inline]
pub(crate) const fn div_1000(n: u64) -> u64 {
    div_rem_small(n, 1000).0
}

/// Longest decimal `u64`: `18446744073709551615`.
pub(crate) const U64_DIGITS: usize = 20;

/// `n` in decimal, at the end of `buf`; returns where it starts. Values that fit 32 bits (Unix
/// seconds until 2106) take the 32-bit path ([`format_u32`]); larger ones lose four digits a
/// step first.
pub(crate) fn format_u64(n: u64, buf: &mut [u8; U64_DIGITS]) -> usize {
    let mut start = U64_DIGITS;
    let mut rest = n;
    while rest > u64::from(u32::MAX) {
        let (q, mut group) = div_rem_small(rest, 10_000);
        for slot in buf[start - 4..start].iter_mut().rev() {
            *slot = b'0' + (group % 10) as u8;
            group /= 10;
        }
        start -= 4;
        rest = q;
    }
    // Fits: `rest` and the groups before it are `n`'s digits, at most 20.
    let mut head = [0u8; U32_DIGITS];
    let from = format_u32(rest as u32, &mut head);
    let head = &head[from..];
    buf[start - head.len()..start].copy_from_slice(head);
    start - head.len()
}

/// Longest decimal `u32`: `4294967295`.
pub(crate) const U32_DIGITS: usize = 10;

/// `n` in decimal, at the end of `buf`; returns where it starts. One digit a step (a
/// multiplication each, no division): the sinks' few whole numbers (a fixed-point number's
/// integer part, a channel id) are short, and one small loop shared by all of them costs less
/// flash than itoa's pair table and its formatter.
#[inline(never)]
pub(crate) fn format_u32(mut n: u32, buf: &mut [u8; U32_DIGITS]) -> usize {
    let mut start = U32_DIGITS;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        start -= 1;
        if n == 0 {
            break;
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_rem_small_agrees_with_u64_division() {
        let values = [
            0,
            1,
            999,
            1000,
            86_399,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            1_764_000_000_123,
            253_402_300_799,
            u64::MAX - 1,
            u64::MAX,
        ];
        for n in values {
            for d in [1u16, 3, 10, 675, 1000, 10_000, u16::MAX] {
                assert_eq!(
                    div_rem_small(n, d),
                    (n / u64::from(d), (n % u64::from(d)) as u32),
                    "{n} / {d}"
                );
            }
        }
        assert_eq!(div_1000(u64::MAX), u64::MAX / 1000);
    }

    #[test]
    fn format_u64_writes_every_width() {
        let mut n = 1u64;
        let mut buf = [0u8; U64_DIGITS];
        for _ in 0..20 {
            for v in [n - 1, n, n + 7, n.saturating_mul(10) - 1] {
                let start = format_u64(v, &mut buf);
                assert_eq!(&buf[start..], std::format!("{v}").as_bytes());
            }
            n = n.saturating_mul(10);
        }
        let start = format_u64(u64::MAX, &mut buf);
        assert_eq!(&buf[start..], b"18446744073709551615");
    }

    #[test]
    fn format_u32_writes_every_width() {
        let mut buf = [0u8; U32_DIGITS];
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            742,
            99_999,
            1_234_567,
            999_999_999,
            u32::MAX,
        ] {
            let start = format_u32(v, &mut buf);
            assert_eq!(&buf[start..], std::format!("{v}").as_bytes());
        }
    }
}
