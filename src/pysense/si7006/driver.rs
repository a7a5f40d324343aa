//! The SI7006 driver, written once and generated twice by `maybe-async-cfg`: the
//! `asynchronous` module as written (embedded-hal-async) and the `blocking` module with
//! `async`/`.await` removed and the traits swapped for embedded-hal's.

use super::conversion::crc8;
use super::register::UserReg1;
use super::types::{Error, Resolution};

/// Checks the checksum byte that follows `data` in a transfer.
fn check_crc<E>(data: &[u8], received: u8) -> Result<(), Error<E>> {
    let computed = crc8(data);
    if computed == received {
        Ok(())
    } else {
        Err(Error::Crc { computed, received })
    }
}

/// Decodes a 3-byte measurement transfer (MSB, LSB, checksum) into the raw code.
fn measurement_code<E>(bytes: [u8; 3]) -> Result<u16, Error<E>> {
    let [msb, lsb, crc] = bytes;
    check_crc(&[msb, lsb], crc)?;
    Ok(u16::from_be_bytes([msb, lsb]))
}

/// Resolution encoded in user register 1 (RES1 = D7, RES0 = D0).
fn resolution_from_user_reg(reg: u8) -> Resolution {
    match (reg & UserReg1::RES1 != 0, reg & UserReg1::RES0 != 0) {
        (false, false) => Resolution::Rh12Temp14,
        (false, true) => Resolution::Rh8Temp12,
        (true, false) => Resolution::Rh10Temp13,
        (true, true) => Resolution::Rh11Temp11,
    }
}

/// RES1/RES0 bits of `resolution`, to be OR-ed into user register 1.
fn resolution_bits(resolution: Resolution) -> u8 {
    match resolution {
        Resolution::Rh12Temp14 => 0,
        Resolution::Rh8Temp12 => UserReg1::RES0,
        Resolution::Rh10Temp13 => UserReg1::RES1,
        Resolution::Rh11Temp11 => UserReg1::RES1 | UserReg1::RES0,
    }
}

/// De-interleaves the first electronic-ID transfer, `SNA_3 CRC SNA_2 CRC SNA_1 CRC SNA_0 CRC`.
/// Each CRC covers every serial byte of this transfer so far (a running CRC, §5.3).
fn serial_a<E>(bytes: [u8; 8]) -> Result<[u8; 4], Error<E>> {
    let serial = [bytes[0], bytes[2], bytes[4], bytes[6]];
    for (covered, crc_at) in [(1, 1), (2, 3), (3, 5), (4, 7)] {
        check_crc(&serial[..covered], bytes[crc_at])?;
    }
    Ok(serial)
}

/// De-interleaves the second transfer, `SNB_3 SNB_2 CRC SNB_1 SNB_0 CRC`, whose CRCs cover
/// SNB_3..SNB_2 and SNB_3..SNB_0 (the running CRC restarts for this transfer).
fn serial_b<E>(bytes: [u8; 6]) -> Result<[u8; 4], Error<E>> {
    let serial = [bytes[0], bytes[1], bytes[3], bytes[4]];
    for (covered, crc_at) in [(2, 2), (4, 5)] {
        check_crc(&serial[..covered], bytes[crc_at])?;
    }
    Ok(serial)
}

#[maybe_async_cfg::maybe(
    idents(
        embedded_hal_async(sync = "embedded_hal", async),
        Sensor(sync = "BlockingSensor", async),
        Si7006(sync, async = "Si7006Async")
    ),
    sync(self = "blocking"),
    async(self = "asynchronous")
)]
/// The SI7006 driver: `Si7006` in `blocking` on embedded-hal 1.0, `Si7006Async` in
/// `asynchronous` on embedded-hal-async 1.0. Both have the same methods.
pub mod asynchronous {
    use embedded_hal_async::{delay::DelayNs, i2c::I2c};

    use super::super::conversion::{humidity_from_code, temperature_from_code};
    use super::super::register::{ADDRESS, Command, HEATER_CURRENT_MASK, RESET_TIME_US, UserReg1};
    use super::super::types::{
        DeviceId, ElectronicId, Error, FirmwareRevision, HeaterCurrent, Measurement, Resolution,
    };
    use super::{measurement_code, resolution_bits, resolution_from_user_reg, serial_a, serial_b};
    use crate::{Quantity, Reading, Sample, Sensor};

    /// SI7006-A20 humidity and temperature sensor at 0x40.
    ///
    /// Owns the bus and a delay; see the [module documentation](super::super) for an example.
    #[derive(Debug)]
    pub struct Si7006<I2C, D> {
        i2c: I2C,
        delay: D,
        /// What the driver believes user register 1 holds; decides how long conversions wait.
        resolution: Resolution,
    }

