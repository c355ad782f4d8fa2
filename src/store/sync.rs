//! The three sync modes of `[store] sync` (PROTOCOL §8), named as Redis
//! names its `appendfsync` settings, and what each promises.

/// What an IAMAT's `AT` answer promises (`[store] sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// On stable storage before the answer is written (commits grouped
    /// across clients), like Redis `appendfsync always`.
    Always,
    /// At most the last second of acknowledged updates lost if every
    /// server crashes at once, like Redis `appendfsync everysec`.
    #[default]
    EverySec,
    /// The operating system decides, like Redis `appendfsync no`.
    Never,
}

impl SyncMode {
    /// The mode named `word`, as written in `[store] sync`.
    pub fn from_word(word: &str) -> Option<SyncMode> {
        match word {
            "always" => Some(SyncMode::Always),
            "everysec" => Some(SyncMode::EverySec),
            "never" => Some(SyncMode::Never),
            _ => None,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            SyncMode::Always => "always",
            SyncMode::EverySec => "everysec",
            SyncMode::Never => "never",
        }
    }
}
