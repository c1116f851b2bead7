//! Keys and certificates: Harbor's token signing pair, the internal-TLS bundle that upstream's
//! `prepare gencert` writes, and checks on a user's own https certificate.
//!
//! Everything is derived from a [`Seed`] and a caller-supplied `now` (unix seconds), so equal
//! inputs give byte-identical PEM files. RSA keys depend on the seed alone; certificates also
//! depend on `now`, and their serial numbers are derived from both.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use rsa::PrivateKey;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs1v15::{Signature, SigningKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding, PrivateKeyInfoRef};
use rsa::signature::Signer;
use rsa::traits::PublicKeyParts;
use sha2::Sha256;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::der::asn1::{BitStringRef, GeneralizedTime, Ia5String, ObjectIdentifier};
use x509_cert::der::asn1::{OctetString, OctetStringRef, SetOfVec};
use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::der::{Decode, Encode, EncodePem, Reader, SliceReader, TagNumber};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version as CsrVersion};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{
    DynSignatureAlgorithmIdentifier, SignatureBitStringEncoding, SubjectPublicKeyInfoOwned,
    SubjectPublicKeyInfoRef,
};
use x509_cert::time::{Time, Validity};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName as ParsedName, ParsedExtension};
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;

use crate::seed::Seed;

/// RSA size of every key upstream makes (`genrsa 4096`, `-newkey rsa:4096`).
pub const RSA_BITS: usize = 4096;

/// Validity of the token certificate (`openssl req -x509 -days 3650`).
pub const TOKEN_CERT_DAYS: u32 = 3650;

/// `prepare gencert`'s validity when `-d` is not given.
pub const GENCERT_DEFAULT_DAYS: u32 = 365;

/// The latest `now`, in Unix seconds (9989-12-31T23:59:59Z), that leaves ten years of
/// certificate validity before X.509's last time, 9999-12-31; every entry point that takes a
/// time checks it against this.
pub const NOW_MAX: i64 = 253_086_681_599;

/// Subject of the internal CA; components add their CN to it.
const INTERNAL_CA_SUBJECT: &str = "O=VMware,L=Beijing,ST=Beijing,C=CN";

/// File stem and common name (which is also the one DNS SAN) of each internal-TLS component, in
/// the order upstream's script signs them; serial numbers count up in this order.
const COMPONENTS: [(&str, &str); 8] = crate::host::INTERNAL_TLS_NAMES;

const CA_KEY_FILE: &str = "harbor_internal_ca.key";
const CA_CERT_FILE: &str = crate::host::INTERNAL_TLS_CA;
const CA_SERIAL_FILE: &str = "harbor_internal_ca.srl";
const EXTFILE: &str = "extfile.cnf";

/// id-ecPublicKey (RFC 5480).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// rsaEncryption (RFC 8017).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Why a key or certificate could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// A certificate could not be assembled or signed.
    #[error("cannot build the certificate")]
    Build(#[source] x509_cert::builder::Error),

    /// An input certificate is not a readable X.509 PEM certificate.
    #[error("cannot read the certificate: {0}")]
    CertParse(String),

    /// The validity length is zero days.
    #[error("a certificate must be valid for at least one day, not {0}")]
    Days(u32),

    /// A DER structure could not be encoded.
    #[error("cannot encode a certificate structure")]
    Der(#[source] x509_cert::der::Error),

    /// A private key could not be written as PEM.
    #[error("cannot encode the private key as pem")]
    KeyEncode,

    /// RSA key generation failed.
    #[error("cannot generate an rsa key")]
    KeyGen(#[source] rsa::Error),

    /// An input private key is not an unencrypted RSA key in PKCS#1 or PKCS#8 PEM.
    #[error("cannot read the private key: {0}")]
    KeyParse(String),

    /// Signing a certificate request failed.
    #[error("cannot sign the certificate request")]
    Sign(#[source] rsa::signature::Error),

    /// A validity bound is outside what X.509 time can hold (1970 to 9999).
    #[error("time {0} (unix seconds) cannot be written in a certificate")]
    Time(i64),
}

impl From<x509_cert::der::Error> for PkiError {
    fn from(e: x509_cert::der::Error) -> Self {
        PkiError::Der(e)
    }
}

impl From<x509_cert::builder::Error> for PkiError {
    fn from(e: x509_cert::builder::Error) -> Self {
        PkiError::Build(e)
    }
}

/// A private key and its certificate, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The private key (`BEGIN RSA PRIVATE KEY` for the token key).
    pub key_pem: String,
    /// The certificate (`BEGIN CERTIFICATE`).
    pub cert_pem: String,
}

impl core::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyPair")
            .field("key_pem", &"..")
            .field("cert_pem", &self.cert_pem)
            .finish()
    }
}

