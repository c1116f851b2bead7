//! The pki module against openssl and against upstream's own output.
//!
//! Needs `openssl` on PATH and the reference tree in `../shared` beside the project root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use harbor_prep::pki::{
    CertInfo, CertProblem, GeneratedFile, KeyPair, PkiError, cert_info, check_server_cert,
    internal_tls_bundle, token_cert_for_key, token_pair,
};
use harbor_prep::seed::Seed;

/// Upstream reference output; the one place that knows where it lives.
const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/upstream-v2.15.2"
);

/// 2026-12-04T14:07:31Z, the notBefore of the reference token certificate.
const NOW: i64 = 1_796_393_251;

const DAY: i64 = 86_400;

fn seed() -> Seed {
    Seed::from_bytes(*b"harbor-prep pki test seed 000001")
}

fn token() -> &'static KeyPair {
    static PAIR: OnceLock<KeyPair> = OnceLock::new();
    PAIR.get_or_init(|| token_pair(&seed(), NOW).unwrap())
}

fn bundle() -> &'static BTreeMap<String, GeneratedFile> {
    static FILES: OnceLock<BTreeMap<String, GeneratedFile>> = OnceLock::new();
    FILES.get_or_init(|| {
        internal_tls_bundle(&seed(), NOW, 365)
            .unwrap()
            .into_iter()
            .map(|f| (f.name.clone(), f))
            .collect()
    })
}

/// The bundle written to a temp directory once, for openssl to read.
fn bundle_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = temp_dir("bundle");
        for f in bundle().values() {
            std::fs::write(dir.join(&f.name), &f.contents).unwrap();
        }
        dir
    })
}

/// A fresh directory under cargo's per-target scratch space.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("pki-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn reference_tls() -> PathBuf {
    Path::new(REFERENCE).join("f0-gencert/hostfs/etc/harbor/tls/internal")
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn openssl(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed for these tests");
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn text(f: &GeneratedFile) -> &str {
    std::str::from_utf8(&f.contents).unwrap()
}

fn info_of_file(path: &Path) -> CertInfo {
    cert_info(&std::fs::read(path).unwrap()).unwrap()
}

/// Everything in a CertInfo that does not depend on the key, serial or time.
#[derive(Debug, PartialEq)]
struct Shape<'a> {
    version: u32,
    subject_der: &'a [u8],
    issuer_der: &'a [u8],
    signature_algorithm: &'a str,
    key_algorithm: &'a str,
    key_bits: usize,
    extensions: Vec<(&'a str, bool)>,
    sans: &'a [String],
    is_ca: bool,
}

fn shape(i: &CertInfo) -> Shape<'_> {
    Shape {
        version: i.version,
        subject_der: &i.subject_der,
        issuer_der: &i.issuer_der,
        signature_algorithm: &i.signature_algorithm,
        key_algorithm: &i.key_algorithm,
        key_bits: i.key_bits,
        extensions: i
            .extensions
            .iter()
            .map(|e| (e.oid.as_str(), e.critical))
            .collect(),
        sans: &i.sans,
        is_ca: i.is_ca,
    }
}

// ---------------------------------------------------------------------------------------------
// token pair

#[test]
fn token_pair_is_deterministic() {
    let again = token_pair(&seed(), NOW).unwrap();

    assert_eq!(&again, token());
}

#[test]
fn token_key_is_pkcs1_rsa_4096_and_openssl_accepts_it() {
    let dir = temp_dir("token-key");
    std::fs::write(dir.join("k.pem"), &token().key_pem).unwrap();

    assert!(
        token()
            .key_pem
            .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
    );
    assert!(token().key_pem.ends_with("-----END RSA PRIVATE KEY-----\n"));
    let check = openssl(&dir, &["rsa", "-check", "-noout", "-in", "k.pem"]);
    assert!(
        check.ok && check.stdout.contains("RSA key ok"),
        "{}{}",
        check.stdout,
        check.stderr
    );
    let text = openssl(&dir, &["rsa", "-noout", "-text", "-in", "k.pem"]);
    assert!(
        text.stdout.contains("Private-Key: (4096 bit, 2 primes)"),
        "{}",
        text.stdout
    );
}

