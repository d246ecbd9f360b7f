//! Client credentials (application, unattended): with a client secret, or with a certificate as a
//! signed JWT client assertion (RS256, `x5t#S256` = SHA-256 of the certificate's DER).

use std::path::Path;

use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256 as Sha256v11;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};

use super::AuthError;
use super::endpoint::{TokenEndpoint, TokenSet};
use super::roles::app_scope_param;
use crate::secret::Secret;

/// How an app proves who it is.
#[derive(Debug, Clone)]
pub enum AppCredential {
    Secret(Secret),
    Certificate(Box<CertificateCredential>),
}

/// A private key and the thumbprint of its certificate. Debug shows the thumbprint only.
#[derive(Clone)]
pub struct CertificateCredential {
    key: SigningKey<Sha256v11>,
    /// base64url(SHA-256(DER)) of the certificate.
    pub x5t_s256: String,
}

impl std::fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("x5t_s256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The DER of the first `CERTIFICATE` block of a PEM file.
fn cert_der(pem: &str, path: &Path) -> Result<Vec<u8>, AuthError> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = pem
        .find(begin)
        .ok_or_else(|| AuthError::Certificate(format!("{}: no {begin} block", path.display())))?
        + begin.len();
    let end = pem[start..]
        .find("-----END CERTIFICATE-----")
        .ok_or_else(|| {
            AuthError::Certificate(format!(
                "{}: the CERTIFICATE block is not closed",
                path.display()
            ))
        })?
        + start;
    let body: String = pem[start..end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| {
            AuthError::Certificate(format!(
                "{}: the CERTIFICATE block is not base64: {e}",
                path.display()
            ))
        })
}

impl CertificateCredential {
    /// From PEM text: a certificate, and a PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`)
    /// RSA key. Paths are only used in error messages.
    pub fn from_pem(
        cert_pem: &str,
        cert_path: &Path,
        key_pem: &str,
        key_path: &Path,
    ) -> Result<Self, AuthError> {
        let der = cert_der(cert_pem, cert_path)?;
        let key_err = |what: &str| {
            // The decoder's message is not shown: it can describe key material.
            AuthError::Certificate(format!("{}: not a readable {what}", key_path.display()))
        };
        let private = if key_pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::RsaPrivateKey::from_pkcs1_pem(key_pem)
                .map_err(|_| key_err("PKCS#1 RSA private key"))?
        } else if key_pem.contains("-----BEGIN PRIVATE KEY-----") {
            use rsa::pkcs8::DecodePrivateKey;
            rsa::RsaPrivateKey::from_pkcs8_pem(key_pem)
                .map_err(|_| key_err("PKCS#8 RSA private key"))?
        } else {
            return Err(AuthError::Certificate(format!(
                "{}: expected an unencrypted RSA key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)",
                key_path.display()
            )));
        };
        Ok(Self {
            key: SigningKey::new(private),
            x5t_s256: b64(&Sha256::digest(&der)),
        })
    }

    pub fn from_files(cert_path: &Path, key_path: &Path) -> Result<Self, AuthError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .map_err(|e| AuthError::Certificate(format!("cannot read {}: {e}", p.display())))
        };
        Self::from_pem(&read(cert_path)?, cert_path, &read(key_path)?, key_path)
    }

    /// A fresh assertion for `audience` (the token endpoint URL), valid 10 minutes.
    pub fn assertion(&self, client_id: &str, audience: &str) -> Secret {
        let now = chrono::Utc::now().timestamp();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t#S256": self.x5t_s256});
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now, "nbf": now, "exp": now + 600,
        });
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.key.sign(signing_input.as_bytes());
        Secret::new(format!("{signing_input}.{}", b64(&sig.to_bytes())))
    }
}

/// One client-credentials token (no refresh token: get a new one when it expires).
pub async fn acquire(
    endpoint: &TokenEndpoint,
    cred: &AppCredential,
) -> Result<TokenSet, AuthError> {
    let scope = app_scope_param();
    let result = match cred {
        AppCredential::Secret(secret) => {
            let form = [
                ("client_id", endpoint.client_id()),
                ("scope", scope.as_str()),
                ("client_secret", secret.expose()),
                ("grant_type", "client_credentials"),
            ];
            endpoint.token(&form).await
        }
        AppCredential::Certificate(cert) => {
            let assertion = cert.assertion(endpoint.client_id(), endpoint.url("token").as_str());
            let form = [
                ("client_id", endpoint.client_id()),
                ("scope", scope.as_str()),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion.expose()),
                ("grant_type", "client_credentials"),
            ];
            endpoint.token(&form).await
        }
    };
    Ok(result?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    const CERT: &str = include_str!("../../tests/it/auth_support/test_cert.pem");
    const KEY: &str = include_str!("../../tests/it/auth_support/test_key.pem");

    fn cred() -> CertificateCredential {
        CertificateCredential::from_pem(CERT, Path::new("c.pem"), KEY, Path::new("k.pem")).unwrap()
    }

    #[test]
    fn assertion_is_an_rs256_jwt_that_verifies_with_the_public_key() {
        let c = cred();
        let jwt = c.assertion("client-1", "https://login/t/oauth2/v2.0/token");
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let dec = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let header: serde_json::Value = serde_json::from_slice(&dec(parts[0])).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&dec(parts[1])).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t#S256"], c.x5t_s256.as_str());
        assert_eq!(claims["aud"], "https://login/t/oauth2/v2.0/token");
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert!(claims["exp"].as_i64().unwrap() > claims["nbf"].as_i64().unwrap());

        let vk: VerifyingKey<Sha256v11> = VerifyingKey::new(c.key.as_ref().to_public_key());
        let sig = Signature::try_from(dec(parts[2]).as_slice()).unwrap();
        vk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        assert!(vk.verify(b"tampered", &sig).is_err());
    }

    #[test]
    fn thumbprint_is_sha256_of_the_der() {
        let der = cert_der(CERT, Path::new("c.pem")).unwrap();
        assert_eq!(cred().x5t_s256, b64(&Sha256::digest(&der)));
        assert_eq!(cred().x5t_s256.len(), 43);
    }

    #[test]
    fn bad_pem_names_the_file_and_never_the_key() {
        let e = CertificateCredential::from_pem(
            "nothing",
            Path::new("/etc/c.pem"),
            KEY,
            Path::new("k"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/etc/c.pem"), "{e}");
        let broken = KEY.replace("MII", "MIX");
        let e = CertificateCredential::from_pem(CERT, Path::new("c"), &broken, Path::new("/k.pem"))
            .unwrap_err();
        assert!(
            e.to_string().contains("/k.pem") && !e.to_string().contains("MIX"),
            "{e}"
        );
        assert!(!format!("{:?}", cred()).contains("BEGIN"));
    }
}
