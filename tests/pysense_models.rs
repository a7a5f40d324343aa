//! The drivers against small behavioural models of the chips rather than transaction lists:
//! each model keeps its registers (or, for the PIC, its memory) and answers the bus the way
//! the datasheet (or Pycom's protocol) says. These tests check the *state* the drivers leave
//! behind and the values they read, whatever order of transactions they choose.

mod dual;

use core::cell::Cell;
use core::convert::Infallible;
use dual::{assert_close, both};
use std::rc::Rc;

use embedded_hal::i2c::{ErrorType, Operation};
use embedded_hal_mock::eh1::delay::NoopDelay;
use sensorpub::pysense::{lis2hh12, ltr329};

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

/// Time on the simulated bench, in µs: the drivers' delays advance it, the chip models read it.
#[derive(Clone, Default)]
struct Clock(Rc<Cell<u64>>);

impl Clock {
    fn now_us(&self) -> u64 {
        self.0.get()
    }

    /// Lets `ms` pass, as if the program did something else meanwhile.
    fn advance_ms(&self, ms: u64) {
        self.0.set(self.0.get() + ms * 1000);
    }
}

impl embedded_hal::delay::DelayNs for Clock {
    fn delay_ns(&mut self, ns: u32) {
        self.0.set(self.0.get() + u64::from(ns).div_ceil(1000));
    }
}

impl embedded_hal_async::delay::DelayNs for Clock {
    async fn delay_ns(&mut self, ns: u32) {
        self.0.set(self.0.get() + u64::from(ns).div_ceil(1000));
    }
}

/// LTR-329ALS-01 in time: active mode wakes 10 ms after ALS_CONTR's mode bit is set, then
/// measures over the integration time and repeats at the measurement rate, each measurement
/// with the gain and integration time in force when it started. Counts grow with gain and
/// integration time; data and ALS_STATUS (gain of the data, new data) are latched when a
/// measurement ends and stay until the next one; reading 0x8B clears the new-data flag.
/// Standby stops measuring and keeps the last data.
struct Ltr329Model {
    registers: Registers,
    /// CH0 and CH1 counts at 1× gain and 100 ms integration.
    ch0: u16,
    ch1: u16,
    clock: Clock,
    /// The measurement under way: when it ends, its gain code and integration time in ms.
    measuring: Option<(u64, u8, u64)>,
}

impl Ltr329Model {
    /// Integration times of ALS_MEAS_RATE codes 0..=7, ms (datasheet).
    const INTEGRATION_MS: [u64; 8] = [100, 50, 200, 400, 150, 250, 300, 350];
    /// Measurement rates of codes 0..=5 (6 and 7 repeat 2000 ms), ms.
    const RATE_MS: [u64; 8] = [50, 100, 200, 500, 1000, 2000, 2000, 2000];
    /// Gains of ALS_CONTR codes 0..=7 (4 and 5 reserved).
    const GAIN: [u64; 8] = [1, 2, 4, 8, 1, 1, 48, 96];

    fn new(ch0: u16, ch1: u16, clock: Clock) -> Self {
        let mut map = [0u8; 256];
        map[0x85] = 0x03;
        map[0x86] = 0xA0;
        map[0x87] = 0x05;
        Self {
            registers: Registers { map, pointer: 0 },
            ch0,
            ch1,
            clock,
            measuring: None,
        }
    }

    fn active(&self) -> bool {
        self.registers.map[0x80] & 1 != 0
    }

    /// As other firmware left it across an MCU reset: active at 1×, 400 ms every 500 ms,
    /// measuring since `clock`'s now.
    fn left_active_at_400_ms(mut self) -> Self {
        self.registers.map[0x80] = 0x01;
        self.registers.map[0x85] = 0x1B;
        self.start(self.clock.now_us());
        self
    }

    /// A measurement starting at `at` with the settings in force now.
    fn start(&mut self, at: u64) {
        let gain = (self.registers.map[0x80] >> 2) & 0b111;
        let integration = Self::INTEGRATION_MS[usize::from((self.registers.map[0x85] >> 3) & 7)];
        self.measuring = Some((at + integration * 1000, gain, integration));
    }

