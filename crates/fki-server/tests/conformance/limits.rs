//! The request body limit (`Config.body_limit`): 413 with a JSON body.

use reqwest::Method;

use crate::fixtures::*;
use crate::harness::*;

const LIMIT: usize = 4096;

async fn body_limit(s: &Srv) {
    let small = enhed("lille", "Lille");
    let u = s.create(ENHED, &small).await;

    let big = enhed("stor", &"x".repeat(2 * LIMIT));
    for (method, path) in [
        (Method::POST, format!("/{ENHED}")),
        (Method::PUT, format!("/{ENHED}/{u}")),
        (Method::PATCH, format!("/{ENHED}/{u}")),
    ] {
        let r = s
            .send(
                method,
                &path,
                Some(("application/json", serde_json::to_vec(&big).unwrap())),
            )
            .await
            .expect(413);
        assert!(
            r.content_type.starts_with("application/json"),
            "{}",
            r.content_type
        );
        assert!(!r.message().is_empty(), "{}", r.text);
    }
    // Nothing changed.
    assert_eq!(s.history(ENHED, u).await.len(), 1);
    assert_eq!(s.search(ENHED, &[("bvn", "stor")]).await, NONE);
    // Just under the limit is fine.
    let fits = enhed("passer", &"y".repeat(LIMIT - 600));
    assert!(serde_json::to_vec(&fits).unwrap().len() < LIMIT);
    s.create(ENHED, &fits).await;
}
both!(
    body_limit,
    config = |c: &mut fki_server::Config| c.body_limit = LIMIT
);
