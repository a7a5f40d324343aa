//! Commands, register bits and timings of the SI7006-A20.
//!
//! The Si7006-A20 shares its command set with the Si7013/20/21-A20. Section and table numbers
//! refer to the Si7021-A20 datasheet (rev. 1.1), whose text the Si7006-A20 datasheet repeats.

/// 7-bit I²C address; fixed (§5, Table 10).
pub(crate) const ADDRESS: u8 = 0x40;

/// Command codes (§5, Table 11 "I²C Command Table").
pub(crate) struct Command;

impl Command {
    /// Measure relative humidity, No Hold Master Mode: the chip NACKs reads until done.
    pub(crate) const MEASURE_RH_NO_HOLD: u8 = 0xF5;
    /// Measure temperature, No Hold Master Mode.
    pub(crate) const MEASURE_T_NO_HOLD: u8 = 0xF3;
    /// Read the temperature taken during the last RH measurement (§5.1; no checksum).
    pub(crate) const READ_T_FROM_PREVIOUS_RH: u8 = 0xE0;
    /// Software reset.
    pub(crate) const RESET: u8 = 0xFE;
    /// Write RH/T user register 1.
    pub(crate) const WRITE_USER_REG1: u8 = 0xE6;
    /// Read RH/T user register 1.
    pub(crate) const READ_USER_REG1: u8 = 0xE7;
    /// Write the heater control register.
    pub(crate) const WRITE_HEATER: u8 = 0x51;
    /// Read the heater control register.
    pub(crate) const READ_HEATER: u8 = 0x11;
    /// Read the first half of the electronic ID (§5.3).
    pub(crate) const READ_ID_1: [u8; 2] = [0xFA, 0x0F];
    /// Read the second half of the electronic ID (§5.3).
    pub(crate) const READ_ID_2: [u8; 2] = [0xFC, 0xC9];
    /// Read the firmware revision (§5.4).
    pub(crate) const READ_FIRMWARE_REVISION: [u8; 2] = [0x84, 0xB8];
}

/// Bits of user register 1 (register table "User Register 1"). The other bits are reserved, so the driver
/// only ever read-modify-writes the register.
pub(crate) struct UserReg1;

impl UserReg1 {
    /// Measurement resolution, high bit (D7).
    pub(crate) const RES1: u8 = 1 << 7;
    /// Measurement resolution, low bit (D0).
    pub(crate) const RES0: u8 = 1 << 0;
    /// On-chip heater enable (D2).
    pub(crate) const HTRE: u8 = 1 << 2;
}

/// Bits of the heater control register (register table "Heater Control Register"; §5.5 Heater): `HEATER[3:0]` is the
/// current, the upper nibble is reserved.
pub(crate) const HEATER_CURRENT_MASK: u8 = 0x0F;

/// Wait after a software reset before the chip answers again: 15 ms max (Table 2, "Powerup
/// Time" after a software reset).
pub(crate) const RESET_TIME_US: u32 = 15_000;

/// Power-up time, VDD ≥ 1.9 V to ready for a conversion over the full temperature range: 80 ms
/// max (Table 2, "Powerup Time").
pub(crate) const POWER_UP_TIME_MS: u32 = 80;

/// The two status bits at the bottom of every measurement code (§5.1): RH codes end in `10`,
/// temperature codes in `00`; neither is part of the value.
pub(crate) const STATUS_BITS: u16 = 0b11;
