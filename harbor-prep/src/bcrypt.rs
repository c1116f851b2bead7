//! bcrypt password hashes in the form `htpasswd -B` writes them.
//!
//! Built on the Blowfish primitives of the `blowfish` crate, with the salt as an input, so the
//! library needs no OS randomness. Upstream runs `htpasswd -bcB`, which uses cost 5 and the
//! `$2y$` prefix; the registry reads the result as its `passwd` file.

use blowfish::Blowfish;

/// The cost `htpasswd -B` uses when `-C` is not given, and so the one upstream's files carry.
pub const HTPASSWD_COST: u32 = 5;

/// The smallest cost bcrypt defines.
const MIN_COST: u32 = 4;

/// The largest cost bcrypt defines (2^31 rounds).
const MAX_COST: u32 = 31;

/// bcrypt reads at most this many key bytes (the password plus its terminating NUL).
const MAX_KEY_LEN: usize = 72;

/// bcrypt's own base64 alphabet (not RFC 4648's order).
const ALPHABET: &[u8; 64] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// "OrpheanBeholderScryDoubt", the plaintext bcrypt encrypts 64 times.
const MAGIC: [u32; 6] = [
    0x4f72_7068,
    0x6561_6e42,
    0x6568_6f6c,
    0x6465_7253,
    0x6372_7944,
    0x6f75_6274,
];

/// Why an htpasswd line cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BcryptError {
    /// The cost is outside 4..=31.
    #[error("bcrypt cost {0} is outside 4..=31")]
    Cost(u32),

    /// The password holds a NUL byte, which the C string htpasswd hashes cannot carry.
    #[error("the password contains a nul byte")]
    PasswordNul,

    /// The user name is empty or holds a character the passwd file format cannot carry.
    #[error("user name {0:?} is empty or contains ':', a line break or a nul byte")]
    User(String),
}

/// `user:$2y$<cost>$<22 salt chars><31 hash chars>`, as `htpasswd -B` writes it.
///
/// The line has no final newline; upstream's file is this line followed by `\n`. Passwords
/// longer than 72 bytes are cut to 72 bytes, as htpasswd does.
pub fn htpasswd_line(
    user: &str,
    password: &str,
    cost: u32,
    salt: [u8; 16],
) -> Result<String, BcryptError> {
    if user.is_empty() || user.contains([':', '\n', '\r', '\0']) {
        return Err(BcryptError::User(user.to_owned()));
    }

    let hash = hash(password.as_bytes(), cost, salt)?;

    Ok(format!("{user}:{hash}"))
}

/// `$2y$<cost>$<salt><hash>` for `password`.
pub fn hash(password: &[u8], cost: u32, salt: [u8; 16]) -> Result<String, BcryptError> {
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return Err(BcryptError::Cost(cost));
    }
    if password.contains(&0) {
        return Err(BcryptError::PasswordNul);
    }

    let digest = raw(password, cost, &salt);

    let mut out = format!("$2y${cost:02}$");
    encode_into(&salt, &mut out);
    encode_into(&digest[..23], &mut out);
    Ok(out)
}

