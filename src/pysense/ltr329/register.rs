//! LTR-329ALS-01 register addresses and bit fields.
//!
//! From the LTR-329ALS-01 datasheet's register map (§ "Register Set"), cross-checked against
//! Zephyr's `drivers/sensor/liteon/ltr329/ltr329.c` and ESPHome's `ltr303.cpp`.

/// Fixed 7-bit I²C address (datasheet § "I2C Slave Address").
pub(crate) const ADDRESS: u8 = 0x29;

/// Register addresses.
pub(crate) struct Register;

impl Register {
    /// ALS_CONTR: gain (b4:2), SW_RESET (b1), active mode (b0).
    pub(crate) const ALS_CONTR: u8 = 0x80;
    /// ALS_MEAS_RATE: integration time (b5:3), measurement rate (b2:0); resets to 0x03.
    pub(crate) const ALS_MEAS_RATE: u8 = 0x85;
    /// PART_ID: part number (b7:4, 0xA) and revision (b3:0, 0): reads 0xA0.
    pub(crate) const PART_ID: u8 = 0x86;
    /// MANUFAC_ID: reads 0x05 (Lite-On).
    pub(crate) const MANUFAC_ID: u8 = 0x87;
    /// ALS_DATA_CH1_0: first of the four data registers CH1 low, CH1 high, CH0 low, CH0 high.
    /// The chip locks them from the start of a read until 0x8B has been read, so they are read
    /// in one burst starting here.
    pub(crate) const ALS_DATA_CH1_0: u8 = 0x88;
    /// ALS_STATUS: data invalid (b7), gain of the data (b6:4), new data (b2).
    pub(crate) const ALS_STATUS: u8 = 0x8C;
}

/// Bit fields.
pub(crate) struct BitFlags;

impl BitFlags {
    /// ALS_CONTR b0: 1 = active, 0 = standby.
    pub(crate) const ACTIVE: u8 = 1 << 0;
    /// ALS_CONTR gain field position.
    pub(crate) const GAIN_SHIFT: u8 = 2;
    /// ALS_MEAS_RATE integration-time field position.
    pub(crate) const INTEGRATION_SHIFT: u8 = 3;
    /// ALS_STATUS b7: the data is invalid (e.g. taken while the gain changed).
    pub(crate) const DATA_INVALID: u8 = 1 << 7;
    /// ALS_STATUS b6:4: the gain the data was taken with.
    pub(crate) const STATUS_GAIN_SHIFT: u8 = 4;
    /// ALS_STATUS gain field mask, after the shift.
    pub(crate) const STATUS_GAIN_MASK: u8 = 0b111;
    /// ALS_STATUS b2: data not yet read.
    pub(crate) const NEW_DATA: u8 = 1 << 2;
}

/// PART_ID of an LTR-329ALS-01: part 0xA, revision 0.
pub(crate) const PART_ID_VALUE: u8 = 0xA0;

/// Start-up time after power-on before the chip answers, 100 ms (datasheet § "Characteristics",
/// Zephyr's `ltr329` driver).
pub(crate) const POWER_UP_TIME_MS: u32 = 100;

/// Wake-up time from standby to active, 10 ms (datasheet § "Characteristics", Zephyr).
pub(crate) const STANDBY_TO_ACTIVE_MS: u32 = 10;

/// Interval between two ALS_STATUS polls while waiting for new data.
pub(crate) const NEW_DATA_POLL_MS: u32 = 10;
