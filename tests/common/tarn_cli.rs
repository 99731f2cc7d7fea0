//! Running the `tarn` binary from the integration tests the way a script would, and copying test
//! data into scratch lakes.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `tarn --home HOME ARGS...` with `env` added, `TARN_HOME` removed and stdin closed.
pub fn run(home: &Path, env: &[(&'static str, String)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tarn"))
        .arg("--home")
        .arg(home)
        .env_remove("TARN_HOME")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .args(args)
        .output()
        .expect("run tarn")
}

/// Like [`run`], asserting exit status 0; stdout with line endings normalised to LF.
pub fn ok(home: &Path, env: &[(&'static str, String)], args: &[&str]) -> String {
    let out = run(home, env, args);
    assert!(out.status.success(), "tarn {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("stdout is UTF-8").replace("\r\n", "\n")
}

/// `tarn --format csv -c QUERY`, which must succeed.
pub fn csv(home: &Path, env: &[(&'static str, String)], query: &str) -> String {
    ok(home, env, &["--format", "csv", "-c", query])
}

/// Copies the folder `from` (recursively) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy file");
        }
    }
}
