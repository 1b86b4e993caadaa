//! CPR, CVR and P-numbers.
//!
//! **CPR** (personnummer, `DDMMYY-SSSS`): the birth date, then a four-digit serial. The serial's
//! first digit together with the year gives the century (CPR-kontoret's table):
//!
//! | 7th digit | YY 00–36 | YY 37–57 | YY 58–99 |
//! |---|---|---|---|
//! | 0–3 | 19YY | 19YY | 19YY |
//! | 4, 9 | 20YY | 19YY | 19YY |
//! | 5–8 | 20YY | 20YY | 18YY |
//!
//! The last digit is odd for men and even for women. Numbers issued before 2007 satisfy the
//! modulus-11 check (weights 4 3 2 7 6 5 4 3 2 1); since 1 October 2007 numbers without it are
//! issued when a birth date's valid serials run out.
//!
//! **CVR** (8 digits): modulus 11 with weights 2 7 6 5 4 3 2 1, first digit not 0.
//! **P-nummer** (production unit, 10 digits): fki generates them with a leading `1`; no check
//! digit is defined publicly, so none is claimed.

use chrono::{Datelike, NaiveDate};

/// Sex as CPR records it (from the last digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Koen {
    Mand,
    Kvinde,
}

/// A CPR number, 10 digits without the hyphen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cpr([u8; 10]);

const CPR_WEIGHTS: [u32; 10] = [4, 3, 2, 7, 6, 5, 4, 3, 2, 1];
const CVR_WEIGHTS: [u32; 8] = [2, 7, 6, 5, 4, 3, 2, 1];

/// The century (as the first two digits of the year) a 7th digit and two-digit year give.
pub fn aarhundrede(syvende: u8, yy: u32) -> u32 {
    match (syvende, yy) {
        (0..=3, _) => 1900,
        (4 | 9, 0..=36) => 2000,
        (4 | 9, _) => 1900,
        (5..=8, 0..=57) => 2000,
        (5..=8, _) => 1800,
        _ => 1900,
    }
}

/// The 7th digits that give `year` (possibly none, e.g. 2058–2099).
pub fn syvende_cifre(year: i32) -> Vec<u8> {
    let yy = year.rem_euclid(100) as u32;
    (0..=9u8)
        .filter(|d| i64::from(aarhundrede(*d, yy)) + i64::from(yy) == i64::from(year))
        .collect()
}

impl Cpr {
    /// Parse `DDMMYYSSSS` or `DDMMYY-SSSS`; checks the date (with its century) but not the
    /// modulus 11 (see [`Cpr::modulus11`]).
    pub fn parse(s: &str) -> Option<Cpr> {
        let digits: Vec<u8> = s
            .bytes()
            .filter(|b| *b != b'-')
            .map(|b| b.wrapping_sub(b'0'))
            .collect();
        if digits.len() != 10 || digits.iter().any(|d| *d > 9) || s.len() > 11 {
            return None;
        }
        let mut a = [0u8; 10];
        a.copy_from_slice(&digits);
        let c = Cpr(a);
        c.foedselsdato().map(|_| c)
    }

    /// Build from a birth date and serial (0..=9999); `None` if the serial's first digit cannot
    /// give that date's century.
    pub fn new(dato: NaiveDate, loebenummer: u16) -> Option<Cpr> {
        if loebenummer > 9999 {
            return None;
        }
        let text = format!(
            "{:02}{:02}{:02}{:04}",
            dato.day(),
            dato.month(),
            dato.year().rem_euclid(100),
            loebenummer
        );
        let c = Cpr::parse(&text)?;
        (c.foedselsdato() == Some(dato)).then_some(c)
    }

