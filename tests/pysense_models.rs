//! The drivers against small behavioural models of the chips rather than transaction lists:
//! each model keeps its registers (or, for the PIC, its memory) and answers the bus the way
//! the datasheet (or Pycom's protocol) says. These tests check the *state* the drivers leave
//! behind and the values they read, whatever order of transactions they choose.

use core::convert::Infallible;

use embedded_hal::i2c::{ErrorType, Operation};
use embedded_hal_mock::eh1::delay::NoopDelay;

/// A chip on the bus: receives writes and answers reads.
trait Chip {
    const ADDRESS: u8;
    fn write(&mut self, bytes: &[u8]);
    fn read(&mut self, buffer: &mut [u8]);
}

/// A bus with one chip; both the blocking and the async I2c traits.
struct Bus<C>(C);

impl<C: Chip> Bus<C> {
    fn run(&mut self, address: u8, operations: &mut [Operation<'_>]) {
        assert_eq!(address, C::ADDRESS, "wrong I2C address");
        for op in operations {
            match op {
                Operation::Write(bytes) => self.0.write(bytes),
                Operation::Read(buffer) => self.0.read(buffer),
            }
        }
    }
}

impl<C> ErrorType for Bus<C> {
    type Error = Infallible;
}

impl<C: Chip> embedded_hal::i2c::I2c for Bus<C> {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Infallible> {
        self.run(address, operations);
        Ok(())
    }
}

impl<C: Chip> embedded_hal_async::i2c::I2c for Bus<C> {
    async fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Infallible> {
        self.run(address, operations);
        Ok(())
    }
}

/// The PIC co-processor: commands PEEK/POKE/MAGIC/versions over 4 KiB of memory; a 1-byte
/// read is the status (always done, 0xFF), a longer read is a reply after one junk byte. An
/// ADC conversion started with GO finishes after one status check.
struct Pic {
    memory: [u8; 0x1000],
    reply: Vec<u8>,
    battery_count: u16,
}

impl Pic {
    const TRISC: usize = 0x08E;
    const LATC: usize = 0x10E;
    const ANSELC: usize = 0x18E;
    const ADCON0: usize = 0x09D;
    const ADCON1: usize = 0x09E;
    const ADRESH: usize = 0x09C;
    const ADRESL: usize = 0x09B;

    fn new() -> Self {
        let mut memory = [0u8; 0x1000];
        memory[Self::TRISC] = 0xFF; // PIC reset: every pin an input
        memory[Self::LATC] = 0x15;
        Self {
            memory,
            reply: Vec::new(),
            battery_count: 0,
        }
    }
}

impl Chip for Pic {
    const ADDRESS: u8 = 0x08;

    fn write(&mut self, bytes: &[u8]) {
        let address = || usize::from(u16::from_le_bytes([bytes[1], bytes[2]]));
        self.reply = match bytes[0] {
            0x00 => {
                let a = address();
                let value = self.memory[a];
                if a == Self::ADCON0 && value & 0x02 != 0 {
                    // conversion done: left-justified result, GO cleared
                    self.memory[Self::ADRESH] = (self.battery_count >> 2) as u8;
                    self.memory[Self::ADRESL] = ((self.battery_count & 0b11) << 6) as u8;
                    self.memory[a] &= !0x02;
                }
                vec![value]
            }
            0x01 => {
                self.memory[address()] = bytes[3];
                vec![]
            }
            0x02 => {
                let a = address();
                self.memory[a] = ((self.memory[a] & bytes[3]) | bytes[4]) ^ bytes[5];
                vec![self.memory[a]]
            }
            0x10 => vec![0x03, 0x00],
            0x11 => vec![17, 0x00],
            0x12 => vec![0x12, 0xF0],
            other => panic!("unknown co-processor command {other:#04x}"),
        };
    }

