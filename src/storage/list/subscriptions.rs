//! The `subscriptions` file (subscription-file.c): version 2 starts with
//! `V\t2\n\n`, then one name a line with hierarchy levels separated by
//! tabs; version 1 files are plain names.

use std::io;
use std::path::Path;

/// The subscribed names in file order, with tab levels joined by `sep`.
/// A missing file is an empty list.
pub fn read(path: &Path, sep: char) -> io::Result<Vec<String>> {
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&data);
    let (body, v2) = match text.strip_prefix("V\t2\n\n") {
        Some(body) => (body, true),
        None => (&text[..], false),
    };

    let names = body.lines().filter(|line| !line.is_empty()).map(|line| {
        if v2 {
            line.replace('\t', &sep.to_string())
        } else {
            line.to_string()
        }
    });
    Ok(names.collect())
}
