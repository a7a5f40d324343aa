//! A simulated PySense 2 I2C bus for host tests: the four sensors and the co-processor answer
//! as their datasheets say, so the drivers run their real transactions against it and the
//! test reads back physical values it chose (21.5 °C, 45 %RH, 101 325 Pa, …).
//!
//! Register maps and formats are written out here from the datasheets
//! (`shared/reference/pysense-sensors.md`), not taken from the drivers, so a driver that reads
//! the wrong register or decodes wrongly publishes the wrong number and the test sees it.
//!
//! Like a real PySense 2, the sensors do not answer (address NACK) until the co-processor has
//! been told to power them (TRISC bit 7 an output, LATC bit 7 high).
#![allow(dead_code)] // each test file uses a different part

use embedded_hal::i2c::{ErrorKind, ErrorType, NoAcknowledgeSource, Operation};
use std::cell::RefCell;
use std::rc::Rc;

/// What the simulated sensors measure.
#[derive(Debug, Clone, Copy)]
pub struct Environment {
    /// °C, seen by the SI7006 and the MPL3115A2.
    pub temperature: f32,
    /// °C the SI7006's temperature rises with each humidity conversion, so that every
    /// sample is told apart from the others (0 for a steady room).
    pub temperature_step: f32,
    /// %RH.
    pub humidity: f32,
    /// Pa.
    pub pressure: f32,
    /// m.
    pub altitude: f32,
    /// LTR-329 channel 0 (visible + IR) and channel 1 (IR) counts.
    pub light: (u16, u16),
    /// g on x, y, z.
    pub acceleration: [f32; 3],
}

impl Default for Environment {
    fn default() -> Self {
        Self {
            temperature: 21.5,
            temperature_step: 0.0,
            humidity: 45.0,
            pressure: 101_325.0,
            altitude: 120.5,
            light: (1000, 500),
            acceleration: [0.0, 0.0, 1.0],
        }
    }
}

/// 7-bit addresses on the PySense bus.
pub const COPROCESSOR: u8 = 0x08;
pub const SI7006: u8 = 0x40;
pub const MPL3115A2: u8 = 0x60;
pub const LTR329: u8 = 0x29;
pub const LIS2HH12: u8 = 0x1E;

/// Co-processor RAM addresses (PIC16 special function registers).
const TRISC: usize = 0x08E;
const LATC: usize = 0x10E;
/// RC7 drives PWR_CTRL, the sensors' supply.
const PWR_CTRL_BIT: u8 = 1 << 7;

/// The simulated bus; clones share the chips, as I2C devices sharing one bus do.
#[derive(Clone)]
pub struct PySenseBus(Rc<RefCell<Chips>>);

struct Chips {
    env: Environment,
    /// PySense 1 powers its sensors always; PySense 2 only after the co-processor is told.
    needs_power_on: bool,
    /// Addresses of chips taken off the board: they never answer.
    absent: Vec<u8>,
    pic_ram: Vec<u8>,
    pic_reply: Vec<u8>,
    si7006_reply: Vec<u8>,
    si7006_conversions: u32,
    /// The SI7006 sends a wrong checksum after its device id (a disturbed bus, say).
    si7006_bad_id_crc: bool,
    mpl_regs: [u8; 0x30],
    mpl_pointer: usize,
    ltr_regs: [u8; 0x10],
    ltr_pointer: usize,
    lis_regs: [u8; 0x40],
    lis_pointer: usize,
    transactions: usize,
}

impl PySenseBus {
    /// A PySense 2: sensors unpowered until the co-processor switches them on.
    pub fn pysense2(env: Environment) -> Self {
        Self::new(env, true)
    }

    /// A PySense 1: sensors always powered.
    pub fn pysense1(env: Environment) -> Self {
        Self::new(env, false)
    }

    fn new(env: Environment, needs_power_on: bool) -> Self {
        let mut pic_ram = vec![0u8; 0x800];
        pic_ram[TRISC] = 0xFF; // every pin an input after reset
        let mut lis_regs = [0u8; 0x40];
        lis_regs[0x0F] = 0x41; // WHO_AM_I
        lis_regs[0x20] = 0x07; // CTRL1: axes on, ODR off
        lis_regs[0x23] = 0x04; // CTRL4: IF_ADD_INC
        let mut mpl_regs = [0u8; 0x30];
        mpl_regs[0x0C] = 0xC4; // WHO_AM_I
        let mut ltr_regs = [0u8; 0x10];
        ltr_regs[0x05] = 0x03; // ALS_MEAS_RATE default
        ltr_regs[0x06] = 0xA0; // PART_ID
        ltr_regs[0x07] = 0x05; // MANUFAC_ID
        Self(Rc::new(RefCell::new(Chips {
            env,
            needs_power_on,
            absent: Vec::new(),
            pic_ram,
            pic_reply: Vec::new(),
            si7006_reply: Vec::new(),
            si7006_conversions: 0,
            si7006_bad_id_crc: false,
            mpl_regs,
            mpl_pointer: 0,
            ltr_regs,
            ltr_pointer: 0,
            lis_regs,
            lis_pointer: 0,
            transactions: 0,
        })))
    }

