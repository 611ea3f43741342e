//! WeChat Pay rotating its platform certificate (certificate mode): a new certificate, with
//! its own key and serial ([`ROTATED_SERIAL`]), signs every answer from the rotation on,
//! while `/v3/certificates` lists the old and the new one (as during the days WeChat Pay
//! uses both, reference `wechatpay.md` §5.3). Public-key mode has no rotation: answers
//! signed with the WeChat Pay public key are unchanged.
//!
//! The new certificate and key are files next to this one (test only, never real):
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rotated_platform_key.pem`,
//! then `openssl req -x509 -new -key rotated_platform_key.pem -out rotated_platform_cert.pem
//! -days 7300 -sha256 -set_serial 0x5E8A1C0FFEE0D15EA5E0000000000002
//! -subj "/C=CN/O=wxprint test/CN=WeChat Pay platform certificate, rotated (test only)"`.

use super::certificates::cert_validity;
use super::signer::Signer;
use super::{Inner, Simulator};

/// The serial of the certificate WeChat Pay rotates to.
pub const ROTATED_SERIAL: &str = "5E8A1C0FFEE0D15EA5E0000000000002";

const ROTATED_KEY_PEM: &str = include_str!("rotated_platform_key.pem");
const ROTATED_CERT_PEM: &str = include_str!("rotated_platform_cert.pem");

/// The certificate that signs answers after [`Simulator::rotate_certificate`].
pub(super) struct Rotated {
    key: Signer,
    /// Unix seconds `(not_before, not_after)`.
    validity: Option<(i64, i64)>,
}

/// One platform certificate as `/v3/certificates` lists it.
pub(super) struct Listed<'a> {
    pub(super) serial: &'a str,
    pub(super) pem: &'a str,
    /// Unix seconds `(not_before, not_after)`, when the certificate could be read.
    pub(super) validity: Option<(i64, i64)>,
}

impl Simulator {
    /// WeChat Pay rotates to a new platform certificate ([`ROTATED_SERIAL`], another key):
    /// from now on every answer signed by a certificate names the new serial, and
    /// `/v3/certificates` lists both. A second call changes nothing.
    pub fn rotate_certificate(&self) {
        self.inner.rotated.get_or_init(|| Rotated {
            key: Signer::from_pem(ROTATED_KEY_PEM),
            validity: cert_validity(ROTATED_CERT_PEM),
        });
    }
}

impl Inner {
    /// The key and serial that sign answers in certificate mode: the rotated certificate's
    /// once [`Simulator::rotate_certificate`] was called, else the configured one's.
    pub(super) fn certificate_signer(&self) -> (&Signer, &str) {
        match self.rotated.get() {
            Some(rotated) => (&rotated.key, ROTATED_SERIAL),
            None => (&self.platform_key, &self.config.platform_serial),
        }
    }

    /// What `/v3/certificates` lists: the configured certificate, and the rotated one after
    /// a rotation.
    pub(super) fn listed_certificates(&self) -> Vec<Listed<'_>> {
        let mut listed = vec![Listed {
            serial: &self.config.platform_serial,
            pem: &self.config.platform_cert_pem,
            validity: self.cert_validity,
        }];
        if let Some(rotated) = self.rotated.get() {
            listed.push(Listed {
                serial: ROTATED_SERIAL,
                pem: ROTATED_CERT_PEM,
                validity: rotated.validity,
            });
        }
        listed
    }
}

/// After a rotation `/v3/certificates` lists the old and the new certificate.
#[cfg(test)]
#[tokio::test]
async fn a_rotation_lists_both_certificates() {
    use super::{PLATFORM_SERIAL, SimConfig, Trust, test_client};
    let sim = Simulator::start(SimConfig::from_fixtures(Trust::Certificate)).await;
    let serials = |answer: test_client::Answer| -> Vec<String> {
        assert_eq!(answer.status, 200, "{}", answer.body);
        let data = answer.body["data"].as_array().unwrap().clone();
        data.iter()
            .map(|c| c["serial_no"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = test_client::call(&sim, "GET", "/v3/certificates", None).await;
    assert_eq!(serials(before), [PLATFORM_SERIAL]);
    sim.rotate_certificate();
    sim.rotate_certificate();
    let after = test_client::call(&sim, "GET", "/v3/certificates", None).await;
    assert_eq!(serials(after), [PLATFORM_SERIAL, ROTATED_SERIAL]);
}
