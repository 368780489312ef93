//! Real-world inputs made by the `openssl` CLI (OpenSSL 3): every key encoding and encryption
//! it writes, PKCS#12 modern and legacy, text dumps, CRLF, PKCS#7, odd certificates, and
//! unsupported key types. Our PKCS#12 export is read back by `openssl pkcs12`.

use super::super::{Bundle, PkiError, cert_info, export_pkcs12};
use super::{Ossl, err_text, parse};

const PW: &str = "s3cr3t pw";

/// OpenSSL root + intermediate (P-256) in the scratch dir: root.pem/key, int.pem/key.
fn ca(o: &Ossl) {
    o.write(
        "ca.ext",
        b"basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
          subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    o.write(
        "leaf.ext",
        b"basicConstraints=CA:FALSE\nsubjectAltName=DNS:leaf.example.com,DNS:www.leaf.example.com,IP:10.0.0.1\n\
          subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    gen_key(o, "p256", "root.key");
    o.sh("req -x509 -new -key root.key -subj '/O=Ossl/CN=Ossl Root' -days 30 -out root.pem");
    gen_key(o, "p256", "int.key");
    o.sh("req -new -key int.key -subj '/O=Ossl/CN=Ossl Int' -out int.csr");
    o.sh("x509 -req -in int.csr -CA root.pem -CAkey root.key -set_serial 2 -days 30 -extfile ca.ext -out int.pem");
}

/// A leaf for `key` issued by the intermediate, written to `out`.
fn leaf(o: &Ossl, key: &str, out: &str) {
    o.sh(&format!(
        "req -new -key {key} -subj /CN=leaf.example.com -out leaf.csr"
    ));
    o.sh(&format!(
        "x509 -req -in leaf.csr -CA int.pem -CAkey int.key -set_serial 0x1234 -days 10 -extfile leaf.ext -out {out}"
    ));
}

fn gen_key(o: &Ossl, kind: &str, out: &str) {
    let alg = match kind {
        "rsa512" => "-algorithm RSA -pkeyopt rsa_keygen_bits:512",
        "rsa1024" => "-algorithm RSA -pkeyopt rsa_keygen_bits:1024",
        "rsa2048" => "-algorithm RSA -pkeyopt rsa_keygen_bits:2048",
        "rsa-pss" => "-algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048",
        "p256" => "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
        "p384" => "-algorithm EC -pkeyopt ec_paramgen_curve:P-384",
        "p521" => "-algorithm EC -pkeyopt ec_paramgen_curve:P-521",
        "secp256k1" => "-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1",
        "brainpool" => "-algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP256r1",
        "ed25519" => "-algorithm ED25519",
        "ed448" => "-algorithm ED448",
        other => panic!("unknown key kind {other}"),
    };
    o.sh(&format!("genpkey {alg} -out {out}"));
}

fn chain_pems(o: &Ossl) -> (Vec<u8>, Vec<u8>) {
    (o.read("int.pem"), o.read("root.pem"))
}

fn parse_ok(o: &Ossl, cert: &str, key: Option<&[u8]>, pw: Option<&str>) -> Bundle {
    let (int, root) = chain_pems(o);
    let cert = o.read(cert);
    match parse(&cert, key, &[&root, &int], pw) {
        Ok(b) => b,
        Err(e) => panic!("parse failed: {e}"),
    }
}

/// Every key encoding OpenSSL writes, for each supported key type.
#[test]
fn key_encodings_and_encryptions() {
    let o = Ossl::new();
    ca(&o);
    let pass = format!("'pass:{PW}'");
    let legacy = "-provider legacy -provider default";
    for kind in ["rsa2048", "rsa1024", "p256", "p384", "p521", "ed25519"] {
        gen_key(&o, kind, "key.pem");
        leaf(&o, "key.pem", "leaf.pem");
        let reference = parse_ok(&o, "leaf.pem", Some(&o.read("key.pem")), None);
        let reference_key = reference.private_key.as_ref().unwrap().pkcs8_der().to_vec();
        assert_eq!(reference.chain_der.len(), 2);
        assert!(
            reference.chain_complete,
            "{kind}: {:?}",
            reference.chain_issues
        );

        // (output file, openssl command, encrypted)
        let mut variants: Vec<(String, String, bool)> = vec![
            (
                "pkcs8.der".into(),
                "pkey -in key.pem -outform DER".into(),
                false,
            ),
            (
                "p8-aes256.pem".into(),
                format!("pkcs8 -topk8 -in key.pem -v2 aes-256-cbc -passout {pass}"),
                true,
            ),
            (
                "p8-aes256.der".into(),
                format!("pkcs8 -topk8 -in key.pem -v2 aes-256-cbc -passout {pass} -outform DER"),
                true,
            ),
            (
                "p8-des3.pem".into(),
                format!("pkcs8 -topk8 -in key.pem -v2 des3 -passout {pass}"),
                true,
            ),
            (
                "p8-sha1.pem".into(),
                format!(
                    "pkcs8 -topk8 -in key.pem -v2 aes-128-cbc -v2prf hmacWithSHA1 -passout {pass}"
                ),
                true,
            ),
            (
                "p8-pbe3des.pem".into(),
                format!("pkcs8 -topk8 -in key.pem -v1 PBE-SHA1-3DES -passout {pass}"),
                true,
            ),
        ];
        if kind == "p256" || kind == "rsa2048" {
            variants.push((
                "p8-md5des.pem".into(),
                format!("pkcs8 -topk8 {legacy} -in key.pem -v1 PBE-MD5-DES -passout {pass}"),
                true,
            ));
            variants.push((
                "p8-rc2.pem".into(),
                format!("pkcs8 -topk8 {legacy} -in key.pem -v1 PBE-SHA1-RC2-40 -passout {pass}"),
                true,
            ));
        }
        if kind == "p256" {
            // scrypt is slow in debug builds: one key type is enough.
            variants.push((
                "p8-scrypt.pem".into(),
                format!("pkcs8 -topk8 -in key.pem -scrypt -passout {pass}"),
                true,
            ));
        }
        if kind != "ed25519" {
            // Ed25519 has no traditional (PKCS#1 / SEC1-like) encoding.
            variants.push((
                "trad.pem".into(),
                "pkey -in key.pem -traditional".into(),
                false,
            ));
            variants.push((
                "trad.der".into(),
                "pkey -in key.pem -traditional -outform DER".into(),
                false,
            ));
            for cipher in ["aes256", "aes128", "des3"] {
                variants.push((
                    format!("legacy-{cipher}.pem"),
                    format!("pkey -in key.pem -traditional -{cipher} -passout {pass}"),
                    true,
                ));
            }
        }
        let (int, root) = chain_pems(&o);
        let leaf_pem = o.read("leaf.pem");
        for (file, command, encrypted) in &variants {
            o.sh(&format!("{command} -out {file}"));
            let key = o.read(file);
            if *encrypted && !file.ends_with(".der") {
                let text = String::from_utf8_lossy(&key);
                assert!(text.contains("ENCRYPTED"), "{kind} {file}: {text}");
            }
            let b = parse_ok(&o, "leaf.pem", Some(&key), encrypted.then_some(PW));
            assert_eq!(
                b.private_key.as_ref().unwrap().pkcs8_der(),
                reference_key.as_slice(),
                "{kind} {file} normalises to the same PKCS#8"
            );
            if *encrypted {
                let r = parse(&leaf_pem, Some(&key), &[&int, &root], None);
                assert!(
                    matches!(r, Err(PkiError::PasswordRequired(_))),
                    "{kind} {file}: {r:?}"
                );
                let r = parse(
                    &leaf_pem,
                    Some(&key),
                    &[&int, &root],
                    Some("wrong password"),
                );
                assert!(
                    matches!(r, Err(PkiError::WrongPassword(_))),
                    "{kind} {file}: {r:?}"
                );
                assert_eq!(err_text(r), "wrong password for the encrypted private key");
            }
        }
    }
}

#[test]
fn ec_key_shapes() {
    let o = Ossl::new();
    ca(&o);
    gen_key(&o, "p256", "key.pem");
    leaf(&o, "key.pem", "leaf.pem");
    let reference = parse_ok(&o, "leaf.pem", Some(&o.read("key.pem")), None);
    let reference_key = reference.private_key.unwrap().pkcs8_der().to_vec();

    // SEC1 without the public key.
    o.sh("ec -in key.pem -no_public -out nopub.pem");
    let b = parse_ok(&o, "leaf.pem", Some(&o.read("nopub.pem")), None);
    assert_eq!(b.private_key.unwrap().pkcs8_der(), reference_key.as_slice());

    // SEC1 without parameters (built by hand: OpenSSL always writes them).
    o.sh("ec -in key.pem -outform DER -out sec1.der");
    let sec1 = o.read("sec1.der");
    let (seq, _) = super::super::der::read(&sec1).unwrap();
    let mut r = seq.reader();
    let mut kept: Vec<Vec<u8>> = Vec::new();
    while let Ok(t) = r.next() {
        if t.tag != super::super::der::CTX0 {
            kept.push(t.raw.to_vec());
        }
    }
    let refs: Vec<&[u8]> = kept.iter().map(Vec::as_slice).collect();
    let no_params = super::super::der::constructed(super::super::der::SEQUENCE, &refs);
    let b = parse_ok(&o, "leaf.pem", Some(&no_params), None);
    assert_eq!(b.private_key.unwrap().pkcs8_der(), reference_key.as_slice());

    // `openssl ecparam -genkey` output: EC PARAMETERS then EC PRIVATE KEY.
    o.sh("ecparam -name prime256v1 -genkey -out withparams.pem");
    leaf(&o, "withparams.pem", "leaf2.pem");
    let b = parse_ok(&o, "leaf2.pem", Some(&o.read("withparams.pem")), None);
    assert_eq!(b.private_key.unwrap().algorithm(), "EC");

    // Explicit curve parameters in the key and in the certificate.
    o.sh("ecparam -name prime256v1 -param_enc explicit -genkey -noout -out explicit.key");
    o.sh(
        "req -x509 -new -key explicit.key -subj /CN=explicit.example.com -days 2 -out explicit.pem",
    );
    let b = parse(
        &o.read("explicit.pem"),
        Some(&o.read("explicit.key")),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(b.info.key_curve.as_deref(), Some("P-256"));
    assert_eq!(b.info.key_size, Some(256));
    assert_eq!(b.private_key.unwrap().key_size(), 256);
}

#[test]
fn pkcs12_files_from_openssl() {
    let o = Ossl::new();
    ca(&o);
    gen_key(&o, "rsa2048", "key.pem");
    leaf(&o, "key.pem", "leaf.pem");
    let mut chain = o.read("int.pem");
    chain.extend(o.read("root.pem"));
    o.write("chain.pem", &chain);
    let pass = format!("'pass:{PW}'");
    // (file, options, password to give)
    let cases: Vec<(&str, String, Option<&str>)> = vec![
        ("modern.p12", format!("-passout {pass}"), Some(PW)),
        ("legacy.p12", format!("-legacy -passout {pass}"), Some(PW)),
        (
            "3des.p12",
            format!("-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -passout {pass}"),
            Some(PW),
        ),
        (
            "plain.p12",
            format!("-keypbe NONE -certpbe NONE -passout {pass}"),
            Some(PW),
        ),
        ("empty.p12", "-passout pass:".into(), None),
        ("empty-legacy.p12", "-legacy -passout pass:".into(), None),
        (
            "nomac.p12",
            "-keypbe NONE -certpbe NONE -nomac -passout pass:".into(),
            None,
        ),
        ("nomac-enc.p12", format!("-nomac -passout {pass}"), Some(PW)),
    ];
    let leaf_der = parse_ok(&o, "leaf.pem", None, None).leaf_der;
    for (file, options, pw) in &cases {
        o.sh(&format!(
            "pkcs12 -export -in leaf.pem -inkey key.pem -certfile chain.pem {options} -out {file}"
        ));
        let p12 = o.read(file);
        let b = match parse(&p12, None, &[], *pw) {
            Ok(b) => b,
            Err(e) => panic!("{file}: {e}"),
        };
        assert_eq!(b.leaf_der, leaf_der, "{file}");
        assert_eq!(b.chain_der.len(), 2, "{file}");
        assert!(b.chain_complete, "{file}");
        assert_eq!(
            b.private_key.as_ref().map(|k| k.algorithm()),
            Some("RSA"),
            "{file}"
        );
        if pw.is_some() {
            let r = parse(&p12, None, &[], Some("not it"));
            if *file == "nomac-enc.p12" {
                // Without a MAC only the decryption can fail.
                assert!(
                    matches!(r, Err(PkiError::WrongPassword(_))),
                    "{file}: {r:?}"
                );
            } else if *file != "plain.p12" {
                assert_eq!(
                    err_text(r),
                    "`certificate`: wrong password for the PKCS#12 file or corrupted file",
                    "{file}"
                );
            }
            let r = parse(&p12, None, &[], None);
            assert!(
                matches!(r, Err(PkiError::PasswordRequired(_))),
                "{file}: {r:?}"
            );
        } else {
            // An empty password given explicitly works too.
            assert!(parse(&p12, None, &[], Some("")).is_ok(), "{file}");
        }
    }

    // `openssl pkcs12 -nodes` output: Bag Attributes text, key and certificates in one PEM.
    let pem = o.sh_out(&format!("pkcs12 -in modern.p12 -passin {pass} -nodes"));
    assert!(String::from_utf8_lossy(&pem).contains("Bag Attributes"));
    let b = parse(&pem, None, &[], None).unwrap();
    assert_eq!(b.leaf_der, leaf_der);
    assert_eq!(b.chain_der.len(), 2);
    assert!(b.private_key.is_some());
}

#[test]
fn our_pkcs12_export_is_read_by_openssl() {
    let o = Ossl::new();
    ca(&o);
    let pass = format!("'pass:{PW}'");
    for kind in ["p256", "rsa2048", "ed25519"] {
        gen_key(&o, kind, "key.pem");
        leaf(&o, "key.pem", "leaf.pem");
        let b = parse_ok(&o, "leaf.pem", Some(&o.read("key.pem")), None);
        let key = b.private_key.as_ref().unwrap();
        let p12 =
            export_pkcs12(&b.leaf_der, &b.chain_der, Some(key), PW, "leaf.example.com").unwrap();
        o.write("ours.p12", &p12);
        let out = std::process::Command::new("openssl")
            .args([
                "pkcs12",
                "-info",
                "-noout",
                "-passin",
                &format!("pass:{PW}"),
                "-in",
                "ours.p12",
            ])
            .current_dir(o.path(""))
            .output()
            .expect("the openssl binary is required for this test");
        let info = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{kind}: {info}");
        assert!(info.contains("MAC: sha256"), "{kind}: {info}");
        assert!(
            info.contains("PBES2, PBKDF2, AES-256-CBC"),
            "{kind}: {info}"
        );
        assert_eq!(info.matches("Certificate bag").count(), 3, "{kind}: {info}");
        assert!(info.contains("Shrouded Keybag"), "{kind}: {info}");

        // What openssl extracts is the same key and certificates.
        let pem = o.sh_out(&format!("pkcs12 -in ours.p12 -passin {pass} -nodes"));
        let text = String::from_utf8_lossy(&pem);
        assert!(text.contains("localKeyID"), "{kind}: {text}");
        assert!(
            text.contains("friendlyName: leaf.example.com"),
            "{kind}: {text}"
        );
        let back = parse(&pem, None, &[], None).unwrap();
        assert_eq!(back.leaf_der, b.leaf_der);
        assert_eq!(back.chain_der, b.chain_der);
        assert_eq!(back.private_key.unwrap().pkcs8_der(), key.pkcs8_der());
        o.write("extracted.pem", &pem);
        assert_eq!(
            o.sh_out("pkey -in key.pem -pubout"),
            o.sh_out("pkey -in extracted.pem -pubout"),
            "{kind}"
        );

        // Without a key, with an empty password.
        let p12 = export_pkcs12(&b.leaf_der, &b.chain_der, None, "", "no key").unwrap();
        o.write("nokey.p12", &p12);
        o.sh("pkcs12 -info -noout -passin pass: -in nokey.p12");
    }
}

#[test]
fn text_dumps_crlf_trusted_pkcs7_and_der() {
    let o = Ossl::new();
    ca(&o);
    gen_key(&o, "p384", "key.pem");
    leaf(&o, "key.pem", "leaf.pem");
    let expected = parse_ok(&o, "leaf.pem", None, None).leaf_der;

    o.sh("x509 -in leaf.pem -text -out text.pem");
    let text = o.read("text.pem");
    assert!(String::from_utf8_lossy(&text).contains("Signature Algorithm"));
    assert_eq!(parse(&text, None, &[], None).unwrap().leaf_der, expected);

    let mut bundle = o.read("leaf.pem");
    bundle.extend(o.read("int.pem"));
    bundle.extend(o.read("key.pem"));
    let crlf = String::from_utf8(bundle.clone())
        .unwrap()
        .replace('\n', "\r\n");
    let b = parse(crlf.as_bytes(), None, &[], None).unwrap();
    assert_eq!(b.leaf_der, expected);
    assert_eq!(b.chain_der.len(), 1);
    assert!(b.private_key.is_some());
    // Indented, with blank lines and trailing spaces.
    let messy: String = String::from_utf8(bundle)
        .unwrap()
        .lines()
        .map(|l| format!("  {l}  \n\n"))
        .collect();
    assert_eq!(
        parse(messy.as_bytes(), None, &[], None).unwrap().leaf_der,
        expected
    );

    o.sh("x509 -in root.pem -trustout -addtrust serverAuth -out trusted.pem");
    let trusted = o.read("trusted.pem");
    assert!(String::from_utf8_lossy(&trusted).contains("TRUSTED CERTIFICATE"));
    let b = parse(&trusted, None, &[], None).unwrap();
    assert_eq!(b.info.subject, "O=Ossl, CN=Ossl Root");

    let mut chain = o.read("leaf.pem");
    chain.extend(o.read("int.pem"));
    chain.extend(o.read("root.pem"));
    o.write("chain.pem", &chain);
    o.sh("crl2pkcs7 -nocrl -certfile chain.pem -out b.p7b");
    o.sh("crl2pkcs7 -nocrl -certfile chain.pem -outform DER -out b.p7b.der");
    for file in ["b.p7b", "b.p7b.der"] {
        let b = parse(&o.read(file), Some(&o.read("key.pem")), &[], None).unwrap();
        assert_eq!(b.leaf_der, expected, "{file}");
        assert_eq!(b.chain_der.len(), 2, "{file}");
        assert!(b.chain_complete, "{file}");
    }

    o.sh("x509 -in leaf.pem -outform DER -out leaf.der");
    o.sh("x509 -in int.pem -outform DER -out int.der");
    let b = parse(
        &o.read("leaf.der"),
        Some(&o.read("key.pem")),
        &[&o.read("int.der")],
        None,
    )
    .unwrap();
    assert_eq!(b.leaf_der, expected);
    // Trailing bytes after a DER certificate are ignored.
    let mut trailing = o.read("leaf.der");
    trailing.extend_from_slice(b"\n\0garbage");
    let info = cert_info(&trailing).unwrap();
    assert_eq!(
        info.fingerprint_sha256,
        super::super::info::sha256_hex(&expected)
    );
    // Bare base64 (a PEM body without its armor).
    let pem_text = String::from_utf8(o.read("leaf.pem")).unwrap();
    let body: String = pem_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    assert_eq!(
        parse(body.as_bytes(), None, &[], None).unwrap().leaf_der,
        expected
    );

    let info = &parse(&o.read("leaf.pem"), None, &[], None).unwrap().info;
    assert_eq!(
        info.domains,
        vec!["leaf.example.com", "www.leaf.example.com"]
    );
    assert_eq!(info.ip_addresses, vec!["10.0.0.1"]);
    assert_eq!(info.serial, "1234");
    assert_eq!(info.key_curve.as_deref(), Some("P-384"));
    assert_eq!(info.signature_algorithm, "ecdsa-with-SHA256");
}

/// (key kind, refused type name, key_algorithm, key_size, key_curve, signature_algorithm)
type UnsupportedCase = (
    &'static str,
    &'static str,
    &'static str,
    Option<u32>,
    Option<&'static str>,
    &'static str,
);

/// Certificates with keys we do not handle import without their key; the key is refused.
#[test]
fn unsupported_key_types() {
    let o = Ossl::new();
    o.sh("genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:1024 -out dsap.pem");
    o.sh("genpkey -paramfile dsap.pem -out dsa.key");
    o.sh("pkey -in dsa.key -traditional -out dsa-trad.key");
    let cases: [UnsupportedCase; 6] = [
        ("dsa", "DSA", "DSA", Some(1024), None, "dsa_with_SHA256"),
        ("ed448", "Ed448", "Ed448", Some(456), None, "ED448"),
        (
            "secp256k1",
            "EC secp256k1",
            "EC",
            Some(256),
            Some("secp256k1"),
            "ecdsa-with-SHA256",
        ),
        (
            "brainpool",
            "EC brainpoolP256r1",
            "EC",
            Some(256),
            Some("brainpoolP256r1"),
            "ecdsa-with-SHA256",
        ),
        (
            "rsa-pss",
            "RSA-PSS",
            "RSA-PSS",
            Some(2048),
            None,
            "rsassaPss",
        ),
        (
            "rsa512",
            "",
            "RSA",
            Some(512),
            None,
            "sha256WithRSAEncryption",
        ),
    ];
    for (kind, refused_as, alg, size, curve, sig) in cases {
        if kind != "dsa" {
            gen_key(&o, kind, &format!("{kind}.key"));
        }
        o.sh(&format!(
            "req -x509 -new -key {kind}.key -subj /CN=odd.example.com -days 2 -out odd.pem"
        ));
        let cert = o.read("odd.pem");
        let b = parse(&cert, None, &[], None).unwrap();
        assert_eq!(b.info.key_algorithm, alg, "{kind}");
        assert_eq!(b.info.key_size, size, "{kind}");
        assert_eq!(b.info.key_curve.as_deref(), curve, "{kind}");
        assert_eq!(b.info.signature_algorithm, sig, "{kind}");
        let r = parse(&cert, Some(&o.read(&format!("{kind}.key"))), &[], None);
        assert!(
            matches!(r, Err(PkiError::UnsupportedKey(_))),
            "{kind}: {r:?}"
        );
        let msg = err_text(r);
        if kind == "rsa512" {
            assert!(msg.contains("has only 512 bits"), "{msg}");
        } else {
            assert!(
                msg.contains(&format!(
                    "private key type {refused_as} is not supported (supported: RSA, EC P-256/P-384/P-521, Ed25519); \
                     import the certificate without its key"
                )),
                "{kind}: {msg}"
            );
        }
        if kind == "dsa" {
            let trad = o.read("dsa-trad.key");
            assert!(String::from_utf8_lossy(&trad).contains("DSA PRIVATE KEY"));
            let msg = err_text(parse(&cert, Some(&trad), &[], None));
            assert!(
                msg.contains("private key type DSA is not supported"),
                "{msg}"
            );
        }
    }
}

#[test]
fn odd_certificates() {
    let o = Ossl::new();
    gen_key(&o, "p256", "k.pem");
    // Version 1, no extensions.
    o.sh("req -new -key k.pem -subj /CN=v1.example.com -out r.csr");
    o.sh("x509 -req -in r.csr -signkey k.pem -days 2 -out v1.pem");
    let i = parse(&o.read("v1.pem"), Some(&o.read("k.pem")), &[], None)
        .unwrap()
        .info;
    assert_eq!(i.x509_version, 1);
    assert!(!i.is_ca);
    assert_eq!(i.domains, vec!["v1.example.com"]);

    // Negative serial.
    o.sh("req -x509 -new -key k.pem -subj /CN=neg.example.com -set_serial -5 -days 2 -out neg.pem");
    assert_eq!(
        parse(&o.read("neg.pem"), None, &[], None)
            .unwrap()
            .info
            .serial,
        "fb"
    );

    // T61String with Latin-1 bytes, BMPString, unknown attribute OIDs, multi-valued RDNs.
    let dn = "[req]\ndistinguished_name=dn\nutf8=yes\nprompt=no\n";
    o.write(
        "t61.cnf",
        format!("{dn}string_mask=default\n[dn]\nCN=Caf\u{e9} T61\n").as_bytes(),
    );
    o.sh("req -x509 -new -key k.pem -config t61.cnf -days 2 -out t61.pem");
    assert!(String::from_utf8_lossy(&o.sh_out("asn1parse -in t61.pem")).contains("T61STRING"));
    assert_eq!(
        parse(&o.read("t61.pem"), None, &[], None)
            .unwrap()
            .info
            .subject,
        "CN=Caf\u{e9} T61"
    );
    o.write(
        "bmp.cnf",
        format!("{dn}string_mask=pkix\n[dn]\nCN=\u{141}\u{f3}d\u{17a} BMP\n").as_bytes(),
    );
    o.sh("req -x509 -new -key k.pem -config bmp.cnf -days 2 -out bmp.pem");
    assert!(String::from_utf8_lossy(&o.sh_out("asn1parse -in bmp.pem")).contains("BMPSTRING"));
    assert_eq!(
        parse(&o.read("bmp.pem"), None, &[], None)
            .unwrap()
            .info
            .subject,
        "CN=\u{141}\u{f3}d\u{17a} BMP"
    );
    o.sh("req -x509 -new -key k.pem -multivalue-rdn -subj /CN=m.example.com+OU=Unit -days 2 -out multi.pem");
    let i = parse(&o.read("multi.pem"), None, &[], None).unwrap().info;
    assert_eq!(i.subject, "OU=Unit + CN=m.example.com", "DER sorts the SET");
    assert_eq!(i.domains, vec!["m.example.com"]);
    o.write(
        "oid.cnf",
        format!("oid_section=new_oids\n[new_oids]\nmyAttr=1.2.3.4.5\n{dn}[dn]\nmyAttr=custom\nCN=o.example.com\n").as_bytes(),
    );
    o.sh("req -x509 -new -key k.pem -config oid.cnf -days 2 -out oid.pem");
    let i = parse(&o.read("oid.pem"), None, &[], None).unwrap().info;
    assert_eq!(i.subject, "1.2.3.4.5=custom, CN=o.example.com");

    // A huge certificate: 3000 SANs.
    let mut cnf =
        format!("{dn}x509_extensions=ext\n[dn]\nCN=Big Cert\n[ext]\nsubjectAltName=@alt\n[alt]\n");
    for n in 0..3000 {
        cnf.push_str(&format!("DNS.{n}=host{n}.big.example.com\n"));
    }
    o.write("big.cnf", cnf.as_bytes());
    o.sh("req -x509 -new -key k.pem -config big.cnf -days 2 -out big.pem");
    let i = parse(&o.read("big.pem"), None, &[], None).unwrap().info;
    assert_eq!(i.domains.len(), 3000);
    assert_eq!(i.domains[2999], "host2999.big.example.com");

    // SHA-1 RSA signature.
    gen_key(&o, "rsa2048", "rsa.pem");
    o.sh("req -x509 -new -key rsa.pem -sha1 -subj /CN=sha1.example.com -days 2 -out sha1.pem");
    let i = parse(&o.read("sha1.pem"), None, &[], None).unwrap().info;
    assert_eq!(i.signature_algorithm, "sha1WithRSAEncryption");
    assert_eq!(i.key_size, Some(2048));
    assert!(
        i.is_ca,
        "openssl req -x509 marks self-signed certificates as CA"
    );
}

/// One intermediate key certified by two roots: the second path is an alternative, not a gap.
#[test]
fn cross_signed_intermediate() {
    let o = Ossl::new();
    ca(&o);
    gen_key(&o, "p256", "root2.key");
    o.sh("req -x509 -new -key root2.key -subj '/O=Ossl/CN=Ossl Root 2' -days 30 -out root2.pem");
    o.sh("x509 -req -in int.csr -CA root2.pem -CAkey root2.key -set_serial 3 -days 30 -extfile ca.ext -out int-x.pem");
    gen_key(&o, "p256", "key.pem");
    leaf(&o, "key.pem", "leaf.pem");
    let mut input = o.read("int-x.pem");
    input.extend(o.read("leaf.pem"));
    input.extend(o.read("int.pem"));
    input.extend(o.read("root.pem"));
    let b = parse(&input, None, &[], None).unwrap();
    assert_eq!(b.info.subject, "CN=leaf.example.com");
    assert_eq!(b.chain_der.len(), 3);
    let issuers: Vec<String> = b
        .chain_der
        .iter()
        .map(|d| cert_info(d).unwrap().issuer)
        .collect();
    assert_eq!(
        issuers[0], "O=Ossl, CN=Ossl Root",
        "the path with its root given comes first"
    );
    assert_eq!(issuers[1], "O=Ossl, CN=Ossl Root");
    assert_eq!(issuers[2], "O=Ossl, CN=Ossl Root 2");
    assert!(b.chain_complete, "{:?}", b.chain_issues);
    assert!(b.chain_issues[0].contains("another certificate for a CA already in the chain"));
}
