//! Who a node is in its herd: its name, its neighbours and its limits,
//! read once from the config when the node starts.
//!
//! Both Rust builds keep one [`Identity`] in their shared node state, so
//! the questions every stage asks ("what is my name?", "is this a
//! neighbour?", "what are my limits?") have one answer and one
//! implementation.

use crate::config::{Config, ConfigError};
use crate::limits::Limits;

/// A node's name, neighbours and limits.
#[derive(Debug, Clone)]
pub struct Identity {
    name: String,
    neighbours: Vec<String>,
    limits: Limits,
}

/// A neighbour to open a link to: its name and `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub name: String,
    pub addr: String,
}

impl Identity {
    /// Server `name` of `config`, and the neighbours its links go to.
    pub fn from_config(
        config: &Config,
        name: &str,
    ) -> Result<(Identity, Vec<Neighbour>), ConfigError> {
        let me = config.server(name)?;
        let neighbours = me
            .peers
            .iter()
            .filter_map(|peer| config.servers.iter().find(|s| &s.name == peer))
            .map(|s| Neighbour {
                name: s.name.clone(),
                addr: s.addr.clone(),
            })
            .collect();
        let identity = Identity {
            name: me.name.clone(),
            neighbours: me.peers.clone(),
            limits: config.limits,
        };
        Ok((identity, neighbours))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The neighbours' names, sorted.
    pub fn neighbours(&self) -> &[String] {
        &self.neighbours
    }

    pub fn is_neighbour(&self, name: &str) -> bool {
        self.neighbours.iter().any(|n| n == name)
    }
}
