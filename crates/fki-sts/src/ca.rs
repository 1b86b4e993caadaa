//! A local certificate authority for fki's STS and its clients.
//!
//! KOMBIT's infrastructure runs on OCES/FOCES certificates ("funktionscertifikater") issued by
//! TRUST2408; fki runs self-contained, so it issues look-alike certificates from its own root:
//!
//! - the **root CA** (RSA, self-signed, 10 years);
//! - the **STS signing certificate** that signs issued assertions — shaped like KOMBIT's
//!   (`C=DK, O=<org> // CVR:<cvr>, serialNumber=CVR:<cvr>-FID:<n>, CN=<name> (funktionscertifikat)`,
//!   compare the `KeyInfo` of the assertion in
//!   `../shared/specs/sf1514-sts/signed-request-with-issued-assertion.example.xml`);
//! - **system certificates** for anvendersystemer (the same FOCES-like subject), delivered as
//!   PEM and PKCS#12;
//! - **server certificates** (TLS) with DNS and IP subject alternative names.
//!
//! All keys are RSA (2048 or 3072 bits) because the wire signatures are RSA-SHA256. Files are
//! PEM in one directory; private keys are written with mode 0600.

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;
use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256, RsaKeySize,
    SanType, SerialNumber,
};

/// File names inside the CA directory.
pub const ROOT_CERT_FILE: &str = "root-ca.pem";
/// Root CA private key (PKCS#8 PEM, mode 0600).
pub const ROOT_KEY_FILE: &str = "root-ca.key";
/// STS signing certificate.
pub const STS_CERT_FILE: &str = "sts.pem";
/// STS signing private key (PKCS#8 PEM, mode 0600).
pub const STS_KEY_FILE: &str = "sts.key";

/// Errors of the CA and certificate helpers.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// File system error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The CA directory holds some files but not others.
    #[error("CA directory {0} is incomplete: {1}")]
    Incomplete(PathBuf, String),
    /// Certificate or key generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(String),
    /// A certificate or key could not be parsed.
    #[error("cannot parse {what}: {why}")]
    Parse {
        /// What was parsed.
        what: &'static str,
        /// Why it failed.
        why: String,
    },
    /// An argument was refused (bad CVR, empty name …).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A certificate is not issued by the expected issuer.
    #[error("certificate chain check failed: {0}")]
    Chain(String),
    /// PKCS#12 encoding failed.
    #[error("PKCS#12: {0}")]
    Pkcs12(String),
}

fn gen_err(e: impl std::fmt::Display) -> CaError {
    CaError::Generate(e.to_string())
}

/// Options for a new CA.
#[derive(Debug, Clone)]
pub struct CaOptions {
    /// Organisation name in the subjects.
    pub organisation: String,
    /// The operator's CVR number (8 digits), in the STS certificate subject.
    pub cvr: String,
    /// RSA key size.
    pub key_size: KeySize,
}

impl Default for CaOptions {
    fn default() -> Self {
        CaOptions {
            organisation: "fki".into(),
            cvr: "00000000".into(),
            key_size: KeySize::Rsa2048,
        }
    }
}

/// RSA key sizes offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySize {
    /// 2048 bits.
    Rsa2048,
    /// 3072 bits.
    Rsa3072,
}

impl KeySize {
    fn rcgen(self) -> RsaKeySize {
        match self {
            KeySize::Rsa2048 => RsaKeySize::_2048,
            KeySize::Rsa3072 => RsaKeySize::_3072,
        }
    }
}

