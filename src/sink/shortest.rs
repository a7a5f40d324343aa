//! The shortest text that reads back as the same `f32`, written straight into the caller's
//! buffer: our own implementation of Raffaello Giulietti's Schubfach algorithm ("The
//! Schubfach way to render doubles", 2020) for `f32`, with ryu's layout (`21.53`, `0.001`,
//! `1e20`, `1.5e-7`, `16777216.0`), except that whole numbers below 2^24 have no `.0`.
//!
//! Why not a crate: zmij and ryu format into a stack buffer (zmij then moves the digits with
//! a `memmove` call to make room for the point) and the text is copied once more; on a
//! Cortex-M4 that wrapper cost more than the digits. Here one 64-bit table entry and three
//! 32 × 64-bit multiplications give the digits, which are written once, where they belong.
//! 77 table entries (616 bytes), computed at compile time.
//!
//! The tests compare every `f32` tried with ryu's text (the wire format before: a sweep of a
//! million bit patterns, every power of two and its neighbours, every layout's edges), and an
//! ignored test compares all 2^32 bit patterns (`cargo test --release --lib -- --ignored
//! every_f32`; no difference, BENCHMARKS.md "The number formatter").

/// Smallest and largest `n` of the table `G[n − G_MIN]` (n = −k, k the decimal exponent of
/// the scaled value: `f32` values need k in −45..=31).
const G_MIN: i32 = -31;
/// See [`G_MIN`].
const G_MAX: i32 = 45;

/// `floor(10^n × 2^(62 − floor(n log2 10))) + 1` for n in `G_MIN..=G_MAX`: 10^n with 63
/// significant bits, rounded up (in [2^62, 2^63)).
static G: [u64; (G_MAX - G_MIN + 1) as usize] = table();

/// `floor(q × log10 2)`, exact for |q| < 200 (tested).
const fn floor_log10_pow2(q: i32) -> i32 {
    (q * 78_913) >> 18
}

/// `floor(log10(3/4 × 2^q))`, exact for |q| < 200 (tested).
const fn floor_log10_three_quarters_pow2(q: i32) -> i32 {
    (q * 78_913 - 32_752) >> 18
}

/// `floor(n × log2 10)`, exact for |n| < 60 (tested).
const fn floor_log2_pow10(n: i32) -> i32 {
    (n * 217_706) >> 16
}

const fn table() -> [u64; (G_MAX - G_MIN + 1) as usize] {
    let mut table = [0u64; (G_MAX - G_MIN + 1) as usize];
    let mut i = 0;
    while i < table.len() {
        table[i] = g(G_MIN + i as i32);
        i += 1;
    }
    table
}

/// One entry of [`G`], in exact integer arithmetic.
const fn g(n: i32) -> u64 {
    let e = 62 - floor_log2_pow10(n);
    if n >= 0 {
        // 10^n in three 64-bit limbs (10^45 < 2^150), then shifted by e (here e ≤ 62).
        let mut limbs = [1u64, 0, 0];
        let mut i = 0;
        while i < n {
            let mut carry = 0u128;
            let mut j = 0;
            while j < 3 {
                let product = limbs[j] as u128 * 10 + carry;
                limbs[j] = product as u64;
                carry = product >> 64;
                j += 1;
            }
            i += 1;
        }
        let top = if e >= 0 {
            // 10^n < 2^63 here: the low limb holds it all.
            limbs[0] << e
        } else {
            let shift = (-e) as u32;
            let wide = ((limbs[2] as u128) << 64) | limbs[1] as u128;
            if shift >= 64 {
                (wide >> (shift - 64)) as u64
            } else {
                ((wide << (64 - shift)) | (limbs[0] >> shift) as u128) as u64
            }
        };
        top + 1
    } else {
        // floor(2^e / 10^−n), 10^31 < 2^104: long division, one bit of 2^e at a time.
        let mut divisor = 1u128;
        let mut i = 0;
        while i < -n {
            divisor *= 10;
            i += 1;
        }
        let mut quotient = 0u64;
        let mut rest = 1u128;
        let mut bit = 0;
        while bit < e {
            rest <<= 1;
            quotient <<= 1;
            if rest >= divisor {
                rest -= divisor;
                quotient |= 1;
            }
            bit += 1;
        }
        quotient + 1
    }
}

