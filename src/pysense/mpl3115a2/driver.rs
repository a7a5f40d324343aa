//! The MPL3115A2 driver, written once and generated twice by `maybe-async-cfg`: the
//! `asynchronous` module as written (embedded-hal-async) and the `blocking` module with
//! `async`/`.await` removed and the traits swapped for embedded-hal's.

use super::register::Status;
use super::types::Error;

/// The output registers of one measurement.
struct RawData {
    /// OUT_P_MSB, OUT_P_CSB, OUT_P_LSB: pressure or altitude, by mode.
    pressure_or_altitude: [u8; 3],
    /// OUT_T_MSB, OUT_T_LSB.
    temperature: [u8; 2],
}

/// The data of a 6-byte burst from STATUS, once STATUS shows that both pressure/altitude and
/// temperature are new.
fn fresh_data<E>(burst: [u8; 6]) -> Result<RawData, Error<E>> {
    let [status, p_msb, p_csb, p_lsb, t_msb, t_lsb] = burst;
    let fresh = Status::PDR | Status::TDR;
    if status & fresh != fresh {
        return Err(Error::NoNewData { status });
    }
    Ok(RawData {
        pressure_or_altitude: [p_msb, p_csb, p_lsb],
        temperature: [t_msb, t_lsb],
    })
}

#[maybe_async_cfg::maybe(
    idents(
        embedded_hal_async(sync = "embedded_hal", async),
        Sensor(sync = "BlockingSensor", async),
        Mpl3115a2(sync, async = "Mpl3115a2Async")
    ),
    sync(self = "blocking"),
    async(self = "asynchronous")
)]
/// The MPL3115A2 driver: `Mpl3115a2` in `blocking` on embedded-hal 1.0, `Mpl3115a2Async` in
/// `asynchronous` on embedded-hal-async 1.0. Both have the same methods.
pub mod asynchronous {
    use core::marker::PhantomData;

    use embedded_hal_async::{delay::DelayNs, i2c::I2c};

    use super::super::conversion::{
        altitude_from_raw, bar_in_from_pascals, pressure_from_raw, temperature_from_raw,
    };
    use super::super::register::{
        ADDRESS, CtrlReg1, OST_POLL_INTERVAL_MS, OST_POLLS, PT_DATA_CFG_ALL_EVENTS, Register,
        WHO_AM_I_VALUE,
    };
    use super::super::types::{
        AltitudeMeasurement, Error, ModeChangeError, Oversampling, PRESSURE_SENSOR_TEMPERATURE,
        PressureMeasurement,
        mode::{self, Altimeter, Barometer, Mode},
    };
    use super::{RawData, fresh_data};
    use crate::{Quantity, Reading, Sample, Sensor};

    /// MPL3115A2 barometer / altimeter at 0x60 in measurement mode `MODE`.
    ///
    /// Owns the bus and a delay; see the [module documentation](super::super) for an example.
    #[derive(Debug)]
    pub struct Mpl3115a2<I2C, D, MODE = mode::Barometer> {
        i2c: I2C,
        delay: D,
        /// The OS field the driver writes with every CTRL_REG1 update (a shadow copy, so the
        /// register is never read before it is written).
        oversampling: Oversampling,
        mode: PhantomData<MODE>,
    }

    impl<I2C: I2c, D: DelayNs> Mpl3115a2<I2C, D, Barometer> {
        /// A driver for the MPL3115A2 at 0x60 on `i2c`, waiting with `delay`, in barometer mode
        /// (the chip's power-on mode) with 128× oversampling. Does no I/O: call
        /// [`init`](Self::init) next.
        pub fn new(i2c: I2C, delay: D) -> Self {
            Self {
                i2c,
                delay,
                oversampling: Oversampling::X128,
                mode: PhantomData,
            }
        }

        /// Takes one pressure measurement (one-shot) and returns pressure and chip temperature.
        pub async fn measure_pressure(&mut self) -> Result<PressureMeasurement, Error<I2C::Error>> {
            let raw = self.one_shot().await?;
            Ok(PressureMeasurement {
                pressure: pressure_from_raw(raw.pressure_or_altitude),
                temperature: temperature_from_raw(raw.temperature),
            })
        }

        /// Switches to altimeter mode (writes CTRL_REG1 with ALT set). On failure the error comes
        /// back with this driver, still a barometer.
        pub async fn into_altimeter(
            self,
        ) -> Result<Mpl3115a2<I2C, D, Altimeter>, ModeChangeError<I2C::Error, Self>> {
            self.into_mode::<Altimeter>().await
        }
    }

