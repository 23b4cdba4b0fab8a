//! Test helpers: temporary PNG paths and a decoder.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::path::PathBuf;

/// A path `name.png` in a fresh temporary folder (not created), removed with the folder on drop.
pub(crate) struct TempPng(
    pub(crate) PathBuf,
    #[allow(dead_code)] // held for its Drop
    tempfile::TempDir,
);
impl TempPng {
    pub(crate) fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("qpik-png-")
            .tempdir()
            .expect("a temporary folder");
        TempPng(dir.path().join(format!("{name}.png")), dir)
    }
}

/// Decoded picture: width, height, RGB bytes.
pub(crate) struct Decoded {
    pub(crate) width: usize,
    pub(crate) height: usize,
    pub(crate) rgb: Vec<u8>,
}
impl Decoded {
    pub(crate) fn at(&self, x: usize, y: usize) -> [u8; 3] {
        assert!(
            x < self.width && y < self.height,
            "({x}, {y}) outside the picture"
        );
        let i = 3 * (y * self.width + x);
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }
}

pub(crate) fn decode(path: &Path) -> Decoded {
    let file = File::open(path).unwrap();
    let mut reader = ::png::Decoder::new(BufReader::new(file))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, ::png::ColorType::Rgb);
    assert_eq!(info.bit_depth, ::png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    Decoded {
        width: info.width as usize,
        height: info.height as usize,
        rgb: buf,
    }
}
