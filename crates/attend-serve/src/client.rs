//! A minimal blocking HTTP/1.1 client (one request per connection, or a
//! kept-alive [`Connection`]), for the integration tests and the load
//! generator (`examples/serve_load.rs`); it speaks to `attend serve` and
//! nothing more general is promised.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A response: status, headers (names lowercased) and body (de-chunked).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends `method path` with `headers` and `body` to `addr` (`host:port`) and
/// reads the whole response (the server closes the connection after it).
pub fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8], timeout: Duration) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse(&raw).ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

/// A kept-alive HTTP/1.1 connection, for clients that send many requests
/// (as HTTP libraries and browsers do): no connect, accept and close per request.
pub struct Connection {
    addr: String,
    stream: std::io::BufReader<TcpStream>,
}

impl Connection {
    pub fn open(addr: &str, timeout: Duration) -> std::io::Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.set_nodelay(true)?;
        Ok(Self { addr: addr.to_string(), stream: std::io::BufReader::new(s) })
    }

    /// `POST path` with a JSON body on this connection; reads the response
    /// by its `Content-Length` (or its chunks).
    pub fn post_json(&mut self, path: &str, body: &serde_json::Value) -> std::io::Result<Response> {
        use std::io::BufRead;
        let body = body.to_string();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes())?;
        s.write_all(body.as_bytes())?;
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
        let mut raw = Vec::new();
        loop {
            let n = self.stream.read_until(b'\n', &mut raw)?;
            if n == 0 {
                return Err(bad("the server closed the connection"));
            }
            if raw.ends_with(b"\r\n\r\n") {
                break;
            }
        }
        let mut r = parse(&raw).ok_or_else(|| bad("not an HTTP response"))?;
        if let Some(n) = r.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            let mut b = vec![0; n];
            self.stream.read_exact(&mut b)?;
            r.body = b;
        } else if r.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            let mut body = Vec::new();
            loop {
                let mut line = String::new();
                self.stream.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).map_err(|_| bad("bad chunk size"))?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
            r.body = body;
        }
        Ok(r)
    }
}

/// `POST path` with a JSON body.
pub fn post_json(addr: &str, path: &str, body: &serde_json::Value, headers: &[(&str, &str)]) -> std::io::Result<Response> {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    request(addr, "POST", path, &h, body.to_string().as_bytes(), Duration::from_secs(120))
}

fn parse(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked { dechunk(rest)? } else { rest.to_vec() };
    Some(Response { status, headers, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// The events of a server-sent-events body: (event name, data) pairs.
pub fn sse_events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|frame| {
            let mut name = String::from("message");
            let mut data: Vec<&str> = Vec::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            (!data.is_empty()).then(|| (name, data.join("\n")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_parse_plain_and_chunked() {
        let r = parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nX-A: b\r\n\r\nhi").unwrap();
        assert_eq!((r.status, r.header("x-a"), r.text().as_str()), (200, Some("b"), "hi"));
        let r = parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.text(), "abcde");
        assert!(parse(b"garbage").is_none());
    }

    #[test]
    fn sse_frames_split_into_events() {
        let ev = sse_events("event: token\ndata: {\"text\":\"a\"}\n\n: keep-alive\n\nevent: done\ndata: {}\n\n");
        assert_eq!(ev, vec![("token".to_string(), "{\"text\":\"a\"}".to_string()), ("done".to_string(), "{}".to_string())]);
    }
}
