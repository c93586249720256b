//! Reading diagrams from files or standard input, and writing outputs.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

/// A diagram's text and the name to report it under.
pub struct Input {
    pub name: String,
    pub text: String,
}

/// Read `path`, or standard input when it is `-`. Errors are ready to print.
pub fn read(path: &Path) -> Result<Input, String> {
    let (name, bytes) = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("error: cannot read standard input: {e}"))?;
        ("<stdin>".to_string(), buf)
    } else {
        let bytes =
            read_file(path).map_err(|e| format!("error: cannot read `{}`: {e}", path.display()))?;
        (path.display().to_string(), bytes)
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "error: `{name}` is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(Input { name, text })
}

/// Read a whole file into a buffer of its size (as `std::fs::read`), asking Linux to back a
/// large buffer with transparent huge pages: on a 100 MB diagram that is 50 page faults
/// instead of 24,000, which cost a sixth of `fz check`'s time in this project's VMs.
fn read_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mut bytes = Vec::with_capacity(size);
    advise_huge_pages(&mut bytes);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `madvise(MADV_HUGEPAGE)` over the spare capacity of a large buffer, before it is written.
/// Only advice: where THP is off, or the call fails, nothing changes.
#[cfg(target_os = "linux")]
fn advise_huge_pages(buf: &mut Vec<u8>) {
    const HUGE: usize = 2 << 20;
    let spare = buf.spare_capacity_mut();
    if spare.len() < 4 * HUGE {
        return;
    }
    let start = spare.as_mut_ptr() as usize;
    let end = start + spare.len();
    // Whole huge pages inside the buffer only, so no other allocation shares the advice.
    let (a, b) = ((start + HUGE - 1) & !(HUGE - 1), end & !(HUGE - 1));
    if b > a {
        // SAFETY: [a, b) lies inside this Vec's allocation, which stays alive and in place
        // (it is not resized before it is filled); MADV_HUGEPAGE changes no contents.
        unsafe {
            libc::madvise(a as *mut libc::c_void, b - a, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_: &mut Vec<u8>) {}

/// Whether to colour output on stderr: only on a terminal, never with `NO_COLOR`.
pub fn stderr_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Write `text` to `out`, or to stdout when `out` is `None` or `-`. The file is written
/// atomically (temporary file, then rename), so an interrupted run leaves no half-written file.
pub fn write_output(out: Option<&PathBuf>, text: &str) -> Result<(), String> {
    match out {
        Some(p) if p.as_os_str() != "-" => write_atomic(p, text.as_bytes())
            .map_err(|e| format!("error: cannot write `{}`: {e}", p.display())),
        _ => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|_| stdout.flush())
            {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(format!("error: cannot write to standard output: {e}")),
            }
        }
    }
}

/// Write a file atomically: a temporary file in the same folder, then rename over the target.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = dir.join(format!(".{name}.fz-tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Print diagnostics about `input` on stderr, rustc-style (colour only on a terminal).
pub fn report(input: &Input, diagnostics: &[crate::diagnostic::Diagnostic]) {
    let opts = crate::diagnostic::ReportOptions {
        color: stderr_color(),
        unicode: true,
    };
    // Standard error is unbuffered, and a report is written a few characters at a time.
    let mut err = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
    let _ = crate::diagnostic::render(&input.name, &input.text, diagnostics, opts, &mut err);
    let _ = err.flush();
}

/// Why [`load_checked`] gave up: the exit code to return (its message is already printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadError {
    /// Could not read the input (exit 2).
    Io,
    /// The diagram has errors (exit 1).
    Diagram,
}

impl LoadError {
    pub fn exit_code(self) -> std::process::ExitCode {
        std::process::ExitCode::from(match self {
            LoadError::Io => 2,
            LoadError::Diagram => 1,
        })
    }
}

/// Read and check a diagram for a command that needs an error-free model. On errors, print
/// them rustc-style and `error: `NAME` has errors; nothing {what}`.
pub fn load_checked(path: &Path, what: &str) -> Result<(Input, crate::model::Checked), LoadError> {
    let input = read(path).map_err(|e| {
        eprintln!("{e}");
        LoadError::Io
    })?;
    let checked = crate::model::check(&input.text);
    if checked.has_errors() {
        let errors: Vec<_> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        report(&input, &errors);
        eprintln!("error: `{}` has errors; nothing {what}", input.name);
        return Err(LoadError::Diagram);
    }
    Ok((input, checked))
}