/// A certificate with its private key.
#[derive(Clone)]
pub struct CertKey {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for CertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// A freshly issued certificate with its key and the chain up to the root.
#[derive(Clone, Debug)]
pub struct Issued {
    /// Certificate and key.
    pub cert_key: CertKey,
    /// Issuer chain, DER, root last (here: the root only).
    pub chain_der: Vec<Vec<u8>>,
}

impl Issued {
    /// The certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_key.cert_pem
    }
    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_key.cert_der
    }
    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> &str {
        &self.cert_key.key_pem
    }

    /// A PKCS#12 file (PBES2 AES-256, HMAC-SHA256) holding key, certificate and chain, as
    /// anvendersystemer import FOCES certificates.
    pub fn pkcs12_der(&self, password: &str) -> Result<Vec<u8>, CaError> {
        let key_der = pem_to_der(&self.cert_key.key_pem, "PRIVATE KEY")?;
        let key = p12_keystore::PrivateKey::from_der(&key_der)
            .map_err(|e| CaError::Pkcs12(e.to_string()))?;
        let mut certs = vec![
            p12_keystore::Certificate::from_der(&self.cert_key.cert_der)
                .map_err(|e| CaError::Pkcs12(e.to_string()))?,
        ];
        for c in &self.chain_der {
            certs.push(
                p12_keystore::Certificate::from_der(c)
                    .map_err(|e| CaError::Pkcs12(e.to_string()))?,
            );
        }
        let local_key_id =
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &self.cert_key.cert_der)
                .as_ref()
                .to_vec();
        let chain = p12_keystore::PrivateKeyChain::new(local_key_id, key, certs);
        let mut store = p12_keystore::KeyStore::new();
        store.add_entry("fki", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store
            .writer(password)
            .write()
            .map_err(|e| CaError::Pkcs12(e.to_string()))
    }
}

/// The local CA: root certificate and STS signing certificate, persisted in a directory.
pub struct Ca {
    dir: PathBuf,
    options: CaOptions,
    root: CertKey,
    sts: CertKey,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// Loads the CA from `dir`, creating the directory, the root CA and the STS certificate the
    /// first time (with [`CaOptions::default`]).
    pub fn load_or_create(dir: &Path) -> Result<Ca, CaError> {
        Self::load_or_create_with(dir, CaOptions::default())
    }

    /// As [`Ca::load_or_create`], with options for a new CA. If the root exists but the STS
    /// certificate does not, a new STS certificate is issued from the existing root.
    pub fn load_or_create_with(dir: &Path, options: CaOptions) -> Result<Ca, CaError> {
        check_cvr(&options.cvr)?;
        fs::create_dir_all(dir).map_err(|source| CaError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let root_cert = dir.join(ROOT_CERT_FILE);
        let root_key = dir.join(ROOT_KEY_FILE);
        let root = match (root_cert.exists(), root_key.exists()) {
            (true, true) => CertKey {
                cert_der: pem_to_der(&read(&root_cert)?, "CERTIFICATE")?,
                cert_pem: read(&root_cert)?,
                key_pem: read(&root_key)?,
            },
            (false, false) => {
                if dir.join(STS_CERT_FILE).exists() {
                    return Err(CaError::Incomplete(
                        dir.to_owned(),
                        "STS certificate present without a root CA".into(),
                    ));
                }
                let root = new_root(&options)?;
                write_public(&root_cert, &root.cert_pem)?;
                write_private(&root_key, &root.key_pem)?;
                root
            }
            _ => {
                return Err(CaError::Incomplete(
                    dir.to_owned(),
                    format!("need both {ROOT_CERT_FILE} and {ROOT_KEY_FILE}"),
                ));
            }
        };
        let sts_cert = dir.join(STS_CERT_FILE);
        let sts_key = dir.join(STS_KEY_FILE);
        let mut ca = Ca {
            dir: dir.to_owned(),
            options,
            sts: root.clone(),
            root,
        };
        ca.sts = match (sts_cert.exists(), sts_key.exists()) {
            (true, true) => CertKey {
                cert_der: pem_to_der(&read(&sts_cert)?, "CERTIFICATE")?,
                cert_pem: read(&sts_cert)?,
                key_pem: read(&sts_key)?,
            },
            (false, false) => {
                let name = format!("{} STS", ca.options.organisation);
                let cvr = ca.options.cvr.clone();
                let sts = ca.issue(function_subject(&name, &cvr)?, Purpose::Signing)?;
                write_public(&sts_cert, &sts.cert_key.cert_pem)?;
                write_private(&sts_key, &sts.cert_key.key_pem)?;
                sts.cert_key
            }
            _ => {
                return Err(CaError::Incomplete(
                    dir.to_owned(),
                    format!("need both {STS_CERT_FILE} and {STS_KEY_FILE}"),
                ));
            }
        };
        verify_issued_by(&ca.sts.cert_der, &ca.root.cert_der, Utc::now())?;
        Ok(ca)
    }

    /// The directory the CA lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The root CA certificate (without its key).
    pub fn root_cert_der(&self) -> &[u8] {
        &self.root.cert_der
    }

    /// The root CA certificate, PEM.
    pub fn root_cert_pem(&self) -> &str {
        &self.root.cert_pem
    }

    /// The STS signing certificate and key.
    pub fn sts(&self) -> &CertKey {
        &self.sts
    }

    /// Issues a function certificate (FOCES-like) for an anvendersystem of the myndighed `cvr`:
    /// subject `C=DK, O=<name> // CVR:<cvr>, serialNumber=CVR:<cvr>-FID:<random>,
    /// CN=<name> (funktionscertifikat)`, valid for 3 years.
    pub fn issue_system_certificate(&self, name: &str, cvr: &str) -> Result<Issued, CaError> {
        self.issue(function_subject(name, cvr)?, Purpose::Signing)
    }

    /// Issues a TLS server certificate for `hostnames` (DNS names or IP addresses, as SANs).
    pub fn issue_server_certificate(&self, hostnames: &[&str]) -> Result<Issued, CaError> {
        let first = hostnames
            .first()
            .ok_or_else(|| CaError::Invalid("at least one hostname is required".into()))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "DK");
        dn.push(DnType::OrganizationName, self.options.organisation.as_str());
        dn.push(DnType::CommonName, *first);
        let mut sans = Vec::new();
        for h in hostnames {
            if let Ok(ip) = h.parse::<IpAddr>() {
                sans.push(SanType::IpAddress(ip));
            } else {
                let name = (*h)
                    .try_into()
                    .map_err(|_| CaError::Invalid(format!("not a DNS name: {h:?}")))?;
                sans.push(SanType::DnsName(name));
            }
        }
        self.issue(dn, Purpose::Server(sans))
    }