/// Whether `password` matches a `$2y$`, `$2b$` or `$2a$` hash.
///
/// The three prefixes are computed alike, which is exact for `$2y$` and `$2b$`; crypt_blowfish
/// treats `$2a$` hashes of passwords with non-ASCII bytes slightly differently. A malformed hash
/// is simply a mismatch.
pub fn verify(password: &str, hash: &str) -> bool {
    let Some((cost, salt, expected)) = parse(hash) else {
        return false;
    };
    if password.as_bytes().contains(&0) {
        return false;
    }

    let digest = raw(password.as_bytes(), cost, &salt);

    // compare every byte, so the time taken does not show where the first difference is
    digest[..23]
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Splits `$2y$05$<22><31>` into cost, salt and the 23 hash bytes.
fn parse(hash: &str) -> Option<(u32, [u8; 16], [u8; 23])> {
    let rest = hash
        .strip_prefix("$2y$")
        .or_else(|| hash.strip_prefix("$2b$"))
        .or_else(|| hash.strip_prefix("$2a$"))?;
    let (cost, body) = rest.split_once('$')?;
    if cost.len() != 2 || !cost.bytes().all(|c| c.is_ascii_digit()) || body.len() != 53 {
        return None;
    }
    let cost: u32 = cost.parse().ok()?;
    if !(MIN_COST..=MAX_COST).contains(&cost) {
        return None;
    }

    let salt = decode::<16>(body.get(..22)?)?;
    let digest = decode::<23>(body.get(22..)?)?;

    Some((cost, salt, digest))
}

/// The 24-byte bcrypt output (EksBlowfish setup, then 64 encryptions of the magic text).
fn raw(password: &[u8], cost: u32, salt: &[u8; 16]) -> [u8; 24] {
    let mut key = Vec::with_capacity(password.len() + 1);
    key.extend_from_slice(password);
    key.push(0);
    key.truncate(MAX_KEY_LEN);

    // the expensive key schedule: 2^cost rounds alternating key and salt
    let mut state = Blowfish::bc_init_state();
    state.salted_expand_key(salt, &key);
    for _ in 0..(1u64 << cost) {
        state.bc_expand_key(&key);
        state.bc_expand_key(salt);
    }

    let mut text = MAGIC;
    for pair in text.chunks_exact_mut(2) {
        let mut block = [pair[0], pair[1]];
        for _ in 0..64 {
            block = state.bc_encrypt(block);
        }
        pair.copy_from_slice(&block);
    }

    let mut out = [0u8; 24];
    for (chunk, word) in out.chunks_exact_mut(4).zip(text) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// Appends bcrypt base64 of `bytes`, without padding.
fn encode_into(bytes: &[u8], out: &mut String) {
    for group in bytes.chunks(3) {
        let b0 = group[0];
        let b1 = group.get(1).copied().unwrap_or(0);
        let b2 = group.get(2).copied().unwrap_or(0);
        let sextets = [
            b0 >> 2,
            ((b0 & 0x03) << 4) | (b1 >> 4),
            ((b1 & 0x0f) << 2) | (b2 >> 6),
            b2 & 0x3f,
        ];

        // n input bytes give n + 1 characters
        for &s in &sextets[..=group.len()] {
            out.push(char::from(ALPHABET[usize::from(s)]));
        }
    }
}

/// Decodes bcrypt base64 into exactly `N` bytes; bits beyond them are ignored.
fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut sextets = Vec::with_capacity(text.len());
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)?;
        sextets.push(u8::try_from(v).ok()?);
    }
    if sextets.len() != (N * 4).div_ceil(3) {
        return None;
    }

    let mut out = [0u8; N];
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut i = 0;
    for s in sextets {
        acc = (acc << 6) | u32::from(s);
        bits += 6;
        if bits >= 8 && i < N {
            bits -= 8;
            out[i] = ((acc >> bits) & 0xff) as u8;
            i += 1;
        }
    }

    Some(out)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    const SALT: [u8; 16] = *b"harbor-prep-salt";

    fn salt(i: u8) -> [u8; 16] {
        let mut s = SALT;
        s[0] ^= i;
        s[15] = s[15].wrapping_mul(i);
        s
    }

    #[test]
    fn line_has_htpasswd_shape() {
        let line = htpasswd_line("harbor_registry_user", "Harbor12345", 5, SALT).unwrap();
        let (user, hash) = line.split_once(':').unwrap();

        assert_eq!(user, "harbor_registry_user");
        assert!(hash.starts_with("$2y$05$"), "{hash}");
        assert_eq!(hash.len(), 60);
        assert!(hash[7..].bytes().all(|c| ALPHABET.contains(&c)));
    }

    #[test]
    fn matches_the_reference_line_shape() {
        // upstream's passwd line from a fresh prepare run: same prefix, cost and length
        let reference =
            "harbor_registry_user:$2y$05$AyUU9uI7u5e8err5rg9Itu2Ilk9ZWqNP6FASwQHqtc/99ZjHN9Y9K";
        let ours = htpasswd_line("harbor_registry_user", "x", HTPASSWD_COST, SALT).unwrap();

        assert_eq!(ours.len(), reference.len());
        assert_eq!(ours[..28], reference[..28]);
    }

    #[test]
    fn agrees_with_the_bcrypt_crate() {
        let passwords = [
            "Harbor12345",
            "",
            "a",
            "pässwörd",
            &"x".repeat(71),
            &"y".repeat(72),
        ];
        for (i, pw) in passwords.iter().enumerate() {
            let s = salt(u8::try_from(i).unwrap());
            let ours = hash(pw.as_bytes(), 5, s).unwrap();
            let theirs = ::bcrypt::hash_with_salt(pw, 5, s)
                .unwrap()
                .format_for_version(::bcrypt::Version::TwoY);

            assert_eq!(ours, theirs, "password {pw:?}");
            assert!(::bcrypt::verify(pw, &ours).unwrap());
            assert!(verify(pw, &theirs));
        }
    }

    #[test]
    fn long_passwords_are_cut_at_72_bytes() {
        let a = hash("z".repeat(72).as_bytes(), 4, SALT).unwrap();
        let b = hash("z".repeat(100).as_bytes(), 4, SALT).unwrap();
        let c = hash("z".repeat(71).as_bytes(), 4, SALT).unwrap();

        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn verify_rejects_wrong_password_and_malformed_hashes() {
        let h = hash(b"Harbor12345", 4, SALT).unwrap();

        assert!(verify("Harbor12345", &h));
        assert!(!verify("Harbor12346", &h));
        assert!(verify("Harbor12345", &h.replacen("$2y$", "$2b$", 1)));
        assert!(!verify("Harbor12345", &h.replacen("$2y$", "$2x$", 1)));
        assert!(!verify("Harbor12345", &h[..59]));
        assert!(!verify("Harbor12345", &h.replacen("$04$", "$03$", 1)));
        assert!(!verify("Harbor12345", &format!("{}!", &h[..59])));
        assert!(!verify("Harbor12345", ""));
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(hash(b"x", 3, SALT), Err(BcryptError::Cost(3)));
        assert_eq!(hash(b"x", 32, SALT), Err(BcryptError::Cost(32)));
        assert_eq!(hash(b"a\0b", 4, SALT), Err(BcryptError::PasswordNul));
        assert!(matches!(
            htpasswd_line("a:b", "x", 4, SALT),
            Err(BcryptError::User(_))
        ));
        assert!(matches!(
            htpasswd_line("", "x", 4, SALT),
            Err(BcryptError::User(_))
        ));
        assert!(matches!(
            htpasswd_line("a\nb", "x", 4, SALT),
            Err(BcryptError::User(_))
        ));
    }

    #[test]
    fn base64_round_trips() {
        let bytes: [u8; 23] = core::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let mut text = String::new();
        encode_into(&bytes, &mut text);

        assert_eq!(text.len(), 31);
        assert_eq!(decode::<23>(&text), Some(bytes));
        assert_eq!(decode::<23>(&text[1..]), None);
    }

    #[test]
    fn htpasswd_accepts_our_lines() {
        let dir = htpasswd_dir();

        let cases = [
            ("harbor_registry_user", "Harbor12345", 5),
            ("u", "", 5),
            ("user.name", "p@ss w:rd$", 4),
            ("u2", &"L".repeat(90), 5),
            ("u3", "Harbor12345", 10),
        ];
        for (i, (user, pw, cost)) in cases.iter().enumerate() {
            let line = htpasswd_line(user, pw, *cost, salt(u8::try_from(i).unwrap())).unwrap();
            let file = dir.join(format!("passwd{i}"));
            std::fs::write(&file, format!("{line}\n")).unwrap();

            let ok = Command::new("htpasswd")
                .arg("-vb")
                .arg(&file)
                .arg(user)
                .arg(pw)
                .output()
                .expect("htpasswd from apache2-utils must be installed");
            assert!(
                ok.status.success(),
                "{line}: {}",
                String::from_utf8_lossy(&ok.stderr)
            );

            let wrong = Command::new("htpasswd")
                .arg("-vb")
                .arg(&file)
                .arg(user)
                .arg("nope")
                .output()
                .unwrap();
            assert!(!wrong.status.success(), "{line} accepted a wrong password");
        }

        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn we_accept_htpasswd_lines() {
        let out = Command::new("htpasswd")
            .args(["-nbB", "u", "Harbor12345"])
            .output()
            .unwrap();
        let line = String::from_utf8(out.stdout).unwrap();
        let hash = line.trim().strip_prefix("u:").unwrap();

        assert!(hash.starts_with("$2y$05$"), "{hash}");
        assert!(verify("Harbor12345", hash));
        assert!(!verify("Harbor1234", hash));
    }

    /// A fresh temp directory for passwd files.
    fn htpasswd_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bcrypt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