/// One file of a generated directory.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// File name inside the directory.
    pub name: String,
    /// Exact bytes to write.
    pub contents: Vec<u8>,
    /// Permission bits upstream's files have (0o600 for keys, 0o644 otherwise).
    pub mode: u32,
}

impl core::fmt::Debug for GeneratedFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GeneratedFile")
            .field("name", &self.name)
            .field("contents", &format_args!("{} bytes", self.contents.len()))
            .field("mode", &format_args!("{:o}", self.mode))
            .finish()
    }
}

/// Harbor's token signing pair: a PKCS#1 RSA-4096 key and a self-signed certificate.
///
/// The certificate has the shape of upstream's `data/secret/registry/root.crt`: empty subject
/// and issuer, a 20-byte serial, validity of exactly 3650 days from `now`, and the extensions
/// subjectKeyIdentifier, authorityKeyIdentifier (key id) and a critical basicConstraints CA:TRUE.
/// The key depends on the seed alone; the certificate also on `now`.
pub fn token_pair(seed: &Seed, now: i64) -> Result<KeyPair, PkiError> {
    let key = rsa_key(seed, "pki/token/key")?;
    let key_pem = key
        .to_pkcs1_pem(LineEnding::LF)
        .map_err(|_| PkiError::KeyEncode)?
        .to_string();

    let cert_pem = token_cert(seed, key, now)?;

    Ok(KeyPair { key_pem, cert_pem })
}

/// The token certificate for a key that already exists (the certificate was lost).
///
/// `key_pem` may be PKCS#1 (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`), unencrypted.
pub fn token_cert_for_key(seed: &Seed, key_pem: &str, now: i64) -> Result<String, PkiError> {
    let key = PrivateKey::from_pkcs1_pem(key_pem)
        .or_else(|_| PrivateKey::from_pkcs8_pem(key_pem))
        .map_err(|e| PkiError::KeyParse(e.to_string()))?;

    token_cert(seed, key, now)
}

fn token_cert(seed: &Seed, key: PrivateKey, now: i64) -> Result<String, PkiError> {
    let spki = SubjectPublicKeyInfoOwned::from_key(key.as_public_key()).map_err(der_of_spki)?;
    let key_id = key_id(&spki)?;
    let serial = serial(seed, &format!("pki/token/serial/{now}/{}", hex(&key_id)))?;

    let profile = Profile {
        subject: Name::default(),
        issuer: Name::default(),
        extensions: ca_extensions(&key_id)?,
    };

    let signer = SigningKey::<Sha256>::new(key);
    let cert = sign(
        profile,
        serial,
        validity(now, TOKEN_CERT_DAYS)?,
        spki,
        &signer,
    )?;
    Ok(cert.to_pem(LineEnding::LF)?)
}

