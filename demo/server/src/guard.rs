//! Checks every request passes before any handler: its `Host` is one of the server's names, and
//! a state-changing request comes from the server's own pages or a trusted origin.
//!
//! The cross-origin check follows Go's `net/http.CrossOriginProtection` (Go 1.25): browsers
//! say where a request comes from in `Sec-Fetch-Site` (every current browser) or `Origin`, so a
//! form or `fetch` that another site's page fires at this server is refused, whatever it
//! carries, with no token to thread through the app. Requests from outside a browser carry
//! neither header and pass: they cannot borrow a user's cookies.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What the guard lets through.
#[derive(Debug, Clone)]
pub struct Guard {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The `Host` values the server answers to, lowercase.
    hosts: Vec<String>,
    /// Origins that may send state-changing requests besides the server's own.
    trusted: Vec<HeaderValue>,
}

impl Guard {
    /// A guard for a server listening on `addr`, also known as `hosts`, trusting `origins`.
    /// A loopback server also answers to `localhost`, and to both without a port (as proxies
    /// such as `trunk serve` send it): a rebinding page's host is a name of its own, never
    /// these. One listening on every interface answers only to the names given.
    pub fn new(addr: SocketAddr, hosts: &[String], origins: &[HeaderValue]) -> Self {
        let mut names: Vec<String> = hosts.iter().map(|host| host.to_ascii_lowercase()).collect();
        if !addr.ip().is_unspecified() {
            names.push(addr.to_string());
            if addr.ip().is_loopback() {
                let ip = match addr {
                    SocketAddr::V4(v4) => v4.ip().to_string(),
                    SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
                };
                names.extend([ip, format!("localhost:{}", addr.port()), "localhost".into()]);
            }
        }
        Self {
            shared: Arc::new(Shared {
                hosts: names,
                trusted: origins.to_vec(),
            }),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.shared.hosts.contains(&host)
    }

    /// Whether a request with these headers may change state (Go's algorithm).
    fn may_change_state(&self, request: &Request) -> bool {
        if matches!(
            *request.method(),
            Method::GET | Method::HEAD | Method::OPTIONS
        ) {
            return true;
        }
        let headers = request.headers();
        let origin = headers.get(header::ORIGIN);
        let trusted = origin.is_some_and(|origin| self.shared.trusted.contains(origin));
        if let Some(site) = headers.get("sec-fetch-site") {
            return site == "same-origin" || site == "none" || trusted;
        }
        let Some(origin) = origin else {
            // Neither header: not a browser, or one too old to say; it cannot be a forgery
            // riding on a user's cookies from another site in a current browser.
            return true;
        };
        if trusted {
            return true;
        }
        // Older browsers send `Origin` only: compare it with the request's own host.
        let host = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|origin| origin.split_once("://"))
            .map(|(_, host)| host);
        matches!((host, origin_host), (Some(host), Some(origin)) if host.eq_ignore_ascii_case(origin))
    }
}

/// `router` behind the guard for a server with `config`.
pub fn protect<S>(router: axum::Router<S>, config: &crate::Config) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let guard = Guard::new(config.addr, &config.allowed_hosts, &config.cors_origins);
    router.layer(axum::middleware::from_fn_with_state(guard, check))
}

/// The middleware: `400` for a foreign `Host` (as a DNS-rebinding page sends), `403` for a
/// cross-origin state-changing request.
pub async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    // Requests without `Host` do not come from browsers (HTTP/1.1 requires it of them).
    if let Some(host) = request.headers().get(header::HOST)
        && !host.to_str().is_ok_and(|host| guard.host_allowed(host))
    {
        tracing::warn!(host = ?host, "refused a request for a host this server is not");
        return (
            StatusCode::BAD_REQUEST,
            "this server does not answer to that host name",
        )
            .into_response();
    }
    if !guard.may_change_state(&request) {
        return (
            StatusCode::FORBIDDEN,
            "cross-origin request refused: state-changing requests come from this site's pages",
        )
            .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn guard() -> Guard {
        Guard::new(
            "127.0.0.1:3000".parse().expect("an address"),
            &["demo.example:443".to_owned()],
            &[HeaderValue::from_static("http://127.0.0.1:8080")],
        )
    }

    fn request(method: Method, headers: &[(&str, &str)]) -> Request {
        let mut request = Request::builder().method(method).uri("/api/x");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::empty()).expect("a request")
    }

    #[test]
    fn hosts_are_the_listening_address_localhost_and_the_names_given() {
        let guard = guard();
        for host in [
            "127.0.0.1:3000",
            "LOCALHOST:3000",
            "demo.example:443",
            "127.0.0.1",
        ] {
            assert!(guard.host_allowed(host), "{host}");
        }
        for host in [
            "evil.example:3000",
            "127.0.0.1:3001",
            "evil.example",
            "demo.example",
        ] {
            assert!(!guard.host_allowed(host), "{host}");
        }
        let everywhere = Guard::new("0.0.0.0:3000".parse().expect("an address"), &[], &[]);
        assert!(!everywhere.host_allowed("0.0.0.0:3000"));
    }

    #[test]
    fn cross_site_posts_are_refused_and_same_origin_ones_pass() {
        let guard = guard();
        type Case<'a> = (Method, &'a [(&'a str, &'a str)], bool);
        let cases: [Case<'_>; 9] = [
            (Method::GET, &[("sec-fetch-site", "cross-site")], true),
            (Method::POST, &[("sec-fetch-site", "same-origin")], true),
            (Method::POST, &[("sec-fetch-site", "none")], true),
            (
                Method::POST,
                &[
                    ("sec-fetch-site", "cross-site"),
                    ("origin", "https://evil.example"),
                ],
                false,
            ),
            // Same site, other origin (another port): refused unless trusted.
            (
                Method::DELETE,
                &[
                    ("sec-fetch-site", "same-site"),
                    ("origin", "http://127.0.0.1:9999"),
                ],
                false,
            ),
            (
                Method::PUT,
                &[
                    ("sec-fetch-site", "same-site"),
                    ("origin", "http://127.0.0.1:8080"),
                ],
                true,
            ),
            (Method::POST, &[], true),
            (
                Method::POST,
                &[
                    ("origin", "http://127.0.0.1:3000"),
                    ("host", "127.0.0.1:3000"),
                ],
                true,
            ),
            (
                Method::POST,
                &[
                    ("origin", "https://evil.example"),
                    ("host", "127.0.0.1:3000"),
                ],
                false,
            ),
        ];
        for (method, headers, allowed) in cases {
            let request = request(method.clone(), headers);
            assert_eq!(
                guard.may_change_state(&request),
                allowed,
                "{method} {headers:?}"
            );
        }
    }
}