    /// The birth date, with the century from the 7th digit; `None` if not a date.
    pub fn foedselsdato(&self) -> Option<NaiveDate> {
        let d = &self.0;
        let n = |i: usize| u32::from(d[i]) * 10 + u32::from(d[i + 1]);
        let yy = n(4);
        let year = aarhundrede(d[6], yy) + yy;
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, n(2), n(0))
    }

    /// Sex from the last digit.
    pub fn koen(&self) -> Koen {
        if self.0[9] % 2 == 1 {
            Koen::Mand
        } else {
            Koen::Kvinde
        }
    }

    /// Whether the number passes the modulus-11 check.
    pub fn modulus11(&self) -> bool {
        self.0
            .iter()
            .zip(CPR_WEIGHTS)
            .map(|(d, w)| u32::from(*d) * w)
            .sum::<u32>()
            % 11
            == 0
    }

    /// `DDMMYYSSSS`.
    pub fn as_digits(&self) -> String {
        self.0.iter().map(|d| char::from(b'0' + d)).collect()
    }

    /// `urn:oio:cpr-nr:DDMMYYSSSS`, as Beskedfordeler events name a person.
    pub fn urn(&self) -> String {
        format!("urn:oio:cpr-nr:{}", self.as_digits())
    }
}

impl std::fmt::Display for Cpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.as_digits();
        write!(f, "{}-{}", &s[..6], &s[6..])
    }
}

impl serde::Serialize for Cpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_digits())
    }
}

impl<'de> serde::Deserialize<'de> for Cpr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Cpr, D::Error> {
        let s = String::deserialize(d)?;
        Cpr::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("'{s}' is not a CPR number")))
    }
}

/// Whether an 8-digit string is a valid CVR number.
pub fn cvr_gyldig(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b.iter().all(u8::is_ascii_digit)
        && b[0] != b'0'
        && b.iter()
            .zip(CVR_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum::<u32>()
            % 11
            == 0
}

/// The valid CVR number with the 7 leading digits `stamme` (1_000_000..=9_999_999), if any:
/// the last digit is the check digit; stems whose check would be 10 have none.
pub fn cvr_med_kontrolciffer(stamme: u32) -> Option<String> {
    if !(1_000_000..=9_999_999).contains(&stamme) {
        return None;
    }
    let s = format!("{stamme:07}");
    let sum: u32 = s
        .bytes()
        .zip(CVR_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = (11 - sum % 11) % 11;
    (check < 10).then(|| format!("{s}{check}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centuries_follow_the_table() {
        let d = |s: &str| {
            Cpr::parse(s)
                .and_then(|c| c.foedselsdato())
                .map(|d| d.year())
        };
        assert_eq!(d("0101370000"), Some(1937));
        assert_eq!(d("0101364000"), Some(2036));
        assert_eq!(d("0101374000"), Some(1937));
        assert_eq!(d("0101575000"), Some(2057));
        assert_eq!(d("0101585000"), Some(1858));
        assert_eq!(d("0101009000"), Some(2000));
        assert_eq!(d("3102001234"), None);
        assert_eq!(syvende_cifre(1985), vec![0, 1, 2, 3, 4, 9]);
        assert_eq!(syvende_cifre(2020), vec![4, 5, 6, 7, 8, 9]);
        assert_eq!(syvende_cifre(1870), vec![5, 6, 7, 8]);
        assert_eq!(syvende_cifre(2050), vec![5, 6, 7, 8]);
        assert!(syvende_cifre(2060).is_empty());
    }

    #[test]
    fn modulus_11_and_sex() {
        // 070761-4285: a documented example number that passes the check.
        let c = Cpr::parse("070761-4285").unwrap();
        assert!(c.modulus11());
        assert_eq!(c.koen(), Koen::Mand);
        assert_eq!(c.to_string(), "070761-4285");
        assert!(!Cpr::parse("0707614286").unwrap().modulus11());
    }

    #[test]
    fn cvr_check_digit() {
        assert!(cvr_gyldig("12345674"));
        assert!(!cvr_gyldig("12345675"));
        assert!(!cvr_gyldig("02345674"));
        assert_eq!(cvr_med_kontrolciffer(1234567).as_deref(), Some("12345674"));
        for stem in 1_000_000..1_002_000 {
            if let Some(c) = cvr_med_kontrolciffer(stem) {
                assert!(cvr_gyldig(&c), "{c}");
            }
        }
    }
}
