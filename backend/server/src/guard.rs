//! Who may talk to the dashboard.
//!
//! A dashboard on localhost that starts work on request is reachable from every page the user
//! has open, so every request is checked:
//! - `Host` must name the dashboard (a loopback name with its port, or the bound address):
//!   a DNS-rebinding page that resolves its own name to 127.0.0.1 sends its own name and is
//!   refused.
//! - `Origin`, when present, must be the dashboard's own: another site's page can neither POST
//!   a run nor open the WebSocket (browsers always send Origin on both).
//! - When bound to a non-loopback address (only with `--allow-remote`), a token printed at
//!   start is required on every request: `?token=` once (it is then kept in a cookie) or an
//!   `Authorization: Bearer` header.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::AppState;

const TOKEN_COOKIE: &str = "futurescope_token";

/// The hosts and token the dashboard accepts.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    /// `host:port` values accepted in `Host` (lowercase).
    hosts: Vec<String>,
    token: Option<String>,
}

impl AccessPolicy {
    /// For a dashboard bound to `addr`: loopback names, plus the address itself.
    pub fn new(addr: SocketAddr, token: Option<String>) -> AccessPolicy {
        let port = addr.port();
        let mut hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
        let own = match addr {
            SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
            SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
        };
        if !hosts.contains(&own) && !addr.ip().is_unspecified() {
            hosts.push(own);
        }
        if port == 80 {
            hosts.extend(["127.0.0.1".into(), "localhost".into(), "[::1]".into()]);
        }
        AccessPolicy { hosts, token }
    }

    /// Adds a host name (for example a machine name when `--allow-remote` is used).
    pub fn allow_host(&mut self, host: &str) {
        let host = host.to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            self.hosts.push(host);
        }
    }

    /// With `--allow-remote`: also accepts `Host` values naming this machine on `port` (every
    /// name in `names`: addresses, the host name, `--public-host` entries, with or without a
    /// port of their own).
    pub fn allow_names(&mut self, names: &[String], port: u16) {
        for name in names {
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() {
                continue;
            }
            let with_port = match name.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
                Ok(std::net::IpAddr::V4(ip)) => format!("{ip}:{port}"),
                // A name that already carries a port ("dash.example:443" behind a proxy).
                Err(_) if name.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) => name.clone(),
                Err(_) => format!("{name}:{port}"),
            };
            self.allow_host(&with_port);
            if port == 80 {
                self.allow_host(with_port.trim_end_matches(":80"));
            }
        }
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn host_ok(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.hosts.contains(&host)
    }

    fn origin_ok(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        origin.strip_prefix("http://").is_some_and(|rest| self.host_ok(rest))
    }

    fn token_ok(&self, headers: &HeaderMap, query: Option<&str>) -> (bool, bool) {
        let Some(token) = &self.token else { return (true, false) };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|t| constant_time_eq(t, token));
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix(TOKEN_COOKIE).and_then(|r| r.strip_prefix('=')))
            .any(|t| constant_time_eq(t, token));
        let in_query = query
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.strip_prefix("token="))
            .any(|t| constant_time_eq(t, token));
        (bearer || cookie || in_query, in_query)
    }
}

pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse(status: StatusCode, reason: String) -> Response {
    (status, axum::Json(json!({ "error": reason }))).into_response()
}

/// Middleware: refuses requests that fail the policy, with a reason.
pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let policy = &state.access;
    let headers = req.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !policy.host_ok(host) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "refused: Host `{}` is not this dashboard (open it as http://127.0.0.1:PORT); this protects against DNS rebinding",
                host.chars().take(100).collect::<String>()
            ),
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !policy.origin_ok(origin) {
            return refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "refused: requests from origin `{}` may not drive this dashboard",
                    origin.chars().take(100).collect::<String>()
                ),
            );
        }
    }
    let (token_ok, token_in_query) = policy.token_ok(headers, req.uri().query());
    if !token_ok {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "refused: this dashboard listens beyond loopback and needs the token printed at its start (?token=...)"
                .into(),
        );
    }
    let mut response = next.run(req).await;
    if token_in_query && let Some(token) = policy.token() {
        let cookie = format!("{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

/// The names this machine is reachable as, for a server bound to `ip`: the address itself or,
/// for an unspecified address (`0.0.0.0`, `[::]`), every interface address of that family
/// (both families for `[::]`), then the host name. Loopback addresses are left out (they are
/// always accepted).
pub fn machine_names(ip: std::net::IpAddr) -> Vec<String> {
    let mut out = Vec::new();
    if !ip.is_unspecified() {
        out.push(ip.to_string());
    } else {
        for a in interface_addresses() {
            if a.is_loopback() || (ip.is_ipv4() && !a.is_ipv4()) {
                continue;
            }
            if let std::net::IpAddr::V6(v6) = a
                && v6.segments()[0] & 0xffc0 == 0xfe80
            {
                continue; // link-local: needs a zone id no browser sends in Host
            }
            out.push(a.to_string());
        }
    }
    if let Some(name) = host_name() {
        out.push(name);
    }
    out
}

fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty() && name != "localhost").then_some(name)
}

fn interface_addresses() -> Vec<std::net::IpAddr> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return out;
    }
    let mut cur = list;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says which struct it is.
            let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
            if family == libc::AF_INET {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(std::net::IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))));
            } else if family == libc::AF_INET6 {
                // SAFETY: an AF_INET6 address is a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(std::net::IpAddr::V6(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `list` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(list) };
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_with_and_without_their_own_port() {
        let mut p = AccessPolicy::new("0.0.0.0:6680".parse().unwrap(), Some("t".into()));
        assert!(!p.host_ok("0.0.0.0:6680"), "nobody can browse to 0.0.0.0");
        p.allow_names(&["10.0.0.7".into(), "Box.LAN".into(), "fe80::1".into(), "dash.example:443".into()], 6680);
        assert!(p.host_ok("10.0.0.7:6680"));
        assert!(p.host_ok("box.lan:6680"));
        assert!(p.host_ok("[fe80::1]:6680"));
        assert!(p.host_ok("dash.example:443"));
        assert!(!p.host_ok("10.0.0.7:6681"));
        assert!(!p.host_ok("evil.example:6680"));
        assert!(p.origin_ok("http://box.lan:6680"));
    }

    #[test]
    fn the_machine_has_names() {
        let names = machine_names("0.0.0.0".parse().unwrap());
        assert!(names.iter().all(|n| n != "127.0.0.1" && n != "0.0.0.0"), "{names:?}");
        assert_eq!(machine_names("10.9.8.7".parse().unwrap())[0], "10.9.8.7");
    }

    #[test]
    fn loopback_names_with_the_port() {
        let p = AccessPolicy::new("127.0.0.1:6680".parse().unwrap(), None);
        assert!(p.host_ok("127.0.0.1:6680"));
        assert!(p.host_ok("LOCALHOST:6680"));
        assert!(p.host_ok("[::1]:6680"));
        assert!(!p.host_ok("127.0.0.1:6681"));
        assert!(!p.host_ok("evil.example:6680"));
        assert!(!p.host_ok(""));
        assert!(p.origin_ok("http://localhost:6680"));
        assert!(!p.origin_ok("https://localhost:6680"));
        assert!(!p.origin_ok("http://evil.example"));
        assert!(!p.origin_ok("null"));
    }
}
