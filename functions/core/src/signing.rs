//! HMAC-SHA256, the one primitive behind webhook signatures, approval
//! links, reviewer tokens and outbound signing: computed and checked here
//! only, so every check is constant-time and honours key rotation.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn keyed(key: &str) -> HmacSha256 {
    HmacSha256::new_from_slice(key.as_bytes()).expect("HMAC takes any key length")
}

/// The 32-byte MAC of `message` under `key`.
pub fn hmac_sha256(key: &str, message: &[u8]) -> Vec<u8> {
    let mut mac = keyed(key);
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Whether `digest` is the MAC of `message` under any of `keys` (a secret's
/// current and, within its window, previous value); each comparison is
/// constant-time.
pub fn verifies_under_any<'k>(
    keys: impl IntoIterator<Item = &'k str>,
    message: &[u8],
    digest: &[u8],
) -> bool {
    keys.into_iter().any(|key| {
        let mut mac = keyed(key);
        mac.update(message);
        mac.verify_slice(digest).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_verifies_under_its_key_only() {
        // RFC 4231, test case 2.
        let digest = hmac_sha256("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(&digest),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let message = b"what do ya want for nothing?";
        assert!(verifies_under_any(["old", "Jefe"], message, &digest));
        assert!(!verifies_under_any(["old"], message, &digest));
        assert!(!verifies_under_any(["Jefe"], b"something else", &digest));
    }
}
