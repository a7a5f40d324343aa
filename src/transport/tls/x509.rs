//! Just enough DER to read what the name and date checks need from a server certificate:
//! the validity period, the subject alternative names (DNS names and IP addresses) and the
//! subject's common name; and, for the chain check (`chain.rs`), the signed part, the
//! signature and the subject's public key.

/// A DER element: its tag, its content and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (content, rest) = rest.split_at(len);
    Some((tag, content, rest))
}

/// The content of the element `input` starts with, if it has `tag`; and what follows.
fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, content, rest) = element(input)?;
    (found == tag).then_some((content, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// The subject alternative name extension, 2.5.29.17.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];
/// The basic constraints extension, 2.5.29.19.
const BASIC_CONSTRAINTS_OID: &[u8] = &[0x55, 0x1d, 0x13];
const BOOLEAN: u8 = 0x01;
/// The common name attribute, 2.5.4.3.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// What the checks need from a certificate.
#[derive(Debug, Clone, Copy)]
pub(super) struct Leaf<'c> {
    /// Not valid before, Unix seconds.
    pub(super) not_before: u64,
    /// Not valid after, Unix seconds.
    pub(super) not_after: u64,
    /// The subject alternative names extension's content (a sequence of GeneralNames).
    san: Option<&'c [u8]>,
    /// The subject's (last) common name.
    pub(super) common_name: Option<&'c [u8]>,
}

impl<'c> Leaf<'c> {
    /// Reads a DER certificate; `None` if it is not one.
    pub(super) fn parse(der: &'c [u8]) -> Option<Self> {
        let (certificate, _) = expect(der, SEQUENCE)?;
        let (tbs, _) = expect(certificate, SEQUENCE)?;
        let mut rest = tbs;
        // Version, [0] EXPLICIT, optional.
        if rest.first() == Some(&0xa0) {
            rest = element(rest)?.2;
        }
        let rest = element(rest)?.2; // serial number
        let rest = expect(rest, SEQUENCE)?.1; // signature algorithm
        let rest = expect(rest, SEQUENCE)?.1; // issuer
        let (validity, rest) = expect(rest, SEQUENCE)?;
        let (subject, mut rest) = expect(rest, SEQUENCE)?;
        rest = expect(rest, SEQUENCE)?.1; // subject public key info
        let (not_before, validity) = time(validity)?;
        let (not_after, _) = time(validity)?;
        let mut san = None;
        while let Some((tag, content, next)) = element(rest) {
            rest = next;
            // [3] EXPLICIT Extensions; [1] and [2] (unique ids) are skipped.
            if tag == 0xa3 {
                san = subject_alt_names(content);
            }
        }
        Some(Self {
            not_before,
            not_after,
            san,
            common_name: common_name(subject),
        })
    }

    /// Whether the certificate names `host`: a DNS name (a leading `*.` matches one label)
    /// or an IP address among the subject alternative names; the common name only when
    /// there are none (RFC 6125 §6.4.4).
    pub(super) fn names(&self, host: &str) -> bool {
        let ip = host.parse::<core::net::IpAddr>().ok();
        let Some(mut names) = self.san else {
            return ip.is_none() && self.common_name.is_some_and(|cn| dns_match(cn, host));
        };
        while let Some((tag, name, rest)) = element(names) {
            names = rest;
            let found = match (tag, ip) {
                // [2] dNSName
                (0x82, None) => dns_match(name, host),
                // [7] iPAddress
                (0x87, Some(core::net::IpAddr::V4(ip))) => name == ip.octets(),
                (0x87, Some(core::net::IpAddr::V6(ip))) => name == ip.octets(),
                _ => false,
            };
            if found {
                return true;
            }
        }
        false
    }

    /// A DNS name of this certificate (the fuzz target's view; the chain check no longer
    /// needs one).
    #[cfg(fuzzing)]
    pub(super) fn any_dns_name(&self) -> Option<&'c [u8]> {
        let Some(mut names) = self.san else {
            return self.common_name;
        };
        while let Some((tag, name, rest)) = element(names) {
            if tag == 0x82 {
                return Some(name);
            }
            names = rest;
        }
        // No DNS name: embedded-tls then compares with the common name.
        self.common_name
    }
}

