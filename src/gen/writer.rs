//! Writing the project: user-owned files once, generated files with their hash in
//! `.fz/manifest.json`; a generated file the user edited gets its new version beside
//! it as `*.fz-new` (unless `--force`). Nothing is written when nothing changed, so a
//! second run is byte-identical.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::templates::{Owner, Rendered};

/// Manifest path inside the output folder.
pub const MANIFEST: &str = ".fz/manifest.json";

/// `.fz/manifest.json`: the hash of every generated file as fz last wrote it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub generator: String,
    pub files: BTreeMap<String, String>,
}

/// What happened to each file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WriteReport {
    pub written: Vec<String>,
    pub unchanged: Vec<String>,
    /// User-owned files that already existed and were left alone.
    pub kept: Vec<String>,
    /// Generated files the user edited: the new version went to `<path>.fz-new`.
    pub fz_new: Vec<String>,
    /// Edited generated files overwritten because of `--force`.
    pub forced: Vec<String>,
    /// Files fz generated before and no longer does: removed when unedited.
    pub removed: Vec<String>,
    /// Such files the user edited: left in place.
    pub orphaned: Vec<String>,
}

/// A write failure, naming the path.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing to write {0:?}: not a plain relative path inside the output folder")]
    UnsafePath(String),
    #[error("refusing to write through the symbolic link {0}")]
    Symlink(PathBuf),
    #[error("{path} is not a manifest fz wrote: {message}")]
    Manifest { path: PathBuf, message: String },
}

fn sha(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that `rel` is a plain relative path (no `..`, no root, no odd characters).
pub(crate) fn safe_join(root: &Path, rel: &str) -> Result<PathBuf, WriteError> {
    let ok_chars = rel
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '.'));
    let p = Path::new(rel);
    let ok_parts = p.components().all(|c| matches!(c, Component::Normal(_)))
        && rel
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if !ok_chars || !ok_parts || rel.is_empty() {
        return Err(WriteError::UnsafePath(rel.to_string()));
    }
    // No component may be a symbolic link (it could point outside the folder).
    let mut cur = root.to_path_buf();
    for part in rel.split('/') {
        cur.push(part);
        if cur
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Err(WriteError::Symlink(cur));
        }
    }
    Ok(root.join(p))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let tmp = path.with_extension("fz-tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Reads the manifest, if any.
pub fn read_manifest(root: &Path) -> Result<Manifest, WriteError> {
    let path = root.join(MANIFEST);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| WriteError::Manifest {
            path,
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(WriteError::Io { path, source: e }),
    }
}

/// Writes the rendered files into `root` following the regeneration rules.
pub fn write(root: &Path, files: &[Rendered], force: bool) -> Result<WriteReport, WriteError> {
    std::fs::create_dir_all(root).map_err(io(root))?;
    let old = read_manifest(root)?;
    let mut manifest = Manifest {
        generator: format!("fz {}", env!("CARGO_PKG_VERSION")),
        files: BTreeMap::new(),
    };
    let mut report = WriteReport::default();
    for f in files {
        let path = safe_join(root, &f.path)?;
        let new_hash = sha(f.contents.as_bytes());
        let existing = match std::fs::read(&path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(WriteError::Io { path, source: e }),
        };
        match (f.owner, existing) {
            (Owner::User, Some(_)) => report.kept.push(f.path.clone()),
            (_, None) => {
                write_file(&path, f.contents.as_bytes())?;
                report.written.push(f.path.clone());
                if f.owner == Owner::Generated {
                    manifest.files.insert(f.path.clone(), new_hash);
                }
            }
            (Owner::Generated, Some(bytes)) => {
                let cur_hash = sha(&bytes);
                let recorded = old.files.get(&f.path);
                if cur_hash == new_hash {
                    report.unchanged.push(f.path.clone());
                    manifest.files.insert(f.path.clone(), new_hash);
                } else if recorded == Some(&cur_hash) || force {
                    if recorded != Some(&cur_hash) {
                        report.forced.push(f.path.clone());
                    }
                    write_file(&path, f.contents.as_bytes())?;
                    report.written.push(f.path.clone());
                    manifest.files.insert(f.path.clone(), new_hash);
                } else {
                    // Edited by the user (or not fz's): keep it, offer the new version.
                    let side = safe_join(root, &format!("{}.fz-new", f.path))?;
                    let same = std::fs::read(&side).is_ok_and(|b| b == f.contents.as_bytes());
                    if !same {
                        write_file(&side, f.contents.as_bytes())?;
                    }
                    report.fz_new.push(f.path.clone());
                    if let Some(h) = recorded {
                        manifest.files.insert(f.path.clone(), h.clone());
                    }
                }
            }
        }
    }
    for (path, hash) in &old.files {
        if manifest.files.contains_key(path) || files.iter().any(|f| &f.path == path) {
            continue;
        }
        let Ok(full) = safe_join(root, path) else {
            continue;
        };
        match std::fs::read(&full) {
            Ok(b) if &sha(&b) == hash => {
                std::fs::remove_file(&full).map_err(io(&full))?;
                report.removed.push(path.clone());
            }
            Ok(_) => report.orphaned.push(path.clone()),
            Err(_) => {}
        }
    }
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| WriteError::Manifest {
        path: root.join(MANIFEST),
        message: e.to_string(),
    })? + "\n";
    let mpath = root.join(MANIFEST);
    if std::fs::read(&mpath).ok().as_deref() != Some(text.as_bytes()) {
        write_file(&mpath, text.as_bytes())?;
    }
    Ok(report)
}
