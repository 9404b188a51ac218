//! The driver calls of a device's latest load, for `op_log`: which op,
//! the state it was called in and the image window it got. This is what
//! the fake ops of Linux's KUnit tests record (`fpga-mgr-test.c`), kept by
//! the manager so that the same asserts hold against real drivers.

use drv_fpga_api::{FpgaState, OP_LOG_LEN, OpRecord};

/// One device's log; cleared when a load begins.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub struct OpLog {
    records: [OpRecord; OP_LOG_LEN],
    /// Calls since the load began, including those past the array.
    count: u32,
}

impl Default for OpLog {
    fn default() -> Self {
        const EMPTY: OpRecord = OpRecord {
            op: 0,
            state: 0,
            reserved: [0; 2],
            len: 0,
        };
        Self {
            records: [EMPTY; OP_LOG_LEN],
            count: 0,
        }
    }
}

impl OpLog {
    /// Forgets the previous load.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Records a call of `op` ([`drv_fpga_api::op`]) in `state` with a
    /// window of `len` bytes.
    pub fn push(&mut self, op: u8, state: FpgaState, len: u32) {
        if let Some(r) = self.records.get_mut(self.count as usize) {
            *r = OpRecord {
                op,
                state: state.into(),
                reserved: [0; 2],
                len,
            };
        }
        self.count = self.count.saturating_add(1);
    }

    /// The records kept, oldest first.
    pub fn records(&self) -> &[OpRecord] {
        let n = (self.count as usize).min(OP_LOG_LEN);
        &self.records[..n]
    }

    /// Calls since the load began.
    pub fn count(&self) -> u32 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drv_fpga_api::op;

    #[test]
    fn keeps_the_first_records_and_counts_them_all() {
        let mut log = OpLog::default();
        log.push(op::PARSE_HEADER, FpgaState::ParseHeader, 64);
        assert_eq!(log.records().len(), 1);
        assert_eq!(log.records()[0].state(), FpgaState::ParseHeader);
        assert_eq!(log.records()[0].len, 64);
        for _ in 0..OP_LOG_LEN + 5 {
            log.push(op::WRITE, FpgaState::Write, 1);
        }
        assert_eq!(log.records().len(), OP_LOG_LEN);
        assert_eq!(log.count(), OP_LOG_LEN as u32 + 6);
        log.clear();
        assert!(log.records().is_empty());
    }
}
