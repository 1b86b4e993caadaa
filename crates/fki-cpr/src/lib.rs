//! # fki-cpr: a synthetic population for the person and company registers
//!
//! Real CPR data is off limits in development, so fki generates people and companies whose
//! numbers, names, addresses and family ties look and validate like the real ones, and serves
//! them through the real interfaces (issue 7).
//!
//! - [`nummer`]: CPR numbers (date, century digit, modulus 11 where CPR used it, sex digit) and
//!   CVR numbers (modulus 11), P-numbers;
//! - [`population`]: the deterministic generator (same municipality, size and seed → the same
//!   people, byte for byte).

pub mod nummer;
pub mod population;