/// What upstream's `prepare gencert -p DIR -d DAYS` writes into DIR.
///
/// That is the internal CA (`harbor_internal_ca.key/.crt/.srl`), a key, CSR and certificate
/// for each of proxy, portal, core, job_service, registry, registryctl, trivy_adapter and
/// harbor_db, and the `extfile.cnf` the script leaves behind (the last component's). Keys are
/// PKCS#8 RSA-4096; subjects, SANs, extensions, serial numbering and modes follow upstream.
/// Files are sorted by name. Nine 4096-bit keys are generated, which takes seconds.
pub fn internal_tls_bundle(
    seed: &Seed,
    now: i64,
    days: u32,
) -> Result<Vec<GeneratedFile>, PkiError> {
    if days == 0 {
        return Err(PkiError::Days(days));
    }
    let validity = validity(now, days)?;
    let mut files = Vec::new();

    // the CA: self-signed, like `openssl req -x509` with the v3_ca defaults
    let ca_key = rsa_key(seed, "pki/internal-tls/ca/key")?;
    let ca_spki =
        SubjectPublicKeyInfoOwned::from_key(ca_key.as_public_key()).map_err(der_of_spki)?;
    let ca_key_id = key_id(&ca_spki)?;
    let ca_subject = name(INTERNAL_CA_SUBJECT)?;
    let ca_profile = Profile {
        subject: ca_subject.clone(),
        issuer: ca_subject.clone(),
        extensions: ca_extensions(&ca_key_id)?,
    };
    files.push(key_file(CA_KEY_FILE, &ca_key)?);
    let ca_signer = SigningKey::<Sha256>::new(ca_key);
    let ca_serial = serial(seed, &format!("pki/internal-tls/ca/serial/{now}/{days}"))?;
    let ca_cert = sign(ca_profile, ca_serial, validity, ca_spki, &ca_signer)?;
    files.push(text_file(
        CA_CERT_FILE,
        ca_cert.to_pem(LineEnding::LF)?,
        0o644,
    ));

    // components: one serial counted up from a random start, as `-CAcreateserial` does
    let mut serial_bytes = serial_start(seed, &format!("pki/internal-tls/serial/{now}/{days}"));
    for (i, (stem, cn)) in COMPONENTS.iter().enumerate() {
        if i > 0 {
            increment(&mut serial_bytes);
        }

        let key = rsa_key(seed, &format!("pki/internal-tls/{stem}/key"))?;
        let spki = SubjectPublicKeyInfoOwned::from_key(key.as_public_key()).map_err(der_of_spki)?;
        let subject = name(&format!("CN={cn},{INTERNAL_CA_SUBJECT}"))?;
        let signer = SigningKey::<Sha256>::new(key);
        let csr = csr(subject.clone(), spki.clone(), &signer)?;

        let profile = Profile {
            subject,
            issuer: ca_subject.clone(),
            extensions: vec![
                extension(&dns_san(cn)?, false)?,
                ski_extension(&key_id(&spki)?)?,
                extension(&authority_key_id(&ca_key_id)?, false)?,
            ],
        };
        let serial = SerialNumber::new(&serial_bytes)?;
        let cert = sign(profile, serial, validity, spki, &ca_signer)?;

        files.push(key_file(&format!("{stem}.key"), signer.as_ref())?);
        files.push(text_file(
            &format!("{stem}.csr"),
            csr.to_pem(LineEnding::LF)?,
            0o644,
        ));
        files.push(text_file(
            &format!("{stem}.crt"),
            cert.to_pem(LineEnding::LF)?,
            0o644,
        ));
    }

    // what the script's last `echo ... > extfile.cnf` and openssl's serial file leave behind
    let last_cn = COMPONENTS[COMPONENTS.len() - 1].1;
    files.push(text_file(
        EXTFILE,
        format!("subjectAltName = DNS.1:{last_cn}\n"),
        0o644,
    ));
    files.push(text_file(
        CA_SERIAL_FILE,
        format!("{}\n", hex(&serial_bytes)),
        0o644,
    ));

    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// The extensions and names of one certificate; implements x509-cert's profile hook.
struct Profile {
    subject: Name,
    issuer: Name,
    extensions: Vec<Extension>,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        Ok(self.extensions.clone())
    }
}

fn rsa_key(seed: &Seed, label: &str) -> Result<PrivateKey, PkiError> {
    PrivateKey::new(&mut seed.rng(label), RSA_BITS).map_err(PkiError::KeyGen)
}

fn sign(
    profile: Profile,
    serial: SerialNumber,
    validity: Validity,
    spki: SubjectPublicKeyInfoOwned,
    signer: &SigningKey<Sha256>,
) -> Result<x509_cert::Certificate, PkiError> {
    let builder = CertificateBuilder::new(profile, serial, validity, spki)?;
    Ok(builder.build::<_, Signature>(signer)?)
}

