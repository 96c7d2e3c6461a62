//! How fast one sender may send. Carriers meter a number in message segments
//! per second, and how many depends on the kind of number, so the dispatcher
//! paces each sender on its own: one sender's backlog never holds up another.

use jiff::{SignedDuration, Timestamp};

use crate::Invalid;

/// What kind of number a business sends from, which sets its carrier throughput.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderKind {
    /// An ordinary 10-digit number (US "long code"): about one segment a second.
    LongCode,
    /// A North American toll-free number (8XX): about three a second once verified.
    TollFree,
    /// A 5–6 digit short code, provisioned for volume: about a hundred a second.
    ShortCode,
}

/// North American toll-free area codes (NANPA).
const TOLL_FREE: [&str; 7] = ["800", "833", "844", "855", "866", "877", "888"];

impl SenderKind {
    /// Classifies an SMS sender as it is stored: `+1…` in E.164, or a short code's digits.
    pub fn of(sender: &str) -> SenderKind {
        let digits: String = sender.chars().filter(char::is_ascii_digit).collect();
        if !sender.starts_with('+') && (5..=6).contains(&digits.len()) {
            return SenderKind::ShortCode;
        }
        match digits.strip_prefix('1') {
            Some(national) if national.len() == 10 && TOLL_FREE.contains(&&national[..3]) => SenderKind::TollFree,
            _ => SenderKind::LongCode,
        }
    }

    pub fn default_rate(self) -> Rate {
        Rate(match self {
            SenderKind::LongCode => 1.0,
            SenderKind::TollFree => 3.0,
            SenderKind::ShortCode => 100.0,
        })
    }
}

/// Segments per second, between a message a minute and a thousand a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(f64);

impl Rate {
    pub const MIN: f64 = 1.0 / 60.0;
    pub const MAX: f64 = 1000.0;

    pub fn new(per_second: f64) -> Result<Rate, Invalid> {
        if per_second.is_finite() && (Self::MIN..=Self::MAX).contains(&per_second) {
            Ok(Rate(per_second))
        } else {
            Err(Invalid::new(format!(
                "segments per second must be between {:.3} and {}, not {per_second}",
                Self::MIN,
                Self::MAX
            )))
        }
    }

    pub fn per_second(self) -> f64 {
        self.0
    }

    fn cost(self, segments: i64) -> SignedDuration {
        SignedDuration::from_secs_f64(segments.max(1) as f64 / self.0)
    }

    /// How far ahead of schedule a sender may run: one second's worth of
    /// segments, so a short code can send its hundred in one step while a
    /// long code sends strictly one a second.
    fn tolerance(self) -> SignedDuration {
        (SignedDuration::from_secs(1) - self.cost(1)).max(SignedDuration::ZERO)
    }

    /// The generic cell rate algorithm: `tat` is when the sender's schedule
    /// is next free. A message of `segments` may go at `now` if the schedule
    /// is not more than the tolerance ahead of `now`; the answer is the new
    /// schedule, or `None` to wait.
    pub fn admit(self, tat: Timestamp, now: Timestamp, segments: i64) -> Option<Timestamp> {
        if self.free_at(tat) > now {
            return None;
        }
        Some(tat.max(now) + self.cost(segments))
    }

    /// The first moment a sender whose schedule is at `tat` may send again.
    pub fn free_at(self, tat: Timestamp) -> Timestamp {
        tat - self.tolerance()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_senders() {
        assert_eq!(SenderKind::of("+14155550100"), SenderKind::LongCode);
        assert_eq!(SenderKind::of("+18005550100"), SenderKind::TollFree);
        assert_eq!(SenderKind::of("+18885550100"), SenderKind::TollFree);
        assert_eq!(SenderKind::of("+18105550100"), SenderKind::LongCode);
        assert_eq!(SenderKind::of("12345"), SenderKind::ShortCode);
        assert_eq!(SenderKind::of("123456"), SenderKind::ShortCode);
        assert_eq!(SenderKind::of("+442071838750"), SenderKind::LongCode);
        assert_eq!(SenderKind::default_rate(SenderKind::TollFree).per_second(), 3.0);
    }

    #[test]
    fn rejects_absurd_rates() {
        for bad in [0.0, -1.0, 0.001, 1001.0, f64::NAN, f64::INFINITY] {
            assert!(Rate::new(bad).is_err(), "{bad}");
        }
        assert!(Rate::new(1.0).is_ok());
    }

    /// Counts the segments admitted over `secs` seconds of steps every 250 ms.
    fn admitted_over(rate: Rate, secs: i64, segments: i64) -> i64 {
        let start = Timestamp::UNIX_EPOCH;
        let mut tat = start;
        let mut sent = 0;
        for step in 0..secs * 4 {
            let now = start + SignedDuration::from_millis(step * 250);
            while let Some(next) = rate.admit(tat, now, segments) {
                tat = next;
                sent += segments;
            }
        }
        sent
    }

    #[test]
    fn long_code_sends_one_segment_a_second() {
        let one = Rate::new(1.0).unwrap();
        assert_eq!(admitted_over(one, 60, 1), 60);
        // A three-segment message takes three seconds of the sender's time.
        assert_eq!(admitted_over(one, 60, 3), 60);
    }

    #[test]
    fn short_code_bursts_a_second_then_keeps_pace() {
        let hundred = Rate::new(100.0).unwrap();
        let start = Timestamp::UNIX_EPOCH;
        let mut tat = start;
        let mut burst = 0;
        while let Some(next) = hundred.admit(tat, start, 1) {
            tat = next;
            burst += 1;
        }
        assert_eq!(burst, 100);
        let sent = admitted_over(hundred, 10, 1);
        assert!((1000..=1100).contains(&sent), "{sent}");
    }
}