    impl<I2C: I2c, D: DelayNs> Si7006<I2C, D> {
        /// A driver for the SI7006 at 0x40 on `i2c`, waiting with `delay`. Does no I/O.
        ///
        /// The driver assumes the slowest resolution (the power-on default) until [`init`]
        /// reads the real one, so measurements never read before the conversion is done.
        ///
        /// [`init`]: Self::init
        pub fn new(i2c: I2C, delay: D) -> Self {
            Self {
                i2c,
                delay,
                resolution: Resolution::Rh12Temp14,
            }
        }

        /// Gives the bus and the delay back.
        pub fn destroy(self) -> (I2C, D) {
            (self.i2c, self.delay)
        }

        /// The resolution the driver times its measurements for.
        pub fn resolution(&self) -> Resolution {
            self.resolution
        }

        /// Checks that a Si70xx answers and learns its resolution: reads the electronic ID (all
        /// four checksums checked) and user register 1.
        ///
        /// Returns the electronic ID. [`Error::InvalidDevice`] if its device ID byte is not a known
        /// Si70xx (Si7006 on the PySense; Si7013/20/21 and engineering samples share the command
        /// set and are accepted).
        pub async fn init(&mut self) -> Result<ElectronicId, Error<I2C::Error>> {
            let id = self.electronic_id().await?;
            if let DeviceId::Unknown(found) = id.device() {
                return Err(Error::InvalidDevice { found });
            }
            let reg = self.read_user_register().await?;
            self.resolution = resolution_from_user_reg(reg);
            Ok(id)
        }

        /// Software reset (command 0xFE), then waits the 15 ms the chip needs before it answers.
        /// Resolution and heater return to their power-on defaults.
        pub async fn reset(&mut self) -> Result<(), Error<I2C::Error>> {
            self.i2c.write(ADDRESS, &[Command::RESET]).await?;
            self.delay.delay_us(RESET_TIME_US).await;
            self.resolution = Resolution::Rh12Temp14;
            Ok(())
        }

        /// Measures temperature in °C (No Hold command 0xF3), waiting the maximum conversion time
        /// for the resolution, and checks the checksum.
        pub async fn measure_temperature(&mut self) -> Result<f32, Error<I2C::Error>> {
            let wait = self.resolution.temperature_conversion_us();
            let code = self.measure(Command::MEASURE_T_NO_HOLD, wait).await?;
            Ok(temperature_from_code(code))
        }

        /// Measures relative humidity in % (No Hold command 0xF5), clamped to 0..=100, checking the
        /// checksum. The chip measures temperature as part of it: read that with
        /// [`temperature_of_last_humidity`](Self::temperature_of_last_humidity).
        pub async fn measure_humidity(&mut self) -> Result<f32, Error<I2C::Error>> {
            let wait = self.resolution.humidity_measurement_us();
            let code = self.measure(Command::MEASURE_RH_NO_HOLD, wait).await?;
            Ok(humidity_from_code(code))
        }

        /// The temperature in °C measured during the last humidity measurement (command 0xE0):
        /// no new conversion and no wait. The chip sends no checksum for it.
        pub async fn temperature_of_last_humidity(&mut self) -> Result<f32, Error<I2C::Error>> {
            let mut buf = [0u8; 2];
            self.i2c
                .write_read(ADDRESS, &[Command::READ_T_FROM_PREVIOUS_RH], &mut buf)
                .await?;
            Ok(temperature_from_code(u16::from_be_bytes(buf)))
        }

        /// Humidity and temperature from one conversion: measures RH, then reads the temperature
        /// the chip took with it.
        pub async fn measure_both(&mut self) -> Result<Measurement, Error<I2C::Error>> {
            let humidity = self.measure_humidity().await?;
            let temperature = self.temperature_of_last_humidity().await?;
            Ok(Measurement {
                temperature,
                humidity,
            })
        }

        /// Sets the measurement resolution (read-modify-write of user register 1, reserved bits
        /// kept).
        pub async fn set_resolution(
            &mut self,
            resolution: Resolution,
        ) -> Result<(), Error<I2C::Error>> {
            let reg = self.read_user_register().await?;
            let reg = (reg & !(UserReg1::RES1 | UserReg1::RES0)) | resolution_bits(resolution);
            self.write_user_register(reg).await?;
            self.resolution = resolution;
            Ok(())
        }

