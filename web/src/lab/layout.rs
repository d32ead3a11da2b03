//! Where the network picture puts everything: segments as horizontal lines across the picture, hosts
//! hanging off their segment, routers and relays between the segments they join (touching each), a
//! lease database below the servers that share it. Plain geometry, so a test checks every scenario's
//! drawing: every attachment touches its link, no box lies over a line or another box, nothing leaves
//! the picture.

use dhcplab_engine::sim::{NodeKind, Sim};

/// The picture's width (its viewBox; the page scales it to laptop or phone width).
pub const W: f64 = 760.0;
/// Node boxes.
pub const BOX_W: f64 = 124.0;
pub const BOX_H: f64 = 44.0;
/// Segment lines run from here to `W - MARGIN`.
pub const MARGIN: f64 = 20.0;
/// How far a host's centre hangs above or below its segment.
const HANG: f64 = 55.0;
/// The first segment's height, and its height when nodes also hang above it.
const TOP: f64 = 40.0;
const TOP_CROWDED: f64 = 95.0;
/// Between segments: room for a box below one and a box above the next, with air between.
const SEG_GAP: f64 = 150.0;
const SEG_GAP_CROWDED: f64 = 2.0 * HANG + BOX_H + 20.0;
/// Beyond this many nodes per segment the picture shows a count instead.
pub const MAX_PER_SEGMENT: usize = 8;
/// Up to this many nodes hang below the line; more alternate above and below.
const ONE_ROW: usize = 5;
/// The column of routers and relays, right of every host.
const ROUTER_X: f64 = W - MARGIN - 20.0 - BOX_W / 2.0;

/// A node's box: its centre.
pub type At = (f64, f64);

/// Where each node is drawn, and where each segment runs.
pub struct Layout {
    pub nodes: Vec<Option<At>>,
    /// Which nodes are drawn as dots in a crowd (a segment with more clients than boxes fit).
    pub dots: Vec<bool>,
    /// Each segment's height.
    pub segments: Vec<f64>,
    /// The crowds: a box of dots above a segment.
    pub crowds: Vec<Crowd>,
    /// Per segment, how many of its nodes are not drawn.
    pub hidden: Vec<usize>,
    pub top: f64,
    /// The lowest point drawn.
    pub bottom: f64,
}

/// The clients of a crowded segment, drawn as dots in one box above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crowd {
    pub segment: usize,
    pub count: usize,
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// A line the picture draws: a node's attachment to a segment, or a database's link to a server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// Dots in a crowd: their spacing and radius.
pub const DOT_GAP: f64 = 14.0;
pub const DOT_R: f64 = 4.5;
/// Room for the crowd's label above its dots, and below it for the segment's label.
const CROWD_HEAD: f64 = 18.0;
const CROWD_FOOT: f64 = 26.0;