/// A PKCS#10 request with no attributes, as `openssl req -new -subj` writes it.
fn csr(
    subject: Name,
    public_key: SubjectPublicKeyInfoOwned,
    signer: &SigningKey<Sha256>,
) -> Result<CertReq, PkiError> {
    let info = CertReqInfo {
        version: CsrVersion::V1,
        subject,
        public_key,
        attributes: SetOfVec::new(),
    };

    let signature = signer
        .try_sign(&info.to_der()?)
        .map_err(PkiError::Sign)?
        .to_bitstring()?;
    let algorithm = signer
        .signature_algorithm_identifier()
        .map_err(der_of_spki)?;

    Ok(CertReq {
        info,
        algorithm,
        signature,
    })
}

fn key_file(name: &str, key: &PrivateKey) -> Result<GeneratedFile, PkiError> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|_| PkiError::KeyEncode)?;
    Ok(text_file(name, pem.to_string(), 0o600))
}

fn text_file(name: &str, contents: String, mode: u32) -> GeneratedFile {
    GeneratedFile {
        name: name.to_owned(),
        contents: contents.into_bytes(),
        mode,
    }
}

fn name(rfc4514: &str) -> Result<Name, PkiError> {
    Ok(Name::from_str(rfc4514)?)
}

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Result<Extension, PkiError> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// subjectKeyIdentifier, authorityKeyIdentifier and a critical CA:TRUE, in that order: what
/// `openssl req -x509` writes for a self-signed certificate with its default `v3_ca` section.
fn ca_extensions(key_id: &[u8]) -> Result<Vec<Extension>, PkiError> {
    let constraints = BasicConstraints {
        ca: true,
        path_len_constraint: None,
    };
    Ok(vec![
        ski_extension(key_id)?,
        extension(&authority_key_id(key_id)?, false)?,
        extension(&constraints, true)?,
    ])
}

fn ski_extension(key_id: &[u8]) -> Result<Extension, PkiError> {
    extension(&SubjectKeyIdentifier(OctetString::new(key_id)?), false)
}

fn authority_key_id(key_id: &[u8]) -> Result<AuthorityKeyIdentifier, PkiError> {
    Ok(AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(key_id)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    })
}

fn dns_san(dns: &str) -> Result<SubjectAltName, PkiError> {
    Ok(SubjectAltName(vec![GeneralName::DnsName(Ia5String::new(
        dns,
    )?)]))
}

/// SHA-1 of the subjectPublicKey bits (RFC 5280 method 1), which is what openssl writes.
fn key_id(spki: &SubjectPublicKeyInfoOwned) -> Result<Vec<u8>, PkiError> {
    let ski = SubjectKeyIdentifier::try_from(spki.owned_to_ref())?;
    Ok(ski.0.as_bytes().to_vec())
}

fn der_of_spki(e: x509_cert::spki::Error) -> PkiError {
    match e {
        x509_cert::spki::Error::Asn1(e) => PkiError::Der(e),
        _ => PkiError::KeyEncode,
    }
}

/// A 20-byte positive serial from `label`.
fn serial(seed: &Seed, label: &str) -> Result<SerialNumber, PkiError> {
    Ok(SerialNumber::new(&serial_start(seed, label))?)
}

/// 20 random bytes whose top byte is in 0x10..=0x4f: the integer is positive, always 20 bytes
/// long (so its hex is 40 digits, like openssl's), and can be counted up without overflow.
fn serial_start(seed: &Seed, label: &str) -> [u8; 20] {
    let mut b: [u8; 20] = seed.bytes(label);
    b[0] = (b[0] & 0x3f) | 0x10;
    b
}

fn increment(bytes: &mut [u8; 20]) {
    for b in bytes.iter_mut().rev() {
        let (v, carry) = b.overflowing_add(1);
        *b = v;
        if !carry {
            break;
        }
    }
}

fn validity(now: i64, days: u32) -> Result<Validity, PkiError> {
    let end = now
        .checked_add(i64::from(days) * 86_400)
        .ok_or(PkiError::Time(now))?;
    Ok(Validity::new(time(now)?, time(end)?))
}