    /// Checks that `cert_der` was issued (signed) by this CA's root and is valid now.
    pub fn verify_issued(&self, cert_der: &[u8]) -> Result<(), CaError> {
        verify_issued_by(cert_der, &self.root.cert_der, Utc::now())
    }

    fn issue(&self, subject: DistinguishedName, purpose: Purpose) -> Result<Issued, CaError> {
        let root_key = KeyPair::from_pem_and_sign_algo(&self.root.key_pem, &PKCS_RSA_SHA256)
            .map_err(|e| CaError::Parse {
                what: "root CA key",
                why: e.to_string(),
            })?;
        let issuer = Issuer::from_ca_cert_pem(&self.root.cert_pem, root_key).map_err(|e| {
            CaError::Parse {
                what: "root CA certificate",
                why: e.to_string(),
            }
        })?;
        let key = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, self.options.key_size.rcgen())
            .map_err(gen_err)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = subject;
        params.serial_number = Some(random_serial()?);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(3 * 365);
        params.use_authority_key_identifier_extension = true;
        match purpose {
            Purpose::Signing => {
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::ContentCommitment,
                    KeyUsagePurpose::KeyEncipherment,
                    KeyUsagePurpose::DataEncipherment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
            Purpose::Server(sans) => {
                params.subject_alt_names = sans;
                params.key_usages = vec![
                    KeyUsagePurpose::DigitalSignature,
                    KeyUsagePurpose::KeyEncipherment,
                ];
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }
        }
        let cert = params.signed_by(&key, &issuer).map_err(gen_err)?;
        Ok(Issued {
            cert_key: CertKey {
                cert_der: cert.der().to_vec(),
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
            chain_der: vec![self.root.cert_der.clone()],
        })
    }
}

enum Purpose {
    Signing,
    Server(Vec<SanType>),
}

fn new_root(options: &CaOptions) -> Result<CertKey, CaError> {
    let key =
        KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, options.key_size.rcgen()).map_err(gen_err)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "DK");
    dn.push(DnType::OrganizationName, options.organisation.as_str());
    dn.push(
        DnType::CommonName,
        format!("{} lokal rod-CA", options.organisation),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(random_serial()?);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(10 * 365);
    let cert = params.self_signed(&key).map_err(gen_err)?;
    Ok(CertKey {
        cert_der: cert.der().to_vec(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn check_cvr(cvr: &str) -> Result<(), CaError> {
    if cvr.len() == 8 && cvr.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(CaError::Invalid(format!("CVR must be 8 digits: {cvr:?}")))
    }
}

/// The FOCES-like subject of a function certificate.
fn function_subject(name: &str, cvr: &str) -> Result<DistinguishedName, CaError> {
    check_cvr(cvr)?;
    if name.trim().is_empty() {
        return Err(CaError::Invalid("name must not be empty".into()));
    }
    let mut fid_bytes = [0u8; 4];
    aws_lc_rs::rand::fill(&mut fid_bytes).map_err(gen_err)?;
    let fid = 10_000_000 + u32::from_be_bytes(fid_bytes) % 90_000_000;
    let serial = format!("CVR:{cvr}-FID:{fid}");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "DK");
    dn.push(DnType::OrganizationName, format!("{name} // CVR:{cvr}"));
    dn.push(
        DnType::CustomDnType(vec![2, 5, 4, 5]),
        DnValue::PrintableString(
            serial
                .as_str()
                .try_into()
                .map_err(|_| CaError::Invalid(format!("serialNumber {serial:?}")))?,
        ),
    );
    dn.push(DnType::CommonName, format!("{name} (funktionscertifikat)"));
    Ok(dn)
}

fn random_serial() -> Result<SerialNumber, CaError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(gen_err)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn read(path: &Path) -> Result<String, CaError> {
    fs::read_to_string(path).map_err(|source| CaError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write_public(path: &Path, content: &str) -> Result<(), CaError> {
    fs::write(path, content).map_err(|source| CaError::Io {
        path: path.to_owned(),
        source,
    })
}

fn write_private(path: &Path, content: &str) -> Result<(), CaError> {
    let io = |source| CaError::Io {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path).map_err(io)?;
    f.write_all(content.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Facts about a certificate, for logs, admin pages and agreements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject, RFC 4514 style as printed by x509-parser (`C=DK, O=…, CN=…`).
    pub subject: String,
    /// Subject in the `X509SubjectName` form KOMBIT puts in `NameID` (most specific RDN
    /// first: `CN=…, SERIALNUMBER=…, O=…, C=DK`).
    pub subject_x509_name: String,
    /// Issuer, as `subject`.
    pub issuer: String,
    /// Serial number, lower-case hex.
    pub serial_hex: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// SHA-256 fingerprint of the DER, lower-case hex.
    pub sha256_hex: String,
    /// SHA-1 fingerprint (thumbprint) of the DER, lower-case hex.
    pub sha1_hex: String,
    /// `serialNumber` attribute of the subject (`CVR:…-FID:…`), if any.
    pub subject_serial_number: Option<String>,
}

/// SHA-256 fingerprint, lower-case hex.
pub fn fingerprint_sha256(der: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, der).as_ref())
}

/// SHA-1 thumbprint, lower-case hex (what Windows and WS-Security `ThumbprintSHA1` use).
pub fn thumbprint_sha1(der: &[u8]) -> String {
    hex(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_x509(der: &[u8]) -> Result<x509_parser::certificate::X509Certificate<'_>, CaError> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| CaError::Parse {
        what: "certificate",
        why: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(CaError::Parse {
            what: "certificate",
            why: "trailing data after DER".into(),
        });
    }
    Ok(cert)
}

fn to_chrono(t: x509_parser::time::ASN1Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Reads the facts of a DER certificate.
pub fn cert_info(der: &[u8]) -> Result<CertInfo, CaError> {
    let cert = parse_x509(der)?;
    let subject_serial_number = cert
        .subject()
        .iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER)
        .next()
        .and_then(|a| a.as_str().ok())
        .map(str::to_owned);
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        subject_x509_name: x509_subject_name(cert.subject()),
        issuer: cert.issuer().to_string(),
        serial_hex: hex(cert.raw_serial()),
        not_before: to_chrono(cert.validity().not_before),
        not_after: to_chrono(cert.validity().not_after),
        sha256_hex: fingerprint_sha256(der),
        sha1_hex: thumbprint_sha1(der),
        subject_serial_number,
    })
}

/// `CN=…, SERIALNUMBER=…, O=…, C=DK`: RDNs most specific first, as Java's X500Principal prints
/// them (the `NameID` of KOMBIT's assertions).
fn x509_subject_name(name: &x509_parser::x509::X509Name<'_>) -> String {
    use x509_parser::oid_registry as oids;
    let mut rdns = Vec::new();
    for rdn in name.iter() {
        let mut parts = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type();
            let key = if *oid == oids::OID_X509_COMMON_NAME {
                "CN".to_owned()
            } else if *oid == oids::OID_X509_SERIALNUMBER {
                "SERIALNUMBER".to_owned()
            } else if *oid == oids::OID_X509_ORGANIZATION_NAME {
                "O".to_owned()
            } else if *oid == oids::OID_X509_ORGANIZATIONAL_UNIT {
                "OU".to_owned()
            } else if *oid == oids::OID_X509_COUNTRY_NAME {
                "C".to_owned()
            } else if *oid == oids::OID_X509_LOCALITY_NAME {
                "L".to_owned()
            } else {
                oid.to_id_string()
            };
            let value = atv.as_str().unwrap_or("").replace(',', "\\,");
            parts.push(format!("{key}={value}"));
        }
        rdns.push(parts.join(" + "));
    }
    rdns.reverse();
    rdns.join(", ")
}

