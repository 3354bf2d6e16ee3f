//! Resource limits that every codec honours on both encode and decode.

/// Limits applied while encoding and decoding one message.
///
/// The defaults are safe for untrusted input: a nesting depth of 128 and an
/// allocation budget of 1 GiB per decoded message.
///
/// # Examples
///
/// ```
/// use prism_codecs::Limits;
///
/// let strict = Limits::default().with_max_depth(16).with_max_alloc(1 << 20);
/// assert_eq!(strict.max_depth(), 16);
/// assert_eq!(Limits::default().max_depth(), 128);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    max_depth: usize,
    max_alloc: usize,
}

impl Limits {
    /// The default nesting depth limit.
    pub const DEFAULT_MAX_DEPTH: usize = 128;
    /// The default allocation budget for one decoded message.
    pub const DEFAULT_MAX_ALLOC: usize = 1 << 30;

    /// Sets how deep containers (structs, enums, options, lists, maps, …) may nest.
    pub const fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets how many bytes one decode may allocate for collections and strings.
    pub const fn with_max_alloc(mut self, max_alloc: usize) -> Self {
        self.max_alloc = max_alloc;
        self
    }

    /// The nesting depth limit.
    pub const fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// The allocation budget for one decode, in bytes.
    pub const fn max_alloc(&self) -> usize {
        self.max_alloc
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_alloc: Self::DEFAULT_MAX_ALLOC,
        }
    }
}