/// The reader as the fuzz target `x509` (fuzz/) sees it: compiled only with `--cfg fuzzing`.
#[cfg(fuzzing)]
pub mod fuzzing {
    /// A certificate as the name and date checks read it.
    #[derive(Debug, Clone, Copy)]
    pub struct Certificate<'c>(super::Leaf<'c>);

    impl<'c> Certificate<'c> {
        /// Reads a DER certificate; `None` if it is not one.
        pub fn parse(der: &'c [u8]) -> Option<Self> {
            super::Leaf::parse(der).map(Self)
        }

        /// Not valid before, Unix seconds.
        pub fn not_before(&self) -> u64 {
            self.0.not_before
        }

        /// Not valid after, Unix seconds.
        pub fn not_after(&self) -> u64 {
            self.0.not_after
        }

        /// The DNS names among its subject alternative names, in order.
        pub fn alt_dns_names(&self) -> impl Iterator<Item = &'c [u8]> {
            let mut names = self.0.san.unwrap_or_default();
            core::iter::from_fn(move || {
                while let Some((tag, name, rest)) = super::element(names) {
                    names = rest;
                    if tag == 0x82 {
                        return Some(name);
                    }
                }
                None
            })
        }

        /// Whether it has a subject alternative names extension.
        pub fn has_alt_names(&self) -> bool {
            self.0.san.is_some()
        }

        /// The subject's (last) common name.
        pub fn common_name(&self) -> Option<&'c [u8]> {
            self.0.common_name
        }

        /// Whether it names `host` (the verifier's name check).
        pub fn names(&self, host: &str) -> bool {
            self.0.names(host)
        }

        /// The name handed to embedded-tls's own check.
        pub fn any_dns_name(&self) -> Option<&'c [u8]> {
            self.0.any_dns_name()
        }
    }

    /// Whether the chain check takes `der` as a CA's certificate (basic constraints).
    pub fn is_ca(der: &[u8]) -> bool {
        super::is_ca(der)
    }

    /// The chain check's reading of `der` (signed part, signature, subject key) and its
    /// signature check with the certificate's own key (as for a self-signed CA): `None` if
    /// it is not read as a certificate.
    pub fn verify_self_signed(der: &[u8]) -> Option<Result<(), crate::transport::TlsError>> {
        let signed = super::Signed::parse(der)?;
        Some(super::super::chain::verify_signed(&signed.key, &signed))
    }
}

const BIT_STRING: u8 = 0x03;

/// A certificate as its issuer's signature covers it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Signed<'c> {
    /// The whole `tbsCertificate` element (tag and length included): what is signed.
    pub(super) tbs: &'c [u8],
    /// The signature algorithm's OID (content octets).
    pub(super) algorithm: &'c [u8],
    /// The signature (the BIT STRING's bits).
    pub(super) signature: &'c [u8],
    /// The subject's public key.
    pub(super) key: PublicKey<'c>,
}

/// A subject public key, as its `SubjectPublicKeyInfo` gives it.
#[derive(Debug, Clone, Copy)]
pub(super) struct PublicKey<'c> {
    /// The key algorithm's OID (content octets).
    pub(super) algorithm: &'c [u8],
    /// The algorithm's parameters, whole element (a curve OID for EC keys), if any.
    pub(super) parameters: &'c [u8],
    /// The key (the BIT STRING's bits): a SEC1 point, or a PKCS#1 RSAPublicKey.
    pub(super) bits: &'c [u8],
}

