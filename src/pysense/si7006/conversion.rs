//! Pure conversions for the SI7006: checksum, raw codes to °C and %RH, dew point.
//!
//! No bus needed, so they are tested against datasheet values directly and can be reused on
//! codes read some other way.

use super::register::STATUS_BITS;
use crc::{Algorithm, Crc, NoTable};

/// The Si70xx checksum: CRC-8, polynomial x⁸+x⁵+x⁴+1 (0x31), initial value 0x00, not
/// reflected, no final XOR (§5.1). Sensirion parts use the same polynomial with init 0xFF;
/// that one does not fit here.
const SI70XX_CRC_ALGORITHM: Algorithm<u8> = Algorithm {
    width: 8,
    poly: 0x31,
    init: 0x00,
    refin: false,
    refout: false,
    xorout: 0x00,
    // CRC of the ASCII bytes "123456789", the catalogue's usual check value.
    check: 0xA2,
    residue: 0x00,
};

// Bitwise rather than table-driven: at most six bytes per transfer, so 256 bytes of flash
// for a table would buy nothing.
static SI70XX_CRC: Crc<u8, NoTable> = Crc::<u8, NoTable>::new(&SI70XX_CRC_ALGORITHM);

/// CRC-8 of `data` as the SI7006 computes its checksum bytes (polynomial 0x31, init 0x00).
///
/// ```
/// use sensorpub::pysense::si7006::crc8;
/// assert_eq!(crc8(&[0xBE, 0xEF]), 0x13);
/// ```
pub fn crc8(data: &[u8]) -> u8 {
    SI70XX_CRC.checksum(data)
}

/// Temperature in °C from a temperature code (§5.1: `175.72·code/65536 − 46.85`). The two
/// status bits at the bottom of the code are ignored.
///
/// ```
/// use sensorpub::pysense::si7006::temperature_from_code;
/// assert!((temperature_from_code(0x6640) - 23.335).abs() < 0.001);
/// ```
pub fn temperature_from_code(code: u16) -> f32 {
    let code = f32::from(code & !STATUS_BITS);
    175.72 * code / 65536.0 - 46.85
}

/// Relative humidity in % from an RH code (§5.1: `125·code/65536 − 6`), status bits ignored
/// and clamped to 0..=100: the formula can yield slightly below 0 or above 100, and the
/// datasheet allows clamping.
///
/// ```
/// use sensorpub::pysense::si7006::humidity_from_code;
/// assert_eq!(humidity_from_code(0x8000), 56.5);
/// assert_eq!(humidity_from_code(0x0000), 0.0);
/// ```
pub fn humidity_from_code(code: u16) -> f32 {
    let code = f32::from(code & !STATUS_BITS);
    (125.0 * code / 65536.0 - 6.0).clamp(0.0, 100.0)
}

/// Magnus coefficient b (dimensionless), the 17.62 / 243.12 °C pair valid over water from
/// −45 °C to 60 °C (Sonntag 1990), as in Pycom's driver.
const MAGNUS_B: f32 = 17.62;
/// Magnus coefficient c, in °C.
const MAGNUS_C: f32 = 243.12;

/// Dew point in °C from temperature (°C) and relative humidity (%) by the Magnus formula:
/// `γ = ln(RH/100) + b·T/(c+T)`, `Td = c·γ/(b−γ)`.
///
/// `None` when the humidity is not above 0 % (the logarithm is undefined) or an input is not
/// finite, so no NaN leaks into a published reading.
///
/// ```
/// use sensorpub::pysense::si7006::dew_point;
/// let td = dew_point(25.0, 50.0).unwrap();
/// assert!((td - 13.85).abs() < 0.01);
/// ```
pub fn dew_point(temperature: f32, humidity: f32) -> Option<f32> {
    if !(temperature.is_finite() && humidity.is_finite()) || humidity <= 0.0 {
        return None;
    }
    let gamma = libm::logf(humidity / 100.0) + MAGNUS_B * temperature / (MAGNUS_C + temperature);
    let td = MAGNUS_C * gamma / (MAGNUS_B - gamma);
    td.is_finite().then_some(td)
}

