//! Test helpers: temporary PNG paths and a decoder.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::path::PathBuf;

/// A temp path unique to this test process and `name`, removed on drop.
pub(crate) struct TempPng(pub(crate) PathBuf);
impl TempPng {
    pub(crate) fn new(name: &str) -> Self {
        let file = format!("qpik_png_test_{}_{name}.png", std::process::id());
        TempPng(std::env::temp_dir().join(file))
    }
}
impl Drop for TempPng {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
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
