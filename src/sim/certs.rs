//! Certificates registered on the simulated app registration (its "key credentials"): the RSA
//! public key of each, found by the `x5t#S256` thumbprint (base64url SHA-256 of the DER) that a
//! client assertion names in its header.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use sha2::{Digest, Sha256};

/// One registered certificate.
#[derive(Debug, Clone)]
pub struct Registered {
    /// base64url(SHA-256(DER)), as in a JWT `x5t#S256` header.
    pub x5t_s256: String,
    pub key: RsaPublicKey,
}

/// Parses each PEM (one or more `CERTIFICATE` blocks each); errors name the entry and the reason.
pub fn parse_all(pems: &[String]) -> anyhow::Result<Vec<Registered>> {
    let mut out = Vec::new();
    for (i, pem) in pems.iter().enumerate() {
        let blocks =
            pem_blocks(pem).map_err(|e| anyhow::anyhow!("SimOptions.certificates[{i}]: {e}"))?;
        for (j, der) in blocks.iter().enumerate() {
            let r = from_der(der).map_err(|e| {
                anyhow::anyhow!("SimOptions.certificates[{i}], certificate {}: {e}", j + 1)
            })?;
            out.push(r);
        }
    }
    Ok(out)
}

/// The DER of every `CERTIFICATE` block.
fn pem_blocks(pem: &str) -> Result<Vec<Vec<u8>>, String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(at) = rest.find(BEGIN) {
        let body_start = at + BEGIN.len();
        let len = rest[body_start..]
            .find(END)
            .ok_or("a CERTIFICATE block is not closed")?;
        let body: String = rest[body_start..body_start + len]
            .split_whitespace()
            .collect();
        let der = STANDARD
            .decode(body)
            .map_err(|e| format!("a CERTIFICATE block is not base64: {e}"))?;
        out.push(der);
        rest = &rest[body_start + len + END.len()..];
    }
    if out.is_empty() {
        return Err(format!("no {BEGIN} block"));
    }
    Ok(out)
}

/// Thumbprint and RSA key of one DER certificate.
pub fn from_der(der: &[u8]) -> Result<Registered, String> {
    let spki = subject_public_key_info(der)?;
    let key = RsaPublicKey::from_public_key_der(spki)
        .map_err(|_| "the subject public key is not an RSA key".to_string())?;
    Ok(Registered {
        x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(der)),
        key,
    })
}

/// One DER element at the start of `b`: (tag, total length, content range).
fn tlv(b: &[u8]) -> Option<(u8, usize, std::ops::Range<usize>)> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    (end <= b.len()).then_some((tag, end, header..end))
}

/// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber,
/// signature, issuer, validity, subject, subjectPublicKeyInfo, … }, … } (RFC 5280 §4.1).
fn subject_public_key_info(der: &[u8]) -> Result<&[u8], String> {
    let bad = |what: &str| format!("not an X.509 certificate ({what})");
    let (tag, _, body) = tlv(der).ok_or_else(|| bad("no outer element"))?;
    if tag != 0x30 {
        return Err(bad("outer element is not a SEQUENCE"));
    }
    let cert = &der[body];
    let (tag, _, body) = tlv(cert).ok_or_else(|| bad("no tbsCertificate"))?;
    if tag != 0x30 {
        return Err(bad("tbsCertificate is not a SEQUENCE"));
    }
    let mut tbs = &cert[body];
    let mut skip = 5; // serialNumber, signature, issuer, validity, subject
    if tbs.first() == Some(&0xa0) {
        skip += 1; // explicit version
    }
    for _ in 0..skip {
        let (_, total, _) = tlv(tbs).ok_or_else(|| bad("tbsCertificate is truncated"))?;
        tbs = &tbs[total..];
    }
    let (tag, total, _) = tlv(tbs).ok_or_else(|| bad("no subjectPublicKeyInfo"))?;
    if tag != 0x30 {
        return Err(bad("subjectPublicKeyInfo is not a SEQUENCE"));
    }
    Ok(&tbs[..total])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;

    const CERT: &str = include_str!("../../tests/it/auth_support/test_cert.pem");
    const KEY: &str = include_str!("../../tests/it/auth_support/test_key.pem");

    #[test]
    fn the_key_of_the_certificate_is_the_public_half_of_its_private_key() {
        let regs = parse_all(&[CERT.to_string()]).unwrap();
        assert_eq!(regs.len(), 1);
        let private = rsa::RsaPrivateKey::from_pkcs8_pem(KEY)
            .or_else(|_| {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                rsa::RsaPrivateKey::from_pkcs1_pem(KEY)
            })
            .unwrap();
        assert_eq!(regs[0].key, private.to_public_key());
        assert!(regs[0].key.n_bytes().len() >= 256);
        let der = pem_blocks(CERT).unwrap().remove(0);
        assert_eq!(
            regs[0].x5t_s256,
            URL_SAFE_NO_PAD.encode(Sha256::digest(&der))
        );
        // Two certificates in one entry, or in two entries, are both registered.
        let two = format!("{CERT}\n{CERT}");
        assert_eq!(parse_all(&[two]).unwrap().len(), 2);
    }

    #[test]
    fn bad_certificates_name_the_entry_and_the_problem() {
        let e = parse_all(&[CERT.to_string(), "nothing".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("certificates[1]") && e.contains("BEGIN CERTIFICATE"),
            "{e}"
        );
        let open = CERT.replace("-----END CERTIFICATE-----", "");
        let e = parse_all(&[open]).unwrap_err().to_string();
        assert!(e.contains("not closed"), "{e}");
        let junk = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----";
        let e = parse_all(&[junk.into()]).unwrap_err().to_string();
        assert!(
            e.contains("certificates[0], certificate 1") && e.contains("X.509"),
            "{e}"
        );
        // Every truncation of a real certificate is refused without a panic.
        let der = pem_blocks(CERT).unwrap().remove(0);
        for cut in 0..der.len() {
            assert!(from_der(&der[..cut]).is_err(), "cut at {cut}");
        }
    }
}