/// Checks that `cert_der` is signed by the key of `issuer_der`, names it as issuer, and that
/// both are valid at `now`.
pub fn verify_issued_by(
    cert_der: &[u8],
    issuer_der: &[u8],
    now: DateTime<Utc>,
) -> Result<(), CaError> {
    let cert = parse_x509(cert_der)?;
    let issuer = parse_x509(issuer_der)?;
    if cert.issuer().as_raw() != issuer.subject().as_raw() {
        return Err(CaError::Chain(format!(
            "issuer {} is not {}",
            cert.issuer(),
            issuer.subject()
        )));
    }
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|e| CaError::Chain(format!("signature by issuer does not verify: {e}")))?;
    for (what, c) in [("certificate", &cert), ("issuer", &issuer)] {
        let t = now.timestamp();
        if t < c.validity().not_before.timestamp() || t > c.validity().not_after.timestamp() {
            return Err(CaError::Chain(format!("{what} is not valid at {now}")));
        }
    }
    Ok(())
}

/// Decodes the first PEM block labelled `label` (e.g. `CERTIFICATE`, `PRIVATE KEY`).
pub fn pem_to_der(pem: &str, label: &str) -> Result<Vec<u8>, CaError> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin).ok_or_else(|| CaError::Parse {
        what: "PEM",
        why: format!("no {begin} block"),
    })? + begin.len();
    let stop = pem[start..].find(&end).ok_or_else(|| CaError::Parse {
        what: "PEM",
        why: format!("no {end}"),
    })? + start;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| CaError::Parse {
            what: "PEM",
            why: e.to_string(),
        })
}

