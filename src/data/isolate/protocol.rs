//! The pipe's wire format: frame tags and the work's final result message (see the module
//! docs of [`super`] for the frame layout).

use crate::{Error, Result};

pub(super) const FRAME_DATA: u8 = 1;
pub(super) const FRAME_END: u8 = 0;
/// Largest result message the parent accepts (the child truncates its texts well below).
pub(super) const MAX_END_MESSAGE: usize = 1 << 20;

// Kind bytes of the final result message.
const KIND_OK: u8 = 0;
const KIND_INVALID: u8 = 1;
const KIND_IO: u8 = 2;
const KIND_FORMAT: u8 = 3;
const KIND_HDF5: u8 = 4;
const KIND_UNAVAILABLE: u8 = 5;
const KIND_CANCELLED: u8 = 6;
const KIND_PANIC: u8 = 7;
const KIND_OVER_BUDGET: u8 = 8;

/// Result message: kind (1 byte), OS error code (i32 LE; 0 = none), path length (u32 LE),
/// path, text (rest).
pub(super) fn encode(result: &std::thread::Result<Result<()>>) -> Vec<u8> {
    let (k, os, path, text): (u8, i32, &str, String) = match result {
        Ok(Ok(())) => (KIND_OK, 0, "", String::new()),
        Ok(Err(e)) => match e {
            Error::InvalidInput(m) => (KIND_INVALID, 0, "", m.clone()),
            Error::Io { path, source } => (
                KIND_IO,
                source.raw_os_error().unwrap_or(0),
                path,
                source.to_string(),
            ),
            Error::Format { path, message } => (KIND_FORMAT, 0, path, message.clone()),
            Error::Hdf5 { path, message } => (KIND_HDF5, 0, path, message.clone()),
            Error::Unavailable(m) => (KIND_UNAVAILABLE, 0, "", m.clone()),
            Error::Cancelled => (KIND_CANCELLED, 0, "", String::new()),
            Error::OverBudget(m) => (KIND_OVER_BUDGET, 0, "", m.clone()),
        },
        Err(payload) => {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            (KIND_PANIC, 0, "", text)
        }
    };
    // Bounded, so that a damaged file cannot make the reply (and the parent's copy) huge.
    let cut = |t: &str, max: usize| {
        let mut end = t.len().min(max);
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        t[..end].to_string()
    };
    let (path, text) = (cut(path, 16 << 10), cut(&text, 64 << 10));
    let mut out = Vec::with_capacity(9 + path.len() + text.len());
    out.push(k);
    out.extend_from_slice(&os.to_le_bytes());
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(text.as_bytes());
    out
}

/// The work's result from a complete message; `None` when the message is cut short.
pub(super) fn decode(msg: &[u8]) -> Option<Result<()>> {
    let (&k, rest) = msg.split_first()?;
    let os = i32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
    let path_len = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?) as usize;
    let path = String::from_utf8_lossy(rest.get(8..8 + path_len)?).into_owned();
    let text = String::from_utf8_lossy(&rest[8 + path_len..]).into_owned();
    Some(match k {
        KIND_OK => Ok(()),
        KIND_INVALID => Err(Error::InvalidInput(text)),
        KIND_IO => {
            let source = if os != 0 {
                std::io::Error::from_raw_os_error(os)
            } else {
                std::io::Error::other(text)
            };
            Err(Error::Io { path, source })
        }
        KIND_FORMAT => Err(Error::Format {
            path,
            message: text,
        }),
        KIND_HDF5 => Err(Error::Hdf5 {
            path,
            message: text,
        }),
        KIND_UNAVAILABLE => Err(Error::Unavailable(text)),
        KIND_CANCELLED => Err(Error::Cancelled),
        KIND_OVER_BUDGET => Err(Error::OverBudget(text)),
        // A panic of the reader is a file it could not read: FORMAT, on the path the caller
        // fills in (see `hdf5_io::child::ended`).
        KIND_PANIC => Err(Error::Format {
            path,
            message: format!(
                "the reader stopped on an internal error ({text}); the file is probably damaged or crafted"
            ),
        }),
        _ => return None,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let cases: Vec<Result<()>> = vec![
            Ok(()),
            Err(Error::invalid("bad ü")),
            Err(Error::io(
                "/x/y",
                std::io::Error::from_raw_os_error(libc::ENOENT),
            )),
            Err(Error::io("/x/y", std::io::Error::other("odd"))),
            Err(Error::format("/a b/ü.h5", "missing attribute 'format'")),
            Err(Error::Hdf5 {
                path: "p".into(),
                message: "m".into(),
            }),
            Err(Error::Unavailable("u".into())),
            Err(Error::Cancelled),
        ];
        for case in cases {
            let want = format!("{case:?}");
            let got = decode(&encode(&Ok(case))).expect("complete message");
            assert_eq!(format!("{got:?}"), want);
        }
        // A message cut anywhere in its header is incomplete, not misread.
        let full = encode(&Ok(Err(Error::format("path", "message"))));
        for cut in 0..13 {
            assert!(decode(&full[..cut]).is_none(), "cut at {cut}");
        }
    }
}
