//! Links esp-hal's memory layout, rebuilds when the build-time configuration changes, and
//! embeds the broker's CA when `CA_FILE` names one (TLS, `src/tls.rs`).

use std::path::{Path, PathBuf};

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
    "CA_FILE",
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
    // `cfg(tls)`: the broker connection goes over TLS, verified against the CA in CA_FILE.
    println!("cargo:rustc-check-cfg=cfg(tls)");
    if let Some(path) = std::env::var_os("CA_FILE").filter(|path| !path.is_empty()) {
        let path = PathBuf::from(path);
        // The default broker's CA is RSA, which this firmware (feature tls, not tls-rsa) cannot verify.
        if std::env::var_os("BROKER").is_none_or(|broker| broker.is_empty()) {
            eprintln!("CA_FILE needs BROKER=<host>:8883, the broker whose certificate it signed");
            std::process::exit(1);
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let der = match ca_der(&path) {
            Ok(der) => der,
            Err(why) => {
                eprintln!("CA_FILE={}: {why}", path.display());
                std::process::exit(1);
            }
        };
        let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        std::fs::write(out.join("ca.der"), der).expect("OUT_DIR is writable");
        println!("cargo:rustc-cfg=tls");
    }
}

/// The CA certificate in `path` as DER: the file's bytes if they are DER, else its first PEM
/// block decoded. A file that is neither stops the build, not the device.
fn ca_der(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it ({e})"))?;
    // DER certificate: a SEQUENCE with a two-byte length.
    if bytes.starts_with(&[0x30, 0x82]) {
        return Ok(bytes);
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| "neither DER nor PEM".to_string())?;
    let body = text
        .split_once("-----BEGIN CERTIFICATE-----")
        .and_then(|(_, rest)| rest.split_once("-----END CERTIFICATE-----"))
        .map(|(body, _)| body)
        .ok_or("no -----BEGIN CERTIFICATE----- block")?;
    let der = base64(body).ok_or("the PEM block is not base64")?;
    if der.starts_with(&[0x30, 0x82]) {
        Ok(der)
    } else {
        Err("the PEM block is not a DER certificate".into())
    }
}

/// Standard base64 (RFC 4648 §4), whitespace ignored, `=` padding at the end only.
fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut bits, mut count) = (0u32, 0u32);
    let mut padding = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            _ => return None,
        };
        if padding > 0 {
            return None;
        }
        bits = bits << 6 | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    (padding <= 2).then_some(out)
}