    impl<I2C: I2c, D: DelayNs> Mpl3115a2<I2C, D, Altimeter> {
        /// Takes one altitude measurement (one-shot) and returns altitude and chip temperature.
        /// The altitude is relative to the sea-level pressure in BAR_IN: set it with
        /// [`set_sea_level_pressure`](Self::set_sea_level_pressure) for your location and day.
        pub async fn measure_altitude(&mut self) -> Result<AltitudeMeasurement, Error<I2C::Error>> {
            let raw = self.one_shot().await?;
            Ok(AltitudeMeasurement {
                altitude: altitude_from_raw(raw.pressure_or_altitude),
                temperature: temperature_from_raw(raw.temperature),
            })
        }

        /// Switches to barometer mode (writes CTRL_REG1 with ALT clear). On failure the error
        /// comes back with this driver, still an altimeter.
        pub async fn into_barometer(
            self,
        ) -> Result<Mpl3115a2<I2C, D, Barometer>, ModeChangeError<I2C::Error, Self>> {
            self.into_mode::<Barometer>().await
        }
    }

    impl<I2C: I2c, D: DelayNs, MODE: Mode> Mpl3115a2<I2C, D, MODE> {
        /// Gives the bus and the delay back.
        pub fn destroy(self) -> (I2C, D) {
            (self.i2c, self.delay)
        }

        /// The oversampling ratio the driver configures and times its measurements for.
        pub fn oversampling(&self) -> Oversampling {
            self.oversampling
        }

        /// Checks WHO_AM_I, puts the chip in standby if it is active, then configures this
        /// driver's mode and oversampling (CTRL_REG1) with data-ready flags enabled
        /// (PT_DATA_CFG), ready for one-shot measurements. [`Error::InvalidDevice`] if
        /// WHO_AM_I is not 0xC4.
        ///
        /// Warm start: on a PySense 1 the sensors stay powered across an MCU reset, so other
        /// firmware may have left the chip active (in altimeter mode, say). The datasheet only
        /// allows ALT and OS to change in standby, so `init` reads CTRL_REG1 and, if SBYB is
        /// set, first clears SBYB alone (ALT and OS as they are), then writes the new mode.
        pub async fn init(&mut self) -> Result<(), Error<I2C::Error>> {
            let found = self.who_am_i().await?;
            if found != WHO_AM_I_VALUE {
                return Err(Error::InvalidDevice { found });
            }
            let current = self.read_register(Register::CTRL_REG1).await?;
            if current & CtrlReg1::SBYB != 0 {
                self.write_register(Register::CTRL_REG1, current & !CtrlReg1::SBYB)
                    .await?;
            }
            let ctrl = self.ctrl_reg1();
            self.write_register(Register::CTRL_REG1, ctrl).await?;
            self.write_register(Register::PT_DATA_CFG, PT_DATA_CFG_ALL_EVENTS)
                .await
        }

        /// Reads WHO_AM_I (0x0C); an MPL3115A2 answers 0xC4.
        pub async fn who_am_i(&mut self) -> Result<u8, Error<I2C::Error>> {
            let mut buf = [0u8; 1];
            self.i2c
                .write_read(ADDRESS, &[Register::WHO_AM_I], &mut buf)
                .await?;
            Ok(buf[0])
        }

        /// Sets the oversampling ratio (CTRL_REG1, chip kept in standby).
        pub async fn set_oversampling(
            &mut self,
            oversampling: Oversampling,
        ) -> Result<(), Error<I2C::Error>> {
            let ctrl = Self::ctrl_reg1_for(oversampling);
            self.write_register(Register::CTRL_REG1, ctrl).await?;
            self.oversampling = oversampling;
            Ok(())
        }

        /// Sets the sea-level pressure the altimeter computes altitude from (BAR_IN, 2 Pa units,
        /// rounded to nearest); the power-on value is 101 326 Pa. Use the local sea-level
        /// (QNH) pressure of the day for a true altitude. Kept across mode changes.
        /// [`Error::InvalidSeaLevelPressure`] above 131 070 Pa.
        pub async fn set_sea_level_pressure(
            &mut self,
            pascals: u32,
        ) -> Result<(), Error<I2C::Error>> {
            let [msb, lsb] = bar_in_from_pascals(pascals)
                .ok_or(Error::InvalidSeaLevelPressure)?
                .to_be_bytes();
            self.i2c
                .write(ADDRESS, &[Register::BAR_IN_MSB, msb, lsb])
                .await?;
            Ok(())
        }

