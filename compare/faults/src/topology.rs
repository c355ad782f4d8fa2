//! The herd's graph (PROTOCOL §1): the five servers, their links, and which
//! servers can still reach each other once some are down or links are cut.
//! Pure, so the scenarios' expectations are unit-tested.

/// The five servers, in PROTOCOL §1's order; an index into this is a server.
pub const SERVERS: [&str; 5] = ["Bernard", "Clark", "Jaquez", "Johnson", "Juzang"];

/// Every link once (links are bidirectional).
pub const LINKS: [(usize, usize); 6] = [(0, 2), (0, 3), (0, 4), (1, 2), (1, 4), (3, 4)];

/// First port; server i listens on `BASE_PORT + i`.
pub const BASE_PORT: u16 = 12331;

/// The neighbours of server `i`, by index.
pub fn neighbours(i: usize) -> Vec<usize> {
    LINKS
        .iter()
        .filter_map(|&(a, b)| {
            if a == i {
                Some(b)
            } else if b == i {
                Some(a)
            } else {
                None
            }
        })
        .collect()
}

/// Connected components of the herd without the servers in `down` and the
/// links in `cut` (either orientation). Each component is sorted; the list
/// is sorted by first member. Down servers belong to no component.
pub fn components(down: &[usize], cut: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let n = SERVERS.len();
    let is_cut = |a: usize, b: usize| {
        cut.iter()
            .any(|&(x, y)| (x, y) == (a, b) || (x, y) == (b, a))
    };
    let mut seen = vec![false; n];
    let mut out = Vec::new();
    for start in 0..n {
        if seen[start] || down.contains(&start) {
            continue;
        }
        let mut comp = Vec::new();
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(v) = stack.pop() {
            comp.push(v);
            for w in neighbours(v) {
                if !seen[w] && !down.contains(&w) && !is_cut(v, w) {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        comp.sort_unstable();
        out.push(comp);
    }
    out
}

/// All unordered pairs of servers (the CS131 scenario kills each in turn).
pub fn pairs() -> Vec<(usize, usize)> {
    let n = SERVERS.len();
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// Index of a server by name.
pub fn index(name: &str) -> Option<usize> {
    SERVERS.iter().position(|s| *s == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(comps: &[Vec<usize>]) -> Vec<Vec<&'static str>> {
        comps
            .iter()
            .map(|c| c.iter().map(|&i| SERVERS[i]).collect())
            .collect()
    }

    #[test]
    fn neighbour_table_matches_the_protocol() {
        let table: Vec<Vec<&str>> = (0..5)
            .map(|i| neighbours(i).into_iter().map(|j| SERVERS[j]).collect())
            .collect();
        assert_eq!(table[0], ["Jaquez", "Johnson", "Juzang"]);
        assert_eq!(table[1], ["Jaquez", "Juzang"]);
        assert_eq!(table[2], ["Bernard", "Clark"]);
        assert_eq!(table[3], ["Bernard", "Juzang"]);
        assert_eq!(table[4], ["Bernard", "Clark", "Johnson"]);
    }

    #[test]
    fn whole_herd_is_one_component() {
        assert_eq!(components(&[], &[]), vec![vec![0, 1, 2, 3, 4]]);
    }

    #[test]
    fn killing_bernard_and_juzang_leaves_johnson_alone() {
        let b = index("Bernard").unwrap();
        let z = index("Juzang").unwrap();
        assert_eq!(
            names(&components(&[b, z], &[])),
            [vec!["Clark", "Jaquez"], vec!["Johnson"]]
        );
    }

    #[test]
    fn killing_clark_and_johnson_keeps_the_rest_connected() {
        assert_eq!(
            names(&components(&[1, 3], &[])),
            [vec!["Bernard", "Jaquez", "Juzang"]]
        );
    }

    #[test]
    fn killing_jaquez_and_juzang_isolates_clark() {
        assert_eq!(
            names(&components(&[2, 4], &[])),
            [vec!["Bernard", "Johnson"], vec!["Clark"]]
        );
    }

    #[test]
    fn cut_links_split_the_herd() {
        // Jaquez-Bernard and Clark-Juzang: {Clark, Jaquez} | {Bernard, Johnson, Juzang}.
        let comps = components(&[], &[(2, 0), (1, 4)]);
        assert_eq!(
            names(&comps),
            [
                vec!["Bernard", "Johnson", "Juzang"],
                vec!["Clark", "Jaquez"]
            ]
        );
    }

    #[test]
    fn ten_pairs() {
        let p = pairs();
        assert_eq!(p.len(), 10);
        assert!(p.iter().all(|&(a, b)| a < b && b < 5));
    }
}
