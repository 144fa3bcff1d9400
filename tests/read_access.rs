//! The local read side on the real binary: nothing is shown without a
//! credential, a reviewer sees their workflows only, the login link signs in
//! once, and a request naming another host is refused (DNS rebinding).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::*;
use serde_json::Value;

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A GET written byte for byte, so the test chooses the `Host` header.
fn get(base: &str, path: &str, host: Option<&str>, headers: &[(&str, &str)]) -> Reply {
    let authority = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).unwrap();
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\n",
        host.unwrap_or(authority)
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    // The body may be chunked; the JSON answers here are one chunk.
    let body = match body.split_once("\r\n") {
        Some((size, rest))
            if u64::from_str_radix(size.trim(), 16).is_ok()
                && head.to_ascii_lowercase().contains("chunked") =>
        {
            rest.rsplit_once("\r\n0\r\n")
                .map_or(rest, |(b, _)| b)
                .to_string()
        }
        _ => body.to_string(),
    };
    Reply {
        status,
        head: head.to_string(),
        body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_read_side_needs_a_credential_and_shows_each_reviewer_their_own() {
    let dir = temp_dir("read-access");
    let up = Up::start(&UpOptions::new(&dir));
    let client = up.client();
    let support = support_run_awaiting_approval(&client, "access-1").await;
    let invoice = client
        .send("invoice-approval", &sample("invoice-approval"), "access-2")
        .await
        .unwrap();
    let base = up.url.clone();
    let run_path = format!("/runs/{support}");

    // No credential: nothing, on every route that shows run data.
    for path in [
        "/runs",
        run_path.as_str(),
        "/outbox",
        "/",
        &format!("/timeline/{support}"),
    ] {
        let reply = get(&base, path, None, &[]);
        assert_eq!(reply.status, 401, "{path}: {}", reply.body);
        assert!(!reply.body.contains("support-triage"), "{path}");
    }
    let forged = get(
        &base,
        "/runs",
        None,
        &[("Authorization", "Bearer hrt1.e30.AAAA")],
    );
    assert_eq!(forged.status, 401);

    // The right credential through another host name: refused before routing.
    let operator = client.authorization().unwrap();
    let rebound = get(
        &base,
        "/runs",
        Some("rebind.example:80"),
        &[("Authorization", &operator)],
    );
    assert_eq!(rebound.status, 421, "{}", rebound.body);
    let port = base.rsplit(':').next().unwrap();
    let by_name = get(
        &base,
        "/runs",
        Some(&format!("localhost:{port}")),
        &[("Authorization", &operator)],
    );
    assert_eq!(by_name.status, 200);

    // A reviewer of support-triage: its runs only, and not the console.
    let lead = handoff_token(&dir, &["lead@support.example.com"]);
    let bearer = format!("Bearer {lead}");
    let listed = get(&base, "/runs", None, &[("Authorization", &bearer)]).json();
    let workflows = strs(&listed["runs"], "workflow");
    assert!(workflows.contains(&"support-triage"), "{listed}");
    assert!(workflows.iter().all(|w| *w == "support-triage"), "{listed}");
    let hidden = get(
        &base,
        &format!("/runs/{invoice}"),
        None,
        &[("Authorization", &bearer)],
    );
    assert_eq!(hidden.status, 404);
    let console = get(&base, "/outbox", None, &[("Authorization", &bearer)]);
    assert_eq!(console.status, 403);
    // The dashboard is the deployment's page: their workflows' runs only.
    let dashboard = get(&base, "/", None, &[("Authorization", &bearer)]);
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert!(dashboard.body.contains(&support), "{}", dashboard.body);
    assert!(!dashboard.body.contains(&invoice), "{}", dashboard.body);

    // The login link: a session cookie once, never again.
    let link = {
        let lines = up.output.lock().unwrap();
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix("login").map(|r| r.trim().to_string()))
            .expect("handoff up prints a login link")
    };
    let path = link.strip_prefix(&base).unwrap();
    let signed_in = get(&base, path, None, &[]);
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let cookie = signed_in.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap();
    let read = get(&base, &run_path, None, &[("Cookie", session)]);
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(get(&base, path, None, &[]).status, 401, "the link is spent");
}
