//! Labels: how wide a line of text is drawn, and where labels go so that no two overlap. The
//! picture is set in a monospace font, so a label's width follows from its length; every label
//! carries the box computed here (`data-box`), and the browser test measures the real one.

/// How wide one character is, as a share of the font size. DejaVu Sans Mono, the usual
/// monospace font on Linux, advances 0.602 em; a little more leaves room for other fonts.
const ADVANCE: f64 = 0.62;

/// The width of `text` at `size` pixels.
pub fn width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * ADVANCE * size
}

/// How many characters fit in `room` pixels at `size`.
pub fn fits(room: f64, size: f64) -> usize {
    (room / (ADVANCE * size)).floor().max(1.0) as usize
}

/// `text`, cut to `chars` characters with a `…` if it is longer.
pub fn cut(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(chars.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// `text` in lines of at most `chars` characters, broken at spaces; at most `most` lines, the
/// last cut with a `…` if the text goes on.
pub fn wrap(text: &str, chars: usize, most: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let wanted = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if !line.is_empty() && wanted > chars {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > most {
        let rest = lines.split_off(most - 1).join(" ");
        lines.push(cut(&rest, chars));
        lines.truncate(most);
    }
    lines.iter().map(|l| cut(l, chars)).collect()
}

/// Where to put labels `height` tall whose wanted centres are `wanted` (in any order), so that
/// no two overlap and all lie between `top` and `bottom`: each as near its wish as it can be.
/// Returns the centres, in the order of `wanted`. If they cannot all fit, they overflow at the
/// bottom rather than overlap.
pub fn spread(wanted: &[f64], height: f64, top: f64, bottom: f64) -> Vec<f64> {
    let mut order: Vec<usize> = (0..wanted.len()).collect();
    order.sort_by(|&a, &b| wanted[a].total_cmp(&wanted[b]));
    let mut placed: Vec<f64> = order.iter().map(|&i| wanted[i]).collect();
    // Downwards: each at least one label below the one above, and inside the top.
    let mut floor = top + height / 2.0;
    for y in placed.iter_mut() {
        *y = y.max(floor);
        floor = *y + height;
    }
    // Upwards: back inside the bottom, each at least one label above the one below.
    let mut ceiling = bottom - height / 2.0;
    for y in placed.iter_mut().rev() {
        *y = y.min(ceiling);
        ceiling = *y - height;
    }
    // Downwards once more, so that a crowd too tall to fit overflows at the bottom.
    let mut floor = top + height / 2.0;
    for y in placed.iter_mut() {
        *y = y.max(floor);
        floor = *y + height;
    }
    let mut centres = vec![0.0; wanted.len()];
    for (slot, &i) in order.iter().enumerate() {
        centres[i] = placed[slot];
    }
    centres
}

/// Two boxes (`[left, top, width, height]`) overlap when they share more than this, in pixels,
/// both across and down: boxes that touch, or that a font's rounding makes graze, do not.
const OVERLAP: f64 = 0.5;

/// The pairs `(i, j)`, `i < j`, of `boxes` that overlap.
pub fn overlapping(boxes: &[[f64; 4]]) -> Vec<(usize, usize)> {
    let shared = |a0: f64, a1: f64, b0: f64, b1: f64| a1.min(b1) - a0.max(b0);
    let mut pairs = Vec::new();
    for (i, a) in boxes.iter().enumerate() {
        for (j, b) in boxes.iter().enumerate().skip(i + 1) {
            let across = shared(a[0], a[0] + a[2], b[0], b[0] + b[2]);
            let down = shared(a[1], a[1] + a[3], b[1], b[1] + b[3]);
            if across > OVERLAP && down > OVERLAP {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crowded_labels_are_spread_apart_and_kept_inside() {
        let centres = spread(&[50.0, 49.0, 51.0, 200.0], 10.0, 0.0, 100.0);
        let mut crowd = centres[..3].to_vec();
        crowd.sort_by(f64::total_cmp);
        assert!(
            crowd.windows(2).all(|w| w[1] - w[0] >= 10.0 - 1e-9),
            "{crowd:?}"
        );
        // The label that wanted 49 stays above the one that wanted 51.
        assert!(centres[1] < centres[2]);
        // 200 lies below the bottom: it is brought back inside.
        assert_eq!(centres[3], 95.0);
    }

    #[test]
    fn long_text_is_wrapped_at_spaces_and_cut_with_an_ellipsis() {
        assert_eq!(
            wrap("Grow the break by 10000 bytes", 12, 3),
            ["Grow the", "break by", "10000 bytes"]
        );
        assert_eq!(wrap("one two three four", 9, 1), ["one two…"]);
        assert_eq!(cut("a Vec of 262144 bytes", 8), "a Vec o…");
        assert_eq!(fits(62.0, 10.0), 10);
    }

    #[test]
    fn boxes_that_only_touch_do_not_overlap() {
        // 0 and 1 touch side by side; 2 grazes 0 by 0.2 pixels, and overlaps 1.
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [10.0, 0.0, 10.0, 10.0],
            [9.8, 8.0, 10.0, 10.0],
        ];
        assert_eq!(overlapping(&boxes), [(1, 2)]);
    }
}