        /// CTRL_REG1 in standby for this mode and `oversampling`.
        fn ctrl_reg1_for(oversampling: Oversampling) -> u8 {
            let alt = if MODE::ALTIMETER { CtrlReg1::ALT } else { 0 };
            alt | (oversampling.bits() << CtrlReg1::OS_SHIFT)
        }

        fn ctrl_reg1(&self) -> u8 {
            Self::ctrl_reg1_for(self.oversampling)
        }

        /// Writes CTRL_REG1 for mode `NEW` and hands over the bus, or gives `self` back.
        async fn into_mode<NEW: Mode>(
            mut self,
        ) -> Result<Mpl3115a2<I2C, D, NEW>, ModeChangeError<I2C::Error, Self>> {
            let ctrl = Mpl3115a2::<I2C, D, NEW>::ctrl_reg1_for(self.oversampling);
            match self.write_register(Register::CTRL_REG1, ctrl).await {
                Ok(()) => Ok(Mpl3115a2 {
                    i2c: self.i2c,
                    delay: self.delay,
                    oversampling: self.oversampling,
                    mode: PhantomData,
                }),
                Err(error) => Err(ModeChangeError {
                    error,
                    device: self,
                }),
            }
        }

        /// One-shot measurement: sets OST, waits the conversion time for the oversampling, polls
        /// CTRL_REG1 until the chip clears OST (at most [`OST_POLLS`] reads), then reads STATUS and
        /// the five data registers in one burst so they belong to the same measurement.
        async fn one_shot(&mut self) -> Result<RawData, Error<I2C::Error>> {
            let ctrl = self.ctrl_reg1();
            self.write_register(Register::CTRL_REG1, ctrl | CtrlReg1::OST)
                .await?;
            self.delay
                .delay_ms(self.oversampling.conversion_time_ms())
                .await;
            let mut polls = 0;
            loop {
                if self.read_register(Register::CTRL_REG1).await? & CtrlReg1::OST == 0 {
                    break;
                }
                polls += 1;
                if polls >= OST_POLLS {
                    return Err(Error::Timeout);
                }
                self.delay.delay_ms(OST_POLL_INTERVAL_MS).await;
            }
            let mut burst = [0u8; 6];
            self.i2c
                .write_read(ADDRESS, &[Register::STATUS], &mut burst)
                .await?;
            fresh_data(burst)
        }

        async fn read_register(&mut self, register: u8) -> Result<u8, Error<I2C::Error>> {
            let mut value = [0u8; 1];
            self.i2c
                .write_read(ADDRESS, &[register], &mut value)
                .await?;
            Ok(value[0])
        }

        async fn write_register(
            &mut self,
            register: u8,
            value: u8,
        ) -> Result<(), Error<I2C::Error>> {
            self.i2c.write(ADDRESS, &[register, value]).await?;
            Ok(())
        }
    }

    /// One sample in barometer mode: pressure (Pa) and the chip's temperature as
    /// `pressure_sensor_temperature` (°C). `N` must be at least 2.
    impl<I2C: I2c, D: DelayNs, const N: usize> Sensor<N> for Mpl3115a2<I2C, D, Barometer> {
        type Error = Error<I2C::Error>;

        async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
            let m = self.measure_pressure().await?;
            Sample::from_readings(&[
                Reading::new(Quantity::Pressure, m.pressure),
                Reading::new(PRESSURE_SENSOR_TEMPERATURE, m.temperature),
            ])
            .map_err(|_| Error::SampleFull)
        }
    }

    /// One sample in altimeter mode: altitude (m) and the chip's temperature as
    /// `pressure_sensor_temperature` (°C). `N` must be at least 2.
    impl<I2C: I2c, D: DelayNs, const N: usize> Sensor<N> for Mpl3115a2<I2C, D, Altimeter> {
        type Error = Error<I2C::Error>;

        async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
            let m = self.measure_altitude().await?;
            Sample::from_readings(&[
                Reading::new(Quantity::Altitude, m.altitude),
                Reading::new(PRESSURE_SENSOR_TEMPERATURE, m.temperature),
            ])
            .map_err(|_| Error::SampleFull)
        }
    }
}