        /// Switches the on-chip heater on or off (HTRE, read-modify-write of user register 1). The
        /// heater drives condensation off the sensor; it raises the temperature reading while on.
        pub async fn set_heater(&mut self, enabled: bool) -> Result<(), Error<I2C::Error>> {
            let reg = self.read_user_register().await?;
            let reg = if enabled {
                reg | UserReg1::HTRE
            } else {
                reg & !UserReg1::HTRE
            };
            self.write_user_register(reg).await
        }

        /// Whether the heater is on (HTRE of user register 1).
        pub async fn heater_enabled(&mut self) -> Result<bool, Error<I2C::Error>> {
            Ok(self.read_user_register().await? & UserReg1::HTRE != 0)
        }

        /// Sets the heater current (read-modify-write of the heater control register, reserved
        /// upper nibble kept). Takes effect while the heater is on.
        pub async fn set_heater_current(
            &mut self,
            current: HeaterCurrent,
        ) -> Result<(), Error<I2C::Error>> {
            let mut reg = [0u8; 1];
            self.i2c
                .write_read(ADDRESS, &[Command::READ_HEATER], &mut reg)
                .await?;
            let value = (reg[0] & !HEATER_CURRENT_MASK) | current.level();
            self.i2c
                .write(ADDRESS, &[Command::WRITE_HEATER, value])
                .await?;
            Ok(())
        }

        /// The heater current setting.
        pub async fn heater_current(&mut self) -> Result<HeaterCurrent, Error<I2C::Error>> {
            let mut reg = [0u8; 1];
            self.i2c
                .write_read(ADDRESS, &[Command::READ_HEATER], &mut reg)
                .await?;
            Ok(HeaterCurrent::from_register(reg[0]))
        }

        /// Reads the 64-bit electronic serial number (`FA 0F`, then `FC C9`), separating the
        /// interleaved checksum bytes from the serial bytes and checking every one of the six
        /// running checksums. SNB_3 is the device ID ([`ElectronicId::device`]).
        pub async fn electronic_id(&mut self) -> Result<ElectronicId, Error<I2C::Error>> {
            let mut first = [0u8; 8];
            self.i2c
                .write_read(ADDRESS, &Command::READ_ID_1, &mut first)
                .await?;
            let [a3, a2, a1, a0] = serial_a(first)?;
            let mut second = [0u8; 6];
            self.i2c
                .write_read(ADDRESS, &Command::READ_ID_2, &mut second)
                .await?;
            let [b3, b2, b1, b0] = serial_b(second)?;
            Ok(ElectronicId(u64::from_be_bytes([
                a3, a2, a1, a0, b3, b2, b1, b0,
            ])))
        }

        /// Reads the firmware revision (`84 B8`).
        pub async fn firmware_revision(&mut self) -> Result<FirmwareRevision, Error<I2C::Error>> {
            let mut buf = [0u8; 1];
            self.i2c
                .write_read(ADDRESS, &Command::READ_FIRMWARE_REVISION, &mut buf)
                .await?;
            Ok(FirmwareRevision::from_byte(buf[0]))
        }

        /// Starts a No Hold measurement, waits `wait_us` (its maximum conversion time), then reads
        /// MSB, LSB and checksum. Reading any earlier would be NACKed by the chip.
        async fn measure(&mut self, command: u8, wait_us: u32) -> Result<u16, Error<I2C::Error>> {
            self.i2c.write(ADDRESS, &[command]).await?;
            self.delay.delay_us(wait_us).await;
            let mut buf = [0u8; 3];
            self.i2c.read(ADDRESS, &mut buf).await?;
            measurement_code(buf)
        }

        async fn read_user_register(&mut self) -> Result<u8, Error<I2C::Error>> {
            let mut reg = [0u8; 1];
            self.i2c
                .write_read(ADDRESS, &[Command::READ_USER_REG1], &mut reg)
                .await?;
            Ok(reg[0])
        }

        async fn write_user_register(&mut self, value: u8) -> Result<(), Error<I2C::Error>> {
            self.i2c
                .write(ADDRESS, &[Command::WRITE_USER_REG1, value])
                .await?;
            Ok(())
        }
    }

    /// One sample: temperature (°C) and relative humidity (%), from a single humidity conversion.
    /// `N` must be at least 2, or the read fails with [`Error::SampleFull`].
    impl<I2C: I2c, D: DelayNs, const N: usize> Sensor<N> for Si7006<I2C, D> {
        type Error = Error<I2C::Error>;

        async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
            let m = self.measure_both().await?;
            Sample::from_readings(&[
                Reading::new(Quantity::Temperature, m.temperature),
                Reading::new(Quantity::Humidity, m.humidity),
            ])
            .map_err(|_| Error::SampleFull)
        }
    }
}