/// X.509 time for unix seconds; the builder turns years before 2050 into UTCTime.
fn time(secs: i64) -> Result<Time, PkiError> {
    let unsigned = u64::try_from(secs).map_err(|_| PkiError::Time(secs))?;
    let t = GeneralizedTime::from_unix_duration(Duration::from_secs(unsigned))
        .map_err(|_| PkiError::Time(secs))?;
    Ok(Time::GeneralTime(t))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

// ---------------------------------------------------------------------------------------------
// reading certificates

/// Something wrong with a user-supplied https certificate and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertProblem {
    /// The certificate is not valid at `now` any more.
    #[error("the certificate expired at {not_after} (unix seconds)")]
    Expired {
        /// End of validity, unix seconds.
        not_after: i64,
    },

    /// The certificate covers neither the hostname nor a wildcard for it.
    #[error("the certificate is for {names:?}, not for {hostname}")]
    HostnameNotCovered {
        /// The hostname that was checked.
        hostname: String,
        /// DNS and IP subject alternative names, or the common names when there are none.
        names: Vec<String>,
    },

    /// The private key is not the key of the certificate.
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,

    /// The private key cannot be read.
    #[error("cannot read the private key: {0}")]
    KeyUnreadable(String),

    /// The certificate is not valid yet at `now`.
    #[error("the certificate is not valid before {not_before} (unix seconds)")]
    NotYetValid {
        /// Start of validity, unix seconds.
        not_before: i64,
    },

    /// The certificate cannot be read.
    #[error("cannot read the certificate: {0}")]
    Unreadable(String),
}

/// Checks a user-supplied https certificate and private key, both PEM.
///
/// The first certificate in `cert_pem` is the server's (a chain may follow). The key may be
/// PKCS#1, PKCS#8 or SEC1 (`EC PRIVATE KEY`), RSA or EC; an EC key is matched through the
/// public key it carries. The hostname must be covered by a DNS SAN (a wildcard stands for
/// exactly one left-most label) or, for an IP address, by an IP SAN; the common name counts
/// only when the certificate has no SAN extension. Every problem found is returned; an empty
/// list means the pair is usable at `now`.
pub fn check_server_cert(
    cert_pem: &[u8],
    key_pem: &[u8],
    hostname: &str,
    now: i64,
) -> Vec<CertProblem> {
    let mut problems = Vec::new();
    let key = match private_key(key_pem) {
        Ok(k) => Some(k),
        Err(e) => {
            problems.push(CertProblem::KeyUnreadable(e));
            None
        }
    };

    let der = match first_cert_der(cert_pem) {
        Ok(der) => der,
        Err(e) => {
            problems.push(CertProblem::Unreadable(e));
            return problems;
        }
    };
    let cert = match X509Certificate::from_der(&der) {
        Ok((_, cert)) => cert,
        Err(e) => {
            problems.push(CertProblem::Unreadable(e.to_string()));
            return problems;
        }
    };

    // key against the certificate's public key
    match key.map(|k| k.matches(&cert)) {
        Some(Ok(true)) | None => {}
        Some(Ok(false)) => problems.push(CertProblem::KeyMismatch),
        Some(Err(e)) => problems.push(CertProblem::KeyUnreadable(e)),
    }

    // hostname
    match covered_names(&cert) {
        Ok((names, covered)) => {
            if !covered(hostname) {
                problems.push(CertProblem::HostnameNotCovered {
                    hostname: hostname.to_owned(),
                    names,
                });
            }
        }
        Err(e) => problems.push(CertProblem::Unreadable(e)),
    }

    // validity at `now`
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    if now < not_before {
        problems.push(CertProblem::NotYetValid { not_before });
    }
    if now > not_after {
        problems.push(CertProblem::Expired { not_after });
    }

    problems
}

/// The DER of the first `CERTIFICATE` block.
fn first_cert_der(pem: &[u8]) -> Result<Vec<u8>, String> {
    for block in Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| format!("invalid pem: {e}"))?;
        if block.label == "CERTIFICATE" {
            return Ok(block.contents);
        }
    }
    Err("no pem block labelled CERTIFICATE".to_owned())
}

