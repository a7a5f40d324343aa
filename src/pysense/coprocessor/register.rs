//! The PySense co-processor's I²C commands and the PIC memory addresses the driver touches.
//!
//! Commands and the protocol from Pycom's `pycoproc_2.py` (`pycom/pycom-libraries`
//! `shields/lib`); the addresses are the PIC16F1 enhanced mid-range special function
//! registers (PORTx in bank 0, TRISx bank 1, LATx bank 2, ANSELx bank 3) that file uses.

/// 7-bit I²C address of the co-processor.
pub(crate) const ADDRESS: u8 = 0x08;

/// Command codes, the first byte of every write.
pub(crate) struct Command;

impl Command {
    /// PEEK addrL addrH → 1 byte.
    pub(crate) const PEEK: u8 = 0x00;
    /// POKE addrL addrH value.
    pub(crate) const POKE: u8 = 0x01;
    /// MAGIC addrL addrH AND OR XOR: `mem = ((mem & AND) | OR) ^ XOR` → 1 byte.
    pub(crate) const MAGIC: u8 = 0x02;
    /// HW_VER → 2 bytes, little-endian.
    pub(crate) const HW_VER: u8 = 0x10;
    /// FW_VER → 2 bytes, little-endian.
    pub(crate) const FW_VER: u8 = 0x11;
    /// PROD_ID → 2 bytes, little-endian (the board's USB product id).
    pub(crate) const PROD_ID: u8 = 0x12;
}

/// PIC memory addresses.
pub(crate) struct Memory;

impl Memory {
    /// ADRESL: ADC result, low bits (left-justified: the 2 LSBs in b7:6).
    pub(crate) const ADRESL: u16 = 0x09B;
    /// ADRESH: ADC result, high 8 bits.
    pub(crate) const ADRESH: u16 = 0x09C;
    /// ADCON0: channel (b6:2), GO/nDONE (b1), ADON (b0).
    pub(crate) const ADCON0: u16 = 0x09D;
    /// ADCON1: conversion clock (b6:4).
    pub(crate) const ADCON1: u16 = 0x09E;
    /// TRISC: port C direction, 0 = output.
    pub(crate) const TRISC: u16 = 0x08E;
    /// LATC: port C output latch.
    pub(crate) const LATC: u16 = 0x10E;
    /// ANSELC: port C analog select.
    pub(crate) const ANSELC: u16 = 0x18E;
}

/// Bit values written to PIC memory.
pub(crate) struct BitFlags;

impl BitFlags {
    /// RC7 = PWR_CTRL (power to the sensors) and RC6 = 3V3SENSOR_A (accelerometer supply):
    /// both outputs, so their TRISC bits are cleared.
    pub(crate) const TRISC_KEEP_ALL_BUT_RC6_RC7: u8 = !((1 << 7) | (1 << 6));
    /// LATC bit 7: drive PWR_CTRL high, sensors on.
    pub(crate) const LATC_PWR_CTRL: u8 = 1 << 7;
    /// ANSELC bit 2: RC2 (AN6, the battery divider) analog.
    pub(crate) const ANSELC_RC2_ANALOG: u8 = 1 << 2;
    /// ADCON0: channel AN6 (6 << 2) and ADON.
    pub(crate) const ADCON0_AN6_ON: u8 = (6 << 2) | 1;
    /// ADCON1: conversion clock Fosc/64 (6 << 4).
    pub(crate) const ADCON1_FOSC_64: u8 = 6 << 4;
    /// ADCON0 b1: GO/nDONE, set to start, cleared by the PIC when done.
    pub(crate) const ADCON0_GO: u8 = 1 << 1;
}

/// The byte the co-processor answers once it has executed a command.
pub(crate) const READY: u8 = 0xFF;

/// Wait after a command before the first status poll, 10 µs (as Pycom).
pub(crate) const FIRST_POLL_US: u32 = 10;
/// Interval between status polls, 100 µs.
pub(crate) const POLL_US: u32 = 100;
/// Status polls after the first before giving up: 500 × 100 µs = 50 ms (Pycom's timeout).
pub(crate) const COMMAND_POLLS: u32 = 500;

/// Wait after starting an ADC conversion before the first GO/nDONE check, 50 µs.
pub(crate) const ADC_FIRST_POLL_US: u32 = 50;
/// GO/nDONE checks after the first before giving up: 100 × 100 µs = 10 ms, hundreds of
/// times a conversion (about 12 TAD of 4 µs).
pub(crate) const ADC_POLLS: u32 = 100;

/// PROD_ID of a PySense 2.
pub(crate) const PRODUCT_ID_PYSENSE_2: u16 = 0xF012;
/// Oldest co-processor firmware Pycom's PySense 2 driver accepts.
pub(crate) const MIN_FIRMWARE_PYSENSE_2: u16 = 16;
