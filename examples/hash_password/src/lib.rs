//! The showcase of `rustprof::bench`: hashing a password, slowly and then fast.
//!
//! [`hash_password`] hex-formats the SHA-256 digest one byte at a time with
//! `format!`, the Rust twin of Go's `fmt.Sprintf("%x", ...)`: a formatter run
//! and a heap allocation per byte. [`hash_password_fast`] writes the digits
//! from a lookup table into a string allocated once.
//!
//! ```sh
//! cargo bench -p hash-password -- -benchmem -cpuprofile prof.cpu
//! rustprof -list 'hash_password$' examples/hash_password/prof.cpu
//! ```

use sha2::{Digest, Sha256};

/// The SHA-256 digest of `password` in lowercase hex, built with `format!`
/// per byte.
pub fn hash_password(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    let mut hex = String::new();
    for byte in digest.iter() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// Hex digits by value.
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The same string as [`hash_password`], from a lookup table into one
/// allocation.
pub fn hash_password_fast(password: &str) -> String {
    let digest = Sha256::digest(password.as_bytes());
    let mut hex = String::with_capacity(2 * digest.len());
    for &byte in digest.iter() {
        hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(HEX_DIGITS[usize::from(byte & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        // FIPS 180-2 test vectors.
        assert_eq!(hash_password(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hash_password("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        for p in ["", "abc", "correct horse battery staple", "пароль"] {
            assert_eq!(hash_password_fast(p), hash_password(p), "{p:?}");
        }
    }
}
