//! The four builds of the herd and where their programs are: the PROTOCOL §6
//! launcher of each (`target/release/herd`, `compare/<build>/herd-<build>`),
//! and the release binary that a measurement runs directly so that no cargo
//! runs mid-measurement (the tokio launcher may call cargo).

use std::path::{Path, PathBuf};

/// One build of the herd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    Blocking,
    Tokio,
    Asyncio,
    Node,
}

impl Build {
    /// Every build, in the order reports list them.
    pub const ALL: [Build; 4] = [Build::Blocking, Build::Tokio, Build::Asyncio, Build::Node];

    pub fn name(self) -> &'static str {
        match self {
            Build::Blocking => "blocking",
            Build::Tokio => "tokio",
            Build::Asyncio => "asyncio",
            Build::Node => "node",
        }
    }

    pub fn parse(s: &str) -> Option<Build> {
        Build::ALL.into_iter().find(|b| b.name() == s)
    }
}

/// Where the repository and its build outputs are.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    /// `$CARGO_TARGET_DIR` (relative to `root` when relative), else
    /// `root/target`.
    pub target: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Paths {
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(t) if Path::new(&t).is_absolute() => PathBuf::from(t),
            Some(t) => root.join(t),
            None => root.join("target"),
        };
        Paths {
            root: root.to_path_buf(),
            target,
        }
    }

    /// A release binary of the workspace.
    pub fn release(&self, bin: &str) -> PathBuf {
        self.target.join("release").join(bin)
    }

    /// The PROTOCOL §6 launcher of `build`. The scripts of the other builds
    /// prepare them on first use (cargo build, a venv, npm ci).
    pub fn launcher(&self, build: Build) -> PathBuf {
        match build {
            Build::Blocking => self.release("herd"),
            other => {
                let name = other.name();
                self.root
                    .join("compare")
                    .join(name)
                    .join(format!("herd-{name}"))
            }
        }
    }

    /// The program a measurement runs for `build`: the tokio launcher
    /// `exec`s target/release/herd-tokio after checking that it is fresh
    /// (running cargo if not); a caller that built it first runs the binary
    /// itself, so that no cargo runs (or waits on a lock) mid-measurement.
    /// The other builds: their launcher.
    pub fn release_program(&self, build: Build) -> PathBuf {
        match build {
            Build::Tokio => self.release("herd-tokio"),
            other => self.launcher(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_parse_and_find_their_programs() {
        for b in Build::ALL {
            assert_eq!(Build::parse(b.name()), Some(b));
        }
        assert_eq!(Build::parse("cobol"), None);
        let p = Paths {
            root: PathBuf::from("/r"),
            target: PathBuf::from("/r/target"),
        };
        assert_eq!(
            p.launcher(Build::Blocking),
            Path::new("/r/target/release/herd")
        );
        assert_eq!(
            p.launcher(Build::Tokio),
            Path::new("/r/compare/tokio/herd-tokio")
        );
        assert_eq!(
            p.release_program(Build::Tokio),
            Path::new("/r/target/release/herd-tokio")
        );
        assert_eq!(
            p.release_program(Build::Node),
            Path::new("/r/compare/node/herd-node")
        );
    }
}