/// `cp × 10^−k × 2^q` with two fraction bits, as Schubfach wants it: the integer part, its
/// lowest bit set when the value is not exact (every comparison below is with an even
/// number, so that bit keeps them exact). `g` is 10^−k's table entry and `cp` is already
/// shifted left by h − 33 (0..=3; it stays below 2^29). The value is the upper bits of
/// `g × cp` (Schubfach's `multiplyHigh(g, cp << h)`, whose 2^h is split into that shift and a
/// constant one): two 32 × 32 → 64-bit multiplications, constant shifts.
#[inline(always)]
fn round_odd(g: u64, cp: u32) -> u32 {
    let low = u64::from(cp) * (g & 0xFFFF_FFFF);
    let high = u64::from(cp) * (g >> 32);
    // floor(g × cp / 2^31); `high` < 2^60.
    let x = (high << 1) + (low >> 31);
    (x >> 31) as u32 | u32::from(x as u32 != 0)
}

/// The shortest decimal `digits × 10^exponent` that rounds to `c × 2^q` (c < 2^24), the
/// closest one when there are two, the even one on a tie. Unlike Java's `Float.toString`
/// (Schubfach's first user), one digit is enough: the smallest subnormal is `1e-45`, as ryu
/// writes it, not `1.4e-45`.
#[inline(always)]
fn to_decimal(q: i32, c: u32) -> (u32, i32) {
    let odd = c & 1;
    let cb = c << 2;
    let cbr = cb + 2;
    // At a power of two (not the smallest exponent) the gap below is half the gap above.
    let (cbl, k) = if c != 1 << 23 || q == -149 {
        (cb - 2, floor_log10_pow2(q))
    } else {
        (cb - 1, floor_log10_three_quarters_pow2(q))
    };
    // h − 33, in 0..=3 for every f32 (as k is in −45..=31: tested); the masks and `min` only
    // spare a bounds check and a panic path.
    let h = (q + floor_log2_pow10(-k)) as u32 & 3;
    let g = G[((-k - G_MIN) as usize).min(G.len() - 1)];
    let vb = round_odd(g, cb << h);
    let vbl = round_odd(g, cbl << h);
    let vbr = round_odd(g, cbr << h);
    let s = vb >> 2;
    if s >= 10 {
        // One digit fewer, when a multiple of ten lies in the rounding interval.
        let sp10 = 10 * (s / 10);
        let tp10 = sp10 + 10;
        let upin = vbl + odd <= sp10 << 2;
        let wpin = (tp10 << 2) + odd <= vbr;
        if upin != wpin {
            return (if upin { sp10 } else { tp10 }, k);
        }
    }
    let t = s + 1;
    let uin = vbl + odd <= s << 2;
    let win = (t << 2) + odd <= vbr;
    if uin != win {
        return (if uin { s } else { t }, k);
    }
    // Both in the interval: the closer one, the even one on a tie.
    let mid = (s + t) << 1;
    let digits = if vb < mid || (vb == mid && s & 1 == 0) {
        s
    } else {
        t
    };
    (digits, k)
}

/// Number of decimal digits of `n` (1..=10).
#[inline(always)]
fn digit_count(n: u32) -> usize {
    let mut count = 1;
    let mut bound = 10u32;
    while count < 10 && n >= bound {
        count += 1;
        bound = bound.wrapping_mul(10);
    }
    count
}