pub fn layout(sim: &Sim) -> Layout {
    let mut per_seg: Vec<Vec<usize>> = vec![vec![]; sim.segments.len()];
    let mut nodes = vec![None; sim.nodes.len()];
    let mut dots = vec![false; sim.nodes.len()];
    let mut multi = vec![];
    for (id, node) in sim.nodes.iter().enumerate() {
        if node.removed {
            continue;
        }
        let mut segs: Vec<usize> = node.nics().iter().map(|&n| sim.nics[n].segment).collect();
        segs.sort();
        segs.dedup();
        if segs.len() > 1 {
            multi.push((id, segs));
        } else if let Some(&s) = segs.first() {
            per_seg[s].push(id);
        }
    }
    // A segment with more clients than boxes fit draws them as dots, in a box above it.
    let is_client = |id: &usize| matches!(sim.nodes[*id].kind, NodeKind::Host { .. });
    let crowded: Vec<bool> =
        per_seg.iter().map(|ids| ids.iter().filter(|i| is_client(i)).count() > MAX_PER_SEGMENT).collect();
    let cols = ((W - 2.0 * MARGIN - 2.0 * DOT_GAP) / DOT_GAP).floor().max(1.0) as usize;
    let crowd_h = |s: usize| {
        let n = if crowded[s] { per_seg[s].iter().filter(|i| is_client(i)).count() } else { 0 };
        if n == 0 { 0.0 } else { CROWD_HEAD + n.div_ceil(cols) as f64 * DOT_GAP + 6.0 + CROWD_FOOT + 8.0 }
    };
    let boxes_above = per_seg.iter().zip(&crowded).any(|(v, &c)| !c && v.len() > ONE_ROW);
    let top = if boxes_above { TOP_CROWDED } else { TOP };
    let gap = if boxes_above { SEG_GAP_CROWDED } else { SEG_GAP };
    let mut segments: Vec<f64> = vec![];
    for s in 0..sim.segments.len() {
        let y = match segments.last() {
            None => top + crowd_h(s),
            Some(prev) => prev + gap + crowd_h(s),
        };
        segments.push(y);
    }
    // Routers sit in their own column on the right, halfway between the segments they join; two routers
    // joining the same pair are stacked apart.
    let mut placed: Vec<At> = vec![];
    for (id, segs) in &multi {
        let mut y = segs.iter().map(|&s| segments[s]).sum::<f64>() / segs.len() as f64;
        while placed.iter().any(|p| (p.1 - y).abs() < BOX_H + 10.0) {
            y += BOX_H + 10.0;
        }
        placed.push((ROUTER_X, y));
        nodes[*id] = Some((ROUTER_X, y));
    }
    // Hosts spread over the width left of the router column.
    let right = if multi.is_empty() { W - MARGIN - BOX_W / 2.0 - 10.0 } else { ROUTER_X - BOX_W - 16.0 };
    let left = MARGIN + BOX_W / 2.0 + 10.0;
    let mut hidden = vec![0; segments.len()];
    let mut crowds = vec![];
    for (s, ids) in per_seg.iter().enumerate() {
        let boxed: Vec<usize> = ids.iter().copied().filter(|i| !crowded[s] || !is_client(i)).collect();
        if crowded[s] {
            let members: Vec<usize> = ids.iter().copied().filter(is_client).collect();
            // Above the segment, leaving room for its label; 6 px below the last row of dots.
            let (y2, y1) = (segments[s] - CROWD_FOOT, segments[s] - crowd_h(s) + 8.0);
            let (x1, x2) = (MARGIN + 4.0, W - MARGIN - 4.0);
            for (i, &id) in members.iter().enumerate() {
                let (row, col) = (i / cols, i % cols);
                nodes[id] =
                    Some((x1 + DOT_GAP + col as f64 * DOT_GAP, y1 + CROWD_HEAD + row as f64 * DOT_GAP + DOT_GAP / 2.0));
                dots[id] = true;
            }
            crowds.push(Crowd { segment: s, count: members.len(), x1, y1, x2, y2 });
        }
        let shown = boxed.len().min(MAX_PER_SEGMENT);
        hidden[s] = boxed.len() - shown;
        for (i, &id) in boxed.iter().take(shown).enumerate() {
            let x =
                if shown > 1 { left + (right - left) * i as f64 / (shown - 1) as f64 } else { (left + right) / 2.0 };
            let below = i % 2 == 0 || shown <= ONE_ROW || crowded[s];
            nodes[id] = Some((x, segments[s] + if below { HANG } else { -HANG }));
        }
    }
    // A lease database hangs below the lowest of the servers that share it, linked to each of them.
    let mut bottom = segments.last().copied().unwrap_or(top) + HANG + BOX_H / 2.0 + 10.0;
    bottom = nodes.iter().flatten().map(|p| p.1 + BOX_H / 2.0 + 10.0).fold(bottom, f64::max);
    for (id, node) in sim.nodes.iter().enumerate() {
        if let NodeKind::Database { servers, .. } = &node.kind {
            let at: Vec<At> = servers.iter().filter_map(|&s| nodes.get(s).copied().flatten()).collect();
            if at.is_empty() {
                continue;
            }
            let x = at.iter().map(|p| p.0).sum::<f64>() / at.len() as f64;
            // Below everything else, so its links cross no segment and no box.
            let y = bottom + BOX_H;
            nodes[id] = Some((x, y));
            bottom = y + BOX_H / 2.0 + 10.0;
        }
    }
    Layout { nodes, dots, segments, crowds, hidden, top, bottom }
}

