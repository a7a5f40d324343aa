//! Pure conversions for the MPL3115A2's fixed-point output registers (§7.1.3).

/// Pressure in Pa from OUT_P_MSB, OUT_P_CSB, OUT_P_LSB in barometer mode: an unsigned Q18.2
/// value in the top 20 bits (integer Pa in MSB, CSB and LSB bits 7..6, quarter Pa in LSB bits
/// 5..4).
///
/// ```
/// use sensorpub::pysense::mpl3115a2::pressure_from_raw;
/// assert_eq!(pressure_from_raw([0x62, 0xF3, 0x70]), 101_325.75);
/// ```
pub fn pressure_from_raw(raw: [u8; 3]) -> f32 {
    let [msb, csb, lsb] = raw;
    // Bits 3..0 of the LSB are unused; what remains counts quarter pascals. At most 2^20, so
    // the f32 holds it exactly.
    let quarter_pa = (u32::from(msb) << 12) | (u32::from(csb) << 4) | (u32::from(lsb) >> 4);
    quarter_pa as f32 / 4.0
}

/// Altitude in m from OUT_P_MSB, OUT_P_CSB, OUT_P_LSB in altimeter mode: a signed
/// (two's complement) Q16.4 value in the top 20 bits.
///
/// ```
/// use sensorpub::pysense::mpl3115a2::altitude_from_raw;
/// assert_eq!(altitude_from_raw([0xFF, 0xF5, 0x80]), -10.5);
/// ```
pub fn altitude_from_raw(raw: [u8; 3]) -> f32 {
    let [msb, csb, lsb] = raw;
    // Place the 20 bits at the top of an i32 so its sign bit is the value's, then shift
    // arithmetically down to sixteenths of a metre.
    let sixteenths = i32::from_be_bytes([msb, csb, lsb & 0xF0, 0]) >> 12;
    sixteenths as f32 / 16.0
}

/// Temperature in °C from OUT_T_MSB, OUT_T_LSB: a signed Q8.4 value in the top 12 bits.
///
/// ```
/// use sensorpub::pysense::mpl3115a2::temperature_from_raw;
/// assert_eq!(temperature_from_raw([0xFA, 0xC0]), -5.25);
/// ```
pub fn temperature_from_raw(raw: [u8; 2]) -> f32 {
    let sixteenths = i16::from_be_bytes([raw[0], raw[1] & 0xF0]) >> 4;
    f32::from(sixteenths) / 16.0
}

/// BAR_IN register value (2 Pa units, rounded to nearest) for a sea-level pressure in Pa, or
/// `None` above what 16 bits hold (131 070 Pa).
///
/// ```
/// use sensorpub::pysense::mpl3115a2::bar_in_from_pascals;
/// // The power-on value of BAR_IN, 0xC5E7, is 101 326 Pa.
/// assert_eq!(bar_in_from_pascals(101_326), Some(0xC5E7));
/// ```
pub fn bar_in_from_pascals(pascals: u32) -> Option<u16> {
    u16::try_from(pascals.checked_add(1)? / 2).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_atmosphere_pressure() {
        // 101 325 Pa = 405 300 quarter Pa = 0x62F34 → bytes 62 F3 40.
        assert_eq!(pressure_from_raw([0x62, 0xF3, 0x40]), 101_325.0);
    }

    #[test]
    fn pressure_fraction_bits_are_quarter_pascals() {
        assert_eq!(pressure_from_raw([0x62, 0xF3, 0x50]), 101_325.25);
        assert_eq!(pressure_from_raw([0x62, 0xF3, 0x60]), 101_325.5);
        assert_eq!(pressure_from_raw([0x62, 0xF3, 0x70]), 101_325.75);
    }

    #[test]
    fn pressure_ignores_the_unused_low_nibble() {
        assert_eq!(pressure_from_raw([0x62, 0xF3, 0x4F]), 101_325.0);
    }

    #[test]
    fn pressure_is_unsigned_up_to_the_top_of_the_range() {
        // All 20 bits set: (2^20 − 1) / 4 Pa, not a negative number.
        assert_eq!(pressure_from_raw([0xFF, 0xFF, 0xF0]), 262_143.75);
    }

    #[test]
    fn positive_altitude() {
        // 123.4375 m = 1975 sixteenths = 0x007B7 → bytes 00 7B 70.
        assert_eq!(altitude_from_raw([0x00, 0x7B, 0x70]), 123.4375);
    }

    #[test]
    fn negative_altitude_is_sign_extended() {
        // −10.5 m = −168 sixteenths = 0xFFF58 in 20 bits → bytes FF F5 80.
        assert_eq!(altitude_from_raw([0xFF, 0xF5, 0x80]), -10.5);
        // −0.0625 m: all ones.
        assert_eq!(altitude_from_raw([0xFF, 0xFF, 0xF0]), -0.0625);
        // Most negative: −32768 m.
        assert_eq!(altitude_from_raw([0x80, 0x00, 0x00]), -32_768.0);
    }

    #[test]
    fn dead_sea_shore_altitude() {
        // −430 m = −6880 sixteenths = 0xFE520 → bytes FE 52 00.
        assert_eq!(altitude_from_raw([0xFE, 0x52, 0x00]), -430.0);
    }

    #[test]
    fn positive_temperature() {
        // 23.5625 °C = 377 sixteenths = 0x179 → bytes 17 90.
        assert_eq!(temperature_from_raw([0x17, 0x90]), 23.5625);
    }

    #[test]
    fn negative_temperature_is_sign_extended() {
        // −5.25 °C = −84 sixteenths = 0xFAC in 12 bits → bytes FA C0.
        assert_eq!(temperature_from_raw([0xFA, 0xC0]), -5.25);
        // −40 °C = −640 sixteenths = 0xD80 → bytes D8 00.
        assert_eq!(temperature_from_raw([0xD8, 0x00]), -40.0);
        // −0.0625 °C.
        assert_eq!(temperature_from_raw([0xFF, 0xF0]), -0.0625);
    }

    #[test]
    fn bar_in_is_in_2_pa_units_and_bounded() {
        assert_eq!(bar_in_from_pascals(101_325), Some(50_663));
        assert_eq!(bar_in_from_pascals(102_000), Some(51_000));
        assert_eq!(bar_in_from_pascals(131_070), Some(0xFFFF));
        assert_eq!(bar_in_from_pascals(131_071), None);
        assert_eq!(bar_in_from_pascals(u32::MAX), None);
    }
}