/// The names a certificate is for, and a matcher over them.
fn covered_names(
    cert: &X509Certificate<'_>,
) -> Result<(Vec<String>, impl Fn(&str) -> bool), String> {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    let san = cert
        .subject_alternative_name()
        .map_err(|e| format!("invalid subjectAltName: {e}"))?;

    match san {
        Some(san) => {
            for name in &san.value.general_names {
                match name {
                    ParsedName::DNSName(d) => dns.push((*d).to_owned()),
                    ParsedName::IPAddress(raw) => {
                        if let Some(ip) = ip_from_bytes(raw) {
                            ips.push(ip);
                        }
                    }
                    _ => {}
                }
            }
        }
        None => {
            for cn in cert.subject().iter_common_name() {
                if let Ok(cn) = cn.as_str() {
                    dns.push(cn.to_owned());
                }
            }
        }
    }

    let mut names: Vec<String> = dns.clone();
    names.extend(ips.iter().map(IpAddr::to_string));
    let matcher = move |host: &str| host_covered(host, &dns, &ips);
    Ok((names, matcher))
}

fn ip_from_bytes(raw: &[u8]) -> Option<IpAddr> {
    match raw.len() {
        4 => <[u8; 4]>::try_from(raw).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(raw).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Whether `host` (a DNS name or an IP address) is one of the names.
fn host_covered(host: &str, dns: &[String], ips: &[IpAddr]) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = IpAddr::from_str(bare) {
        // a CN-only certificate can still name an IP address in its CN
        return ips.contains(&ip) || dns.iter().any(|d| IpAddr::from_str(d) == Ok(ip));
    }

    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    dns.iter()
        .any(|pattern| dns_matches(&pattern.trim_end_matches('.').to_ascii_lowercase(), &host))
}

/// Exact match, or `*.rest` matching exactly one extra left-most label.
fn dns_matches(pattern: &str, host: &str) -> bool {
    if let Some(rest) = pattern.strip_prefix("*.") {
        if rest.is_empty() || rest.contains('*') {
            return false;
        }
        return match host.split_once('.') {
            Some((first, host_rest)) => !first.is_empty() && host_rest == rest,
            None => false,
        };
    }
    !pattern.contains('*') && pattern == host
}

/// A private key reduced to what its certificate must carry.
enum KeyId {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// EC public point as the key file carries it.
    Ec { point: Option<Vec<u8>> },
}

impl KeyId {
    fn matches(&self, cert: &X509Certificate<'_>) -> Result<bool, String> {
        let spki = cert.public_key();
        match self {
            KeyId::Rsa { n, e } => match spki.parsed() {
                Ok(ParsedKey::RSA(rsa)) => Ok(strip_zeros(rsa.modulus) == n.as_slice()
                    && strip_zeros(rsa.exponent) == e.as_slice()),
                _ => Ok(false),
            },
            KeyId::Ec { point } => {
                let is_ec = spki.algorithm.algorithm.to_id_string() == EC_PUBLIC_KEY.to_string();
                match point {
                    _ if !is_ec => Ok(false),
                    Some(p) => Ok(spki.subject_public_key.data.as_ref() == p.as_slice()),
                    None => Err(
                        "the ec key does not carry its public key, so it cannot be matched \
                         against the certificate"
                            .to_owned(),
                    ),
                }
            }
        }
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&x| x != 0).unwrap_or(b.len());
    &b[start..]
}

/// Whether `pem` holds a readable RSA private key, as core's token signing key must be; the
/// reason when not (never the key's bytes).
pub fn check_rsa_key(pem: &[u8]) -> Result<(), String> {
    match private_key(pem)? {
        KeyId::Rsa { .. } => Ok(()),
        KeyId::Ec { .. } => Err("it is an EC key, not an RSA one".to_owned()),
    }
}

/// Reads the first private-key PEM block.
fn private_key(pem: &[u8]) -> Result<KeyId, String> {
    let mut found = None;
    for block in Pem::iter_from_buffer(pem) {
        let block = block.map_err(|e| format!("invalid pem: {e}"))?;
        if block.label.ends_with("PRIVATE KEY") {
            found = Some(block);
            break;
        }
    }
    let block = found.ok_or_else(|| "no pem block labelled PRIVATE KEY".to_owned())?;

    match block.label.as_str() {
        "RSA PRIVATE KEY" => {
            let key = PrivateKey::from_pkcs1_der(&block.contents).map_err(|e| e.to_string())?;
            Ok(rsa_id(&key))
        }
        "EC PRIVATE KEY" => Ok(KeyId::Ec {
            point: sec1_public_point(&block.contents)?,
        }),
        "PRIVATE KEY" => {
            let info = PrivateKeyInfoRef::from_der(&block.contents).map_err(|e| e.to_string())?;
            if info.algorithm.oid == RSA_ENCRYPTION {
                let key = PrivateKey::from_pkcs8_der(&block.contents).map_err(|e| e.to_string())?;
                Ok(rsa_id(&key))
            } else if info.algorithm.oid == EC_PUBLIC_KEY {
                let point = match info.public_key {
                    Some(pk) => Some(pk.raw_bytes().to_vec()),
                    None => sec1_public_point(info.private_key.as_bytes())?,
                };
                Ok(KeyId::Ec { point })
            } else {
                Err(format!("unsupported key algorithm {}", info.algorithm.oid))
            }
        }
        "ENCRYPTED PRIVATE KEY" => Err("the key is encrypted with a passphrase".to_owned()),
        other => Err(format!("unsupported pem block {other}")),
    }
}

fn rsa_id(key: &PrivateKey) -> KeyId {
    KeyId::Rsa {
        n: strip_zeros(&key.n_bytes()).to_vec(),
        e: strip_zeros(&key.e_bytes()).to_vec(),
    }
}

/// The optional public key of a SEC1 `ECPrivateKey` (RFC 5915).
fn sec1_public_point(der: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let parse = |der: &[u8]| -> x509_cert::der::Result<Option<Vec<u8>>> {
        let mut reader = SliceReader::new(der)?;
        reader.sequence(|r| {
            let _version: u8 = r.decode()?;
            let _secret: &OctetStringRef = r.decode()?;
            let _curve =
                x509_cert::der::asn1::ContextSpecific::<ObjectIdentifier>::decode_explicit(
                    r,
                    TagNumber(0),
                )?;
            let public =
                x509_cert::der::asn1::ContextSpecific::<BitStringRef<'_>>::decode_explicit(
                    r,
                    TagNumber(1),
                )?;
            Ok(public.map(|p| p.value.raw_bytes().to_vec()))
        })
    };
    parse(der).map_err(|e| format!("invalid ec private key: {e}"))
}

