//! The chain's signatures and the server's CertificateVerify, checked here rather than by
//! embedded-tls: its checker knows RSA only with an allocator, and a chain may mix the two
//! (an RSA CA signing an ECDSA server key).
//!
//! - ECDSA P-256 with SHA-256 (p256), for certificates and CertificateVerify.
//! - With the `tls-rsa` feature: sha256/384/512WithRSAEncryption (PKCS#1 v1.5) for
//!   certificates, rsa_pss_rsae_sha256/384/512 for CertificateVerify (TLS 1.3 forbids PKCS#1 v1.5
//!   there, RFC 8446 §4.4.3), keys of 2048 to 4096 bits, on fixed-size integers
//!   (rsa_heapless): no allocator.
//!
//! Any other algorithm is [`TlsError::UnsupportedAlgorithm`]; a signature that does not
//! verify, or a key or signature that cannot be read, is [`TlsError::UntrustedCertificate`].

use super::TlsError;
use super::x509::{PublicKey, Signed};
use embedded_tls::SignatureScheme;

/// id-ecPublicKey, 1.2.840.10045.2.1.
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// The prime256v1 curve, 1.2.840.10045.3.1.7, as a whole OID element.
const P256_CURVE: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// ecdsa-with-SHA256, 1.2.840.10045.4.3.2.
const ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
/// rsaEncryption, 1.2.840.113549.1.1.1.
#[cfg(feature = "tls-rsa")]
const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// sha256WithRSAEncryption, 1.2.840.113549.1.1.11 (…384: .12, …512: .13).
#[cfg(feature = "tls-rsa")]
const RSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
#[cfg(feature = "tls-rsa")]
const RSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
#[cfg(feature = "tls-rsa")]
const RSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];

/// The largest RSA modulus accepted, in bytes (4096 bits).
#[cfg(feature = "tls-rsa")]
const RSA_MAX_BYTES: usize = 512;
/// The smallest, in bytes (2048 bits).
#[cfg(feature = "tls-rsa")]
const RSA_MIN_BYTES: usize = 256;

/// The server's public key, kept from the Certificate message for its CertificateVerify.
/// One lives in the verifier, for one handshake: no heap to box the RSA variant in.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(super) enum LeafKey {
    /// An ECDSA P-256 key.
    P256(p256::ecdsa::VerifyingKey),
    /// An RSA key: modulus (big-endian, no leading zeros) and public exponent.
    #[cfg(feature = "tls-rsa")]
    Rsa {
        modulus: heapless::Vec<u8, RSA_MAX_BYTES>,
        exponent: u32,
    },
}

impl LeafKey {
    /// Reads a certificate's public key for CertificateVerify.
    pub(super) fn new(key: &PublicKey<'_>) -> Result<Self, TlsError> {
        if key.algorithm == EC_PUBLIC_KEY {
            return p256_key(key).map(Self::P256);
        }
        #[cfg(feature = "tls-rsa")]
        if key.algorithm == RSA_ENCRYPTION {
            let (modulus, exponent) = rsa_key(key)?;
            let modulus =
                heapless::Vec::from_slice(modulus).map_err(|_| TlsError::UnsupportedAlgorithm)?;
            return Ok(Self::Rsa { modulus, exponent });
        }
        Err(TlsError::UnsupportedAlgorithm)
    }

    /// Checks the server's CertificateVerify `signature` (scheme `scheme`) over `message`.
    pub(super) fn verify(
        &self,
        scheme: SignatureScheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), TlsError> {
        match (self, scheme) {
            (Self::P256(key), SignatureScheme::EcdsaSecp256r1Sha256) => {
                p256_verify(key, message, signature)
            }
            #[cfg(feature = "tls-rsa")]
            (Self::Rsa { modulus, exponent }, scheme) => {
                let hash = match scheme {
                    SignatureScheme::RsaPssRsaeSha256 => rsa_check::Hash::Sha256,
                    SignatureScheme::RsaPssRsaeSha384 => rsa_check::Hash::Sha384,
                    SignatureScheme::RsaPssRsaeSha512 => rsa_check::Hash::Sha512,
                    _ => return Err(TlsError::UnsupportedAlgorithm),
                };
                rsa_check::verify_pss(hash, modulus, *exponent, message, signature)
            }
            _ => Err(TlsError::UnsupportedAlgorithm),
        }
    }
}

