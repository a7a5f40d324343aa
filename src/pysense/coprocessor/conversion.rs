//! Battery voltage from the co-processor's ADC: pure functions, checked without a bus.

/// Full-scale ADC input, V: the PIC's 3.3 V supply is its reference.
const ADC_REFERENCE_V: f32 = 3.3;
/// Largest 10-bit ADC count.
const ADC_MAX_COUNT: f32 = 1023.0;
/// The battery divider's ratio, 280 / 180 (input over output), as in Pycom's driver.
const DIVIDER_TOP: f32 = 280.0;
const DIVIDER_BOTTOM: f32 = 180.0;
/// The drop across the battery FET, 10 mV, added back.
const FET_DROP_V: f32 = 0.01;

/// The 10-bit ADC count from the left-justified ADRESH:ADRESL pair:
/// `ADRESH << 2 | ADRESL >> 6`.
///
/// ```
/// assert_eq!(sensorpub::pysense::coprocessor::adc_count(0xC8, 0x40), 801);
/// ```
pub fn adc_count(adresh: u8, adresl: u8) -> u16 {
    (u16::from(adresh) << 2) | u16::from(adresl >> 6)
}

/// Battery voltage in V from the ADC count: `adc · 3.3 · 280 / 1023 / 180 + 0.01`, about
/// 5.018 mV a count plus the 10 mV FET drop.
///
/// ```
/// let v = sensorpub::pysense::coprocessor::battery_voltage(800);
/// assert!((v - 4.0243).abs() < 1e-3);
/// ```
pub fn battery_voltage(adc: u16) -> f32 {
    f32::from(adc) * ADC_REFERENCE_V * DIVIDER_TOP / ADC_MAX_COUNT / DIVIDER_BOTTOM + FET_DROP_V
}