// ---------------------------------------------------------------------------------------------
// describing certificates

/// The parts of a certificate that reference comparisons look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// X.509 version as written in the certificate (2 means v3).
    pub version: u32,
    /// Serial number, big-endian bytes as encoded.
    pub serial: Vec<u8>,
    /// Subject in RFC 4514 style, e.g. `C=CN, ST=Beijing, L=Beijing, O=VMware, CN=core`.
    pub subject: String,
    /// DER of the subject, so string types can be compared too.
    pub subject_der: Vec<u8>,
    /// Issuer in the same style as `subject`.
    pub issuer: String,
    /// DER of the issuer.
    pub issuer_der: Vec<u8>,
    /// Signature algorithm OID, dotted.
    pub signature_algorithm: String,
    /// Public key algorithm OID, dotted.
    pub key_algorithm: String,
    /// Public key size in bits (RSA modulus length).
    pub key_bits: usize,
    /// Start of validity, unix seconds.
    pub not_before: i64,
    /// End of validity, unix seconds.
    pub not_after: i64,
    /// Extensions in certificate order.
    pub extensions: Vec<ExtensionInfo>,
    /// Subject alternative names as openssl prints them: `DNS:core`, `IP:10.0.0.5`.
    pub sans: Vec<String>,
    /// Whether basicConstraints says CA:TRUE.
    pub is_ca: bool,
}

/// One extension of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionInfo {
    /// Extension OID, dotted.
    pub oid: String,
    /// The critical flag.
    pub critical: bool,
}

