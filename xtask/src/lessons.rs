//! The lesson binaries that `check-all` runs, in the order a learner meets them.

/// One lesson binary.
#[derive(Debug, Clone, Copy)]
pub struct LessonBinary {
    /// The package and binary name (`cargo run -p NAME`).
    pub name: &'static str,
    /// Where its README lives, relative to the workspace root.
    pub readme: &'static str,
    /// One line on what it shows.
    pub shows: &'static str,
}

/// Every lesson binary.
pub const LESSONS: &[LessonBinary] = &[
    LessonBinary {
        name: "ex0-virtual-memory",
        readme: "exercises/ex0-virtual-memory/README.md",
        shows: "virtual memory: more than the machine has, isolation, protection",
    },
    LessonBinary {
        name: "ex1-segments",
        readme: "exercises/ex1-segments/README.md",
        shows: "where the stack, heap, data, bss and code live, with real addresses",
    },
    LessonBinary {
        name: "ex2-sbrk",
        readme: "exercises/ex2-sbrk/README.md",
        shows: "the program break, grown with sbrk, written, read back and given back",
    },
    LessonBinary {
        name: "ex3-mmap",
        readme: "exercises/ex3-mmap/README.md",
        shows: "anonymous memory from mmap, written, read and unmapped",
    },
    LessonBinary {
        name: "milestone",
        readme: "milestone/README.md",
        shows: "mem_chunk: chunks from sbrk or mmap and their registry",
    },
];

/// The lesson binary called `name`.
pub fn find(name: &str) -> Option<&'static LessonBinary> {
    LESSONS.iter().find(|l| l.name == name)
}