    /// Ends every measurement due by now.
    fn catch_up(&mut self) {
        while let Some((end, gain, integration)) = self.measuring {
            if self.clock.now_us() < end {
                break;
            }
            let scale = Self::GAIN[usize::from(gain)] * integration;
            let count = |base: u16| (u64::from(base) * scale / 100).min(0xFFFF) as u16;
            let [c1l, c1h] = count(self.ch1).to_le_bytes();
            let [c0l, c0h] = count(self.ch0).to_le_bytes();
            self.registers.map[0x88..0x8C].copy_from_slice(&[c1l, c1h, c0l, c0h]);
            self.registers.map[0x8C] = (gain << 4) | 0x04;
            let rate = Self::RATE_MS[usize::from(self.registers.map[0x85] & 7)];
            let next = end + rate.saturating_sub(integration) * 1000;
            self.start(next);
        }
    }
}

impl Chip for Ltr329Model {
    const ADDRESS: u8 = 0x29;

    fn write(&mut self, bytes: &[u8]) {
        self.catch_up();
        let was_active = self.active();
        self.registers.write(bytes);
        match (was_active, self.active()) {
            // standby → active: 10 ms wake-up, then the first measurement
            (false, true) => self.start(self.clock.now_us() + 10_000),
            (true, false) => self.measuring = None,
            _ => {}
        }
    }

