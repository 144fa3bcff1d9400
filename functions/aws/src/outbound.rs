//! Where the HTTP adapters (actions, notifications, lookups) may connect.
//!
//! URLs come from the spec with values from the webhook in their path, so
//! the adapters hold three lines whatever a URL says:
//! - https only, unless the process opts in to plain http (the local
//!   runtime does, for its loopback receivers; the Lambdas never do);
//! - no loopback, private, link-local (the instance metadata endpoint),
//!   unspecified, multicast or otherwise non-public address, unless a spec
//!   names the host in `outbound.allow_private_hosts` (or the local runtime
//!   names its `--actions-to` receiver). The check runs in the client's DNS
//!   resolver, on the addresses it will connect to, so a name cannot pass
//!   the check and then resolve elsewhere; literal IP hosts are checked
//!   before the request;
//! - redirects are followed within the same origin only.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use handoff_spec::Catalog;
use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{redirect, Url};

#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Allow plain `http://` (the local runtime only).
    pub allow_http: bool,
    /// Host names or literal IPs that may resolve to non-public addresses.
    pub private_hosts: BTreeSet<String>,
}

impl OutboundPolicy {
    /// What the Lambdas use: https only; private addresses only for the
    /// hosts the deployed specs name in `outbound.allow_private_hosts`.
    pub fn for_catalog(catalog: &Catalog) -> Self {
        let private_hosts = catalog
            .names()
            .filter_map(|name| catalog.get(name))
            .flat_map(|w| w.spec.outbound.allow_private_hosts.clone())
            .map(|h| normalise(&h))
            .collect();
        Self {
            allow_http: false,
            private_hosts,
        }
    }

    /// Plain http allowed as well (the local runtime).
    pub fn allowing_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// One more host whose private addresses are allowed.
    pub fn allowing_private_host(mut self, host: &str) -> Self {
        self.private_hosts.insert(normalise(host));
        self
    }

    /// A client builder that holds the policy: the guarded resolver, the
    /// same-origin redirect rule, no proxy from the environment (a proxy
    /// would resolve names where this process cannot check them).
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                private_hosts: Arc::new(self.private_hosts.clone()),
            }))
            .redirect(same_origin_redirects())
            .https_only(!self.allow_http)
            .no_proxy()
            .user_agent(concat!("handoff/", env!("CARGO_PKG_VERSION")))
    }

    /// Checks what can be checked before connecting: the scheme, and a
    /// literal IP host (the resolver never sees those).
    pub fn check(&self, url: &str) -> Result<(), Refused> {
        let parsed = Url::parse(url).map_err(|e| Refused(format!("not a URL: {e}")))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            other => {
                return Err(Refused(format!(
                    "`{other}://` is not allowed here; outbound calls use https"
                )))
            }
        }
        let ip = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(Refused("the URL names no host".into())),
        };
        let host = parsed.host_str().unwrap_or_default();
        if !is_public(ip) && !self.private_hosts.contains(&normalise(host)) {
            return Err(Refused::private(host, ip));
        }
        Ok(())
    }
}

/// A call the policy stopped; never worth retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("outbound call refused: {0}")]
pub struct Refused(pub String);

impl Refused {
    fn private(host: &str, ip: IpAddr) -> Self {
        Refused(format!(
            "`{host}` is at {ip}, a private, loopback or link-local address; a spec may allow it by naming the host in `outbound.allow_private_hosts`"
        ))
    }

    /// The refusal inside a reqwest error, if the resolver made one.
    pub fn within(error: &reqwest::Error) -> Option<&Refused> {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = source {
            if let Some(refused) = e.downcast_ref::<Refused>() {
                return Some(refused);
            }
            source = e.source();
        }
        None
    }
}

/// A reqwest error fit for logs and the audit trail: without its URL
/// (URLs may carry credentials, a Slack webhook's path is one), with the
/// causes reqwest's own message leaves out.
pub fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Reads a body up to `max` bytes; `Ok((body, true))` when it was longer
/// (the rest is not read).
pub async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Ok((Vec::new(), true));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max {
            body.extend_from_slice(&chunk[..max - body.len()]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

fn same_origin_redirects() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(Url::origin);
        if attempt.previous().len() > 5 || first != Some(attempt.url().origin()) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

fn normalise(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

struct GuardedResolver {
    private_hosts: Arc<BTreeSet<String>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let private_hosts = self.private_hosts.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !private_hosts.contains(&normalise(&host)) {
                // Any non-public answer refuses the name: a mixed answer is
                // how DNS rebinding gets a second try.
                if let Some(addr) = addrs.iter().find(|a| !is_public(a.ip())) {
                    return Err(Box::new(Refused::private(&host, addr.ip())) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Ranges no outbound call may reach without an opt-in.
const NOT_PUBLIC: &[&str] = &[
    "0.0.0.0/8",      // "this network", unspecified
    "10.0.0.0/8",     // RFC 1918
    "100.64.0.0/10",  // carrier-grade NAT
    "127.0.0.0/8",    // loopback
    "169.254.0.0/16", // link-local, the instance metadata endpoint
    "172.16.0.0/12",  // RFC 1918
    "192.0.0.0/24",   // IETF protocol assignments
    "192.168.0.0/16", // RFC 1918
    "198.18.0.0/15",  // benchmarking
    "224.0.0.0/4",    // multicast
    "240.0.0.0/4",    // reserved, broadcast
    "::/128",         // unspecified
    "::1/128",        // loopback
    "fc00::/7",       // unique local
    "fe80::/10",      // link-local
    "fec0::/10",      // site-local (deprecated)
    "ff00::/8",       // multicast
];

/// Whether an address is on the public internet as far as outbound calls
/// care. IPv4 inside IPv6 (mapped, NAT64) is judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
                    let [.., a, b] = s;
                    IpAddr::V4(std::net::Ipv4Addr::new(
                        (a >> 8) as u8,
                        a as u8,
                        (b >> 8) as u8,
                        b as u8,
                    ))
                } else {
                    ip
                }
            }
        },
        IpAddr::V4(_) => ip,
    };
    !NOT_PUBLIC.iter().any(|net| {
        net.parse::<IpNet>()
            .expect("the ranges above parse")
            .contains(&ip)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_unspecified_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn plain_http_needs_the_opt_in() {
        let aws = OutboundPolicy::default();
        assert!(aws.check("https://api.example.com/x").is_ok());
        let err = aws.check("http://api.example.com/x").unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");
        assert!(aws
            .clone()
            .allowing_http()
            .check("http://api.example.com/x")
            .is_ok());
    }

    #[test]
    fn a_literal_private_ip_needs_the_host_named() {
        let policy = OutboundPolicy::default().allowing_http();
        for url in [
            "http://127.0.0.1:8080/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/x",
            "http://[fe80::1]/x",
            "http://0.0.0.0/x",
        ] {
            let err = policy.check(url).unwrap_err();
            assert!(
                err.to_string().contains("allow_private_hosts"),
                "{url}: {err}"
            );
        }
        let allowed = policy.allowing_private_host("127.0.0.1");
        assert!(allowed.check("http://127.0.0.1:8080/x").is_ok());
        assert!(allowed.check("http://10.0.0.1/x").is_err());
    }
}