    fn read(&mut self, buffer: &mut [u8]) {
        if buffer.len() == 1 {
            buffer[0] = 0xFF;
        } else {
            assert_eq!(
                buffer.len(),
                self.reply.len() + 1,
                "reply read of the wrong size"
            );
            buffer[0] = 0x5A;
            buffer[1..].copy_from_slice(&self.reply);
        }
    }
}

/// A register file with an address pointer that auto-increments on reads, shared by the LTR-329
/// and LIS2HH12 models.
struct Registers {
    map: [u8; 256],
    pointer: u8,
}

impl Registers {
    fn write(&mut self, bytes: &[u8]) {
        self.pointer = bytes[0];
        for (i, value) in bytes[1..].iter().enumerate() {
            self.map[usize::from(bytes[0]) + i] = *value;
        }
    }
}

/// LTR-329ALS-01: measures only when active; data registers lock from the first data byte
/// until 0x8B is read; reading 0x8B clears the new-data flag.
struct Ltr329Model {
    registers: Registers,
    ch0: u16,
    ch1: u16,
}

impl Ltr329Model {
    fn new(ch0: u16, ch1: u16) -> Self {
        let mut map = [0u8; 256];
        map[0x85] = 0x03;
        map[0x86] = 0xA0;
        map[0x87] = 0x05;
        Self {
            registers: Registers { map, pointer: 0 },
            ch0,
            ch1,
        }
    }

    fn active(&self) -> bool {
        self.registers.map[0x80] & 1 != 0
    }
}

impl Chip for Ltr329Model {
    const ADDRESS: u8 = 0x29;

    fn write(&mut self, bytes: &[u8]) {
        self.registers.write(bytes);
    }

    fn read(&mut self, buffer: &mut [u8]) {
        // a finished measurement: data and status (gain of ALS_CONTR, new data)
        if self.active() && self.registers.pointer == 0x8C {
            let [c1l, c1h] = self.ch1.to_le_bytes();
            let [c0l, c0h] = self.ch0.to_le_bytes();
            self.registers.map[0x88..0x8C].copy_from_slice(&[c1l, c1h, c0l, c0h]);
            let gain = (self.registers.map[0x80] >> 2) & 0b111;
            self.registers.map[0x8C] = (gain << 4) | 0x04;
        }
        for byte in buffer.iter_mut() {
            let register = self.registers.pointer;
            *byte = self.registers.map[usize::from(register)];
            if register == 0x8B {
                self.registers.map[0x8C] &= !0x04;
            }
            self.registers.pointer = register.wrapping_add(1);
        }
    }
}

/// LIS2HH12: auto-increments only with CTRL4 IF_ADD_INC; a sample is ready only while CTRL1
/// has an ODR, BDU set and the three axes enabled.
struct Lis2hh12Model {
    registers: Registers,
    sample: [i16; 3],
}

impl Lis2hh12Model {
    fn new(sample: [i16; 3]) -> Self {
        let mut map = [0u8; 256];
        map[0x0F] = 0x41;
        map[0x20] = 0x07;
        Self {
            registers: Registers { map, pointer: 0 },
            sample,
        }
    }
}

impl Chip for Lis2hh12Model {
    const ADDRESS: u8 = 0x1E;

    fn write(&mut self, bytes: &[u8]) {
        self.registers.write(bytes);
    }

