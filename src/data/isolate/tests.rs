//! The fork path end to end: frames, results, crashes, panics and hangs.

use super::*;

fn plain(fork: &mut dyn FnMut(&[i32]) -> i64) -> i64 {
    fork(&[])
}

fn spawn(limit_ms: u64, work: impl FnOnce(&mut Sender) -> Result<()>) -> Child {
    Child::spawn(Duration::from_millis(limit_ms), plain, work).expect("fork")
}

#[test]
fn frames_and_result_come_back() {
    // Frames larger than the pipe buffer, in both receiving forms.
    let big: Vec<f32> = (0..3_000_000).map(|i| i as f32 * 0.5).collect();
    let expect = big.clone();
    let mut child = spawn(60_000, move |tx| {
        tx.send(b"header")?;
        tx.send(bytes_of(&big))
    });
    assert_eq!(child.recv(100).unwrap(), b"header");
    let mut got = vec![0f32; expect.len()];
    child.recv_into(bytes_of_mut(&mut got)).unwrap();
    assert_eq!(got, expect);
    child.finish().unwrap();

    let mut child = spawn(20_000, |_| Err(Error::format("f.h5", "x".repeat(100_000))));
    match child.recv(10) {
        Err(Ended::Work(Error::Format { path, message })) => {
            assert_eq!(path, "f.h5");
            // Texts are cut to 64 KiB, so a damaged file cannot make the reply huge.
            assert_eq!(message.len(), 64 << 10);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unexpected_replies_are_protocol_errors() {
    let mut child = spawn(20_000, |tx| tx.send(&[1, 2, 3]));
    let mut dst = [0u8; 4];
    assert!(matches!(child.recv_into(&mut dst), Err(Ended::Protocol(_))));
    let mut child = spawn(20_000, |tx| tx.send(&[0u8; 64]));
    assert!(matches!(child.recv(10), Err(Ended::Protocol(_))));
    let child = spawn(20_000, |tx| tx.send(&[1]));
    assert!(matches!(child.finish(), Err(Ended::Protocol(_))));
    let mut child = spawn(20_000, |_| Ok(()));
    assert!(matches!(child.recv(10), Err(Ended::Protocol(_))));
}

#[test]
fn a_crash_in_the_child_is_reported_not_shared() {
    let mut child = spawn(20_000, |tx| {
        tx.send(b"first")?;
        // SAFETY: deliberately kills the child.
        unsafe { libc::raise(libc::SIGSEGV) };
        Ok(())
    });
    assert_eq!(child.recv(10).unwrap(), b"first");
    match child.recv(10) {
        Err(Ended::Died { signal, .. }) => assert_eq!(signal, Some(libc::SIGSEGV)),
        other => panic!("{other:?}"),
    }
    let child = spawn(20_000, |_| std::process::abort());
    assert!(
        matches!(child.finish(), Err(Ended::Died { signal: Some(s), .. }) if s == libc::SIGABRT)
    );
    let child = spawn(20_000, |_| std::process::exit(3));
    assert!(matches!(
        child.finish(),
        Err(Ended::Died {
            signal: None,
            code: Some(3)
        })
    ));
}

#[test]
fn a_panic_in_the_child_is_an_error() {
    let child = spawn(20_000, |_| panic!("boom"));
    match child.finish() {
        Err(Ended::Work(Error::Format { message, .. })) => {
            assert!(message.contains("boom"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_hang_is_cut_off_at_the_limit() {
    let start = Instant::now();
    let child = spawn(300, |_| {
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    assert!(matches!(child.finish(), Err(Ended::TimedOut(_))));
    assert!(start.elapsed() < Duration::from_secs(10));
    // Dropping an unfinished child kills it rather than waiting.
    let start = Instant::now();
    drop(spawn(60_000, |_| {
        loop {
            std::thread::sleep(Duration::from_millis(10));
        }
    }));
    assert!(start.elapsed() < Duration::from_secs(10));
}