/// Checks that `issuer`'s key signed `certificate`.
pub(super) fn verify_signed(
    issuer: &PublicKey<'_>,
    certificate: &Signed<'_>,
) -> Result<(), TlsError> {
    if certificate.algorithm == ECDSA_SHA256 {
        if issuer.algorithm != EC_PUBLIC_KEY {
            return Err(TlsError::UntrustedCertificate);
        }
        return p256_verify(&p256_key(issuer)?, certificate.tbs, certificate.signature);
    }
    #[cfg(feature = "tls-rsa")]
    {
        let hash = match certificate.algorithm {
            RSA_SHA256 => Some(rsa_check::Hash::Sha256),
            RSA_SHA384 => Some(rsa_check::Hash::Sha384),
            RSA_SHA512 => Some(rsa_check::Hash::Sha512),
            _ => None,
        };
        if let Some(hash) = hash {
            if issuer.algorithm != RSA_ENCRYPTION {
                return Err(TlsError::UntrustedCertificate);
            }
            let (modulus, exponent) = rsa_key(issuer)?;
            return rsa_check::verify_pkcs1v15(
                hash,
                modulus,
                exponent,
                certificate.tbs,
                certificate.signature,
            );
        }
    }
    Err(TlsError::UnsupportedAlgorithm)
}

fn p256_key(key: &PublicKey<'_>) -> Result<p256::ecdsa::VerifyingKey, TlsError> {
    if key.parameters != P256_CURVE {
        return Err(TlsError::UnsupportedAlgorithm);
    }
    p256::ecdsa::VerifyingKey::from_sec1_bytes(key.bits).map_err(|_| TlsError::UntrustedCertificate)
}

fn p256_verify(
    key: &p256::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TlsError> {
    use p256::ecdsa::signature::Verifier;
    let signature =
        p256::ecdsa::Signature::from_der(signature).map_err(|_| TlsError::UntrustedCertificate)?;
    key.verify(message, &signature)
        .map_err(|_| TlsError::UntrustedCertificate)
}

/// An RSA key's modulus and exponent, if its size is supported: 2048..=4096 bits, an odd
/// exponent of at most 32 bits, at least 3.
#[cfg(feature = "tls-rsa")]
fn rsa_key<'k>(key: &PublicKey<'k>) -> Result<(&'k [u8], u32), TlsError> {
    let (modulus, exponent) =
        super::x509::rsa_public_key(key.bits).ok_or(TlsError::UntrustedCertificate)?;
    if !(RSA_MIN_BYTES..=RSA_MAX_BYTES).contains(&modulus.len()) || exponent.len() > 4 {
        return Err(TlsError::UnsupportedAlgorithm);
    }
    let exponent = exponent.iter().fold(0u32, |e, &b| (e << 8) | u32::from(b));
    if exponent < 3 || exponent % 2 == 0 || modulus.last().is_none_or(|b| b % 2 == 0) {
        return Err(TlsError::UntrustedCertificate);
    }
    Ok((modulus, exponent))
}

/// The RSA checks, on 4096-bit fixed-size integers.
#[cfg(feature = "tls-rsa")]
mod rsa_check {
    use super::TlsError;
    use ::rsa::modmath_support::public_key_from_be_bytes;
    use ::rsa::signature::Verifier;
    use ::rsa::{pkcs1v15, pss};

    /// A 4096-bit unsigned integer.
    type U4096 = fixed_bigint::FixedUInt<u32, 128>;

