//! Everything that differs between the chips this firmware runs on: which GPIOs the PySense's
//! I2C bus is wired to, and the chip name for the logs. The rest of the program is the same
//! source for the LoPy4 (original ESP32) and an ESP32-C3 board.
//!
//! To wire a PySense to another board, change the two pins here and nothing else.

use crate::sleep::SleepPeripherals;
use esp_hal::gpio::AnyPin;
use esp_hal::peripherals::{FROM_CPU_INTR0, I2C0, Peripherals, TIMG0, WIFI};
use esp_hal::time::Rate;

/// The PySense's I2C clock: Pycom's own drivers run the bus at 100 kHz (standard mode), which
/// every chip on the board supports.
pub const I2C_FREQUENCY: Rate = Rate::from_khz(100);

/// The chip, as `espflash --chip` spells it.
#[cfg(feature = "esp32")]
pub const CHIP: &str = "esp32";
/// The chip, as `espflash --chip` spells it.
#[cfg(feature = "esp32c3")]
pub const CHIP: &str = "esp32c3";

/// The peripherals the firmware uses, taken out of esp-hal's singletons once at boot.
pub struct Board {
    /// The I2C controller the PySense sensors are on.
    pub i2c: I2C0<'static>,
    /// I2C data line.
    pub sda: AnyPin<'static>,
    /// I2C clock line.
    pub scl: AnyPin<'static>,
    /// The Wi-Fi radio.
    pub wifi: WIFI<'static>,
    /// The timer group whose first timer drives the esp-rtos scheduler.
    pub timg0: TIMG0<'static>,
    /// The software interrupt esp-rtos uses to switch tasks.
    pub sw_interrupt: FROM_CPU_INTR0<'static>,
    /// Deep sleep, the RTC clock and the internal flash (the deep-sleep mode, `src/sleep.rs`).
    pub sleep: SleepPeripherals,
}

impl Board {
    /// LoPy4 on a PySense: SDA is Pycom pin P22 = GPIO25, SCL is P21 = GPIO26 (the pins
    /// Pycom's PySense libraries use; pin map from Pycom's LOPY4 `pins.csv`).
    #[cfg(feature = "esp32")]
    pub fn take(p: Peripherals) -> Self {
        Self {
            i2c: p.I2C0,
            sda: p.GPIO25.into(),
            scl: p.GPIO26.into(),
            wifi: p.WIFI,
            timg0: p.TIMG0,
            sw_interrupt: p.FROM_CPU_INTR0,
            sleep: SleepPeripherals {
                lpwr: p.LPWR,
                rtc_timer: p.RTC_TIMER,
                flash: p.FLASH,
            },
        }
    }

    /// ESP32-C3 board with the PySense bus wired to SDA = GPIO4, SCL = GPIO5: free on the
    /// common DevKitM/DevKitC boards and not strapping pins (GPIO2, 8 and 9 are).
    #[cfg(feature = "esp32c3")]
    pub fn take(p: Peripherals) -> Self {
        Self {
            i2c: p.I2C0,
            sda: p.GPIO4.into(),
            scl: p.GPIO5.into(),
            wifi: p.WIFI,
            timg0: p.TIMG0,
            sw_interrupt: p.FROM_CPU_INTR0,
            sleep: SleepPeripherals {
                lpwr: p.LPWR,
                rtc_timer: p.RTC_TIMER,
                flash: p.FLASH,
            },
        }
    }
}

#[cfg(all(feature = "esp32", feature = "esp32c3"))]
compile_error!("choose one chip: `--no-default-features --features esp32` for the LoPy4");
#[cfg(not(any(feature = "esp32", feature = "esp32c3")))]
compile_error!("choose a chip feature: `esp32c3` (default) or `esp32` (LoPy4)");