impl<'c> Signed<'c> {
    /// Reads a DER certificate; `None` if it is not one.
    pub(super) fn parse(der: &'c [u8]) -> Option<Self> {
        let (certificate, _) = expect(der, SEQUENCE)?;
        let (_, _, after_tbs) = element(certificate)?;
        let tbs = &certificate[..certificate.len() - after_tbs.len()];
        let (tbs_content, _) = expect(tbs, SEQUENCE)?;
        let (algorithm, rest) = expect(after_tbs, SEQUENCE)?;
        let (algorithm, _) = expect(algorithm, OID)?;
        let (signature, _) = expect(rest, BIT_STRING)?;
        let signature = bits(signature)?;
        let mut rest = tbs_content;
        if rest.first() == Some(&0xa0) {
            rest = element(rest)?.2;
        }
        let rest = element(rest)?.2; // serial number
        let rest = expect(rest, SEQUENCE)?.1; // signature algorithm
        let rest = expect(rest, SEQUENCE)?.1; // issuer
        let rest = expect(rest, SEQUENCE)?.1; // validity
        let rest = expect(rest, SEQUENCE)?.1; // subject
        let (spki, _) = expect(rest, SEQUENCE)?;
        let (key_algorithm, key) = expect(spki, SEQUENCE)?;
        let (key_oid, parameters) = expect(key_algorithm, OID)?;
        let (key, _) = expect(key, BIT_STRING)?;
        Some(Self {
            tbs,
            algorithm,
            signature,
            key: PublicKey {
                algorithm: key_oid,
                parameters,
                bits: bits(key)?,
            },
        })
    }
}

/// A BIT STRING's content as bytes: only whole bytes (no unused bits) are accepted.
fn bits(content: &[u8]) -> Option<&[u8]> {
    match content.split_first() {
        Some((0, bits)) => Some(bits),
        _ => None,
    }
}

/// A PKCS#1 RSAPublicKey: the modulus and the public exponent, big-endian, without leading
/// zero bytes; `None` if it is not one (or an integer is negative).
#[cfg(feature = "tls-rsa")]
pub(super) fn rsa_public_key(der: &[u8]) -> Option<(&[u8], &[u8])> {
    const INTEGER: u8 = 0x02;
    let (key, _) = expect(der, SEQUENCE)?;
    let (modulus, rest) = expect(key, INTEGER)?;
    let (exponent, _) = expect(rest, INTEGER)?;
    Some((unsigned(modulus)?, unsigned(exponent)?))
}

/// A non-negative DER INTEGER's content without its leading zero bytes.
#[cfg(feature = "tls-rsa")]
fn unsigned(int: &[u8]) -> Option<&[u8]> {
    if int.first().is_none_or(|&b| b & 0x80 != 0) {
        return None;
    }
    let start = int.iter().position(|&b| b != 0).unwrap_or(int.len());
    Some(&int[start..])
}

/// The content of the subject alternative name extension among `extensions`.
fn subject_alt_names(extensions: &[u8]) -> Option<&[u8]> {
    Some(expect(extension(extensions, SAN_OID)?, SEQUENCE)?.0)
}

/// The value (the OCTET STRING's content) of the extension `oid` among `extensions` (the
/// content of the `[3]` element).
fn extension<'c>(extensions: &'c [u8], oid: &[u8]) -> Option<&'c [u8]> {
    let (mut list, _) = expect(extensions, SEQUENCE)?;
    while let Some((extension, rest)) = expect(list, SEQUENCE) {
        list = rest;
        let (found, mut fields) = expect(extension, OID)?;
        if found != oid {
            continue;
        }
        // critical BOOLEAN, optional
        if fields.first() == Some(&BOOLEAN) {
            fields = element(fields)?.2;
        }
        return Some(expect(fields, OCTET_STRING)?.0);
    }
    None
}