    /// The hash an RSA signature is made with.
    #[derive(Debug, Clone, Copy)]
    pub(super) enum Hash {
        Sha256,
        Sha384,
        Sha512,
    }

    fn key(
        modulus: &[u8],
        exponent: u32,
    ) -> Result<::rsa::GenericRsaPublicKey<U4096, ::rsa::ModMathParams<U4096>>, TlsError> {
        public_key_from_be_bytes::<U4096>(modulus, exponent)
            .map_err(|_| TlsError::UntrustedCertificate)
    }

    /// The signature as an integer; it must be as long as the modulus (RFC 8017 §8.2.2
    /// step 1).
    fn integer(modulus: &[u8], signature: &[u8]) -> Result<U4096, TlsError> {
        let mut bytes = [0u8; super::RSA_MAX_BYTES];
        let start = bytes
            .len()
            .checked_sub(signature.len())
            .filter(|_| signature.len() == modulus.len())
            .ok_or(TlsError::UntrustedCertificate)?;
        bytes[start..].copy_from_slice(signature);
        Ok(U4096::from_be_bytes_fixed(&bytes))
    }

    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2.2).
    pub(super) fn verify_pkcs1v15(
        hash: Hash,
        modulus: &[u8],
        exponent: u32,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), TlsError> {
        let signature = pkcs1v15::GenericSignature::from(integer(modulus, signature)?);
        let key = key(modulus, exponent)?;
        let verified = match hash {
            Hash::Sha256 => pkcs1v15::GenericVerifyingKey::<sha2::Sha256, _, _>::new(key)
                .verify(message, &signature),
            Hash::Sha384 => pkcs1v15::GenericVerifyingKey::<sha2::Sha384, _, _>::new(key)
                .verify(message, &signature),
            Hash::Sha512 => pkcs1v15::GenericVerifyingKey::<sha2::Sha512, _, _>::new(key)
                .verify(message, &signature),
        };
        verified.map_err(|_| TlsError::UntrustedCertificate)
    }

    /// RSASSA-PSS with `hash`, MGF1 with the same hash and a salt as long as the hash
    /// (RFC 8446 §4.2.3).
    pub(super) fn verify_pss(
        hash: Hash,
        modulus: &[u8],
        exponent: u32,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), TlsError> {
        let signature = pss::GenericSignature::from(integer(modulus, signature)?);
        let key = key(modulus, exponent)?;
        // `new`: the salt is as long as the hash.
        let verified =
            match hash {
                Hash::Sha256 => pss::GenericVerifyingKey::<sha2::Sha256, _, _>::new(key)
                    .verify(message, &signature),
                Hash::Sha384 => pss::GenericVerifyingKey::<sha2::Sha384, _, _>::new(key)
                    .verify(message, &signature),
                Hash::Sha512 => pss::GenericVerifyingKey::<sha2::Sha512, _, _>::new(key)
                    .verify(message, &signature),
            };
        verified.map_err(|_| TlsError::UntrustedCertificate)
    }
}

