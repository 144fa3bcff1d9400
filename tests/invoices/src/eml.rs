//! The e-mail that brings an invoice to the accounts-payable inbox.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::fingerprint;
use crate::invoice::Invoice;

pub const AP_INBOX: &str = "ap@finance.example.com";

/// The body every invoice mail carries, and the text of every dataset row.
pub const BODY_TEXT: &str = "Please find our invoice attached.";

/// An RFC 5322 message from the supplier with the document attached
/// (multipart/mixed, base64). With `authenticated`, the receiving server's
/// `Authentication-Results` (SPF, DKIM and DMARC passing for the supplier's
/// domain) under that authserv-id. The Message-ID is made from the invoice
/// and the attachment: the same mail built twice is the same delivery.
pub fn eml(
    invoice: &Invoice,
    attachment: (&str, &str, &[u8]),
    authenticated: Option<&str>,
) -> Vec<u8> {
    let (file_name, mime, bytes) = attachment;
    let domain = invoice.supplier_domain();
    let print = hex(&fingerprint(
        &[invoice.invoice_id.as_bytes(), &[0], bytes].concat(),
    ));
    let boundary = format!("=_handoff_{}", &print[..24]);
    let sent = invoice
        .issue_date
        .and_hms_opt(9, 12, 0)
        .expect("a time of day")
        .and_utc()
        .to_rfc2822();

    let mut m = String::new();
    let mut header = |name: &str, value: &str| {
        m.push_str(name);
        m.push_str(": ");
        m.push_str(value);
        m.push_str("\r\n");
    };
    if let Some(authserv_id) = authenticated {
        header(
            "Authentication-Results",
            &format!(
                "{authserv_id}; spf=pass smtp.mailfrom={domain};\r\n dkim=pass header.d={domain} header.s=mail;\r\n dmarc=pass header.from={domain}"
            ),
        );
    }
    header(
        "From",
        &format!("{} <billing@{domain}>", display_name(&invoice.supplier)),
    );
    header("To", &format!("Accounts Payable <{AP_INBOX}>"));
    header("Subject", &format!("Invoice {}", invoice.invoice_id));
    header("Date", &sent);
    header("Message-ID", &format!("<{}@{domain}>", &print[..32]));
    header("MIME-Version", "1.0");
    header(
        "Content-Type",
        &format!("multipart/mixed; boundary=\"{boundary}\""),
    );
    m.push_str("\r\nThis is a multipart message in MIME format.\r\n");

    let body = format!(
        "Dear Accounts Payable team,\n\n{BODY_TEXT}\n\nKind regards,\n{}\nAccounts receivable\n",
        invoice.supplier
    );
    m.push_str(&format!("--{boundary}\r\n"));
    m.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    m.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    m.push_str(&quoted_printable(&body));

    m.push_str(&format!("--{boundary}\r\n"));
    let (name_param, filename_param) = file_name_params(file_name);
    m.push_str(&format!("Content-Type: {mime}; {name_param}\r\n"));
    m.push_str(&format!(
        "Content-Disposition: attachment; {filename_param}\r\n"
    ));
    m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let encoded = STANDARD.encode(bytes);
    for chunk in encoded.as_bytes().chunks(76) {
        m.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        m.push_str("\r\n");
    }
    m.push_str(&format!("--{boundary}--\r\n"));
    m.into_bytes()
}

/// A quoted display name, or an RFC 2047 encoded word when it is not ASCII.
fn display_name(name: &str) -> String {
    if name.is_ascii() {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("=?utf-8?B?{}?=", STANDARD.encode(name))
    }
}

/// `name=` and `filename=` parameters; RFC 2231 `filename*=` when not ASCII.
fn file_name_params(name: &str) -> (String, String) {
    if name.is_ascii() && !name.contains('"') {
        (format!("name=\"{name}\""), format!("filename=\"{name}\""))
    } else {
        let encoded: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        (
            format!("name*=utf-8''{encoded}"),
            format!("filename*=utf-8''{encoded}"),
        )
    }
}

/// Quoted-printable for short lines of text (none reaches 76 characters).
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        for byte in line.bytes() {
            if (byte.is_ascii_graphic() && byte != b'=') || byte == b' ' {
                out.push(byte as char);
            } else {
                out.push_str(&format!("={byte:02X}"));
            }
        }
        out.push_str("\r\n");
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_text_is_quoted_printable() {
        assert_eq!(quoted_printable("Müller = ok"), "M=C3=BCller =3D ok\r\n");
    }
}
