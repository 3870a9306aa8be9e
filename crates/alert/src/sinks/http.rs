//! The HTTP stack shared by the webhook, Slack, Teams and Alertmanager sinks:
//! one reqwest client (rustls, ring provider, Mozilla roots), one more per
//! private CA, redirects not followed, and one status mapping.

use std::path::Path;
use std::time::Duration;

use reqwest::{Client, StatusCode, Url};

use super::{At, BuildError};
use crate::model::SinkError;

/// Connection set-up limit; the whole request has the sink's `timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of an error response's body goes into the error message.
const BODY_SNIPPET: usize = 300;

/// Clients handed to the HTTP sinks while building: the default one is shared.
#[derive(Default)]
pub(crate) struct Clients {
    default: Option<Client>,
}

impl Clients {
    /// The shared client, or a dedicated one that also trusts `ca_file` (PEM, one or more certificates).
    pub(crate) fn get(&mut self, at: &At, base_dir: &Path, ca_file: Option<&Path>) -> Result<Client, BuildError> {
        match ca_file {
            None => {
                if let Some(c) = &self.default {
                    return Ok(c.clone());
                }
                let c = builder()
                    .build()
                    .map_err(|e| at.err("url", format!("HTTP client: {e}")))?;
                self.default = Some(c.clone());
                Ok(c)
            }
            Some(p) => {
                let pem = super::read_file(at, "ca_file", base_dir, p)?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| at.err("ca_file", format!("not a PEM certificate bundle: {e}")))?;
                if certs.is_empty() {
                    return Err(at.err("ca_file", "no certificate in the file"));
                }
                let mut b = builder();
                for c in certs {
                    b = b.add_root_certificate(c);
                }
                b.build().map_err(|e| at.err("ca_file", format!("HTTP client: {e}")))
            }
        }
    }
}

fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("appwarden/", env!("CARGO_PKG_VERSION")))
}

/// Parses and checks an `http`/`https` URL.
pub(crate) fn parse_url(at: &At, field: &'static str, text: &str) -> Result<Url, BuildError> {
    // The URL may hold a token: the error shows no part of it.
    let url = Url::parse(text).map_err(|e| at.err(field, format!("not a valid URL ({e})")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(at.err(field, format!("scheme `{other}` is not http or https"))),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(at.err(field, "URL has no host"));
    }
    Ok(url)
}

/// `scheme://host[:port]`: the part of a URL that is safe to show.
pub(crate) fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{}://{host}:{p}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// `scheme://host[:port]/path` without user info, query or fragment.
pub(crate) fn origin_path(url: &Url) -> String {
    format!("{}{}", origin(url), url.path())
}

/// POSTs a JSON body and maps the outcome. `what` names the receiver in messages (no secrets).
pub(crate) async fn post_json(
    client: &Client,
    url: &Url,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
    what: &str,
) -> Result<(), SinkError> {
    let mut req = client
        .post(url.clone())
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.body(body).send().await.map_err(|e| transport_error(what, e))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = match tokio::time::timeout(Duration::from_secs(2), resp.bytes()).await {
        Ok(Ok(b)) => snippet(&b),
        _ => String::new(),
    };
    Err(status_error(what, status, &body))
}

/// 408, 429 and 5xx are worth retrying; any other non-2xx is not.
pub(crate) fn status_error(what: &str, status: StatusCode, body: &str) -> SinkError {
    let message = if body.is_empty() {
        format!("{what}: HTTP {status}")
    } else {
        format!("{what}: HTTP {status}: {body}")
    };
    if status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        SinkError::retry(message)
    } else {
        SinkError::permanent(message)
    }
}

fn transport_error(what: &str, e: reqwest::Error) -> SinkError {
    // reqwest's message names the URL, which may hold a token: drop it.
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "timed out: "
    } else if e.is_connect() {
        "cannot connect: "
    } else {
        ""
    };
    let message = format!("{what}: {kind}{}", error_chain(&e));
    if e.is_builder() {
        SinkError::permanent(message)
    } else {
        SinkError::retry(message)
    }
}

/// An error and its sources, `a: b: c`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(BODY_SNIPPET)]);
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