/// Describes the first certificate of a PEM file.
pub fn cert_info(pem: &[u8]) -> Result<CertInfo, PkiError> {
    let der = first_cert_der(pem).map_err(PkiError::CertParse)?;
    let (_, cert) =
        X509Certificate::from_der(&der).map_err(|e| PkiError::CertParse(e.to_string()))?;

    let mut sans = Vec::new();
    let mut extensions = Vec::new();
    for ext in cert.extensions() {
        extensions.push(ExtensionInfo {
            oid: ext.oid.to_id_string(),
            critical: ext.critical,
        });
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for name in &san.general_names {
                sans.push(match name {
                    ParsedName::DNSName(d) => format!("DNS:{d}"),
                    ParsedName::IPAddress(raw) => match ip_from_bytes(raw) {
                        Some(ip) => format!("IP:{ip}"),
                        None => "IP:<invalid>".to_owned(),
                    },
                    other => format!("{other:?}"),
                });
            }
        }
    }

    let key_bits = match cert.public_key().parsed() {
        Ok(ParsedKey::RSA(rsa)) => {
            strip_zeros(rsa.modulus).len() * 8
                - strip_zeros(rsa.modulus)
                    .first()
                    .map_or(0, |b| b.leading_zeros() as usize)
        }
        Ok(other) => other.key_size(),
        Err(_) => 0,
    };

    Ok(CertInfo {
        version: cert.version().0,
        serial: cert.raw_serial().to_vec(),
        subject: cert.subject().to_string(),
        subject_der: cert.subject().as_raw().to_vec(),
        issuer: cert.issuer().to_string(),
        issuer_der: cert.issuer().as_raw().to_vec(),
        signature_algorithm: cert.signature_algorithm.algorithm.to_id_string(),
        key_algorithm: cert.public_key().algorithm.algorithm.to_id_string(),
        key_bits,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        extensions,
        sans,
        is_ca: cert.is_ca(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_stand_for_one_label() {
        assert!(dns_matches("*.example.test", "a.example.test"));
        assert!(!dns_matches("*.example.test", "example.test"));
        assert!(!dns_matches("*.example.test", "a.b.example.test"));
        assert!(!dns_matches("*.example.test", ".example.test"));
        assert!(!dns_matches("a*.example.test", "ab.example.test"));
        assert!(!dns_matches("*.*.test", "a.b.test"));
        assert!(!dns_matches("*.", "a."));
        assert!(dns_matches("core", "core"));
    }

    #[test]
    fn hostnames_compare_without_case_and_final_dot() {
        let dns = ["Harbor.Example.Test.".to_owned()];

        assert!(host_covered("harbor.example.test", &dns, &[]));
        assert!(host_covered("HARBOR.example.test.", &dns, &[]));
        assert!(!host_covered(".", &dns, &[]));
        assert!(!host_covered("10.0.0.1", &dns, &[]));
        assert!(host_covered(
            "10.0.0.1",
            &[],
            &["10.0.0.1".parse().unwrap()]
        ));
        assert!(host_covered("10.0.0.1", &["10.0.0.1".to_owned()], &[]));
    }

    #[test]
    fn serial_increment_carries() {
        let mut s = [0u8; 20];
        s[0] = 0x10;
        s[18] = 0x01;
        s[19] = 0xff;
        increment(&mut s);

        assert_eq!(s[18..], [0x02, 0x00]);
        assert_eq!(s[0], 0x10);
    }

    #[test]
    fn serials_are_twenty_positive_bytes() {
        let seed = Seed::from_bytes([3; 32]);
        for i in 0..64 {
            let b = serial_start(&seed, &format!("s{i}"));

            assert!((0x10..=0x4f).contains(&b[0]));
            let serial: SerialNumber = SerialNumber::new(&b).unwrap();
            assert_eq!(serial.as_bytes().len(), 20);
        }
    }

    #[test]
    fn times_outside_x509_are_errors() {
        assert!(matches!(time(-1), Err(PkiError::Time(-1))));
        assert!(time(0).is_ok());
        assert!(time(253_402_300_799).is_ok());
        assert!(matches!(time(253_402_300_800), Err(PkiError::Time(_))));
        assert!(matches!(validity(i64::MAX - 10, 1), Err(PkiError::Time(_))));
    }
}
