//! A loop of B1's pair, for callgrind: `valgrind --tool=callgrind target/release/examples/b1_loop`.
fn main() {
    for _ in 0..10_000 {
        let ptr = milestone::mem_chunk(1 << 20).expect("mem_chunk");
        milestone::release_chunk(ptr).expect("release_chunk");
    }
}
