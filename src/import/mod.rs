//! Scanner reports: [`parsers`] turn the bytes of a report into normalized findings
//! (`domain::report`), pure and without a database; the import service deduplicates and stores
//! them.

pub mod parsers;