    /// The same board without the chip at `address` (it never answers, as if unsoldered).
    pub fn without(self, address: u8) -> Self {
        self.0.borrow_mut().absent.push(address);
        self
    }

    /// The same board with the MPL3115A2 as other firmware left it across an MCU reset:
    /// active (SBYB) in altimeter mode at OS = 128 (CTRL_REG1 0xB9), its last altitude
    /// sample flagged new.
    pub fn with_mpl3115a2_left_active_as_altimeter(self) -> Self {
        {
            let mut chips = self.0.borrow_mut();
            chips.mpl_regs[0x26] = 0xB9;
            chips.mpl_measure(true);
        }
        self
    }

    /// The same board with an SI7006 whose electronic id comes with a wrong checksum: the
    /// checksum after SNB_3..SNB_2 has its lowest bit flipped.
    pub fn with_si7006_id_checksum_corrupted(self) -> Self {
        self.0.borrow_mut().si7006_bad_id_crc = true;
        self
    }

    /// The MPL3115A2's CTRL_REG1 as the chip holds it.
    pub fn mpl3115a2_ctrl_reg1(&self) -> u8 {
        self.0.borrow().mpl_regs[0x26]
    }

    /// Whether the co-processor has switched the sensors' supply on.
    pub fn sensors_powered(&self) -> bool {
        self.0.borrow().powered()
    }

    /// How many I2C transactions the bus has seen.
    pub fn transactions(&self) -> usize {
        self.0.borrow().transactions
    }
}

impl ErrorType for PySenseBus {
    type Error = ErrorKind;
}

impl embedded_hal_async::i2c::I2c for PySenseBus {
    async fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        self.0.borrow_mut().transaction(address, operations)
    }
}

impl embedded_hal::i2c::I2c for PySenseBus {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), ErrorKind> {
        self.0.borrow_mut().transaction(address, operations)
    }
}

const NACK: ErrorKind = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address);

impl Chips {
    fn powered(&self) -> bool {
        !self.needs_power_on
            || (self.pic_ram[TRISC] & PWR_CTRL_BIT == 0 && self.pic_ram[LATC] & PWR_CTRL_BIT != 0)
    }

    fn transaction(&mut self, address: u8, ops: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
        self.transactions += 1;
        let sensor = matches!(address, SI7006 | MPL3115A2 | LTR329 | LIS2HH12);
        if (sensor && !self.powered()) || self.absent.contains(&address) {
            return Err(NACK);
        }
        for op in ops {
            match (address, op) {
                (COPROCESSOR, Operation::Write(bytes)) => self.pic_command(bytes),
                (COPROCESSOR, Operation::Read(buf)) => {
                    // Byte 0 is the "ready" flag (0xFF); the reply follows it.
                    for (i, byte) in buf.iter_mut().enumerate() {
                        *byte = if i == 0 {
                            0xFF
                        } else {
                            self.pic_reply.get(i - 1).copied().unwrap_or(0)
                        };
                    }
                }
                (SI7006, Operation::Write(bytes)) => self.si7006_command(bytes),
                (SI7006, Operation::Read(buf)) => {
                    for (i, byte) in buf.iter_mut().enumerate() {
                        *byte = self.si7006_reply.get(i).copied().unwrap_or(0xFF);
                    }
                }
                (MPL3115A2, Operation::Write(bytes)) => self.mpl_write(bytes),
                (MPL3115A2, Operation::Read(buf)) => {
                    for byte in buf.iter_mut() {
                        *byte = self.mpl_regs.get(self.mpl_pointer).copied().unwrap_or(0);
                        // STATUS..OUT_T (0x00–0x05) auto-increment and wrap to 0x00.
                        self.mpl_pointer = if self.mpl_pointer == 0x05 {
                            0
                        } else {
                            self.mpl_pointer + 1
                        };
                    }
                }
                (LTR329, Operation::Write(bytes)) => self.ltr_write(bytes),
                (LTR329, Operation::Read(buf)) => {
                    for byte in buf.iter_mut() {
                        *byte = self.ltr_regs.get(self.ltr_pointer).copied().unwrap_or(0);
                        self.ltr_pointer += 1;
                    }
                }
                (LIS2HH12, Operation::Write(bytes)) => self.lis_write(bytes),
                (LIS2HH12, Operation::Read(buf)) => {
                    self.lis_update_outputs();
                    for byte in buf.iter_mut() {
                        *byte = self.lis_regs.get(self.lis_pointer).copied().unwrap_or(0);
                        if self.lis_regs[0x23] & 0x04 != 0 {
                            self.lis_pointer += 1;
                        }
                    }
                }
                _ => return Err(NACK),
            }
        }
        Ok(())
    }