#[test]
fn token_cert_has_the_reference_shape() {
    let ours = cert_info(token().cert_pem.as_bytes()).unwrap();
    let reference =
        info_of_file(&Path::new(REFERENCE).join("a-http-default/data/secret/registry/root.crt"));

    assert_eq!(shape(&ours), shape(&reference));
    assert_eq!(ours.subject, "");
    assert!(ours.is_ca);
    assert_eq!(ours.serial.len(), reference.serial.len());
    assert_eq!(ours.not_before, NOW);
    assert_eq!(ours.not_after - ours.not_before, 3650 * DAY);
    assert_eq!(reference.not_after - reference.not_before, 3650 * DAY);
    assert!(
        token()
            .cert_pem
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
}

#[test]
fn token_cert_equals_what_openssl_makes_from_the_same_key() {
    // upstream runs `openssl req -new -x509 -key K -out C -days 3650 -subj /`
    let dir = temp_dir("token-openssl");
    std::fs::write(dir.join("k.pem"), &token().key_pem).unwrap();
    std::fs::write(dir.join("ours.crt"), &token().cert_pem).unwrap();
    let made = openssl(
        &dir,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "k.pem",
            "-out",
            "theirs.crt",
            "-days",
            "3650",
            "-subj",
            "/",
        ],
    );
    assert!(made.ok, "{}", made.stderr);

    let ours = info_of_file(&dir.join("ours.crt"));
    let theirs = info_of_file(&dir.join("theirs.crt"));
    assert_eq!(shape(&ours), shape(&theirs));

    // the key identifiers are computed the same way, so the whole extension text is equal
    let ext = |f: &str| {
        openssl(
            &dir,
            &[
                "x509",
                "-noout",
                "-ext",
                "subjectKeyIdentifier,authorityKeyIdentifier,basicConstraints",
                "-in",
                f,
            ],
        )
        .stdout
    };
    assert_eq!(ext("ours.crt"), ext("theirs.crt"));
    assert!(ext("ours.crt").contains("CA:TRUE"));

    let verify = openssl(
        &dir,
        &["verify", "-x509_strict", "-CAfile", "ours.crt", "ours.crt"],
    );
    assert!(verify.ok, "{}{}", verify.stdout, verify.stderr);
    let modulus = |args: &[&str]| openssl(&dir, args).stdout;
    assert_eq!(
        modulus(&["x509", "-noout", "-modulus", "-in", "ours.crt"]),
        modulus(&["rsa", "-noout", "-modulus", "-in", "k.pem"])
    );
}

