//! Where a result came from: the qpik version that made it and the input file's name and
//! SHA-256 checksum, so a result file can be traced to its scan and its code.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The version of this qpik (`Cargo.toml`'s), as every result records it.
pub const QPIK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Provenance of an extraction. Inputs that were not a file (arrays given through the C ABI,
/// Python, MATLAB, Igor or Gwyddion) have an empty name and checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The qpik version that made the result.
    pub qpik_version: String,
    /// The input file's name (its last path component), `""` when the input was no file.
    pub input_name: String,
    /// The input file's SHA-256 as 64 lower-case hex digits, `""` when the input was no file.
    pub input_sha256: String,
}

impl Default for Provenance {
    /// This qpik's version, no input file.
    fn default() -> Self {
        Provenance {
            qpik_version: QPIK_VERSION.into(),
            input_name: String::new(),
            input_sha256: String::new(),
        }
    }
}

impl Provenance {
    /// This qpik's version and the file at `path`: its name and SHA-256, read in 64 KiB
    /// blocks (a map file of any size needs no more memory).
    pub fn of_file(path: &Path) -> Result<Self> {
        let show = || path.display().to_string();
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(show(), e))?;
        let mut hasher = Sha256::new();
        let mut block = vec![0u8; 64 << 10];
        loop {
            match file.read(&mut block) {
                Ok(0) => break,
                Ok(n) => hasher.update(&block[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(show(), e)),
            }
        }
        let digest = hasher.finalize();
        Ok(Provenance {
            input_name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            input_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            ..Provenance::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_the_standard_test_vectors() {
        // FIPS 180-2 examples: "abc", and a file larger than one read block.
        let dir = tempfile::tempdir().unwrap();
        let abc = dir.path().join("abc.txt");
        std::fs::write(&abc, b"abc").unwrap();
        let p = Provenance::of_file(&abc).unwrap();
        assert_eq!(
            p.input_sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(p.input_name, "abc.txt");
        assert_eq!(p.qpik_version, QPIK_VERSION);
        let big = dir.path().join("a-million-a");
        std::fs::write(&big, vec![b'a'; 1_000_000]).unwrap();
        assert_eq!(
            Provenance::of_file(&big).unwrap().input_sha256,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
        assert!(Provenance::of_file(&dir.path().join("missing")).is_err());
        assert_eq!(Provenance::default().input_name, "");
    }
}
