//! The herd's network: one namespace per server, each with a veth into a
//! bridge in the root namespace (where the harness's clients live), all on
//! 10.<k>.0.0/24. Partitions are blackhole routes inside the two
//! namespaces, so a cut link's TCP connections stall and later resume, as
//! across a real cut. Every name starts with `hf<pid in hex>-`, so leftovers
//! of a harness that died are recognised (their pid is gone) and removed.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `ip ARGS`; fails with ip's own message.
pub fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .with_context(|| format!("cannot run `ip` (install iproute2): ip {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Root and a working `ip netns`, or one clear line saying what is missing.
pub fn preflight() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            "herd-faults needs root (network namespaces and veth links): run it with sudo or as root"
        );
    }
    ip(&["-V"]).context("`ip` from iproute2 is missing (apt-get install iproute2)")?;
    let probe = format!("{}probe", prefix_for(std::process::id()));
    ip(&["netns", "add", &probe])
        .context("network namespaces are unavailable here (`ip netns add` failed)")?;
    ip(&["netns", "del", &probe])?;
    Ok(())
}

/// The name prefix of the harness with process id `pid`.
pub fn prefix_for(pid: u32) -> String {
    format!("hf{pid:x}-")
}

/// The pid in a name made by some harness, if it is one of ours.
fn owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("hf")?;
    let (hex, _) = rest.split_once('-')?;
    u32::from_str_radix(hex, 16).ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes namespaces and links left by harnesses that are no longer running.
pub fn remove_stale() -> Result<usize> {
    let mut removed = 0;
    for line in ip(&["netns", "list"])?.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if owner(name).is_some_and(|p| !alive(p)) && ip(&["netns", "del", name]).is_ok() {
            removed += 1;
        }
    }
    for line in ip(&["-o", "link", "show"])?.lines() {
        // "12: hf1a2b-br: <...>" or "13: hf1a2b-v0@if12: <...>"
        let Some(name) = line
            .split(": ")
            .nth(1)
            .map(|n| n.split('@').next().unwrap_or(n))
        else {
            continue;
        };
        if owner(name).is_some_and(|p| !alive(p)) && ip(&["link", "del", name]).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// A second octet k for 10.k.0.0/24 that no interface uses yet.
fn free_subnet() -> Result<u8> {
    let used = ip(&["-o", "-4", "addr", "show"])?;
    let start = 100 + (std::process::id() % 100) as u8;
    (0..150u8)
        .map(|d| 100 + (start - 100 + d) % 150)
        .find(|k| !used.contains(&format!(" 10.{k}.")))
        .context("no free 10.k.0.0/24 subnet for the herd")
}

pub struct Net {
    prefix: String,
    subnet: u8,
    servers: usize,
    made: bool,
}

impl Net {
    /// Makes the bridge and `servers` namespaces; removed again on drop.
    pub fn create(servers: usize) -> Result<Net> {
        let mut net = Net {
            prefix: prefix_for(std::process::id()),
            subnet: free_subnet()?,
            servers,
            made: true,
        };
        net.build().inspect_err(|_| net.remove())?;
        Ok(net)
    }

    /// The names and addresses of a network that was never made (nothing
    /// to remove on drop), for unit tests.
    #[cfg(test)]
    pub fn for_test(subnet: u8) -> Net {
        Net {
            prefix: prefix_for(std::process::id()),
            subnet,
            servers: 5,
            made: false,
        }
    }

    fn build(&mut self) -> Result<()> {
        let br = self.bridge();
        ip(&["link", "add", &br, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("10.{}.0.254/24", self.subnet),
            "dev",
            &br,
        ])?;
        ip(&["link", "set", &br, "up"])?;
        for i in 0..self.servers {
            let ns = self.ns(i);
            let (v, p) = (
                format!("{}v{i}", self.prefix),
                format!("{}p{i}", self.prefix),
            );
            ip(&["netns", "add", &ns])?;
            ip(&[
                "link", "add", &v, "type", "veth", "peer", "name", &p, "netns", &ns,
            ])?;
            ip(&["-n", &ns, "link", "set", &p, "name", "eth0"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", self.addr(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["link", "set", &v, "master", &br, "up"])?;
        }
        Ok(())
    }

    fn bridge(&self) -> String {
        format!("{}br", self.prefix)
    }

    pub fn ns(&self, i: usize) -> String {
        format!("{}{i}", self.prefix)
    }

    pub fn addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, i as u8 + 1)
    }

    /// Cuts the link between servers a and b (both directions).
    pub fn cut(&self, a: usize, b: usize) -> Result<()> {
        self.blackholes("add", a, b)
    }

    /// Heals a cut made by `cut`.
    pub fn heal(&self, a: usize, b: usize) -> Result<()> {
        self.blackholes("del", a, b)
    }

    /// Adds or deletes (`op`) a blackhole route to b in a's namespace and
    /// to a in b's.
    fn blackholes(&self, op: &str, a: usize, b: usize) -> Result<()> {
        for (from, to) in [(a, b), (b, a)] {
            let dest = format!("{}/32", self.addr(to));
            ip(&["-n", &self.ns(from), "route", op, "blackhole", &dest])?;
        }
        Ok(())
    }

    /// Removes everything this run made (idempotent; errors are ignored, as
    /// some parts may never have been made).
    pub fn remove(&mut self) {
        if !self.made {
            return;
        }
        for i in 0..self.servers {
            let _ = ip(&["netns", "del", &self.ns(i)]);
            let _ = ip(&["link", "del", &format!("{}v{i}", self.prefix)]);
        }
        let _ = ip(&["link", "del", &self.bridge()]);
        self.made = false;
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_their_owner() {
        let p = prefix_for(0x1a2b);
        assert_eq!(p, "hf1a2b-");
        assert_eq!(owner(&format!("{p}br")), Some(0x1a2b));
        assert_eq!(owner(&format!("{p}3")), Some(0x1a2b));
        assert_eq!(owner("hfzz-br"), None);
        assert_eq!(owner("eth0"), None);
        assert_eq!(owner("hf12"), None);
        // Longest names fit IFNAMSIZ (15) even for the largest pid.
        assert!(format!("{}br", prefix_for(4_194_304)).len() <= 15);
        assert!(format!("{}v4", prefix_for(u32::MAX)).len() <= 15);
    }
}