/// Encodes DER as PEM with the given label.
pub fn der_to_pem(der: &[u8], label: &str) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Reads a certificate given as PEM or DER and returns its DER (checked to parse).
pub fn parse_certificate(bytes: &[u8]) -> Result<Vec<u8>, CaError> {
    let der = match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN CERTIFICATE-----") => {
            pem_to_der(text, "CERTIFICATE")?
        }
        _ => bytes.to_vec(),
    };
    parse_x509(&der)?;
    Ok(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x509_name_order_and_fingerprints() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let sys = ca
            .issue_system_certificate("Testkommune ESDH", "12345678")
            .unwrap();
        let info = cert_info(sys.cert_der()).unwrap();
        assert!(
            info.subject_x509_name.starts_with(
                "CN=Testkommune ESDH (funktionscertifikat), SERIALNUMBER=CVR:12345678-FID:"
            ),
            "{}",
            info.subject_x509_name
        );
        assert!(
            info.subject_x509_name
                .ends_with("O=Testkommune ESDH // CVR:12345678, C=DK")
        );
        assert_eq!(info.sha256_hex.len(), 64);
        assert_eq!(info.sha1_hex.len(), 40);
        assert!(
            info.subject_serial_number
                .unwrap()
                .starts_with("CVR:12345678-FID:")
        );
        assert!(info.not_before < Utc::now() && info.not_after > Utc::now());
    }
}
