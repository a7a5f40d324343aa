//! `pem_to_der` (the TLS feature's certificates and keys, given by the user) on arbitrary
//! text and output sizes: never panics; the DER it returns fits the buffer and, encoded as
//! PEM again, decodes to the same bytes; `BufferTooSmall` only when a buffer as long as the
//! text would have held more than the one given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sensorpub::{PemError, pem_to_der};

fuzz_target!(|data: &[u8]| {
    let Some((&size, pem)) = data.split_first() else {
        return;
    };
    let mut out = vec![0u8; usize::from(size) * 4];
    match pem_to_der(pem, &mut out) {
        Ok(der) => {
            assert!(der.len() <= usize::from(size) * 4);
            let der = der.to_vec();
            let again = to_pem(&der);
            let mut back = vec![0u8; der.len()];
            assert_eq!(
                pem_to_der(again.as_bytes(), &mut back),
                Ok(&der[..]),
                "{again}"
            );
        }
        Err(PemError::BufferTooSmall) => {
            // Base64 is longer than what it decodes to: the text's length always suffices.
            let mut big = vec![0u8; pem.len()];
            let der = pem_to_der(pem, &mut big).expect("fits a buffer as long as the text");
            assert!(der.len() > out.len());
        }
        Err(PemError::NoBlock | PemError::Base64) => {}
    }
});

/// `der` as a PEM certificate block, 64 base64 characters a line (RFC 7468).
fn to_pem(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let bits = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(char::from(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize]));
            } else {
                text.push('=');
            }
        }
    }
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}
