//! Register addresses, bits and timings of the MPL3115A2.
//!
//! Section numbers refer to the Freescale MPL3115A2 datasheet rev. 2.2 (register chapter 7);
//! later NXP revisions renumber the chapters but keep the register names used here.

/// 7-bit I²C address; fixed.
pub(crate) const ADDRESS: u8 = 0x60;

/// Register addresses (register map table).
pub(crate) struct Register;

impl Register {
    /// STATUS; equal to DR_STATUS while the FIFO is off (F_MODE = 00). First of the six
    /// auto-incrementing registers 0x00..=0x05 read in one burst (§7.1.3.1).
    pub(crate) const STATUS: u8 = 0x00;
    /// Device identification, fixed at [`WHO_AM_I_VALUE`].
    pub(crate) const WHO_AM_I: u8 = 0x0C;
    /// PT_DATA_CFG: data-ready event flags.
    pub(crate) const PT_DATA_CFG: u8 = 0x13;
    /// BAR_IN_MSB; BAR_IN_LSB follows at 0x15 (auto-increment). Sea-level pressure for the
    /// altitude calculation, in units of 2 Pa.
    pub(crate) const BAR_IN_MSB: u8 = 0x14;
    /// CTRL_REG1: mode, oversampling, one-shot trigger, standby/active.
    pub(crate) const CTRL_REG1: u8 = 0x26;
}

/// The WHO_AM_I value of every MPL3115A2.
pub(crate) const WHO_AM_I_VALUE: u8 = 0xC4;

/// DR_STATUS bits.
pub(crate) struct Status;

impl Status {
    /// New pressure or altitude data (PDR, bit 2); cleared by reading OUT_P_MSB.
    pub(crate) const PDR: u8 = 1 << 2;
    /// New temperature data (TDR, bit 1); cleared by reading OUT_T_MSB.
    pub(crate) const TDR: u8 = 1 << 1;
}

/// CTRL_REG1 bits.
pub(crate) struct CtrlReg1;

impl CtrlReg1 {
    /// Altimeter mode (ALT, bit 7); barometer when clear.
    pub(crate) const ALT: u8 = 1 << 7;
    /// Oversampling ratio `OS[2:0]` (bits 5..3): ratio 2^OS.
    pub(crate) const OS_SHIFT: u8 = 3;
    /// One-shot trigger (OST, bit 1): set in standby to take one measurement; the chip clears
    /// it when the measurement is done.
    pub(crate) const OST: u8 = 1 << 1;
    /// Active (SBYB, bit 0): the chip measures continuously; clear for standby. ALT and OS may
    /// only be changed in standby (CTRL_REG1 description: "mode changes ... in standby").
    pub(crate) const SBYB: u8 = 1 << 0;
}

/// PT_DATA_CFG value: DREM | PDEFE | TDEFE, data-ready events for pressure/altitude and
/// temperature, as the datasheet's polling quick start (and Pycom's driver) write it.
pub(crate) const PT_DATA_CFG_ALL_EVENTS: u8 = 0b111;

/// How many times the driver reads CTRL_REG1 for a cleared OST after waiting the conversion
/// time, before giving up with `Error::Timeout`.
pub(crate) const OST_POLLS: u32 = 10;

/// Pause between two OST polls, in ms. Ten polls add up to 100 ms of grace on top of the
/// conversion time, a fifth of the longest (512 ms) one.
pub(crate) const OST_POLL_INTERVAL_MS: u32 = 10;
