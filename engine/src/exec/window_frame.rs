//! Frame arithmetic of the window operator: for rows already sorted by (partition keys, order
//! keys), each row's frame as a half-open range of row positions. `ROWS` offsets count rows;
//! `RANGE` offsets compare values of the single `ORDER BY` key (by binary search, since the key
//! is sorted within the partition), and `CURRENT ROW` in `RANGE` means the row's peer group. As
//! in PostgreSQL, NULL keys are peers of each other and their `RANGE` offset frames are their
//! peer group.

use std::ops::Range;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type};

use crate::error::{EngineError, Result};
use crate::plan::window::{FrameBound, FrameOffset, FrameUnits, WindowFrame};

/// Rows' positions within their partitions, shared by every call with the same window.
pub struct WindowLayout<'a> {
    pub partitions: &'a [Range<usize>],
    pub peer_start: &'a [usize],
    pub peer_end: &'a [usize],
    /// The first `ORDER BY` key in window order and whether it ascends, for `RANGE` offsets.
    pub order_key: Option<(&'a ArrayRef, bool)>,
}

/// Each row's frame: (first row, one past the last row), with `end >= start`.
pub fn frame_bounds(frame: &WindowFrame, layout: &WindowLayout<'_>) -> Result<(Vec<usize>, Vec<usize>)> {
    let n = layout.peer_start.len();
    let mut starts = Vec::with_capacity(n);
    let mut ends = Vec::with_capacity(n);
    let keys = match frame.units {
        FrameUnits::Range if has_offset(&frame.start) || has_offset(&frame.end) => Some(range_keys(layout)?),
        _ => None,
    };
    for p in layout.partitions {
        let non_null = keys.as_ref().map(|k| non_null_run(k, p)).unwrap_or(p.clone());
        for i in p.clone() {
            let bound = |b: &FrameBound, is_end: bool| match frame.units {
                FrameUnits::Rows => rows_bound(b, is_end, i, p),
                FrameUnits::Range => {
                    let key = keys.as_ref().and_then(|k| k.values[i]);
                    range_bound(b, is_end, i, p, layout, key, keys.as_ref().map(|k| &k.values[..]), &non_null)
                }
            };
            let start = bound(&frame.start, false);
            let end = bound(&frame.end, true).max(start);
            starts.push(start);
            ends.push(end);
        }
    }
    Ok((starts, ends))
}

fn has_offset(bound: &FrameBound) -> bool {
    matches!(bound, FrameBound::Preceding(_) | FrameBound::Following(_))
}

/// A `ROWS` bound of row `i` in partition `p`.
fn rows_bound(bound: &FrameBound, is_end: bool, i: usize, p: &Range<usize>) -> usize {
    let after = if is_end { i + 1 } else { i };
    let offset = |o: &FrameOffset| match o {
        FrameOffset::Rows(n) => usize::try_from(*n).unwrap_or(usize::MAX),
        FrameOffset::Value(v) => *v as usize,
    };
    match bound {
        FrameBound::UnboundedPreceding => p.start,
        FrameBound::UnboundedFollowing => p.end,
        FrameBound::CurrentRow => after,
        FrameBound::Preceding(o) => after.saturating_sub(offset(o)).clamp(p.start, p.end),
        FrameBound::Following(o) => after.saturating_add(offset(o)).clamp(p.start, p.end),
    }
}

/// The order key as "position keys" that ascend within each partition (negated for `DESC`).
struct RangeKeys {
    values: Vec<Option<f64>>,
}

fn range_keys(layout: &WindowLayout<'_>) -> Result<RangeKeys> {
    let Some((key, ascending)) = layout.order_key else {
        return Err(EngineError::plan("RANGE with an offset PRECEDING or FOLLOWING needs an ORDER BY key"));
    };
    let floats = cast(key.as_ref(), &DataType::Float64)?;
    let floats = floats.as_primitive::<Float64Type>();
    let values = (0..floats.len())
        .map(|i| floats.is_valid(i).then(|| if ascending { floats.value(i) } else { -floats.value(i) }))
        .collect();
    Ok(RangeKeys { values })
}

/// The rows of `p` whose key is not NULL (NULLs sort together at one end).
fn non_null_run(keys: &RangeKeys, p: &Range<usize>) -> Range<usize> {
    let start = (p.start..p.end).find(|i| keys.values[*i].is_some()).unwrap_or(p.end);
    let end = (start..p.end).rev().find(|i| keys.values[*i].is_some()).map_or(start, |i| i + 1);
    start..end
}

/// A `RANGE` bound of row `i` (whose position key is `key`) in partition `p`.
#[allow(clippy::too_many_arguments)]
fn range_bound(
    bound: &FrameBound,
    is_end: bool,
    i: usize,
    p: &Range<usize>,
    layout: &WindowLayout<'_>,
    key: Option<f64>,
    keys: Option<&[Option<f64>]>,
    non_null: &Range<usize>,
) -> usize {
    let peers = if is_end { layout.peer_end[i] } else { layout.peer_start[i] };
    let target = match bound {
        FrameBound::UnboundedPreceding => return p.start,
        FrameBound::UnboundedFollowing => return p.end,
        FrameBound::CurrentRow => return peers,
        FrameBound::Preceding(o) => key.map(|k| k - offset_value(o)),
        FrameBound::Following(o) => key.map(|k| k + offset_value(o)),
    };
    let (Some(target), Some(keys)) = (target, keys) else {
        // A NULL key: its frame is its peer group.
        return peers;
    };
    let run = &keys[non_null.clone()];
    // Invariant: every key in the non-NULL run is Some.
    let position = if is_end {
        run.partition_point(|k| k.expect("non-NULL key") <= target)
    } else {
        run.partition_point(|k| k.expect("non-NULL key") < target)
    };
    non_null.start + position
}