#[cfg(all(test, feature = "tls-rsa"))]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    const CA: &[u8] = include_bytes!("../../../tests/fixtures/rsa/ca.der");
    const SERVER: &[u8] = include_bytes!("../../../tests/fixtures/rsa/server.der");
    const SERVER_4096: &[u8] = include_bytes!("../../../tests/fixtures/rsa/server4096.der");

    fn parse(der: &[u8]) -> Signed<'_> {
        Signed::parse(der).expect("certificate")
    }

    #[test]
    fn rsa_signatures_verify_and_altered_ones_do_not() {
        let ca = parse(CA);
        assert_eq!(verify_signed(&ca.key, &parse(SERVER)), Ok(()));
        assert_eq!(verify_signed(&ca.key, &parse(SERVER_4096)), Ok(()));
        // The CA is self-signed.
        assert_eq!(verify_signed(&ca.key, &ca), Ok(()));
        let server = parse(SERVER);
        let mut signature = server.signature.to_vec();
        for (i, bad) in [
            signature[..signature.len() - 1].to_vec(),
            [signature.as_slice(), &[0]].concat(),
            vec![0xff; signature.len()],
            vec![0; signature.len()],
            {
                signature[7] ^= 0x40;
                signature.clone()
            },
        ]
        .iter()
        .enumerate()
        {
            let altered = Signed {
                signature: bad,
                ..server
            };
            assert_eq!(
                verify_signed(&ca.key, &altered),
                Err(TlsError::UntrustedCertificate),
                "case {i}"
            );
        }
    }

    #[test]
    fn malformed_or_unsupported_rsa_keys_are_typed_errors() {
        let server = parse(SERVER);
        let ca = parse(CA).key;
        let mut key = ca.bits.to_vec();
        // Cut anywhere: never a panic, always an error.
        for len in 0..key.len() {
            let cut = PublicKey {
                bits: &key[..len],
                ..ca
            };
            assert!(verify_signed(&cut, &server).is_err(), "cut at {len}");
        }
        // The exponent 65537 (its last byte, 0x01) made even.
        let last = key.len() - 1;
        key[last] = 0x02;
        let even = PublicKey { bits: &key, ..ca };
        assert_eq!(
            verify_signed(&even, &server),
            Err(TlsError::UntrustedCertificate)
        );
        // A 1024-bit modulus: too small.
        let small = [
            &[0x30, 0x81, 0x89, 0x02, 0x81, 0x81, 0x00][..],
            &[0xc5; 128],
            &[0x02, 0x03, 0x01, 0x00, 0x01],
        ]
        .concat();
        let small = PublicKey { bits: &small, ..ca };
        assert_eq!(
            verify_signed(&small, &server),
            Err(TlsError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn truncated_certificates_are_not_read() {
        for der in [CA, SERVER, SERVER_4096] {
            assert!(Signed::parse(der).is_some());
            for len in 0..der.len() {
                assert!(Signed::parse(&der[..len]).is_none(), "cut at {len}");
            }
        }
    }

    #[test]
    fn pss_signature_made_by_openssl_verifies_and_an_altered_one_does_not() {
        const SIGNATURE: &[u8] = include_bytes!("../../../tests/fixtures/rsa/pss_sha256.sig");
        const MESSAGE: &[u8] = b"sensorpub PSS test message";
        let key = LeafKey::new(&parse(SERVER).key).expect("RSA key");
        let pss = SignatureScheme::RsaPssRsaeSha256;
        assert_eq!(key.verify(pss, MESSAGE, SIGNATURE), Ok(()));
        assert_eq!(
            key.verify(pss, b"sensorpub PSS test messagE", SIGNATURE),
            Err(TlsError::UntrustedCertificate)
        );
        let mut altered = SIGNATURE.to_vec();
        altered[100] ^= 0x08;
        assert_eq!(
            key.verify(pss, MESSAGE, &altered),
            Err(TlsError::UntrustedCertificate)
        );
        // The same bytes claimed as SHA-384: refused.
        assert_eq!(
            key.verify(SignatureScheme::RsaPssRsaeSha384, MESSAGE, SIGNATURE),
            Err(TlsError::UntrustedCertificate)
        );
    }

    #[test]
    fn certificate_verify_takes_pss_and_refuses_pkcs1() {
        let key = LeafKey::new(&parse(SERVER).key).expect("RSA key");
        let signature = [0x55; 256];
        assert_eq!(
            key.verify(SignatureScheme::RsaPkcs1Sha256, b"message", &signature),
            Err(TlsError::UnsupportedAlgorithm)
        );
        assert_eq!(
            key.verify(SignatureScheme::RsaPssRsaeSha256, b"message", &signature),
            Err(TlsError::UntrustedCertificate)
        );
        assert_eq!(
            key.verify(
                SignatureScheme::EcdsaSecp256r1Sha256,
                b"message",
                &signature
            ),
            Err(TlsError::UnsupportedAlgorithm)
        );
    }
}
