//! A plain-HTTP proxy for tests against a real API server that must stop one request on its way:
//! `kubectl proxy` does the TLS and authentication, and in front of it this proxy forwards each request
//! (one per connection: it answers with `Connection: close`), logs its request line and the answer's
//! status, and hands the first request whose URL contains a given piece to a callback before
//! forwarding it — e.g. to hold a LIST's second page until its continue token has expired.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// What the callback gets: the held request's path and query (as sent to the API server).
pub type Hold = Arc<dyn Fn(&str) + Send + Sync>;

/// The request path fragments to hold, and how, once armed.
type Armed = Arc<Mutex<Option<(Vec<String>, Hold)>>>;

pub struct HoldingProxy {
    kubectl_proxy: Child,
    pub port: u16,
    /// (request line, answer status) of every request, in order of answer.
    pub log: Arc<Mutex<Vec<(String, u16)>>>,
    /// The URL pieces that together trigger the hold, and the callback; taken (disarmed) when it fires.
    armed: Armed,
}

impl HoldingProxy {
    /// A proxy to the server of `kubeconfig` (its current context).
    pub fn start(kubeconfig: &Path) -> HoldingProxy {
        let mut kubectl_proxy = Command::new("kubectl")
            .args(["proxy", "--port=0", "--kubeconfig"])
            .arg(kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("kubectl proxy");
        let mut line = String::new();
        BufReader::new(kubectl_proxy.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let upstream: u16 =
            line.trim().rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("kubectl proxy said: {line}"));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let armed: Armed = Arc::new(Mutex::new(None));
        let (log2, armed2) = (log.clone(), armed.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, armed) = (log2.clone(), armed2.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, upstream, &log, &armed);
                });
            }
        });
        HoldingProxy { kubectl_proxy, port, log, armed }
    }

    /// Hold the next request whose path and query contain every one of `pieces`: `hold` runs first.
    pub fn arm(&self, pieces: &[&str], hold: Hold) {
        *self.armed.lock().unwrap() = Some((pieces.iter().map(|p| p.to_string()).collect(), hold));
    }

    pub fn fired(&self) -> bool {
        self.armed.lock().unwrap().is_none()
    }

    /// A kubeconfig that reaches the server through this proxy (plain HTTP, no credentials).
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("via-proxy-{}.kubeconfig", self.port));
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: proxy\n  cluster:\n    server: http://127.0.0.1:{}\nusers:\n- name: proxy\n  user: {{}}\ncontexts:\n- name: proxy\n  context:\n    cluster: proxy\n    user: proxy\ncurrent-context: proxy\n",
            self.port
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for HoldingProxy {
    fn drop(&mut self) {
        let _ = self.kubectl_proxy.kill();
        let _ = self.kubectl_proxy.wait();
    }
}

fn serve(
    mut client: TcpStream,
    upstream: u16,
    log: &Mutex<Vec<(String, u16)>>,
    armed: &Mutex<Option<(Vec<String>, Hold)>>,
) -> std::io::Result<()> {
    // The request head, then its body (Content-Length).
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut headers: Vec<String> = lines.filter(|l| !l.is_empty()).map(String::from).collect();
    let length: usize = headers
        .iter()
        .find_map(|h| {
            h.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    client.read_exact(&mut body)?;
    let target = request_line.split(' ').nth(1).unwrap_or_default().to_string();
    let hold = {
        let mut armed = armed.lock().unwrap();
        if armed.as_ref().is_some_and(|(pieces, _)| pieces.iter().all(|p| target.contains(p.as_str()))) {
            armed.take().map(|(_, h)| h)
        } else {
            None
        }
    };
    if let Some(hold) = hold {
        hold(&target);
    }
    headers.retain(|h| !h.to_ascii_lowercase().starts_with("connection:"));
    headers.push("Connection: close".into());
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(format!("{request_line}\r\n{}\r\n\r\n", headers.join("\r\n")).as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    let status: u16 = String::from_utf8_lossy(&answer[..answer.len().min(64)]).split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    log.lock().unwrap().push((request_line, status));
    client.write_all(&answer)?;
    client.flush()
}
