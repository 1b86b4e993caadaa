//! # fki-cpr: a synthetic population for the person and company registers
//!
//! Real CPR data is off limits in development, so fki generates people and companies whose
//! numbers, names, addresses and family ties look and validate like the real ones, and serves
//! them through the real interfaces (issue 7).
//!
//! - [`nummer`]: CPR numbers (date, century digit, modulus 11 where CPR used it, sex digit) and
//!   CVR numbers (modulus 11), P-numbers;
//! - [`population`]: the deterministic generator (same municipality, size and seed → the same
//!   people, byte for byte);
//! - [`register`]: the people and companies the services answer from (read from the files
//!   `fki population generate` writes);
//! - [`personlookup`]: SF1520 PersonBaseDataExtended v4 `PersonLookup`, request and answer;
//! - [`soeg`]: the Query service (by name, address, birth date), as REST/JSON;
//! - [`haendelse`]: CPR events (SF1320_A): the simulated changes, applied with history, and
//!   their log;
//! - [`samling`]: SF1525 Persondata Samling Hent, a person's data areas with history.

pub mod cvr;
pub mod haendelse;
pub mod nummer;
pub mod personlookup;
pub mod population;
pub mod register;
pub mod samling;
pub mod soeg;
