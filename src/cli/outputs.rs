//! The files one command writes, checked before any work and put in place together.
//!
//! # Why
//! A command that computes for minutes and then finds that `-o` names its own input (or that
//! `--png` names the same file as `-o`) has either wasted the minutes or destroyed the input.
//! So every command names its outputs and inputs first; [`Outputs::plan`] refuses an output
//! that is the same file as an input or as another output, *by identity* (device and inode
//! where the file exists, so a symlink or hard link to the input is caught; the canonical
//! folder and name otherwise), and an output that is a folder, a device or in a missing folder.
//! Each output is then written beside its target under a hidden temporary name
//! ([`Outputs::stage`]); [`Outputs::commit`] renames them all over their targets only once
//! every one was written. An error or Ctrl-C before that drops the temporaries and leaves every
//! target as it was: a failed picture never leaves a new `.h5` behind, nor replaces an old one.

use crate::data::output_file::check_target;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use tempfile::TempPath;

/// What makes two paths the same file.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    /// An existing file: device and inode.
    Inode(u64, u64),
    /// A file not there yet: its folder (canonical) and name.
    Name(PathBuf),
}

/// The identity of `path`; `None` when its folder does not exist either (nothing to compare).
fn identity(path: &Path) -> Option<Identity> {
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Some(Identity::Inode(m.dev(), m.ino()));
    }
    #[cfg(not(unix))]
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(Identity::Name(p));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name()?;
    Some(Identity::Name(std::fs::canonicalize(dir).ok()?.join(name)))
}

/// The folder `path` is written into.
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

struct Planned {
    target: PathBuf,
    staged: Option<TempPath>,
}

/// The outputs of one command (see the module docs).
pub struct Outputs {
    planned: Vec<Planned>,
}

impl Outputs {
    /// Checks `outputs` against `inputs` and against each other, and that each can be a file
    /// (absent or a regular file, in an existing folder). Nothing is created yet.
    pub fn plan(inputs: &[&Path], outputs: &[&Path]) -> Result<Self> {
        let ids: Vec<(&Path, Option<Identity>)> =
            inputs.iter().map(|p| (*p, identity(p))).collect();
        let mut seen: Vec<(&Path, Identity)> = Vec::new();
        for &out in outputs {
            check_target(out)?;
            let dir = folder(out);
            if !dir.is_dir() {
                return Err(Error::invalid(format!(
                    "{}: the folder {} does not exist",
                    out.display(),
                    dir.display()
                )));
            }
            let Some(id) = identity(out) else {
                return Err(Error::invalid(format!(
                    "{}: not a file name",
                    out.display()
                )));
            };
            if let Some((input, _)) = ids.iter().find(|(_, i)| i.as_ref() == Some(&id)) {
                return Err(Error::invalid(format!(
                    "the output {} is the input {}: it would be overwritten; write elsewhere",
                    out.display(),
                    input.display()
                )));
            }
            if let Some((other, _)) = seen.iter().find(|(_, i)| *i == id) {
                return Err(Error::invalid(format!(
                    "the outputs {} and {} are the same file: give each its own name",
                    other.display(),
                    out.display()
                )));
            }
            seen.push((out, id));
        }
        Ok(Outputs {
            planned: outputs
                .iter()
                .map(|p| Planned {
                    target: p.to_path_buf(),
                    staged: None,
                })
                .collect(),
        })
    }

    /// Where to write `target` (one of the planned outputs): a new hidden file beside it with
    /// the same extension, put in place by [`Outputs::commit`].
    pub fn stage(&mut self, target: &Path) -> Result<PathBuf> {
        let p = self
            .planned
            .iter_mut()
            .find(|p| p.target == target)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{}: not one of the command's planned outputs",
                    target.display()
                ))
            })?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(".qpik-")
            .suffix(&format!(".{name}"))
            .tempfile_in(folder(target))
            .map_err(|e| Error::io(target.display().to_string(), e))?
            .into_temp_path();
        let path = tmp.to_path_buf();
        p.staged = Some(tmp);
        Ok(path)
    }

    /// Renames every staged output over its target (outputs never staged are left alone).
    pub fn commit(self) -> Result<()> {
        for p in self.planned {
            if let Some(tmp) = p.staged {
                tmp.persist(&p.target)
                    .map_err(|e| Error::io(p.target.display().to_string(), e.error))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_files_are_refused_by_identity_and_commit_is_all_or_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("map.npy");
        std::fs::write(&input, b"input").unwrap();
        let link = dir.path().join("link.h5");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let a = dir.path().join("r.h5");
        let dotted = dir.path().join(".").join("r.h5");
        assert!(Outputs::plan(&[&input], &[&input]).is_err());
        #[cfg(unix)]
        assert!(Outputs::plan(&[&input], &[&link]).is_err());
        let e = Outputs::plan(&[&input], &[&a, &dotted]).err().unwrap();
        assert!(e.to_string().contains("same file"), "{e}");
        assert!(Outputs::plan(&[&input], &[dir.path()]).is_err());
        assert!(Outputs::plan(&[], &[&dir.path().join("no/x.h5")]).is_err());

        let png = dir.path().join("r.png");
        let mut out = Outputs::plan(&[&input], &[&a, &png]).unwrap();
        let staged = out.stage(&a).unwrap();
        assert_eq!(staged.extension().unwrap(), "h5");
        std::fs::write(&staged, b"h5").unwrap();
        drop(out);
        assert!(!a.exists(), "nothing committed");
        let mut out = Outputs::plan(&[&input], &[&a, &png]).unwrap();
        for t in [&a, &png] {
            let s = out.stage(t).unwrap();
            std::fs::write(&s, b"x").unwrap();
        }
        out.commit().unwrap();
        assert!(a.exists() && png.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".qpik-"))
            .collect();
        assert!(left.is_empty());
    }
}
