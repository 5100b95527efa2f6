//! The vertical axis shared by every column: where each address is drawn. Low addresses are at
//! the bottom, as in the lesson's own diagram; one address has one height in every column, so
//! that what changed from step to step shows as a difference between neighbours.
//!
//! The axis is cut at every band's edge, in every column. Stretches that some step has mapped,
//! and the small holes between them, make *islands*, each drawn to scale: a band's height is
//! its size times the island's scale, except that no band is drawn thinner than a few pixels.
//! Large holes, mapped in no step, are drawn compressed, all of one height, and labelled with
//! their true size.

use super::bands::{Band, LARGE_GAP};

/// The top of the user address space on x86_64 with 4-level page tables: 128 TiB.
pub const USER_TOP: u64 = 1 << 47;

/// The height of a compressed gap, in pixels.
pub const GAP_HEIGHT: f64 = 40.0;

/// The thinnest a mapped stretch is drawn, so that a single page stays visible.
const MIN_MAPPED: f64 = 3.0;
/// The thinnest a hole inside an island is drawn, so that neighbours stay apart.
const MIN_HOLE: f64 = 1.0;
/// An island of one page is this tall; each doubling of its size adds [`PER_DOUBLING`].
const ISLAND_BASE: f64 = 30.0;
const PER_DOUBLING: f64 = 14.0;

/// What a row of the axis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A stretch drawn to scale.
    Island,
    /// A large hole, drawn compressed.
    Gap,
}

/// A stretch of addresses `start..end`, drawn from `low` (the y of `start`) up to `high`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    /// Its lowest address.
    pub start: u64,
    /// The first address above it.
    pub end: u64,
    /// The y of `start` (SVG's y grows downwards, so `low > high`).
    pub low: f64,
    /// The y of `end`.
    pub high: f64,
}

/// A row of the axis: an island or a compressed gap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    /// Its addresses and place.
    pub at: Stretch,
    /// What it is.
    pub kind: RowKind,
}

/// Where each address is drawn.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The pieces between consecutive cuts, from the lowest address up.
    pieces: Vec<Stretch>,
    /// The islands and gaps, from the lowest address up.
    pub rows: Vec<Row>,
    /// The y of the axis's top (its highest address).
    pub top: f64,
    /// The y of its bottom (address 0).
    pub bottom: f64,
}

impl Axis {
    /// The y at which `address` is drawn.
    pub fn y(&self, address: u64) -> f64 {
        let i = self.pieces.partition_point(|p| p.end <= address);
        let Some(piece) = self.pieces.get(i) else {
            return self.top;
        };
        let along = address.saturating_sub(piece.start) as f64 / (piece.end - piece.start) as f64;
        piece.low - along * (piece.low - piece.high)
    }
}

/// Every band edge of every column, with 0 and the top of the user address space: the cuts.
fn cuts(columns: &[Vec<Band>]) -> Vec<u64> {
    let mut cuts: Vec<u64> = columns
        .iter()
        .flatten()
        .flat_map(|b| [b.start, b.end])
        .chain([0, USER_TOP])
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Whether some column has `start..end` inside one of its bands.
fn mapped(columns: &[Vec<Band>], start: u64, end: u64) -> bool {
    columns.iter().any(|bands| {
        let after = bands.partition_point(|b| b.start <= start);
        after > 0 && bands[after - 1].end >= end
    })
}

/// The heights of an island's pieces: each `max(min, scale × len)`, with the scale that makes
/// them add up to `budget` (or to their minimums, if those need more).
fn scaled(lens: &[u64], mins: &[f64], budget: f64) -> Vec<f64> {
    let mut floored = vec![false; lens.len()];
    loop {
        let fixed: f64 = (0..lens.len())
            .filter(|&i| floored[i])
            .map(|i| mins[i])
            .sum();
        let free: u64 = (0..lens.len())
            .filter(|&i| !floored[i])
            .map(|i| lens[i])
            .sum();
        let scale = if free == 0 {
            0.0
        } else {
            (budget - fixed).max(0.0) / free as f64
        };
        let mut changed = false;
        for i in 0..lens.len() {
            if !floored[i] && scale * (lens[i] as f64) < mins[i] {
                floored[i] = true;
                changed = true;
            }
        }
        if !changed {
            return (0..lens.len())
                .map(|i| {
                    if floored[i] {
                        mins[i]
                    } else {
                        scale * lens[i] as f64
                    }
                })
                .collect();
        }
    }
}

/// The height an island of `bytes` gets: it grows with the logarithm of its size, so that a
/// 1 TiB mapping is taller than a page, but not a million times taller.
fn island_height(bytes: u64) -> f64 {
    let pages = (bytes as f64 / 4096.0).max(1.0);
    ISLAND_BASE + PER_DOUBLING * pages.log2()
}

/// A piece of the axis before it is placed: `start..end`, whether a step mapped it.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    end: u64,
    mapped: bool,
}