#[test]
fn token_cert_for_existing_key_reproduces_the_pair() {
    let again = token_cert_for_key(&seed(), &token().key_pem, NOW).unwrap();
    assert_eq!(again, token().cert_pem);

    // the same key as PKCS#8 gives the same certificate
    let dir = temp_dir("token-pkcs8");
    std::fs::write(dir.join("k.pem"), &token().key_pem).unwrap();
    let p8 = openssl(&dir, &["pkcs8", "-topk8", "-nocrypt", "-in", "k.pem"]);
    assert!(
        p8.stdout.starts_with("-----BEGIN PRIVATE KEY-----"),
        "{}",
        p8.stderr
    );
    assert_eq!(
        token_cert_for_key(&seed(), &p8.stdout, NOW).unwrap(),
        token().cert_pem
    );

    // a later `now` moves the validity and changes the serial
    let later = cert_info(
        token_cert_for_key(&seed(), &token().key_pem, NOW + DAY)
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let first = cert_info(token().cert_pem.as_bytes()).unwrap();
    assert_eq!(later.not_before, NOW + DAY);
    assert_ne!(later.serial, first.serial);
}

#[test]
fn token_cert_for_key_rejects_bad_input() {
    assert!(matches!(
        token_cert_for_key(&seed(), "not a key", NOW),
        Err(PkiError::KeyParse(_))
    ));
    assert!(matches!(
        token_cert_for_key(&seed(), &token().key_pem, -1),
        Err(PkiError::Time(-1))
    ));
    assert!(matches!(
        token_cert_for_key(&seed(), &token().key_pem, 253_402_300_799),
        Err(PkiError::Time(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// internal TLS bundle

const COMPONENTS: [(&str, &str); 8] = [
    ("proxy", "proxy"),
    ("portal", "portal"),
    ("core", "core"),
    ("job_service", "jobservice"),
    ("registry", "registry"),
    ("registryctl", "registryctl"),
    ("trivy_adapter", "trivy-adapter"),
    ("harbor_db", "harbor_db"),
];

#[test]
fn bundle_has_upstreams_files_and_modes() {
    let manifest: String =
        std::fs::read_to_string(Path::new(REFERENCE).join("f0-gencert/manifest.json")).unwrap();
    let mut reference: BTreeMap<String, u32> = BTreeMap::new();
    let prefix = "hostfs/etc/harbor/tls/internal/";
    // small hand parse of {"path": ..., "mode": "0644", ...} entries
    for entry in manifest.split("\"path\": \"").skip(1) {
        let path = &entry[..entry.find('"').unwrap()];
        let Some(name) = path.strip_prefix(prefix) else {
            continue;
        };
        let mode_at = entry.find("\"mode\": \"").unwrap() + 9;
        let mode = u32::from_str_radix(&entry[mode_at..mode_at + 4], 8).unwrap();
        reference.insert(name.to_owned(), mode);
    }
    let ours: BTreeMap<String, u32> = bundle()
        .values()
        .map(|f| (f.name.clone(), f.mode))
        .collect();

    assert_eq!(reference.len(), 28);
    assert_eq!(ours, reference);
}

#[test]
fn bundle_is_deterministic_and_keys_are_distinct() {
    let keys: Vec<&str> = bundle()
        .values()
        .filter(|f| f.name.ends_with(".key"))
        .map(text)
        .collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();

    assert_eq!(keys.len(), 9);
    assert_eq!(unique.len(), 9);
    assert!(!keys.contains(&token().key_pem.as_str()));
    // a second run is compared in `bundle_is_reproducible`, which is slow
}

#[test]
fn bundle_is_reproducible() {
    let again = internal_tls_bundle(&seed(), NOW, 365).unwrap();

    assert_eq!(again.len(), bundle().len());
    for f in &again {
        assert_eq!(f, &bundle()[&f.name], "{} differs", f.name);
    }
}

#[test]
fn bundle_keys_are_pkcs8_and_openssl_accepts_them() {
    for f in bundle().values().filter(|f| f.name.ends_with(".key")) {
        assert!(
            text(f).starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{}",
            f.name
        );
        let check = openssl(bundle_dir(), &["rsa", "-check", "-noout", "-in", &f.name]);
        assert!(
            check.stdout.contains("RSA key ok"),
            "{}: {}",
            f.name,
            check.stderr
        );
        let bits = openssl(bundle_dir(), &["pkey", "-noout", "-text", "-in", &f.name]);
        assert!(bits.stdout.contains("(4096 bit, 2 primes)"), "{}", f.name);
    }
}

#[test]
fn every_component_verifies_against_the_ca_and_matches_its_name() {
    for (stem, cn) in COMPONENTS {
        let crt = format!("{stem}.crt");
        // plain verify: upstream's CA has no keyUsage, so -x509_strict rejects its chain too
        let verify = openssl(
            bundle_dir(),
            &["verify", "-CAfile", "harbor_internal_ca.crt", &crt],
        );
        assert!(
            verify.ok && verify.stdout.contains(": OK"),
            "{crt}: {}{}",
            verify.stdout,
            verify.stderr
        );

        let host = openssl(
            bundle_dir(),
            &["x509", "-noout", "-in", &crt, "-checkhost", cn],
        );
        assert!(host.stdout.contains("does match"), "{crt}: {}", host.stdout);
        let other = openssl(
            bundle_dir(),
            &[
                "x509",
                "-noout",
                "-in",
                &crt,
                "-checkhost",
                "harbor.example.test",
            ],
        );
        assert!(
            other.stdout.contains("does NOT match"),
            "{crt}: {}",
            other.stdout
        );

        let csr = openssl(
            bundle_dir(),
            &["req", "-verify", "-noout", "-in", &format!("{stem}.csr")],
        );
        assert!(csr.ok, "{stem}.csr: {}", csr.stderr);

        // certificate, request and key carry the same public key
        let m = |args: &[&str]| openssl(bundle_dir(), args).stdout;
        let of_cert = m(&["x509", "-noout", "-modulus", "-in", &crt]);
        assert_eq!(
            of_cert,
            m(&["req", "-noout", "-modulus", "-in", &format!("{stem}.csr")])
        );
        assert_eq!(
            of_cert,
            m(&["rsa", "-noout", "-modulus", "-in", &format!("{stem}.key")])
        );
    }
}

#[test]
fn bundle_certs_have_the_reference_shape() {
    for name in bundle().keys().filter(|n| n.ends_with(".crt")) {
        let ours = cert_info(&bundle()[name].contents).unwrap();
        let reference = info_of_file(&reference_tls().join(name));

        assert_eq!(shape(&ours), shape(&reference), "{name}");
        assert_eq!(ours.not_before, NOW, "{name}");
        assert_eq!(ours.not_after - ours.not_before, 365 * DAY, "{name}");
        assert_eq!(
            reference.not_after - reference.not_before,
            365 * DAY,
            "{name}"
        );
        assert_eq!(ours.serial.len(), 20, "{name}");

        // same DER layout: with equal key sizes the PEM files are equally long
        let reference_len = std::fs::metadata(reference_tls().join(name)).unwrap().len();
        assert_eq!(
            bundle()[name].contents.len() as u64,
            reference_len,
            "{name}"
        );
    }
}

#[test]
fn bundle_requests_have_the_reference_shape() {
    for (stem, _) in COMPONENTS {
        let name = format!("{stem}.csr");
        let ours = text(&bundle()[&name]).to_owned();
        let reference = std::fs::read_to_string(reference_tls().join(&name)).unwrap();

        assert!(ours.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
        assert_eq!(ours.len(), reference.len(), "{name}");

        let subject = |dir: &Path, file: &str| {
            openssl(
                dir,
                &[
                    "req", "-noout", "-subject", "-nameopt", "RFC2253", "-in", file,
                ],
            )
            .stdout
        };
        assert_eq!(
            subject(bundle_dir(), &name),
            subject(&reference_tls(), &name)
        );
    }
}

#[test]
fn serials_count_up_and_the_serial_file_holds_the_last() {
    let serials: Vec<Vec<u8>> = COMPONENTS
        .iter()
        .map(|(stem, _)| {
            cert_info(&bundle()[&format!("{stem}.crt")].contents)
                .unwrap()
                .serial
        })
        .collect();
    for pair in serials.windows(2) {
        let mut next = pair[0].clone();
        for b in next.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
        assert_eq!(pair[1], next);
    }

    let last: String = serials[7].iter().map(|b| format!("{b:02X}")).collect();
    let srl = text(&bundle()["harbor_internal_ca.srl"]);
    assert_eq!(srl, format!("{last}\n"));
    let reference =
        std::fs::read_to_string(reference_tls().join("harbor_internal_ca.srl")).unwrap();
    assert_eq!(srl.len(), reference.len());

    let ca = cert_info(&bundle()["harbor_internal_ca.crt"].contents).unwrap();
    assert!(!serials.contains(&ca.serial));
}

#[test]
fn extfile_is_byte_equal_to_upstreams() {
    let reference = std::fs::read(reference_tls().join("extfile.cnf")).unwrap();

    assert_eq!(bundle()["extfile.cnf"].contents, reference);
}

#[test]
fn bundle_pairs_pass_our_own_check() {
    for (stem, cn) in COMPONENTS {
        let crt = &bundle()[&format!("{stem}.crt")].contents;
        let key = &bundle()[&format!("{stem}.key")].contents;

        assert_eq!(check_server_cert(crt, key, cn, NOW + 1), vec![], "{stem}");
    }
}

#[test]
fn zero_days_is_rejected() {
    assert!(matches!(
        internal_tls_bundle(&seed(), NOW, 0),
        Err(PkiError::Days(0))
    ));
}

// ---------------------------------------------------------------------------------------------
// check_server_cert on certificates openssl makes

/// An openssl-made key and self-signed certificate; returns (cert, key) file contents.
fn openssl_pair(
    dir: &Path,
    name: &str,
    key_args: &[&str],
    subj: &str,
    san: Option<&str>,
    days: &str,
) -> (Vec<u8>, Vec<u8>) {
    let key = format!("{name}.key");
    let crt = format!("{name}.crt");
    let mut genpkey = vec!["genpkey", "-out", &key];
    genpkey.extend_from_slice(key_args);
    let made = openssl(dir, &genpkey);
    assert!(made.ok, "{}", made.stderr);

    let ext;
    let mut req = vec![
        "req", "-new", "-x509", "-key", &key, "-out", &crt, "-days", days, "-subj", subj,
    ];
    if let Some(san) = san {
        ext = format!("subjectAltName={san}");
        req.extend_from_slice(&["-addext", &ext]);
    }
    let made = openssl(dir, &req);
    assert!(made.ok, "{}", made.stderr);

    (
        std::fs::read(dir.join(crt)).unwrap(),
        std::fs::read(dir.join(key)).unwrap(),
    )
}

const RSA_2048: &[&str] = &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
const EC_P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

fn not_covered(problems: &[CertProblem]) -> bool {
    problems
        .iter()
        .any(|p| matches!(p, CertProblem::HostnameNotCovered { .. }))
}

#[test]
fn hostname_rules() {
    let dir = temp_dir("hostnames");
    let (crt, key) = openssl_pair(
        &dir,
        "san",
        RSA_2048,
        "/CN=ignored.example.test",
        Some("DNS:harbor.example.test,DNS:*.apps.example.test,IP:10.0.0.5,IP:fd00::5"),
        "30",
    );
    let now = info_of_file(&dir.join("san.crt")).not_before + 60;

    for good in [
        "harbor.example.test",
        "HARBOR.Example.test",
        "harbor.example.test.",
        "x.apps.example.test",
        "10.0.0.5",
        "fd00::5",
        "[fd00::5]",
    ] {
        assert_eq!(check_server_cert(&crt, &key, good, now), vec![], "{good}");
    }
    for bad in [
        "ignored.example.test",
        "apps.example.test",
        "a.b.apps.example.test",
        "example.test",
        "10.0.0.6",
        "fd00::6",
        "",
    ] {
        let problems = check_server_cert(&crt, &key, bad, now);
        assert!(not_covered(&problems), "{bad}: {problems:?}");
    }

    let problems = check_server_cert(&crt, &key, "other.test", now);
    let Some(CertProblem::HostnameNotCovered { hostname, names }) = problems.first() else {
        panic!("{problems:?}");
    };
    assert_eq!(hostname, "other.test");
    assert_eq!(
        names,
        &[
            "harbor.example.test",
            "*.apps.example.test",
            "10.0.0.5",
            "fd00::5"
        ]
    );
}

#[test]
fn common_name_counts_only_without_san() {
    let dir = temp_dir("cn-only");
    let (crt, key) = openssl_pair(&dir, "cn", RSA_2048, "/CN=legacy.example.test", None, "30");
    let now = info_of_file(&dir.join("cn.crt")).not_before + 60;

    assert_eq!(
        check_server_cert(&crt, &key, "legacy.example.test", now),
        vec![]
    );
    assert!(not_covered(&check_server_cert(
        &crt,
        &key,
        "other.example.test",
        now
    )));
}

#[test]
fn validity_window() {
    let dir = temp_dir("validity");
    let (crt, key) = openssl_pair(&dir, "v", RSA_2048, "/CN=v.test", Some("DNS:v.test"), "1");
    let info = info_of_file(&dir.join("v.crt"));

    assert_eq!(
        check_server_cert(&crt, &key, "v.test", info.not_before),
        vec![]
    );
    assert_eq!(
        check_server_cert(&crt, &key, "v.test", info.not_after),
        vec![]
    );
    assert_eq!(
        check_server_cert(&crt, &key, "v.test", info.not_after + 1),
        vec![CertProblem::Expired {
            not_after: info.not_after
        }]
    );
    assert_eq!(
        check_server_cert(&crt, &key, "v.test", info.not_before - 1),
        vec![CertProblem::NotYetValid {
            not_before: info.not_before
        }]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = temp_dir("many");
    let (crt, _) = openssl_pair(&dir, "a", RSA_2048, "/CN=a.test", Some("DNS:a.test"), "1");
    let (_, other_key) = openssl_pair(&dir, "b", RSA_2048, "/CN=b.test", Some("DNS:b.test"), "1");
    let info = info_of_file(&dir.join("a.crt"));

    let problems = check_server_cert(&crt, &other_key, "b.test", info.not_after + DAY);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems.contains(&CertProblem::KeyMismatch));
    assert!(not_covered(&problems));
    assert!(problems.contains(&CertProblem::Expired {
        not_after: info.not_after
    }));
}

#[test]
fn key_formats_and_mismatch() {
    let dir = temp_dir("keys");
    let (rsa_crt, rsa_p8) = openssl_pair(
        &dir,
        "rsa",
        RSA_2048,
        "/CN=k.test",
        Some("DNS:k.test"),
        "30",
    );
    let (ec_crt, ec_p8) = openssl_pair(&dir, "ec", EC_P256, "/CN=k.test", Some("DNS:k.test"), "30");
    let (_, ec_other) = openssl_pair(&dir, "ec2", EC_P256, "/CN=k.test", Some("DNS:k.test"), "30");
    let rsa_p1 = openssl(&dir, &["rsa", "-traditional", "-in", "rsa.key"]).stdout;
    let ec_sec1 = openssl(&dir, &["ec", "-in", "ec.key"]).stdout;
    assert!(rsa_p1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(ec_sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let now = info_of_file(&dir.join("rsa.crt")).not_before + 60;

    assert_eq!(check_server_cert(&rsa_crt, &rsa_p8, "k.test", now), vec![]);
    assert_eq!(
        check_server_cert(&rsa_crt, rsa_p1.as_bytes(), "k.test", now),
        vec![]
    );
    assert_eq!(check_server_cert(&ec_crt, &ec_p8, "k.test", now), vec![]);
    assert_eq!(
        check_server_cert(&ec_crt, ec_sec1.as_bytes(), "k.test", now),
        vec![]
    );

    assert_eq!(
        check_server_cert(&ec_crt, &ec_other, "k.test", now),
        vec![CertProblem::KeyMismatch]
    );
    assert_eq!(
        check_server_cert(&ec_crt, &rsa_p8, "k.test", now),
        vec![CertProblem::KeyMismatch]
    );
    assert_eq!(
        check_server_cert(&rsa_crt, &ec_p8, "k.test", now),
        vec![CertProblem::KeyMismatch]
    );
    assert_eq!(
        check_server_cert(&rsa_crt, token().key_pem.as_bytes(), "k.test", now),
        vec![CertProblem::KeyMismatch]
    );
}

#[test]
fn unreadable_inputs() {
    let dir = temp_dir("unreadable");
    let (crt, key) = openssl_pair(&dir, "u", RSA_2048, "/CN=u.test", Some("DNS:u.test"), "30");
    let encrypted = openssl(
        &dir,
        &["pkcs8", "-topk8", "-in", "u.key", "-passout", "pass:secret"],
    )
    .stdout;
    assert!(encrypted.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let now = info_of_file(&dir.join("u.crt")).not_before + 60;

    let only = |p: Vec<CertProblem>| -> CertProblem {
        assert_eq!(p.len(), 1, "{p:?}");
        p.into_iter().next().unwrap()
    };
    assert!(matches!(
        only(check_server_cert(b"junk", &key, "u.test", now)),
        CertProblem::Unreadable(_)
    ));
    assert!(matches!(
        only(check_server_cert(&key, &key, "u.test", now)),
        CertProblem::Unreadable(_)
    ));
    assert!(matches!(
        only(check_server_cert(&crt, b"junk", "u.test", now)),
        CertProblem::KeyUnreadable(_)
    ));
    assert!(matches!(
        only(check_server_cert(&crt, &crt, "u.test", now)),
        CertProblem::KeyUnreadable(_)
    ));
    assert!(matches!(
        only(check_server_cert(&crt, encrypted.as_bytes(), "u.test", now)),
        CertProblem::KeyUnreadable(_)
    ));

    // a certificate block with broken DER inside
    let broken = b"-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        only(check_server_cert(broken, &key, "u.test", now)),
        CertProblem::Unreadable(_)
    ));
    assert!(cert_info(broken).is_err());
    assert!(cert_info(b"").is_err());
}

#[test]
fn reference_https_pair_passes_and_chain_files_work() {
    let certs = Path::new(REFERENCE).join("b-https/host/etc/harbor/certs");
    let crt = std::fs::read(certs.join("harbor.example.test.crt")).unwrap();
    let key = std::fs::read(certs.join("harbor.example.test.key")).unwrap();
    let ca = std::fs::read(certs.join("ca.crt")).unwrap();
    let info = cert_info(&crt).unwrap();
    let now = info.not_before + DAY;

    assert_eq!(
        check_server_cert(&crt, &key, "harbor.example.test", now),
        vec![]
    );
    assert!(not_covered(&check_server_cert(
        &crt,
        &key,
        "registry.example.test",
        now
    )));
    assert!(
        check_server_cert(&ca, &key, "harbor.example.test", now)
            .contains(&CertProblem::KeyMismatch)
    );

    // a full chain file: the server certificate first
    let chain = [crt.as_slice(), ca.as_slice()].concat();
    assert_eq!(
        check_server_cert(&chain, &key, "harbor.example.test", now),
        vec![]
    );
    assert_eq!(info.sans, vec!["DNS:harbor.example.test".to_owned()]);
}

#[test]
fn validity_past_2049_switches_to_generalized_time() {
    // 2045-01-01: notBefore stays UTCTime, notAfter (2054) must be GeneralizedTime
    let now = 2_366_841_600;
    let pem = token_cert_for_key(&seed(), &token().key_pem, now).unwrap();
    let dir = temp_dir("y2050");
    std::fs::write(dir.join("c.crt"), &pem).unwrap();
    let parsed = openssl(&dir, &["asn1parse", "-in", "c.crt"]).stdout;

    assert!(
        parsed.contains("UTCTIME           :450101000000Z"),
        "{parsed}"
    );
    assert!(
        parsed.contains("GENERALIZEDTIME   :20541230000000Z"),
        "{parsed}"
    );
    let info = cert_info(pem.as_bytes()).unwrap();
    assert_eq!(info.not_after - info.not_before, 3650 * DAY);
}

#[test]
fn damaged_input_never_panics() {
    use x509_cert::der::pem::{LineEnding, encode_string};

    let certs = Path::new(REFERENCE).join("b-https/host/etc/harbor/certs");
    let crt = std::fs::read(certs.join("harbor.example.test.crt")).unwrap();
    let key = std::fs::read(certs.join("harbor.example.test.key")).unwrap();
    let der = x509_parser::pem::parse_x509_pem(&crt).unwrap().1.contents;
    let key_der = x509_parser::pem::parse_x509_pem(&key).unwrap().1.contents;

    let mut flagged = 0;
    for i in (0..der.len()).step_by(3) {
        let mut bad = der.clone();
        bad[i] ^= 0x41;
        let pem = encode_string("CERTIFICATE", LineEnding::LF, &bad).unwrap();
        let problems = check_server_cert(pem.as_bytes(), &key, "harbor.example.test", NOW + DAY);
        let _ = cert_info(pem.as_bytes());
        flagged += usize::from(!problems.is_empty());

        let cut = encode_string("CERTIFICATE", LineEnding::LF, &der[..i]).unwrap();
        assert!(!check_server_cert(cut.as_bytes(), &key, "h", 0).is_empty());
    }
    // most flips land in the signature or key bits, which the check does not read, but any flip
    // in the structure, names or dates must show up
    assert!(flagged > 0);

    for i in (0..key_der.len()).step_by(5) {
        let mut bad = key_der.clone();
        bad[i] ^= 0x41;
        let pem = encode_string("PRIVATE KEY", LineEnding::LF, &bad).unwrap();
        let _ = check_server_cert(&crt, pem.as_bytes(), "harbor.example.test", NOW + DAY);
        let cut = encode_string("PRIVATE KEY", LineEnding::LF, &key_der[..i]).unwrap();
        let problems = check_server_cert(&crt, cut.as_bytes(), "harbor.example.test", NOW + DAY);
        assert!(
            matches!(problems.as_slice(), [CertProblem::KeyUnreadable(_)]),
            "{problems:?}"
        );
    }
}
