//! Access tokens of the REST flow (step 2, `POST /service/AccessTokenService_1/token`).
//!
//! Design: **opaque random tokens with a server-side table**, not self-contained MAC'd tokens.
//! A token is 32 random bytes, base64url without padding (43 characters). The table maps the
//! SHA-256 of the token (the token itself is not kept) to what the verified assertion said —
//! CVR, audience, system, service, the holder-of-key certificate's fingerprint — and an expiry
//! (one hour, never beyond the assertion's `NotOnOrAfter`).
//!
//! Consequences, by choice: tokens die with the process (a client asks again: step 1 and 2 take
//! milliseconds); the table is bounded ([`AccessTokens::new`]'s capacity, expired entries are
//! swept when it fills; a full table of live tokens refuses new ones rather than evict live
//! ones); the agreement is re-checked on every use, so revocation works immediately either way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use fki_sts::bpp::PrivilegeList;
use rand::RngCore;
use uuid::Uuid;

/// What an access token stands for.
#[derive(Debug, Clone)]
pub struct AccessEntry {
    pub cvr: String,
    /// The service's entity ID (the assertion's audience).
    pub audience: String,
    /// SHA-256 (lower-case hex) of the holder-of-key certificate.
    pub certificate_sha256: Arc<str>,
    pub system: Uuid,
    pub service: Uuid,
    /// The assertion it was exchanged for.
    pub assertion_id: String,
    pub privileges: PrivilegeList,
    pub expires: Instant,
}

/// The table is full of live tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableFull;

/// The bounded access-token table.
#[derive(Debug)]
pub struct AccessTokens {
    map: Mutex<HashMap<String, Arc<AccessEntry>>>,
    capacity: usize,
}

fn key(token: &str) -> String {
    fki_sts::ca::fingerprint_sha256(token.as_bytes())
}

impl AccessTokens {
    pub fn new(capacity: usize) -> AccessTokens {
        AccessTokens {
            map: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// A new token for `entry`.
    pub fn insert(&self, entry: AccessEntry) -> Result<String, TableFull> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.capacity {
            let now = Instant::now();
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.capacity {
                return Err(TableFull);
            }
        }
        map.insert(key(&token), Arc::new(entry));
        Ok(token)
    }

    /// The live entry of `token`, if any.
    pub fn get(&self, token: &str) -> Option<Arc<AccessEntry>> {
        let k = key(token);
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&k) {
            Some(e) if e.expires > Instant::now() => Some(e.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Remove every token held by the certificate `sha` (its tokens expire at once); how many.
    pub fn fjern_certifikat(&self, sha: &str) -> usize {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        let foer = map.len();
        map.retain(|_, e| &*e.certificate_sha256 != sha);
        foer - map.len()
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Seconds until `expires` (0 if past).
pub fn seconds_left(expires: Instant) -> u64 {
    expires
        .saturating_duration_since(Instant::now())
        .as_secs_f64()
        .round() as u64
}

/// The lifetime of an access token.
pub const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(expires: Instant) -> AccessEntry {
        AccessEntry {
            cvr: "12345678".into(),
            audience: "a".into(),
            certificate_sha256: "00".into(),
            system: Uuid::nil(),
            service: Uuid::nil(),
            assertion_id: "_x".into(),
            privileges: PrivilegeList::default(),
            expires,
        }
    }

    #[test]
    fn bounded_and_expiring() {
        let t = AccessTokens::new(2);
        let live = Instant::now() + Duration::from_secs(60);
        let a = t.insert(entry(live)).unwrap();
        assert_eq!(a.len(), 43);
        let b = t.insert(entry(Instant::now())).unwrap();
        assert!(t.get(&a).is_some());
        assert!(t.get(&b).is_none(), "expired");
        assert!(t.get("nonsense").is_none());
        // b was removed on lookup; fill up with live ones, then refuse.
        t.insert(entry(live)).unwrap();
        assert_eq!(t.insert(entry(live)), Err(TableFull));
        // Expiring a certificate's tokens removes them all, and only them.
        assert_eq!(t.fjern_certifikat("11"), 0);
        assert_eq!(t.fjern_certifikat("00"), 2);
        assert!(t.get(&a).is_none());
        assert!(t.is_empty());
    }
}
