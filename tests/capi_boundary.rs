//! The C boundary's rules, checked on the sources and on a real panic:
//!
//! - `extern "C"` appears only under `src/capi`;
//! - every export is `#[unsafe(no_mangle)] pub unsafe extern "C" fn`,
//!   documented with a `# Safety` section, and its body starts with
//!   `guard("its own name", ...)`, so no panic can unwind into C;
//! - a panic inside an export ends in Dovecot's `i_panic()` (logged with
//!   Dovecot's "Panic:" prefix, then abort), as a failed `i_assert()` would.
#![cfg(feature = "capi-mail")]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

fn sources() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("read source");
            (path, text)
        })
        .collect()
}

fn is_capi(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "capi")
}

#[test]
fn extern_c_lives_only_in_src_capi() {
    for (path, text) in sources().iter().filter(|(p, _)| !is_capi(p)) {
        let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
        for line in code {
            assert!(
                !line.contains("extern \"C\""),
                "{}: extern \"C\" outside src/capi: {line}",
                path.display()
            );
        }
    }
}

/// An exported function: its name, the doc lines above it and its body
/// from the signature on.
struct Export<'a> {
    name: &'a str,
    docs: Vec<&'a str>,
    rest: Vec<&'a str>,
}

fn exports(text: &str) -> Vec<Export<'_>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(after) = line.trim().split_once("extern \"C\" fn ").map(|(_, a)| a) else {
            continue;
        };
        let name = after.split('(').next().unwrap_or_default();
        let docs = lines[..i]
            .iter()
            .rev()
            .skip(1)
            .take_while(|l| l.trim_start().starts_with("///"))
            .copied()
            .collect();
        let attribute = lines.get(i.wrapping_sub(1)).copied().unwrap_or_default();
        assert_eq!(
            attribute.trim(),
            "#[unsafe(no_mangle)]",
            "{name}: not #[unsafe(no_mangle)]"
        );
        assert!(
            line.trim().starts_with("pub unsafe extern \"C\" fn "),
            "{name}: not `pub unsafe`"
        );
        found.push(Export {
            name,
            docs,
            rest: lines[i..].to_vec(),
        });
    }
    found
}

/// The first statement after the signature's opening brace.
fn first_statement<'a>(rest: &[&'a str]) -> &'a str {
    let open = rest
        .iter()
        .position(|l| l.trim_end().ends_with('{'))
        .expect("function body");
    rest.get(open + 1).map_or("", |l| l.trim())
}

#[test]
fn every_export_is_guarded_and_documented() {
    let mut count = 0;
    for (path, text) in sources().iter().filter(|(p, _)| is_capi(p)) {
        for export in exports(text) {
            let name = export.name;
            let want = format!("guard(\"{name}\", ||");
            assert!(
                first_statement(&export.rest).starts_with(&want),
                "{}: {name} must start with {want}",
                path.display()
            );
            assert!(export.docs.len() > 2, "{name}: undocumented");
            assert!(
                export.docs.iter().any(|l| l.trim() == "/// # Safety"),
                "{name}: no # Safety"
            );
            count += 1;
        }
    }
    // rfc822-parser.h alone has 11 functions.
    assert!(
        count >= 11,
        "found only {count} exports: is the scan broken?"
    );
}

const CHILD: &str = "DOVECOT_RS_PANIC_CHILD";

#[test]
fn a_panic_in_an_export_becomes_dovecot_i_panic() {
    if std::env::var_os(CHILD).is_some() {
        dovecot_rs::capi::test_support::lib_init();
        // SAFETY: deliberately breaks the contract (NULL ctx) to reach
        // the guard; it never returns.
        unsafe {
            dovecot_rs::capi::mail::rfc822_parser::rfc822_parser_init(
                std::ptr::null_mut(),
                c"x".as_ptr().cast(),
                1,
                std::ptr::null_mut(),
            )
        };
        unreachable!("rfc822_parser_init(NULL) returned");
    }

    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args(["--exact", "a_panic_in_an_export_becomes_dovecot_i_panic"])
        .args(["--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);

    use std::os::unix::process::ExitStatusExt;
    assert_eq!(output.status.signal(), Some(libc::SIGABRT), "{stderr}");
    // Dovecot's default fatal handler: "Panic: " and our message.
    assert!(
        stderr.contains("Panic: dovecot-rs: rfc822_parser_init(): ctx is NULL"),
        "{stderr}"
    );
}