/// Writes the `out.len()` lowest decimal digits of `n` into `out`, most significant first.
#[inline(always)]
fn put_digits(out: &mut [u8], mut n: u32) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// [`put_digits`] out of line, for the layouts other than `12.34`: whole numbers, `0.001234`
/// and exponents (one copy of the loop instead of one per call).
#[inline(never)]
fn put_digits_rare(out: &mut [u8], n: u32) {
    put_digits(out, n);
}

/// Fills `slot` (at most 12 bytes here: the zeros of `1e12`, or of `0.00001`) with `0`
/// digits by word copies: a fill loop (or a copy of constant zeros) becomes a `memset` call,
/// whose 220 bytes nothing else in a sink needs. Only the rare layouts get here, so it is
/// out of line (one copy of the word loop).
#[inline(never)]
fn zero_fill(slot: &mut [u8]) {
    const ZEROS: [u8; 16] = [b'0'; 16];
    if let Some(zeros) = ZEROS.get(..slot.len()) {
        super::out::copy(slot, zeros);
    }
}

/// Whole numbers below this magnitude are written without `.0` (`742`, as MicroPython's
/// `ujson.dumps(742)`); from 2^24 up an `f32` is always whole and keeps ryu's `.0`.
const WHOLE_LIMIT_BITS: u32 = 0x4B80_0000; // 16_777_216.0

/// Writes the shortest text of finite `value` at the start of `out`; its length, or `None`
/// (nothing written) when `out` is too short. `-0.0` is `0`.
pub(crate) fn write(value: f32, out: &mut [u8]) -> Option<usize> {
    let bits = value.to_bits();
    let magnitude = bits & 0x7FFF_FFFF;
    let biased = magnitude >> 23;
    let fraction = bits & 0x007F_FFFF;
    let (mut digits, mut exponent) = if biased != 0 {
        to_decimal(biased as i32 - 150, fraction | 1 << 23)
    } else if fraction == 0 {
        *out.first_mut()? = b'0';
        return Some(1);
    } else {
        to_decimal(-149, fraction)
    };
    while digits % 10 == 0 {
        digits /= 10;
        exponent += 1;
    }
    let sign = (bits >> 31) as usize;
    let len = digit_count(digits);
    // The decimal point goes after `point` digits: 10^(point − 1) ≤ |value| < 10^point.
    let point = len as i32 + exponent;
    if exponent >= 0 && point <= 13 {
        // 1234e2: 123400, and `.0` from 2^24 up.
        let whole = point as usize;
        let tail = if magnitude < WHOLE_LIMIT_BITS { 0 } else { 2 };
        let out = out.get_mut(..sign + whole + tail)?;
        out[0] = b'-';
        put_digits_rare(&mut out[sign..sign + len], digits);
        zero_fill(&mut out[sign + len..sign + whole]);
        if tail != 0 {
            out[sign + whole] = b'.';
            out[sign + whole + 1] = b'0';
        }
        Some(sign + whole + tail)
    } else if point > 0 && point <= 13 {
        // 1234e-2: 12.34.
        let whole = point as usize;
        let out = out.get_mut(..sign + len + 1)?;
        out[0] = b'-';
        let pow = POW10[(len - whole) & 15];
        put_digits(&mut out[sign..sign + whole], digits / pow);
        out[sign + whole] = b'.';
        put_digits(&mut out[sign + whole + 1..], digits % pow);
        Some(sign + len + 1)
    } else if point > -6 && point <= 0 {
        // 1234e-6: 0.001234.
        let zeros = (-point) as usize;
        let end = sign + 2 + zeros + len;
        let out = out.get_mut(..end)?;
        out[0] = b'-';
        out[sign] = b'0';
        out[sign + 1] = b'.';
        zero_fill(&mut out[sign + 2..sign + 2 + zeros]);
        put_digits_rare(&mut out[sign + 2 + zeros..], digits);
        Some(end)
    } else {
        // 1234e30: 1.234e33; 1e30.
        let power = point - 1;
        let power_len = usize::from(power < 0) + if power.unsigned_abs() >= 10 { 2 } else { 1 };
        let mantissa = if len == 1 { 1 } else { len + 1 };
        let end = sign + mantissa + 1 + power_len;
        let out = out.get_mut(..end)?;
        out[0] = b'-';
        let rest = digits % POW10[(len - 1) & 15];
        put_digits_rare(&mut out[sign..sign + 1], digits / POW10[(len - 1) & 15]);
        if len > 1 {
            out[sign + 1] = b'.';
            put_digits_rare(&mut out[sign + 2..sign + mantissa], rest);
        }
        out[sign + mantissa] = b'e';
        if power < 0 {
            out[sign + mantissa + 1] = b'-';
        }
        put_digits_rare(
            &mut out[end - (power_len - usize::from(power < 0))..],
            power.unsigned_abs(),
        );
        Some(end)
    }
}

