//! A refused request body still gets its answer to the client: the server reads the rest of a
//! body it refused early (see `fki_server`'s `linger` module) instead of resetting the
//! connection under a client that is still sending, and it stops reading at a bound.
//!
//! Raw TCP on purpose: the client writes the body in slices, so a server that closes the
//! connection after answering makes those writes fail, which is what real clients saw as
//! "broken pipe" instead of a 413.

use std::time::Duration;

use fki_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SLICE: usize = 256 * 1024;

/// Send a `POST path` announcing `len` body bytes, written in slices with a pause between
/// them. Returns how many body bytes could be written and, if all could, the status line of
/// the answer.
async fn post_slowly(
    addr: &str,
    path: &str,
    extra_header: &str,
    len: usize,
) -> (usize, Option<String>) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {len}\r\n{extra_header}\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let slice = vec![b' '; SLICE];
    let mut written = 0;
    while written < len {
        let n = SLICE.min(len - written);
        if s.write_all(&slice[..n]).await.is_err() {
            return (written, None);
        }
        written += n;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&buf[..n]);
                if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&answer);
    (written, text.lines().next().map(str::to_owned))
}

#[tokio::test]
async fn refused_bodies_are_read_to_the_end_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_test(dir.path().to_path_buf(), None);
    config.dev_open = false;
    let limit = config.body_limit;
    let handle = fki_server::start(config).await.unwrap();
    let addr = handle.url().trim_start_matches("http://").to_owned();
    let token = std::fs::read_to_string(dir.path().join(fki_server::admin::TOKEN_FILE))
        .unwrap()
        .trim()
        .to_owned();

    // Refused before the body is looked at: no admin token.
    let (written, status) = post_slowly(&addr, "/admin/services", "", 4 * 1024 * 1024).await;
    assert_eq!(written, 4 * 1024 * 1024);
    let status = status.expect("an answer after the whole body");
    assert!(status.starts_with("HTTP/1.1 401"), "{status}");

    // Refused part-way through the body: over the body limit.
    let auth = format!("Authorization: Bearer {token}\r\n");
    let len = 3 * limit;
    let (written, status) = post_slowly(&addr, "/admin/services", &auth, len).await;
    assert_eq!(written, len, "the server stopped reading before the end");
    let status = status.expect("an answer after the whole body");
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");

    // The same on the Beskedfordeler's own, smaller limit.
    let (written, status) = post_slowly(&addr, "/beskedfordeler/afsend", "", 2 * 1024 * 1024).await;
    assert_eq!(written, 2 * 1024 * 1024);
    let status = status.expect("an answer after the whole body");
    assert!(
        status.starts_with("HTTP/1.1 401") || status.starts_with("HTTP/1.1 413"),
        "{status}"
    );

    // But not forever: past the linger bound the connection is closed under the sender.
    let huge = 1024 * 1024 * 1024;
    let (written, status) = post_slowly(&addr, "/admin/services", &auth, huge).await;
    assert!(status.is_none(), "a 1 GiB body was read to the end");
    assert!(written < 256 * 1024 * 1024, "{written} bytes were accepted");

    handle.shutdown().await.unwrap();
}
