//! The chunk registry (filled in by the milestone issue).