/// Powers of ten that fit a `u32`, padded to 16 entries so a masked index needs no check.
const POW10: [u32; 16] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    1,
    1,
    1,
    1,
    1,
    1,
];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Whether the sinks write `value` as an integer: whole numbers below 2^24 (where every
    /// `f32` integer is exact) have no `.0`, as MicroPython's `ujson.dumps(742)`; `-0.0` is `0`.
    fn is_whole(value: f32) -> bool {
        value.abs() < 16_777_216.0 && value == (value as i32) as f32
    }

    /// What the sinks have always written: ryu's text, or the integer's for
    /// [whole numbers](is_whole).
    pub(crate) fn reference(value: f32) -> std::string::String {
        if is_whole(value) {
            return std::format!("{}", value as i32);
        }
        std::string::String::from(ryu::Buffer::new().format_finite(value))
    }

    fn ours(value: f32) -> std::string::String {
        let mut out = [0u8; 32];
        let len = write(value, &mut out).unwrap();
        std::string::String::from_utf8(out[..len].to_vec()).unwrap()
    }

    #[test]
    fn the_logarithm_shortcuts_are_exact() {
        // Exact floors from integer comparisons of powers (f64 log10 is off at 10^k).
        for q in -199i32..200 {
            let exact = |scale: f64| {
                let x = scale * 2f64.powi(q);
                let mut k = x.log10().floor() as i32;
                if 10f64.powi(k) > x {
                    k -= 1;
                }
                if 10f64.powi(k + 1) <= x {
                    k += 1;
                }
                k
            };
            assert_eq!(floor_log10_pow2(q), exact(1.0), "q {q}");
            assert_eq!(floor_log10_three_quarters_pow2(q), exact(0.75), "q {q}");
        }
        for n in -59i32..60 {
            let x = 10f64.powi(n);
            let mut e = x.log2().floor() as i32;
            if 2f64.powi(e) > x {
                e -= 1;
            }
            if 2f64.powi(e + 1) <= x {
                e += 1;
            }
            assert_eq!(floor_log2_pow10(n), e, "n {n}");
        }
        // Every f32's q (c × 2^q): k within the table, h − 33 within 0..=3.
        for q in -149i32..=104 {
            for k in [floor_log10_pow2(q), floor_log10_three_quarters_pow2(q)] {
                assert!((G_MIN..=G_MAX).contains(&-k), "q {q}, k {k}");
                let h = q + floor_log2_pow10(-k);
                assert!((0..=3).contains(&h), "q {q}, h - 33 = {h}");
            }
        }
    }

    #[test]
    fn table_entries_are_ten_to_the_n_rounded_up() {
        for (entry, n) in G.iter().zip(G_MIN..) {
            assert!((1u64 << 62) < *entry && *entry <= 1u64 << 63, "n {n}");
        }
        // Exact ones: 10^0 × 2^62, 10^1 × 2^59 (= 10 × 2^59 = 5 × 2^60).
        assert_eq!(G[(0 - G_MIN) as usize], (1 << 62) + 1);
        assert_eq!(G[(1 - G_MIN) as usize], 5 * (1 << 60) + 1);
        // 10^-1 × 2^66 = 7378697629483820646.4
        assert_eq!(G[(-1 - G_MIN) as usize], 7_378_697_629_483_820_646 + 1);
        // 10^20 × 2^-4 = 6250000000000000000, exact.
        assert_eq!(G[(20 - G_MIN) as usize], 6_250_000_000_000_000_000 + 1);
    }

    #[test]
    fn every_layout_and_edge_matches_ryu() {
        let mut values = std::vec![
            21.53f32,
            45.2,
            742.0,
            -12.0,
            0.1,
            1.0e-5,
            1.0e-6,
            1.234_5e-6,
            9.999_999e-6,
            123_456.79,
            1.0e13,
            9.999_999e12,
            1.0e20,
            3.0e38,
            16_777_216.0,
            16_777_215.0,
            8_388_607.5,
            1.0e-7,
            1.5e-7,
            f32::MAX,
            f32::MIN_POSITIVE,
            1.0e-45,
            2.0e-45,
            1.1e-44,
            0.3,
            2.5e10,
            -0.0,
            0.0,
        ];
        // Every subnormal significand below 64, every power of two, their neighbours.
        for bits in 1u32..64 {
            values.push(f32::from_bits(bits));
        }
        for biased in 1u32..255 {
            let bits = biased << 23;
            for b in [bits - 1, bits, bits + 1] {
                values.push(f32::from_bits(b));
            }
        }
        for value in values {
            for v in [value, -value] {
                if v.is_finite() {
                    assert_eq!(ours(v), reference(v), "bits {:#010x}", v.to_bits());
                }
            }
        }
    }

    #[test]
    fn a_short_buffer_gets_nothing() {
        for value in [21.53f32, 0.001, 1.5e-7, 1.0e20, 742.0, -0.0, 3.0e10] {
            let len = ours(value).len();
            let mut out = [b'x'; 32];
            assert_eq!(write(value, &mut out[..len - 1]), None, "{value}");
            assert!(
                out.iter().all(|&b| b == b'x'),
                "{value} wrote into a short buffer"
            );
            assert_eq!(write(value, &mut out[..len]), Some(len));
        }
    }

    /// All 2^32 bit patterns against ryu: minutes with sensorpub and ryu optimised, so not by
    /// default (CI runs it: `cargo test --lib --config 'profile.dev.package.sensorpub.opt-level=3'
    /// --config 'profile.dev.package.ryu.opt-level=3' -- --ignored every_f32`). One thread per
    /// core, each a slice of the bit patterns.
    #[test]
    #[ignore = "all 2^32 f32: run with sensorpub and ryu optimised"]
    fn every_f32_matches_ryu() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
        let span = (1u64 << 32).div_ceil(threads);
        let slices: std::vec::Vec<_> = (0..threads)
            .map(|t| {
                let start = t * span;
                let end = ((t + 1) * span).min(1 << 32);
                std::thread::spawn(move || check_bits(start as u32, (end - 1) as u32))
            })
            .collect();
        for slice in slices {
            slice.join().expect("a slice of the bit patterns failed");
        }
    }

    /// Compares every finite `f32` with bits in `first..=last` with ryu's (or, for whole
    /// numbers, itoa's) text.
    fn check_bits(first: u32, last: u32) {
        let mut out = [0u8; 32];
        let mut ryu = ryu::Buffer::new();
        for bits in first..=last {
            let value = f32::from_bits(bits);
            if !value.is_finite() {
                continue;
            }
            let len = write(value, &mut out).unwrap();
            // `reference`'s rule without its allocation: 2^32 values.
            let same = if is_whole(value) {
                let mut itoa = itoa::Buffer::new();
                out[..len] == *itoa.format(value as i32).as_bytes()
            } else {
                out[..len] == *ryu.format_finite(value).as_bytes()
            };
            assert!(
                same,
                "bits {bits:#010x}: {:?}",
                core::str::from_utf8(&out[..len])
            );
        }
    }
}
