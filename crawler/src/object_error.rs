//! Object-store failures in words a crawl report can show per file: the key, and for S3 the
//! error code and HTTP status the server sent (`AccessDenied (403 Forbidden)`), which is what a
//! user takes to their bucket policy. object_store's own message buries the code in an XML body.

use std::error::Error as _;

/// `cannot read key 'raw/x.csv': S3 AccessDenied (403 Forbidden): Access Denied` when the store
/// reported an S3 error document, or the store's own message otherwise.
pub fn read_failure(key: &str, error: &object_store::Error) -> String {
    failure("read key", key, error)
}

/// `cannot list prefix 'raw/': S3 AccessDenied (403 Forbidden): ...`, as [`read_failure`].
pub fn list_failure(prefix: &str, error: &object_store::Error) -> String {
    failure("list prefix", &format!("{}/", prefix.trim_end_matches('/')), error)
}

fn failure(action: &str, key: &str, error: &object_store::Error) -> String {
    let mut texts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(e) = source {
        texts.push(e.to_string());
        source = e.source();
    }
    let all = texts.join(" ");
    match xml_element(&all, "Code") {
        Some(code) => {
            let status = http_status(&all).map(|s| format!(" ({s})")).unwrap_or_default();
            let message = xml_element(&all, "Message").map(|m| format!(": {m}")).unwrap_or_default();
            format!("cannot {action} '{key}': S3 {code}{status}{message}")
        }
        None => format!("cannot {action} '{key}': {error}"),
    }
}

/// The text of the first `<name>…</name>` in `text`.
fn xml_element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].trim()).filter(|t| !t.is_empty())
}

/// `403 Forbidden` from object_store's "status code: 403 Forbidden" wording.
fn http_status(text: &str) -> Option<&str> {
    let at = text.find("status code: ")? + "status code: ".len();
    let rest = &text[at..];
    let end = rest.find(':').unwrap_or(rest.len());
    Some(rest[..end].trim()).filter(|s| s.starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_s3_code_status_and_key() {
        let body = "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
        let error = object_store::Error::PermissionDenied {
            path: "raw/x.csv".into(),
            source: format!("Server returned non-2xx status code: 403 Forbidden: {body}").into(),
        };
        assert_eq!(
            read_failure("raw/x.csv", &error),
            "cannot read key 'raw/x.csv': S3 AccessDenied (403 Forbidden): Access Denied"
        );
        let plain = object_store::Error::NotFound { path: "raw/y.csv".into(), source: "gone".into() };
        let text = read_failure("raw/y.csv", &plain);
        assert!(text.starts_with("cannot read key 'raw/y.csv': ") && text.contains("gone"), "{text}");
    }
}