    fn read(&mut self, buffer: &mut [u8]) {
        self.catch_up();
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

/// LIS2HH12 in time: auto-increments only with CTRL4 IF_ADD_INC; samples at the CTRL1 data
/// rate while CTRL1 has an ODR, BDU set and the three axes enabled, each sample's counts at
/// the full scale in force when it is taken. The output registers keep the last sample until
/// the next one; STATUS ZYXDA is set by a new sample and cleared by reading OUT_Z_H.
struct Lis2hh12Model {
    registers: Registers,
    /// The acceleration the chip feels, g.
    world: [f32; 3],
    clock: Clock,
    /// When the next sample is taken, while sampling.
    next_sample_us: Option<u64>,
}

impl Lis2hh12Model {
    /// Output data rates of CTRL1 ODR codes 1..=6, Hz.
    const ODR_HZ: [u64; 7] = [0, 10, 50, 100, 200, 400, 800];

    fn new(world: [f32; 3], clock: Clock) -> Self {
        let mut map = [0u8; 256];
        map[0x0F] = 0x41;
        map[0x20] = 0x07;
        Self {
            registers: Registers { map, pointer: 0 },
            world,
            clock,
            next_sample_us: None,
        }
    }

    /// As other firmware left it across an MCU reset: sampling at 50 Hz and ±8 g, one sample
    /// taken and not read.
    fn left_sampling_at_8_g(mut self) -> Self {
        self.registers.map[0x20] = 0x2F;
        self.registers.map[0x23] = 0x34;
        self.next_sample_us = Some(self.clock.now_us());
        self.catch_up();
        self
    }

    fn period_us(&self) -> Option<u64> {
        let ctrl1 = self.registers.map[0x20];
        let odr = usize::from((ctrl1 >> 4) & 0b111);
        let sampling = (1..=6).contains(&odr) && ctrl1 & 0x08 != 0 && ctrl1 & 0x07 == 0x07;
        sampling.then(|| 1_000_000 / Self::ODR_HZ[odr])
    }

    /// Takes every sample due by now.
    fn catch_up(&mut self) {
        let Some(period) = self.period_us() else {
            self.next_sample_us = None;
            return;
        };
        let next = *self
            .next_sample_us
            .get_or_insert(self.clock.now_us() + period);
        if self.clock.now_us() < next {
            return;
        }
        // mg per LSB at FS = 00 / 10 / 11: ±2 / ±4 / ±8 g (datasheet Table 3).
        let mg_per_lsb = match (self.registers.map[0x23] >> 4) & 0b11 {
            0b10 => 0.122,
            0b11 => 0.244,
            _ => 0.061,
        };
        for (i, g) in self.world.iter().enumerate() {
            let [l, h] = ((g * 1000.0 / mg_per_lsb).round() as i16).to_le_bytes();
            self.registers.map[0x28 + 2 * i] = l;
            self.registers.map[0x29 + 2 * i] = h;
        }
        self.registers.map[0x27] |= 0x08;
        let missed = (self.clock.now_us() - next) / period;
        self.next_sample_us = Some(next + (missed + 1) * period);
    }
}

impl Chip for Lis2hh12Model {
    const ADDRESS: u8 = 0x1E;

    fn write(&mut self, bytes: &[u8]) {
        self.catch_up();
        self.registers.write(bytes);
        self.catch_up();
    }

    fn read(&mut self, buffer: &mut [u8]) {
        self.catch_up();
        let increment = self.registers.map[0x23] & 0x04 != 0;
        for byte in buffer.iter_mut() {
            let register = self.registers.pointer;
            *byte = self.registers.map[usize::from(register)];
            if register == 0x2D {
                self.registers.map[0x27] &= !0x08;
            }
            if increment {
                self.registers.pointer = register.wrapping_add(1);
            }
        }
    }
}

both! {
    blocking: use sensorpub::pysense::{coprocessor::Coprocessor, lis2hh12::Lis2hh12, ltr329::Ltr329};
    asynchronous: use sensorpub::pysense::{
        coprocessor::CoprocessorAsync as Coprocessor, lis2hh12::Lis2hh12Async as Lis2hh12,
        ltr329::Ltr329Async as Ltr329,
    };

    fn power_on_leaves_rc6_rc7_outputs_and_pwr_ctrl_high_and_nothing_else_changed() {
        let mut pic = Coprocessor::new(Bus(Pic::new()), NoopDelay::new());
        run!(pic.init()).unwrap();
        run!(pic.power_on_sensors()).unwrap();
        let (Bus(model), _) = pic.destroy();
        assert_eq!(model.memory[Pic::TRISC], 0x3F);
        assert_eq!(model.memory[Pic::LATC], 0x95);
    }

    fn power_off_clears_only_pwr_ctrl() {
        let mut pic = Coprocessor::new(Bus(Pic::new()), NoopDelay::new());
        run!(pic.power_on_sensors()).unwrap();
        run!(pic.power_off_sensors()).unwrap();
        let (Bus(model), _) = pic.destroy();
        assert_eq!(model.memory[Pic::LATC], 0x15);
    }

    fn battery_voltage_from_the_adc_model() {
        let mut model = Pic::new();
        model.battery_count = 837;
        let mut pic = Coprocessor::new(Bus(model), NoopDelay::new());
        run!(pic.enable_battery_adc()).unwrap();
        let v = run!(pic.battery_voltage()).unwrap();
        // V = count · 3.3 · 280 / 1023 / 180 + 0.01 (Pycom's divider and FET drop):
        // 837 · 3.3 · 280 / 1023 = 756 exactly, / 180 = 4.2, + 0.01.
        assert_close(v, 4.21, 1e-5);
        let (Bus(model), _) = pic.destroy();
        assert_eq!(model.memory[Pic::ANSELC], 0x04);
        assert_eq!(model.memory[Pic::ADCON0], 0x19);
        assert_eq!(model.memory[Pic::ADCON1], 0x60);
    }

    fn ltr329_lux_from_the_model_with_the_configured_gain() {
        // 4× gain and 200 ms make the model's 625 / 125 counts 5000 / 1000.
        let clock = Clock::default();
        let model = Ltr329Model::new(625, 125, clock.clone());
        let mut als = Ltr329::new(Bus(model), clock);
        let config = ltr329::Config::new(
            ltr329::Gain::X4,
            ltr329::IntegrationTime::Ms200,
            ltr329::MeasurementRate::Ms200,
        )
        .unwrap();
        run!(als.init(config)).unwrap();
        let lx = run!(als.read_lux()).unwrap();
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

    fn ltr329_never_divides_a_measurement_by_an_integration_time_it_was_not_taken_with() {
        // 500 / 100 counts at 1× and 100 ms: 1.7743 · 500 + 1.1059 · 100 = 997.74 lx
        // (ratio 0.17), whatever the integration time.
        let clock = Clock::default();
        let model = Ltr329Model::new(500, 100, clock.clone());
        let mut als = Ltr329::new(Bus(model), clock.clone());
        let config = |integration| {
            ltr329::Config::new(ltr329::Gain::X1, integration, ltr329::MeasurementRate::Ms500)
                .unwrap()
        };
        run!(als.init(config(ltr329::IntegrationTime::Ms100))).unwrap();
        // A 100 ms measurement ends and waits, flagged new, when 400 ms are chosen.
        clock.advance_ms(200);
        run!(als.configure(config(ltr329::IntegrationTime::Ms400))).unwrap();
        let lx = run!(als.read_lux()).unwrap();
        assert_close(lx, 997.74, 0.01);
        // Likewise a 400 ms measurement pending when 50 ms are chosen.
        clock.advance_ms(600);
        run!(als.configure(config(ltr329::IntegrationTime::Ms50))).unwrap();
        let lx = run!(als.read_lux()).unwrap();
        assert_close(lx, 997.74, 0.01);
    }

    fn ltr329_init_drops_data_a_chip_left_active_measured_at_another_integration_time() {
        let clock = Clock::default();
        let model = Ltr329Model::new(500, 100, clock.clone()).left_active_at_400_ms();
        clock.advance_ms(450); // a 400 ms measurement waits, flagged new
        let mut als = Ltr329::new(Bus(model), clock);
        run!(als.init(ltr329::Config::default())).unwrap();
        // 1.7743 · 500 + 1.1059 · 100 at 1×, 100 ms; the 400 ms data would read 4 × that.
        assert_close(run!(als.read_lux()).unwrap(), 997.74, 0.01);
    }

    fn ltr329_in_standby_produces_no_data_and_the_wait_is_bounded() {
        let clock = Clock::default();
        let model = Ltr329Model::new(5000, 1000, clock.clone());
        let mut als = Ltr329::new(Bus(model), clock);
        assert_eq!(run!(als.read_lux()), Err(ltr329::Error::Timeout));
    }

    fn lis2hh12_never_converts_a_sample_with_a_full_scale_it_was_not_taken_at() {
        let world = [0.2, -0.5, 1.0];
        let clock = Clock::default();
        let model = Lis2hh12Model::new(world, clock.clone());
        let mut accel = Lis2hh12::new(Bus(model), clock.clone());
        let config = lis2hh12::Config {
            data_rate: lis2hh12::DataRate::Hz50,
            full_scale: lis2hh12::FullScale::G4,
        };
        run!(accel.init(config)).unwrap();
        // A ±4 g sample is taken and waits unread when ±2 g is chosen.
        clock.advance_ms(30);
        run!(accel.set_full_scale(lis2hh12::FullScale::G2)).unwrap();
        let a = run!(accel.acceleration()).unwrap();
        // One LSB at ±2 g is 0.061 mg; the old sample would read (0.1, −0.25, 0.5).
        assert_close(a.x, 0.2, 1e-4);
        assert_close(a.y, -0.5, 1e-4);
        assert_close(a.z, 1.0, 1e-4);
        // A ±2 g sample waits when ±8 g is chosen: it would read (0.8, −2.0, 4.0).
        clock.advance_ms(30);
        run!(accel.set_full_scale(lis2hh12::FullScale::G8)).unwrap();
        let a = run!(accel.acceleration()).unwrap();
        assert_close(a.x, 0.2, 3e-4);
        assert_close(a.y, -0.5, 3e-4);
        assert_close(a.z, 1.0, 3e-4);
    }

    fn lis2hh12_init_drops_a_sample_a_chip_left_sampling_took_at_another_scale() {
        let clock = Clock::default();
        let model = Lis2hh12Model::new([0.2, -0.5, 1.0], clock.clone()).left_sampling_at_8_g();
        let mut accel = Lis2hh12::new(Bus(model), clock);
        run!(accel.init(lis2hh12::Config::default())).unwrap(); // 50 Hz, ±4 g
        let a = run!(accel.acceleration()).unwrap();
        // ±4 g: 0.122 mg a count; the ±8 g sample would read (0.4, −1.0, 2.0).
        assert_close(a.x, 0.2, 2e-4);
        assert_close(a.y, -0.5, 2e-4);
        assert_close(a.z, 1.0, 2e-4);
    }

    fn lis2hh12_reads_all_three_axes_with_bdu_and_auto_increment() {
        // −4100, 2050 and 16393 counts at ±2 g, 0.061 mg/LSB (datasheet Table 3).
        let world = [-4100.0 * 0.061e-3, 2050.0 * 0.061e-3, 16393.0 * 0.061e-3];
        let clock = Clock::default();
        let model = Lis2hh12Model::new(world, clock.clone());
        let mut accel = Lis2hh12::new(Bus(model), clock);
        let config = lis2hh12::Config {
            data_rate: lis2hh12::DataRate::Hz100,
            full_scale: lis2hh12::FullScale::G2,
        };
        run!(accel.init(config)).unwrap();
        let a = run!(accel.acceleration()).unwrap();
        assert_close(a.x, -0.250_1, 1e-6);
        assert_close(a.y, 0.125_05, 1e-6);
        assert_close(a.z, 0.999_973, 1e-6);
        let (Bus(model), _) = accel.destroy();
        assert_eq!(model.registers.map[0x20], 0x3F);
        assert_eq!(model.registers.map[0x23], 0x04);
    }
}