    // ---- Co-processor: PEEK / POKE / MAGIC on its RAM, version queries. ----

    fn pic_command(&mut self, bytes: &[u8]) {
        let addr = |b: &[u8]| usize::from(b[1]) | usize::from(b[2]) << 8;
        self.pic_reply = match bytes {
            [0x00, _, _] => vec![self.pic_ram[addr(bytes) % 0x800]],
            [0x01, _, _, value] => {
                self.pic_ram[addr(bytes) % 0x800] = *value;
                vec![]
            }
            [0x02, _, _, and, or, xor] => {
                let cell = &mut self.pic_ram[addr(bytes) % 0x800];
                *cell = ((*cell & and) | or) ^ xor;
                vec![*cell]
            }
            [0x10] => vec![0x04, 0x00], // HW_VER
            [0x11] => vec![17, 0x00],   // FW_VER: Pysense 2 needs >= 16
            [0x12] => vec![0x12, 0xF0], // PROD_ID 0xF012 = Pysense 2
            _ => vec![],
        };
    }

    // ---- SI7006-A20: command set, CRC-8 0x31 init 0x00. ----

    fn si7006_command(&mut self, bytes: &[u8]) {
        // The nearest code the chip can give: its two low bits are status, not data.
        let code = |x: f32| ((x / 4.0).round() as u16) * 4;
        let t_code = |t: f32| code((t + 46.85) * 65_536.0 / 175.72);
        let rh_code = |rh: f32| code((rh + 6.0) * 65_536.0 / 125.0) | 0b10;
        let with_crc = |code: u16| {
            let [msb, lsb] = code.to_be_bytes();
            vec![msb, lsb, crc8(&[msb, lsb])]
        };
        if matches!(bytes, [0xE5] | [0xF5]) {
            self.si7006_conversions += 1;
        }
        let temperature = self.env.temperature
            + self.env.temperature_step * self.si7006_conversions.saturating_sub(1) as f32;
        self.si7006_reply = match bytes {
            [0xE5] | [0xF5] => with_crc(rh_code(self.env.humidity)),
            [0xE3] | [0xF3] => with_crc(t_code(temperature)),
            [0xE0] => t_code(temperature).to_be_bytes().to_vec(),
            [0xE7] => vec![0x3A],
            [0x11] => vec![0x00],
            [0x84, 0xB8] => vec![0x20],
            [0xFA, 0x0F] => {
                let sna = [0x11, 0x22, 0x33, 0x44];
                let mut out = Vec::new();
                for i in 0..4 {
                    out.push(sna[i]);
                    out.push(crc8(&sna[..=i]));
                }
                out
            }
            [0xFC, 0xC9] => {
                let snb = [0x06, 0x00, 0xFF, 0xFF]; // SNB_3 = 0x06: Si7006
                let crc = crc8(&snb[..2]) ^ u8::from(self.si7006_bad_id_crc);
                vec![snb[0], snb[1], crc, snb[2], snb[3], crc8(&snb)]
            }
            _ => vec![],
        };
    }

    // ---- MPL3115A2: registers, one-shot (OST) or active mode makes a measurement. ----

    fn mpl_write(&mut self, bytes: &[u8]) {
        let Some((&reg, values)) = bytes.split_first() else {
            return;
        };
        self.mpl_pointer = usize::from(reg);
        const CTRL_REG1: usize = 0x26;
        // ALT (b7), RAW (b6) and OS (b5:3) only change in standby: written while the chip is
        // active (SBYB set before the write), they keep their old value.
        const STANDBY_ONLY: u8 = 0b1111_1000;
        let was_active = self.mpl_regs[CTRL_REG1] & 0x01 != 0;
        for (i, &value) in values.iter().enumerate() {
            let at = usize::from(reg) + i;
            let value = if at == CTRL_REG1 && was_active {
                (self.mpl_regs[CTRL_REG1] & STANDBY_ONLY) | (value & !STANDBY_ONLY)
            } else {
                value
            };
            if let Some(cell) = self.mpl_regs.get_mut(at) {
                *cell = value;
            }
        }
        if usize::from(reg) == CTRL_REG1 && !values.is_empty() {
            let ctrl = self.mpl_regs[CTRL_REG1];
            if ctrl & 0x04 != 0 {
                // RST: registers back to reset values.
                self.mpl_regs = [0; 0x30];
                self.mpl_regs[0x0C] = 0xC4;
            } else if ctrl & 0x03 != 0 {
                self.mpl_measure(ctrl & 0x80 != 0);
                // OST clears itself when the measurement is done.
                self.mpl_regs[0x26] &= !0x02;
            }
        }
    }

