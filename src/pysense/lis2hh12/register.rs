//! LIS2HH12 register addresses and bit fields.
//!
//! From the LIS2HH12 datasheet's register description (§ 7 "Register description", DocID
//! 025735) as mirrored in ST's `lis2hh12_reg.h` (`STMicroelectronics/lis2hh12-pid`).

/// 7-bit I²C address with SA0 low, as wired on the PySense (0x1D with SA0 high).
pub(crate) const ADDRESS: u8 = 0x1E;

/// Register addresses.
pub(crate) struct Register;

impl Register {
    /// TEMP_L: temperature, low byte; TEMP_H follows at 0x0C.
    pub(crate) const TEMP_L: u8 = 0x0B;
    /// WHO_AM_I: reads 0x41.
    pub(crate) const WHO_AM_I: u8 = 0x0F;
    /// CTRL1: HR (b7), ODR (b6:4), BDU (b3), Z/Y/X enable (b2:0).
    pub(crate) const CTRL1: u8 = 0x20;
    /// CTRL4: BW (b7:6), FS (b5:4), BW_SCALE_ODR (b3), IF_ADD_INC (b2), I2C_DISABLE (b1),
    /// SIM (b0).
    pub(crate) const CTRL4: u8 = 0x23;
    /// STATUS: ZYXOR (b7) … ZYXDA (b3) ….
    pub(crate) const STATUS: u8 = 0x27;
    /// OUT_X_L: first of six output bytes X, Y, Z, each little-endian i16.
    pub(crate) const OUT_X_L: u8 = 0x28;
}

/// Bit fields.
pub(crate) struct BitFlags;

impl BitFlags {
    /// CTRL1 b3, block data update: the output registers are not updated between the reads
    /// of a sample's low and high bytes, so a burst never mixes two samples.
    pub(crate) const BDU: u8 = 1 << 3;
    /// CTRL1 b2:0: Z, Y and X axes enabled.
    pub(crate) const XYZ_ENABLE: u8 = 0b111;
    /// CTRL1 ODR field position.
    pub(crate) const ODR_SHIFT: u8 = 4;
    /// CTRL4 b2: register address auto-increment on multi-byte access.
    pub(crate) const IF_ADD_INC: u8 = 1 << 2;
    /// CTRL4 FS field position.
    pub(crate) const FS_SHIFT: u8 = 4;
    /// STATUS b3: a new X, Y and Z sample is available.
    pub(crate) const ZYXDA: u8 = 1 << 3;
}

/// WHO_AM_I value of a LIS2HH12.
pub(crate) const WHO_AM_I_VALUE: u8 = 0x41;

/// Interval between two STATUS polls while waiting for a sample.
pub(crate) const DATA_READY_POLL_US: u32 = 1_000;
