//! The process's open-file limit. Each connection and each open topic
//! takes file descriptors, and the common soft limit (1,024) is far below
//! the hard one, so the server raises its soft limit to the hard limit at
//! start-up, as the Go runtime does for Go programs.

use std::io;

/// Raises the soft limit on open files to the hard limit, and returns the
/// soft limit now in force.
pub fn raise_to_hard_limit() -> io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

#[cfg(test)]
mod tests {
    use rlimit::Resource;

    use super::*;

    #[test]
    fn the_soft_limit_becomes_the_hard_limit() {
        let in_force = raise_to_hard_limit().expect("raise the limit");
        let (soft, hard) = Resource::NOFILE.get().expect("read the limit");
        assert_eq!(soft, in_force);
        assert_eq!(soft, hard);
    }
}
