//! Atomic output files: written under a unique temporary name in the target's own folder, then
//! renamed over the target, so a reader never sees half a file and a failed write leaves the
//! old file (or none) and no temporary behind.

use std::fs::File;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::{Error, Result};

/// A file being written; [`OutputFile::commit`] puts it in place, dropping it removes it.
#[derive(Debug)]
pub struct OutputFile {
    tmp: NamedTempFile,
    path: PathBuf,
}

impl OutputFile {
    /// Starts writing `path`. Refuses a `path` that exists and is not a regular file (a
    /// directory, a device, a pipe), and a folder that does not exist or cannot be written.
    pub fn create(path: &Path) -> Result<Self> {
        check_target(path)?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let stem = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let prefix = format!(".{stem}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".partial");
        // As `File::create` would: 0o666 less the umask (a temporary file is 0o600 otherwise).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let tmp = builder
            .tempfile_in(dir)
            .map_err(|e| Error::io(path.display().to_string(), e))?;
        Ok(OutputFile {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The open temporary file, to write into.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Where the temporary file is (for writers that open by name, such as libhdf5).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// The target.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes to disk and renames the temporary file over the target.
    pub fn commit(self) -> Result<()> {
        let name = self.path.display().to_string();
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| Error::io(&name, e))?;
        // On failure the error owns the temporary file and removes it when dropped.
        self.tmp
            .persist(&self.path)
            .map(|_| ())
            .map_err(|e| Error::io(name, e.error))
    }
}

/// An output path must be a regular file or not exist yet.
pub fn check_target(path: &Path) -> Result<()> {
    let name = path.display().to_string();
    if path.as_os_str().is_empty() {
        return Err(Error::invalid("the output path is empty: give a file name"));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(Error::invalid(format!(
            "{name} is a directory: give a file name inside it"
        ))),
        Ok(m) if !m.is_file() => Err(Error::invalid(format!(
            "{name} is not a regular file (a device, pipe or socket): give a file name"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// The names in `dir`, sorted (tests of files written atomically: no temporary left).
    pub(crate) fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commit_replaces_and_drop_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        let mut out = OutputFile::create(&path).unwrap();
        out.file().write_all(b"new").unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"old",
            "target untouched while writing"
        );
        assert_eq!(
            entries(dir.path()).len(),
            2,
            "a temporary beside the target"
        );
        out.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(entries(dir.path()), ["out.bin"]);

        let mut out = OutputFile::create(&path).unwrap();
        out.file().write_all(b"abandoned").unwrap();
        drop(out);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(entries(dir.path()), ["out.bin"], "no temporary left behind");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let reference = dir.path().join("reference");
            std::fs::File::create(&reference).unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
            assert_eq!(
                mode(&path),
                mode(&reference),
                "permissions as File::create gives"
            );
        }
    }

    #[test]
    fn directories_devices_and_missing_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = OutputFile::create(dir.path()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput(m) if m.contains("directory")),
            "{e}"
        );
        if Path::new("/dev/null").exists() {
            let e = OutputFile::create(Path::new("/dev/null")).unwrap_err();
            assert!(
                matches!(&e, Error::InvalidInput(m) if m.contains("regular")),
                "{e}"
            );
        }
        let missing = dir.path().join("no").join("x.png");
        let e = OutputFile::create(&missing).unwrap_err();
        assert!(
            matches!(&e, Error::Io { path, .. } if path.contains("x.png")),
            "{e}"
        );
        assert!(OutputFile::create(Path::new("")).is_err());
    }
}
