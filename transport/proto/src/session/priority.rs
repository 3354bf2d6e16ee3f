//! Per-channel send priority: which channel's chunks go out first when
//! several have output pending.

use core::fmt;

/// How urgently a channel's chunks leave: level 0 (least) to 7 (most),
/// [`Priority::DEFAULT`] 3.
///
/// Whole frames (control, unary calls and replies, small messages) always
/// go first, in order. Among channels sending chunks (streams, large
/// messages), the highest level with a chunk ready and credit to send it
/// goes next; channels of one level take turns. A low level waits while a
/// higher one has output: a bulk transfer marked low yields to everything
/// else without slowing when it is alone.
///
/// # Examples
///
/// ```
/// use prism_proto::session::Priority;
///
/// assert!(Priority::HIGHEST > Priority::DEFAULT);
/// assert_eq!(Priority::new(7), Some(Priority::HIGHEST));
/// assert_eq!(Priority::new(8), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    /// Background work: goes only when nothing else has output.
    pub const LOWEST: Priority = Priority(0);
    /// What a channel has unless its op says otherwise.
    pub const DEFAULT: Priority = Priority(3);
    /// Goes before every other level.
    pub const HIGHEST: Priority = Priority(7);
    /// The number of levels.
    pub const LEVELS: usize = 8;

    /// Level `level`, if it is one (0 to 7).
    pub const fn new(level: u8) -> Option<Priority> {
        if (level as usize) < Priority::LEVELS {
            Some(Priority(level))
        } else {
            None
        }
    }

    /// The level, 0 to 7.
    pub const fn level(self) -> u8 {
        self.0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority::DEFAULT
    }
}

impl fmt::Debug for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Priority({})", self.0)
    }
}
