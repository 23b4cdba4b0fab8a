//! Platforms without `fork`: the work runs in the calling process (no protection).

use std::time::{Duration, Instant};

use super::{Child, Ended, Sender};
use crate::Result;

/// Without `fork`: the work runs here, its frames are kept and handed out in order.
impl Child {
    pub fn spawn(
        limit: Duration,
        around_fork: impl FnOnce(&mut dyn FnMut(&[i32]) -> i64) -> i64,
        work: impl FnOnce(&mut Sender) -> Result<()>,
    ) -> std::result::Result<Child, Ended> {
        let _ = around_fork(&mut |_| 0);
        let mut tx = Sender { frames: Vec::new() };
        let result = work(&mut tx);
        Ok(Child {
            frames: tx.frames.into(),
            result: Some(result),
            deadline: Instant::now() + limit,
            limit,
            reaped: true,
        })
    }

    fn next(&mut self) -> std::result::Result<Vec<u8>, Ended> {
        match self.frames.pop_front() {
            Some(f) => Ok(f),
            None => Err(match self.result.take() {
                Some(Err(e)) => Ended::Work(e),
                _ => Ended::Protocol("the work ended before sending its data".into()),
            }),
        }
    }

    pub fn recv_into(&mut self, dst: &mut [u8]) -> std::result::Result<(), Ended> {
        let f = self.next()?;
        if f.len() != dst.len() {
            return Err(Ended::Protocol("frame of unexpected length".into()));
        }
        dst.copy_from_slice(&f);
        Ok(())
    }

    pub fn recv(&mut self, max: usize) -> std::result::Result<Vec<u8>, Ended> {
        let f = self.next()?;
        if f.len() > max {
            return Err(Ended::Protocol("frame too long".into()));
        }
        Ok(f)
    }

    pub fn finish(mut self) -> std::result::Result<(), Ended> {
        match self.result.take() {
            Some(Err(e)) => Err(Ended::Work(e)),
            _ => Ok(()),
        }
    }
}