    fn read(&mut self, buffer: &mut [u8]) {
        let ctrl1 = self.registers.map[0x20];
        let sampling = ctrl1 & 0x70 != 0 && ctrl1 & 0x08 != 0 && ctrl1 & 0x07 == 0x07;
        if sampling && self.registers.pointer == 0x27 {
            for (i, axis) in self.sample.iter().enumerate() {
                let [l, h] = axis.to_le_bytes();
                self.registers.map[0x28 + 2 * i] = l;
                self.registers.map[0x29 + 2 * i] = h;
            }
            self.registers.map[0x27] = 0x08;
        }
        let increment = self.registers.map[0x23] & 0x04 != 0;
        for byte in buffer.iter_mut() {
            *byte = self.registers.map[usize::from(self.registers.pointer)];
            if increment {
                self.registers.pointer = self.registers.pointer.wrapping_add(1);
            }
        }
    }
}

macro_rules! blocking_call {
    ($e:expr) => {
        $e
    };
}

macro_rules! async_call {
    ($e:expr) => {
        embassy_futures::block_on($e)
    };
}

macro_rules! model_cases {
    ($variant:ident, $call:ident, $coprocessor:ident, $lis2hh12:ident, $ltr329:ident) => {
        mod $variant {
            use super::*;
            use sensorpub::pysense::coprocessor::$coprocessor as Coprocessor;
            use sensorpub::pysense::lis2hh12::$lis2hh12 as Lis2hh12;
            use sensorpub::pysense::ltr329::$ltr329 as Ltr329;
            use sensorpub::pysense::{coprocessor, lis2hh12, ltr329};

            #[test]
            fn power_on_leaves_rc6_rc7_outputs_and_pwr_ctrl_high_and_nothing_else_changed() {
                let mut pic = Coprocessor::new(Bus(Pic::new()), NoopDelay::new());
                $call!(pic.init()).unwrap();
                $call!(pic.power_on_sensors()).unwrap();
                let (Bus(model), _) = pic.destroy();
                assert_eq!(model.memory[Pic::TRISC], 0x3F);
                assert_eq!(model.memory[Pic::LATC], 0x95);
            }

            #[test]
            fn power_off_clears_only_pwr_ctrl() {
                let mut pic = Coprocessor::new(Bus(Pic::new()), NoopDelay::new());
                $call!(pic.power_on_sensors()).unwrap();
                $call!(pic.power_off_sensors()).unwrap();
                let (Bus(model), _) = pic.destroy();
                assert_eq!(model.memory[Pic::LATC], 0x15);
            }

            #[test]
            fn battery_voltage_from_the_adc_model() {
                let mut model = Pic::new();
                model.battery_count = 837;
                let mut pic = Coprocessor::new(Bus(model), NoopDelay::new());
                $call!(pic.enable_battery_adc()).unwrap();
                let v = $call!(pic.battery_voltage()).unwrap();
                assert_eq!(v, coprocessor::battery_voltage(837));
                let (Bus(model), _) = pic.destroy();
                assert_eq!(model.memory[Pic::ANSELC], 0x04);
                assert_eq!(model.memory[Pic::ADCON0], 0x19);
                assert_eq!(model.memory[Pic::ADCON1], 0x60);
            }

            #[test]
            fn ltr329_lux_from_the_model_with_the_configured_gain() {
                let mut als = Ltr329::new(Bus(Ltr329Model::new(5000, 1000)), NoopDelay::new());
                let config = ltr329::Config::new(
                    ltr329::Gain::X4,
                    ltr329::IntegrationTime::Ms200,
                    ltr329::MeasurementRate::Ms200,
                )
                .unwrap();
                $call!(als.init(config)).unwrap();
                let lx = $call!(als.read_lux()).unwrap();
                let expected = (1.7743 * 5000.0 + 1.1059 * 1000.0) / 4.0 / 2.0;
                assert!((lx - expected).abs() < 1e-2, "{lx} vs {expected}");
                let (Bus(model), _) = als.destroy();
                assert_eq!(model.registers.map[0x80], 0x09, "4× gain, active");
                assert_eq!(model.registers.map[0x85], 0x12, "200 ms / 200 ms");
                assert_eq!(
                    model.registers.map[0x8C] & 0x04,
                    0,
                    "data read, flag cleared"
                );
            }

            #[test]
            fn ltr329_in_standby_produces_no_data_and_the_wait_is_bounded() {
                let mut als = Ltr329::new(Bus(Ltr329Model::new(5000, 1000)), NoopDelay::new());
                assert_eq!($call!(als.read_lux()), Err(ltr329::Error::Timeout));
            }

            #[test]
            fn lis2hh12_reads_all_three_axes_with_bdu_and_auto_increment() {
                let model = Lis2hh12Model::new([-4100, 2050, 16393]);
                let mut accel = Lis2hh12::new(Bus(model), NoopDelay::new());
                let config = lis2hh12::Config {
                    data_rate: lis2hh12::DataRate::Hz100,
                    full_scale: lis2hh12::FullScale::G2,
                };
                $call!(accel.init(config)).unwrap();
                let a = $call!(accel.acceleration()).unwrap();
                assert_eq!(
                    a.x,
                    lis2hh12::acceleration_g(-4100, lis2hh12::FullScale::G2)
                );
                assert_eq!(a.y, lis2hh12::acceleration_g(2050, lis2hh12::FullScale::G2));
                assert_eq!(
                    a.z,
                    lis2hh12::acceleration_g(16393, lis2hh12::FullScale::G2)
                );
                let (Bus(model), _) = accel.destroy();
                assert_eq!(model.registers.map[0x20], 0x3F);
                assert_eq!(model.registers.map[0x23], 0x04);
            }
        }
    };
}

model_cases!(blocking, blocking_call, Coprocessor, Lis2hh12, Ltr329);
model_cases!(
    asynchronous,
    async_call,
    CoprocessorAsync,
    Lis2hh12Async,
    Ltr329Async
);