    fn mpl_measure(&mut self, altimeter: bool) {
        let p = if altimeter {
            // Q16.4 signed metres in bits 23:4.
            ((self.env.altitude * 16.0).round() as i32 as u32) << 4
        } else {
            // Q18.2 unsigned pascals in bits 23:4.
            ((self.env.pressure * 4.0).round() as u32) << 4
        };
        let t = (((self.env.temperature * 16.0).round() as i16) << 4) as u16;
        self.mpl_regs[0x01] = (p >> 16) as u8;
        self.mpl_regs[0x02] = (p >> 8) as u8;
        self.mpl_regs[0x03] = p as u8;
        self.mpl_regs[0x04] = (t >> 8) as u8;
        self.mpl_regs[0x05] = t as u8;
        self.mpl_regs[0x00] = 0x0E; // PTDR | PDR | TDR
        self.mpl_regs[0x06] = 0x0E; // DR_STATUS mirrors STATUS
    }

    // ---- LTR-329ALS-01: registers 0x80–0x8C. ----

    fn ltr_write(&mut self, bytes: &[u8]) {
        let Some((&reg, values)) = bytes.split_first() else {
            return;
        };
        self.ltr_pointer = usize::from(reg.wrapping_sub(0x80));
        for (i, &value) in values.iter().enumerate() {
            if let Some(cell) = self.ltr_regs.get_mut(self.ltr_pointer + i) {
                *cell = value;
            }
        }
        let active = self.ltr_regs[0x00] & 0x01 != 0;
        if active {
            let (ch0, ch1) = self.env.light;
            let gain = (self.ltr_regs[0x00] >> 2) & 0x07;
            self.ltr_regs[0x08..0x0A].copy_from_slice(&ch1.to_le_bytes());
            self.ltr_regs[0x0A..0x0C].copy_from_slice(&ch0.to_le_bytes());
            // Valid data, taken at the configured gain, new.
            self.ltr_regs[0x0C] = gain << 4 | 0x04;
        } else {
            self.ltr_regs[0x0C] = 0x80; // data invalid in standby
        }
    }

    // ---- LIS2HH12: registers 0x00–0x3F, outputs follow the full-scale setting. ----

    fn lis_write(&mut self, bytes: &[u8]) {
        let Some((&reg, values)) = bytes.split_first() else {
            return;
        };
        self.lis_pointer = usize::from(reg & 0x3F);
        for (i, &value) in values.iter().enumerate() {
            if let Some(cell) = self.lis_regs.get_mut(self.lis_pointer + i) {
                *cell = value;
            }
        }
    }

    fn lis_update_outputs(&mut self) {
        let odr_on = self.lis_regs[0x20] & 0x70 != 0;
        if !odr_on {
            self.lis_regs[0x27] = 0;
            return;
        }
        // mg per LSB at ±2 / ±4 / ±8 g (FS bits 5:4 of CTRL4 = 00 / 10 / 11).
        let mg_per_lsb = match (self.lis_regs[0x23] >> 4) & 0x03 {
            0b10 => 0.122,
            0b11 => 0.244,
            _ => 0.061,
        };
        for (axis, g) in self.env.acceleration.iter().enumerate() {
            let raw = (g * 1000.0 / mg_per_lsb).round() as i16;
            let at = 0x28 + 2 * axis;
            self.lis_regs[at..at + 2].copy_from_slice(&raw.to_le_bytes());
        }
        self.lis_regs[0x27] = 0x0F; // ZYXDA and each axis ready
    }
}

/// SI7006 CRC-8: polynomial x⁸+x⁵+x⁴+1 (0x31), initial value 0x00.
pub fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &byte in bytes {
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
fn crc8_matches_the_reference_vector() {
    // CRC(BE EF) with init 0x00, from the reference notes.
    assert_eq!(crc8(&[0xBE, 0xEF]), 0x13);
}