impl Piece {
    /// Whether it is drawn compressed: a hole mapped in no step that is large, or at an edge of
    /// the user address space.
    fn compressed(&self) -> bool {
        !self.mapped
            && (self.end - self.start >= LARGE_GAP
                || self.start == 0
                || self.end == USER_TOP
                || self.start >= USER_TOP)
    }
}

/// The heights of a run of pieces: one for a compressed gap, or an island's scaled heights.
fn heights(run: &[Piece]) -> Vec<f64> {
    if run.len() == 1 && run[0].compressed() {
        return vec![GAP_HEIGHT];
    }
    let lens: Vec<u64> = run.iter().map(|p| p.end - p.start).collect();
    let mins: Vec<f64> = run
        .iter()
        .map(|p| if p.mapped { MIN_MAPPED } else { MIN_HOLE })
        .collect();
    scaled(&lens, &mins, island_height(lens.iter().sum()))
}

/// The axis for `columns` (each column's bands, in address order), its top at y = `top`.
pub fn axis(columns: &[Vec<Band>], top: f64) -> Axis {
    let cuts = cuts(columns);
    let pieces: Vec<Piece> = cuts
        .windows(2)
        .map(|w| Piece {
            start: w[0],
            end: w[1],
            mapped: mapped(columns, w[0], w[1]),
        })
        .collect();
    // Runs: each compressed gap alone, and the islands between them.
    let mut runs: Vec<&[Piece]> = Vec::new();
    let mut from = 0;
    for (i, piece) in pieces.iter().enumerate() {
        if piece.compressed() {
            if from < i {
                runs.push(&pieces[from..i]);
            }
            runs.push(&pieces[i..=i]);
            from = i + 1;
        }
    }
    if from < pieces.len() {
        runs.push(&pieces[from..]);
    }
    let total: f64 = runs
        .iter()
        .map(|run| heights(run).iter().sum::<f64>())
        .sum();
    let bottom = top + total;
    let (mut placed, mut rows, mut y) = (Vec::new(), Vec::new(), bottom);
    for run in runs {
        let row_low = y;
        for (piece, height) in run.iter().zip(heights(run)) {
            placed.push(Stretch {
                start: piece.start,
                end: piece.end,
                low: y,
                high: y - height,
            });
            y -= height;
        }
        let kind = if run.len() == 1 && run[0].compressed() {
            RowKind::Gap
        } else {
            RowKind::Island
        };
        let at = Stretch {
            start: run[0].start,
            end: run[run.len() - 1].end,
            low: row_low,
            high: y,
        };
        rows.push(Row { at, kind });
    }
    Axis {
        pieces: placed,
        rows,
        top,
        bottom,
    }
}

#[cfg(test)]
mod tests {
    use super::super::bands::Kind;
    use super::*;

    fn band(start: u64, end: u64) -> Band {
        Band {
            start,
            end,
            kind: Kind::Anonymous,
            first: 0,
            count: 1,
        }
    }

    #[test]
    fn bands_are_to_scale_within_an_island_and_gaps_are_compressed() {
        // Two mappings 4 KiB apart make one island; the stack far above is another.
        let low = 0x5555_0000_0000;
        let columns = vec![vec![
            band(low, low + 0x10_0000),
            band(low + 0x10_1000, low + 0x20_1000),
            band(0x7ffd_0000_0000, 0x7ffd_0002_1000),
        ]];
        let axis = axis(&columns, 10.0);
        let kinds: Vec<RowKind> = axis.rows.iter().map(|r| r.kind).collect();
        use RowKind::{Gap, Island};
        assert_eq!(kinds, [Gap, Island, Gap, Island, Gap]);
        assert!(
            axis.rows
                .iter()
                .all(|r| r.kind == Island || (r.at.low - r.at.high) == GAP_HEIGHT)
        );
        // The two 1 MiB mappings are drawn the same height, and low below high.
        let first = axis.y(low) - axis.y(low + 0x10_0000);
        let second = axis.y(low + 0x10_1000) - axis.y(low + 0x20_1000);
        assert!((first - second).abs() < 1e-9, "{first} {second}");
        assert!(axis.y(low) > axis.y(0x7ffd_0000_0000));
        assert_eq!(axis.y(0), axis.bottom);
        assert_eq!(axis.y(USER_TOP), axis.top);
    }

    #[test]
    fn a_page_beside_a_large_mapping_is_still_seen() {
        let heights = scaled(&[4096, 1 << 40], &[3.0, 3.0], 400.0);
        assert_eq!(heights[0], 3.0);
        assert!((heights[1] - 397.0).abs() < 1e-9);
        // When the minimums need more than the budget, they win.
        assert_eq!(scaled(&[1, 1], &[3.0, 3.0], 1.0), [3.0, 3.0]);
    }
}