fn offset_value(offset: &FrameOffset) -> f64 {
    match offset {
        FrameOffset::Rows(n) => *n as f64,
        FrameOffset::Value(v) => *v,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::Int64Array;

    use super::*;

    fn frame(units: FrameUnits, start: FrameBound, end: FrameBound) -> WindowFrame {
        WindowFrame { units, start, end }
    }

    /// Two partitions, [0, 5) and [5, 8); keys 1 1 2 4 7 | NULL 3 3 (ascending, NULLs first).
    fn with_layout<T>(f: impl FnOnce(&WindowLayout<'_>) -> T) -> T {
        let keys: ArrayRef =
            Arc::new(Int64Array::from(vec![Some(1), Some(1), Some(2), Some(4), Some(7), None, Some(3), Some(3)]));
        let partitions = [0..5, 5..8];
        let peer_start = [0, 0, 2, 3, 4, 5, 6, 6];
        let peer_end = [2, 2, 3, 4, 5, 6, 8, 8];
        let layout = WindowLayout {
            partitions: &partitions,
            peer_start: &peer_start,
            peer_end: &peer_end,
            order_key: Some((&keys, true)),
        };
        f(&layout)
    }

    fn bounds(frame: &WindowFrame) -> Vec<(usize, usize)> {
        with_layout(|layout| {
            let (s, e) = frame_bounds(frame, layout).unwrap();
            s.into_iter().zip(e).collect()
        })
    }

    #[test]
    fn rows_frames_count_rows_and_stop_at_partition_edges() {
        let sliding = frame(
            FrameUnits::Rows,
            FrameBound::Preceding(FrameOffset::Rows(1)),
            FrameBound::Following(FrameOffset::Rows(1)),
        );
        assert_eq!(bounds(&sliding), [(0, 2), (0, 3), (1, 4), (2, 5), (3, 5), (5, 7), (5, 8), (6, 8)]);
        let running = frame(FrameUnits::Rows, FrameBound::UnboundedPreceding, FrameBound::CurrentRow);
        assert_eq!(bounds(&running), [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (5, 6), (5, 7), (5, 8)]);
        let ahead =
            frame(FrameUnits::Rows, FrameBound::Following(FrameOffset::Rows(2)), FrameBound::UnboundedFollowing);
        assert_eq!(bounds(&ahead), [(2, 5), (3, 5), (4, 5), (5, 5), (5, 5), (7, 8), (8, 8), (8, 8)]);
        let behind = frame(
            FrameUnits::Rows,
            FrameBound::Preceding(FrameOffset::Rows(2)),
            FrameBound::Preceding(FrameOffset::Rows(1)),
        );
        assert_eq!(bounds(&behind), [(0, 0), (0, 1), (0, 2), (1, 3), (2, 4), (5, 5), (5, 6), (5, 7)]);
    }

    #[test]
    fn range_frames_include_peers_and_compare_key_values() {
        let default = WindowFrame::default_frame();
        assert_eq!(bounds(&default), [(0, 2), (0, 2), (0, 3), (0, 4), (0, 5), (5, 6), (5, 8), (5, 8)]);
        let near = frame(
            FrameUnits::Range,
            FrameBound::Preceding(FrameOffset::Value(1.0)),
            FrameBound::Following(FrameOffset::Value(2.0)),
        );
        // Key 1: [0, 3] → values 1..=3; key 2: 1..=4; key 4: 3..=6; key 7: 6..=9; NULL: peers.
        assert_eq!(bounds(&near), [(0, 3), (0, 3), (0, 4), (3, 4), (4, 5), (5, 6), (6, 8), (6, 8)]);
    }

    #[test]
    fn descending_range_offsets_look_at_larger_values_first() {
        let keys: ArrayRef = Arc::new(Int64Array::from(vec![9, 8, 6, 5]));
        let partition = 0..4;
        let peer_start = [0, 1, 2, 3];
        let peer_end = [1, 2, 3, 4];
        let layout = WindowLayout {
            partitions: std::slice::from_ref(&partition),
            peer_start: &peer_start,
            peer_end: &peer_end,
            order_key: Some((&keys, false)),
        };
        let preceding =
            frame(FrameUnits::Range, FrameBound::Preceding(FrameOffset::Value(1.0)), FrameBound::CurrentRow);
        let (s, e) = frame_bounds(&preceding, &layout).unwrap();
        assert_eq!(s.into_iter().zip(e).collect::<Vec<_>>(), [(0, 1), (0, 2), (2, 3), (2, 4)]);
    }
}
