//! Links esp-hal's memory layout and rebuilds when the build-time configuration changes.

/// The environment variables `src/main.rs` reads with `env!`/`option_env!`.
const CONFIG_VARS: &[&str] = &[
    "SSID",
    "PASSWORD",
    "BROKER",
    "TOPIC",
    "DEVICE",
    "PERIOD_MS",
    "THINGSPEAK_CHANNEL",
    "THINGSPEAK_CLIENT_ID",
    "THINGSPEAK_USERNAME",
    "THINGSPEAK_PASSWORD",
];

fn main() {
    // Espressif's Xtensa toolchain links through gcc, which must not add its own start files.
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("xtensa") {
        println!("cargo:rustc-link-arg=-nostartfiles");
    }
    // Without it rust-lld misses `_stack_start`, `_rwtext_start`, `DefaultHandler`, ...
    println!("cargo:rustc-link-arg=-Tlinkall.x");
    for var in CONFIG_VARS {
        println!("cargo:rerun-if-env-changed={var}");
    }
}
