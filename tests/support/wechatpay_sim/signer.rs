//! The simulator's signing keys (the platform key, a rotated one, the test client's merchant
//! key): SHA256withRSA (PKCS#1 v1.5) made with aws-lc directly, never wxprint's code.
//!
//! Why aws-lc and not `rsa`, as the rest of the simulator uses: a 2048-bit signature takes
//! `rsa` about 2 ms of a core in an optimised build and 20 ms in a test build, once for
//! every answer, while aws-lc takes 0.3–0.4 ms and 2 ms. Test runs made of thousands of
//! answers waited on it, and in the real-path bench the simulator's signing competed with the
//! daemon for the machine's two cores. Independence is kept where it counts: PKCS#1 v1.5
//! signatures are deterministic, so these are the very bytes `rsa` makes (checked below), and
//! what wxprint signs is still verified with `rsa` (`signing.rs`).

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};

/// An RSA private key that signs SHA256withRSA.
pub(super) struct Signer {
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl Signer {
    /// From a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); panics on anything else, as the
    /// simulator's keys are fixtures.
    pub(super) fn from_pem(pem: &str) -> Signer {
        let der = rsa::PrivateKey::from_pkcs8_pem(pem)
            .and_then(|key| key.to_pkcs8_der())
            .unwrap_or_else(|e| panic!("a simulator's private key (PKCS#8 PEM): {e}"));
        let key = RsaKeyPair::from_pkcs8(der.as_bytes())
            .unwrap_or_else(|e| panic!("a simulator's private key (aws-lc): {e}"));
        Signer {
            key,
            rng: SystemRandom::new(),
        }
    }

    /// The signature of `message`: the raw bytes, to be Base64-encoded.
    pub(super) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
            .expect("an RSA signature of a fixture key");
        signature
    }
}

#[cfg(test)]
#[allow(
    unused_imports,
    reason = "unused in the benches, which have no test harness"
)]
mod tests {
    use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
    use rsa::pkcs8::DecodePrivateKey as _;
    use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
    use sha2::Sha256;

    use super::super::default_fixture_dir;
    use super::Signer;

    /// What the simulator signs is byte for byte what the independent `rsa` crate signs, and
    /// `rsa` verifies it; a wrong hash, padding or key load would differ.
    #[test]
    fn signs_the_bytes_rsa_makes() {
        let pem = std::fs::read_to_string(default_fixture_dir().join("platform_key.pem")).unwrap();
        let ours = Signer::from_pem(&pem);
        let theirs = SigningKey::<Sha256>::new(rsa::PrivateKey::from_pkcs8_pem(&pem).unwrap());
        let verifier = VerifyingKey::<Sha256>::new(theirs.as_ref().to_public_key());
        for message in [
            &b""[..],
            b"1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{}\n",
        ] {
            let signature = ours.sign(message);
            assert_eq!(signature, theirs.sign(message).to_vec());
            let parsed = Signature::try_from(signature.as_slice()).unwrap();
            assert!(verifier.verify(message, &parsed).is_ok());
        }
    }
}
