//! Window functions over hand-built partitions: one partition of keys 10 10 20 30 30 30 and one
//! of keys 5 7, as the executor hands them over (sorted, with peers and frames).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use arrow::datatypes::DataType;
use arrow::util::display::array_value_to_string;

use crate::expr::functions::window::{AggregateWindow, WindowFunction, WindowInput};
use crate::expr::functions::FunctionRegistry;

const PARTITIONS: [std::ops::Range<usize>; 2] = [0..6, 6..8];
const PEER_START: [usize; 8] = [0, 0, 2, 3, 3, 3, 6, 7];
const PEER_END: [usize; 8] = [2, 2, 3, 6, 6, 6, 7, 8];

fn texts(array: &ArrayRef) -> Vec<String> {
    (0..array.len()).map(|i| array_value_to_string(array, i).unwrap()).collect()
}

/// Evaluates `name` with `args` over the default frame (start of partition to last peer), or
/// over `frames` when given.
fn run(name: &str, args: Vec<ArrayRef>, frames: Option<(Vec<usize>, Vec<usize>)>) -> Vec<String> {
    let registry = FunctionRegistry::with_builtins();
    let function: Arc<dyn WindowFunction> = match registry.window(name) {
        Some(f) => f.clone(),
        None => {
            let aggregate = registry.aggregate(name).unwrap().clone();
            let types: Vec<DataType> = args.iter().map(|a| a.data_type().clone()).collect();
            let arg_types = aggregate.signature(&types).unwrap().arg_types;
            Arc::new(AggregateWindow::new(aggregate, arg_types, false))
        }
    };
    let (frame_start, frame_end) = frames.unwrap_or_else(|| {
        let starts = (0..8).map(|i| if i < 6 { 0 } else { 6 }).collect();
        (starts, PEER_END.to_vec())
    });
    let input = WindowInput {
        args: &args,
        partitions: &PARTITIONS,
        peer_start: &PEER_START,
        peer_end: &PEER_END,
        frame_start: &frame_start,
        frame_end: &frame_end,
    };
    texts(&function.evaluate(&input).unwrap())
}

fn values() -> ArrayRef {
    Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(4), Some(5), Some(6), Some(7), Some(8)]))
}

#[test]
fn ranking_functions_follow_peers() {
    assert_eq!(run("row_number", vec![], None), ["1", "2", "3", "4", "5", "6", "1", "2"]);
    assert_eq!(run("rank", vec![], None), ["1", "1", "3", "4", "4", "4", "1", "2"]);
    assert_eq!(run("dense_rank", vec![], None), ["1", "1", "2", "3", "3", "3", "1", "2"]);
    assert_eq!(run("percent_rank", vec![], None), ["0.0", "0.0", "0.4", "0.6", "0.6", "0.6", "0.0", "1.0"]);
    assert_eq!(run("cume_dist", vec![], None)[..3], ["0.3333333333333333", "0.3333333333333333", "0.5"]);
    let three: ArrayRef = Arc::new(Int64Array::from(vec![3; 8]));
    assert_eq!(run("ntile", vec![three], None), ["1", "1", "2", "2", "3", "3", "1", "2"]);
}

#[test]
fn lag_and_lead_stay_in_their_partition() {
    assert_eq!(run("lag", vec![values()], None), ["", "1", "2", "", "4", "5", "", "7"]);
    let two: ArrayRef = Arc::new(Int64Array::from(vec![2; 8]));
    let zero: ArrayRef = Arc::new(Int64Array::from(vec![0; 8]));
    assert_eq!(run("lead", vec![values(), two, zero], None), ["", "4", "5", "6", "0", "0", "0", "0"]);
}

#[test]
fn frame_values_read_frame_ends() {
    assert_eq!(run("first_value", vec![values()], None), ["1", "1", "1", "1", "1", "1", "7", "7"]);
    assert_eq!(run("last_value", vec![values()], None), ["2", "2", "", "6", "6", "6", "7", "8"]);
    let second: ArrayRef = Arc::new(Int64Array::from(vec![2; 8]));
    assert_eq!(run("nth_value", vec![values(), second], None), ["2", "2", "2", "2", "2", "2", "", "8"]);
}

#[test]
fn running_aggregates_include_peers_and_skip_nulls() {
    assert_eq!(run("sum", vec![values()], None), ["3", "3", "3", "18", "18", "18", "7", "15"]);
    assert_eq!(run("count", vec![values()], None), ["2", "2", "2", "5", "5", "5", "1", "2"]);
    assert_eq!(run("count", vec![], None), ["2", "2", "3", "6", "6", "6", "1", "2"]);
    assert_eq!(run("avg", vec![values()], None), ["1.5", "1.5", "1.5", "3.6", "3.6", "3.6", "7.0", "7.5"]);
    assert_eq!(run("min", vec![values()], None), ["1", "1", "1", "1", "1", "1", "7", "7"]);
    assert_eq!(run("max", vec![values()], None), ["2", "2", "2", "6", "6", "6", "7", "8"]);
}

#[test]
fn sliding_frames_add_and_drop_rows() {
    // ROWS BETWEEN 1 PRECEDING AND CURRENT ROW.
    let frames = (vec![0, 0, 1, 2, 3, 4, 6, 6], vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(run("sum", vec![values()], Some(frames.clone())), ["1", "3", "2", "4", "9", "11", "7", "15"]);
    assert_eq!(run("min", vec![values()], Some(frames.clone())), ["1", "1", "2", "4", "4", "5", "7", "7"]);
    assert_eq!(run("max", vec![values()], Some(frames.clone())), ["1", "2", "2", "4", "5", "6", "7", "8"]);
    assert_eq!(run("count", vec![values()], Some(frames)), ["1", "2", "1", "1", "2", "2", "1", "2"]);
    // Empty frames give NULL (0 for count).
    let empty = (vec![0, 1, 2, 3, 4, 5, 6, 7], vec![0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(run("sum", vec![values()], Some(empty.clone())), ["", "", "", "", "", "", "", ""]);
    assert_eq!(run("count", vec![], Some(empty)), ["0", "0", "0", "0", "0", "0", "0", "0"]);
}

#[test]
fn text_min_max_and_other_aggregates_use_the_general_paths() {
    let words: ArrayRef = Arc::new(StringArray::from(vec!["b", "a", "c", "z", "y", "x", "m", "n"]));
    assert_eq!(run("max", vec![words.clone()], None), ["b", "b", "c", "z", "z", "z", "m", "n"]);
    // Frames that move backwards fall back to feeding each frame to the accumulator.
    let backwards = (vec![0, 0, 0, 3, 3, 3, 6, 6], vec![6, 5, 4, 6, 5, 4, 8, 7]);
    assert_eq!(run("min", vec![words], Some(backwards)), ["a", "a", "a", "x", "y", "z", "m", "m"]);
}
