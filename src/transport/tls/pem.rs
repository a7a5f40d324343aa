//! PEM to DER, into a caller's buffer: the first `-----BEGIN …-----` block's base64.

use core::fmt;

/// A PEM text could not be read by [`pem_to_der`](crate::pem_to_der).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PemError {
    /// No `-----BEGIN …-----` … `-----END …-----` block.
    NoBlock,
    /// The block holds a character that is not base64, or its padding is wrong.
    Base64,
    /// The decoded bytes do not fit the output buffer.
    BufferTooSmall,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PemError::NoBlock => "not PEM: no -----BEGIN ...----- / -----END ...----- block",
            PemError::Base64 => "PEM block is not valid base64",
            PemError::BufferTooSmall => "PEM block does not fit the buffer given for it",
        })
    }
}

impl core::error::Error for PemError {}

/// Decodes the first PEM block of `pem` (a certificate, `EC PRIVATE KEY` or `PRIVATE KEY`)
/// into `out`; returns the DER bytes, a prefix of `out`.
///
/// ```
/// let pem = b"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n";
/// let mut der = [0u8; 16];
/// assert_eq!(sensorpub::pem_to_der(pem, &mut der)?, &[1, 2, 3]);
/// # Ok::<(), sensorpub::PemError>(())
/// ```
///
/// # Errors
/// [`PemError`] if there is no block, it is not base64, or it does not fit `out`.
pub fn pem_to_der<'o>(pem: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], PemError> {
    let begin = find(pem, b"-----BEGIN ").ok_or(PemError::NoBlock)?;
    let after_begin = &pem[begin + 11..];
    let header_end = find(after_begin, b"-----").ok_or(PemError::NoBlock)?;
    let body = &after_begin[header_end + 5..];
    let end = find(body, b"-----END ").ok_or(PemError::NoBlock)?;
    decode(&body[..end], out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn value(byte: u8) -> Option<u32> {
    Some(u32::from(match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

fn decode<'o>(text: &[u8], out: &'o mut [u8]) -> Result<&'o [u8], PemError> {
    let (mut len, mut bits, mut count, mut padding) = (0usize, 0u32, 0u32, 0u32);
    // Text that is not base64 says so whatever the buffer: a full buffer is reported only
    // once the whole block has been checked.
    let mut overflow = false;
    for &byte in text {
        if byte.is_ascii_whitespace() {
            continue;
        }
        if byte == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return Err(PemError::Base64);
        }
        bits = (bits << 6) | value(byte).ok_or(PemError::Base64)?;
        count += 6;
        if count >= 8 {
            count -= 8;
            match out.get_mut(len) {
                Some(slot) => *slot = (bits >> count) as u8,
                None => overflow = true,
            }
            len += 1;
        }
    }
    if padding > 2 || count >= 6 {
        return Err(PemError::Base64);
    }
    if overflow {
        return Err(PemError::BufferTooSmall);
    }
    Ok(&out[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_decode_and_bad_ones_say_why() {
        let mut out = [0u8; 8];
        let pem = b"x\n-----BEGIN EC PRIVATE KEY-----\nAQID\nBA==\n-----END EC PRIVATE KEY-----\n";
        assert_eq!(pem_to_der(pem, &mut out), Ok(&[1u8, 2, 3, 4][..]));
        assert_eq!(pem_to_der(b"AQID", &mut out), Err(PemError::NoBlock));
        let bad = b"-----BEGIN X-----\nAQ*D\n-----END X-----";
        assert_eq!(pem_to_der(bad, &mut out), Err(PemError::Base64));
        let mut small = [0u8; 2];
        let long = b"-----BEGIN X-----\nAQID\n-----END X-----";
        assert_eq!(pem_to_der(long, &mut small), Err(PemError::BufferTooSmall));
    }
}