/// Whether a DER certificate says its subject is a CA: the basic constraints extension with
/// cA TRUE (RFC 5280 §4.2.1.9). Only such a certificate may sign another: without the check,
/// any certificate the trusted CA issued to anyone could sign one for any name. A certificate
/// that cannot be read, has no such extension, or leaves cA at its default (FALSE) is not.
pub(super) fn is_ca(der: &[u8]) -> bool {
    let ca = || {
        let (certificate, _) = expect(der, SEQUENCE)?;
        let (tbs, _) = expect(certificate, SEQUENCE)?;
        let mut rest = tbs;
        while let Some((tag, content, next)) = element(rest) {
            rest = next;
            // [3] EXPLICIT Extensions, after every field that can precede it.
            if tag == 0xa3 {
                let value = extension(content, BASIC_CONSTRAINTS_OID)?;
                let (constraints, _) = expect(value, SEQUENCE)?;
                let (flag, _) = expect(constraints, BOOLEAN)?;
                return Some(flag.first().is_some_and(|&b| b != 0));
            }
        }
        None
    };
    ca().unwrap_or(false)
}

/// The last common name in a distinguished name.
fn common_name(mut name: &[u8]) -> Option<&[u8]> {
    let mut found = None;
    while let Some((set, rest)) = expect(name, SET) {
        name = rest;
        let mut attributes = set;
        while let Some((attribute, rest)) = expect(attributes, SEQUENCE) {
            attributes = rest;
            if let Some((oid, value)) = expect(attribute, OID)
                && oid == CN_OID
            {
                found = element(value).map(|(_, text, _)| text);
            }
        }
    }
    found
}

/// Case-insensitive DNS name match; `*.` in the certificate matches one whole label.
fn dns_match(pattern: &[u8], host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).as_bytes();
    if let Some(suffix) = pattern.strip_prefix(b"*.") {
        return match host.iter().position(|&b| b == b'.') {
            Some(dot) if dot > 0 => host[dot + 1..].eq_ignore_ascii_case(suffix),
            _ => false,
        };
    }
    pattern.eq_ignore_ascii_case(host)
}

/// A UTCTime or GeneralizedTime (`…Z`) as Unix seconds, and what follows it.
fn time(input: &[u8]) -> Option<(u64, &[u8])> {
    let (tag, text, rest) = element(input)?;
    let (year, text) = match tag {
        UTC_TIME => {
            let yy = digits(text.get(..2)?)?;
            // RFC 5280 §4.1.2.5.1: 50..=99 are 19xx.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        GENERALIZED_TIME => (digits(text.get(..4)?)?, &text[4..]),
        _ => return None,
    };
    if text.len() != 11 || text[10] != b'Z' {
        return None;
    }
    let month = digits(&text[0..2])?;
    let day = digits(&text[2..4])?;
    let hour = digits(&text[4..6])?;
    let minute = digits(&text[6..8])?;
    let second = digits(&text[8..10])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day)?;
    Some((days * 86_400 + hour * 3_600 + minute * 60 + second, rest))
}

fn digits(text: &[u8]) -> Option<u64> {
    text.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (H. Hinnant's
/// `days_from_civil`); `None` before 1970.
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let year = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = year / 400;
    let year_of_era = year - era * 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2026, 11, 29), Some(20_786));
    }

    #[test]
    fn times_parse_both_encodings() {
        // 2026-11-29 12:00:00 UTC
        let utc = [&[UTC_TIME, 13][..], b"261129120000Z"].concat();
        let general = [&[GENERALIZED_TIME, 15][..], b"20261129120000Z"].concat();
        let expected = 20_786 * 86_400 + 12 * 3_600;
        assert_eq!(time(&utc).map(|t| t.0), Some(expected));
        assert_eq!(time(&general).map(|t| t.0), Some(expected));
    }

    #[test]
    fn wildcards_match_one_label() {
        assert!(dns_match(b"*.example.org", "broker.example.org"));
        assert!(!dns_match(b"*.example.org", "a.b.example.org"));
        assert!(!dns_match(b"*.example.org", "example.org"));
        assert!(dns_match(b"Broker.Example.org", "broker.example.org."));
    }
}
