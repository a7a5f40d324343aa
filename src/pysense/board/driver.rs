//! The board, written once and generated twice by `maybe-async-cfg`: `PySenseAsync` over the
//! async drivers and `PySense` over the blocking ones.

#[maybe_async_cfg::maybe(
    idents(
        embedded_hal_async(sync = "embedded_hal", async),
        Sensor(sync = "BlockingSensor", async),
        PySense(sync, async = "PySenseAsync"),
        Si7006(sync, async = "Si7006Async"),
        Mpl3115a2(sync, async = "Mpl3115a2Async"),
        Ltr329(sync, async = "Ltr329Async"),
        Lis2hh12(sync, async = "Lis2hh12Async"),
        Coprocessor(sync, async = "CoprocessorAsync")
    ),
    sync(self = "blocking"),
    async(self = "asynchronous")
)]
/// The board: `PySense` in `blocking` on embedded-hal 1.0, `PySenseAsync` in `asynchronous`
/// on embedded-hal-async 1.0. Both have the same methods.
pub mod asynchronous {
    use embedded_hal_async::{
        delay::DelayNs,
        i2c::{ErrorType, I2c},
    };

    use super::super::{BoardError, InitErrors, Presence, append};
    use crate::pysense::coprocessor::{self, BoardInfo, Coprocessor};
    use crate::pysense::lis2hh12::{self, Lis2hh12};
    use crate::pysense::ltr329::{self, Ltr329};
    use crate::pysense::mpl3115a2::Mpl3115a2;
    use crate::pysense::si7006::Si7006;
    use crate::{Sample, Sensor};

    /// The PySense board: co-processor, SI7006-A20, MPL3115A2 (barometer), LTR-329ALS-01 and
    /// LIS2HH12 on one shared I²C bus.
    #[derive(Debug)]
    pub struct PySense<I2C: ErrorType, D> {
        coprocessor: Coprocessor<I2C, D>,
        si7006: Si7006<I2C, D>,
        mpl3115a2: Mpl3115a2<I2C, D>,
        ltr329: Ltr329<I2C, D>,
        lis2hh12: Lis2hh12<I2C, D>,
        delay: D,
        present: Presence,
        init_errors: InitErrors<I2C::Error>,
    }

    impl<I2C: I2c, D: DelayNs + Clone> PySense<I2C, D> {
        /// The board on the bus handles `bus()` makes (one a chip), waiting with `delay`.
        /// Does no I/O: call [`Self::power_on_sensors`] (PySense 2) and [`Self::init`].
        pub fn new(mut bus: impl FnMut() -> I2C, delay: D) -> Self {
            Self {
                coprocessor: Coprocessor::new(bus(), delay.clone()),
                si7006: Si7006::new(bus(), delay.clone()),
                mpl3115a2: Mpl3115a2::new(bus(), delay.clone()),
                ltr329: Ltr329::new(bus(), delay.clone()),
                lis2hh12: Lis2hh12::new(bus(), delay.clone()),
                delay,
                present: Presence::default(),
                init_errors: InitErrors::default(),
            }
        }

        /// PySense 2 only: checks the co-processor (product id, firmware), switches the
        /// sensors' supply on and waits the slowest chip's power-up time (LTR-329, 100 ms;
        /// SI7006 80 ms), so `init` finds every chip ready.
        pub async fn power_on_sensors(
            &mut self,
        ) -> Result<BoardInfo, coprocessor::Error<I2C::Error>> {
            let info = self.coprocessor.init().await?;
            self.coprocessor.power_on_sensors().await?;
            self.delay.delay_ms(super::super::SENSORS_POWER_UP_MS).await;
            Ok(info)
        }

        /// Checks and configures each chip with its default settings; a chip that fails
        /// (absent, unpowered, wrong id, bad checksum) is left out of samples. Returns which
        /// chips answered; [`Self::init_errors`] says why the others were left out.
        pub async fn init(&mut self) -> Presence {
            self.init_errors = InitErrors {
                si7006: self.si7006.init().await.err(),
                mpl3115a2: self.mpl3115a2.init().await.err(),
                ltr329: self.ltr329.init(ltr329::Config::default()).await.err(),
                lis2hh12: self.lis2hh12.init(lis2hh12::Config::default()).await.err(),
            };
            self.present = self.init_errors.presence();
            self.present
        }

        /// Why each chip left out by the last [`Self::init`] failed (`None` for a chip that
        /// answered): a NACK for an absent or unpowered chip, a checksum or id mismatch, ….
        pub fn init_errors(&self) -> &InitErrors<I2C::Error> {
            &self.init_errors
        }

        /// Which chips answered the last [`Self::init`].
        pub fn presence(&self) -> Presence {
            self.present
        }

        /// The co-processor driver (battery voltage, versions).
        pub fn coprocessor(&mut self) -> &mut Coprocessor<I2C, D> {
            &mut self.coprocessor
        }

        /// The SI7006-A20 driver (resolution, heater, electronic id).
        pub fn si7006(&mut self) -> &mut Si7006<I2C, D> {
            &mut self.si7006
        }

        /// The MPL3115A2 driver (oversampling, sea-level pressure).
        pub fn mpl3115a2(&mut self) -> &mut Mpl3115a2<I2C, D> {
            &mut self.mpl3115a2
        }

        /// The LTR-329ALS-01 driver (gain, integration time).
        pub fn ltr329(&mut self) -> &mut Ltr329<I2C, D> {
            &mut self.ltr329
        }

        /// The LIS2HH12 driver (data rate, full scale).
        pub fn lis2hh12(&mut self) -> &mut Lis2hh12<I2C, D> {
            &mut self.lis2hh12
        }
    }

    /// All readings of the present chips in one sample (10 with every chip: `N >= 10`).
    impl<I2C: I2c, D: DelayNs + Clone, const N: usize> Sensor<N> for PySense<I2C, D> {
        type Error = BoardError<I2C::Error>;

        async fn read(&mut self) -> Result<Sample<N>, Self::Error> {
            if !self.present.any() {
                return Err(BoardError::NoSensor);
            }
            let mut sample = Sample::new();
            if self.present.si7006 {
                let part: Sample<N> = self.si7006.read().await.map_err(BoardError::from_si7006)?;
                append(&mut sample, &part)?;
            }
            if self.present.mpl3115a2 {
                let part: Sample<N> = self
                    .mpl3115a2
                    .read()
                    .await
                    .map_err(BoardError::from_mpl3115a2)?;
                append(&mut sample, &part)?;
            }
            if self.present.ltr329 {
                let part: Sample<N> = self.ltr329.read().await.map_err(BoardError::from_ltr329)?;
                append(&mut sample, &part)?;
            }
            if self.present.lis2hh12 {
                let part: Sample<N> = self
                    .lis2hh12
                    .read()
                    .await
                    .map_err(BoardError::from_lis2hh12)?;
                append(&mut sample, &part)?;
            }
            Ok(sample)
        }
    }
}
