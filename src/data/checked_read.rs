//! Reading a user's file whole, safely: a regular file (not a FIFO, device or directory that
//! could block or never end), no larger than a stated limit, checked before any byte is read.

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Size of `path` in bytes after checking that it is a regular file of at most `max_bytes`;
/// `what` names the format in messages (".npy file", ...).
pub fn check_regular_file(path: &Path, max_bytes: u64, what: &str) -> Result<u64> {
    let name = path.display().to_string();
    // metadata follows symlinks: a link to a regular file is fine, a link to a FIFO is not.
    let meta = std::fs::metadata(path).map_err(|e| Error::io(&name, e))?;
    if meta.is_dir() {
        return Err(Error::format(
            &name,
            format!("a directory, not a regular file; give the path of a {what}"),
        ));
    }
    if !meta.is_file() {
        return Err(Error::format(
            &name,
            format!("not a regular file; give the path of a {what}"),
        ));
    }
    if meta.len() > max_bytes {
        return Err(Error::format(
            &name,
            format!(
                "the file is {} bytes; qpik reads a {what} of at most {max_bytes} bytes",
                meta.len()
            ),
        ));
    }
    Ok(meta.len())
}

/// The whole of `path` after [`check_regular_file`]; stops at `max_bytes` even if the file
/// grows while it is read.
pub fn read_regular_file(path: &Path, max_bytes: u64, what: &str) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    let len = check_regular_file(path, max_bytes, what)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(&name, e))?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max_bytes)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(&name, e))?;
    Ok(bytes)
}

/// The first `n` bytes of `path` (fewer when the file is shorter), after
/// [`check_regular_file`] with no size limit: for sniffing the format.
pub fn read_head(path: &Path, n: usize, what: &str) -> Result<Vec<u8>> {
    let name = path.display().to_string();
    check_regular_file(path, u64::MAX, what)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(&name, e))?;
    let mut head = Vec::with_capacity(n);
    file.take(n as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(&name, e))?;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_and_oversized_files_are_refused() {
        let dir = std::env::temp_dir();
        let e = read_regular_file(&dir, 10, ".npy file").unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let f = dir.join(format!("qpik-checked-read-{}.bin", std::process::id()));
        std::fs::write(&f, [7u8; 20]).unwrap();
        let e = read_regular_file(&f, 10, ".npy file").unwrap_err();
        assert!(e.to_string().contains("is 20 bytes"), "{e}");
        assert_eq!(read_regular_file(&f, 20, "x").unwrap(), vec![7u8; 20]);
        assert_eq!(read_head(&f, 4, "x").unwrap(), vec![7u8; 4]);
        std::fs::remove_file(&f).unwrap();
        let e = read_head(&f, 4, "x").unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
    }
}
