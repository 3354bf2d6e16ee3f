//! The native side's web page: a minimal HTTP/1.1 server for `index.html`
//! and the wasm-bindgen output (`pkg/`), which takes the page's result
//! back (`POST /result`). Enough for the demo and the test on loopback;
//! not a web server.

use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The largest result body the page may post.
const MAX_RESULT: usize = 64 * 1024;

/// The most a request's line and headers may take.
const MAX_HEAD: u64 = 16 * 1024;

/// How long one request may take.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves the page in `dir` (its `index.html` and `pkg/`) on `listener`
/// until the task is dropped; each result the page posts goes to
/// `results`.
pub async fn serve(listener: TcpListener, dir: PathBuf, results: mpsc::UnboundedSender<String>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (dir, results) = (dir.clone(), results.clone());
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &dir, &results)).await;
        });
    }
}

/// Answers one request, then closes.
async fn answer(
    stream: TcpStream,
    dir: &Path,
    results: &mpsc::UnboundedSender<String>,
) -> io::Result<()> {
    let mut stream = BufReader::new(stream);
    let mut head = (&mut stream).take(MAX_HEAD);
    let mut request = String::new();
    head.read_line(&mut request).await?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if head.read_line(&mut line).await? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let (status, kind, body) = match (method, path) {
        ("POST", "/result") if length <= MAX_RESULT => {
            let mut body = vec![0; length];
            stream.read_exact(&mut body).await?;
            let _ = results.send(String::from_utf8_lossy(&body).into_owned());
            ("200 OK", "text/plain", Vec::new())
        }
        ("GET", path) => match file(dir, path) {
            Some((file, kind)) => match tokio::fs::read(&file).await {
                Ok(body) => ("200 OK", kind, body),
                Err(_) => ("404 Not Found", "text/plain", b"not found".to_vec()),
            },
            None => ("404 Not Found", "text/plain", b"not found".to_vec()),
        },
        _ => ("400 Bad Request", "text/plain", Vec::new()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let stream = stream.get_mut();
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}

/// The file a path names, and its content type: `index.html`, or a file
/// directly in `pkg/` with a plain name; nothing else (no `..`, no other
/// directory, no separators of any platform).
fn file(dir: &Path, path: &str) -> Option<(PathBuf, &'static str)> {
    let path = path.split(['?', '#']).next().unwrap_or("/");
    if path == "/" || path == "/index.html" {
        return Some((dir.join("index.html"), "text/html; charset=utf-8"));
    }
    let name = path.strip_prefix("/pkg/")?;
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.starts_with('.') || !name.chars().all(plain) {
        return None;
    }
    let kind = match Path::new(name).extension()?.to_str()? {
        "js" => "text/javascript",
        "wasm" => "application/wasm",
        _ => return None,
    };
    Some((dir.join("pkg").join(name), kind))
}