/// Relative humidity in % of air at `ambient` °C whose dew point is `dew_point` °C: the
/// Magnus formula solved for RH, `RH = 100·exp(b·Td/(c+Td) − b·T/(c+T))`. The inverse of
/// [`dew_point`].
///
/// ```
/// use sensorpub::pysense::si7006::humidity_from_dew_point;
/// assert!((humidity_from_dew_point(25.0, 13.85) - 50.0).abs() < 0.05);
/// ```
pub fn humidity_from_dew_point(ambient: f32, dew_point: f32) -> f32 {
    let exponent =
        MAGNUS_B * dew_point / (MAGNUS_C + dew_point) - MAGNUS_B * ambient / (MAGNUS_C + ambient);
    100.0 * libm::expf(exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent bitwise CRC-8 with a selectable initial value, to cross-check the preset
    /// against Sensirion's published vector (init 0xFF: CRC(BE EF) = 0x92).
    fn reference_crc(init: u8, data: &[u8]) -> u8 {
        let mut crc = init;
        for byte in data {
            crc ^= byte;
            for _ in 0..8 {
                crc = if crc & 0x80 != 0 {
                    (crc << 1) ^ 0x31
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[test]
    fn reference_routine_reproduces_sensirions_published_vector() {
        assert_eq!(reference_crc(0xFF, &[0xBE, 0xEF]), 0x92);
    }

    #[test]
    fn crc_uses_init_zero_not_sensirions_0xff() {
        assert_eq!(crc8(&[0xBE, 0xEF]), 0x13);
        assert_eq!(crc8(&[0xBE, 0xEF]), reference_crc(0x00, &[0xBE, 0xEF]));
        assert_eq!(crc8(b"123456789"), 0xA2);
    }

    #[test]
    fn crc_matches_the_reference_on_every_two_byte_prefix_of_a_walk() {
        for msb in (0..=255u8).step_by(7) {
            for lsb in (0..=255u8).step_by(11) {
                assert_eq!(crc8(&[msb, lsb]), reference_crc(0, &[msb, lsb]));
            }
        }
    }

    #[test]
    fn crc_of_nothing_is_the_initial_value() {
        assert_eq!(crc8(&[]), 0x00);
    }

    #[test]
    fn temperature_code_0x6640_is_23_34_celsius() {
        // 175.72 · 26176 / 65536 − 46.85 = 23.335039…
        assert!((temperature_from_code(0x6640) - 23.335_04).abs() < 1e-3);
    }

    #[test]
    fn temperature_extremes_of_the_code_range() {
        assert!((temperature_from_code(0x0000) - -46.85).abs() < 1e-4);
        // 0xFFFC: 175.72 · 65532 / 65536 − 46.85 = 128.859…
        assert!((temperature_from_code(0xFFFC) - 128.859_27).abs() < 1e-3);
    }

    #[test]
    fn temperature_below_zero_is_negative_not_wrapped() {
        // −10 °C ⇔ code (−10 + 46.85) · 65536 / 175.72 = 13743.5 → 0x35AC (last bits 00)
        let t = temperature_from_code(0x35AC);
        assert!((t - -10.0).abs() < 0.01, "{t}");
    }

    #[test]
    fn status_bits_do_not_change_the_value() {
        assert_eq!(temperature_from_code(0x6643), temperature_from_code(0x6640));
        assert_eq!(humidity_from_code(0x7C82), humidity_from_code(0x7C80));
    }

    #[test]
    fn humidity_code_round_trips() {
        for rh in [0.5f32, 10.0, 33.3, 50.0, 75.25, 99.0] {
            // The datasheet formula solved for the code, status bits 10 as the chip sends them.
            let code = (((rh + 6.0) * 65536.0 / 125.0) as u16 & !0b11) | 0b10;
            let back = humidity_from_code(code);
            // One code step is 125/65536·4 ≈ 0.0076 %RH after masking.
            assert!((back - rh).abs() < 0.01, "{rh} → {code:#06x} → {back}");
        }
    }

    #[test]
    fn humidity_is_clamped_to_0_and_100() {
        // 0x0000 → −6 %, 0xFFFE → 118.99 %: both outside the physical range.
        assert_eq!(humidity_from_code(0x0000), 0.0);
        assert_eq!(humidity_from_code(0xFFFE), 100.0);
        // 0x0C4A is masked to 3144: 125·3144/65536 − 6 = −0.0033 % → 0.
        assert_eq!(humidity_from_code(0x0C4A), 0.0);
    }

    #[test]
    fn dew_point_at_25_c_and_50_percent_is_13_85_c() {
        let td = dew_point(25.0, 50.0).unwrap();
        assert!((td - 13.852).abs() < 0.005, "{td}");
    }

    #[test]
    fn dew_point_equals_temperature_at_saturation() {
        let td = dew_point(18.0, 100.0).unwrap();
        assert!((td - 18.0).abs() < 1e-4, "{td}");
    }

    #[test]
    fn dew_point_below_freezing() {
        // γ = ln(0.8) + 17.62·(−5)/238.12 = −0.22314 − 0.36998 = −0.59312;
        // Td = 243.12·(−0.59312)/(17.62 + 0.59312) = −7.917 °C
        let td = dew_point(-5.0, 80.0).unwrap();
        assert!((td - -7.917).abs() < 0.01, "{td}");
    }

    #[test]
    fn dew_point_undefined_at_zero_humidity_or_nan() {
        assert_eq!(dew_point(25.0, 0.0), None);
        assert_eq!(dew_point(f32::NAN, 50.0), None);
        assert_eq!(dew_point(25.0, f32::INFINITY), None);
    }

    #[test]
    fn humidity_from_dew_point_inverts_dew_point() {
        for (t, rh) in [(25.0f32, 50.0f32), (5.0, 90.0), (-10.0, 60.0), (35.0, 20.0)] {
            let td = dew_point(t, rh).unwrap();
            assert!((humidity_from_dew_point(t, td) - rh).abs() < 0.01);
        }
    }
}
