//! Calendar dates as day numbers, and the half-open periods (`virkning`) built from them.

use std::fmt;

use rand::Rng;
use serde_json::{Map, Value};

/// A calendar date, stored as days since 1970-01-01 (proleptic Gregorian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dato(i32);

impl Dato {
    pub const fn ymd(y: i32, m: u32, d: u32) -> Dato {
        // Howard Hinnant's days_from_civil.
        let y = if m <= 2 { y - 1 } else { y };
        let era = (if y >= 0 { y } else { y - 399 }) / 400;
        let yoe = y - era * 400;
        let mp = (m as i32 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Dato(era * 146_097 + doe - 719_468)
    }

    pub fn civil(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = (if z >= 0 { z } else { z - 146_096 }) / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    pub fn plus_dage(self, dage: i32) -> Dato {
        Dato(self.0 + dage)
    }

    /// The first day of a uniformly drawn month starting in `[fra, til)` (`fra` if none does).
    pub fn maanedsstart_mellem(rng: &mut impl Rng, fra: Dato, til: Dato) -> Dato {
        let (fy, fm, fd) = fra.civil();
        let foerste = if fd == 1 {
            fy * 12 + fm as i32 - 1
        } else {
            fy * 12 + fm as i32
        };
        let (ty, tm, _) = til.plus_dage(-1).civil();
        let sidste = ty * 12 + tm as i32 - 1;
        if sidste < foerste || til <= fra {
            return fra;
        }
        let n = rng.random_range(foerste..=sidste);
        Dato::ymd(n.div_euclid(12), n.rem_euclid(12) as u32 + 1, 1)
    }
}

impl Dato {
    /// `YYYY-MM-DD` (years 0..=9999), without going through `fmt`: this runs for every virkning.
    pub fn tekst(self) -> String {
        let (y, m, d) = self.civil();
        let y = y.clamp(0, 9999) as u32;
        let b = [
            b'0' + (y / 1000) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
            b'-',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b'-',
            b'0' + (d / 10) as u8,
            b'0' + (d % 10) as u8,
        ];
        String::from(std::str::from_utf8(&b).unwrap_or_default())
    }
}

impl fmt::Display for Dato {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tekst())
    }
}

/// A half-open valid-time period `[fra, til)`; `til = None` is `infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periode {
    pub fra: Dato,
    pub til: Option<Dato>,
}

impl Periode {
    pub fn fra(fra: Dato) -> Periode {
        Periode { fra, til: None }
    }
    pub fn mellem(fra: Dato, til: Option<Dato>) -> Periode {
        Periode { fra, til }
    }
    /// The LoRa `virkning` object.
    pub fn virkning(self) -> Value {
        let til = match self.til {
            Some(d) => d.tekst(),
            None => "infinity".to_string(),
        };
        let mut m = Map::with_capacity(2);
        m.insert("from".into(), Value::String(self.fra.tekst()));
        m.insert("to".into(), Value::String(til));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn civil_round_trip() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2007, 1, 1),
            (2000, 2, 29),
            (2024, 12, 31),
            (1899, 3, 1),
        ] {
            assert_eq!(Dato::ymd(y, m, d).civil(), (y, m, d));
        }
        assert_eq!(Dato::ymd(1970, 1, 1), Dato(0));
        assert_eq!(Dato::ymd(2007, 1, 1).to_string(), "2007-01-01");
        assert_eq!(Dato::ymd(1999, 12, 31).tekst(), "1999-12-31");
        let mut d = Dato::ymd(1999, 12, 25);
        for _ in 0..1000 {
            let (y, m, dd) = d.civil();
            assert_eq!(Dato::ymd(y, m, dd), d);
            d = d.plus_dage(1);
        }
    }

    #[test]
    fn months_stay_in_range() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let (a, b) = (Dato::ymd(2010, 3, 15), Dato::ymd(2011, 2, 1));
        for _ in 0..500 {
            let d = Dato::maanedsstart_mellem(&mut rng, a, b);
            assert!(d >= a && d < b, "{d}");
            assert_eq!(d.civil().2, 1);
        }
    }
}
