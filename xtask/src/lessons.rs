//! The lesson binaries that `check-all` runs, in the order a learner meets them, and the
//! exercises whose core the learner writes (`cargo xtask learn`).

/// One run that `check-all` checks against a snapshot.
#[derive(Debug, Clone, Copy)]
pub struct LessonBinary {
    /// The name `check NAME` takes and the output reports.
    pub name: &'static str,
    /// The binary to run (`cargo run --bin BINARY`).
    pub binary: &'static str,
    /// Its arguments.
    pub args: &'static [&'static str],
    /// The snapshot its address pattern is compared with (several runs may share one).
    pub snapshot: &'static str,
    /// The README that shows the expected output, relative to the workspace root, if any.
    pub readme: Option<&'static str>,
    /// One line on what it shows.
    pub shows: &'static str,
}

/// Every run `check-all` checks.
pub const LESSONS: &[LessonBinary] = &[
    LessonBinary {
        name: "ex0-virtual-memory",
        binary: "ex0-virtual-memory",
        args: &[],
        snapshot: "ex0-virtual-memory",
        readme: Some("exercises/ex0-virtual-memory/README.md"),
        shows: "virtual memory: more than the machine has, isolation, protection",
    },
    LessonBinary {
        name: "ex1-segments",
        binary: "ex1-segments",
        args: &[],
        snapshot: "ex1-segments",
        readme: Some("exercises/ex1-segments/README.md"),
        shows: "where the stack, heap, data, bss and code live, with real addresses",
    },
    LessonBinary {
        name: "ex2-sbrk",
        binary: "ex2-sbrk",
        args: &[],
        snapshot: "ex2-sbrk",
        readme: Some("exercises/ex2-sbrk/README.md"),
        shows: "the program break, grown with sbrk, written, read back and given back",
    },
    LessonBinary {
        name: "ex3-mmap",
        binary: "ex3-mmap",
        args: &[],
        snapshot: "ex3-mmap",
        readme: Some("exercises/ex3-mmap/README.md"),
        shows: "anonymous memory from mmap, written, read and unmapped",
    },
    LessonBinary {
        name: "milestone",
        binary: "milestone",
        args: &[],
        snapshot: "milestone",
        readme: Some("milestone/README.md"),
        shows: "mem_chunk: chunks from sbrk or mmap and their registry",
    },
    LessonBinary {
        name: "milestone-contract",
        binary: "milestone",
        args: &["--contract"],
        snapshot: "milestone-contract",
        readme: Some("milestone/learn/README.md"),
        shows: "the lesson's contract for mem_chunk, met by the lesson's reference answer",
    },
    LessonBinary {
        name: "milestone-contract-library",
        binary: "milestone",
        args: &["--contract", "library"],
        snapshot: "milestone-contract",
        readme: None,
        shows: "the same contract, met by the milestone library",
    },
];

/// The run called `name`.
pub fn find(name: &str) -> Option<&'static LessonBinary> {
    LESSONS.iter().find(|l| l.name == name)
}

/// An exercise whose core the learner writes: a template of parts, run by the lesson's own
/// driver as a second binary.
#[derive(Debug, Clone, Copy)]
pub struct Exercise {
    /// The name learners type (`cargo xtask hint ex2-sbrk`); also the package.
    pub name: &'static str,
    /// What the lesson calls it.
    pub title: &'static str,
    /// The binary that runs the learner's parts.
    pub binary: &'static str,
    /// The reference parts, relative to the workspace root.
    pub reference: &'static str,
    /// The learner's file, written from the reference.
    pub template: &'static str,
    /// The snapshot the learner's run is compared with.
    pub snapshot: &'static str,
}

/// The exercises of learner mode, in the lesson's order.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        name: "ex1-segments",
        title: "exercise 1, memory segments",
        binary: "ex1-segments-learn",
        reference: "exercises/ex1-segments/src/parts.rs",
        template: "exercises/ex1-segments/learn/parts.rs",
        snapshot: "ex1-segments",
    },
    Exercise {
        name: "ex2-sbrk",
        title: "exercise 2, using sbrk",
        binary: "ex2-sbrk-learn",
        reference: "exercises/ex2-sbrk/src/parts.rs",
        template: "exercises/ex2-sbrk/learn/parts.rs",
        snapshot: "ex2-sbrk",
    },
    Exercise {
        name: "ex3-mmap",
        title: "exercise 3, using mmap",
        binary: "ex3-mmap-learn",
        reference: "exercises/ex3-mmap/src/parts.rs",
        template: "exercises/ex3-mmap/learn/parts.rs",
        snapshot: "ex3-mmap",
    },
    Exercise {
        name: "milestone",
        title: "the milestone, mem_chunk",
        binary: "milestone-learn",
        reference: "milestone/src/parts.rs",
        template: "milestone/learn/parts.rs",
        snapshot: "milestone-contract",
    },
];

/// The exercise called `name`.
pub fn exercise(name: &str) -> Option<&'static Exercise> {
    EXERCISES.iter().find(|e| e.name == name)
}
