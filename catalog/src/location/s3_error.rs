//! Storage errors as a user should read them. object_store's S3 errors end with the raw XML body
//! S3 sent and the full request URL (`Error performing GET http://host/bucket/key ... 403
//! Forbidden: <?xml ...><Error><Code>AccessDenied</Code><Message>Access Denied</Message>
//! <RequestId>...</Error>`). What matters is the code, S3's message and the key, which Tarn's
//! error already names; so [`describe`] turns that into
//! `S3 error AccessDenied on s3://bucket/key: Access Denied (HTTP 403)` and drops the rest.
//!
//! Dropping the request URL also keeps an endpoint's userinfo (`http://user:secret@host`) out of
//! errors; any other URL with userinfo in an error is masked by [`redact_userinfo`].

/// The text of a storage error on `location` whose underlying error printed as `message`.
pub fn describe(location: &str, message: &str) -> String {
    match S3ErrorBody::parse(message) {
        Some(body) => {
            let mut details = Vec::new();
            if let Some(status) = http_status(message) {
                details.push(format!("HTTP {status}"));
            }
            if let Some(retries) = retries(message) {
                details.push(format!("after {retries} retries"));
            }
            let details = if details.is_empty() { String::new() } else { format!(" ({})", details.join(", ")) };
            let text = if body.message.is_empty() { String::new() } else { format!(": {}", body.message) };
            redact_userinfo(&format!("S3 error {} on {location}{text}{details}", body.code))
        }
        None => redact_userinfo(&format!("{location}: {message}")),
    }
}

/// The `Code` and `Message` of an S3 XML error body found in `text`.
#[derive(Debug, PartialEq, Eq)]
struct S3ErrorBody {
    code: String,
    message: String,
}

impl S3ErrorBody {
    fn parse(text: &str) -> Option<S3ErrorBody> {
        let code = element(text, "Code")?;
        if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
            return None;
        }
        Some(S3ErrorBody { code, message: element(text, "Message").unwrap_or_default() })
    }
}

/// The unescaped text of the first `<name>...</name>` in `text`.
fn element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    Some(unescape(text[start..end].trim()))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The HTTP status in object_store's text: `status 403 Forbidden`, `status code: 503`.
fn http_status(text: &str) -> Option<u16> {
    ["status code: ", "with status ", "status: "].iter().find_map(|marker| {
        let at = text.find(marker)? + marker.len();
        let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
        (digits.len() == 3).then(|| digits.parse().ok()).flatten()
    })
}

/// N in object_store's `after N retries`.
fn retries(text: &str) -> Option<u32> {
    let at = text.find("after ")? + "after ".len();
    let rest = &text[at..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    rest[digits.len()..].starts_with(" retries").then(|| digits.parse().ok()).flatten()
}

/// `scheme://user:password@host` → `scheme://***@host`, for every URL in `text`. A password in an
/// endpoint URL must never reach an error, a log or the catalog.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end =
            after.find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace()).unwrap_or(after.len());
        match after[..authority_end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str("***");
                rest = &after[userinfo_end..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DENIED: &str = "Generic S3 error: Error performing GET http://127.0.0.1:9000/bucket/secret/key.parquet in \
        12ms - Server returned non-2xx status code: 403 Forbidden: <?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <Error><Code>AccessDenied</Code><Message>Access Denied &amp; logged</Message><Key>secret/key.parquet</Key>\
        <RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>";

    #[test]
    fn s3_xml_errors_read_as_code_key_and_message() {
        assert_eq!(
            describe("s3://bucket/secret/key.parquet", DENIED),
            "S3 error AccessDenied on s3://bucket/secret/key.parquet: Access Denied & logged (HTTP 403)"
        );
        let retried = "Generic S3 error: Error after 4 retries in 1.2s, max_retries:4, retry_timeout:60s, source:\
            Server error, body contains Error, with status 503 Service Unavailable: <Error><Code>SlowDown</Code>\
            <Message>Please reduce your request rate.</Message></Error>";
        assert_eq!(
            describe("s3://b/k", retried),
            "S3 error SlowDown on s3://b/k: Please reduce your request rate. (HTTP 503, after 4 retries)"
        );
    }

    #[test]
    fn other_errors_pass_through_with_userinfo_masked() {
        assert_eq!(describe("file:///x", "No such file or directory"), "file:///x: No such file or directory");
        assert_eq!(
            describe("s3://b/k", "error sending request for url (http://AKIA1:s3cr3t@localhost:9000/b/k)"),
            "s3://b/k: error sending request for url (http://***@localhost:9000/b/k)"
        );
        assert_eq!(redact_userinfo("s3://bucket/a@b and http://h/x"), "s3://bucket/a@b and http://h/x");
        assert_eq!(redact_userinfo("see https://u@h:1"), "see https://***@h:1");
    }
}