impl Layout {
    /// Every segment's line.
    pub fn segment_line(&self, s: usize) -> Line {
        let y = self.segments[s];
        Line { x1: MARGIN, y1: y, x2: W - MARGIN, y2: y }
    }

    /// A crowd's attachment to its segment.
    pub fn crowd_line(&self, c: &Crowd) -> Line {
        let x = (c.x1 + c.x2) / 2.0;
        Line { x1: x, y1: c.y2, x2: x, y2: self.segments[c.segment] }
    }

    /// The lines that attach node `id`: a drop to each segment it has a NIC on, or for a database, a link
    /// to each of its servers. A dot has none of its own: its crowd is attached.
    pub fn lines(&self, sim: &Sim, id: usize) -> Vec<Line> {
        let Some((x, y)) = self.nodes.get(id).copied().flatten() else { return vec![] };
        if self.dots[id] {
            return vec![];
        }
        let node = &sim.nodes[id];
        if let NodeKind::Database { servers, .. } = &node.kind {
            return servers
                .iter()
                .filter_map(|&s| self.nodes.get(s).copied().flatten())
                .map(|(sx, sy)| Line { x1: x, y1: y - BOX_H / 2.0, x2: sx, y2: sy + BOX_H / 2.0 })
                .collect();
        }
        node.nics()
            .iter()
            .map(|&n| {
                let sy = self.segments[sim.nics[n].segment];
                // From the box's edge that faces the segment.
                let edge = if sy < y { y - BOX_H / 2.0 } else { y + BOX_H / 2.0 };
                Line { x1: x, y1: edge, x2: x, y2: sy }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcplab_engine::sim::scenario;

    /// A box as (left, top, right, bottom).
    fn rect((x, y): At) -> (f64, f64, f64, f64) {
        (x - BOX_W / 2.0, y - BOX_H / 2.0, x + BOX_W / 2.0, y + BOX_H / 2.0)
    }

    /// Whether a horizontal or vertical line passes through the inside of a box.
    fn crosses(l: &Line, (a, b, c, d): (f64, f64, f64, f64)) -> bool {
        let (lx1, lx2) = (l.x1.min(l.x2), l.x1.max(l.x2));
        let (ly1, ly2) = (l.y1.min(l.y2), l.y1.max(l.y2));
        if l.y1 == l.y2 {
            l.y1 > b && l.y1 < d && lx2 > a && lx1 < c
        } else if l.x1 == l.x2 {
            l.x1 > a && l.x1 < c && ly2 > b && ly1 < d
        } else {
            // A slanted database link: sample it.
            (0..=50).map(|i| i as f64 / 50.0).any(|t| {
                let (x, y) = (l.x1 + (l.x2 - l.x1) * t, l.y1 + (l.y2 - l.y1) * t);
                x > a && x < c && y > b && y < d
            })
        }
    }

    fn check(name: &str, sim: &Sim) {
        let l = layout(sim);
        // Dots are checked against their crowd's box, which is checked as a box.
        for (id, at) in l.nodes.iter().enumerate().filter_map(|(i, p)| Some((i, (*p)?))) {
            if l.dots[id] {
                let c =
                    l.crowds.iter().find(|c| sim.nodes[id].nics().iter().any(|&n| sim.nics[n].segment == c.segment));
                let c = c.unwrap_or_else(|| panic!("{name}: a dot with no crowd"));
                assert!(
                    at.0 - DOT_R >= c.x1 && at.0 + DOT_R <= c.x2 && at.1 - DOT_R >= c.y1 && at.1 + DOT_R <= c.y2,
                    "{name}: a dot outside its crowd"
                );
            }
        }
        for c in &l.crowds {
            let line = l.crowd_line(c);
            let s = l.segment_line(c.segment);
            assert!(line.y2 == s.y1 && line.x1 >= s.x1 && line.x1 <= s.x2, "{name}: the crowd misses its segment");
            for (seg, _) in l.segments.iter().enumerate() {
                assert!(
                    !crosses(&l.segment_line(seg), (c.x1, c.y1, c.x2, c.y2)),
                    "{name}: segment {seg} runs through the crowd"
                );
            }
            for (id, at) in
                l.nodes.iter().enumerate().filter_map(|(i, p)| Some((i, (*p)?))).filter(|(i, _)| !l.dots[*i])
            {
                let (a, b, cc, d) = rect(at);
                assert!(
                    cc <= c.x1 || c.x2 <= a || d <= c.y1 || c.y2 <= b,
                    "{name}: {} overlaps the crowd",
                    sim.nodes[id].name
                );
            }
            assert!(c.y1 >= 0.0, "{name}: the crowd leaves the picture");
        }
        let drawn: Vec<(usize, At)> =
            l.nodes.iter().enumerate().filter_map(|(i, p)| Some((i, (*p)?))).filter(|(i, _)| !l.dots[*i]).collect();
        for &(id, at) in &drawn {
            let who = format!("{name}: {}", sim.nodes[id].name);
            let (a, b, c, d) = rect(at);
            assert!(a >= 0.0 && c <= W && b >= 0.0 && d <= l.bottom, "{who} leaves the picture: {:?}", rect(at));
            // Every attachment touches its segment's line, and the box.
            for line in l.lines(sim, id) {
                if !matches!(sim.nodes[id].kind, NodeKind::Database { .. }) {
                    let seg = l.segments.iter().position(|&y| y == line.y2).expect("ends on a segment");
                    let s = l.segment_line(seg);
                    assert!(line.x1 >= s.x1 && line.x1 <= s.x2, "{who}'s line misses segment {seg}");
                }
                assert!(line.y1 == b || line.y1 == d, "{who}'s line starts off its box");
                // No other box lies over it.
                for &(other, oat) in drawn.iter().filter(|(o, _)| *o != id) {
                    let ends_in =
                        matches!(&sim.nodes[id].kind, NodeKind::Database { servers, .. } if servers.contains(&other));
                    assert!(
                        ends_in || !crosses(&line, rect(oat)),
                        "{}'s box lies over {who}'s line",
                        sim.nodes[other].name
                    );
                }
            }
            // No segment runs through the box.
            for s in 0..l.segments.len() {
                assert!(!crosses(&l.segment_line(s), rect(at)), "segment {s} runs through {who}");
            }
            // No box over another.
            for &(other, oat) in drawn.iter().filter(|(o, _)| *o > id) {
                let (e, f, g, h) = rect(oat);
                let apart = c <= e || g <= a || d <= f || h <= b;
                assert!(apart, "{who} and {} overlap", sim.nodes[other].name);
            }
        }
    }

    #[test]
    fn every_scenario_is_drawn_with_attachments_touching_and_nothing_overlapping() {
        for info in scenario::list() {
            let mut s = scenario::build(info.name, 1).expect("listed");
            // At the start, and with everything the story adds (servers, hosts, moves) at its end.
            check(info.name, &s.sim);
            s.run();
            check(info.name, &s.sim);
        }
        for n in [7, 100, 1000] {
            let mut crowd = scenario::crowd(n, 1);
            check("crowd", &crowd.sim);
            crowd.run();
            check("crowd", &crowd.sim);
            let l = layout(&crowd.sim);
            let dots = l.dots.iter().filter(|d| **d).count();
            assert_eq!(dots, if n > MAX_PER_SEGMENT { n } else { 0 }, "every client of a crowd is drawn");
        }
    }

    #[test]
    fn the_relay_sits_between_its_two_segments_and_touches_both() {
        let s = scenario::build("relay", 1).unwrap();
        let l = layout(&s.sim);
        let router = s.sim.nodes.iter().position(|n| n.name == "router").expect("a router");
        let (_, y) = l.nodes[router].unwrap();
        assert!(y > l.segments[0] && y < l.segments[1]);
        let lines = l.lines(&s.sim, router);
        assert_eq!(lines.len(), 2);
        let mut ends: Vec<f64> = lines.iter().map(|x| x.y2).collect();
        ends.sort_by(f64::total_cmp);
        assert_eq!(ends, [l.segments[0], l.segments[1]]);
    }
}
